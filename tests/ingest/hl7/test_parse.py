"""parse_oru on the fixture messages: header, groups, patients, orders, structure errors."""

from __future__ import annotations

import pytest

from panels.intake.hl7.parse import parse_oru
from panels.intake.hl7.types import ProblemCode
from tests.ingest.hl7.helpers import MSH, OBR, PID, codes, fixture, message, obx, only, oru


def test_single_panel_reads_header_patient_order_and_13_results() -> None:
    parsed = parse_oru(fixture("oru_r01_single.hl7"))

    assert parsed.problems == ()
    assert parsed.ack_code == "AA"
    assert (parsed.control_id, parsed.version, parsed.message_type) == (
        "MSG00001", "2.5.1", "ORU^R01^ORU_R01",
    )  # fmt: skip
    assert (parsed.sending_application, parsed.sending_facility) == ("CYTOLIS", "NORTHLAB")
    assert (parsed.receiving_application, parsed.receiving_facility) == ("LABPANEL", "LAB1")
    assert parsed.message_datetime == "20261120093000+0100"
    assert (parsed.field_separator, parsed.encoding_characters) == ("|", "^~\\&")
    assert (parsed.processing_id, parsed.character_set) == ("P", "UNICODE UTF-8")
    [order] = parsed.orders
    patient = order.patient
    assert (patient.mrn, patient.mrn_assigning_authority) == ("MRN-77", "NORTHHOSP")
    assert (patient.family_name, patient.given_name) == ("Doe", "Jane")
    assert (patient.birth_date, patient.sex, patient.pid_index) == ("19800402", "F", 3)
    assert (order.accession, order.placer_order_number, order.filler_order_number) == (
        "A-1001", "PL-1001", "A-1001",
    )  # fmt: skip
    assert (order.universal_service_id, order.universal_service_code) == (
        "Cytokine panel 13", "CYTO13",
    )  # fmt: skip
    assert order.collected_at == "20261120083000+0100"
    assert order.ordering_provider_id == "dr.house"
    assert order.specimen_type == "SER"  # SPM-4 wins over OBR-15
    assert (order.obr_index, order.patient_index) == (6, 1)
    assert [o.code for o in order.observations] == [
        "IL-6", "IL-10", "TNFA", "IFNG", "IL-2", "IL-4", "IL-8", "IL-1B", "IL-12", "IL-17A",
        "IL-13", "IL-5", "GM-CSF",
    ]  # fmt: skip
    il6 = order.observations[0]
    assert (il6.set_id, il6.value_type, il6.text, il6.coding_system) == (
        "1", "NM", "Interleukin 6", "L",
    )  # fmt: skip
    assert (il6.value_raw, il6.value_text, il6.comparator) == ("12.4", "12.4", "")
    assert (il6.unit, il6.unit_text) == ("pg/mL", "picogram per millilitre")
    assert (il6.sender_range, il6.sender_flags, il6.status) == ("0.0-7.0", ("H",), "F")
    assert il6.observed_at == "20261120091500+0100"
    assert il6.segment_index == 8
    gm_csf = order.observations[-1]
    assert (gm_csf.value_raw, gm_csf.value_text, gm_csf.status) == (">^5000", ">5000", "P")
    assert order.observations[3].sender_flags == ("H", "A")  # OBX-8 repeats
    assert parsed.observation_count == 13


def test_two_orc_obr_groups_for_one_patient() -> None:
    parsed = parse_oru(fixture("oru_r01_two_orders.hl7"))

    assert parsed.problems == ()
    first, second = parsed.orders
    assert first.patient == second.patient
    assert (first.accession, second.accession) == ("A-2001", "PL-2002")  # OBR-3, else OBR-2
    assert second.filler_order_number == ""
    assert first.specimen_type == "PLAS"  # OBR-15 when there is no SPM
    assert [o.status for o in second.observations] == ["C", "F"]
    assert [o.value_text for o in second.observations] == ["18.2", "3.9"]


def test_two_patients_in_one_message() -> None:
    parsed = parse_oru(fixture("oru_r01_two_patients.hl7"))

    assert parsed.problems == ()
    first, second = parsed.orders
    assert (first.patient.mrn, first.patient_index, first.patient.pid_index) == ("MRN-101", 1, 2)
    assert (second.patient.mrn, second.patient_index, second.patient.pid_index) == (
        "MRN-102", 2, 6,
    )  # fmt: skip
    assert [o.code for o in second.observations] == ["IL-6", "IL-10"]


