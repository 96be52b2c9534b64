"""Mixed load on the stack `make run` starts: concurrent API clients posting panels while an
interface engine sends ORU messages over MLLP and the launcher's worker renders every report.

Shared by ``tests/e2e/test_embedded_load.py`` (reduced size, SQLite) and
``bench/embedded_load.py`` (full size, SQLite and PostgreSQL). The launcher runs as a new user
runs it, in a var/ folder of its own; only the database (``database_url``) and the queue name
are chosen here. The queue is unique so that another Celery worker on the same Redis never
takes these tasks; the broker is the launcher's own choice (Redis on 127.0.0.1 when it answers,
else the embedded file-system queue), and the MLLP listener is given the same.
"""

from __future__ import annotations

import json
import random
import re
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labpanel.launcher import LOCAL_REDIS_HOST, LOCAL_REDIS_PORT, LOCAL_REDIS_URL, redis_answers
from panels.intake.hl7.ack import ack_code_of
from panels.intake.hl7.mllp import MllpClient
from tests.e2e.launcher import (
    BASE_DIR,
    free_port,
    launcher_running,
    new_user_environment,
    port_wait,
    process_group_stop,
    process_start,
    technician_token,
)

ORU_FIXTURE = BASE_DIR / "tests" / "fixtures" / "hl7" / "oru_r01_single.hl7"
# The 13 analytes of the cytokine panel, with a typical value (pg/mL) to vary around.
ANALYTES = (
    ("IL-6", 3.0),
    ("IL-10", 4.0),
    ("TNFA", 6.0),
    ("IFNG", 3.5),
    ("IL-2", 1.2),
    ("IL-4", 1.5),
    ("IL-8", 20.0),
    ("IL-1B", 2.0),
    ("IL-12", 1.0),
    ("IL-17A", 1.0),
    ("IL-13", 1.5),
    ("IL-5", 1.0),
    ("GM-CSF", 2.0),
)
PATIENTS = 40  # the API clients' panels share this many patients (concurrent first visits)


def call(method: str, url: str, token: str, body: Any = None) -> tuple[int, bytes]:
    """One request; (status, body) for HTTP errors as well."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Token {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@dataclass
class Stack:
    base: str
    token: str
    mllp_port: int
    launcher_log: Path
    listener_log: Path

    def logs_tail(self, chars: int = 4000) -> str:
        return (
            f"--- launcher\n{self.launcher_log.read_text(errors='replace')[-chars:]}\n"
            f"--- mllp_listener\n{self.listener_log.read_text(errors='replace')[-chars:]}"
        )


@contextmanager
def launched_stack(
    workdir: Path, *, queue: str, database_url: str | None = None, broker_url: str | None = None
) -> Iterator[Stack]:
    """`python -m labpanel.launcher` in ``workdir/var`` and `manage.py mllp_listener` beside it.

    Without ``database_url`` both use the launcher's embedded SQLite file; without
    ``broker_url`` the launcher chooses the broker (``filesystem://`` stands in for a machine
    without Redis).
    """
    port = free_port()
    var = workdir / "var"
    env = new_user_environment(
        LABPANEL_VAR_DIR=str(var), PORT=str(port), CELERY_TASK_DEFAULT_QUEUE=queue
    )
    if database_url:
        env["DATABASE_URL"] = database_url
        env["LABPANEL_DEMO"] = "true"  # the demo accounts on PostgreSQL: asked for
    if broker_url:
        env["CELERY_BROKER_URL"] = broker_url
    launcher_log = workdir / "launcher.log"
    listener_log = workdir / "mllp_listener.log"
    try:
        with launcher_running(launcher_log, env):
            # What the launcher filled in: its generated key, and the broker it chose.
            if broker_url is None:
                redis_up = redis_answers(LOCAL_REDIS_HOST, LOCAL_REDIS_PORT)
                broker_url = LOCAL_REDIS_URL if redis_up else "filesystem://"
                if redis_up and LOCAL_REDIS_URL not in launcher_log.read_text():
                    raise RuntimeError(
                        f"the launcher chose another broker:\n{launcher_log.read_text()}"
                    )
            env.update(
                DJANGO_SECRET_KEY_FILE=str(var / "secret_key"),
                DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
                CELERY_BROKER_URL=broker_url,
            )
            token = technician_token(env)
            mllp_port = free_port()
            listener = process_start(
                [
                    *(sys.executable, "manage.py", "mllp_listener"),
                    *("--port", str(mllp_port), "--user", "interface.engine"),
                ],
                env,
                listener_log,
            )
            try:
                port_wait(mllp_port, listener, listener_log)
                yield Stack(
                    f"http://127.0.0.1:{port}", token, mllp_port, launcher_log, listener_log
                )
            finally:
                process_group_stop(listener)
    finally:
        redis_broker = (broker_url or LOCAL_REDIS_URL) == LOCAL_REDIS_URL
        if redis_broker and redis_answers(LOCAL_REDIS_HOST, LOCAL_REDIS_PORT):
            import redis

            redis.Redis.from_url(LOCAL_REDIS_URL).delete(queue)


def panel_payload(run: str, client: int, number: int, rng: random.Random) -> dict[str, Any]:
    """A 13-analyte panel with a unique accession for one of ``PATIENTS`` patients."""
    patient = (client * 7919 + number) % PATIENTS
    results = []
    for code, typical in ANALYTES:
        value = rng.lognormvariate(0, 1.0) * typical
        raw = "<1.0" if value < 1.0 else f"{value:.1f}"
        results.append({"analyte": code, "value": raw, "unit": "pg/mL"})
    return {
        "accession": f"LD-{run}-{client:02d}-{number:04d}",
        "patient": {
            "mrn": f"LD-{run}-{patient:03d}",
            "family_name": "Load",
            "given_name": f"Patient{patient}",
            "birth_date": f"19{50 + patient % 40}-0{1 + patient % 9}-1{patient % 9}",
            "sex": "female" if patient % 2 else "male",
        },
        "specimen": {"type": "plasma", "collected_at": "2026-11-20T08:30:00Z"},
        "ordering_clinician": "dr.house",
        "results": results,
    }


def _results_final(message: str) -> str:
    """The fixture's last OBX is preliminary (P), which this service refuses: make it final."""
    segments = []
    for segment in message.split("\r"):
        fields = segment.split("|")
        if fields[0] == "OBX" and len(fields) > 11 and fields[11] == "P":
            fields[11] = "F"
        segments.append("|".join(fields))
    return "\r".join(segments)


