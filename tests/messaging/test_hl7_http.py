"""HL7 v2 ORU^R01 over ``POST /api/v1/hl7/`` on PostgreSQL: ACK codes, what is stored, resends."""

from __future__ import annotations

from typing import Any

import hl7
import pytest
from rest_framework.test import APIClient

from labpanel.accounts.models import StaffMember
from panels.models import InboundMessage, Panel, Patient, Result
from reports.models import Report
from reports.services import report_render
from tests.conftest import token_client

pytestmark = pytest.mark.django_db

ER7 = "x-application/hl7-v2+er7"


def oru(
    control_id: str = "MSG-1",
    *,
    accession: str = "H-1",
    mrn: str = "MRN-H1",
    observations: tuple[str, ...] = (
        "OBX|1|NM|26881-3^IL-6^LN||12.4|pg/mL|<=7.0|H|||F",
        "OBX|2|SN|3074-2^TNF-alpha^LN||<^2.0|pg/mL|||||F",
    ),
    provider: str = "dr.house",
    extra_orders: tuple[str, ...] = (),
) -> str:
    segments = [
        "MSH|^~\\&|HIS|GENERAL HOSPITAL|LABPANEL|LAB|20261120103000||ORU^R01^ORU_R01|"
        f"{control_id}|P|2.5.1",
        f"PID|1||{mrn}^^^HOSP^MR||O\\T\\Brien^Mary||19800402|F",
        f"OBR|1|PL-{accession}|{accession}|CYTO^Cytokine panel^L|||202611200830+0000"
        f"||||||||PLAS|{provider}^House^Greg",
        *observations,
        *extra_orders,
    ]
    return "\r".join(segments) + "\r"


def post(client: APIClient, message: str) -> tuple[Any, Any]:
    response = client.post("/api/v1/hl7/", data=message.encode(), content_type=ER7)
    return response, hl7.parse(response.content.decode())


@pytest.fixture
def integrator_client(
    reference_data: None, integrator: StaffMember, clinician: StaffMember
) -> APIClient:
    return token_client(integrator)


def test_a_final_oru_is_stored_and_answered_aa(integrator_client: APIClient) -> None:
    response, ack = post(integrator_client, oru())

    assert response.status_code == 200
    assert response["X-HL7-Ack-Code"] == "AA"
    assert str(ack.segment("MSA")[1]) == "AA"
    assert str(ack.segment("MSA")[2]) == "MSG-1"
    panel = Panel.objects.get(accession="H-1")
    assert panel.patient.family_name == "O&Brien"  # \T\ unescaped
    il6 = Result.objects.get(panel=panel, analyte__code="IL6")
    assert (il6.raw_value, il6.value_text, il6.unit) == ("12.4", "12.4", "pg/mL")
    assert il6.sender_range == "<=7.0"
    assert il6.sender_flags == "H"
    assert il6.rule is not None  # interpreted by our rule, not the sender's range
    tnf = Result.objects.get(panel=panel, analyte__code="TNFA")
    assert (tnf.comparator, tnf.value_text) == ("<", "<2.0")
    assert panel.reports.count() == 1


def test_a_resent_message_is_answered_with_the_same_ack_and_stored_once(
    integrator_client: APIClient,
) -> None:
    first, _ = post(integrator_client, oru())
    again, _ = post(integrator_client, oru())

    assert again.content == first.content
    assert Panel.objects.count() == 1
    assert InboundMessage.objects.filter(ack_code="AA").count() == 1


def test_a_reused_control_id_with_other_content_is_rejected(integrator_client: APIClient) -> None:
    post(integrator_client, oru())

    _, ack = post(integrator_client, oru(accession="H-2"))

    assert str(ack.segment("MSA")[1]) == "AR"
    assert not Panel.objects.filter(accession="H-2").exists()


def test_content_errors_give_ae_with_err_segments_naming_segment_and_field(
    integrator_client: APIClient,
) -> None:
    message = oru(
        observations=(
            "OBX|1|NM|26881-3^IL-6^LN||12.4|mg/L|||||F",
            "OBX|2|NM|99999-9^IL-99^LN||3.0|pg/mL|||||F",
            "OBX|3|NM|3074-2^TNF-alpha^LN||2.0|pg/mL|||||P",
        )
    )

    _, ack = post(integrator_client, message)

    assert str(ack.segment("MSA")[1]) == "AE"
    locations = {str(err[2]) for err in ack.segments("ERR")}
    assert any(location.startswith("OBX^1^6") for location in locations), locations
    assert any(location.startswith("OBX^2^3") for location in locations), locations
    assert any(location.startswith("OBX^3^11") for location in locations), locations
    assert Panel.objects.count() == 0
    assert Patient.objects.count() == 0
    archived = InboundMessage.objects.get()
    assert bytes(archived.raw) == message.encode()
    assert archived.ack_code == "AE"


