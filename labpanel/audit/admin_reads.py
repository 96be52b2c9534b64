"""Recording admin reads of patient-bearing rows in the read audit: a mixin for a ``ModelAdmin``.

The class names where each id lives on its rows (``read_audit_paths``: attribute paths such as
``"panel.patient_id"`` for ``patient``, ``panel``, ``report``, ``import_job`` and ``lab``). The
change view (and the history and delete views, which show the row too) records the one row it
showed; the changelist records ONE entry with the ids of the rows on the page. Each after the
page's data is chosen, before the response is returned; the channel is ``admin``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse

from labpanel.audit.services import read_record


def _attribute(obj: Any, path: str) -> int | None:
    value = obj
    for name in path.split("."):
        value = getattr(value, name, None)
        if value is None:
            return None
    return int(value)


class ReadAuditedAdmin:
    """Mix into a ``ModelAdmin`` (before it) whose rows carry patient data."""

    # Where each subject's id is read on a row, e.g. {"patient": "patient_id", "panel": "pk",
    # "lab": "lab_id"}; subjects not named are not recorded.
    read_audit_paths: Mapping[str, str] = {}

    def _read_audit_record(self, request: HttpRequest, rows: Iterable[Any]) -> None:
        rows = list(rows)
        paths = self.read_audit_paths

        def ids(subject: str) -> list[int | None]:
            path = paths.get(subject)
            return [_attribute(row, path) for row in rows] if path else []

        labs = [lab for lab in ids("lab") if lab is not None]
        import_jobs = [job for job in ids("import_job") if job is not None]
        read_record(
            request=request,
            patient_ids=ids("patient"),
            panel_ids=ids("panel"),
            report_ids=ids("report"),
            import_job_id=import_jobs[0] if len(import_jobs) == 1 else None,
            lab_id=labs[0] if len(set(labs)) == 1 else None,
        )

    def _shown_row(self, request: HttpRequest, response: HttpResponse, key: str) -> None:
        context = getattr(response, "context_data", None) or {}
        row = context.get(key)
        if row is not None:
            self._read_audit_record(request, [row])

    def change_view(self, request: HttpRequest, object_id: str, *args: Any, **kwargs: Any) -> Any:
        response = super().change_view(request, object_id, *args, **kwargs)  # type: ignore[misc]
        self._shown_row(request, response, "original")
        return response

    def history_view(self, request: HttpRequest, object_id: str, *args: Any, **kwargs: Any) -> Any:
        response = super().history_view(request, object_id, *args, **kwargs)  # type: ignore[misc]
        self._shown_row(request, response, "object")
        return response

    def delete_view(self, request: HttpRequest, object_id: str, *args: Any, **kwargs: Any) -> Any:
        response = super().delete_view(request, object_id, *args, **kwargs)  # type: ignore[misc]
        self._shown_row(request, response, "object")
        return response

    def changelist_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        response = super().changelist_view(request, *args, **kwargs)  # type: ignore[misc]
        context = getattr(response, "context_data", None) or {}
        changelist = context.get("cl")
        if changelist is not None:
            self._read_audit_record(request, changelist.result_list)
        return response
