"""Management commands (tokens, the demo lab: only where embedded or asked for) and the admin's
read-only rule for reported results."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from labpanel.accounts.models import Lab, Role, StaffMember
from panels.models import Panel, Result
from reference_ranges.management.commands.seed_demo import demo_refusal
from reference_ranges.models import LabSpecimenSetting
from tests.factories import make_lab, make_user

pytestmark = pytest.mark.django_db


def test_issue_api_token_creates_the_user_and_prints_only_a_working_token(lab: Lab) -> None:
    out = io.StringIO()

    call_command("issue_api_token", "new.tech", "--role", "technician", stdout=out)

    token = out.getvalue().strip()
    assert "\n" not in token
    assert len(token) == 64
    staff = StaffMember.objects.get(user__username="new.tech")
    assert (staff.role, staff.lab) == (Role.TECHNICIAN, lab)
    assert AuthToken.objects.get(user=staff.user).expiry is not None
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/panels/").status_code == 200


def test_issue_api_token_never_changes_an_existing_role(clinician: StaffMember) -> None:
    with pytest.raises(CommandError, match="already has role clinician"):
        call_command("issue_api_token", clinician.user.username, "--role", "director")


@pytest.mark.parametrize(
    ("command", "arguments"),
    [
        ("issue_api_token", ["new.tech", "--role", "technician", "--lab", "Twin Lab"]),
        ("ruleset_import", ["README.md", "--lab", "Twin Lab"]),
        (
            "measuring_range_record",
            ["Twin Lab", "IL6", "--assay", "A", "--unit", "pg/mL", "--source", "package insert"],
        ),
    ],
)
def test_a_lab_name_two_labs_share_is_refused_never_guessed(
    command: str, arguments: list[str]
) -> None:
    first, second = make_lab(name="Twin Lab"), make_lab(name="Twin Lab")

    with pytest.raises(CommandError, match="more than one lab named 'Twin Lab'"):
        call_command(command, *arguments)

    assert not StaffMember.objects.filter(lab__in=[first, second]).exists()


def test_seed_demo_creates_one_user_per_role_and_prints_the_logins() -> None:
    out = io.StringIO()

    call_command("seed_demo", "--force-demo", stdout=out)
    call_command("seed_demo", "--force-demo", stdout=io.StringIO())

    roles = dict(StaffMember.objects.values_list("user__username", "role"))
    assert roles == {
        "lab.tech": "technician",
        "dr.house": "clinician",
        "interface.engine": "integrator",
        "lab.director": "director",
    }
    assert "dr.house" in out.getvalue()
    assert "labpanel-demo" in out.getvalue()
    # the demo lab states its generic plasma (the README's examples say "plasma"), once: a
    # director's later change is kept by the next seed
    setting = LabSpecimenSetting.objects.get()
    assert setting.plasma_anticoagulant == "plasma_heparin"
    setting.plasma_anticoagulant = "plasma_edta"
    setting.save()
    call_command("seed_demo", "--force-demo", stdout=io.StringIO())
    assert LabSpecimenSetting.objects.get().plasma_anticoagulant == "plasma_edta"


def test_admin_shows_reported_results_read_only(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    technician_client.post("/api/v1/panels/", panel_payload, format="json")
    result = Result.objects.first()
    assert result is not None
    admin = make_user("admin")
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client = APIClient()
    client.force_login(admin)

    page = client.get(f"/admin/panels/result/{result.pk}/change/")
    attempt = client.post(
        f"/admin/panels/result/{result.pk}/change/",
        {"raw_value": "99", "value": "99", "unit": "pg/mL"},
    )

    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert attempt.status_code == 403
    result.refresh_from_db()
    assert result.raw_value == "12.4"


def test_admin_adds_no_panel_and_no_result(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    """Panels and results come in through the submission path only: the admin offers no add
    page for them, and a result posted there is not added to a reported panel."""
    technician_client.post("/api/v1/panels/", panel_payload, format="json")
    panel = Panel.objects.get()
    admin = make_user("admin")
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client = APIClient()
    client.force_login(admin)

    assert client.get("/admin/panels/panel/add/").status_code == 403
    assert client.get("/admin/panels/result/add/").status_code == 403
    attempt = client.post(
        "/admin/panels/result/add/",
        {"panel": panel.pk, "position": 99, "raw_value": "5", "value": "5", "unit": "pg/mL"},
    )

    assert attempt.status_code == 403
    assert Result.objects.filter(panel=panel).count() == len(panel_payload["results"])


@pytest.mark.parametrize("days", ["0", "-3"])
def test_issue_api_token_refuses_a_token_that_never_expires(lab: Lab, days: str) -> None:
    with pytest.raises(CommandError, match="--expires-days must be 1 or more"):
        call_command("issue_api_token", "new.tech", "--role", "technician", "--expires-days", days)

    assert not AuthToken.objects.exists()


def test_issue_api_token_expires_after_the_configured_days(lab: Lab, settings: Any) -> None:
    settings.REST_KNOX = {**settings.REST_KNOX, "TOKEN_TTL": timedelta(days=7)}
    before = timezone.now()

    call_command("issue_api_token", "a.tech", "--role", "technician", stdout=io.StringIO())
    call_command(
        "issue_api_token",
        "b.tech",
        "--role",
        "technician",
        "--expires-days",
        "2",
        stdout=io.StringIO(),
    )

    by_user = dict(AuthToken.objects.values_list("user__username", "expiry"))
    assert before + timedelta(days=7) <= by_user["a.tech"] <= timezone.now() + timedelta(days=7)
    assert before + timedelta(days=2) <= by_user["b.tech"] <= timezone.now() + timedelta(days=2)


def test_seed_demo_on_a_real_database_creates_no_account_and_says_how_to_ask(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LABPANEL_DEMO", raising=False)
    out = io.StringIO()

    call_command("seed_demo", stdout=out)

    assert not StaffMember.objects.exists()
    assert not User.objects.filter(username__in=["lab.tech", "lab.director"]).exists()
    assert out.getvalue() == (
        "No demo accounts: their password is published, and this is not the embedded SQLite "
        "database (postgresql, from DATABASE_URL). Ask for them with "
        "`manage.py seed_demo --force-demo` or LABPANEL_DEMO=true.\n"
    )


def test_seed_demo_makes_the_demo_accounts_when_labpanel_demo_is_true(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LABPANEL_DEMO", "true")

    call_command("seed_demo", stdout=io.StringIO())

    assert StaffMember.objects.filter(user__username="lab.tech").exists()


@pytest.mark.parametrize(
    ("_case", "demo", "forced", "vendor", "made"),
    [
        ("embedded default", None, False, "sqlite", True),
        ("real database", None, False, "postgresql", False),
        ("real database, --force-demo", None, True, "postgresql", True),
        ("real database, LABPANEL_DEMO=true", "true", False, "postgresql", True),
        ("embedded, LABPANEL_DEMO=false", "false", False, "sqlite", False),
        ("LABPANEL_DEMO=false, --force-demo", "false", True, "postgresql", True),
    ],
)
def test_demo_accounts_are_made_only_where_asked_or_embedded(
    monkeypatch: pytest.MonkeyPatch,
    _case: str,
    demo: str | None,
    forced: bool,
    vendor: str,
    made: bool,
) -> None:
    if demo is None:
        monkeypatch.delenv("LABPANEL_DEMO", raising=False)
    else:
        monkeypatch.setenv("LABPANEL_DEMO", demo)

    refusal = demo_refusal(forced=forced, database_vendor=vendor)

    assert (refusal == "") is made
