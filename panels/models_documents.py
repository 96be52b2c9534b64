"""The panels API's stored documents (the read model, issue 14): per panel, the detail document
the API serves for it (``GET /api/v1/panels/{id}/``, less what changes without the panel: its
reports, aggregated when read) and its summary in the list (``GET /api/v1/panels/``).

Written only by ``panels.documents.panel_documents_write``, in the transaction of every change
to what they show. Each row names the ``updated_at`` of the panel and of its patient it was
written from, and when the analyte catalogue it was written from last changed (its results show
the analytes' names, which the admin and ``seed_reference_data`` may change): a row whose panel,
patient or catalogue changed since (a writer that did not write it) is not served, the panel is
built from its records as before, so a stored document is never served stale. Imported by
``panels.models`` so that Django finds the model.
"""

from __future__ import annotations

from typing import Any

import orjson
from django.db import models
from psycopg.types.json import Json

from labpanel.db import QuickLoadModel


def _compact(value: Any) -> bytes:
    """``value`` as compact JSON in its own key order (keys that are not text, as
    ``json.dumps`` writes them)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


class StoredJSONField(models.JSONField):
    """A JSON document kept as the text it was written as: PostgreSQL's ``json`` type rather
    than ``jsonb`` (elsewhere, what ``JSONField`` uses). The documents are read whole as text
    (``panels.intake.selectors``), never searched inside: ``jsonb`` made PostgreSQL rebuild
    each document's text at every read (its cast to text cost the list of 50 about a quarter
    of its statement, bench/panel_read.py), where ``json`` hands over the stored text.

    Written as compact JSON in the document's own key order (orjson: a ``json`` parameter,
    stored as sent), so that the API can splice the stored text into its answer instead of
    parsing it and writing it again (``panels.documents.answer_spliced``). Rows written before
    (``JSONField``'s way: a ``jsonb`` parameter cast to ``json``, keys in ``jsonb``'s order,
    spaces after separators) are still read, by parsing them."""

    def db_type(self, connection: Any) -> str | None:
        if connection.vendor == "postgresql":
            return "json"
        return super().db_type(connection)

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if connection.vendor != "postgresql":
            return super().get_db_prep_value(value, connection, prepared)
        if not prepared:
            value = self.get_prep_value(value)
        return Json(value, dumps=_compact)

    def get_placeholder(self, value: Any, compiler: Any, connection: Any) -> str:
        """``%s``, as for any field. Defined so that Django's PostgreSQL bulk insert (the
        documents' upsert, ``panels.documents.panel_documents_write``) sends each document as
        a parameter of its own (``VALUES``) instead of one array per column (``UNNEST``, which
        Django skips for fields with a placeholder of their own): psycopg writes an array as
        one text literal in Python, escaping every quote of every document in it. That was
        half of writing the documents of 4,000 imported panels: 12.4-12.9 -> 6.9-7.2 s CPU."""
        return "%s"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is not None and not isinstance(value, str):
            return value  # psycopg parses ``json`` itself (Django turns that off for jsonb only)
        return super().from_db_value(value, expression, connection)


class PanelDocument(QuickLoadModel):
    panel = models.OneToOneField(
        "panels.Panel", on_delete=models.CASCADE, primary_key=True, related_name="document"
    )
    detail = StoredJSONField(
        help_text="The panel's API document as its lab's staff read it, without its reports"
    )
    summary = StoredJSONField(help_text="The panel's summary in the API's list, without reports")
    panel_updated_at = models.DateTimeField(help_text="The panel's updated_at it was written from")
    patient_updated_at = models.DateTimeField(
        help_text="The patient's updated_at it was written from"
    )
    catalogue_updated_at = models.DateTimeField(
        null=True,
        help_text=(
            "When the analyte catalogue it was written from last changed (its results show the "
            "analytes' names); empty: not known"
        ),
    )
    written_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Documents of panel {self.panel_id}"
