"""Versioning: drafts, publishing (director only, today only), retirement, and immutability."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction

from labpanel.accounts.models import Lab, Role, StaffMember
from labpanel.exceptions import Conflict, InvalidInput, NotAllowed
from reference_ranges.models import ReferenceRangeRule, ReferenceRangeSet, RuleSetStatus
from reference_ranges.selectors import ruleset_get_active
from reference_ranges.services import (
    RulesetImmutable,
    ruleset_draft_create_from,
    ruleset_import,
    ruleset_publish,
    ruleset_rule_delete,
    ruleset_rule_update,
)
from reference_ranges.services import rulesets as rulesets_service
from tests.factories import make_lab, make_staff
from tests.reference_ranges.helpers import document, rule

pytestmark = pytest.mark.django_db
TODAY = date(2026, 12, 1)
NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen_clock() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def seeded(reference_data: None) -> ReferenceRangeSet:
    return ReferenceRangeSet.objects.get(key="labpanel-default", version="2026.1")


def lab_draft(lab: Lab | None, version: str = "1") -> ReferenceRangeSet:
    return ruleset_import(
        document=document(rule("IL6-ADULT", min_age=18)), created_by=None, lab=lab, version=version
    ).ruleset


def test_publishing_a_draft_makes_it_active_and_retires_the_set_it_supersedes(
    seeded: ReferenceRangeSet, director: StaffMember
) -> None:
    # given
    draft = ruleset_draft_create_from(source=seeded, version="2026.2", created_by=director.user)

    # when
    outcome = ruleset_publish(ruleset=draft, published_by=director.user)

    # then
    draft.refresh_from_db()
    seeded.refresh_from_db()
    assert (draft.status, draft.published_at, draft.published_by, draft.effective_from) == (
        RuleSetStatus.ACTIVE,
        NOW,
        director.user,
        TODAY,
    )
    assert (seeded.status, seeded.retired_at, seeded.superseded_by) == (
        RuleSetStatus.RETIRED,
        NOW,
        draft,
    )
    assert outcome.retired == seeded
    assert outcome.warnings == []
    assert ruleset_get_active() == draft
    assert (draft.created_by, draft.lab) == (director.user, None)


def test_a_labs_own_set_is_in_force_for_that_lab_only(
    seeded: ReferenceRangeSet, director: StaffMember
) -> None:
    other_lab = make_lab(name="Other Laboratory")
    draft = lab_draft(director.lab)

    outcome = ruleset_publish(ruleset=draft, published_by=director.user)

    assert outcome.retired is None
    assert ruleset_get_active(lab=director.lab) == draft
    assert ruleset_get_active(lab=other_lab) == seeded
    assert ruleset_get_active() == seeded
    seeded.refresh_from_db()
    assert seeded.status == RuleSetStatus.ACTIVE


def test_the_second_version_of_a_labs_set_retires_the_first(director: StaffMember) -> None:
    first = lab_draft(director.lab, version="1")
    ruleset_publish(ruleset=first, published_by=director.user)
    second = lab_draft(director.lab, version="2")

    outcome = ruleset_publish(ruleset=second, published_by=director.user)

    first.refresh_from_db()
    assert outcome.retired == first
    assert (first.status, first.superseded_by) == (RuleSetStatus.RETIRED, second)
    assert ruleset_get_active(lab=director.lab) == second


@pytest.mark.parametrize("scoped_to_lab", [True, False])
def test_the_database_refuses_two_active_sets_in_one_scope(
    seeded: ReferenceRangeSet, lab: Lab, scoped_to_lab: bool
) -> None:
    # given: the scope has its active set (the seeded one is the installation-wide set)
    scope_lab = lab if scoped_to_lab else None
    if scoped_to_lab:
        ReferenceRangeSet.objects.filter(pk=lab_draft(lab, version="1").pk).update(
            status=RuleSetStatus.ACTIVE, published_at=NOW, effective_from=TODAY
        )
    second = lab_draft(scope_lab, version="2")

    # when / then
    with pytest.raises(IntegrityError), transaction.atomic():
        ReferenceRangeSet.objects.filter(pk=second.pk).update(
            status=RuleSetStatus.ACTIVE, published_at=NOW, effective_from=TODAY
        )


def test_the_database_refuses_an_active_set_without_publication_dates(lab: Lab) -> None:
    draft = lab_draft(lab)

    with pytest.raises(IntegrityError), transaction.atomic():
        ReferenceRangeSet.objects.filter(pk=draft.pk).update(status=RuleSetStatus.ACTIVE)


@pytest.mark.parametrize("role", [Role.TECHNICIAN, Role.INTEGRATOR, Role.CLINICIAN])
def test_only_a_director_may_publish(seeded: ReferenceRangeSet, lab: Lab, role: str) -> None:
    staff = make_staff(username=f"staff-{role}", lab=lab, role=role)
    draft = lab_draft(lab)

    with pytest.raises(NotAllowed, match="only a lab director may"):
        ruleset_publish(ruleset=draft, published_by=staff.user)

    draft.refresh_from_db()
    assert draft.status == RuleSetStatus.DRAFT


def test_a_director_of_another_lab_may_not_publish_a_labs_set(director: StaffMember) -> None:
    other = make_staff(username="other.director", lab=make_lab(name="Other"), role=Role.DIRECTOR)
    draft = lab_draft(director.lab)

    with pytest.raises(NotAllowed, match="only a director of the set's own lab may manage it"):
        ruleset_publish(ruleset=draft, published_by=other.user)


@pytest.mark.parametrize(
    ("effective_from", "message"),
    [
        (
            date(2026, 12, 2),
            "publishing takes effect immediately; a future effective date (2026-12-02) cannot "
            "be scheduled — publish on that day instead",
        ),
        (
            date(2026, 11, 30),
            "publishing cannot take effect retroactively (2026-11-30): results stored before "
            "today were interpreted by the set then in force",
        ),
    ],
)
def test_publishing_takes_effect_today_only(
    director: StaffMember, effective_from: date, message: str
) -> None:
    draft = lab_draft(director.lab)

    with pytest.raises(InvalidInput) as error:
        ruleset_publish(ruleset=draft, published_by=director.user, effective_from=effective_from)

    assert error.value.details == [{"rule": None, "field": "effective_from", "message": message}]
    draft.refresh_from_db()
    assert draft.status == RuleSetStatus.DRAFT


def test_publishing_validates_the_set_like_an_import(director: StaffMember) -> None:
    # given: a draft edited into two overlapping rules
    draft = ruleset_import(
        document=document(rule("ADULT", min_age=18), rule("CHILD", max_age=18)),
        created_by=None,
        lab=director.lab,
    ).ruleset
    ruleset_rule_update(rule=draft.rules.get(key="CHILD"), data={"max_age": 19})

    # when
    with pytest.raises(InvalidInput) as error:
        ruleset_publish(ruleset=draft, published_by=director.user)

    # then
    assert error.value.details == [
        {
            "rule": "CHILD",
            "field": "partition",
            "message": "overlaps rule ADULT for IL6 in pg/mL (any sex, any specimen, ages 18 "
            "to <19 years): both would apply to one patient",
        }
    ]
    draft.refresh_from_db()
    assert draft.status == RuleSetStatus.DRAFT


def test_a_published_set_is_never_published_again(
    seeded: ReferenceRangeSet, director: StaffMember
) -> None:
    with pytest.raises(RulesetImmutable) as error:
        ruleset_publish(ruleset=seeded, published_by=director.user)

    assert error.value.code == "ruleset_immutable"


def test_editing_a_rule_of_a_published_set_is_refused(seeded: ReferenceRangeSet) -> None:
    published_rule = seeded.rules.get(key="ARUP-3002601-IL6")

    with pytest.raises(RulesetImmutable, match="published sets never change"):
        ruleset_rule_update(rule=published_rule, data={"high": Decimal("20")})
    with pytest.raises(RulesetImmutable):
        ruleset_rule_delete(rule=published_rule)

    assert ReferenceRangeRule.objects.get(pk=published_rule.pk).high == Decimal("2.5")


def test_a_draft_rule_can_be_edited_and_removed(seeded: ReferenceRangeSet) -> None:
    draft = ruleset_draft_create_from(source=seeded, version="2026.2", created_by=None)
    draft_rule = draft.rules.get(key="ARUP-3002601-IL6")

    ruleset_rule_update(rule=draft_rule, data={"high": Decimal("20"), "published_text": "≤20"})
    ruleset_rule_delete(rule=draft.rules.get(key="CCHMC-IL18"))

    draft_rule.refresh_from_db()
    assert (draft_rule.high, draft_rule.published_text) == (Decimal("20"), "≤20")
    assert draft.rules.count() == 17
    assert seeded.rules.get(key="ARUP-3002601-IL6").high == Decimal("2.5")


def test_a_draft_copy_keeps_the_scope_and_every_rule(seeded: ReferenceRangeSet) -> None:
    draft = ruleset_draft_create_from(source=seeded, version="2026.2", created_by=None)

    assert (draft.key, draft.version, draft.status, draft.lab, draft.panel_type) == (
        "labpanel-default",
        "2026.2",
        RuleSetStatus.DRAFT,
        None,
        "cytokine",
    )
    assert list(draft.rules.order_by("pk").values_list("key", "low", "high", "min_age")) == list(
        seeded.rules.order_by("pk").values_list("key", "low", "high", "min_age")
    )


def test_a_version_is_used_once(seeded: ReferenceRangeSet) -> None:
    with pytest.raises(InvalidInput) as error:
        ruleset_import(
            document=document(rule("A"), key="labpanel-default"), created_by=None, version="2026.1"
        )
    with pytest.raises(Conflict) as conflict:
        ruleset_draft_create_from(source=seeded, version="2026.1", created_by=None)

    assert error.value.details == [
        {
            "rule": None,
            "field": "ruleset.version",
            "message": "labpanel-default version 2026.1 already exists; import it under a new "
            "version",
        }
    ]
    assert conflict.value.details == [
        {"rule": None, "field": "version", "message": "already exists"}
    ]
    assert ReferenceRangeSet.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_publishes_in_one_scope_leave_exactly_one_active_set(
    reference_data: None, director: StaffMember
) -> None:
    # given: an active lab set and two drafts whose publishers both pass validation before
    # either reaches the active row
    ruleset_publish(ruleset=lab_draft(director.lab, version="1"), published_by=director.user)
    drafts = [lab_draft(director.lab, version="2"), lab_draft(director.lab, version="3")]
    both_validated = threading.Barrier(2, timeout=10)
    validate = rulesets_service.ruleset_document_check

    def validate_then_wait(*, document: Any) -> Any:
        outcome = validate(document=document)
        both_validated.wait()
        return outcome

    outcomes: dict[str, str] = {}

    def publish(draft: ReferenceRangeSet) -> None:
        try:
            ruleset_publish(ruleset=draft, published_by=director.user)
            outcomes[draft.version] = "published"
        except Conflict as error:
            outcomes[draft.version] = error.message
        finally:
            connection.close()

    # when
    with mock.patch.object(rulesets_service, "ruleset_document_check", validate_then_wait):
        threads = [threading.Thread(target=publish, args=(draft,)) for draft in drafts]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

    # then
    assert sorted(outcomes.values()) == [
        "another version was published in the same scope at the same time; review the active "
        "set and try again",
        "published",
    ]
    active = ReferenceRangeSet.objects.active().in_scope(
        lab_id=director.lab.pk, panel_type="cytokine"
    )
    assert [ruleset.version for ruleset in active] == [
        version for version, outcome in outcomes.items() if outcome == "published"
    ]
    first = ReferenceRangeSet.objects.get(version="1")
    assert (first.status, first.superseded_by) == (RuleSetStatus.RETIRED, active.get())
