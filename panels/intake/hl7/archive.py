"""The archive of every HL7 message received (``InboundMessage``): the bytes exactly as received,
the ACK they got, the problems it named and the header fields a message is found by; the
look-up of a message accepted before (same sender and MSH-10), whose stored ACK answers a
resend; and :class:`Hl7Outcome`, what processing a message answers. Archived text columns never
hold a NUL (the raw bytes keep it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth.models import User

from labpanel.accounts.models import Lab
from panels.intake.hl7.types import Hl7Problem, OruParse
from panels.models import InboundMessage

__all__ = [
    "Hl7Outcome",
    "ReceivedMessage",
    "ack_control_id",
    "message_accepted_before",
    "message_archive",
]


@dataclass(frozen=True)
class Hl7Outcome:
    ack: str
    ack_code: str
    accessions: tuple[str, ...]
    replayed: bool = False

    @classmethod
    def replay(cls, previous: InboundMessage) -> Hl7Outcome:
        """The answer to a resend of ``previous`` (accepted before): its stored ACK."""
        return cls(
            ack=previous.ack, ack_code="AA", accessions=tuple(previous.accessions), replayed=True
        )


@dataclass(frozen=True)
class ReceivedMessage:
    """One message as received, and by whom: what its archive row records."""

    archived: bytes  # the bytes as received (or the text's UTF-8 when only text was given)
    sha256: str  # of ``archived``
    parsed: OruParse
    lab: Lab
    user: User
    transport: str


def ack_control_id(sha256: str) -> str:
    """The ACK's own MSH-10, from the message's SHA-256: a resend gets the same one."""
    return f"LP{sha256[:18]}"


def message_archive(
    message: ReceivedMessage,
    *,
    ack_code: str,
    ack: str,
    accessions: Sequence[str] = (),
    problems: Sequence[Hl7Problem] = (),
) -> InboundMessage:
    """Store the message as received with the ACK it got (``accessions``: the panels an AA
    stored; ``problems``: what an AE/AR named). Runs in the caller's transaction, if any."""
    return InboundMessage.objects.create(
        **_sender_and_control_id(message.parsed),
        message_type=_clean(message.parsed.message_type, 40),
        raw=message.archived,
        sha256=message.sha256,
        lab=message.lab,
        received_by=message.user,
        transport=message.transport,
        ack_code=ack_code,
        ack=ack,
        accessions=list(accessions),
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


def message_accepted_before(*, lab: Lab, parsed: OruParse) -> InboundMessage | None:
    """The message of the same sender and MSH-10 that ``lab`` accepted (AA), if any."""
    if not parsed.control_id:
        return None
    return InboundMessage.objects.filter(
        lab=lab, **_sender_and_control_id(parsed), ack_code="AA"
    ).first()


def _sender_and_control_id(parsed: OruParse) -> dict[str, str]:
    """The columns a message is found by (one AA per lab and key), as archived."""
    return {
        "sending_application": _clean(parsed.sending_application, 180),
        "sending_facility": _clean(parsed.sending_facility, 180),
        "control_id": _clean(parsed.control_id, 199),
    }


def _clean(text: str, length: int) -> str:
    """A header value fit for a text column (the raw message keeps it as it was)."""
    return _visible(text)[:length]


def _visible(text: str) -> str:
    """PostgreSQL text cannot hold NUL: show it as ``\\x00`` (the archive keeps the byte)."""
    return text.replace("\x00", "\\x00")
