"""Malformed input through the whole receiving path: a clean answer, nothing stored.

Hypothesis mutates a valid CSV and a valid ORU message (truncation, deleted or inserted
delimiters, random bytes) and sends them through the services the API and the MLLP listener
call. A file ends as ``preview`` or ``rejected`` — never a crash, never a half-stored panel; a
message gets an ACK, and when the ACK is not AA nothing at all was stored.
"""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labpanel.accounts.models import StaffMember
from panels.intake.hl7.ack import ack_code_of
from panels.intake.hl7.parse import parse_oru
from panels.intake.hl7.services import hl7_receive
from panels.intake.imports.services import import_job_create
from panels.intake.imports.validate import import_job_validate
from panels.models import ImportStatus, Panel, Patient, Result, Transport

pytestmark = pytest.mark.django_db

CSV = (
    b"accession,mrn,family_name,given_name,birth_date,sex,specimen_type,collected_at,"
    b"ordering_clinician,analyte,value,unit\n"
    b"Z-1,MRN-Z1,Doe,Jane,1980-04-02,female,plasma,2026-11-20T08:30:00Z,dr.house,IL-6,12.4,pg/mL\n"
    b"Z-1,MRN-Z1,Doe,Jane,1980-04-02,female,plasma,2026-11-20T08:30:00Z,dr.house,TNFA,<2.0,pg/mL\n"
)
ORU = (
    "MSH|^~\\&|HIS|HOSP|LABPANEL|LAB|20261120103000||ORU^R01^ORU_R01|FZ-1|P|2.5.1\r"
    "PID|1||MRN-Z2^^^HOSP^MR||Doe^Jane||19800402|F\r"
    "OBR|1|PL-1|Z-2|CYTO^Cytokine panel^L|||202611200830+0000||||||||PLAS|dr.house\r"
    "OBX|1|NM|26881-3^IL-6^LN||12.4|pg/mL|||||F\r"
    "OBX|2|SN|3074-2^TNF-alpha^LN||<^2.0|pg/mL|||||F\r"
)


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        operation = draw(st.sampled_from(["truncate", "delete", "insert", "flip"]))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if operation == "truncate":
            del data[at:]
        elif operation == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        elif operation == "insert":
            data[at:at] = draw(
                st.sampled_from([b",", b"|", b'"', b"\r", b"\n", b"^", b";", b"\x00"])
            )
        else:
            data[at] = draw(st.integers(0, 255))
    return bytes(data)


FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(content=mutated(CSV))
def test_a_mangled_csv_is_previewed_or_rejected_never_half_stored(
    content: bytes, technician: StaffMember, clinician: StaffMember, reference_data: None
) -> None:
    if not content:
        return
    with transaction.atomic():  # each example starts from the same database
        job = import_job_create(
            user=technician.user, upload=SimpleUploadedFile("fuzz.csv", content, "text/csv")
        )
        import_job_validate(job_id=job.pk)
        job.refresh_from_db()

        assert job.status in (ImportStatus.PREVIEW, ImportStatus.REJECTED)
        if job.status == ImportStatus.REJECTED:
            assert job.problems.filter(severity="error").exists()
        assert Panel.objects.count() == 0
        assert Patient.objects.count() == 0
        transaction.set_rollback(True)


@FUZZ
@given(content=mutated(ORU.encode()))
def test_a_mangled_oru_gets_an_ack_and_stores_all_or_nothing(
    content: bytes, integrator: StaffMember, clinician: StaffMember, reference_data: None
) -> None:
    message = content.decode("latin-1")
    with transaction.atomic():  # each example starts from the same database
        outcome = hl7_receive(raw=message, user=integrator.user, transport=Transport.HTTP)

        assert ack_code_of(outcome.ack) == outcome.ack_code
        if outcome.ack_code == "AA":
            assert Panel.objects.count() == len(outcome.accessions) == 1
            observations = sum(len(order.observations) for order in parse_oru(message).orders)
            assert Result.objects.count() == observations
        else:
            assert Panel.objects.count() == 0
            assert Patient.objects.count() == 0
        transaction.set_rollback(True)
