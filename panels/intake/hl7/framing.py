"""MLLP framing (Minimal Lower Layer Protocol, HL7 v2 over TCP): ``frame()`` wraps a message,
:class:`MllpDecoder` splits a byte stream back into frames and says what it threw away.

A frame is ``0x0B`` (start block), the message bytes, ``0x1C 0x0D`` (end block).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "END_BLOCK",
    "HEAD_SIZE",
    "READ_SIZE",
    "START_BLOCK",
    "MllpDecoder",
    "MllpDiscard",
    "MllpEvent",
    "MllpFrame",
    "frame",
]

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c\x0d"
DEFAULT_MAX_MESSAGE_SIZE = 10 * 1024 * 1024
#: How much of a refused (oversize) frame is kept: enough to read its MSH and address an AR.
HEAD_SIZE = 4096
#: How many bytes one read of a connection asks for.
READ_SIZE = 64 * 1024


def frame(message: str, encoding: str = "utf-8") -> bytes:
    """``message`` encoded and wrapped in MLLP start and end blocks."""
    if "\x0b" in message or "\x1c" in message:
        raise ValueError("the message contains an MLLP block character (0x0B or 0x1C)")
    return START_BLOCK + message.encode(encoding) + END_BLOCK


@dataclass(frozen=True, slots=True)
class MllpFrame:
    """A complete message: the bytes between a start block and an end block."""

    payload: bytes


@dataclass(frozen=True, slots=True)
class MllpDiscard:
    """Bytes thrown away: outside any frame ("garbage"), a frame cut short by a new start
    block ("interrupted") or by the end of the stream ("truncated"), or a frame larger than the
    maximum ("oversize": ``head`` keeps its first bytes so that an AR can be addressed)."""

    reason: Literal["garbage", "interrupted", "truncated", "oversize"]
    byte_count: int
    head: bytes = b""


MllpEvent = MllpFrame | MllpDiscard


class MllpDecoder:
    """Feed it bytes as they arrive; it returns the complete frames and what it discarded.

    Frames may be split across reads, several may arrive in one read. A frame longer than
    ``max_message_size`` is refused as soon as it exceeds it: the decoder keeps nothing of it
    but its head, and skips to its end block (or to the next start block). Never raises.
    """

    def __init__(self, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> None:
        if max_message_size < 1:
            raise ValueError("max_message_size must be positive")
        self.max_message_size = max_message_size
        self._state: Literal["outside", "frame", "skip"] = "outside"
        self._buffer = bytearray()
        self._skipped = 0

    @property
    def buffered(self) -> int:
        """Bytes held for the frame in progress."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[MllpEvent]:
        events: list[MllpEvent] = []
        position, size = 0, len(data)
        while position < size:
            if self._state == "outside":
                start = data.find(START_BLOCK, position)
                if start == -1:
                    events.append(MllpDiscard("garbage", size - position))
                    break
                if start > position:
                    events.append(MllpDiscard("garbage", start - position))
                self._state, position = "frame", start + 1
                self._buffer.clear()
            elif self._state == "frame":
                position = self._in_frame(data, position, events)
            else:
                position = self._skipping(data, position)
        return events

    def finish(self) -> list[MllpEvent]:
        """The stream ended: report a frame left incomplete, and reset."""
        events: list[MllpEvent] = []
        if self._state == "frame":
            events.append(MllpDiscard("truncated", len(self._buffer)))
        self._state = "outside"
        self._buffer.clear()
        return events

    def _in_frame(self, data: bytes, position: int, events: list[MllpEvent]) -> int:
        buffer = self._buffer
        if buffer and buffer[-1] == 0x1C and data[position] == 0x0D:  # end block split in two
            del buffer[-1]
            self._complete(bytes(buffer), events)
            return position + 1
        end = data.find(END_BLOCK, position)
        restart = data.find(START_BLOCK, position, len(data) if end == -1 else end)
        if restart != -1:
            events.append(MllpDiscard("interrupted", len(buffer) + restart - position))
            buffer.clear()
            return restart + 1
        if end != -1:
            length = len(buffer) + end - position
            if length > self.max_message_size:
                events.append(self._oversize(data, position, length))
            else:
                self._complete(bytes(buffer) + data[position:end], events)
            return end + 2
        length = len(buffer) + len(data) - position
        if length > self.max_message_size:
            events.append(self._oversize(data, position, length))
            self._state, self._skipped = "skip", 0
            if data.endswith(b"\x1c"):
                self._buffer.append(0x1C)
            return len(data)
        buffer += data[position:]
        return len(data)

    def _skipping(self, data: bytes, position: int) -> int:
        if self._buffer and data[position] == 0x0D:  # end block split in two
            self._buffer.clear()
            self._state = "outside"
            return position + 1
        self._buffer.clear()
        end = data.find(END_BLOCK, position)
        restart = data.find(START_BLOCK, position, len(data) if end == -1 else end)
        if restart != -1:
            self._state = "frame"
            return restart + 1
        if end != -1:
            self._state = "outside"
            return end + 2
        if data.endswith(b"\x1c"):
            self._buffer.append(0x1C)
        return len(data)

    def _complete(self, payload: bytes, events: list[MllpEvent]) -> None:
        self._buffer.clear()
        self._state = "outside"
        events.append(MllpFrame(payload))

    def _oversize(self, data: bytes, position: int, length: int) -> MllpDiscard:
        head = (bytes(self._buffer[:HEAD_SIZE]) + data[position : position + HEAD_SIZE])[:HEAD_SIZE]
        self._buffer.clear()
        self._state = "outside"
        return MllpDiscard("oversize", length, head)
