"""Each order (OBR group) of an ORU^R01 mapped to a panel submission, with the same field rules
as the JSON API and the file imports: the patient and specimen fields, the ordering provider
(a clinician of the lab, by provider ID or username), every observation resolved to an analyte
of the catalogue with its value in Labpanel's notation (comparator kept, never rounded) and an
allowed unit. Whatever cannot be used is a located problem; nothing is dropped or guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.contrib.auth.models import User
from django.utils import timezone

from labpanel.accounts import access
from labpanel.accounts.models import Lab
from panels.intake.hl7.fields import hl7_date_clean, hl7_timestamp_clean, specimen_clean
from panels.intake.hl7.types import Hl7Problem, OruObservation, OruOrder, OruParse
from panels.intake.validation import (
    FieldError,
    accession_clean,
    local_zone,
    optional_text,
    required_text,
    sex_clean,
    unit_match,
    unit_problem,
)
from panels.notation import NotationError, parse_reported_value
from panels.submission import (
    RECEIVED_BEFORE_COLLECTION,
    PanelSubmission,
    PatientData,
    ResultData,
    SubmissionInvalid,
    panel_submission_build,
    specimen_problems,
)
from reference_ranges.selectors import AnalyteCatalogue, analyte_catalogue_get

__all__ = ["OrderAction", "order_submissions"]


@dataclass(frozen=True)
class OrderAction:
    """One OBR group: a new panel (all F), or corrections (some C) to a stored one."""

    submission: PanelSubmission
    corrected: frozenset[str]  # analyte codes sent with OBX-11 C


# HL7 table 0357 codes for this module's problems: 102 data type error (the text is not a
# valid value), 103 table value not found (a code we do not know or accept), 205 duplicate key.
_ERROR_CODES = {
    "INVALID_FIELD": "102",
    "VALUE_NOT_NUMERIC": "102",
    "UNKNOWN_PROVIDER": "103",
    "UNKNOWN_ANALYTE": "103",
    "UNIT_NOT_ALLOWED": "103",
    "RESULT_STATUS": "103",
    "DUPLICATE_OBSERVATION": "205",
}


def _problem(
    segment: str, index: int, field: int, message: str, code: str, component: int | None = None
) -> Hl7Problem:
    return Hl7Problem(
        segment=segment,
        segment_index=index,
        field=field,
        component=component,
        code=code,
        message=message,
        severity="error",
        hl7_error_code=_ERROR_CODES.get(code, "207"),
    )


def _clinicians(lab: Lab) -> dict[str, User]:
    staff = access.ordering_clinicians(lab_id=lab.pk)
    by_id: dict[str, User] = {}
    for member in staff:
        by_id[member.user.get_username()] = member.user
    for member in staff:
        if member.provider_id:
            by_id[member.provider_id] = member.user  # the interface identifier wins
    return by_id


def order_submissions(
    parsed: OruParse,
    *,
    lab: Lab,
    problems: list[Hl7Problem],
    now: datetime,
    catalogue: AnalyteCatalogue | None = None,
) -> list[tuple[OruOrder, OrderAction]]:
    """Each order of ``parsed`` that maps to a submission, with what to do with it; what
    cannot be used is added to ``problems`` (located; the caller stores nothing then).
    ``catalogue``: the analyte catalogue the caller holds (read here when not given)."""
    catalogue = catalogue if catalogue is not None else analyte_catalogue_get()
    clinicians = _clinicians(lab)
    zone = local_zone()
    submissions: list[tuple[OruOrder, OrderAction]] = []
    for order in parsed.orders:
        submission = _submission(order, catalogue, clinicians, zone, problems, now)
        if submission is not None:
            submissions.append((order, submission))
    return submissions


def _submission(
    order: OruOrder,
    catalogue: AnalyteCatalogue,
    clinicians: Mapping[str, User],
    zone: ZoneInfo,
    problems: list[Hl7Problem],
    now: datetime,
) -> OrderAction | None:
    before = len(problems)
    obr, pid = order.obr_index, order.patient.pid_index

    def field(
        segment: str, index: int, number: int, clean: object, *args: object, **kw: object
    ) -> object:
        try:
            return clean(*args, **kw)  # type: ignore[operator]
        except FieldError as error:
            problems.append(_problem(segment, index, number, str(error), "INVALID_FIELD"))
            return None

    accession = field("OBR", obr, 3, accession_clean, order.accession)
    mrn = field("PID", pid, 3, required_text, order.patient.mrn, field="patient ID", max_length=64)
    family = field(
        "PID", pid, 5, required_text, order.patient.family_name, field="family name", max_length=120
    )
    given = field(
        "PID", pid, 5, optional_text, order.patient.given_name, field="given name", max_length=120
    )
    sex = field("PID", pid, 8, sex_clean, order.patient.sex or "U")
    birth_date = field(
        "PID", pid, 7, hl7_date_clean, order.patient.birth_date, today=timezone.localdate(now)
    )
    specimen = field("OBR", obr, 15, specimen_clean, order.specimen_type)
    collected_at = field("OBR", obr, 7, hl7_timestamp_clean, order.collected_at, zone=zone, now=now)
    received_segment, received_index, received_field = order.received_at_where
    received_at = (
        field(
            received_segment,
            received_index,
            received_field,
            hl7_timestamp_clean,
            order.received_at,
            zone=zone,
            now=now,
            what="receipt time",
        )
        if order.received_at.strip()
        else None
    )
    condition = field(
        "SPM",
        order.spm_index,
        24,
        optional_text,
        order.specimen_condition,
        field="specimen condition",
        max_length=200,
    )
    clinician = clinicians.get(order.ordering_provider_id.strip())
    if clinician is None:
        problems.append(
            _problem(
                "OBR",
                obr,
                16,
                f"ordering provider {order.ordering_provider_id.strip()!r} is not a clinician of "
                "this lab (by provider ID or username)",
                "UNKNOWN_PROVIDER",
            )
        )
    if isinstance(collected_at, datetime):
        for problem in specimen_problems(
            birth_date=birth_date if isinstance(birth_date, date) else None,
            collected_at=collected_at,
            received_at=received_at if isinstance(received_at, datetime) else None,
            zone=zone,
        ):
            if problem.code == RECEIVED_BEFORE_COLLECTION:
                where = (received_segment, received_index, received_field)
                message = f"{received_segment}-{received_field}: {problem.message} (OBR-7)"
            else:
                where, message = ("OBR", obr, 7), problem.message
            problems.append(_problem(*where, message, "INVALID_FIELD"))
    results = [r for r in (_result(obs, catalogue, problems) for obs in order.observations) if r]
    codes = [r.analyte.code for r in results]
    for observation, result in zip(order.observations, results, strict=False):
        if codes.count(result.analyte.code) > 1:
            problems.append(
                _problem(
                    "OBX",
                    observation.segment_index,
                    3,
                    f"{result.analyte.short_name} is reported twice in this order",
                    "DUPLICATE_OBSERVATION",
                )
            )
            break
    if len(problems) > before:
        return None
    if not isinstance(collected_at, datetime) or clinician is None:  # pragma: no cover
        return None
    corrected = {
        result.analyte.code
        for observation, result in zip(order.observations, results, strict=True)
        if observation.status.strip().upper() == "C"
    }
    try:
        submission = panel_submission_build(
            accession=str(accession),
            patient=PatientData(
                mrn=str(mrn),
                family_name=str(family),
                given_name=str(given),
                birth_date=birth_date if isinstance(birth_date, date) else None,
                sex=str(sex),
            ),
            specimen_type=str(specimen),
            collected_at=collected_at,
            received_at=received_at if isinstance(received_at, datetime) else None,
            specimen_condition=str(condition or ""),
            ordering_clinician=clinician,
            results=results,
            zone=zone,
        )
    except SubmissionInvalid as invalid:  # pragma: no cover - each check was named above
        for problem in invalid.problems:
            problems.append(
                _problem("OBR", obr, 7, f"{problem.field}: {problem.message}", "INVALID_FIELD")
            )
        return None
    return OrderAction(corrected=frozenset(corrected), submission=submission)


def _result(
    observation: OruObservation, catalogue: AnalyteCatalogue, problems: list[Hl7Problem]
) -> ResultData | None:
    index = observation.segment_index
    status = observation.status.strip().upper()
    if status not in ("F", "C"):
        meaning = {
            "P": "preliminary results are not reported by this service; send the final (F) result",
        }.get(
            status,
            f"result status {status or 'empty'!r} is not accepted; send final (F) results or "
            "corrections (C)",
        )
        problems.append(_problem("OBX", index, 11, meaning, "RESULT_STATUS"))
        return None
    analyte = catalogue.resolve(observation.code) or (
        catalogue.resolve(observation.text) if observation.text else None
    )
    if analyte is None:
        problems.append(
            _problem(
                "OBX",
                index,
                3,
                f"observation {observation.code!r} ({observation.text}) is not an analyte in "
                "the catalogue",
                "UNKNOWN_ANALYTE",
                component=1,
            )
        )
        return None
    if observation.value_text is None:
        if not any(p.segment_index == index and p.field == 5 for p in problems):
            problems.append(
                _problem(
                    "OBX",
                    index,
                    5,
                    f"OBX-5 {observation.value_raw!r} is not a single number",
                    "VALUE_NOT_NUMERIC",
                )
            )
        return None
    try:
        reported = parse_reported_value(observation.value_text)
    except NotationError as error:
        problems.append(_problem("OBX", index, 5, str(error), "VALUE_NOT_NUMERIC"))
        return None
    unit = unit_match(observation.unit.strip(), analyte)
    if unit is None:
        problems.append(
            _problem(
                "OBX",
                index,
                6,
                unit_problem(observation.unit.strip(), analyte),
                "UNIT_NOT_ALLOWED",
                component=1,
            )
        )
        return None
    try:
        method = optional_text(observation.method, field="OBX-17 (method)", max_length=200)
        instrument = optional_text(
            observation.instrument, field="OBX-18 (instrument)", max_length=200
        )
    except FieldError as error:
        number = 17 if str(error).startswith("OBX-17") else 18
        problems.append(_problem("OBX", index, number, str(error), "INVALID_FIELD"))
        return None
    return ResultData(
        analyte=analyte,
        analyte_as_received=(observation.text or observation.code)[:120],
        raw_value=observation.value_raw[:64],
        reported=reported,
        unit=unit,
        sender_range=observation.sender_range[:120],
        sender_flags="~".join(observation.sender_flags)[:40],
        method=method,
        instrument=instrument,
    )
