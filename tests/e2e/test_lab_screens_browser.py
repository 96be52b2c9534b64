"""The lab's screens in a real browser (Debian's chromium driven by Playwright) on a live server:
a director logs in to the worklist (the critical panel first), verifies a panel in place (htmx),
bulk-verifies the all-normal ones, releases one, opens a panel page, is refused a correction
without a reason, and browses the reference ranges; each screen photographed at 1100 and 390
px wide into ``LABPANEL_SHOTS`` (default: the test's temporary folder)."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from labpanel.accounts.models import StaffMember
from panels.models import Panel, ReviewState
from reference_ranges import adapters
from reference_ranges.models import ReferenceRangeRule
from tests.conftest import EXAMPLE_PANEL, token_client
from tests.e2e.test_import_page_browser import chromium_path  # noqa: F401 - a fixture

WAIT_MS = 30_000
PASSWORD = "bench-password-7"
WIDTHS = (1100, 390)


@pytest.fixture
def critical_limits(reference_data: None) -> Iterator[None]:
    ReferenceRangeRule.objects.filter(analyte__code="IL6", unit="pg/mL").update(
        critical_high=Decimal("100")
    )
    adapters.clear_cache()
    yield
    adapters.clear_cache()


def _submit(client: Any, number: int, family_name: str, il6: str) -> Panel:
    body = copy.deepcopy(EXAMPLE_PANEL)
    body["accession"] = f"B-{number}"
    body["patient"].update({"mrn": f"MRN-B{number}", "family_name": family_name})
    body["specimen"]["collected_at"] = f"2026-11-{10 + number:02d}T08:30:00Z"
    body["results"] = [
        {"analyte": "IL-6", "value": il6, "unit": "pg/mL"},
        {"analyte": "TNFA", "value": "5.0", "unit": "pg/mL"},
    ]
    response = client.post("/api/v1/panels/", body, format="json")
    assert response.status_code == 201, response.json()
    return Panel.objects.get(pk=response.json()["id"])


@pytest.mark.django_db(transaction=True)
def test_a_director_works_the_lab_screens_in_a_browser(
    live_server: Any,
    critical_limits: None,
    technician: StaffMember,
    director: StaffMember,
    clinician: StaffMember,
    chromium_path: str,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    shots = Path(os.environ.get("LABPANEL_SHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    director.user.set_password(PASSWORD)
    director.user.save()
    api = token_client(technician)
    normal = [_submit(api, number, f"Normal{number}", "1.8") for number in (1, 2)]
    flagged = _submit(api, 3, "Flagged", "12.4")
    critical = _submit(api, 4, "Critical", "500")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1100, "height": 900})

        def shoot(name: str) -> None:
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 900})
                page.screenshot(path=str(shots / f"{name}-{width}.png"), full_page=True)
            page.set_viewport_size({"width": 1100, "height": 900})

        page.goto(f"{live_server.url}/")
        page.fill("input[name=username]", "director")
        page.fill("input[name=password]", PASSWORD)
        page.click("button:has-text('Log in')")
        expect(page.locator("h1")).to_have_text("Worklist")
        first_row = page.locator("table.worklist tbody tr").first
        expect(first_row).to_contain_text("B-4")
        expect(first_row).to_contain_text("CRITICAL: 1")
        shoot("1-worklist")

        page.click(f"#panel-{flagged.pk} button:has-text('Verify B-3')")
        expect(page.locator(f"#panel-{flagged.pk}")).to_contain_text("Panel B-3 verified.")
        expect(page.locator(f"#panel-{flagged.pk}")).to_contain_text("Release B-3")
        shoot("2-verified-in-place")

        for panel in normal:
            page.check(f"#check-{panel.pk}")
        page.check(f"#check-{critical.pk}")
        page.click("button:has-text('Verify the checked all-normal panels')")
        expect(page.locator(".messages")).to_contain_text("Verified 2: B-1, B-2.")
        expect(page.locator(".messages")).to_contain_text("Not verified B-4")
        shoot("3-bulk-verified")

        page.click(f"#panel-{flagged.pk} button:has-text('Release B-3')")
        expect(page.locator(f"#panel-{flagged.pk}")).to_contain_text("Panel B-3 released")

        page.goto(f"{live_server.url}/panels/{critical.pk}/")
        expect(page.locator("h1")).to_contain_text("Panel B-4")
        shoot("4-panel-page")

        page.click("text=Correct a result (with a reason)")
        page.fill("input[name=value]", "50")
        page.click("button:has-text('Store the correction')")
        expect(page.locator(".error").first).to_be_visible()
        shoot("5-correction-refused")

        page.goto(f"{live_server.url}/reference-ranges/")
        expect(page.locator("h1")).to_have_text("Reference ranges")
        shoot("6-reference-ranges")
        browser.close()

    states = dict(Panel.objects.values_list("accession", "review_state"))
    assert states == {
        "B-1": ReviewState.VERIFIED,
        "B-2": ReviewState.VERIFIED,
        "B-3": ReviewState.RELEASED,
        "B-4": ReviewState.RECEIVED,
    }
