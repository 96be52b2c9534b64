"""HL7 batches and files: an FHS/BHS...BTS/FTS envelope (or several bare MSH messages) split
into its messages, the envelope checked (its BTS-1 count, segments outside any message)."""

from __future__ import annotations

from dataclasses import dataclass

from panels.intake.hl7.segments import normalize_segments, quote
from panels.intake.hl7.types import Hl7Problem, ProblemCode

__all__ = ["BATCH_SEGMENTS", "Hl7Batch", "read_batch", "split_batch"]

#: The envelope segments of a batch or file.
BATCH_SEGMENTS = frozenset({"FHS", "BHS", "BTS", "FTS"})


@dataclass(frozen=True, slots=True)
class Hl7Batch:
    messages: tuple[str, ...]  # each "\r"-separated and "\r"-terminated
    problems: tuple[Hl7Problem, ...]


def read_batch(text: str) -> Hl7Batch:
    """Split an FHS/BHS...BTS/FTS batch (or several bare MSH messages) into messages.

    The envelope segments are dropped. Segments outside any message and a BTS-1 count that
    differs from the messages actually in its batch are reported (severity "error").
    """
    messages: list[list[str]] = []
    problems: list[Hl7Problem] = []
    current: list[str] | None = None
    in_batch = 0
    for index, segment in enumerate(normalize_segments(text), start=1):
        segment_id = segment[:3]
        if segment_id == "MSH":
            current = [segment]
            messages.append(current)
            in_batch += 1
        elif segment_id in BATCH_SEGMENTS:
            current = None
            if segment_id == "BHS":
                in_batch = 0
            elif segment_id == "BTS":
                declared = segment[4:].split(segment[3], 1)[0] if len(segment) > 4 else ""
                if declared.strip() and declared.strip() != str(in_batch):
                    problems.append(
                        Hl7Problem(
                            "BTS", index, 1, None, ProblemCode.BATCH_STRUCTURE,
                            f"BTS-1 declares {quote(declared.strip())} messages but the batch "
                            f"holds {in_batch}",
                            "error",
                        )
                    )  # fmt: skip
        elif current is None:
            problems.append(
                Hl7Problem(
                    segment_id, index, None, None, ProblemCode.BATCH_STRUCTURE,
                    "segment outside any message (before an MSH or after a batch trailer)",
                    "error",
                )
            )  # fmt: skip
        else:
            current.append(segment)
    return Hl7Batch(
        messages=tuple("\r".join(message) + "\r" for message in messages),
        problems=tuple(problems),
    )


def split_batch(text: str) -> list[str]:
    """The messages of a batch or file, envelope segments dropped (see :func:`read_batch`)."""
    return list(read_batch(text).messages)
