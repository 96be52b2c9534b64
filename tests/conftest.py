"""Shared fixtures: seeded reference data, a lab with one user per role, token clients."""

from __future__ import annotations

import copy
import shutil
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from labpanel.accounts.models import Lab, Role, StaffMember, TokenScope
from labpanel.accounts.services import api_token_issue
from reference_ranges import adapters
from reference_ranges.models import Analyte, ReferenceRangeSet
from reference_ranges.services import analyte_catalogue_load, ruleset_seed_load
from tests.factories import make_lab, make_staff

EXAMPLE_PANEL: dict[str, Any] = {
    "accession": "A-1001",
    "patient": {
        "mrn": "MRN-77",
        "family_name": "Doe",
        "given_name": "Jane",
        "birth_date": "1980-04-02",
        "sex": "female",
    },
    "specimen": {"type": "plasma", "collected_at": "2026-11-20T08:30:00Z"},
    "ordering_clinician": "dr.house",
    "results": [
        {"analyte": "IL-6", "value": "12.4", "unit": "pg/mL"},
        {"analyte": "TNFA", "value": "<2.0", "unit": "pg/mL"},
    ],
}


@pytest.fixture
def panel_payload() -> dict[str, Any]:
    """A fresh deep copy of the issue's example submission, safe to modify."""
    return copy.deepcopy(EXAMPLE_PANEL)


def _load_reference_data() -> None:
    adapters.clear_cache()
    analyte_catalogue_load()
    ruleset_seed_load()


def _other_sessions_ended(timeout: float = 10.0) -> None:
    """End every other session on the test database, and wait until they are gone.

    The end-to-end tests kill workers and listeners mid-stream. Threads that have finished also
    keep their connections. PostgreSQL refuses to ``DROP DATABASE`` while any session is open,
    so the test database would stay behind, with a warning. This runs at the very end, when no
    test needs those sessions any more."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    others = "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT pg_terminate_backend(pid) {others}")
        while time.monotonic() < deadline:
            cursor.execute(f"SELECT count(*) {others}")
            if cursor.fetchone() == (0,):
                return
            time.sleep(0.05)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """Seed the catalogue and default ranges once; tests roll back around them. At the end,
    the test database's other sessions are ended so that it can be dropped."""
    with django_db_blocker.unblock():
        _load_reference_data()
    yield
    with django_db_blocker.unblock():
        _other_sessions_ended()


@pytest.fixture
def reference_data(db: None) -> None:
    """The seeded reference data (reloaded if a transactional test flushed the database)."""
    if not Analyte.objects.exists():
        _load_reference_data()


@pytest.fixture
def lab(db: None) -> Lab:
    return make_lab(name="Test Laboratory", address="10 Bench Street, Labtown")


def _member(lab: Lab, username: str, role: str) -> StaffMember:
    return make_staff(username=username, lab=lab, role=role)


@pytest.fixture
def technician(lab: Lab) -> StaffMember:
    return _member(lab, "tech", Role.TECHNICIAN)


@pytest.fixture
def clinician(lab: Lab) -> StaffMember:
    return _member(lab, "dr.house", Role.CLINICIAN)


@pytest.fixture
def other_clinician(lab: Lab) -> StaffMember:
    return _member(lab, "dr.wilson", Role.CLINICIAN)


@pytest.fixture
def director(lab: Lab) -> StaffMember:
    return _member(lab, "director", Role.DIRECTOR)


@pytest.fixture
def integrator(lab: Lab) -> StaffMember:
    return _member(lab, "engine", Role.INTEGRATOR)


def token_client(staff: StaffMember) -> APIClient:
    """A client with a token carrying every scope: what it may do is its role's to decide
    (``access``); scopes are tested on their own (tests/api/test_token_scopes.py)."""
    client = APIClient()
    token = api_token_issue(user=staff.user, expires_in=None, scopes=TokenScope.values)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.fixture
def technician_client(
    reference_data: None, technician: StaffMember, clinician: StaffMember
) -> APIClient:
    return token_client(technician)


@pytest.fixture
def director_browser(reference_data: None, director: StaffMember) -> Client:
    """The lab's director logged in to the admin (a staff user)."""
    director.user.is_staff = True
    director.user.save()
    client = Client()
    client.force_login(director.user)
    return client


@pytest.fixture(scope="session", autouse=True)
def _temporary_folders_removed() -> Iterator[None]:
    """tests/settings.py gives each run fresh media and static folders; remove them after."""
    yield
    shutil.rmtree(Path(settings.MEDIA_ROOT).parent, ignore_errors=True)


# --- Critical results (tests/panels/test_critical_*.py) ---------------------------------------


@pytest.fixture
def critical_limits(reference_data: None, lab: Lab, director: StaffMember) -> ReferenceRangeSet:
    """The lab's own set: the default intervals with IL-6 critical high 5000 pg/mL."""
    from reference_ranges.services.critical_limits import lab_critical_ruleset_publish

    return lab_critical_ruleset_publish(
        lab=lab,
        director=director.user,
        key=f"lab-{lab.pk}-critical",
        name="Test Laboratory intervals",
        critical_high={("IL6", "pg/mL"): Decimal("5000")},
        provenance="IL-6 critical high 5000 pg/mL: a local laboratory limit.",
    )


@pytest.fixture
def reachable_clinician(clinician: StaffMember) -> StaffMember:
    """The ordering clinician (dr.house) with a name and an email address."""
    clinician.user.email = "house@example.org"
    clinician.user.first_name, clinician.user.last_name = "Gregory", "House"
    clinician.user.save()
    return clinician
