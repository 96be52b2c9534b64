"""PostgreSQL connections terminated (``pg_terminate_backend``) under the deployed web server and
under an import commit: the service recovers by itself and nothing is half-stored.

gunicorn runs as docker-compose.yml runs it (``--workers 2``, the production settings with
persistent connections and health checks) on this test's database. A request whose connection
dies answers 503 with ``Retry-After``; the identical request sent again is stored once (201) or,
when the first one had committed before its connection died, answered as a re-submission (200).
"""

from __future__ import annotations

import copy
import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from labpanel.accounts.models import Role
from labpanel.accounts.services import api_token_issue
from labpanel.celery import app as celery_app
from panels.models import ImportedPanel, ImportJob, ImportStatus, Panel, Patient, Result
from reports.models import Report
from tests.conftest import EXAMPLE_PANEL, token_client
from tests.e2e.faults import (
    admin_connect,
    backend_waiting_on_lock,
    backends_terminate,
    process_env,
    python_process,
    table_locked,
    until,
)
from tests.e2e.launcher import free_port, port_wait, process_stop
from tests.factories import make_lab, make_staff
from tests.imports.test_import_jobs import HEADER, upload

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WEB = "labpanel-faults-web"
WORKER = "labpanel-faults-worker"
RESULT_TABLE = Result._meta.db_table


@dataclass(frozen=True)
class Web:
    url: str
    token: str
    master_pid: int