def test_several_orders_and_patients_in_one_message_are_stored_together_or_not_at_all(
    integrator_client: APIClient,
) -> None:
    second_patient = (
        "PID|2||MRN-H2^^^HOSP^MR||Smith^John||19700101|M",
        "OBR|2|PL-H-3|H-3|CYTO^Cytokine panel^L|||202611200900+0000||||||||SER|dr.house",
        "OBX|1|NM|26881-3^IL-6^LN||99|pg/mL|||||F",
    )
    response, ack = post(integrator_client, oru(extra_orders=second_patient))

    assert str(ack.segment("MSA")[1]) == "AA", response.content
    assert set(Panel.objects.values_list("accession", flat=True)) == {"H-1", "H-3"}

    bad_second = (
        "PID|2||MRN-H4^^^HOSP^MR||Smith^Jane||19700101|F",
        "OBR|2|PL-H-5|H-5|CYTO^Cytokine panel^L|||202611200900+0000||||||||SER|dr.nobody",
        "OBX|1|NM|26881-3^IL-6^LN||99|pg/mL|||||F",
    )
    response, ack = post(
        integrator_client, oru("MSG-2", accession="H-4", mrn="MRN-H9", extra_orders=bad_second)
    )

    assert str(ack.segment("MSA")[1]) == "AE"
    assert not Panel.objects.filter(accession__in=["H-4", "H-5"]).exists()


def test_garbage_is_answered_ar_and_archived(integrator_client: APIClient) -> None:
    response = integrator_client.post("/api/v1/hl7/", data=b"hello there", content_type=ER7)

    assert response.status_code == 200
    assert response["X-HL7-Ack-Code"] == "AR"
    assert bytes(InboundMessage.objects.get().raw) == b"hello there"


def test_clinicians_cannot_send_hl7(reference_data: None, clinician: StaffMember) -> None:
    response = token_client(clinician).post("/api/v1/hl7/", data=oru().encode(), content_type=ER7)

    assert response.status_code == 403
    assert Panel.objects.count() == 0


def test_a_correction_amends_the_released_report_and_keeps_the_original(
    integrator_client: APIClient,
) -> None:
    post(integrator_client, oru())
    panel = Panel.objects.get(accession="H-1")
    original = panel.reports.get()
    report_render(report_id=original.pk)
    corrected = oru(
        "MSG-2",
        observations=(
            "OBX|1|NM|26881-3^IL-6^LN||1.24|pg/mL|<=7.0|N|||C",
            "OBX|2|SN|3074-2^TNF-alpha^LN||<^2.0|pg/mL|||||F",
        ),
    )

    response, ack = post(integrator_client, corrected)

    assert str(ack.segment("MSA")[1]) == "AA", response.content
    amended = Report.objects.get(amends=original)
    assert amended.corrections[0]["previous"] == "12.4"
    assert amended.corrections[0]["corrected"] == "1.24"
    assert "MSG-2" in amended.amendment_reason
    il6 = Result.objects.current().get(panel=panel, analyte__code="IL6")
    assert il6.value_text == "1.24"
    assert Result.objects.filter(panel=panel, analyte__code="IL6").count() == 2
    again, _ = post(integrator_client, corrected)
    assert again.content == response.content
    assert Report.objects.filter(panel=panel).count() == 2


@pytest.mark.parametrize(
    ("observations", "accession", "released", "says"),
    [
        (("OBX|1|NM|26881-3^IL-6^LN||1.24|pg/mL|||||C",), "H-1", False, "still being produced"),
        (("OBX|1|NM|26881-3^IL-6^LN||1.24|pg/mL|||||C",), "H-404", True, "not stored"),
        (
            (
                "OBX|1|NM|26881-3^IL-6^LN||1.24|pg/mL|||||C",
                "OBX|2|SN|3074-2^TNF-alpha^LN||<^3.0|pg/mL|||||F",
            ),
            "H-1",
            True,
            "differs from the stored result",
        ),
    ],
)
def test_a_correction_that_cannot_apply_is_answered_ae_and_changes_nothing(
    integrator_client: APIClient,
    observations: tuple[str, ...],
    accession: str,
    released: bool,
    says: str,
) -> None:
    post(integrator_client, oru())
    panel = Panel.objects.get(accession="H-1")
    if released:
        report_render(report_id=panel.reports.get().pk)

    _, ack = post(integrator_client, oru("MSG-C", accession=accession, observations=observations))

    assert str(ack.segment("MSA")[1]) == "AE"
    assert says in str(ack.segment("ERR")[8])
    assert panel.reports.count() == 1
    assert Result.objects.filter(panel=panel).count() == 2


