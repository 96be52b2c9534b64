"""The filters of the panels list (``GET /api/v1/panels/``): django-filter over the panels, by
MRN, accession, collection date range, a current result's interpretation code, a met finding,
a report's status and the ordering clinician. The list narrows its one-statement read to the
filtered panels (``PanelReads(within=...)``), so a filtered page costs the statements an
unfiltered one does. What is filtered on is only what the caller may see: their panels
(``access.panels_scope``) and, for a report's status, the reports they may see
(``access.reports_scope``), so a filter never reveals a report the caller is not shown."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Exists, OuterRef, QuerySet

from panels.models import Finding, FindingStatus, Panel, Result
from reference_ranges.engine.types import InterpretationCode
from reports.selectors import PUBLIC_REPORT_STATES, panel_has_report_in


class PanelFilter(django_filters.FilterSet):  # type: ignore[misc]  # django-filter is untyped
    mrn = django_filters.CharFilter(
        field_name="patient__mrn", help_text="The patient's MRN (in the caller's lab), exactly"
    )
    accession = django_filters.CharFilter(field_name="accession", help_text="Exactly")
    collected_after = django_filters.IsoDateTimeFilter(
        field_name="collected_at",
        lookup_expr="gte",
        help_text="Specimens collected at or after this instant (ISO 8601)",
    )
    collected_before = django_filters.IsoDateTimeFilter(
        field_name="collected_at",
        lookup_expr="lt",
        help_text="Specimens collected before this instant (ISO 8601)",
    )
    interpretation = django_filters.ChoiceFilter(
        choices=[(code.value, code.value) for code in InterpretationCode],
        method="_interpretation",
        help_text="Panels with a current result of this interpretation code",
    )
    finding = django_filters.CharFilter(
        method="_finding",
        help_text="Panels where this finding's rule (e.g. HLH_2004) is met",
    )
    report_status = django_filters.ChoiceFilter(
        choices=[(state, state) for state in PUBLIC_REPORT_STATES],
        method="_report_status",
        help_text="Panels with a report the caller sees in this state",
    )
    ordering_clinician = django_filters.CharFilter(
        field_name="ordering_clinician__username",
        help_text="The ordering clinician's username",
    )

    class Meta:
        model = Panel
        fields: list[str] = []

    def _interpretation(self, queryset: QuerySet[Panel], name: str, value: str) -> QuerySet[Panel]:
        current = Result.objects.filter(
            panel_id=OuterRef("pk"), interpretation=value, superseded_by__isnull=True
        )
        return queryset.filter(Exists(current))

    def _finding(self, queryset: QuerySet[Panel], name: str, value: str) -> QuerySet[Panel]:
        met = Finding.objects.filter(
            panel_id=OuterRef("pk"),
            rule_id=value,
            status=FindingStatus.MET,
            superseded_at__isnull=True,
        )
        return queryset.filter(Exists(met))

    def _report_status(self, queryset: QuerySet[Panel], name: str, value: str) -> QuerySet[Panel]:
        user: Any = getattr(self.request, "user", None)
        return queryset.filter(panel_has_report_in(user=user, state=value))


def panels_filtered(filterset: PanelFilter) -> QuerySet[Panel] | None:
    """The panels ``filterset`` (valid) narrows to, ``None`` when it names no filter."""
    if not any(value not in (None, "") for value in filterset.form.cleaned_data.values()):
        return None
    narrowed: QuerySet[Panel] = filterset.qs
    return narrowed
