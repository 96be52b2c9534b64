"""What a preview rests on: a hash of every database fact the staged file depends on.

Computed at validation and again, under lock, at commit: equal means the preview is still exactly
what would be stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from django.utils import timezone

from labpanel.accounts import access
from labpanel.accounts.models import Lab
from panels.intake.imports.conclusions import history_fingerprint
from panels.intake.imports.staged_file import (
    StagedKeys,
)
from panels.models import (
    Panel,
    Patient,
)
from reference_ranges.patterns import pattern_rules_enabled
from reference_ranges.selectors import (
    measuring_ranges_active,
    ruleset_get_active,
)


def basis_of(*, lab: Lab, keys: StagedKeys) -> str:
    """A hash of every database fact the staged lines rest on. Equal at commit means the
    preview is still exactly what would be stored: the same active rule set, pattern rules and
    measuring ranges, the same matched patients with the same history, no new patient's MRN
    and no accession taken meanwhile (in the lab: MRNs and accessions are the lab's own), the
    same clinicians still active."""
    digest = hashlib.sha256()

    def add(*parts: object) -> None:
        digest.update(repr(parts).encode())

    ruleset = ruleset_get_active(lab=lab)
    add("ruleset", ruleset.pk if ruleset else None, ruleset.version if ruleset else None)
    add("patterns", sorted((r.id, r.version) for r in pattern_rules_enabled(lab_id=lab.pk)))
    ranges = measuring_ranges_active(lab_id=lab.pk, on=timezone.localdate())
    add("ranges", sorted(facts.id for facts in ranges.values()))
    matched, new_mrns, accessions = keys.matched, keys.new_mrns, keys.accessions
    for chunk in _chunks(matched):
        add(
            "matched",
            list(
                Patient.objects.filter(pk__in=chunk)
                .order_by("pk")
                .values_list(
                    "pk", "lab_id", "mrn", "family_name", "given_name", "birth_date", "sex"
                )
            ),
        )
    add("history", history_fingerprint(patient_ids=matched))
    for chunk in _chunks(new_mrns):
        add(
            "mrns taken",
            sorted(Patient.objects.filter(lab=lab, mrn__in=chunk).values_list("mrn", flat=True)),
        )
    for chunk in _chunks(accessions):
        add(
            "accessions taken",
            sorted(
                Panel.objects.filter(lab=lab, accession__in=chunk).values_list(
                    "accession", flat=True
                )
            ),
        )
    clinicians = keys.clinicians
    add(
        "clinicians",
        sorted(
            access.ordering_clinicians(lab_id=lab.pk)
            .filter(user_id__in=clinicians)
            .values_list("user_id", flat=True)
        ),
    )
    return digest.hexdigest()


def _chunks(values: Sequence[Any], size: int = 5000) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
