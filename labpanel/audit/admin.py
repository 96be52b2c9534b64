"""The read audit in the admin: a read-only, searchable changelist (no add, change or delete
for anyone). A director sees their own lab's entries, a superuser every lab's
(``access.read_audit_scope``). Search by ``patient:17``, ``user:4`` (several terms narrow
together); filter by channel and date."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from labpanel.accounts import access
from labpanel.audit.models import ReadEntry
from labpanel.audit.selectors import read_entries_search

_TERMS = ("patient", "user")


@admin.register(ReadEntry)
class ReadEntryAdmin(admin.ModelAdmin[ReadEntry]):
    list_display = (
        "occurred_at",
        "user_id",
        "channel",
        "view",
        "patient_ids",
        "panel_ids",
        "report_ids",
        "import_job_id",
        "ip",
    )
    list_filter = ("channel", "occurred_at")
    date_hierarchy = "occurred_at"
    search_fields = ("view",)  # enables the search box; terms are read by get_search_results
    search_help_text = "patient:ID and/or user:ID (e.g. 'patient:17 user:4'), or a view name"
    readonly_fields = tuple(field.name for field in ReadEntry._meta.fields)
    show_full_result_count = False

    def has_module_permission(self, request: HttpRequest) -> bool:
        return access.read_audit_admin_allowed(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return access.read_audit_admin_allowed(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[ReadEntry]:
        return read_entries_search(reader=request.user)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[ReadEntry], search_term: str
    ) -> tuple[QuerySet[ReadEntry], bool]:
        filters: dict[str, int] = {}
        rest: list[str] = []
        for term in search_term.split():
            name, _, value = term.partition(":")
            if name in _TERMS and value.isdigit():
                filters[name] = int(value)
            else:
                rest.append(term)
        if not filters:
            return super().get_search_results(request, queryset, search_term)
        found = read_entries_search(
            reader=request.user,
            patient_id=filters.get("patient"),
            user_id=filters.get("user"),
        )
        queryset = queryset.filter(pk__in=found.values("pk"))
        if rest:
            queryset, _ = super().get_search_results(request, queryset, " ".join(rest))
        return queryset, False
