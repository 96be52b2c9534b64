"""Loading the project's seed data (analyte catalogue, default rule set) idempotently.

A published rule set is immutable: loading a seed whose published version differs from the
stored one is an error (publish a new version instead), never a silent update. A seeded set is
created with the catalogue's molecular weights (so load the catalogue first); a set already
stored keeps the weights it was created with.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from django.db import transaction
from django.utils import timezone

from labpanel.exceptions import Conflict, InvalidInput
from reference_ranges.models import (
    Analyte,
    ReferenceRangeRule,
    ReferenceRangeSet,
    RuleSetStatus,
)
from reference_ranges.ruleset_format import RULE_VALUE_FIELDS, decimal_text
from reference_ranges.selectors import analyte_molecular_weights_get, analyte_name_key

logger = logging.getLogger(__name__)

SEED_DIR = Path(__file__).resolve().parent.parent / "seed"
ANALYTE_FIELDS = (
    "short_name",
    "name",
    "aliases",
    "family",
    "subfamily",
    "inflammatory_role",
    "role_verified",
    "role_note",
    "loinc",
    "loinc_verified",
    "other_codes",
    "canonical_unit",
    "allowed_units",
    "molecular_weight_kda",
)
RULE_FIELDS = RULE_VALUE_FIELDS
_DECIMAL_FIELDS = {"low", "high", "critical_low", "critical_high", "molecular_weight_kda"}


@dataclass(frozen=True)
class SeedSummary:
    analytes_created: int
    analytes_updated: int
    ruleset: str
    ruleset_created: bool


def _load_yaml(path: Path) -> Any:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 - safe loader


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _check_alias_collisions(entries: list[dict[str, Any]]) -> None:
    owners: dict[str, str] = {}
    problems = []
    for entry in entries:
        names = [entry["code"], entry["short_name"], entry["name"], *entry.get("aliases", [])]
        if entry.get("loinc"):
            names.append(entry["loinc"])
        for name in names:
            key = analyte_name_key(name)
            owner = owners.setdefault(key, entry["code"])
            if owner != entry["code"]:
                problems.append(f"{name!r} names both {owner} and {entry['code']}")
    if problems:
        raise InvalidInput("analyte names are ambiguous", details=problems)


@transaction.atomic
def analyte_catalogue_load(*, path: Path = SEED_DIR / "analytes.yaml") -> tuple[int, int]:
    """Create or update catalogue rows from ``path``; returns (created, updated)."""
    entries = _load_yaml(path)["analytes"]
    _check_alias_collisions(entries)
    created = updated = 0
    for entry in entries:
        values = {field: entry.get(field) for field in ANALYTE_FIELDS}
        values["molecular_weight_kda"] = _decimal(values["molecular_weight_kda"])
        values["subfamily"] = values["subfamily"] or ""
        values["role_note"] = values["role_note"] or ""
        values["loinc"] = values["loinc"] or ""
        notes = [entry.get("loinc_source") or ""]
        values["source_note"] = "; ".join(note for note in notes if note)
        analyte = Analyte.objects.filter(code=entry["code"]).first()
        if analyte is None:
            analyte = Analyte(code=entry["code"], **values)
            analyte.full_clean()
            analyte.save()
            created += 1
            continue
        changed = [field for field, value in values.items() if getattr(analyte, field) != value]
        if changed:
            for field in changed:
                setattr(analyte, field, values[field])
            analyte.full_clean()
            analyte.save(update_fields=[*changed, "updated_at"])
            updated += 1
    return created, updated


def _rule_values(rule: dict[str, Any]) -> dict[str, Any]:
    values = {field: rule.get(field) for field in RULE_FIELDS}
    for field in _DECIMAL_FIELDS & values.keys():
        values[field] = _decimal(values[field])
    for field in ("sex", "test_code", "test_name", "method", "citation", "published_text", "note"):
        values[field] = values[field] or ""
    for field in ("low_inclusive", "high_inclusive", "verified"):
        values[field] = True if values[field] is None else bool(values[field])
    values["age_unit"] = values["age_unit"] or "years"
    values["specimen_types"] = values["specimen_types"] or None
    return values


def _stored_rule_values(rule: ReferenceRangeRule) -> dict[str, Any]:
    return {field: getattr(rule, field) for field in RULE_FIELDS}


@transaction.atomic
def ruleset_seed_load(*, path: Path = SEED_DIR / "default_ranges.yaml") -> tuple[str, bool]:
    """Load the seed rule set at ``path`` as a published set; idempotent.

    Returns (label, created). Raises ``Conflict`` when a stored published set with the same key
    and version differs from the file, and ``InvalidInput`` when a rule names an unknown analyte.
    """
    document = _load_yaml(path)
    meta = document["ruleset"]
    rules = document["rules"]
    label = f"{meta['key']} v{meta['version']}"
    analytes = {analyte.code: analyte for analyte in Analyte.objects.all()}
    unknown = sorted({rule["analyte"] for rule in rules} - analytes.keys())
    if unknown:
        raise InvalidInput(f"{label}: unknown analytes", details=unknown)

    existing = ReferenceRangeSet.objects.filter(key=meta["key"], version=meta["version"]).first()
    if existing is not None:
        stored = {rule.key: rule for rule in existing.rules.select_related("analyte")}
        differences = sorted(set(stored) ^ {rule["key"] for rule in rules})
        for rule in rules:
            row = stored.get(rule["key"])
            if row is not None and (
                row.analyte.code != rule["analyte"]
                or _stored_rule_values(row) != _rule_values(rule)
            ):
                differences.append(rule["key"])
        if differences:
            raise Conflict(
                f"{label} is already stored and differs from the seed file; "
                "published rule sets never change — give the file a new version",
                details=differences,
            )
        return label, False

    has_active = (
        ReferenceRangeSet.objects.active()
        .in_scope(lab_id=None, panel_type=meta["panel_type"])
        .exists()
    )
    ruleset = ReferenceRangeSet(
        key=meta["key"],
        name=meta["name"],
        version=str(meta["version"]),
        panel_type=meta["panel_type"],
        description=meta.get("description", "").strip(),
        effective_from=meta.get("effective_from"),
        status=RuleSetStatus.DRAFT if has_active else RuleSetStatus.ACTIVE,
        published_at=None if has_active else timezone.now(),
        molecular_weights={
            code: decimal_text(weight)
            for code, weight in sorted(analyte_molecular_weights_get().items())
        },
    )
    ruleset.full_clean()
    ruleset.save()
    rows = []
    for rule in rules:
        row = ReferenceRangeRule(
            ruleset=ruleset,
            key=rule["key"],
            analyte=analytes[rule["analyte"]],
            **_rule_values(rule),
        )
        row.full_clean()
        rows.append(row)
    ReferenceRangeRule.objects.bulk_create(rows)
    logger.info(
        "ruleset.seeded key=%s version=%s rules=%d", ruleset.key, ruleset.version, len(rows)
    )
    return label, True