def _workers_of(pid: int) -> set[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return {int(child) for child in children}


@pytest.fixture
def web(reference_data: None, tmp_path: Path) -> Iterator[Web]:
    lab = make_lab(name="Springfield Cytokine Laboratory")
    technician = make_staff(username="lab.tech", lab=lab, role=Role.TECHNICIAN)
    make_staff(username="dr.house", lab=lab, role=Role.CLINICIAN)
    token = api_token_issue(user=technician.user, expires_in=None)
    port = free_port()
    env = process_env(
        WEB,
        DJANGO_SETTINGS_MODULE="labpanel.settings",
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        LABPANEL_VAR_DIR=str(tmp_path / "var"),
    )
    log = tmp_path / "gunicorn.log"
    command = ["-m", "gunicorn", "labpanel.wsgi:application", "--bind", f"127.0.0.1:{port}"]
    server = python_process([*command, "--workers", "2", "--access-logfile", "-"], env, log)
    try:
        port_wait(port, server, log)
        until(lambda: len(_workers_of(server.pid)) == 2, "both gunicorn workers")
        yield Web(f"http://127.0.0.1:{port}", token, server.pid)
    finally:
        process_stop(server)
        # no worker here: the report renderings the panels asked for are dropped
        with celery_app.connection_for_write() as broker:
            channel: Any = broker.default_channel
            channel.queue_purge(celery_app.conf.task_default_queue)


def _panel(number: int) -> dict[str, Any]:
    payload = copy.deepcopy(EXAMPLE_PANEL)
    payload["accession"] = f"FLT-{number:04d}"
    payload["patient"]["mrn"] = f"MRN-FLT-{number:04d}"
    payload["results"][0]["value"] = f"{number}.5"
    return payload


@dataclass(frozen=True)
class Answer:
    status: int
    retry_after: str | None
    body: dict[str, Any]


def _post(web: Web, payload: dict[str, Any]) -> Answer:
    request = urllib.request.Request(
        f"{web.url}/api/v1/panels/", data=json.dumps(payload).encode(), method="POST"
    )
    request.add_header("Authorization", f"Token {web.token}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Answer(response.status, response.headers["Retry-After"], json.load(response))
    except urllib.error.HTTPError as error:
        body = error.read()
        content_type = error.headers.get("Content-Type", "")
        return Answer(
            error.code,
            error.headers["Retry-After"],
            json.loads(body) if content_type == "application/json" else {"raw": body[:300]},
        )


def _assert_unavailable(answer: Answer) -> None:
    assert answer.status == 503, answer
    assert answer.retry_after == "1"
    assert answer.body["code"] == "database_unavailable"


def _assert_stored_once(payloads: list[dict[str, Any]]) -> None:
    accessions = [payload["accession"] for payload in payloads]
    panels = Panel.objects.filter(accession__in=accessions)
    assert sorted(panels.values_list("accession", flat=True)) == sorted(accessions)
    assert Patient.objects.filter(mrn__in=[p["patient"]["mrn"] for p in payloads]).count() == len(
        payloads
    )
    stored = Counter(
        (accession, raw)
        for accession, raw in Result.objects.filter(panel__in=panels).values_list(
            "panel__accession", "raw_value"
        )
    )
    expected = Counter(
        (payload["accession"], result["value"])
        for payload in payloads
        for result in payload["results"]
    )
    assert stored == expected
    assert Report.objects.filter(panel__in=panels).count() == len(payloads)


def test_a_post_whose_connection_is_terminated_mid_transaction_answers_503_and_stores_nothing(
    web: Web,
) -> None:
    # given: the request is stopped inside its transaction (patient and panel written, its
    # results waiting for a lock) — then its backend is terminated
    payload = _panel(1)
    answers: list[Answer] = []
    with admin_connect() as admin, table_locked(RESULT_TABLE):
        poster = threading.Thread(target=lambda: answers.append(_post(web, payload)))
        poster.start()
        pid = until(lambda: backend_waiting_on_lock(admin, WEB, "INSERT"), "the blocked insert")
        assert backends_terminate(admin, WEB, waiting_on_lock=True) == [pid]
        poster.join(timeout=30)

    # then: a clear 503, nothing of the panel stored, and the same request succeeds once
    (answer,) = answers
    _assert_unavailable(answer)
    assert not Panel.objects.filter(accession=payload["accession"]).exists()
    assert not Patient.objects.filter(mrn=payload["patient"]["mrn"]).exists()
    assert _post(web, payload).status == 201
    assert _post(web, payload).status == 200
    _assert_stored_once([payload])


def test_a_stream_of_posts_survives_terminated_connections_and_stores_each_panel_once(
    web: Web,
) -> None:
    clients, per_client = 4, 8
    payloads = [_panel(number) for number in range(1, clients * per_client + 1)]
    workers_before = _workers_of(web.master_pid)
    attempts: dict[str, list[Answer]] = {}
    done = threading.Event()
    terminated: list[int] = []

    def client(mine: list[dict[str, Any]]) -> None:
        for payload in mine:
            answers = attempts.setdefault(payload["accession"], [])
            for _ in range(20):
                answer = _post(web, payload)
                answers.append(answer)
                if answer.status != 503:
                    break
                time.sleep(float(answer.retry_after or 1))

    def killer() -> None:
        with admin_connect() as admin:
            while not done.wait(0.25):
                terminated.extend(backends_terminate(admin, WEB))

    # when: every 250 ms every connection of the web server is terminated, idle or busy
    threads = [
        threading.Thread(target=client, args=(payloads[index::clients],))
        for index in range(clients)
    ]
    stopper = threading.Thread(target=killer)
    stopper.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    done.set()
    stopper.join()

    # then: each POST ended stored; a 503 (with Retry-After) was the only other answer, and a
    # 200 only ever followed a 503 (the first attempt had committed before its connection died)
    # (how many depends on how fast the stream runs; it spans several rounds on any machine)
    assert len(terminated) >= 2, terminated
    statuses = Counter(answer.status for answers in attempts.values() for answer in answers)
    assert set(statuses) <= {201, 200, 503}, statuses
    for accession, answers in attempts.items():
        *failed, last = answers
        assert last.status in (201, 200), (accession, answers)
        assert last.status == 201 or failed, (accession, answers)
        for answer in failed:
            _assert_unavailable(answer)
    _assert_stored_once(payloads)

    # and: with every idle connection terminated, the next requests succeed at once, served by
    # the same worker processes (no restart)
    with admin_connect() as admin:
        backends_terminate(admin, WEB)
    after = [_panel(number) for number in range(900, 904)]
    assert [_post(web, payload).status for payload in after] == [201] * 4
    assert _workers_of(web.master_pid) == workers_before
    _assert_stored_once(payloads + after)


def _csv(panels: int) -> str:
    rows = [HEADER]
    for number in range(1, panels + 1):
        patient = (
            f"IMP-{number:04d},MRN-IMP-{number:04d},Doe,Jane,1980-04-02,female,plasma,"
            "2026-11-20T08:30:00Z,dr.house"
        )
        rows += [f"{patient},IL-6,{number}.4,pg/mL", f"{patient},TNFA,<2.0,pg/mL"]
    return "\n".join([*rows, ""])


@pytest.fixture
def worker_connections_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """The in-process worker's connections carry their own application name (its thread opens
    them after this), so that only they are terminated."""
    from django.db import connections

    monkeypatch.setitem(
        connections["default"].settings_dict.setdefault("OPTIONS", {}), "application_name", WORKER
    )


def test_an_import_commit_whose_connection_is_terminated_mid_copy_is_retried_and_stored_once(
    reference_data: None, worker_connections_named: None, request: pytest.FixtureRequest
) -> None:
    lab = make_lab(name="Springfield Cytokine Laboratory")
    technician = make_staff(username="lab.tech", lab=lab, role=Role.TECHNICIAN)
    make_staff(username="dr.house", lab=lab, role=Role.CLINICIAN)
    client: APIClient = token_client(technician)
    request.getfixturevalue("celery_worker_on_redis")
    panels = 60
    response = upload(client, _csv(panels))
    assert response.status_code == 202, response.json()
    job = ImportJob.objects.get(uuid=response.json()["id"])
    until(lambda: ImportJob.objects.get(pk=job.pk).status != ImportStatus.VALIDATING, "validation")
    assert ImportJob.objects.get(pk=job.pk).status == ImportStatus.PREVIEW

    # when: the commit's COPY of the results waits for a lock, inside the transaction that
    # already wrote the patients and panels — and its backend is terminated there
    with admin_connect() as admin, table_locked(RESULT_TABLE):
        assert client.post(f"/api/v1/imports/{job.uuid}/commit/").status_code == 202
        killed = until(lambda: backend_waiting_on_lock(admin, WORKER, "COPY"), "the blocked COPY")
        assert backends_terminate(admin, WORKER, waiting_on_lock=True) == [killed]
        # the task is retried on a new connection, and waits for the same lock again
        until(
            lambda: (pid := backend_waiting_on_lock(admin, WORKER, "COPY")) != killed and pid,
            "the retry",
        )
        assert ImportJob.objects.get(pk=job.pk).status == ImportStatus.COMMITTING
        assert not Panel.objects.filter(accession__startswith="IMP-").exists()

    # then: committed once, with exactly the previewed rows
    until(lambda: ImportJob.objects.get(pk=job.pk).status != ImportStatus.COMMITTING, "the commit")
    job.refresh_from_db()
    assert job.status == ImportStatus.COMMITTED, job.status_message
    assert job.summary["stored"]["panels"] == panels
    stored = Panel.objects.filter(accession__startswith="IMP-")
    assert stored.count() == panels
    assert ImportedPanel.objects.filter(job=job).count() == panels
    assert Result.objects.filter(panel__in=stored).count() == 2 * panels
    assert Patient.objects.filter(mrn__startswith="MRN-IMP-").count() == panels
    assert Report.objects.filter(panel__in=stored).count() == panels
