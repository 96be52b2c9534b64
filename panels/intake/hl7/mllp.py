"""MLLP (Minimal Lower Layer Protocol, HL7 v2 over TCP): framing, an incremental decoder, an
asyncio server and a small blocking client.

A frame is ``0x0B`` (start block), the message bytes, ``0x1C 0x0D`` (end block). The server
answers every frame with exactly one framed ACK, in order, and writes it only once the handler
has returned: the handler commits before it returns, so an AA never precedes the commit. Logs
carry connection ids, sizes, ACK codes and timings, never message content.

Character set: MSH-18 (first repetition) chooses the decoding; when absent the message is read
as UTF-8. A declared set this module does not know, or bytes that do not decode in the chosen
one, are refused with an AR (the MSH is then read as ISO 8859-1 just to address the ACK); the
handler is not called with text that might be wrong.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Literal

import hl7

from panels.intake.hl7.ack import ack_code_of, build_ack
from panels.intake.hl7.types import Hl7Problem, ProblemCode

__all__ = [
    "DEFAULT_DRAIN_TIMEOUT",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "END_BLOCK",
    "START_BLOCK",
    "DecodedPayload",
    "MllpClient",
    "MllpDecoder",
    "MllpDiscard",
    "MllpEvent",
    "MllpFrame",
    "MllpServer",
    "decode_payload",
    "frame",
    "send_messages",
    "serve_mllp",
]

logger = logging.getLogger(__name__)

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c\x0d"
DEFAULT_MAX_MESSAGE_SIZE = 10 * 1024 * 1024
#: How much of a refused (oversize) frame is kept: enough to read its MSH and address an AR.
HEAD_SIZE = 4096
_READ_SIZE = 64 * 1024

#: MSH-18 values (HL7 table 0211) this module decodes, and the Python codec for each.
CHARSETS: dict[str, str] = {
    "": "utf-8",
    "ASCII": "ascii",
    "UNICODE UTF-8": "utf-8",
    "8859/1": "latin-1",
    "8859/2": "iso8859-2",
    "8859/3": "iso8859-3",
    "8859/4": "iso8859-4",
    "8859/5": "iso8859-5",
    "8859/6": "iso8859-6",
    "8859/7": "iso8859-7",
    "8859/8": "iso8859-8",
    "8859/9": "iso8859-9",
    "8859/15": "iso8859-15",
}

Handler = Callable[[str], Awaitable[str]]


# --------------------------------------------------------------------------------------------
# Framing


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


# --------------------------------------------------------------------------------------------
# Character sets


@dataclass(frozen=True, slots=True)
class DecodedPayload:
    text: str
    encoding: str  # the Python codec used
    problem: Hl7Problem | None  # a reject problem: the text is only good for addressing an AR


def _declared_charset(payload: bytes) -> str:
    first = payload.replace(b"\n", b"\r").split(b"\r", 1)[0]
    if not first.startswith(b"MSH") or len(first) < 5:
        return ""
    fields = first.split(first[3:4])
    if len(fields) < 18:
        return ""
    repetition = fields[1][1:2] or b"~"
    return fields[17].split(repetition)[0].decode("latin-1").strip()


def decode_payload(payload: bytes) -> DecodedPayload:
    """Decode a frame's bytes in the character set MSH-18 names (UTF-8 when it names none)."""
    declared = _declared_charset(payload)
    codec = CHARSETS.get(declared.upper())
    if codec is None:
        return DecodedPayload(
            payload.decode("latin-1"),
            "latin-1",
            Hl7Problem(
                "MSH", 1, 18, None, ProblemCode.UNSUPPORTED_CHARSET,
                f"MSH-18 character set {declared[:40]!r} is not supported "
                f"(accepted: {', '.join(name or '(none: UTF-8)' for name in CHARSETS)})",
                "reject", repetition=1, segment_occurrence=1,
            ),
        )  # fmt: skip
    try:
        return DecodedPayload(payload.decode(codec), codec, None)
    except UnicodeDecodeError as error:
        return DecodedPayload(
            payload.decode("latin-1"),
            "latin-1",
            Hl7Problem(
                "MSH", 1, 18, None, ProblemCode.UNDECODABLE_CHARSET,
                f"byte {error.start} is not {codec} (MSH-18 is {declared or 'empty: UTF-8'}); "
                "declare the character set the message is written in",
                "reject", repetition=1, segment_occurrence=1,
            ),
        )  # fmt: skip


# --------------------------------------------------------------------------------------------
# Server


