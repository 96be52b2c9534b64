"""The real stack for end-to-end tests: a Celery worker on this run's Redis queue, HTTP helpers."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker

from labpanel.celery import app as celery_app

WAIT_SECONDS = 90


@pytest.fixture
def celery_worker_on_redis(transactional_db: None) -> Iterator[Any]:
    with start_worker(
        celery_app,
        pool="solo",
        concurrency=1,
        perform_ping_check=False,
        shutdown_timeout=30,
        loglevel="WARNING",
    ) as worker:
        yield worker


def http(
    method: str,
    url: str,
    token: str,
    body: dict[str, Any] | bytes | None = None,
    content_type: str = "application/json",
) -> tuple[int, bytes, str]:
    """One request; returns (status, body, content type) for errors as well."""
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Token {token}")
    if data is not None:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers.get("Content-Type", "")


def multipart(
    files: dict[str, tuple[str, bytes]], fields: dict[str, str] | None = None
) -> tuple[bytes, str]:
    """A multipart/form-data body (files: field -> (filename, bytes)) and its content type."""
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for name, value in (fields or {}).items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            f"{value}\r\n".encode()
        )
    for name, (filename, content) in files.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
            + content
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def wait_for(
    url: str, token: str, done: Callable[[dict[str, Any]], bool], seconds: float = WAIT_SECONDS
) -> dict[str, Any]:
    """Poll ``url`` until ``done(body)`` or the deadline; returns the last body."""
    deadline = time.monotonic() + seconds
    while True:
        status, body, _ = http("GET", url, token)
        assert status == 200, body
        payload = dict(json.loads(body))
        if done(payload) or time.monotonic() > deadline:
            return payload
        time.sleep(0.1)
