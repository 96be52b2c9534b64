"""``manage.py seed_reference_data``: load the analyte catalogue, the default ranges and the
installation defaults of the pattern rules (idempotent; a lab's pattern-rule choices are kept)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from labpanel.exceptions import DomainError
from reference_ranges.services import (
    analyte_catalogue_load,
    pattern_rule_defaults_sync,
    ruleset_seed_load,
)


class Command(BaseCommand):
    help = (
        "Load the analyte catalogue, the default reference-range set and the pattern rules' "
        "installation defaults from the seed files."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            created, updated = analyte_catalogue_load()
            label, ruleset_created = ruleset_seed_load()
            patterns = pattern_rule_defaults_sync()
        except DomainError as error:
            details = "; ".join(str(item) for item in error.details)
            raise CommandError(
                f"{error.message}: {details}" if details else error.message
            ) from error
        self.stdout.write(f"Analytes: {created} created, {updated} updated")
        self.stdout.write(f"Rule set {label}: {'loaded' if ruleset_created else 'already loaded'}")
        self.stdout.write(
            f"Pattern rule defaults: {patterns.created} created, {patterns.updated} updated, "
            f"{patterns.kept} kept"
        )
