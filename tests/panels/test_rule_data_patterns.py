"""Pattern rules a lab switches on or off: which findings the next submitted panel gets.

Through the submission API (as in test_submit_api.py), with the switches made by the service the
admin calls; the seeding of the installation defaults from pattern_rules.yaml; the audit trail.
"""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from labpanel.accounts.models import Lab, Role, StaffMember
from labpanel.exceptions import InvalidInput, NotAllowed
from reference_ranges.models import PatternRuleSetting, PatternRuleSettingChange
from reference_ranges.patterns import pattern_rules_all, pattern_rules_enabled
from reference_ranges.services import pattern_rule_defaults_sync, pattern_rule_setting_change
from reference_ranges.services.pattern_settings import SEED_REASON
from tests.factories import make_lab, make_staff, make_user

pytestmark = pytest.mark.django_db

URL = "/api/v1/panels/"
SHIPPED_ON = ["HLH_2004", "HSCORE_2014", "ASTCT_2019_CRS_GRADE"]
STORM = [
    {"analyte": "IL-6", "value": "100", "unit": "pg/mL"},
    {"analyte": "IL-8", "value": "60", "unit": "pg/mL"},
    {"analyte": "TNF-α", "value": "40", "unit": "pg/mL"},
]


def submit(client: APIClient, payload: dict[str, Any], accession: str) -> dict[str, Any]:
    response = client.post(
        URL, {**payload, "accession": accession, "results": STORM}, format="json"
    )
    assert response.status_code == 201, response.json()
    body: dict[str, Any] = response.json()
    return body


