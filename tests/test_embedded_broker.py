"""The embedded broker (``labpanel.broker_files``): a message is never visible before it is
written whole, so a reader polling the folder while a publisher writes takes every message,
each one whole, and the consumer never meets a half-written file."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from queue import Empty
from typing import Any

import pytest
from kombu import Connection

TRANSPORT = "labpanel.broker_files:Transport"


def _connection(folder: Path) -> Connection:
    return Connection(
        "filesystem://",
        transport=TRANSPORT,
        transport_options={
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
            "polling_interval": 0.01,
        },
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name in ("queue", "processed", "control"):
        (tmp_path / name).mkdir()
    return tmp_path


def test_a_message_is_invisible_to_readers_until_it_is_written_whole(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen_before_rename: list[Any] = []
    rename = os.replace

    def rename_after_looking(source: str, target: str) -> None:
        # the moment before the message gets its name: its bytes are all on disk
        assert Path(source).read_bytes().endswith(b"}")
        with _connection(folder) as reader:
            channel: Any = reader.default_channel
            seen_before_rename.append(channel._size("renders"))
            try:
                seen_before_rename.append(channel._get("renders"))
            except Empty:
                seen_before_rename.append("empty")
        rename(source, target)

    monkeypatch.setattr(
        os, "replace", rename_after_looking
    )  # what labpanel.broker_files renames with
    with _connection(folder) as writer:
        channel: Any = writer.default_channel
        channel._put("renders", {"body": "report 7", "properties": {}})

    assert seen_before_rename == [0, "empty"]  # no reader saw it, nor counted it
    with _connection(folder) as reader:
        channel = reader.default_channel
        assert channel._get("renders") == {"body": "report 7", "properties": {}}
    assert os.listdir(folder / "queue") == []  # nothing partial left behind


# A publisher in a process of its own, as the web and the worker's task processes publish
# beside the worker's consumer: each message as kombu publishes it (``Channel._put``), 100 kB.
PUBLISHER = """
import sys
from kombu import Connection
folder, count, transport = sys.argv[1], int(sys.argv[2]), sys.argv[3]
options = {"data_folder_in": folder, "data_folder_out": folder, "store_processed": False}
with Connection("filesystem://", transport=transport, transport_options=options) as connection:
    channel = connection.default_channel
    for number in range(count):
        channel._put("renders", {"report_id": number, "padding": "x" * 100_000})
"""


def test_every_message_published_while_a_consumer_polls_arrives_whole(folder: Path) -> None:
    """A consumer reading the queue as fast as it can while another process publishes (what
    stopped the embedded worker in CI at stop 33: its own task published report messages while
    its consumer polled). With kombu's own transport, in this loop, 296-300 of 300 messages
    were read half-written (each lost, the first one fatal to a worker); here none."""
    count = 150
    queue_folder = str(folder / "queue")
    publisher = subprocess.Popen(
        [sys.executable, "-c", PUBLISHER, queue_folder, str(count), TRANSPORT]
    )
    received: list[int] = []
    unreadable = 0
    with _connection(folder) as connection:
        channel: Any = connection.default_channel
        deadline = time.monotonic() + 120
        while len(received) + unreadable < count and time.monotonic() < deadline:
            try:
                received.append(channel._get("renders")["report_id"])
            except Empty:
                continue
            except ValueError:  # a message read before it was whole
                unreadable += 1
    assert publisher.wait(timeout=60) == 0
    assert unreadable == 0
    # each once, none lost (in publication order to the millisecond: kombu's file names)
    assert sorted(received) == list(range(count))
    assert os.listdir(queue_folder) == []  # nothing partial left behind


# A process that binds its own queue to one exchange at a given instant (the worker, beat and
# the web's processes each bind the queues they use, the first time at about the same moment).
BINDER = """
import sys, time
from kombu import Connection
folder, queue, start, transport = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
options = {"control_folder": folder, "data_folder_in": folder, "data_folder_out": folder}
with Connection("filesystem://", transport=transport, transport_options=options) as connection:
    channel = connection.default_channel
    while time.time() < start:
        pass
    channel._queue_bind("renders", "", "", queue)
"""


def test_bindings_made_at_the_same_moment_are_all_kept_and_readable(folder: Path) -> None:
    """Twelve processes bind a queue each to one exchange at the same instant. With kombu's
    own transport, 10 such rounds left 5 exchange tables that were not JSON (every publish to
    them failed) and lost 54 bindings in the others; here every binding is kept."""
    control = str(folder / "control")
    start = time.time() + 2
    binders = [
        subprocess.Popen(
            [sys.executable, "-c", BINDER, control, f"queue-{n}", str(start), TRANSPORT]
        )
        for n in range(12)
    ]
    assert [binder.wait(timeout=60) for binder in binders] == [0] * 12
    with _connection(folder) as connection:
        channel: Any = connection.default_channel
        table = channel.get_table("renders")
        assert sorted(row.queue for row in table) == sorted(f"queue-{n}" for n in range(12))

        channel._delete("queue-3", "renders", "", "")  # a queue deleted leaves the others
        assert sorted(row.queue for row in channel.get_table("renders")) == sorted(
            f"queue-{n}" for n in range(12) if n != 3
        )
        channel._delete("queue-3", "another", "", "")  # no table: none is made
    tables = sorted(name for name in os.listdir(control) if not name.endswith(".lock"))
    assert tables == ["renders.exchange"]  # nothing partial left, no table for "another"
