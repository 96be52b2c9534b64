"""``manage.py ruleset_publish KEY VERSION --as USERNAME [--effective-from DATE]``."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from labpanel.exceptions import DomainError
from reference_ranges.management.commands._common import command_error, ruleset_find, user_find
from reference_ranges.services import ruleset_publish


class Command(BaseCommand):
    help = (
        "Publish a draft reference range set as a director: it becomes the active set of its "
        "scope from today and the previously active set is retired."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("key")
        parser.add_argument("set_version", metavar="version")
        parser.add_argument("--as", dest="username", required=True, help="A director's username")
        parser.add_argument("--effective-from", help="YYYY-MM-DD; must be today (the default)")

    def handle(self, *args: Any, **options: Any) -> None:
        ruleset = ruleset_find(options["key"], options["set_version"])
        user = user_find(options["username"])
        effective_from = None
        if options["effective_from"]:
            try:
                effective_from = date.fromisoformat(options["effective_from"])
            except ValueError as error:
                raise CommandError("--effective-from: use YYYY-MM-DD") from error
        try:
            outcome = ruleset_publish(
                ruleset=ruleset, published_by=user, effective_from=effective_from
            )
        except DomainError as error:
            raise command_error(error) from error
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
        for warning in outcome.warnings:
            where = f"rule {warning['rule']}, " if warning["rule"] else ""
            self.stdout.write(f"Warning: {where}{warning['field']}: {warning['message']}")
