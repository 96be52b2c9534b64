"""The technicians' import page in a real browser (Debian's chromium driven by Playwright) on
the real stack: live server, PostgreSQL, Redis and a Celery worker validating and committing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from labpanel.accounts.models import StaffMember
from panels.models import Panel
from tests.imports.test_import_jobs import LONG_CSV

CHROMIUM = os.environ.get("LABPANEL_CHROMIUM") or shutil.which("chromium")
WAIT_MS = 60_000


@pytest.fixture
def chromium_path() -> str:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs chromium (Debian package `chromium`) for the browser tests")
        pytest.skip("no chromium on this machine (apt-get install chromium)")
    return CHROMIUM


@pytest.mark.django_db(transaction=True)
def test_a_technician_imports_a_file_from_the_browser(
    live_server: Any,
    reference_data: None,
    technician: StaffMember,
    clinician: StaffMember,
    celery_worker_on_redis: Any,
    chromium_path: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from playwright.sync_api import expect, sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls below are sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    technician.user.set_password("bench-password-7")
    technician.user.save()
    upload = tmp_path / "plate-7.csv"
    upload.write_text(LONG_CSV)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(f"{live_server.url}/imports/")
        page.fill("input[name=username]", "tech")
        page.fill("input[name=password]", "bench-password-7")
        page.click("button:has-text('Log in')")
        expect(page.locator("h1")).to_have_text("Import results from a file")

        page.set_input_files("input[name=file]", str(upload))
        page.click("button:has-text('Upload and check')")
        status = page.locator("#status")
        expect(status).to_have_text("Preview ready", timeout=WAIT_MS)  # the page follows the job
        expect(page.locator("h3").first).to_contain_text("I-1 — Doe, Jane")
        expect(page.locator("table").nth(1)).to_be_visible()
        assert "<2.0" in page.inner_text("main")
        assert Panel.objects.count() == 0
        page.screenshot(path=str(tmp_path / "preview.png"), full_page=True)

        page.click("button:has-text('Commit 2 panel(s)')")
        expect(status).to_have_text("Committed", timeout=WAIT_MS)
        browser.close()

    assert sorted(Panel.objects.values_list("accession", flat=True)) == ["I-1", "I-2"]
