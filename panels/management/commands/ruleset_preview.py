"""``manage.py ruleset_preview KEY VERSION [--examples N]``: the impact preview, as text."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from panels.ruleset_impact import ImpactSide, ruleset_impact_preview
from reference_ranges.management.commands._common import (
    domain_errors_readable,
    ruleset_arguments_add,
    ruleset_of,
)


def _side(side: ImpactSide) -> str:
    return f"{side.code or 'no flag'} ({side.interval or 'no interval'}; {side.rule_key or '-'})"


class Command(BaseCommand):
    help = (
        "Dry run: re-interpret the stored results a set would judge and list every "
        "interpretation that would change. Writes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        ruleset_arguments_add(parser)
        parser.add_argument("--examples", type=int, default=20)

    def handle(self, *args: Any, **options: Any) -> None:
        ruleset = ruleset_of(options)
        with domain_errors_readable():
            preview = ruleset_impact_preview(candidate=ruleset, limit_examples=options["examples"])
        self.stdout.write(
            f"Impact of {preview.key} v{preview.version}: {preview.results_examined} results "
            f"in {preview.panels_examined} panels examined, {preview.unchanged} unchanged, "
            f"{preview.changed} changed"
        )
        for transition, count in preview.transitions.items():
            self.stdout.write(f"  {transition}: {count}")
        for example in preview.examples:
            self.stdout.write(
                f"  {example.accession} {example.analyte} {example.value} {example.unit}: "
                f"{_side(example.old)} -> {_side(example.new)}"
            )