# Interface engines keep MLLP connections open between messages, often for hours; one silent
# this long is closed (the engine reconnects), so half-open connections do not pile up.
DEFAULT_IDLE_TIMEOUT = 15 * 60.0
# On shutdown, how long a message being processed may take to be committed and answered: under
# the 10 s a container is given between SIGTERM and SIGKILL.
DEFAULT_DRAIN_TIMEOUT = 8.0


def _now() -> datetime:
    return datetime.now(UTC)


class MllpServer:
    """An asyncio MLLP listener: ``await start()``, then ``await serve_forever()``; ``close()``.

    Each connection is served by its own task: frames are answered one at a time, in order;
    connections run concurrently. ``handler(text) -> ack_text`` is awaited for every decoded
    message; if it raises, the sender gets an AR (207) and the connection stays open.
    """

    def __init__(
        self,
        handler: Handler,
        host: str = "127.0.0.1",
        port: int = 2575,
        *,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        application: str = "LABPANEL",
        facility: str | None = None,
        idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT,
    ) -> None:
        self.handler = handler
        self.host, self.port = host, port
        self.idle_timeout = idle_timeout
        self.max_message_size = max_message_size
        self.application, self.facility = application, facility
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._answering: set[asyncio.Task[None]] = set()
        self._draining = False
        self._ids = itertools.count(1)

    @property
    def address(self) -> tuple[str, int]:
        """The bound address (the real port when 0 was asked for)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the server is not listening")
        name = self._server.sockets[0].getsockname()
        return str(name[0]), int(name[1])

    async def start(self) -> tuple[str, int]:
        self._server = await asyncio.start_server(
            self._serve_connection, self.host, self.port, limit=_READ_SIZE
        )
        logger.info("MLLP listening on %s:%d", *self.address)
        return self.address

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        server = self._server
        if server is None:  # pragma: no cover - start() sets it
            raise RuntimeError("the server did not start")
        try:
            await server.serve_forever()
        finally:
            await self.close()

    async def close(self) -> None:
        """Stop listening, end every connection (an unanswered message will be resent)."""
        if self._server is not None:
            self._server.close()
        tasks = list(self._connections)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            with suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def drain(self, timeout: float) -> None:
        """Stop listening and end every connection, letting each one answer the message it is
        processing first (at most ``timeout`` seconds). Messages not yet started get no ACK:
        their senders resend them after reconnecting."""
        self._draining = True
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            if task not in self._answering:
                task.cancel()
        pending = list(self._connections)
        if not pending:
            return
        _, late = await asyncio.wait(pending, timeout=timeout)
        for task in late:
            logger.warning("a message was still being processed after %s s; cut off", timeout)
            task.cancel()
        if late:
            await asyncio.gather(*late, return_exceptions=True)

    def _ack(self, text: str, problem: Hl7Problem) -> str:
        return build_ack(
            text,
            code="AR",
            problems=[problem],
            now=_now(),
            control_id=hl7.generate_message_control_id(),
            receiving_application=self.application,
            receiving_facility=self.facility,
        )

    async def _answer(self, connection: str, number: int, payload: bytes) -> tuple[str, str]:
        """(ACK text, codec to encode it in) for one frame."""
        started = time.perf_counter()
        decoded = decode_payload(payload)
        if decoded.problem is not None:
            logger.warning(
                "%s #%d: %d bytes refused: %s", connection, number, len(payload),
                decoded.problem.code,
            )  # fmt: skip
            return self._ack(decoded.text, decoded.problem), "ascii"
        try:
            ack = await self.handler(decoded.text)
        except Exception as error:
            # the type only: an exception's text may quote the message (a patient's name)
            logger.error(
                "%s #%d: handler failed (%s); answering AR", connection, number,
                type(error).__name__,
            )  # fmt: skip
            problem = Hl7Problem(
                "", 0, None, None, ProblemCode.INTERNAL_ERROR,
                "the message could not be processed; it was not stored", "reject",
            )  # fmt: skip
            return self._ack(decoded.text, problem), "ascii"
        logger.info(
            "%s #%d: %d bytes, %s in %.1f ms", connection, number, len(payload),
            ack_code_of(ack) or "?", (time.perf_counter() - started) * 1000,
        )  # fmt: skip
        return ack, decoded.encoding

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        connection = f"mllp-{next(self._ids)}"
        peer = writer.get_extra_info("peername")
        logger.info("%s: connected from %s", connection, peer)
        decoder = MllpDecoder(self.max_message_size)
        number = garbage = 0
        try:
            while True:
                try:
                    data = await asyncio.wait_for(reader.read(_READ_SIZE), self.idle_timeout)
                except TimeoutError:
                    # a half-open or forgotten connection; a message cut off here was not
                    # acknowledged, so its sender resends it after reconnecting
                    logger.info(
                        "%s: idle for %s s%s; closing", connection, self.idle_timeout,
                        f" with {decoder.buffered} bytes of an unfinished frame"
                        if decoder.buffered else "",
                    )  # fmt: skip
                    break
                events = decoder.feed(data) if data else decoder.finish()
                for event in events:
                    if isinstance(event, MllpDiscard):
                        logger.warning(
                            "%s: %d bytes discarded (%s)", connection, event.byte_count,
                            event.reason,
                        )  # fmt: skip
                        if event.reason == "garbage":
                            garbage += event.byte_count
                        if event.reason != "oversize":
                            continue
                    number += 1
                    if isinstance(event, MllpFrame):
                        if task is not None:
                            self._answering.add(task)
                        ack, codec = await self._answer(connection, number, event.payload)
                    else:
                        problem = Hl7Problem(
                            "", 0, None, None, ProblemCode.MESSAGE_TOO_LARGE,
                            f"the message is {event.byte_count} bytes or more; at most "
                            f"{self.max_message_size} are accepted",
                            "reject",
                        )  # fmt: skip
                        ack = self._ack(event.head.decode("latin-1"), problem)
                        codec = "ascii"
                    writer.write(frame(ack, codec))
                    # a peer that stops reading is dropped like an idle one
                    await asyncio.wait_for(writer.drain(), self.idle_timeout)
                    if task is not None:
                        self._answering.discard(task)
                    if self._draining:
                        break  # shutting down: the rest of the frames get no ACK
                if not data or self._draining:
                    break
                if garbage > self.max_message_size:
                    logger.warning("%s: too many bytes outside frames; closing", connection)
                    break
        except (ConnectionError, TimeoutError) as error:
            logger.info("%s: connection lost (%s)", connection, type(error).__name__)
        finally:
            writer.close()
            with suppress(Exception):
                await writer.wait_closed()
            logger.info("%s: closed after %d messages", connection, number)
            if task is not None:
                self._connections.discard(task)
                self._answering.discard(task)


async def serve_mllp(
    handler: Handler,
    host: str = "127.0.0.1",
    port: int = 2575,
    *,
    ready: asyncio.Event | None = None,
    on_listening: Callable[[str, int], None] | None = None,
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    application: str = "LABPANEL",
    facility: str | None = None,
    idle_timeout: float | None = None,
    stop: asyncio.Event | None = None,
    drain_timeout: float = DEFAULT_DRAIN_TIMEOUT,
) -> None:
    """Serve MLLP until cancelled, or until ``stop`` is set: then stop listening, answer the
    messages being processed (``MllpServer.drain``) and return. ``on_listening(host, port)``
    then ``ready`` are signalled once the socket listens (pass port 0 and read the port from
    ``on_listening``). A connection silent for ``idle_timeout`` seconds is closed (default
    ``DEFAULT_IDLE_TIMEOUT``; 0: never)."""
    server = MllpServer(
        handler,
        host,
        port,
        max_message_size=max_message_size,
        application=application,
        facility=facility,
        idle_timeout=DEFAULT_IDLE_TIMEOUT if idle_timeout is None else idle_timeout or None,
    )
    await server.start()
    if on_listening is not None:
        on_listening(*server.address)
    if ready is not None:
        ready.set()
    if stop is None:
        await server.serve_forever()
        return
    try:
        await stop.wait()  # asyncio's server accepts connections meanwhile
        await server.drain(drain_timeout)
    finally:
        await server.close()


# --------------------------------------------------------------------------------------------
# Blocking client


class MllpClient:
    """One TCP connection; ``send(message)`` writes a frame and waits for the answer's frame."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 2575,
        *,
        timeout: float = 30.0,
        encoding: str = "utf-8",
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    ) -> None:
        self.encoding = encoding
        self._socket = socket.create_connection((host, port), timeout=timeout)
        self._decoder = MllpDecoder(max_message_size)
        self._frames: list[bytes] = []

    def send(self, message: str) -> str:
        self._socket.sendall(frame(message, self.encoding))
        while not self._frames:
            data = self._socket.recv(_READ_SIZE)
            if not data:
                raise ConnectionError("the server closed the connection before answering")
            self._frames += [
                event.payload for event in self._decoder.feed(data) if isinstance(event, MllpFrame)
            ]
        return decode_payload(self._frames.pop(0)).text

    def close(self) -> None:
        self._socket.close()

    def __enter__(self) -> MllpClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def send_messages(
    host: str, port: int, messages: Iterable[str], *, timeout: float = 30.0
) -> list[str]:
    """Send ``messages`` over one connection, each after the previous one's ACK; the ACKs."""
    with MllpClient(host, port, timeout=timeout) as client:
        return [client.send(message) for message in messages]