def test_custom_delimiters_declared_in_msh() -> None:
    parsed = parse_oru(fixture("oru_r01_custom_delimiters.hl7"))

    assert parsed.problems == ()
    assert (parsed.field_separator, parsed.encoding_characters) == ("#", "$*@%")
    [order] = parsed.orders
    assert order.patient.family_name == "Hash#Tag"  # @F@ is the escaped field separator
    [observation] = order.observations
    assert (observation.value_text, observation.sender_flags) == ("<1.5", ("L", "A"))


def test_structure_errors_are_each_reported_where_they_are() -> None:
    parsed = parse_oru(fixture("oru_r01_structure_errors.hl7"))

    assert parsed.ack_code == "AE"
    assert not parsed.rejected
    located = {(p.code, p.segment, p.segment_index, p.field) for p in parsed.problems}
    assert located == {
        (ProblemCode.MISSING_PATIENT_ID, "PID", 2, 3),
        (ProblemCode.MISSING_PATIENT_NAME, "PID", 2, 5),
        (ProblemCode.BAD_DATETIME, "PID", 2, 7),
        (ProblemCode.BAD_SEX, "PID", 2, 8),
        (ProblemCode.SEGMENT_SEQUENCE, "OBX", 3, None),
        (ProblemCode.MISSING_ACCESSION, "OBR", 5, 3),
        (ProblemCode.DUPLICATE_OBSERVATION, "OBX", 7, 3),
        (ProblemCode.MISSING_OBSERVATION_CODE, "OBX", 8, 3),
        (ProblemCode.MISSING_SERVICE_ID, "OBR", 10, 4),
        (ProblemCode.MISSING_COLLECTION_TIME, "OBR", 10, 7),
        (ProblemCode.NO_OBSERVATIONS, "OBR", 10, None),
        (ProblemCode.UNEXPECTED_SEGMENT, "EVN", 11, None),
        (ProblemCode.INVALID_SEGMENT, "", 12, None),
    }
    # the same code with another OBX-4 sub-ID is not a duplicate
    assert [o.sub_id for o in parsed.orders[0].observations] == ["", "", "", "2"]
    assert all(p.severity == "error" for p in parsed.problems)


def test_problem_messages_never_quote_patient_identity() -> None:
    text = message("PID|1||SECRET-MRN^^^H^MR||Secretname^Given||1980-13-99|Q", OBR, obx("NM", "1"))
    parsed = parse_oru(text)

    assert {"BAD_DATETIME", "BAD_SEX"} <= set(codes(parsed))
    for problem in parsed.problems:
        assert "Secretname" not in problem.message
        assert "1980-13-99" not in problem.message


@pytest.mark.parametrize(
    ("name", "code", "field"),
    [
        ("adt_a01.hl7", ProblemCode.UNSUPPORTED_MESSAGE_TYPE, 9),
        ("oru_r01_v231.hl7", ProblemCode.UNSUPPORTED_VERSION, 12),
        ("oru_r01_no_control_id.hl7", ProblemCode.MISSING_CONTROL_ID, 10),
        ("batch.hl7", ProblemCode.BATCH_NOT_SPLIT, None),
    ],
)
def test_unusable_messages_are_rejected(name: str, code: ProblemCode, field: int | None) -> None:
    parsed = parse_oru(fixture(name))

    assert parsed.rejected
    assert parsed.ack_code == "AR"
    assert parsed.orders == ()
    problem = only(parsed, code)
    assert (problem.severity, problem.field) == ("reject", field)


def test_rejected_message_still_exposes_its_msh_for_the_ack() -> None:
    parsed = parse_oru(fixture("adt_a01.hl7"))

    assert (parsed.control_id, parsed.sending_application, parsed.message_type) == (
        "ADT00001", "ADT", "ADT^A01^ADT_A01",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", ProblemCode.EMPTY_MESSAGE),
        ("\r\n \r", ProblemCode.EMPTY_MESSAGE),
        ("hello world", ProblemCode.NOT_ER7),
        ("PID|1||X", ProblemCode.NOT_ER7),
        ("MSH", ProblemCode.BAD_ENCODING_CHARACTERS),
        ("MSH|^~|A", ProblemCode.BAD_ENCODING_CHARACTERS),
        ("MSH|^^\\&|A", ProblemCode.BAD_ENCODING_CHARACTERS),
        ("MSHa^~\\&a", ProblemCode.BAD_ENCODING_CHARACTERS),
        ("MSH|^~\\&|A\x00B", ProblemCode.NOT_ER7),
        (MSH.format(control_id="1") + "\rMSH|^~\\&|X", ProblemCode.MULTIPLE_MESSAGES),
        (MSH.format(control_id="1") + "\rBTS|1", ProblemCode.BATCH_NOT_SPLIT),
        (MSH.format(control_id="1").replace("ORU^R01", "ORU^R30"), ProblemCode.UNSUPPORTED_EVENT),
        (MSH.format(control_id="1").replace("2.5.1", ""), ProblemCode.UNSUPPORTED_VERSION),
    ],
)
def test_not_a_usable_message(text: str, code: ProblemCode) -> None:
    parsed = parse_oru(text)

    assert parsed.ack_code == "AR"
    assert only(parsed, code).severity == "reject"


