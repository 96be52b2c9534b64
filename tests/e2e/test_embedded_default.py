"""The embedded default boots: `make run`'s launcher on SQLite with no configuration at all.

The launcher runs as a new user would run it — no DATABASE_URL, no secret key — in a
temporary var/ folder, with the embedded file-system queue standing in for a missing Redis.
A panel posted over HTTP comes back as a PDF rendered by the launcher's own Celery worker.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import re
import sqlite3
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLE_PANEL
from tests.e2e.conftest import multipart
from tests.e2e.launcher import free_port, launcher_running, new_user_environment, technician_token
from tests.e2e.load import call

pytestmark = pytest.mark.e2e

READY_TIMEOUT_SECONDS = 60


IMPORT_CSV = (
    "accession,mrn,family_name,given_name,birth_date,sex,specimen_type,collected_at,"
    "ordering_clinician,analyte,value,unit\n"
    "E-2,MRN-E2,Roe,Rick,1975-01-31,male,plasma,2026-11-20T09:00:00Z,dr.house,IL-6,148.2,pg/mL\n"
    "E-2,MRN-E2,Roe,Rick,1975-01-31,male,plasma,2026-11-20T09:00:00Z,dr.house,TNFA,<2.0,pg/mL\n"
)


def _wait(url: str, token: str, done: Any) -> dict[str, Any]:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while True:
        _, body = call("GET", url, token)
        payload = dict(json.loads(body))
        if done(payload) or time.monotonic() > deadline:
            return payload
        time.sleep(0.2)


def _import_csv_and_wait(base: str, token: str, log_path: Path) -> None:
    body, content_type = multipart({"file": ("plate.csv", IMPORT_CSV.encode())})
    request = urllib.request.Request(f"{base}/api/v1/imports/", data=body, method="POST")
    request.add_header("Authorization", f"Token {token}")
    request.add_header("Content-Type", content_type)
    with urllib.request.urlopen(request, timeout=30) as response:
        job = json.loads(response.read())
    job = _wait(job["links"]["self"], token, lambda j: j["status"] != "validating")
    assert job["status"] == "preview", (job, log_path.read_text()[-3000:])
    status, _ = call("POST", job["links"]["commit"], token)
    assert status == 202
    job = _wait(job["links"]["self"], token, lambda j: j["status"] != "committing")
    assert job["status"] == "committed", (job, log_path.read_text()[-3000:])
    assert job["summary"]["stored"] == {
        "panels": 1,
        "results": 2,
        "findings": job["summary"]["stored"]["findings"],
        "patients_created": 1,
    }
    _, body = call("GET", f"{base}/api/v1/panels/", token)
    listed = next(p for p in json.loads(body)["results"] if p["accession"] == "E-2")
    _, body = call("GET", f"{base}/api/v1/panels/{listed['id']}/", token)
    panel = json.loads(body)
    assert [r["raw_value"] for r in panel["results"]] == ["148.2", "<2.0"]
    report = _wait(panel["report"]["url"], token, lambda r: r["status"] in ("ready", "failed"))
    assert report["status"] == "ready", (report, log_path.read_text()[-3000:])


def _events_recorded(database: Path) -> None:
    """The event record on SQLite (no trigger there): each way in wrote its events."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        stored = db.execute(
            "SELECT json_extract(payload, '$.accession'), json_extract(payload, '$.intake') "
            "FROM events_event WHERE kind = 'panel.stored' AND "
            "json_extract(payload, '$.accession') IN ('A-1001', 'E-2') ORDER BY id"
        ).fetchall()
        committed = db.execute(
            "SELECT count(*) FROM events_event WHERE kind = 'import.committed'"
        ).fetchone()
        ready = db.execute(
            "SELECT e.report_id FROM events_event e WHERE e.kind = 'report.ready' "
            "ORDER BY e.report_id"
        ).fetchall()
        released = db.execute(
            "SELECT id FROM reports_report WHERE status = 'ready' ORDER BY id"
        ).fetchall()
    assert stored == [("A-1001", "api"), ("E-2", "import")]
    assert committed == (1,)
    assert ready == released


def _import_page_logs_in(base: str) -> None:
    """The technicians' page through the real web server: login form, then the imports list
    with the job made through the API."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{base}/imports/", timeout=30) as response:  # redirected to the login
        assert response.url.startswith(f"{base}/login/")
        page = response.read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token is not None, page
    form = urllib.parse.urlencode(
        {
            "csrfmiddlewaretoken": token.group(1),
            "username": "lab.tech",
            "password": "labpanel-demo",
            "next": "/imports/",
        }
    ).encode()
    request = urllib.request.Request(f"{base}/login/", data=form, headers={"Referer": base})
    with opener.open(request, timeout=30) as response:
        assert response.url == f"{base}/imports/"
        page = response.read().decode()
    assert "Recent imports" in page
    assert "plate.csv" in page, page
    # The worklist reads its rows with raw SQL: on SQLite too, with their collection times.
    with opener.open(f"{base}/worklist/", timeout=30) as response:
        page = response.read().decode()
    assert "A-1001" in page, page
    assert "2026-11-20" in page, page


def test_launcher_serves_the_api_on_sqlite_and_renders_a_report(tmp_path: Path) -> None:
    port = free_port()
    env = new_user_environment(
        LABPANEL_VAR_DIR=str(tmp_path / "var"),
        PORT=str(port),
        # Stands in for "Redis is not answering": the launcher's own fallback.
        CELERY_BROKER_URL="filesystem://",
    )
    log_path = tmp_path / "launcher.log"
    with launcher_running(log_path, env):
        boot_log = log_path.read_text()
        assert "sqlite" in boot_log.lower()
        assert "dr.house" in boot_log
        assert (tmp_path / "var" / "labpanel.sqlite3").exists()

        token = technician_token(
            {**env, "DJANGO_SECRET_KEY_FILE": str(tmp_path / "var" / "secret_key")}
        )
        base = f"http://127.0.0.1:{port}"

        status, body = call("POST", f"{base}/api/v1/panels/", token, EXAMPLE_PANEL)
        assert status == 201, (body, log_path.read_text()[-3000:])
        report_url = json.loads(body)["report"]["url"]
        report = _wait(report_url, token, lambda r: r["status"] in ("ready", "failed"))
        assert report["status"] == "ready", (report, log_path.read_text())
        status, pdf = call("GET", report["pdf_url"], token)
        assert status == 200
        assert pdf.startswith(b"%PDF-")

        # A CSV import takes the bulk path on SQLite too: upload, preview, commit, report.
        _import_csv_and_wait(base, token, log_path)
        _import_page_logs_in(base)
        _events_recorded(tmp_path / "var" / "labpanel.sqlite3")
