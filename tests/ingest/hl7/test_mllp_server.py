"""The asyncio MLLP server over a real TCP socket on 127.0.0.1 (port 0)."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import pytest

from panels.intake.hl7.ack import ack_code_of, build_ack
from panels.intake.hl7.mllp import (
    MllpClient,
    MllpDecoder,
    MllpFrame,
    frame,
    send_messages,
    serve_mllp,
)
from panels.intake.hl7.parse import parse_oru
from tests.ingest.hl7.helpers import fixture, obx, oru

T = TypeVar("T")


async def _ack_handler(text: str) -> str:
    parsed = parse_oru(text)
    return build_ack(
        parsed, code=parsed.ack_code, problems=parsed.problems, now=datetime.now(UTC),
        control_id=f"ACK-{parsed.control_id}"[:20],
    )  # fmt: skip


async def _with_server(
    handler: Callable[[str], Awaitable[str]],
    client: Callable[[int], T],
    max_message_size: int = 10 * 1024 * 1024,
    idle_timeout: float | None = None,
) -> T:
    """Start serve_mllp on port 0, run the blocking ``client(port)`` in a thread, cancel."""
    ready = asyncio.Event()
    ports: list[int] = []
    task = asyncio.create_task(
        serve_mllp(
            handler, "127.0.0.1", 0, ready=ready,
            on_listening=lambda host, port: ports.append(port), max_message_size=max_message_size,
            idle_timeout=idle_timeout,
        )
    )  # fmt: skip
    await asyncio.wait_for(ready.wait(), 5)
    try:
        return await asyncio.wait_for(asyncio.to_thread(client, ports[0]), 30)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_messages_on_one_connection_are_acknowledged_in_order(
    caplog: pytest.LogCaptureFixture,
) -> None:
    messages = [oru(obx("NM", "1"), control_id=f"C{n}") for n in range(20)] + [
        fixture("adt_a01.hl7")
    ]

    with caplog.at_level(logging.INFO, logger="panels.intake.hl7.mllp"):
        acks = asyncio.run(
            _with_server(_ack_handler, lambda port: send_messages("127.0.0.1", port, messages))
        )

    assert [ack_code_of(ack) for ack in acks] == ["AA"] * 20 + ["AR"]
    assert [parse_oru_msa2(ack) for ack in acks] == [f"C{n}" for n in range(20)] + ["ADT00001"]
    assert "mllp-1" in caplog.text
    assert "Doe" not in caplog.text
    assert "MRN-77" not in caplog.text


def parse_oru_msa2(ack: str) -> str:
    return ack.split("\r")[1].split("|")[2]


def test_ack_is_written_only_after_the_handler_returns() -> None:
    events: list[str] = []

    async def slow_handler(text: str) -> str:
        events.append("handler started")
        await asyncio.sleep(0.2)
        events.append("committed")
        return await _ack_handler(text)

    def client(port: int) -> str:
        with MllpClient("127.0.0.1", port) as connection:
            ack = connection.send(oru(obx("NM", "1"), control_id="SLOW"))
        events.append("ack received")
        return ack

    ack = asyncio.run(_with_server(slow_handler, client))

    assert ack_code_of(ack) == "AA"
    assert events == ["handler started", "committed", "ack received"]


def test_many_connections_are_served_concurrently() -> None:
    active = 0
    most = 0

    async def handler(text: str) -> str:
        nonlocal active, most
        active += 1
        most = max(most, active)
        await asyncio.sleep(0.05)
        active -= 1
        return await _ack_handler(text)

    def clients(port: int) -> list[list[str]]:
        import concurrent.futures

        def one(n: int) -> list[str]:
            return send_messages(
                "127.0.0.1", port, [oru(obx("NM", "1"), control_id=f"K{n}-{i}") for i in range(3)]
            )

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            return list(pool.map(one, range(8)))

    results = asyncio.run(_with_server(handler, clients))

    assert [[ack_code_of(ack) for ack in acks] for acks in results] == [["AA"] * 3] * 8
    assert most > 1


def test_pipelined_frames_in_one_write_get_one_ack_each_in_order() -> None:
    def client(port: int) -> list[bytes]:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                b"junk" + b"".join(frame(oru(obx("NM", "1"), control_id=f"P{n}")) for n in range(5))
            )
            decoder, frames = MllpDecoder(), list[bytes]()
            while len(frames) < 5:
                data = sock.recv(65536)
                assert data
                frames += [e.payload for e in decoder.feed(data) if isinstance(e, MllpFrame)]
            return frames

    frames = asyncio.run(_with_server(_ack_handler, client))

    assert [parse_oru_msa2(f.decode()) for f in frames] == [f"P{n}" for n in range(5)]


def test_handler_failure_answers_ar_and_keeps_the_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def handler(text: str) -> str:
        if "BOOM" in text:
            raise RuntimeError("patient Doe could not be stored")
        return await _ack_handler(text)

    with caplog.at_level(logging.INFO, logger="panels.intake.hl7.mllp"):
        acks = asyncio.run(
            _with_server(
                handler,
                lambda port: send_messages(
                    "127.0.0.1",
                    port,
                    [oru(obx("NM", "1"), control_id="BOOM"), oru(obx("NM", "1"), control_id="OK")],
                ),
            )
        )

    assert [ack_code_of(ack) for ack in acks] == ["AR", "AA"]
    assert "207^Application internal error" in acks[0]
    assert "BOOM" in acks[0]  # MSA-2
    assert "RuntimeError" in caplog.text
    assert "Doe" not in caplog.text


def test_oversize_message_gets_an_ar_addressed_to_its_control_id() -> None:
    big = oru(obx("NM", "1"), control_id="HUGE") + "NTE|1||" + "x" * 5000 + "\r"

    acks = asyncio.run(
        _with_server(
            _ack_handler,
            lambda port: send_messages(
                "127.0.0.1", port, [big, oru(obx("NM", "1"), control_id="AFTER")]
            ),
            max_message_size=2000,
        )
    )

    assert [ack_code_of(ack) for ack in acks] == ["AR", "AA"]
    assert "|HUGE" in acks[0]
    assert "MESSAGE_TOO_LARGE" in acks[0]


def test_undecodable_bytes_get_an_ar_without_calling_the_handler() -> None:
    called: list[str] = []

    async def handler(text: str) -> str:
        called.append(text)
        return await _ack_handler(text)

    def client(port: int) -> bytes:
        payload = (
            oru(obx("NM", "1"), control_id="LAT")
            .replace("Doe", "D\udcfce")
            .encode("utf-8", "surrogateescape")
        )
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"\x0b" + payload + b"\x1c\x0d")
            decoder = MllpDecoder()
            while True:
                frames = [e for e in decoder.feed(sock.recv(65536)) if isinstance(e, MllpFrame)]
                if frames:
                    return frames[0].payload

    ack = asyncio.run(_with_server(handler, client)).decode("ascii")

    assert ack_code_of(ack) == "AR"
    assert "UNDECODABLE_CHARSET" in ack
    assert "|LAT" in ack
    assert called == []


def test_cancel_closes_open_connections() -> None:
    async def scenario() -> bytes:
        ready = asyncio.Event()
        ports: list[int] = []
        task = asyncio.create_task(
            serve_mllp(_ack_handler, "127.0.0.1", 0, ready=ready,
                       on_listening=lambda host, port: ports.append(port))
        )  # fmt: skip
        await ready.wait()
        reader, writer = await asyncio.open_connection("127.0.0.1", ports[0])
        writer.write(b"\x0bMSH|partial")
        await writer.drain()
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        rest = await asyncio.wait_for(reader.read(), 5)  # EOF: the server closed it
        writer.close()
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", ports[0])
        return rest

    assert asyncio.run(scenario()) == b""


def test_a_silent_connection_is_closed_and_a_half_sent_message_is_not_acknowledged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def client(port: int) -> tuple[str, bytes]:
        with MllpClient("127.0.0.1", port) as first:
            ack = first.send(oru(obx("NM", "1"), control_id="BEFORE-IDLE"))
        with socket.create_connection(("127.0.0.1", port), timeout=10) as half:
            half.sendall(frame(oru(obx("NM", "1"), control_id="CUT"))[:40])  # no end block
            return ack, half.recv(1024)  # b"": the server closed, nothing acknowledged

    with caplog.at_level(logging.INFO, logger="panels.intake.hl7.mllp"):
        ack, after_idle = asyncio.run(_with_server(_ack_handler, client, idle_timeout=0.3))

    assert ack_code_of(ack) == "AA"
    assert after_idle == b""
    assert "idle for 0.3 s with 39 bytes of an unfinished frame; closing" in caplog.text


def _stoppable_server(
    handler: Callable[[str], Awaitable[str]],
    ready: asyncio.Event,
    stop: asyncio.Event,
    ports: list[int],
) -> asyncio.Task[None]:
    """serve_mllp on port 0 (appended to ``ports`` once listening) until ``stop`` is set."""
    return asyncio.create_task(
        serve_mllp(
            handler, "127.0.0.1", 0, ready=ready, stop=stop,
            on_listening=lambda host, port: ports.append(port),
        )
    )  # fmt: skip


def test_on_stop_the_message_being_processed_is_answered_and_the_rest_are_not() -> None:
    async def scenario() -> tuple[list[str], bytes]:
        ready, stop = asyncio.Event(), asyncio.Event()
        started, release = asyncio.Event(), asyncio.Event()
        ports: list[int] = []

        async def handler(text: str) -> str:
            started.set()
            await release.wait()  # the message is being committed when the stop comes
            return await _ack_handler(text)

        server = _stoppable_server(handler, ready, stop, ports)
        await ready.wait()
        busy_reader, busy = await asyncio.open_connection("127.0.0.1", ports[0])
        idle_reader, idle = await asyncio.open_connection("127.0.0.1", ports[0])
        busy.write(frame(oru(obx("NM", "1"), control_id="FIRST")))
        busy.write(frame(oru(obx("NM", "2"), control_id="SECOND")))
        await started.wait()

        stop.set()
        await asyncio.sleep(0.1)
        assert not server.done()  # still answering FIRST
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", ports[0])  # no longer listening
        release.set()
        await asyncio.wait_for(server, 5)

        answered = await asyncio.wait_for(busy_reader.read(), 5)
        idle_end = await asyncio.wait_for(idle_reader.read(), 5)
        busy.close()
        idle.close()
        events = MllpDecoder().feed(answered)
        acks = [e.payload.decode() for e in events if isinstance(e, MllpFrame)]
        return acks, idle_end

    acks, idle_end = asyncio.run(scenario())

    assert [parse_oru_msa2(ack) for ack in acks] == ["FIRST"]  # SECOND is resent by its sender
    assert idle_end == b""  # the idle connection was closed


def test_stopping_with_connections_open_logs_no_error(caplog: pytest.LogCaptureFixture) -> None:
    """An interface engine keeps its connection open between messages: every stop of the
    listener (a deploy, a restart) ends such connections, which is routine, not an error.
    (asyncio's streams on Python 3.11 log a cancelled connection task as "Exception in
    callback"; the listener ends its connections without leaving them cancelled.)"""

    async def scenario() -> bytes:
        ready, stop = asyncio.Event(), asyncio.Event()
        ports: list[int] = []
        server = _stoppable_server(_ack_handler, ready, stop, ports)
        await ready.wait()
        reader, writer = await asyncio.open_connection("127.0.0.1", ports[0])
        writer.write(frame(oru(obx("NM", "1"), control_id="BEFORE-STOP")))
        await writer.drain()
        answered = await asyncio.wait_for(reader.readuntil(b"\x1c\x0d"), 5)
        stop.set()
        await asyncio.wait_for(server, 5)
        rest = await asyncio.wait_for(reader.read(), 5)  # EOF: the server closed it
        writer.close()
        await asyncio.sleep(0.05)  # the loop runs the connection task's done callbacks
        return answered + rest

    with caplog.at_level(logging.INFO):
        received = asyncio.run(scenario())

    assert b"BEFORE-STOP" in received
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert "mllp-1: closed after 1 messages" in caplog.text
