"""Rule-set versioning: import drafts, copy a set into a draft, edit drafts, publish.

A set is a draft until a director publishes it. Publishing validates the set exactly as import
does, makes it active from today and retires the set it supersedes (same lab and panel type) in
one transaction; the database's partial unique constraints guarantee one active set per scope
even under concurrent publishes. Published sets never change: editing one is ``RulesetImmutable``.

A new set keeps the molecular weights its document names, or, when the document names none,
the catalogue's at that moment; a copy keeps its source's.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from labpanel.accounts import access
from labpanel.accounts.models import Lab
from labpanel.exceptions import Conflict, InvalidInput
from reference_ranges.models import (
    Analyte,
    ReferenceRangeRule,
    ReferenceRangeSet,
    RuleSetStatus,
    SpecimenType,
)
from reference_ranges.ruleset_format import (
    RULE_VALUE_FIELDS,
    Problem,
    RulesetSpec,
    ValidationOutcome,
    decimal_text,
    document_validate,
    problems_as_details,
)
from reference_ranges.selectors import (
    analyte_molecular_weights_get,
    analyte_units_get,
    ruleset_document_get,
)

logger = logging.getLogger(__name__)

EDITABLE_RULE_FIELDS = RULE_VALUE_FIELDS


class RulesetImmutable(Conflict):
    """The set is published (active or retired): publish a new version instead of editing."""

    code = "ruleset_immutable"


@dataclass(frozen=True)
class RulesetImportOutcome:
    ruleset: ReferenceRangeSet
    warnings: list[dict[str, str | None]]


@dataclass(frozen=True)
class RulesetPublishOutcome:
    ruleset: ReferenceRangeSet
    retired: ReferenceRangeSet | None
    warnings: list[dict[str, str | None]]


def ruleset_document_check(*, document: Any) -> ValidationOutcome:
    """Validate an exchange document against the catalogue and the known specimen types."""
    return document_validate(
        document,
        analytes=analyte_units_get(),
        specimen_types=SpecimenType.values,
        molecular_weights=analyte_molecular_weights_get(),
    )


def problems_error(problems: list[Problem]) -> InvalidInput:
    """The ``InvalidInput`` naming every problem: details ``[{"rule", "field", "message"}]``."""
    count = len(problems)
    return InvalidInput(
        f"the reference range set has {count} problem{'s' if count != 1 else ''}",
        details=problems_as_details(problems),
    )


def _with_version(document: Any, version: str | None) -> Any:
    if version is None or not isinstance(document, Mapping):
        return document
    header = document.get("ruleset")
    if not isinstance(header, Mapping):
        return document
    return {**document, "ruleset": {**header, "version": version}}


def _draft_create(
    *, spec: RulesetSpec, lab: Lab | None, created_by: User | None
) -> ReferenceRangeSet:
    weights = (
        tuple(analyte_molecular_weights_get().items())
        if spec.molecular_weights is None
        else spec.molecular_weights
    )
    ruleset = ReferenceRangeSet(
        key=spec.key,
        name=spec.name,
        version=spec.version,
        panel_type=spec.panel_type,
        description=spec.description,
        lab=lab,
        created_by=created_by,
        status=RuleSetStatus.DRAFT,
        molecular_weights={code: decimal_text(weight) for code, weight in sorted(weights)},
    )
    ruleset.full_clean()
    ruleset.save()
    analytes = {analyte.code: analyte for analyte in Analyte.objects.all()}
    rows = []
    for rule in spec.rules:
        row = ReferenceRangeRule(
            ruleset=ruleset,
            key=rule.key,
            analyte=analytes[rule.analyte],
            **{n: getattr(rule, n) for n in EDITABLE_RULE_FIELDS if n != "specimen_types"},
            specimen_types=list(rule.specimen_types) if rule.specimen_types else None,
        )
        # The document checks already cover keys, bounds and ages; the database enforces them.
        row.full_clean(exclude=["ruleset", "analyte"], validate_constraints=False)
        rows.append(row)
    ReferenceRangeRule.objects.bulk_create(rows)
    return ruleset


def ruleset_import(
    *,
    document: Any,
    created_by: User | None,
    lab: Lab | None = None,
    version: str | None = None,
    installation_wide_allowed: bool = True,
) -> RulesetImportOutcome:
    """Store ``document`` (parsed YAML/JSON) as a new draft set for ``lab`` (None: installation).

    ``version`` replaces the document's version (to re-import an export as a new version).
    ``created_by`` (None for the operator's command line) must be a director of ``lab``. Raises
    ``InvalidInput`` naming every problem at once (details: ``{"rule", "field", "message"}``),
    ``NotAllowed``, ``Conflict`` (a concurrent import took the key and version). Returns the
    draft and the warnings (age gaps; an ``effective_from`` that publishing will replace).
    """
    if created_by is not None:
        access.ruleset_manager_check(
            user=created_by,
            lab_id=None if lab is None else lab.pk,
            installation_wide_allowed=installation_wide_allowed,
        )
    document = _with_version(document, version)
    outcome = ruleset_document_check(document=document)
    errors = list(outcome.errors)
    header = document.get("ruleset") if isinstance(document, Mapping) else None
    if isinstance(header, Mapping):
        key, version_text = header.get("key"), header.get("version")
        if (
            isinstance(key, str)
            and isinstance(version_text, str)
            and ReferenceRangeSet.objects.filter(key=key, version=version_text).exists()
        ):
            errors.append(
                Problem(
                    rule=None,
                    field="ruleset.version",
                    message=f"{key} version {version_text} already exists; "
                    "import it under a new version",
                )
            )
    if errors or outcome.spec is None:
        raise problems_error(errors)
    spec = outcome.spec
    warnings = list(outcome.warnings)
    if spec.effective_from is not None:
        warnings.insert(
            0,
            Problem(
                rule=None,
                field="ruleset.effective_from",
                message="not used: a set takes effect on the day a director publishes it",
            ),
        )
    try:
        with transaction.atomic():
            ruleset = _draft_create(spec=spec, lab=lab, created_by=created_by)
    except IntegrityError as error:
        raise Conflict(
            f"{spec.key} version {spec.version} was stored by a concurrent import",
            details=[{"rule": None, "field": "ruleset.version", "message": "already exists"}],
        ) from error
    logger.info(
        "ruleset.imported ruleset_id=%s key=%s version=%s rules=%d",
        ruleset.pk,
        ruleset.key,
        ruleset.version,
        len(spec.rules),
    )
    return RulesetImportOutcome(ruleset=ruleset, warnings=problems_as_details(warnings))


def ruleset_draft_create_from(
    *, source: ReferenceRangeSet, version: str, created_by: User | None
) -> ReferenceRangeSet:
    """Copy ``source`` (any status) into a new draft ``version`` of the same key and scope.

    Raises ``NotAllowed`` (``created_by`` is not a director of the set's lab), ``InvalidInput``
    (bad version), ``Conflict`` (the version exists).
    """
    if created_by is not None:
        access.ruleset_manager_check(created_by, lab_id=source.lab_id)
    if not version or len(version) > 32:
        raise InvalidInput(
            "a version is 1 to 32 characters",
            details=[{"rule": None, "field": "version", "message": "1 to 32 characters"}],
        )
    conflict = Conflict(
        f"{source.key} version {version} already exists",
        details=[{"rule": None, "field": "version", "message": "already exists"}],
    )
    if ReferenceRangeSet.objects.filter(key=source.key, version=version).exists():
        raise conflict
    document = _with_version(ruleset_document_get(ruleset=source), version)
    outcome = ruleset_document_check(document=document)
    if outcome.spec is None:
        raise problems_error(outcome.errors)
    try:
        with transaction.atomic():
            draft = _draft_create(spec=outcome.spec, lab=source.lab, created_by=created_by)
    except IntegrityError as error:
        raise conflict from error
    return draft


def _draft_locked(ruleset_id: int) -> ReferenceRangeSet:
    ruleset = ReferenceRangeSet.objects.select_for_update().get(pk=ruleset_id)
    if ruleset.status != RuleSetStatus.DRAFT:
        raise RulesetImmutable(
            f"{ruleset.key} v{ruleset.version} is {ruleset.status}: published sets never "
            "change; copy it into a new draft version and publish that",
            details=[{"rule": None, "field": "status", "message": ruleset.status}],
        )
    return ruleset


def ruleset_rule_update(*, rule: ReferenceRangeRule, data: Mapping[str, Any]) -> ReferenceRangeRule:
    """Change fields of a draft set's rule. Raises ``RulesetImmutable`` for a published set,
    ``InvalidInput`` for fields that are not editable, ``ValidationError`` for bad values.
    The whole set is validated again when it is published.
    """
    unknown = sorted(set(data) - set(EDITABLE_RULE_FIELDS))
    if unknown:
        raise InvalidInput(
            "these rule fields cannot be edited",
            details=[
                {"rule": rule.key, "field": name, "message": "not editable"} for name in unknown
            ],
        )
    with transaction.atomic():
        _draft_locked(rule.ruleset_id)
        for name, value in data.items():
            setattr(rule, name, value)
        rule.full_clean()
        rule.save(update_fields=list(data))
    return rule


@transaction.atomic
def ruleset_rule_delete(*, rule: ReferenceRangeRule) -> None:
    """Remove a rule from a draft set; ``RulesetImmutable`` for a published set."""
    _draft_locked(rule.ruleset_id)
    rule.delete()


def _effective_date_check(effective_from: date | None) -> date:
    today = timezone.localdate()
    if effective_from is None or effective_from == today:
        return today
    if effective_from > today:
        message = (
            f"publishing takes effect immediately; a future effective date ({effective_from}) "
            f"cannot be scheduled — publish on that day instead"
        )
    else:
        message = (
            f"publishing cannot take effect retroactively ({effective_from}): results stored "
            "before today were interpreted by the set then in force"
        )
    raise InvalidInput(
        message, details=[{"rule": None, "field": "effective_from", "message": message}]
    )


def ruleset_publish(
    *,
    ruleset: ReferenceRangeSet,
    published_by: User,
    effective_from: date | None = None,
    installation_wide_allowed: bool = True,
) -> RulesetPublishOutcome:
    """Make the draft ``ruleset`` the active set of its scope (lab, panel type) from today.

    ``published_by`` must be a director of the set's lab (any director for an installation-wide
    set unless ``installation_wide_allowed`` is False). ``effective_from`` defaults to today;
    any other date is refused (no scheduling, no back-dating). The set is validated as an import
    would be. In one transaction the previously active set of the scope is retired, with
    ``retired_at`` and ``superseded_by`` recorded, and this one becomes active with
    ``published_at``/``published_by``/``effective_from``.

    Raises ``NotAllowed``, ``InvalidInput`` (effective date, validation problems),
    ``RulesetImmutable`` (not a draft), ``Conflict`` (a concurrent publish in the same scope).
    """
    access.ruleset_manager_check(
        user=published_by,
        lab_id=ruleset.lab_id,
        installation_wide_allowed=installation_wide_allowed,
    )
    effective = _effective_date_check(effective_from)
    try:
        with transaction.atomic():
            draft = _draft_locked(ruleset.pk)
            outcome = ruleset_document_check(document=ruleset_document_get(ruleset=draft))
            if outcome.errors:
                raise problems_error(outcome.errors)
            # Lock the row being superseded: a concurrent publisher waits here, then finds it
            # retired (no longer matching) and fails on the unique constraint instead of
            # silently superseding a set it never previewed against.
            previous = (
                ReferenceRangeSet.objects.select_for_update()
                .active()
                .in_scope(lab_id=draft.lab_id, panel_type=draft.panel_type)
                .first()
            )
            now = timezone.now()
            if previous is not None:
                previous.status = RuleSetStatus.RETIRED
                previous.retired_at = now
                previous.superseded_by = draft
                previous.save(update_fields=["status", "retired_at", "superseded_by", "updated_at"])
            draft.status = RuleSetStatus.ACTIVE
            draft.published_at = now
            draft.published_by = published_by
            draft.effective_from = effective
            # The one-active-set constraints are left to the database: a concurrent publish
            # must surface as IntegrityError (-> Conflict), not as a validation message.
            draft.full_clean(validate_constraints=False)
            draft.save(
                update_fields=[
                    "status",
                    "published_at",
                    "published_by",
                    "effective_from",
                    "updated_at",
                ]
            )
    except IntegrityError as error:
        raise Conflict(
            "another version was published in the same scope at the same time; "
            "review the active set and try again",
            details=[{"rule": None, "field": "status", "message": "concurrent publish"}],
        ) from error
    logger.info(
        "ruleset.published ruleset_id=%s key=%s version=%s retired_ruleset_id=%s",
        draft.pk,
        draft.key,
        draft.version,
        None if previous is None else previous.pk,
    )
    return RulesetPublishOutcome(
        ruleset=draft, retired=previous, warnings=problems_as_details(outcome.warnings)
    )
