"""HL7 over MLLP on the real stack: `manage.py mllp_listener` (a real TCP server, its own process)
→ AA → the panel visible through the API → a Celery worker on Redis renders the PDF.

The listener process shares this test's PostgreSQL database and Redis queue; the ORU travels
over a TCP socket in MLLP frames. A resend of the same message after the ACK stores nothing new.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from labpanel.accounts.models import Role
from labpanel.accounts.services import api_token_issue
from panels.intake.hl7.ack import ack_code_of
from panels.intake.hl7.mllp import MllpClient
from panels.models import Panel
from tests.e2e.conftest import http, wait_for
from tests.e2e.faults import process_env, python_process
from tests.e2e.launcher import free_port, port_wait, process_stop
from tests.factories import make_lab, make_staff

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ORU = (
    "MSH|^~\\&|HIS|GENERAL HOSPITAL|LABPANEL|LAB|20261120103000||ORU^R01^ORU_R01|E2E-1|P|2.5.1\r"
    "PID|1||MRN-E2E^^^HOSP^MR||Doe^Jane||19800402|F\r"
    "OBR|1|PL-77|M-1001|CYTO^Cytokine panel^L|||202611200830+0000||||||||PLAS|dr.house\r"
    "OBX|1|NM|26881-3^IL-6^LN||148.2|pg/mL|<=7.0|H|||F\r"
    "OBX|2|SN|3074-2^TNF-alpha^LN||<^2.0|pg/mL|||||F\r"
    "OBX|3|NM|27415-9^IFN-gamma^LN||25.0|pg/mL|||||F\r"
)


@pytest.fixture
def mllp_listener(
    transactional_db: None, reference_data: None, tmp_path: Path
) -> Iterator[tuple[int, Any]]:
    lab = make_lab(name="Springfield Cytokine Laboratory")
    integrator = make_staff(username="interface.engine", lab=lab, role=Role.INTEGRATOR)
    make_staff(username="dr.house", lab=lab, role=Role.CLINICIAN)
    port = free_port()
    env = process_env("labpanel-e2e-mllp", DJANGO_SETTINGS_MODULE="tests.settings")
    log = tmp_path / "mllp_listener.log"
    command = ["manage.py", "mllp_listener", "--port", str(port), "--user", "interface.engine"]
    listener = python_process(command, env, log)
    try:
        port_wait(port, listener, log, timeout=60)
        yield port, integrator
    finally:
        process_stop(listener)


def test_an_oru_over_mllp_is_acked_after_commit_and_becomes_a_pdf(
    live_server: Any, mllp_listener: tuple[int, Any], celery_worker_on_redis: Any
) -> None:
    port, integrator = mllp_listener
    token = api_token_issue(user=integrator.user, expires_in=None)

    with MllpClient("127.0.0.1", port) as client:
        ack = client.send(ORU)
        again = client.send(ORU)

    assert ack_code_of(ack) == "AA", ack
    assert again == ack  # the resend is answered from the archive, nothing stored twice
    assert Panel.objects.filter(accession="M-1001").count() == 1
    panel_id = Panel.objects.get(accession="M-1001").pk
    status, body, _ = http("GET", f"{live_server.url}/api/v1/panels/{panel_id}/", token)
    assert status == 200
    panel = json.loads(body)
    values = {
        result["analyte"]: (result["comparator"], result["value"]) for result in panel["results"]
    }
    assert values == {"IL6": ("", "148.2"), "TNFA": ("<", "2.0"), "IFNG": ("", "25.0")}
    report = wait_for(panel["report"]["url"], token, lambda r: r["status"] in ("ready", "failed"))
    assert report["status"] == "ready", report
    status, pdf, content_type = http("GET", report["pdf_url"], token)
    assert (status, content_type) == (200, "application/pdf")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    for expected in ("M-1001", "MRN-E2E", "148.2", "<2.0", "IFN-γ"):
        assert expected in text
