"""The rule-set admin: a published set and its rules are read-only, a draft is editable."""

from __future__ import annotations

import pytest
from django.contrib.admin.sites import site
from django.contrib.auth.models import User
from django.test import RequestFactory

from reference_ranges.admin import RuleInline
from reference_ranges.models import ReferenceRangeRule, ReferenceRangeSet
from reference_ranges.services import ruleset_import
from tests.reference_ranges.helpers import document, rule

pytestmark = pytest.mark.django_db


def _may(ruleset: ReferenceRangeSet) -> dict[str, tuple[bool, bool]]:
    """(change, delete) for the set's admin, its first rule's admin and the inline of rules."""
    request = RequestFactory().get("/admin/")
    request.user = User.objects.create_superuser("admin", password="x")
    set_admin = site._registry[ReferenceRangeSet]
    rule_admin = site._registry[ReferenceRangeRule]
    inline = RuleInline(ReferenceRangeSet, site)
    first_rule = ruleset.rules.first()
    return {
        "set": (
            set_admin.has_change_permission(request, ruleset),
            set_admin.has_delete_permission(request, ruleset),
        ),
        "rule": (
            rule_admin.has_change_permission(request, first_rule),
            rule_admin.has_delete_permission(request, first_rule),
        ),
        "inline": (
            inline.has_change_permission(request, ruleset),
            inline.has_delete_permission(request, ruleset),
        ),
    }


def test_a_draft_and_its_rules_may_be_changed_and_deleted(reference_data: None) -> None:
    draft = ruleset_import(document=document(rule("IL6")), created_by=None).ruleset

    assert _may(draft) == {"set": (True, True), "rule": (True, True), "inline": (True, True)}


def test_a_published_set_and_its_rules_are_read_only(reference_data: None) -> None:
    published = ReferenceRangeSet.objects.get(key="labpanel-default", version="2026.1")

    assert _may(published) == {
        "set": (False, False),
        "rule": (False, False),
        "inline": (False, False),
    }
