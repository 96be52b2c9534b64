"""The OBR segment: one order of a patient (accession, universal service ID, collection time,
ordering provider, specimen), gathered with its observations and SPM specimen into an
:class:`OruOrder`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from panels.intake.hl7.segments import SegmentReader
from panels.intake.hl7.types import OruObservation, OruOrder, OruPatient, ProblemCode

__all__ = ["OrderBuilder", "read_obr"]


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
    spm_specimen: str | None = None
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
    )
