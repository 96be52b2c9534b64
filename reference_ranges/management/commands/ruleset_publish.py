"""``manage.py ruleset_publish KEY VERSION --as USERNAME [--effective-from DATE]``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from labpanel.accounts.management.arguments import user_find
from reference_ranges.management.commands._common import (
    domain_errors_readable,
    effective_from_parse,
    ruleset_arguments_add,
    ruleset_of,
    warnings_write,
)
from reference_ranges.services import ruleset_publish


class Command(BaseCommand):
    help = (
        "Publish a draft reference range set as a director: it becomes the active set of its "
        "scope from today and the previously active set is retired."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        ruleset_arguments_add(parser)
        parser.add_argument("--as", dest="username", required=True, help="A director's username")
        parser.add_argument("--effective-from", help="YYYY-MM-DD; must be today (the default)")

    def handle(self, *args: Any, **options: Any) -> None:
        ruleset = ruleset_of(options)
        user = user_find(options["username"])
        effective_from = effective_from_parse(options["effective_from"])
        with domain_errors_readable():
            outcome = ruleset_publish(
                ruleset=ruleset, published_by=user, effective_from=effective_from
            )
        published = outcome.ruleset
        self.stdout.write(
            f"Published {published.key} v{published.version} (id {published.pk}), "
            f"effective from {published.effective_from}"
        )
        if outcome.retired is not None:
            self.stdout.write(
                f"Retired {outcome.retired.key} v{outcome.retired.version} "
                f"(id {outcome.retired.pk})"
            )
        warnings_write(self.stdout, outcome.warnings)
