"""The admin where a lab director switches pattern rules and records measuring ranges."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine
from django.test import Client

from labpanel.accounts.models import StaffMember
from reference_ranges.models import (
    Analyte,
    AssayMeasuringRange,
    PatternRuleSetting,
    PatternRuleSettingChange,
)
from reference_ranges.services import pattern_rule_defaults_sync
from tests.factories import make_lab, make_staff

pytestmark = pytest.mark.django_db

SETTINGS_URL = "/admin/reference_ranges/patternrulesetting/"
RANGES_URL = "/admin/reference_ranges/assaymeasuringrange/"


@pytest.fixture(autouse=True)
def _frozen_clock() -> Iterator[None]:
    with time_machine.travel(datetime(2026, 12, 1, 9, 30, tzinfo=UTC), tick=False):
        yield


def test_a_director_switches_on_an_unverified_rule_only_with_a_reason_and_is_warned(
    director_browser: Client, director: StaffMember
) -> None:
    form = {"lab": director.lab.pk, "rule_id": "HAY_2017", "enabled": "on", "reason": ""}

    refused = director_browser.post(f"{SETTINGS_URL}add/", form)

    assert refused.status_code == 200
    assert "HAY_2017 is UNVERIFIED" in refused.content.decode()
    assert PatternRuleSetting.objects.count() == 0

    accepted = director_browser.post(
        f"{SETTINGS_URL}add/", {**form, "reason": "CAR-T unit, early-warning study"}, follow=True
    )

    assert accepted.status_code == 200
    page = accepted.content.decode()
    assert "HAY_2017 is UNVERIFIED and is now switched on" in page
    setting = PatternRuleSetting.objects.get()
    assert (setting.lab, setting.enabled, setting.rule_verified) == (director.lab, True, False)
    change = PatternRuleSettingChange.objects.get()
    assert (change.changed_by, change.reason) == (director.user, "CAR-T unit, early-warning study")


def test_the_choices_and_the_list_show_which_rules_are_unverified(
    director_browser: Client, director: StaffMember
) -> None:
    add_page = director_browser.get(f"{SETTINGS_URL}add/").content.decode()
    assert "DEL_VALLE_2020 v2026.2 — Del Valle 2020 admission IL-6 / IL-8 / TNF-α (UNVERIFIED)" in (
        add_page
    )
    assert (
        "HEROLD_2020_IL6_CRP v2026.2 — Herold 2020: predictors of the need for mechanical "
        "ventilation in hospitalised COVID-19 (IL-6, CRP) (verified)"
    ) in add_page
    director_browser.post(
        f"{SETTINGS_URL}add/",
        {"lab": director.lab.pk, "rule_id": "DEL_VALLE_2020", "enabled": "on", "reason": "COVID"},
    )
    setting = PatternRuleSetting.objects.get()

    listing = director_browser.get(SETTINGS_URL).content.decode()
    detail = director_browser.get(f"{SETTINGS_URL}{setting.pk}/change/").content.decode()

    assert "UNVERIFIED — findings are labelled unverified" in listing
    assert "Del Valle DM et al. Nat Med 2020" in detail  # the citation
    assert "History (who, when, why)" in detail


def test_a_director_toggles_an_existing_setting_and_each_change_is_kept(
    director_browser: Client, director: StaffMember
) -> None:
    director_browser.post(
        f"{SETTINGS_URL}add/",
        {"lab": director.lab.pk, "rule_id": "HEROLD_2020_IL6_CRP", "reason": "not COVID"},
    )
    setting = PatternRuleSetting.objects.get()

    director_browser.post(
        f"{SETTINGS_URL}{setting.pk}/change/", {"enabled": "on", "reason": "COVID ward opened"}
    )

    setting.refresh_from_db()
    assert setting.enabled is True
    assert list(setting.changes.order_by("pk").values_list("enabled", "reason")) == [
        (False, "not COVID"),
        (True, "COVID ward opened"),
    ]


def test_a_director_sees_and_changes_only_their_own_labs_settings(
    director_browser: Client, director: StaffMember
) -> None:
    pattern_rule_defaults_sync()
    other_lab = make_lab(name="Other Laboratory")
    other_director = make_staff(username="other-director", lab=other_lab, role="director")
    from reference_ranges.services import pattern_rule_setting_change

    other = pattern_rule_setting_change(
        rule_id="HLH_2004", lab=other_lab, enabled=False, reason="", changed_by=other_director.user
    )

    assert director_browser.get(SETTINGS_URL).content.decode().count("HLH_2004") == 0
    assert director_browser.get(f"{SETTINGS_URL}{other.pk}/change/").status_code == 302
    refused = director_browser.post(
        f"{SETTINGS_URL}add/", {"lab": other_lab.pk, "rule_id": "HLH_2004", "reason": "x"}
    )
    assert refused.status_code == 200  # the form: the other lab is not a choice
    assert PatternRuleSetting.objects.for_lab(director.lab.pk).count() == 0
    # the installation defaults are the operator's
    default = PatternRuleSetting.objects.installation_defaults().first()
    assert default is not None
    assert director_browser.get(f"{SETTINGS_URL}{default.pk}/change/").status_code == 302


def test_settings_are_never_deleted(director_browser: Client, director: StaffMember) -> None:
    director_browser.post(
        f"{SETTINGS_URL}add/",
        {"lab": director.lab.pk, "rule_id": "HEROLD_2020_IL6_CRP", "reason": "x"},
    )
    setting = PatternRuleSetting.objects.get()

    response = director_browser.post(f"{SETTINGS_URL}{setting.pk}/delete/", {"post": "yes"})

    assert response.status_code == 403
    assert PatternRuleSetting.objects.count() == 1


def test_a_director_records_a_measuring_range_which_is_then_read_only(
    director_browser: Client, director: StaffMember
) -> None:
    il6 = Analyte.objects.get(code="IL6")
    form = {
        "lab": director.lab.pk,
        "analyte": il6.pk,
        "assay": "Beckman Access IL-6",
        "lloq": "2",
        "uloq": "1500",
        "unit": "pg/mL",
        "effective_from": "2026-12-01",
        "source": "Access IL-6 IFU (EUA)",
    }

    bad = director_browser.post(f"{RANGES_URL}add/", {**form, "lloq": "2000"})
    assert bad.status_code == 200
    assert "ULOQ 1500 must be above LLOQ 2000" in bad.content.decode()
    director_browser.post(f"{RANGES_URL}add/", form)

    stored = AssayMeasuringRange.objects.get()
    assert (stored.lloq, stored.uloq, stored.created_by) == (
        Decimal("2"),
        Decimal("1500"),
        director.user,
    )
    director_browser.post(f"{RANGES_URL}{stored.pk}/change/", {**form, "uloq": "9999"})
    stored.refresh_from_db()
    assert stored.uloq == Decimal("1500")
    again = director_browser.post(f"{RANGES_URL}add/", form)
    assert "already starts on or after this day" in again.content.decode()
    assert AssayMeasuringRange.objects.count() == 1


def test_a_technician_has_no_lab_configuration_admin(reference_data: None, lab: object) -> None:
    technician = make_staff(username="tech-staff", lab=lab, role="technician")  # type: ignore[arg-type]
    technician.user.is_staff = True
    technician.user.save()
    client = Client()
    client.force_login(technician.user)

    assert client.get(SETTINGS_URL).status_code == 403
    assert client.get(RANGES_URL).status_code == 403