def oru_messages(run: str, count: int) -> list[tuple[str, str]]:
    """(accession, message) pairs: the ORU fixture with a unique MSH-10, placer and accession
    (and its results final)."""
    fixture = ORU_FIXTURE.read_bytes().decode("utf-8")
    messages = []
    for number in range(count):
        accession = f"LM-{run}-{number:04d}"
        message = fixture
        for old, new in (
            ("MSG00001", f"M{run}{number:05d}"),
            ("PL-1001", f"PM-{run}-{number:04d}"),
            ("A-1001", accession),
        ):
            message = re.sub(rf"(?<=\|){old}(?=[|\r])", new, message)
        messages.append((accession, _results_final(message)))
    return messages


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


@dataclass
class LoadResult:
    panels: int
    elapsed: float
    post_statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    post_errors: list[str] = field(default_factory=list)
    ack_codes: Counter[str] = field(default_factory=Counter)
    ack_errors: list[str] = field(default_factory=list)
    mllp_elapsed: float = 0.0
    get_statuses: Counter[int] = field(default_factory=Counter)
    reports: Counter[str] = field(default_factory=Counter)
    missing_accessions: list[str] = field(default_factory=list)
    render_wait: float = 0.0

    @property
    def server_errors(self) -> int:
        statuses = self.post_statuses + self.get_statuses
        return sum(count for status, count in statuses.items() if status >= 500)

    def summary(self) -> str:
        return (
            f"{self.panels} panels posted in {self.elapsed:.1f} s: "
            f"{self.panels / self.elapsed:.1f} panels/s, "
            f"p50 {percentile(self.latencies, 0.5) * 1000:.0f} ms, "
            f"p99 {percentile(self.latencies, 0.99) * 1000:.0f} ms; "
            f"statuses {dict(sorted(self.post_statuses.items()))}, 5xx {self.server_errors}; "
            f"MLLP {sum(self.ack_codes.values())} messages in {self.mllp_elapsed:.1f} s, "
            f"ACKs {dict(sorted(self.ack_codes.items()))}, AE {self.ack_codes.get('AE', 0)}; "
            f"reports {dict(sorted(self.reports.items()))} "
            f"({self.render_wait:.1f} s after the last message)"
        )


