"""The asyncio MLLP server (HL7 v2 over TCP): connections accepted, each frame decoded and
handed to the handler, each answered with exactly one framed ACK, in order; idle connections
closed, a graceful drain on shutdown.

The server writes an ACK only once the handler has returned: the handler commits before it
returns, so an AA never precedes the commit. Logs carry connection ids, sizes, ACK codes and
timings, never message content. Framing is in ``framing``, the character sets in ``charsets``,
the blocking client in ``client`` (their public names are importable from here too).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import UTC, datetime

import hl7

from panels.intake.hl7.ack import ack_code_of, build_ack
from panels.intake.hl7.charsets import decode_payload
from panels.intake.hl7.client import MllpClient, send_messages
from panels.intake.hl7.framing import (
    DEFAULT_MAX_MESSAGE_SIZE,
    END_BLOCK,
    READ_SIZE,
    START_BLOCK,
    MllpDecoder,
    MllpDiscard,
    MllpEvent,
    MllpFrame,
    frame,
)
from panels.intake.hl7.types import Hl7Problem, ProblemCode

# The framing, charset and client names are read from here by the listener, tests and benches.
__all__ = [
    "DEFAULT_DRAIN_TIMEOUT",
    "DEFAULT_IDLE_TIMEOUT",
    "END_BLOCK",
    "START_BLOCK",
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

Handler = Callable[[str], Awaitable[str]]


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
            self._serve_connection, self.host, self.port, limit=READ_SIZE
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
        """One connection's task (asyncio's ``client_connected_cb``). ``close`` and ``drain``
        end it by cancelling it; it absorbs that cancellation and ends normally: a connection
        left open by its interface engine ends at every stop of the listener, which is routine
        (Python 3.11's streams log a cancelled connection task as "Exception in callback")."""
        with suppress(asyncio.CancelledError):
            await self._converse(reader, writer)

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
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
                    data = await asyncio.wait_for(reader.read(READ_SIZE), self.idle_timeout)
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