def batch(*messages: str, count: int | None = None) -> str:
    envelope = "FHS|^~\\&|HIS|GENERAL HOSPITAL|LABPANEL|LAB|20261120103000\r"
    envelope += "BHS|^~\\&|HIS|GENERAL HOSPITAL|LABPANEL|LAB|20261120103000\r"
    trailer = f"BTS|{len(messages) if count is None else count}\rFTS|1\r"
    return envelope + "".join(messages) + trailer


def test_a_batch_is_answered_with_one_ack_per_message_each_stored_on_its_own(
    integrator_client: APIClient,
) -> None:
    good = oru("B-1", accession="HB-1", mrn="MRN-B1")
    bad = oru("B-2", accession="HB-2", mrn="MRN-B2", provider="dr.nobody")

    response, ack = post(integrator_client, batch(good, bad))

    assert response["X-HL7-Ack-Code"] == "AE"
    assert [str(segment[1]) for segment in ack.segments("MSA")] == ["AA", "AE"]
    assert [str(segment[2]) for segment in ack.segments("MSA")] == ["B-1", "B-2"]
    assert str(ack.segment("BTS")[1]) == "2"
    assert list(Panel.objects.values_list("accession", flat=True)) == ["HB-1"]


def test_a_batch_whose_trailer_disagrees_is_refused_whole(integrator_client: APIClient) -> None:
    response, ack = post(
        integrator_client, batch(oru("B-3", accession="HB-3", mrn="MRN-B3"), count=2)
    )

    assert response["X-HL7-Ack-Code"] == "AR"
    assert [str(segment[1]) for segment in ack.segments("MSA")] == ["AR"]
    assert Panel.objects.count() == 0


def test_a_training_or_debugging_message_is_refused_and_nothing_is_stored(
    integrator_client: APIClient,
) -> None:
    for processing_id in ("T", "D", ""):
        message = oru(f"MSG-{processing_id or 'none'}").replace(
            "|P|2.5.1", f"|{processing_id}|2.5.1"
        )

        response, ack = post(integrator_client, message)

        assert response["X-HL7-Ack-Code"] == "AR"
        err = ack.segment("ERR")
        assert str(err[2]) == "MSH^1^11^1^1"  # segment, sequence, field, repetition, component
        assert str(err[3][0][0]) == "202"
        assert "nothing was stored" in str(err[8])
    assert not Panel.objects.exists()
    assert InboundMessage.objects.count() == 3  # archived all the same


def test_a_test_system_takes_training_messages_only(
    integrator_client: APIClient, settings: Any
) -> None:
    settings.HL7_PROCESSING_ID = "T"

    _, refused = post(integrator_client, oru("MSG-P"))
    _, taken = post(integrator_client, oru("MSG-T").replace("|P|2.5.1", "|T|2.5.1"))

    assert [str(ack.segment("MSA")[1]) for ack in (refused, taken)] == ["AR", "AA"]
    assert Panel.objects.count() == 1


def test_a_specimen_collected_before_the_patients_birth_is_refused_naming_obr_7(
    integrator_client: APIClient,
) -> None:
    message = oru().replace("||19800402|F", "||20261121|F")  # born the day after collection

    response, ack = post(integrator_client, message)

    assert response.status_code == 200
    assert str(ack.segment("MSA")[1]) == "AE"
    errors = ack.segments("ERR")
    assert [str(err[2]) for err in errors] == ["OBR^1^7^1"]
    assert "collected before the patient's birth date" in str(errors[0][8])
    assert Panel.objects.count() == 0
    assert Patient.objects.count() == 0
    assert Report.objects.count() == 0
    assert InboundMessage.objects.get().ack_code == "AE"


def _segment(name: str, fields: dict[int, str]) -> str:
    """``name`` with ``fields`` (number -> text) at their HL7 positions, the rest empty."""
    values = [""] * (max(fields) + 1)
    values[0] = name
    for number, text in fields.items():
        values[number] = text
    return "|".join(values)


def _obx(set_id: int, observation: str, value: str, method: str, instrument: str) -> str:
    return _segment(
        "OBX",
        {1: str(set_id), 2: "NM", 3: observation, 5: value, 6: "pg/mL", 11: "F"}
        | {17: method, 18: instrument},
    )


