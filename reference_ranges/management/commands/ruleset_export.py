"""``manage.py ruleset_export KEY [--version V] [--format yaml|json] [-o FILE]``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from reference_ranges.management.commands._common import VersionOptionCommand, ruleset_find
from reference_ranges.models import ReferenceRangeSet
from reference_ranges.selectors import ruleset_export


class Command(VersionOptionCommand):
    help = (
        "Write a reference range set as a YAML or JSON document (docs/ruleset-format.md). "
        "Without --version, the installation-wide active version of KEY."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("key")
        parser.add_argument("--version", dest="set_version", help="Default: the active version")
        parser.add_argument("--format", choices=["yaml", "json"], default="yaml")
        parser.add_argument("-o", "--output", help="File to write; default standard output")

    def handle(self, *args: Any, **options: Any) -> None:
        key: str = options["key"]
        if options["set_version"]:
            ruleset = ruleset_find(key, options["set_version"])
        else:
            active = list(ReferenceRangeSet.objects.active().filter(key=key).order_by("pk"))
            if len(active) != 1:
                raise CommandError(
                    f"{key} has {len(active)} active versions; name one with --version"
                )
            ruleset = active[0]
        text = ruleset_export(ruleset=ruleset, document_format=options["format"])
        if options["output"]:
            Path(options["output"]).write_text(text, encoding="utf-8")
            self.stderr.write(f"Wrote {ruleset.key} v{ruleset.version} to {options['output']}")
        else:
            self.stdout.write(text, ending="")