@pytest.mark.parametrize("separator", ["\r", "\n", "\r\n"])
def test_segment_separators(separator: str) -> None:
    text = separator.join([MSH.format(control_id="S1"), PID, OBR, obx("NM", "1.0")]) + separator

    parsed = parse_oru(text)

    assert parsed.problems == ()
    assert parsed.orders[0].observations[0].value_text == "1.0"


def test_nte_z_segments_and_other_allowed_segments_are_ignored() -> None:
    parsed = parse_oru(
        message(
            "SFT|vendor", PID, "PD1|", "NTE|1||note", "NK1|1|Doe^John", "PV1|1|O", "PV2|",
            "ORC|RE", OBR, "TQ1|1", "NTE|1||order note", obx("NM", "1"), "NTE|1||result note",
            "ZXY|anything^at~all", "SPM|1|||PLAS", "ZZZ", "DSC|1",
        )
    )  # fmt: skip

    assert parsed.problems == ()
    assert parsed.orders[0].specimen_type == "PLAS"


def test_obr_before_any_pid_is_reported_once_and_its_results_are_not_kept() -> None:
    parsed = parse_oru(message(OBR, obx("NM", "1"), obx("NM", "2", code="IL-8")))

    assert codes(parsed) == ["SEGMENT_SEQUENCE", "NO_ORDERS"]
    assert parsed.orders == ()


def test_message_with_no_result_group() -> None:
    assert codes(parse_oru(message("NTE|1||nothing here"))) == ["NO_ORDERS"]


def test_patient_without_orders_is_reported() -> None:
    parsed = parse_oru(message(PID, "PID|2||MRN-2^^^H^MR||Roe^Rick", OBR, obx("NM", "1")))

    problem = only(parsed, ProblemCode.PATIENT_WITHOUT_ORDERS)
    assert (problem.segment, problem.segment_index) == ("PID", 2)
    assert parsed.orders[0].patient.mrn == "MRN-2"


def test_spm_before_obr_and_pv1_before_pid() -> None:
    parsed = parse_oru(message("PV1|1|O", PID, "SPM|1|||PLAS", OBR, obx("NM", "1")))

    assert codes(parsed) == ["SEGMENT_SEQUENCE", "SEGMENT_SEQUENCE"]


def test_pid3_first_repetition_is_the_mrn_with_its_assigning_authority() -> None:
    parsed = parse_oru(
        message("PID|1||111^^^AUTH&1.2.3&ISO^MR~222^^^OTHER^NI||Doe^Jane", OBR, obx("NM", "1"))
    )

    patient = parsed.orders[0].patient
    assert (patient.mrn, patient.mrn_assigning_authority) == ("111", "AUTH")


def test_assigning_authority_falls_back_to_the_universal_id() -> None:
    parsed = parse_oru(message("PID|1||111^^^&1.2.3&ISO^MR||Doe^Jane", OBR, obx("NM", "1")))

    assert parsed.orders[0].patient.mrn_assigning_authority == "1.2.3"


def test_bad_timestamps_are_reported() -> None:
    parsed = parse_oru(
        message(PID, "OBR|1||A-1|CYTO|||2026-11-20", "OBX|1|NM|IL-6||1|pg/mL|||||F|||noon")
    )

    assert [(p.code, p.field) for p in parsed.problems] == [
        (ProblemCode.BAD_DATETIME, 7), (ProblemCode.BAD_DATETIME, 14),
    ]  # fmt: skip


def test_segment_occurrence_is_counted_per_segment_id() -> None:
    parsed = parse_oru(oru(obx("NM", "1"), obx("NM", "x", code="IL-8")))

    problem = only(parsed, ProblemCode.VALUE_NOT_NUMERIC)
    assert (problem.segment_index, problem.segment_occurrence) == (5, 2)


def test_result_is_frozen() -> None:
    parsed = parse_oru(oru(obx("NM", "1")))

    with pytest.raises(AttributeError):
        parsed.control_id = "other"  # type: ignore[misc]
