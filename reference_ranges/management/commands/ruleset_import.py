"""``manage.py ruleset_import FILE [--lab NAME] [--version V] [--as USERNAME]``: a new draft."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from labpanel.accounts.management.arguments import lab_find, user_find
from reference_ranges.management.commands._common import (
    VersionOptionCommand,
    domain_errors_readable,
    warnings_write,
)
from reference_ranges.ruleset_format import DocumentFormat, document_load
from reference_ranges.services import ruleset_import


class Command(VersionOptionCommand):
    help = (
        "Import a YAML or JSON reference range set (docs/ruleset-format.md) as a draft: "
        "installation-wide, or for one lab with --lab. Every problem is reported at once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--lab", help="Lab name; default: the installation-wide scope")
        parser.add_argument("--version", dest="set_version", help="Replace the file's version")
        parser.add_argument(
            "--as", dest="username", help="Record this director as the draft's creator"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"no file {path}")
        lab = lab_find(options["lab"]) if options["lab"] else None
        created_by = user_find(options["username"]) if options["username"] else None
        document_format: DocumentFormat = "json" if path.suffix.lower() == ".json" else "yaml"
        with domain_errors_readable():
            document = document_load(path.read_bytes(), document_format=document_format)
            outcome = ruleset_import(
                document=document,
                created_by=created_by,
                lab=lab,
                version=options["set_version"],
            )
        ruleset = outcome.ruleset
        scope = f"lab {lab.name}" if lab is not None else "installation-wide"
        self.stdout.write(
            f"Imported draft {ruleset.key} v{ruleset.version} (id {ruleset.pk}, "
            f"{ruleset.rules.count()} rules, {scope})"
        )
        warnings_write(self.stdout, outcome.warnings)
