"""``manage.py measuring_range_record LAB ANALYTE --assay A [--lloq X] [--uloq Y] --unit U
--effective-from DATE --source TEXT [--as DIRECTOR]``: record an assay's measuring range."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from labpanel.accounts.management.arguments import lab_find, user_find
from reference_ranges.management.commands._common import (
    domain_errors_readable,
    effective_from_parse,
)
from reference_ranges.selectors import analyte_catalogue_get
from reference_ranges.services import measuring_range_record


def _decimal(option: str, text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation as error:
        raise CommandError(f"{option}: {text!r} is not a number") from error
    if not value.is_finite():
        raise CommandError(f"{option}: {text!r} is not a number")
    return value


class Command(BaseCommand):
    help = (
        "Record the measuring range (LLOQ and/or ULOQ) of one lab's assay for one analyte. "
        "Ranges are never edited: a later one supersedes it from its effective date."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("lab", help="The lab's name")
        parser.add_argument("analyte", help="Catalogue code, alias or LOINC, e.g. IL6")
        parser.add_argument("--assay", required=True, help="e.g. 'Roche Elecsys IL-6'")
        parser.add_argument("--lloq", help="Lower limit of quantitation, e.g. 1.5")
        parser.add_argument("--uloq", help="Upper limit of quantitation, e.g. 5000")
        parser.add_argument("--unit", required=True, help="One of the analyte's allowed units")
        parser.add_argument("--effective-from", help="YYYY-MM-DD, today or later (default today)")
        parser.add_argument("--source", required=True, help="Package insert, validation report")
        parser.add_argument("--as", dest="username", help="A director of the lab")

    def handle(self, *args: Any, **options: Any) -> None:
        lab = lab_find(options["lab"])
        analyte = analyte_catalogue_get().resolve(options["analyte"])
        if analyte is None:
            raise CommandError(f"unknown analyte {options['analyte']!r}")
        effective_from = effective_from_parse(options["effective_from"]) or timezone.localdate()
        user = user_find(options["username"]) if options["username"] else None
        with domain_errors_readable():
            measuring_range = measuring_range_record(
                lab=lab,
                analyte=analyte,
                assay=options["assay"],
                lloq=_decimal("--lloq", options["lloq"]),
                uloq=_decimal("--uloq", options["uloq"]),
                unit=options["unit"],
                effective_from=effective_from,
                source=options["source"],
                created_by=user,
            )
        self.stdout.write(
            f"Recorded measuring range {measuring_range.pk}: {analyte.code} {measuring_range.assay}"
            f" from {measuring_range.effective_from}"
        )
