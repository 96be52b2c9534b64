"""``manage.py panel_documents_write [--missing] [--batch N]``: write the panels API's stored
documents (``panels.documents``) of every panel, or with ``--missing`` of those without one
as they are now (panels stored before the read model, or changed by a writer that did not
write it). A panel without its document is answered from its records meanwhile, so this can
run at any time; each batch is its own transaction."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from panels.documents import panel_documents_write, panels_without_documents
from panels.models import Panel


class Command(BaseCommand):
    help = "Write the stored API documents of every panel (--missing: only those not current)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--missing", action="store_true", help="only panels without a current document"
        )
        parser.add_argument("--batch", type=int, default=200, help="panels per transaction")

    def handle(self, *args: Any, **options: Any) -> None:
        panels = panels_without_documents() if options["missing"] else Panel.objects.all()
        panel_ids = list(panels.order_by("pk").values_list("pk", flat=True))
        batch = max(1, options["batch"])
        written = 0
        for start in range(0, len(panel_ids), batch):
            with transaction.atomic():
                written += panel_documents_write(
                    panel_ids=panel_ids[start : start + batch], batch=True
                )
        self.stdout.write(f"wrote the documents of {written} panel(s)")
