"""The FHIR server's stored resources (its read model, issue 15): per report, its
DiagnosticReport and the Observations of the results it links (as the Bundle entries a search
with ``_include`` answers, compressed), as the JSON text the server answers, so that a search
splices the texts into its Bundle instead of reading the records and building every resource
again.

Written only by ``reports.fhir.stored``, after a read built them from the records. Each row
names what it was built from, its ``stamp`` (``reports.fhir.stored.stamp_of``), and whether a
later report of its panel existed then (``superseded``: a report then links the results it was
issued with, not the current ones). A row whose stamp or ``superseded`` is not the records' is
not served: the resources are built from the records again, so a stored resource is never
served stale. The stamp is made of:

- the ``written_at`` of the panel's stored API document
  (``panels.models_documents.PanelDocument``), which every change to the panel rewrites in its
  own transaction (submission, review, release, amendment, a patient's change); nothing is
  served from here for a panel whose document is not current;
- the performing lab's ``updated_at`` (its name and address are shown);
- the analyte catalogue's last ``updated_at`` (an analyte's names and verified LOINC code are
  shown);
- the fingerprint of the code that builds the resources (``reports.fhir.stored.FORMAT``): a
  release that writes them differently rebuilds them.

Imported by ``reports.models`` so that Django finds the model.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from labpanel.db import QuickLoadModel


class JSONTextField(models.TextField[str, str]):
    """JSON kept as the text the server writes: read back as text, spliced, never parsed.

    ``get_placeholder`` (``%s``, as for any field) so that Django's PostgreSQL bulk insert
    sends each text as a parameter of its own (``VALUES``) rather than one array per column
    (``UNNEST``, which psycopg writes as one literal, escaping every quote in Python: see
    ``panels.models_documents.StoredJSONField``)."""

    def get_placeholder(self, value: Any, compiler: Any, connection: Any) -> str:
        return "%s"


class StoredDiagnosticReport(QuickLoadModel):
    report = models.OneToOneField(
        "reports.Report", on_delete=models.CASCADE, primary_key=True, related_name="fhir_stored"
    )
    stamp = models.CharField(
        max_length=200,
        help_text=(
            "What it was built from: the code, the panel's API document, the lab and the "
            "analyte catalogue"
        ),
    )
    superseded = models.BooleanField(help_text="Whether a later report of its panel existed")
    history_dependent = models.BooleanField(
        help_text=(
            "Whether its findings are measured against an earlier panel (a reader not shown that "
            "panel is shown them otherwise: such a reader's is built from the records)"
        )
    )
    resource = JSONTextField(
        help_text=(
            "The report's DiagnosticReport, compact JSON, without its presentedForm (added when "
            "read: the PDF's URL is the request's), its findings as the lab's staff read them"
        )
    )
    result_ids = models.JSONField(help_text="The ids of the results it links, in order")
    included = models.BinaryField(
        help_text=(
            "The Bundle entries of those results' Observations, in that order, as a search with "
            "_include answers them, comma-separated, compressed with zstd "
            "(reports.fhir.stored.entries_pack); their fullUrl's base left as a mark"
        )
    )
    included_ends = models.JSONField(
        help_text="Where each entry ends in the uncompressed entries (bytes)"
    )
    written_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"DiagnosticReport of report {self.report_id}"
