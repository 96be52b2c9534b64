"""Issue 12's path in a real browser (Debian's chromium driven by Playwright) on the real stack:
live server, PostgreSQL, Redis and a Celery worker that validates and commits the import,
renders the reports and sends the emails.

1. A technician uploads a wide CSV holding one critical value (IL-6 above the lab's critical
   high) and confirms the preview.
2. A director finds that panel first on the worklist, verifies it (the critical alert opens and
   the ordering clinician is emailed a link) and releases it (the worker renders the FINAL PDF).
3. The ordering clinician logs in, finds the report first in the inbox with the critical value
   highlighted, opens it, downloads the PDF (FINAL) and acknowledges it.
4. The alert page shows the escalation stopped, and the beat's escalation run due after the
   lab's limit tells nobody.

Each step is photographed into ``LABPANEL_SHOTS`` (default ``var/e2e-shots/``, gitignored)."""

from __future__ import annotations

import io
import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.utils import timezone
from pypdf import PdfReader

from labpanel.accounts.models import StaffMember
from panels.critical import critical_alerts_escalate
from panels.models import Panel
from panels.models_critical import CriticalAlert, CriticalAlertState, CriticalNotification
from reference_ranges.models import ReferenceRangeSet
from reports.models import Report, ReportStage, ReportStatus
from tests.e2e.test_import_page_browser import chromium_path  # noqa: F401 - a fixture

WAIT_MS = 60_000
PASSWORD = "e2e-password-12"
BASE_DIR = Path(__file__).resolve().parents[2]

WIDE_CSV = "\n".join(
    [
        "accession,mrn,family_name,given_name,birth_date,sex,specimen_type,collected_at,"
        "ordering_clinician,IL-6 (pg/mL),TNF-a [pg/mL],IL-10 (pg/mL)",
        "CR-1,MRN-C1,Storm,Carla,1972-03-14,female,plasma,2026-12-05T06:30:00Z,dr.house,"
        "6400,18.2,45",
        "CR-2,MRN-C2,Calm,Neil,1980-01-01,male,plasma,2026-12-04T07:00:00Z,dr.house,1.8,4.0,2.0",
        "",
    ]
)


