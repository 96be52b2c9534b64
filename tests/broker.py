"""Brokers of a test's own: a port nobody listens on (a dead broker, refused at once) and a
Redis server started on a free port, stopped and started again by the test. The shared Redis on
6379 is never touched.

``celery_broker(url)`` points this process's Celery app at ``url`` (the environment variable
wins over the app's configuration in Celery, so both are set) and drops the app's references to
its connection pools so that the next publish connects there.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

from labpanel.celery import app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dead_broker_url() -> str:
    """A Redis URL on a port that was free a moment ago: connecting is refused."""
    return f"redis://127.0.0.1:{free_port()}/0"


def _pools_drop() -> None:
    # Not closed: kombu keeps one pool per broker URL process-wide and hands it out again.
    app._pool = None  # type: ignore[attr-defined]
    app.amqp._producer_pool = None  # type: ignore[attr-defined]


@contextmanager
def celery_broker(url: str) -> Iterator[None]:
    previous_env = os.environ.get("CELERY_BROKER_URL")
    previous_conf = app.conf.broker_url
    _pools_drop()
    os.environ["CELERY_BROKER_URL"] = url
    app.conf["broker_url"] = url
    try:
        yield
    finally:
        _pools_drop()
        if previous_env is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = previous_env
        app.conf["broker_url"] = previous_conf


class RedisServer:
    """``redis-server`` on a free port, keeping nothing on disk, as a child of the test."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Kill it (as a crash would): whatever it held is gone."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=20)
        self._process = None
