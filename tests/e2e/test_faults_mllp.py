"""The MLLP listener killed in the middle of a stream and started again: the sender reconnects
and resends every message it holds no ACK for; the MSH-10 replay protection answers those
already stored with their stored ACK. None is lost, none is stored twice.

The listener is ``manage.py mllp_listener`` as deployed (its own process, this test's database).
It is stopped twice while a message is inside its transaction (held there by a lock on the
results table): with SIGKILL (the transaction is rolled back, the message is resent) and with
SIGTERM (the listener finishes that message, answers it, and exits 0).
"""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from labpanel.accounts.models import Role
from labpanel.celery import app as celery_app
from panels.intake.hl7.ack import ack_code_of
from panels.intake.hl7.mllp import MllpDecoder, MllpFrame, decode_payload, frame
from panels.models import InboundMessage, Panel, Result
from tests.e2e.faults import (
    admin_connect,
    backend_waiting_on_lock,
    process_env,
    python_process,
    table_locked,
    until,
)
from tests.e2e.launcher import free_port, port_wait, process_stop
from tests.factories import make_lab, make_staff

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LISTENER = "labpanel-faults-mllp"
MESSAGES = 36
WINDOW = 4  # frames sent ahead of their ACKs, as interface engines pipeline


def _oru(number: int) -> str:
    return (
        "MSH|^~\\&|HIS|GENERAL HOSPITAL|LABPANEL|LAB|20261120103000||ORU^R01^ORU_R01|"
        f"FLT-MLLP-{number:03d}|P|2.5.1\r"
        f"PID|1||MRN-MLLP-{number:03d}^^^HOSP^MR||Doe^Jane||19800402|F\r"
        f"OBR|1|PL-{number}|M-FLT-{number:03d}|CYTO^Cytokine panel^L|||202611200830+0000"
        "||||||||PLAS|dr.house\r"
        f"OBX|1|NM|26881-3^IL-6^LN||{number}.2|pg/mL|||||F\r"
        "OBX|2|SN|3074-2^TNF-alpha^LN||<^2.0|pg/mL|||||F\r"
    )


class Sender:
    """Sends ``messages`` in order over MLLP, ``WINDOW`` ahead of the ACKs; when the connection
    breaks it reconnects (until the listener answers again) and resends, in order, every
    message it has no ACK for."""

    def __init__(self, port: int, messages: list[str]) -> None:
        self.port, self.messages = port, messages
        self.acks: dict[int, str] = {}
        self.connections = 0
        self.resent = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._run()
        except BaseException as error:
            self.error = error

    def _run(self) -> None:
        sent: set[int] = set()
        deadline = time.monotonic() + 50
        while len(self.acks) < len(self.messages):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.acks)} ACKs of {len(self.messages)}")
            try:
                connection = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            except OSError:
                time.sleep(0.05)  # the listener is down: try again
                continue
            self.connections += 1
            unacknowledged = [i for i in range(len(self.messages)) if i not in self.acks]
            in_flight: deque[int] = deque()
            decoder = MllpDecoder()
            try:
                with connection:
                    for number in unacknowledged:
                        while len(in_flight) >= WINDOW:
                            self._receive(connection, decoder, in_flight)
                        connection.sendall(frame(self.messages[number]))
                        self.resent += number in sent
                        sent.add(number)
                        in_flight.append(number)
                    while in_flight:
                        self._receive(connection, decoder, in_flight)
            except OSError:
                continue  # reset, refused, closed or silent: reconnect and resend

    def _receive(
        self, connection: socket.socket, decoder: MllpDecoder, in_flight: deque[int]
    ) -> None:
        data = connection.recv(65536)
        if not data:
            raise ConnectionResetError("the listener closed the connection")
        for event in decoder.feed(data):
            if isinstance(event, MllpFrame):
                self.acks[in_flight.popleft()] = decode_payload(event.payload).text


def test_a_listener_killed_and_restarted_mid_stream_loses_and_duplicates_nothing(
    reference_data: None, tmp_path: Path
) -> None:
    lab = make_lab(name="Springfield Cytokine Laboratory")
    make_staff(username="interface.engine", lab=lab, role=Role.INTEGRATOR)
    make_staff(username="dr.house", lab=lab, role=Role.CLINICIAN)
    port = free_port()
    env = process_env(LISTENER, DJANGO_SETTINGS_MODULE="tests.settings")
    log = tmp_path / "mllp.log"
    command = ["manage.py", "mllp_listener", "--port", str(port), "--user", "interface.engine"]

    def start() -> subprocess.Popen[bytes]:
        listener = python_process(command, env, log)
        port_wait(port, listener, log)
        return listener

    messages = [_oru(number) for number in range(1, MESSAGES + 1)]
    sender = Sender(port, messages)
    thread = threading.Thread(target=sender.run)
    acked: Callable[[int], Callable[[], bool]] = lambda count: lambda: len(sender.acks) >= count  # noqa: E731
    listener = start()
    try:
        thread.start()
        # SIGKILL while a message is inside its transaction (its results wait for a lock)
        until(acked(MESSAGES // 3), "a third of the ACKs")
        with admin_connect() as admin, table_locked(Result._meta.db_table):
            until(lambda: backend_waiting_on_lock(admin, LISTENER, "INSERT"), "a blocked insert")
            listener.send_signal(signal.SIGKILL)
            listener.wait(timeout=20)
        listener = start()
        # SIGTERM while a message is inside its transaction: the listener stops listening,
        # waits for that message to be committed, answers it and exits 0
        until(acked(2 * MESSAGES // 3), "two thirds of the ACKs")
        with admin_connect() as admin, table_locked(Result._meta.db_table):
            until(lambda: backend_waiting_on_lock(admin, LISTENER, "INSERT"), "a blocked insert")
            listener.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            assert listener.poll() is None  # still answering the message in progress
        assert listener.wait(timeout=20) == 0
        answered = InboundMessage.objects.filter(control_id__startswith="FLT-MLLP-").count()
        until(lambda: len(sender.acks) >= answered, "the ACK of every stored message")
        listener = start()
        thread.join(timeout=55)
    finally:
        process_stop(listener)
        # no worker here: the report renderings the panels asked for are dropped
        with celery_app.connection_for_write() as broker:
            channel: Any = broker.default_channel
            channel.queue_purge(celery_app.conf.task_default_queue)
    assert sender.error is None, sender.error

    # then: every message acknowledged AA for its own control ID, once each
    assert sorted(sender.acks) == list(range(MESSAGES))
    for number, ack in sender.acks.items():
        assert ack_code_of(ack) == "AA", ack
        assert f"|FLT-MLLP-{number + 1:03d}" in ack.split("MSA|", 1)[1].split("\r", 1)[0]
    assert sender.connections >= 3
    assert sender.resent >= 1
    # and: every message stored exactly once, with its panel and both results
    stored = InboundMessage.objects.filter(control_id__startswith="FLT-MLLP-")
    assert sorted(stored.values_list("control_id", flat=True)) == [
        f"FLT-MLLP-{number:03d}" for number in range(1, MESSAGES + 1)
    ]
    assert set(stored.values_list("ack_code", flat=True)) == {"AA"}
    panels = Panel.objects.filter(accession__startswith="M-FLT-")
    assert sorted(panels.values_list("accession", flat=True)) == [
        f"M-FLT-{number:03d}" for number in range(1, MESSAGES + 1)
    ]
    assert Result.objects.filter(panel__in=panels).count() == 2 * MESSAGES