def findings_of(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {finding["rule_id"]: finding for finding in body["findings"]}


def test_a_panel_gets_the_findings_of_the_rules_shipped_enabled(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    pattern_rule_defaults_sync()

    body = submit(technician_client, panel_payload, "A-1")

    assert list(findings_of(body)) == SHIPPED_ON
    assert "HEROLD_2020_IL6_CRP" not in findings_of(body)


def test_herold_is_off_for_every_lab_that_had_it_on_for_the_version_shipped_enabled(
    technician_client: APIClient, panel_payload: dict[str, Any], director: StaffMember
) -> None:
    # given: existing data from the release that shipped Herold 2026.1 enabled
    pattern_rule_defaults_sync()
    PatternRuleSetting.objects.filter(rule_id="HEROLD_2020_IL6_CRP").update(
        rule_version="2026.1", enabled=True
    )
    PatternRuleSetting.objects.create(
        lab=director.lab,
        rule_id="HEROLD_2020_IL6_CRP",
        rule_version="2026.1",
        rule_verified=True,
        enabled=True,
        changed_by=director.user,
        changed_at=director.created_at,
    )

    # when
    pattern_rule_defaults_sync()
    body = submit(technician_client, panel_payload, "A-1")

    # then
    assert "HEROLD_2020_IL6_CRP" not in findings_of(body)
    assert "HEROLD_2020_IL6_CRP" not in [rule.id for rule in pattern_rules_enabled()]


def test_switching_on_an_unverified_rule_gives_the_next_panel_its_finding_labelled_unverified(
    technician_client: APIClient, panel_payload: dict[str, Any], director: StaffMember
) -> None:
    # given
    before = submit(technician_client, panel_payload, "A-1")

    # when
    pattern_rule_setting_change(
        rule_id="DEL_VALLE_2020",
        lab=director.lab,
        enabled=True,
        reason="COVID-19 admissions: local protocol uses the Del Valle strata",
        changed_by=director.user,
    )
    after = submit(technician_client, panel_payload, "A-2")

    # then
    assert "DEL_VALLE_2020" not in findings_of(before)
    del_valle = findings_of(after)["DEL_VALLE_2020"]
    assert (del_valle["status"], del_valle["verified"]) == ("met", False)
    assert del_valle["verification_note"].startswith("UNVERIFIED")
    assert list(findings_of(after)) == [*SHIPPED_ON, "DEL_VALLE_2020"]


def test_switching_a_rule_off_for_one_lab_leaves_other_labs_with_the_default(
    technician_client: APIClient, panel_payload: dict[str, Any], director: StaffMember
) -> None:
    # given
    other_lab = make_lab(name="Other Laboratory")
    pattern_rule_defaults_sync()

    # when
    pattern_rule_setting_change(
        rule_id="HSCORE_2014",
        lab=director.lab,
        enabled=False,
        reason="adult CAR-T unit: HLH-2004 only",
        changed_by=director.user,
    )
    body = submit(technician_client, panel_payload, "A-1")

    # then
    assert "HSCORE_2014" not in findings_of(body)
    assert [rule.id for rule in pattern_rules_enabled(lab_id=other_lab.pk)] == SHIPPED_ON
    assert [rule.id for rule in pattern_rules_enabled()] == SHIPPED_ON


def test_a_lab_setting_wins_over_the_installation_default_which_wins_over_the_file(
    director: StaffMember,
) -> None:
    operator = make_user("operator")
    operator.is_superuser = True
    operator.save()
    lab_id = director.lab.pk

    pattern_rule_setting_change(
        rule_id="HSCORE_2014", lab=None, enabled=False, reason="not used here", changed_by=operator
    )
    assert "HSCORE_2014" not in [rule.id for rule in pattern_rules_enabled(lab_id=lab_id)]

    pattern_rule_setting_change(
        rule_id="HSCORE_2014", lab=director.lab, enabled=True, reason="", changed_by=director.user
    )
    assert "HSCORE_2014" in [rule.id for rule in pattern_rules_enabled(lab_id=lab_id)]
    assert "HSCORE_2014" not in [rule.id for rule in pattern_rules_enabled()]


def test_a_setting_made_for_another_rule_version_no_longer_applies(
    director: StaffMember,
) -> None:
    # given: the lab switched HLH-2004 off for a version the release no longer ships
    setting = pattern_rule_setting_change(
        rule_id="HLH_2004",
        lab=director.lab,
        enabled=False,
        reason="",
        changed_by=director.user,
    )
    PatternRuleSetting.objects.filter(pk=setting.pk).update(rule_version="2025.1")

    # then: the shipped flag decides until the lab reviews the new version
    enabled = [rule.id for rule in pattern_rules_enabled(lab_id=director.lab.pk)]
    assert "HLH_2004" in enabled


def test_switching_on_an_unverified_rule_needs_a_reason_and_changes_nothing_without(
    director: StaffMember,
) -> None:
    with pytest.raises(InvalidInput) as error:
        pattern_rule_setting_change(
            rule_id="HAY_2017",
            lab=director.lab,
            enabled=True,
            reason="  ",
            changed_by=director.user,
        )

    assert error.value.details == [
        {"field": "reason", "message": "required to switch on an unverified rule"}
    ]
    assert error.value.message.startswith("HAY_2017 is UNVERIFIED")
    assert PatternRuleSetting.objects.count() == 0
    assert PatternRuleSettingChange.objects.count() == 0


@pytest.mark.parametrize("role", [Role.TECHNICIAN, Role.CLINICIAN, Role.INTEGRATOR])
def test_only_the_labs_director_switches_its_rules(lab: Lab, role: str) -> None:
    staff = make_staff(username=f"staff-{role}", lab=lab, role=role)
    other_director = make_staff(username="other-director", lab=make_lab(), role=Role.DIRECTOR)

    for user in (staff.user, other_director.user):
        with pytest.raises(NotAllowed):
            pattern_rule_setting_change(
                rule_id="HEROLD_2020_IL6_CRP", lab=lab, enabled=False, reason="", changed_by=user
            )

    assert PatternRuleSetting.objects.count() == 0


def test_a_director_cannot_change_the_installation_default(director: StaffMember) -> None:
    with pytest.raises(NotAllowed):
        pattern_rule_setting_change(
            rule_id="HEROLD_2020_IL6_CRP",
            lab=None,
            enabled=False,
            reason="",
            changed_by=director.user,
        )


def test_every_switch_is_audited_with_who_when_why(director: StaffMember) -> None:
    for enabled, reason in ((True, "trial protocol 7"), (False, "trial closed")):
        pattern_rule_setting_change(
            rule_id="DAVILA_2014_FOLD_RISE",
            lab=director.lab,
            enabled=enabled,
            reason=reason,
            changed_by=director.user,
        )

    setting = PatternRuleSetting.objects.get(lab=director.lab, rule_id="DAVILA_2014_FOLD_RISE")
    history = list(setting.changes.order_by("pk"))
    assert [(change.enabled, change.reason, change.changed_by) for change in history] == [
        (True, "trial protocol 7", director.user),
        (False, "trial closed", director.user),
    ]
    assert all(
        (change.rule_version, change.rule_verified) == ("2026.1", False) for change in history
    )
    assert history[0].changed_at <= history[1].changed_at == setting.changed_at
    assert (setting.enabled, setting.reason) == (False, "trial closed")


def test_seeding_creates_the_installation_defaults_from_the_file(reference_data: None) -> None:
    summary = pattern_rule_defaults_sync()

    defaults = {
        setting.rule_id: setting for setting in PatternRuleSetting.objects.installation_defaults()
    }
    assert (summary.created, summary.updated, summary.kept) == (7, 0, 0)
    assert {rule_id: setting.enabled for rule_id, setting in defaults.items()} == {
        rule.id: rule.enabled for rule in pattern_rules_all()
    }
    assert {rule_id for rule_id, setting in defaults.items() if not setting.rule_verified} == {
        "DAVILA_2014_FOLD_RISE",
        "HAY_2017",
        "DEL_VALLE_2020",
    }
    assert all(
        setting.changed_by is None and setting.reason == SEED_REASON
        for setting in defaults.values()
    )
    assert PatternRuleSettingChange.objects.count() == 7


def test_seeding_again_keeps_every_choice_a_person_made(director: StaffMember) -> None:
    # given
    pattern_rule_defaults_sync()
    operator = make_user("operator")
    operator.is_superuser = True
    operator.save()
    pattern_rule_setting_change(
        rule_id="HLH_2004", lab=None, enabled=False, reason="adult ward", changed_by=operator
    )
    pattern_rule_setting_change(
        rule_id="HAY_2017",
        lab=director.lab,
        enabled=True,
        reason="CAR-T unit",
        changed_by=director.user,
    )
    changes = PatternRuleSettingChange.objects.count()

    # when
    summary = pattern_rule_defaults_sync()

    # then
    assert (summary.created, summary.updated, summary.kept) == (0, 0, 7)
    assert (
        PatternRuleSetting.objects.installation_defaults().get(rule_id="HLH_2004").enabled is False
    )
    assert PatternRuleSetting.objects.for_lab(director.lab.pk).get(rule_id="HAY_2017").enabled
    assert PatternRuleSettingChange.objects.count() == changes


def test_an_untouched_default_follows_the_file_when_a_release_changes_the_rule(
    reference_data: None,
) -> None:
    pattern_rule_defaults_sync()
    PatternRuleSetting.objects.filter(rule_id="HLH_2004").update(
        rule_version="2025.1", enabled=False
    )

    summary = pattern_rule_defaults_sync()

    hlh = PatternRuleSetting.objects.get(rule_id="HLH_2004")
    assert (summary.created, summary.updated) == (0, 1)
    assert (hlh.rule_version, hlh.enabled) == ("2026.2", True)
