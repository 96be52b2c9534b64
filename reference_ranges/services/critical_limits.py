"""A lab's own rule set carrying critical limits: none ship by default (a critical limit is a
lab's decision), so a lab copies the installation-wide active set, adds its limits with their
provenance in each rule's note, and publishes it as its own set through the ordinary import and
publish services. ``seed_demo`` does this for the demo lab (IL-6 critical high 5000 pg/mL, a
local laboratory limit)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User

from labpanel.accounts.models import Lab
from reference_ranges.models import ReferenceRangeSet
from reference_ranges.ruleset_format.text import decimal_text
from reference_ranges.selectors import ruleset_document_get, ruleset_get_active
from reference_ranges.services.rulesets import ruleset_import, ruleset_publish


def lab_critical_ruleset_publish(
    *,
    lab: Lab,
    director: User,
    key: str,
    name: str,
    critical_high: Mapping[tuple[str, str], Decimal],
    provenance: str,
) -> ReferenceRangeSet:
    """Publish, as ``director``, ``lab``'s own set ``key``: the installation-wide active set's
    rules with ``critical_high`` limits added (by (analyte code, unit)); ``provenance`` is
    appended to the note of every rule given a limit and to the set's description. The version
    is the copied set's. Raises ``LookupError`` when no installation-wide set is active, and
    what ``ruleset_import`` / ``ruleset_publish`` raise."""
    source = ruleset_get_active()
    if source is None:
        raise LookupError("no installation-wide rule set is active: run seed_reference_data")
    document: dict[str, Any] = ruleset_document_get(ruleset=source)
    document["ruleset"] = {
        **document["ruleset"],
        "key": key,
        "name": name,
        "effective_from": None,
        "description": (
            f"{source.name} v{source.version}, copied for {lab.name} with its critical limits. "
            f"{provenance}"
        ),
    }
    for rule in document["rules"]:
        limit = critical_high.get((rule["analyte"], rule["unit"]))
        if limit is not None:
            rule["critical_high"] = decimal_text(limit)
            rule["note"] = f"{rule['note']} {provenance}".strip()
    draft = ruleset_import(document=document, created_by=director, lab=lab).ruleset
    ruleset_publish(ruleset=draft, published_by=director)
    draft.refresh_from_db()
    return draft
