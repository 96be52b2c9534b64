"""Input and output shapes of the imports API."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework import serializers

from panels.intake.imports.services import FORMATS
from panels.models import ImportJob, ImportProblem

PROBLEMS_INLINE = 100


class ImportCreateInput(serializers.Serializer[Any]):
    file = serializers.FileField(
        allow_empty_file=True, help_text="The file as exported (CSV, xPONENT, Bio-Plex, MSD)"
    )
    manifest = serializers.FileField(
        required=False,
        allow_empty_file=True,
        help_text="For instrument exports: CSV mapping each sample ID to accession and patient",
    )
    default_unit = serializers.CharField(
        required=False,
        max_length=16,
        help_text="The unit of every value the file gives without one (MSD Discovery "
        "Workbench exports carry none), e.g. pg/mL; it is still checked per analyte",
    )
    format = serializers.ChoiceField(
        choices=FORMATS, required=False, help_text="Detected from the content when omitted"
    )


class ImportProblemOutput(serializers.ModelSerializer[ImportProblem]):
    row = serializers.IntegerField(allow_null=True)
    column = serializers.SerializerMethodField()

    class Meta:
        model = ImportProblem
        fields = ("source", "row", "column", "severity", "code", "message")
        read_only_fields = fields

    def get_column(self, problem: ImportProblem) -> str | None:
        return problem.column or None


class ImportJobOutput(serializers.ModelSerializer[ImportJob]):
    id = serializers.UUIDField(source="uuid")
    created_by = serializers.CharField(source="created_by.username")
    progress = serializers.SerializerMethodField()
    problems = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        fields = (
            "id",
            "status",
            "status_message",
            "format",
            "filename",
            "sha256",
            "size_bytes",
            "manifest_filename",
            "manifest_sha256",
            "encoding",
            "progress",
            "summary",
            "problem_count",
            "error_count",
            "problems",
            "created_by",
            "created_at",
            "committed_at",
            "links",
        )
        read_only_fields = fields

    def get_progress(self, job: ImportJob) -> dict[str, int | None]:
        return {"rows_processed": job.rows_processed, "rows_total": job.rows_total}

    def get_problems(self, job: ImportJob) -> list[dict[str, Any]]:
        """The first problems inline; all of them at ``links.problems``."""
        problems = job.problems.order_by("position")[:PROBLEMS_INLINE]
        return [dict(ImportProblemOutput(problem).data) for problem in problems]

    def get_links(self, job: ImportJob) -> dict[str, str]:
        request = self.context.get("request")

        def url(name: str) -> str:
            path = reverse(f"api:import-{name}", args=[str(job.uuid)])
            return request.build_absolute_uri(path) if request else path

        return {
            "self": url("detail"),
            "problems": url("problems"),
            "preview": url("preview"),
            "commit": url("commit"),
            "abandon": url("abandon"),
            "file": url("file"),
        }