def test_spm_18_spm_24_and_obx_17_18_are_stored_as_the_lab_stated_them(
    integrator_client: APIClient,
) -> None:
    # given: the received time and condition on the SPM (table 0493 code, no text), a method
    # with its text, and a method sent as a code only
    message = oru(
        observations=(
            _obx(1, "26881-3^IL-6^LN", "12.4", "0592^Bead immunoassay^99LAB", "LX200-0042^LAB"),
            _obx(2, "3074-2^TNF-alpha^LN", "1.1", "ELISA", ""),
            _segment("SPM", {1: "1", 4: "PLAS", 18: "202611200945+0000", 24: "HEM^^HL70493"}),
        )
    )

    response, ack = post(integrator_client, message)

    assert str(ack.segment("MSA")[1]) == "AA", response.content
    panel = Panel.objects.get()
    assert str(panel.received_at) == "2026-11-20 09:45:00+00:00"
    assert panel.specimen_condition == "Hemolyzed"
    assert list(panel.results.order_by("position").values_list("method", "instrument")) == [
        ("Bead immunoassay", "LX200-0042"),
        ("ELISA", ""),
    ]


def test_obr_14_is_the_received_time_when_the_spm_has_no_spm_18_and_a_local_condition_is_kept(
    integrator_client: APIClient,
) -> None:
    message = oru().replace(
        "202611200830+0000||||||||PLAS", "202611200830+0000|||||||202611200905+0000|PLAS"
    )
    message = message.rstrip("\r") + "\r" + _segment("SPM", {1: "1", 4: "PLAS", 24: "XYZ"}) + "\r"

    _, ack = post(integrator_client, message)

    assert str(ack.segment("MSA")[1]) == "AA"
    panel = Panel.objects.get()
    assert str(panel.received_at) == "2026-11-20 09:05:00+00:00"
    assert panel.specimen_condition == "XYZ"  # not in table 0493: kept as sent, never guessed


def test_without_a_received_time_nothing_is_guessed(integrator_client: APIClient) -> None:
    post(integrator_client, oru())

    panel = Panel.objects.get()
    assert (panel.received_at, panel.specimen_condition) == (None, "")
    assert set(panel.results.values_list("method", "instrument")) == {("", "")}


@pytest.mark.parametrize(
    ("_case", "received", "message"),
    [
        ("before collection", "202611200829+0000", "SPM-18: received before the specimen was "),
        ("in the future", "209911200829+0000", "receipt time is in the future"),
    ],
)
def test_a_wrong_spm_18_is_refused_naming_it_and_nothing_is_stored(
    integrator_client: APIClient, _case: str, received: str, message: str
) -> None:
    spm = _segment("SPM", {1: "1", 4: "PLAS", 18: received})

    response, ack = post(integrator_client, oru(observations=(*oru_observations(), spm)))

    assert response.status_code == 200
    assert str(ack.segment("MSA")[1]) == "AE"
    errors = ack.segments("ERR")
    assert [str(err[2]) for err in errors] == ["SPM^1^18^1"]
    assert message in str(errors[0][8])
    assert Panel.objects.count() == 0
    assert Patient.objects.count() == 0
    assert Report.objects.count() == 0


def oru_observations() -> tuple[str, ...]:
    return (
        "OBX|1|NM|26881-3^IL-6^LN||12.4|pg/mL|<=7.0|H|||F",
        "OBX|2|SN|3074-2^TNF-alpha^LN||<^2.0|pg/mL|||||F",
    )


def test_a_correction_carries_the_obx_17_and_obx_18_it_was_sent_with(
    integrator_client: APIClient,
) -> None:
    post(integrator_client, oru())
    panel = Panel.objects.get(accession="H-1")
    report_render(report_id=panel.reports.get().pk)
    correction = _segment(
        "OBX",
        {1: "1", 2: "NM", 3: "26881-3^IL-6^LN", 5: "1.24", 6: "pg/mL", 11: "C"}
        | {17: "ELISA", 18: "DS2-0117^LAB"},
    )

    _, ack = post(integrator_client, oru("MSG-2", observations=(correction, oru_observations()[1])))

    assert str(ack.segment("MSA")[1]) == "AA"
    il6 = Result.objects.current().get(panel=panel, analyte__code="IL6")
    assert (il6.value_text, il6.method, il6.instrument) == ("1.24", "ELISA", "DS2-0117")
    replaced = Result.objects.get(panel=panel, analyte__code="IL6", superseded_by=il6)
    assert (replaced.method, replaced.instrument) == ("", "")
