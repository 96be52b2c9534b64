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
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from labpanel.accounts import access
from labpanel.exceptions import DomainError
from panels.demographics import DemographicsMismatch, mismatch_refusal
from panels.intake.hl7.ack import build_ack
from panels.intake.hl7.archive import (
    Hl7Outcome,
    ReceivedMessage,
    ack_control_id,
    message_accepted_before,
    message_archive,
)
from panels.intake.hl7.batch import read_batch
from panels.intake.hl7.corrections import order_correct
from panels.intake.hl7.parse import parse_oru
from panels.intake.hl7.segments import normalize_segments
from panels.intake.hl7.submissions import OrderAction, order_submissions
from panels.intake.hl7.types import AckCode, Hl7Problem, OruOrder, ProblemCode
from panels.intake.submission import panel_submit
from reference_ranges.current import ReferenceData, reference_data_current

logger = logging.getLogger(__name__)

RECEIVING_APPLICATION = "LABPANEL"


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
                control_id=ack_control_id(
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
    received = ReceivedMessage(archived, sha256, parsed, lab, user, transport)
    if parsed.rejected:
        return _answer(received, "AR", list(parsed.problems), now)
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
        return _answer(received, "AR", [problem], now)
    previous = message_accepted_before(lab=lab, parsed=parsed)
    if previous is not None:
        if previous.sha256 == sha256:
            logger.info("hl7.replayed message_id=%s control_id=%s", previous.pk, parsed.control_id)
            return Hl7Outcome.replay(previous)
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
        return _answer(received, "AR", [problem], now)
    problems: list[Hl7Problem] = []
    # The reference data for the whole message: one read of its stamp.
    reference = reference_data_current()
    submissions = order_submissions(
        parsed, lab=lab, problems=problems, now=now, catalogue=reference.catalogue()
    )
    if parsed.problems or problems:
        located = [*parsed.problems, *_with_occurrences(raw, problems)]
        return _answer(received, "AE", located, now)
    for attempt in (1, 2):
        try:
            ack = _message_store(received, submissions, now=now, reference=reference)
        except _OrderRefused as refused:
            refusal = refused.error
            if isinstance(refusal, DemographicsMismatch):
                # Audited now that the message's transaction rolled back; the ERR text names
                # the differing fields only to the lab's staff (never to an integrator).
                refusal = mismatch_refusal(mismatch=refusal, user=user, intake=f"hl7_{transport}")
            problem = Hl7Problem(
                segment="OBR",
                segment_index=refused.order.obr_index,
                field=3,
                component=None,
                code="CONFLICT",
                message=refusal.message,
                severity="error",
                hl7_error_code="205",
            )
            located = _with_occurrences(raw, [problem])
            return _answer(received, "AE", located, now)
        except IntegrityError:
            # The same message was accepted on another connection a moment ago: its ACK.
            previous = message_accepted_before(lab=lab, parsed=parsed)
            if previous is not None:
                return Hl7Outcome.replay(previous)
            # Another message stored one of this message's accessions or patients a moment
            # ago: the whole message once more, against the committed rows (an identical
            # panel is then the stored one, other content a conflict).
            if attempt == 2:
                raise
        else:
            break
    accessions = tuple(action.submission.accession for _, action in submissions)
    logger.info(
        "hl7.accepted control_id=%s lab_id=%s panels=%d transport=%s",
        parsed.control_id,
        lab.pk,
        len(accessions),
        transport,
    )
    return Hl7Outcome(ack=ack, ack_code="AA", accessions=accessions)


def _message_store(
    received: ReceivedMessage,
    submissions: Sequence[tuple[OruOrder, OrderAction]],
    *,
    now: datetime,
    reference: ReferenceData,
) -> str:
    """Store every order of the message and archive it with its AA, in one transaction; the
    ACK. Each panel is stored in the message's transaction (no savepoint of its own): any
    error rolls the whole message back (``_OrderRefused``: an order refused; an
    ``IntegrityError`` propagates for the caller to try the message again)."""
    parsed, lab, user, transport = received.parsed, received.lab, received.user, received.transport
    with transaction.atomic():
        for order, action in submissions:
            try:
                if action.corrected:
                    order_correct(
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
                        mismatch_to_caller=True,
                        reference=reference,
                        in_caller_transaction=True,
                    )
            except DomainError as error:
                raise _OrderRefused(order, error) from error
        ack = build_ack(
            parsed, code="AA", problems=(), now=now, control_id=ack_control_id(received.sha256)
        )
        message_archive(
            received,
            ack_code="AA",
            ack=ack,
            accessions=[action.submission.accession for _, action in submissions],
        )
    return ack


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
        raw, code="AE", problems=[problem], now=timezone.now(), control_id=ack_control_id(sha256)
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


def _answer(
    received: ReceivedMessage, code: AckCode, problems: list[Hl7Problem], now: datetime
) -> Hl7Outcome:
    """Archive a message that was not accepted, with its AE/AR ACK; nothing else is stored."""
    ack = build_ack(
        received.parsed,
        code=code,
        problems=problems,
        now=now,
        control_id=ack_control_id(received.sha256),
    )
    message = message_archive(received, ack_code=code, ack=ack, problems=problems)
    logger.info(
        "hl7.refused message_id=%s control_id=%s ack=%s problems=%d",
        message.pk,
        received.parsed.control_id,
        code,
        len(problems),
    )
    return Hl7Outcome(ack=ack, ack_code=code, accessions=())
