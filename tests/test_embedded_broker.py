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
