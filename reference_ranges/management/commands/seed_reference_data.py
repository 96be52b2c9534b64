"""``manage.py seed_reference_data``: load the analyte catalogue and default ranges (idempotent)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from labpanel.exceptions import DomainError
from reference_ranges.services import analyte_catalogue_load, ruleset_seed_load


class Command(BaseCommand):
    help = "Load the analyte catalogue and the default reference-range set from the seed files."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            created, updated = analyte_catalogue_load()
            label, ruleset_created = ruleset_seed_load()
        except DomainError as error:
            details = "; ".join(str(item) for item in error.details)
            raise CommandError(
                f"{error.message}: {details}" if details else error.message
            ) from error
        self.stdout.write(f"Analytes: {created} created, {updated} updated")
        self.stdout.write(f"Rule set {label}: {'loaded' if ruleset_created else 'already loaded'}")
