"""The OBR segment: one order of a patient (accession, universal service ID, collection time,
ordering provider, specimen, OBR-14 received time), gathered with its observations and SPM
specimen (SPM-4 type, SPM-18 received time, SPM-24 condition) into an :class:`OruOrder`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from panels.intake.hl7.segments import SegmentReader, repetitions
from panels.intake.hl7.types import OruObservation, OruOrder, OruPatient, ProblemCode

__all__ = ["SPECIMEN_CONDITIONS", "OrderBuilder", "read_obr", "read_spm"]

#: HL7 table 0493 (specimen condition), the words printed for its codes. Other codes are kept
#: as sent: a local code is never translated by guess.
SPECIMEN_CONDITIONS = {
    "AUT": "Autolyzed",
    "CFU": "Centrifuged",
    "CLOT": "Clotted",
    "CON": "Contaminated",
    "COOL": "Cool",
    "FROZ": "Frozen",
    "HEM": "Hemolyzed",
    "LIVE": "Live",
    "ROOM": "Room temperature",
    "SNR": "Sample not received",
}


@dataclass
class OrderBuilder:
    """An OBR group being read: its observations and specimen are added as they come."""

    patient: OruPatient
    patient_index: int
    obr_index: int
    accession: str
    placer: str
    filler: str
    service_text: str
    service_code: str
    collected_at: str
    provider: str
    obr_specimen: str
    obr_received: str = ""
    spm_specimen: str | None = None
    spm_received: str = ""
    spm_condition: str = ""
    spm_index: int = 0
    observations: list[OruObservation] = field(default_factory=list)
    keys: set[tuple[str, str]] = field(default_factory=set)

    def build(self) -> OruOrder:
        return OruOrder(
            patient=self.patient,
            accession=self.accession,
            placer_order_number=self.placer,
            filler_order_number=self.filler,
            universal_service_id=self.service_text or self.service_code,
            universal_service_code=self.service_code,
            collected_at=self.collected_at,
            ordering_provider_id=self.provider,
            specimen_type=self.spm_specimen if self.spm_specimen is not None else self.obr_specimen,
            observations=tuple(self.observations),
            obr_index=self.obr_index,
            patient_index=self.patient_index,
            received_at=self.spm_received or self.obr_received,
            received_at_where=("SPM", self.spm_index, 18)
            if self.spm_received
            else ("OBR", self.obr_index, 14),
            specimen_condition=self.spm_condition,
            spm_index=self.spm_index,
        )


def read_obr(
    reader: SegmentReader, segment: Any, index: int, patient: OruPatient, patient_index: int
) -> OrderBuilder:
    """The order of the OBR at position ``index``; problems go to ``reader``."""
    placer = reader.text(segment, 2, 1)
    filler = reader.text(segment, 3, 1)
    accession = (filler.strip() and filler) or placer
    if not accession.strip():
        reader.problem(
            ProblemCode.MISSING_ACCESSION,
            "OBR-3 (filler order number) or OBR-2 (placer order number) is required: "
            "it is the accession",
            field=3, component=1,
        )  # fmt: skip
    service_code, service_text = reader.text(segment, 4, 1), reader.text(segment, 4, 2)
    if not (service_code.strip() or service_text.strip()):
        reader.problem(
            ProblemCode.MISSING_SERVICE_ID,
            "OBR-4 (universal service identifier) is required",
            field=4,
        )
    collected_at = reader.text(segment, 7, 1)
    if not collected_at:
        reader.problem(
            ProblemCode.MISSING_COLLECTION_TIME,
            "OBR-7 (observation/collection date/time) is required",
            field=7,
        )
    reader.check_datetime(collected_at, "OBR-7", 7)
    specimen = reader.text(segment, 15, 1, 1) or reader.text(segment, 15, 1, 2)
    return OrderBuilder(
        patient=patient,
        patient_index=patient_index,
        obr_index=index,
        accession=accession,
        placer=placer,
        filler=filler,
        service_text=service_text,
        service_code=service_code,
        collected_at=collected_at,
        provider=reader.text(segment, 16, 1),
        obr_specimen=specimen,
        obr_received=_received(reader, segment, "OBR-14", 14),
    )


def read_spm(reader: SegmentReader, segment: Any, index: int, order: OrderBuilder) -> None:
    """The order's specimen: the first SPM of an OBR group is read (type, received time,
    condition); a later one carries nothing this service stores."""
    if order.spm_specimen is not None:
        return
    order.spm_index = index
    order.spm_specimen = reader.text(segment, 4, 1) or reader.text(segment, 4, 2)
    order.spm_received = _received(reader, segment, "SPM-18", 18)
    conditions = []
    for number in range(1, len(repetitions(segment, 24)) + 1):
        code = reader.text(segment, 24, 1, rep=number).strip()
        text = reader.text(segment, 24, 2, rep=number).strip()
        condition = text or SPECIMEN_CONDITIONS.get(code.upper(), code)
        if condition:
            conditions.append(condition)
    order.spm_condition = "; ".join(conditions)


def _received(reader: SegmentReader, segment: Any, label: str, number: int) -> str:
    """A received date/time (SPM-18 DR: its start; OBR-14 TS: its time), checked as written."""
    received = reader.text(segment, number, 1)
    reader.check_datetime(received, label, number)
    return received
