"""Switching shipped pattern rules on and off, per lab or for the installation, with an audit trail.

The rules themselves are release data (``seed/pattern_rules.yaml``); what is stored is whether a
lab evaluates them. ``pattern_rule_defaults_sync`` (run by ``seed_reference_data``) gives every
shipped rule an installation-default setting equal to the file's flag, and follows the file
only while nobody has changed that default; it never touches a lab's setting.
``pattern_rule_setting_change`` is the one way a person changes a setting: a director for their
own lab, the installation's operator (a superuser, or the command line) for the default.
Switching on an unverified rule needs a reason. Every change, seeded or not, appends a
``PatternRuleSettingChange`` row: who, when, why, which rule version, on or off.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from labpanel.accounts import access
from labpanel.accounts.models import Lab
from labpanel.exceptions import Conflict, InvalidInput
from reference_ranges.engine.patterns import PatternRule
from reference_ranges.models import (
    PatternRuleChoice,
    PatternRuleSetting,
    PatternRuleSettingChange,
)
from reference_ranges.patterns import pattern_rule_get, pattern_rules_all

logger = logging.getLogger(__name__)

SEED_REASON = "shipped default (reference_ranges/seed/pattern_rules.yaml)"


@dataclass(frozen=True)
class PatternDefaultsSummary:
    created: int
    updated: int
    kept: int


# What a change row copies from its setting: every field of the choice they share.
_CHOICE_ATTRIBUTES = tuple(field.attname for field in PatternRuleChoice._meta.local_fields)


def _record_change(setting: PatternRuleSetting) -> None:
    change = PatternRuleSettingChange(
        setting=setting, **{name: getattr(setting, name) for name in _CHOICE_ATTRIBUTES}
    )
    change.full_clean(exclude=["setting"])
    change.save()


@transaction.atomic
def pattern_rule_defaults_sync() -> PatternDefaultsSummary:
    """Give each shipped rule an installation default equal to the file's ``enabled`` flag.

    Idempotent. A default nobody has changed (``changed_by`` empty) follows the file when a
    release changes the rule's version or flag; a default a person set is kept, as is every
    lab's setting. Returns how many defaults were created, updated and kept.
    """
    existing = {
        setting.rule_id: setting
        for setting in PatternRuleSetting.objects.installation_defaults().select_for_update()
    }
    created = updated = kept = 0
    now = timezone.now()
    for rule in pattern_rules_all():
        setting = existing.get(rule.id)
        if setting is None:
            setting = PatternRuleSetting(lab=None, rule_id=rule.id, changed_by=None)
            created += 1
        elif setting.changed_by_id is not None or (
            setting.rule_version == rule.version
            and setting.enabled == rule.enabled
            and setting.rule_verified == rule.verified
        ):
            kept += 1
            continue
        else:
            updated += 1
        setting.rule_version = rule.version
        setting.rule_verified = rule.verified
        setting.enabled = rule.enabled
        setting.reason = SEED_REASON
        setting.changed_at = now
        setting.full_clean(validate_constraints=False)
        setting.save()
        _record_change(setting)
    if created or updated:
        logger.info("pattern_rules.defaults_synced created=%d updated=%d", created, updated)
    return PatternDefaultsSummary(created=created, updated=updated, kept=kept)


def _rule_or_error(rule_id: str) -> PatternRule:
    rule = pattern_rule_get(rule_id)
    if rule is None:
        raise InvalidInput(
            f"unknown pattern rule {rule_id!r}",
            details=[{"field": "rule_id", "message": "not a shipped pattern rule"}],
        )
    return rule


def pattern_rule_change_check(
    *, rule_id: str, lab: Lab | None, enabled: bool, reason: str, changed_by: User | None
) -> PatternRule:
    """What :func:`pattern_rule_setting_change` checks before it writes; writes nothing.

    Returns the shipped rule; raises ``InvalidInput`` or ``NotAllowed``.
    """
    rule = _rule_or_error(rule_id)
    access.pattern_setting_change_check(changed_by, lab_id=None if lab is None else lab.pk)
    if enabled and not rule.verified and not reason.strip():
        raise InvalidInput(
            f"{rule.id} is UNVERIFIED: {rule.verification_note} Say why your lab switches it on.",
            details=[{"field": "reason", "message": "required to switch on an unverified rule"}],
        )
    return rule


@transaction.atomic
def _setting_store(
    *, rule: PatternRule, lab: Lab | None, enabled: bool, reason: str, changed_by: User | None
) -> PatternRuleSetting:
    scope = (
        PatternRuleSetting.objects.installation_defaults()
        if lab is None
        else PatternRuleSetting.objects.for_lab(lab.pk)
    )
    setting = scope.select_for_update().filter(rule_id=rule.id).first()
    if setting is None:
        setting = PatternRuleSetting(lab=lab, rule_id=rule.id)
    setting.rule_version = rule.version
    setting.rule_verified = rule.verified
    setting.enabled = enabled
    setting.reason = reason
    setting.changed_by = changed_by
    setting.changed_at = timezone.now()
    setting.full_clean(validate_constraints=False)
    setting.save()
    _record_change(setting)
    return setting


def pattern_rule_setting_change(
    *, rule_id: str, lab: Lab | None, enabled: bool, reason: str, changed_by: User | None
) -> PatternRuleSetting:
    """Switch the shipped rule ``rule_id`` on or off for ``lab`` (``None``: the installation
    default), for the rule's current version, and record who, when and why.

    ``changed_by`` must be a director of ``lab``; for the installation default a superuser, or
    ``None`` (the command line). Switching on an unverified rule needs a ``reason``. Raises
    ``InvalidInput`` (unknown rule, missing reason), ``NotAllowed``, ``Conflict`` (the same
    setting was created concurrently). Returns the setting.
    """
    rule = pattern_rule_change_check(
        rule_id=rule_id, lab=lab, enabled=enabled, reason=reason, changed_by=changed_by
    )
    try:
        setting = _setting_store(
            rule=rule, lab=lab, enabled=enabled, reason=reason.strip(), changed_by=changed_by
        )
    except IntegrityError as error:
        raise Conflict(
            f"{rule.id} was switched by someone else at the same moment; look at it again",
            details=[{"field": "rule_id", "message": "concurrent change"}],
        ) from error
    logger.info(
        "pattern_rule.switched rule_id=%s rule_version=%s lab_id=%s enabled=%s user_id=%s",
        rule.id,
        rule.version,
        None if lab is None else lab.pk,
        enabled,
        None if changed_by is None else changed_by.pk,
    )
    return setting