def _post_panels(
    stack: Stack, run: str, client: int, count: int, result: LoadResult, lock: threading.Lock
) -> None:
    rng = random.Random(f"{run}-{client}")  # noqa: S311 - test data, not secrets
    for number in range(count):
        payload = panel_payload(run, client, number, rng)
        started = time.perf_counter()
        status, body = call("POST", f"{stack.base}/api/v1/panels/", stack.token, payload)
        latency = time.perf_counter() - started
        with lock:
            result.post_statuses[status] += 1
            result.latencies.append(latency)
            if status != 201 and len(result.post_errors) < 10:
                result.post_errors.append(f"{status} {payload['accession']}: {body[:300]!r}")


def _send_oru(stack: Stack, messages: list[tuple[str, str]], result: LoadResult) -> None:
    started = time.perf_counter()
    with MllpClient("127.0.0.1", stack.mllp_port, timeout=120) as client:
        for accession, message in messages:
            ack = client.send(message)
            code = ack_code_of(ack) or "?"
            result.ack_codes[code] += 1
            if code != "AA" and len(result.ack_errors) < 10:
                result.ack_errors.append(f"{accession}: {ack!r}")
    result.mllp_elapsed = time.perf_counter() - started


def _panels_listed(stack: Stack, result: LoadResult) -> dict[str, dict[str, Any]]:
    """accession -> the panel's current report (id, status, url), read through the API."""
    reports: dict[str, dict[str, Any]] = {}
    url: str | None = f"{stack.base}/api/v1/panels/?limit=100"
    while url:
        status, body = call("GET", url, stack.token)
        result.get_statuses[status] += 1
        if status != 200:
            raise RuntimeError(f"GET {url}: {status} {body[:500]!r}")
        page = json.loads(body)
        for panel in page["results"]:
            reports[panel["accession"]] = panel["report"]
        url = page["next"]
    return reports


def _wait_for_reports(
    stack: Stack, accessions: list[str], result: LoadResult, cap_seconds: float
) -> None:
    started = time.monotonic()
    listed = _panels_listed(stack, result)
    result.missing_accessions = [a for a in accessions if listed.get(a) is None]
    waiting = {
        a: listed[a]["url"]
        for a in accessions
        if listed.get(a) is not None and listed[a]["status"] == "pending"
    }
    final = {a: listed[a]["status"] for a in accessions if a in listed and a not in waiting}
    while waiting and time.monotonic() - started < cap_seconds:
        for accession, url in list(waiting.items()):
            status, body = call("GET", url, stack.token)
            result.get_statuses[status] += 1
            if status == 200 and json.loads(body)["status"] != "pending":
                final[accession] = json.loads(body)["status"]
                del waiting[accession]
        if waiting:
            time.sleep(1.0)
    result.render_wait = time.monotonic() - started
    result.reports = Counter(final.values())
    if waiting:
        result.reports["pending"] = len(waiting)


def run_load(
    stack: Stack,
    *,
    run: str,
    clients: int,
    panels: int,
    messages: int,
    render_cap_seconds: float = 600.0,
) -> LoadResult:
    """``clients`` threads post ``panels`` panels in all, one request at a time each, while one
    MLLP connection sends ``messages`` ORU messages one after another; then every report (both
    sources) is followed through the API until none is pending or ``render_cap_seconds`` pass.
    """
    result = LoadResult(panels=panels, elapsed=0.0)
    lock = threading.Lock()
    oru = oru_messages(run, messages)
    shares = [
        panels // clients + (1 if client < panels % clients else 0) for client in range(clients)
    ]
    threads = [
        threading.Thread(target=_post_panels, args=(stack, run, client, share, result, lock))
        for client, share in enumerate(shares)
    ]
    sender = threading.Thread(target=_send_oru, args=(stack, oru, result))
    started = time.perf_counter()
    sender.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.elapsed = time.perf_counter() - started
    sender.join()
    accessions = [
        *(
            f"LD-{run}-{client:02d}-{number:04d}"
            for client, share in enumerate(shares)
            for number in range(share)
        ),
        *(accession for accession, _ in oru),
    ]
    _wait_for_reports(stack, accessions, result, render_cap_seconds)
    return result
