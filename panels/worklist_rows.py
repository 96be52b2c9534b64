"""The worklist's table rows, written here rather than by a template loop (which cost the page
about five times its queries: bench/worklist_pages.py). Every value goes through
``format_html`` (escaped); the flags are words as well as colours; each row keeps its htmx
actions (verify, release: plain forms with the CSRF token) or the reason the user may not act.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from panels.models import ReviewState

_STATES = {state.value: str(state.label) for state in ReviewState}
_SENTINEL = 987654321

_ROW = (
    '<tr id="panel-{}"{}>\n'
    '  <td data-label="Select">{}</td>\n'
    '  <th scope="row" data-label="Accession"><a href="{}">{}</a></th>\n'
    '  <td data-label="Patient">{} <br><span class="help">MRN {}</span></td>\n'
    '  <td data-label="Collected">{}</td>\n'
    '  <td class="status" data-label="State">{}</td>\n'
    '  <td data-label="Results">{}</td>\n'
    '  <td class="row-actions" data-label="Actions">{}</td>\n'
    "</tr>\n"
)
_CHECKBOX = (
    '<input type="checkbox" name="panel" value="{}" form="bulk" id="check-{}" '
    'aria-label="Select {} for bulk verification">'
)
_ACTION = (
    '<form method="post" action="{}" hx-post="{}" hx-target="#panel-{}" hx-swap="outerHTML">'
    '{}<input type="hidden" name="next" value="{}"> <button type="submit">{} {}</button></form>'
)
_CRITICAL_CLASS = mark_safe(' class="critical-row"')
_GONE = '<tr id="panel-{}"><td colspan="7"><p class="{}" role="status">{}</p></td></tr>\n'


@dataclass(frozen=True, slots=True)
class RowUrls:
    """The URLs a row links to, as a prefix and a suffix around the panel's id: one
    ``reverse`` each per page, not per row."""

    detail: tuple[str, str]
    verify: tuple[str, str]
    release: tuple[str, str]

    @classmethod
    def make(cls) -> RowUrls:
        def around(name: str) -> tuple[str, str]:
            prefix, suffix = reverse(name, kwargs={"pk": _SENTINEL}).split(str(_SENTINEL))
            return prefix, suffix

        return cls(
            detail=around("lab_panels:detail"),
            verify=around("worklist:verify"),
            release=around("lab_panels:release"),
        )


def _url(parts: tuple[str, str], pk: int) -> str:
    return f"{parts[0]}{pk}{parts[1]}"


def results_html(panel: Any) -> SafeString:
    """``panel``'s result counts as words: critical, flagged, not interpreted, and
    "within interval" only when none of these is counted."""
    parts: list[str] = []
    if panel.results_critical:
        parts.append(
            format_html(
                '<span class="flag critical">CRITICAL: {}</span> <br>', panel.results_critical
            )
        )
    if panel.results_flagged:
        parts.append(
            format_html('<span class="flag abnormal">{} flagged</span>', panel.results_flagged)
        )
    elif not panel.results_not_interpreted:
        parts.append(
            format_html('<span class="flag normal">{} within interval</span>', panel.results_total)
        )
    if panel.results_not_interpreted:
        parts.append(
            format_html(
                ' <br><span class="flag review">not interpreted: {}</span>',
                panel.results_not_interpreted,
            )
        )
    total = panel.results_total
    parts.append(
        format_html(' <span class="help">({} result{})</span>', total, "" if total == 1 else "s")
    )
    return mark_safe("".join(parts))  # noqa: S308 - every part is escaped by format_html


def actions_html(row: Any, *, urls: RowUrls, csrf: SafeString, next_url: str) -> SafeString:
    """The row's message, then its action (verify or release) or why the user may not act."""
    panel = row.panel
    parts: list[str] = []
    if row.message:
        parts.append(
            format_html(
                '<p class="{}" role="status">{}</p>',
                "error" if row.is_error else "done",
                row.message,
            )
        )
    if panel.review_state == ReviewState.RECEIVED:
        if row.verify_refusal:
            parts.append(
                format_html('<span class="help">Cannot verify: {}</span>', row.verify_refusal)
            )
        else:
            url = _url(urls.verify, panel.pk)
            parts.append(
                format_html(_ACTION, url, url, panel.pk, csrf, next_url, "Verify", panel.accession)
            )
    elif panel.review_state == ReviewState.VERIFIED:
        if row.release_refusal:
            parts.append(
                format_html('<span class="help">Cannot release: {}</span>', row.release_refusal)
            )
        else:
            url = _url(urls.release, panel.pk)
            parts.append(
                format_html(_ACTION, url, url, panel.pk, csrf, next_url, "Release", panel.accession)
            )
    return mark_safe("".join(parts))  # noqa: S308 - every part is escaped by format_html


def row_html(row: Any, *, urls: RowUrls, csrf: SafeString, next_url: str) -> SafeString:
    """One worklist row (``panels.worklist_pages.WorklistRow``), every value escaped."""
    panel = row.panel
    patient = panel.patient
    name = (
        format_html("{}, {}", patient.family_name, patient.given_name)
        if patient.given_name
        else patient.family_name
    )
    return format_html(
        _ROW,
        panel.pk,
        _CRITICAL_CLASS if panel.is_critical else "",
        format_html(_CHECKBOX, panel.pk, panel.pk, panel.accession)
        if panel.review_state == ReviewState.RECEIVED
        else "",
        _url(urls.detail, panel.pk),
        panel.accession,
        name,
        patient.mrn,
        f"{timezone.localtime(panel.collected_at):%Y-%m-%d %H:%M}",
        _STATES.get(panel.review_state, panel.review_state),
        results_html(panel),
        actions_html(row, urls=urls, csrf=csrf, next_url=next_url),
    )


def rows_html(rows: Iterable[Any], *, csrf_token: str, next_url: str) -> SafeString:
    """The ``<tbody>`` rows of ``rows``."""
    urls = RowUrls.make()
    csrf = format_html('<input type="hidden" name="csrfmiddlewaretoken" value="{}">', csrf_token)
    return mark_safe(  # noqa: S308 - every part is escaped by format_html
        "".join(row_html(row, urls=urls, csrf=csrf, next_url=next_url) for row in rows)
    )


def gone_html(panel_id: int, message: str, *, is_error: bool) -> SafeString:
    """The row of a panel that left the worklist (released): its message alone."""
    return format_html(_GONE, panel_id, "error" if is_error else "done", message)
