"""HL7 v2 ORU^R01 from hospital interfaces: one message in, its panels stored, one ACK out.

``hl7_receive`` is the one entry point for both transports (HTTP and MLLP). It parses with the
pure layer (``panels.intake.hl7``), maps every order to a panel submission with the same field
rules as the JSON API and the file imports, and stores all of the message's panels in one
transaction through ``panel_submit``. The ACK is built only after that transaction commits:
``AA`` means stored. Any problem gives ``AE`` (content) or ``AR`` (unusable message) with one
ERR segment per problem, and nothing is stored. A message accepted before (same sender and
MSH-10, same bytes) is answered with its stored ACK and not processed again. Every message is
archived unchanged with the ACK it got. Logs carry ids and control IDs, never names.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from labpanel.accounts import access
from labpanel.accounts.models import Lab
from labpanel.exceptions import Conflict, DomainError
from panels.intake.amendments import CORRECTION, panel_amend
from panels.intake.hl7.ack import build_ack
from panels.intake.hl7.batch import read_batch
from panels.intake.hl7.parse import parse_oru
from panels.intake.hl7.segments import normalize_segments
from panels.intake.hl7.types import Hl7Problem, OruObservation, OruOrder, OruParse, ProblemCode
from panels.intake.submission import panel_submit
from panels.intake.validation import (
    FieldError,
    accession_clean,
    local_zone,
    optional_text,
    required_text,
    sex_clean,
    specimen_type_clean,
    unit_match,
    unit_problem,
)
from panels.models import InboundMessage, Panel
from panels.notation import NotationError, parse_reported_value
from panels.submission import (
    PanelSubmission,
    PatientData,
    ResultData,
    SubmissionInvalid,
    panel_submission_build,
    specimen_problems,
)
from reference_ranges.selectors import AnalyteCatalogue, analyte_catalogue_get

logger = logging.getLogger(__name__)

RECEIVING_APPLICATION = "LABPANEL"
# HL7 table 0487 specimen codes this service can interpret, and its own words.
SPECIMEN_CODES = {"SER": "serum", "PLAS": "plasma", "CSF": "csf"}
_TS = re.compile(
    r"^(?P<date>\d{8})(?P<hour>\d{2})(?P<minute>\d{2})(?P<second>\d{2}(?:\.\d{1,4})?)?"
    r"(?P<offset>[+-]\d{4})?$"
)


@dataclass(frozen=True)
class Hl7Outcome:
    ack: str
    ack_code: str
    accessions: tuple[str, ...]
    replayed: bool = False


def hl7_receive_any(
    *, raw: str, user: User, transport: str, raw_bytes: bytes | None = None
) -> Hl7Outcome:
    """One message, or an FHS/BHS batch of messages: each message of a batch is processed on
    its own (its own transaction, its own ACK, archived on its own), and the answer is a batch
    of those ACKs. A batch whose envelope is inconsistent (BTS-1 count, stray segments) is
    refused whole: every message gets an AR and nothing is stored."""
    if not raw.lstrip().startswith(("FHS", "BHS")):
        return hl7_receive(raw=raw, user=user, transport=transport, raw_bytes=raw_bytes)
    access.hl7_receiver_lab(user)
    batch = read_batch(raw)
    now = timezone.now()
    if batch.problems or not batch.messages:
        problems = list(batch.problems) or [
            Hl7Problem(
                "BHS", 1, None, None, "BATCH_STRUCTURE", "the batch holds no message", "reject"
            )
        ]
        acks = [
            build_ack(
                message,
                code="AR",
                problems=problems,
                now=now,
                control_id=_ack_id(
                    hashlib.sha256(message.encode("utf-8", "surrogatepass")).hexdigest()
                ),
            )
            for message in batch.messages or [raw]
        ]
        return Hl7Outcome(ack=_batch_ack(acks, now), ack_code="AR", accessions=())
    outcomes = [
        hl7_receive(raw=message, user=user, transport=transport) for message in batch.messages
    ]
    codes = {outcome.ack_code for outcome in outcomes}
    code = "AA" if codes == {"AA"} else ("AR" if codes == {"AR"} else "AE")
    return Hl7Outcome(
        ack=_batch_ack([outcome.ack for outcome in outcomes], now),
        ack_code=code,
        accessions=tuple(accession for outcome in outcomes for accession in outcome.accessions),
    )


def _batch_ack(acks: Sequence[str], now: datetime) -> str:
    stamp = timezone.localtime(now).strftime("%Y%m%d%H%M%S%z")
    header = f"|^~\\&|{RECEIVING_APPLICATION}||||{stamp}"
    return "".join([f"FHS{header}\r", f"BHS{header}\r", *acks, f"BTS|{len(acks)}\r", "FTS|1\r"])


# HL7 table 0103, processing ID
_PROCESSING_IDS = {"P": "production", "T": "training", "D": "debugging"}


def hl7_receive(
    *, raw: str, user: User, transport: str, raw_bytes: bytes | None = None
) -> Hl7Outcome:
    """Process one ER7 message sent with ``user``'s credentials; always returns an ACK.

    ``raw`` is the decoded text; ``raw_bytes`` the bytes as received, archived unchanged
    (when not given, the text's UTF-8 encoding is archived).
    """
    lab = access.hl7_receiver_lab(user)
    archived = raw_bytes if raw_bytes is not None else raw.encode("utf-8", "surrogatepass")
    sha256 = hashlib.sha256(archived).hexdigest()
    parsed = parse_oru(raw)
    now = timezone.now()
    if parsed.rejected:
        return _answer(
            archived, sha256, parsed, lab, user, transport, "AR", list(parsed.problems), now
        )
    expected = settings.HL7_PROCESSING_ID
    if parsed.processing_id != expected:
        # a training (T) or debugging (D) message must never land among patients' results
        problem = Hl7Problem(
            segment="MSH",
            segment_index=1,
            field=11,
            component=1,
            code=ProblemCode.UNSUPPORTED_PROCESSING_ID,
            message=(
                f"MSH-11 processing ID {parsed.processing_id!r}: this system takes "
                f"{_PROCESSING_IDS.get(expected, expected)} ({expected}) messages only; "
                "nothing was stored"
            ),
            severity="reject",
            hl7_error_code="202",
        )
        return _answer(archived, sha256, parsed, lab, user, transport, "AR", [problem], now)
    previous = _accepted_before(lab=lab, parsed=parsed)
    if previous is not None:
        if previous.sha256 == sha256:
            logger.info("hl7.replayed message_id=%s control_id=%s", previous.pk, parsed.control_id)
            return Hl7Outcome(
                ack=previous.ack,
                ack_code="AA",
                accessions=tuple(previous.accessions),
                replayed=True,
            )
        problem = Hl7Problem(
            segment="MSH",
            segment_index=1,
            field=10,
            component=None,
            code="DUPLICATE_CONTROL_ID",
            message=(
                f"control ID {parsed.control_id} was already accepted with different content; "
                "a new message needs a new MSH-10"
            ),
            severity="reject",
            hl7_error_code="205",
        )
        return _answer(archived, sha256, parsed, lab, user, transport, "AR", [problem], now)
    problems: list[Hl7Problem] = []
    submissions = _submissions(parsed, lab=lab, problems=problems, now=now)
    if parsed.problems or problems:
        located = [*parsed.problems, *_with_occurrences(raw, problems)]
        return _answer(archived, sha256, parsed, lab, user, transport, "AE", located, now)
    try:
        with transaction.atomic():
            for order, action in submissions:
                try:
                    if action.corrected:
                        _correct(
                            order,
                            action,
                            lab=lab,
                            user=user,
                            parsed=parsed,
                            intake=f"hl7_{transport}",
                        )
                    else:
                        panel_submit(
                            submitted_by=user,
                            submission=action.submission,
                            intake=f"hl7_{transport}",
                        )
                except DomainError as error:
                    raise _OrderRefused(order, error) from error
            ack = build_ack(parsed, code="AA", problems=(), now=now, control_id=_ack_id(sha256))
            InboundMessage.objects.create(
                **_archive_fields(parsed, archived, sha256),
                lab=lab,
                received_by=user,
                transport=transport,
                ack_code="AA",
                ack=ack,
                accessions=[action.submission.accession for _, action in submissions],
            )
    except _OrderRefused as refused:
        problem = Hl7Problem(
            segment="OBR",
            segment_index=refused.order.obr_index,
            field=3,
            component=None,
            code="CONFLICT",
            message=refused.error.message,
            severity="error",
            hl7_error_code="205",
        )
        located = _with_occurrences(raw, [problem])
        return _answer(archived, sha256, parsed, lab, user, transport, "AE", located, now)
    except IntegrityError:
        # The same message was accepted on another connection a moment ago.
        previous = _accepted_before(lab=lab, parsed=parsed)
        if previous is None:
            raise
        return Hl7Outcome(
            ack=previous.ack, ack_code="AA", accessions=tuple(previous.accessions), replayed=True
        )
    accessions = tuple(action.submission.accession for _, action in submissions)
    logger.info(
        "hl7.accepted control_id=%s lab_id=%s panels=%d transport=%s",
        parsed.control_id,
        lab.pk,
        len(accessions),
        transport,
    )
    return Hl7Outcome(ack=ack, ack_code="AA", accessions=accessions)


def internal_error_ack(raw: str) -> str:
    """An AE for a message whose processing crashed: nothing was stored, it may be resent."""
    problem = Hl7Problem(
        segment="MSH",
        segment_index=1,
        field=None,
        component=None,
        code="INTERNAL_ERROR",
        message="internal error while storing the message; nothing was stored, resend it later",
        severity="error",
        hl7_error_code="207",
    )
    sha256 = hashlib.sha256(raw.encode("utf-8", "surrogateescape")).hexdigest()
    return build_ack(
        raw, code="AE", problems=[problem], now=timezone.now(), control_id=_ack_id(sha256)
    )


def _correct(
    order: OruOrder, action: _Order, *, lab: Lab, user: User, parsed: OruParse, intake: str
) -> None:
    """OBX-11 C: amend the stored panel (an amended report follows; the original is kept).

    The OBR must name a stored accession of the same patient; observations sent as F in the
    same order must equal what is stored (a changed value is a correction and says so)."""
    submission = action.submission
    panel = (
        Panel.objects.select_related("patient")
        .filter(accession=submission.accession, lab=lab)
        .first()
    )
    if panel is None:
        raise Conflict(f"correction for accession {submission.accession}, which is not stored")
    if panel.patient.mrn != submission.patient.mrn:
        raise Conflict(
            f"correction for accession {submission.accession} names another patient than the "
            "stored panel (possible wrong patient); nothing was changed"
        )
    stored = {r.analyte.code: r for r in panel.results.current().select_related("analyte")}
    for result in submission.results:
        if result.analyte.code in action.corrected:
            continue
        kept = stored.get(result.analyte.code)
        if kept is None or kept.value_text != result.reported.text or kept.unit != result.unit:
            raise Conflict(
                f"{result.analyte.short_name} is sent as final (F) but differs from the stored "
                "result; send a changed value with OBX-11 C"
            )
    panel_amend(
        panel_id=panel.pk,
        user=user,
        corrections=[r for r in submission.results if r.analyte.code in action.corrected],
        reason=(
            f"Correction sent by {parsed.sending_application or 'the interface'} "
            f"(HL7 OBX-11 C, message {parsed.control_id})"
        ),
        kind=CORRECTION,
        intake=intake,
    )


class _OrderRefused(Exception):
    def __init__(self, order: OruOrder, error: DomainError) -> None:
        super().__init__(error.message)
        self.order = order
        self.error = error


def _with_occurrences(raw: str, problems: list[Hl7Problem]) -> list[Hl7Problem]:
    """ERR-2 counts segments of one type (the third OBX is OBX^3): add that count."""
    occurrence: dict[int, int] = {}
    seen: Counter[str] = Counter()
    for position, segment in enumerate(normalize_segments(raw), start=1):
        name = segment[:3]
        seen[name] += 1
        occurrence[position] = seen[name]
    return [
        replace(problem, segment_occurrence=occurrence.get(problem.segment_index))
        if problem.segment_occurrence is None
        else problem
        for problem in problems
    ]


def _archive_fields(parsed: OruParse, archived: bytes, sha256: str) -> dict[str, Any]:
    """The archived message and the header fields it is found by."""
    return {
        "sending_application": _clean(parsed.sending_application, 180),
        "sending_facility": _clean(parsed.sending_facility, 180),
        "control_id": _clean(parsed.control_id, 199),
        "message_type": _clean(parsed.message_type, 40),
        "raw": archived,
        "sha256": sha256,
    }


def _clean(text: str, length: int) -> str:
    """A header value fit for a text column (the raw message keeps it as it was)."""
    return _visible(text)[:length]


def _visible(text: str) -> str:
    """PostgreSQL text cannot hold NUL: show it as ``\\x00`` (the archive keeps the byte)."""
    return text.replace("\x00", "\\x00")


def _ack_id(sha256: str) -> str:
    return f"LP{sha256[:18]}"


def _accepted_before(*, lab: Lab, parsed: OruParse) -> InboundMessage | None:
    if not parsed.control_id:
        return None
    return InboundMessage.objects.filter(
        lab=lab,
        sending_application=_clean(parsed.sending_application, 180),
        sending_facility=_clean(parsed.sending_facility, 180),
        control_id=_clean(parsed.control_id, 199),
        ack_code="AA",
    ).first()


def _answer(
    archived: bytes,
    sha256: str,
    parsed: OruParse,
    lab: Lab,
    user: User,
    transport: str,
    code: str,
    problems: list[Hl7Problem],
    now: datetime,
) -> Hl7Outcome:
    """Archive a message that was not accepted, with its AE/AR ACK; nothing else is stored."""
    ack = build_ack(parsed, code=code, problems=problems, now=now, control_id=_ack_id(sha256))  # type: ignore[arg-type]
    message = InboundMessage.objects.create(
        **_archive_fields(parsed, archived, sha256),
        lab=lab,
        received_by=user,
        transport=transport,
        ack_code=code,
        ack=ack,
        problems=[
            {
                "segment": _visible(p.segment),
                "segment_index": p.segment_index,
                "field": p.field,
                "component": p.component,
                "code": _visible(p.code),
                "message": _visible(p.message),
            }
            for p in problems
        ],
    )
    logger.info(
        "hl7.refused message_id=%s control_id=%s ack=%s problems=%d",
        message.pk,
        parsed.control_id,
        code,
        len(problems),
    )
    return Hl7Outcome(ack=ack, ack_code=code, accessions=())


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


def _submissions(
    parsed: OruParse, *, lab: Lab, problems: list[Hl7Problem], now: datetime
) -> list[tuple[OruOrder, _Order]]:
    catalogue = analyte_catalogue_get()
    clinicians = _clinicians(lab)
    zone = local_zone()
    submissions: list[tuple[OruOrder, _Order]] = []
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
) -> _Order | None:
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
        "PID", pid, 7, _hl7_date, order.patient.birth_date, today=timezone.localdate(now)
    )
    specimen = field("OBR", obr, 15, _specimen, order.specimen_type)
    collected_at = field("OBR", obr, 7, _hl7_timestamp, order.collected_at, zone=zone, now=now)
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
    if isinstance(birth_date, date) and isinstance(collected_at, datetime):
        for problem in specimen_problems(
            birth_date=birth_date, collected_at=collected_at, zone=zone
        ):
            problems.append(_problem("OBR", obr, 7, problem.message, "INVALID_FIELD"))
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
    return _Order(corrected=frozenset(corrected), submission=submission)


@dataclass(frozen=True)
class _Order:
    """One OBR group: a new panel (all F), or corrections (some C) to a stored one."""

    submission: PanelSubmission
    corrected: frozenset[str]  # analyte codes sent with OBX-11 C


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
    return ResultData(
        analyte=analyte,
        analyte_as_received=(observation.text or observation.code)[:120],
        raw_value=observation.value_raw[:64],
        reported=reported,
        unit=unit,
        sender_range=observation.sender_range[:120],
        sender_flags="~".join(observation.sender_flags)[:40],
    )


def _specimen(text: str) -> str:
    code = text.strip()
    if not code:
        raise FieldError("specimen type is missing (SPM-4 or OBR-15)")
    return SPECIMEN_CODES.get(code.upper()) or specimen_type_clean(code)


def _hl7_date(text: str, *, today: date) -> date | None:
    value = text.strip()
    if not value:
        return None
    if not re.match(r"^\d{8}", value):
        raise FieldError(f"{value!r} is not an HL7 date (YYYYMMDD)")
    try:
        born = date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    except ValueError as error:
        raise FieldError(f"{value!r} is not a real date") from error
    if born > today:
        raise FieldError("birth date is in the future")
    return born


def _hl7_timestamp(text: str, *, zone: ZoneInfo, now: datetime) -> datetime:
    value = text.strip()
    match = _TS.match(value)
    if match is None:
        raise FieldError(
            f"{value!r} is not an HL7 timestamp to the minute (YYYYMMDDHHMM[SS][+ZZZZ])"
        )
    day = match.group("date")
    second = match.group("second") or "0"
    try:
        moment = datetime(  # noqa: DTZ001 - the zone is decided below (offset or the lab's clock)
            int(day[:4]),
            int(day[4:6]),
            int(day[6:8]),
            int(match.group("hour")),
            int(match.group("minute")),
            int(second.split(".")[0]),
        )
    except ValueError as error:
        raise FieldError(f"{value!r} is not a real date and time") from error
    offset = match.group("offset")
    if offset:
        text_iso = moment.isoformat() + offset[:3] + ":" + offset[3:]
        aware = datetime.fromisoformat(text_iso)
    else:
        earlier = moment.replace(tzinfo=zone, fold=0)
        if earlier.utcoffset() != moment.replace(tzinfo=zone, fold=1).utcoffset():
            raise FieldError(
                f"{value!r} happens twice or never on the lab's clock ({zone.key}); add the offset"
            )
        aware = earlier
    if aware > now + timedelta(minutes=5):
        raise FieldError("collection time is in the future")
    return aware