def _shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("LABPANEL_SHOTS") or BASE_DIR / "var" / "e2e-shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _final_report(panel: Panel) -> Report:
    """The panel's FINAL report once the worker has rendered it."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline:
        report = Report.objects.filter(panel=panel, stage=ReportStage.FINAL).first()
        if report is not None and report.status == ReportStatus.READY:
            return report
        time.sleep(0.2)
    raise AssertionError(f"no FINAL report rendered for {panel.accession}")


@pytest.mark.django_db(transaction=True)
def test_a_critical_value_goes_from_upload_to_the_clinicians_acknowledgement(
    live_server: Any,
    critical_limits: ReferenceRangeSet,
    technician: StaffMember,
    director: StaffMember,
    reachable_clinician: StaffMember,
    celery_worker_on_redis: Any,
    chromium_path: str,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from playwright.sync_api import expect, sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls below are sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    shots = _shots(tmp_path)
    for staff in (technician, director, reachable_clinician):
        staff.user.set_password(PASSWORD)
        staff.user.save()
    upload = tmp_path / "plate-12.csv"
    upload.write_text(WIDE_CSV)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path, args=["--no-sandbox", "--disable-gpu"]
        )

        def logged_in(username: str, path: str) -> Any:
            context = browser.new_context(
                viewport={"width": 1100, "height": 900}, accept_downloads=True
            )
            page = context.new_page()
            page.goto(f"{live_server.url}{path}")
            page.fill("input[name=username]", username)
            page.fill("input[name=password]", PASSWORD)
            page.click("button:has-text('Log in')")
            return page

        # 1. The technician uploads the wide CSV and confirms the preview.
        page = logged_in("tech", "/imports/")
        expect(page.locator("h1")).to_have_text("Import results from a file")
        page.set_input_files("input[name=file]", str(upload))
        page.click("button:has-text('Upload and check')")
        status = page.locator("#status")
        expect(status).to_have_text("Preview ready", timeout=WAIT_MS)
        assert "6400" in page.inner_text("main")
        page.screenshot(path=str(shots / "1-technician-preview.png"), full_page=True)
        page.click("button:has-text('Commit 2 panel(s)')")
        expect(status).to_have_text("Committed", timeout=WAIT_MS)
        page.screenshot(path=str(shots / "1-technician-committed.png"), full_page=True)
        critical = Panel.objects.get(accession="CR-1")
        assert critical.results.filter(interpretation="HH").count() == 1

        # 2. The director: the critical panel first on the worklist; verify, then release.
        page = logged_in("director", "/worklist/")
        expect(page.locator("h1")).to_have_text("Worklist")
        first_row = page.locator("table.worklist tbody tr").first
        expect(first_row).to_contain_text("CR-1")
        expect(first_row).to_contain_text("CRITICAL")
        page.screenshot(path=str(shots / "2-director-worklist.png"), full_page=True)
        row = page.locator(f"#panel-{critical.pk}")
        row.locator("button:has-text('Verify CR-1')").click()
        expect(row).to_contain_text("Panel CR-1 verified.")
        alert = CriticalAlert.objects.get(panel=critical)
        assert alert.state == CriticalAlertState.OPEN
        row.locator("button:has-text('Release CR-1')").click()
        expect(row).to_contain_text("Panel CR-1 released")
        page.screenshot(path=str(shots / "2-director-released.png"), full_page=True)
        report = _final_report(critical)

        # 3. The clinician: the report first in the inbox, the critical value highlighted.
        page = logged_in("dr.house", "/")
        expect(page.locator("h1")).to_have_text("Reports of your patients")
        section = page.locator("section.critical-section")
        expect(section).to_contain_text("CRITICAL")
        expect(section).to_contain_text("6400 pg/mL (critical high)")
        first_report = page.locator("table tbody tr").first
        expect(first_report).to_contain_text("CR-1")
        expect(first_report).to_contain_text("CRITICAL")
        page.screenshot(path=str(shots / "3-clinician-inbox.png"), full_page=True)

        first_report.locator("a").first.click()
        expect(page.locator("h1")).to_contain_text("Final report")
        page.screenshot(path=str(shots / "3-clinician-report.png"), full_page=True)
        # The PDF opens inline (no download event): fetch the link with the page's own session.
        link = page.get_attribute("text=Download the PDF", "href")
        downloaded = page.context.request.get(f"{live_server.url}{link}")
        assert downloaded.status == 200
        assert downloaded.headers["content-type"] == "application/pdf"
        pdf = downloaded.body()
        text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
        assert "Final report" in text
        assert "PRELIMINARY" not in text
        page.click("button:has-text('Acknowledge')")
        expect(page.locator(".messages")).to_contain_text("Acknowledged at")
        page.screenshot(path=str(shots / "3-clinician-acknowledged.png"), full_page=True)

        # 4. The alert page: the escalation that would have fired is shown as stopped.
        page.goto(f"{live_server.url}/critical/{alert.pk}/")
        expect(page.locator("main")).to_contain_text("Acknowledged — escalation stopped")
        page.screenshot(path=str(shots / "4-alert-stopped.png"), full_page=True)
        browser.close()

    alert.refresh_from_db()
    assert alert.state == CriticalAlertState.ACKNOWLEDGED
    told = CriticalNotification.objects.filter(alert=alert).count()
    with time_machine.travel(timezone.now() + timedelta(hours=2), tick=False):
        assert critical_alerts_escalate() == 0
    assert CriticalNotification.objects.filter(alert=alert).count() == told
    assert report.pk == Report.objects.get(panel=critical, stage=ReportStage.FINAL).pk

    # The clinician was emailed a link to the alert and to the report; never patient data.
    to_clinician = [m for m in mail.outbox if m.to == ["house@example.org"]]
    assert len(to_clinician) >= 2
    for message in to_clinician:
        text = f"{message.subject}\n{message.body}"
        for private in ("Storm", "Carla", "MRN-C1", "CR-1", "6400"):
            assert private not in text
