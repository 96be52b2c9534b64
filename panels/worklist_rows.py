"""The worklist's table rows, written here rather than by a template loop (which cost the page
several times its queries: bench/worklist_pages.py). Every text value is escaped with
``html.escape`` (what ``django.utils.html.escape`` applies, without its lazy-string wrapper, a
third of the rows' cost); numbers and ids are ints. The flags are words as well as colours;
each row keeps its htmx actions (verify, release: plain forms with the CSRF token) or the reason
the user may not act.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from html import escape
from typing import Any

from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from labpanel.reversing import url_for
from panels.models import ReviewState

_STATES = {state.value: escape(str(state.label)) for state in ReviewState}
_SENTINEL = 987654321


@dataclass(frozen=True, slots=True)
class RowUrls:
    """The (escaped) URLs a row links to, as a prefix and a suffix around the panel's id: one
    ``reverse`` each per process (``labpanel.reversing``), not per row."""

    detail: tuple[str, str]
    verify: tuple[str, str]
    release: tuple[str, str]

    @classmethod
    def make(cls) -> RowUrls:
        def around(name: str) -> tuple[str, str]:
            url = escape(url_for(name, pk=_SENTINEL))
            prefix, suffix = url.split(str(_SENTINEL))
            return prefix, suffix

        return cls(
            detail=around("lab_panels:detail"),
            verify=around("worklist:verify"),
            release=around("lab_panels:release"),
        )


def _url(parts: tuple[str, str], pk: int) -> str:
    return f"{parts[0]}{int(pk)}{parts[1]}"


def results_html(panel: Any) -> str:
    """``panel``'s current results as words: critical, flagged, not interpreted,
    indeterminate, and "within interval" only when none of these is counted: every result was
    judged and normal (its stored counts: ints)."""
    total = int(panel.results_total)
    critical = int(panel.results_critical)
    flagged = int(panel.results_flagged)
    not_interpreted = int(panel.results_not_interpreted)
    indeterminate = int(panel.results_indeterminate)
    parts = []
    if critical:
        parts.append(f'<span class="flag critical">CRITICAL: {critical}</span> <br>')
    if flagged:
        parts.append(f'<span class="flag abnormal">{flagged} flagged</span>')
    elif not not_interpreted and not indeterminate:
        parts.append(f'<span class="flag normal">{total} within interval</span>')
    if not_interpreted:
        parts.append(f' <br><span class="flag review">not interpreted: {not_interpreted}</span>')
    if indeterminate:
        parts.append(f' <br><span class="flag review">indeterminate: {indeterminate}</span>')
    parts.append(f' <span class="help">({total} result{"" if total == 1 else "s"})</span>')
    return "".join(parts)


def _action(url: str, pk: int, verb: str, accession: str, csrf: str, next_url: str) -> str:
    return (
        f'<form method="post" action="{url}" hx-post="{url}" hx-target="#panel-{pk}" '
        f'hx-swap="outerHTML">{csrf}<input type="hidden" name="next" value="{next_url}"> '
        f'<button type="submit">{verb} {accession}</button></form>'
    )


def actions_html(row: Any, *, urls: RowUrls, csrf: str, next_url: str) -> str:
    """The row's message, then its action (verify or release) or why the user may not act.
    ``csrf`` (the hidden input) and ``next_url`` come escaped."""
    panel = row.panel
    pk = int(panel.pk)
    accession = escape(panel.accession)
    parts = []
    if row.message:
        css = "error" if row.is_error else "done"
        parts.append(f'<p class="{css}" role="status">{escape(row.message)}</p>')
    if panel.review_state == ReviewState.RECEIVED:
        if row.verify_refusal:
            parts.append(f'<span class="help">Cannot verify: {escape(row.verify_refusal)}</span>')
        else:
            url = _url(urls.verify, pk)
            parts.append(_action(url, pk, "Verify", accession, csrf, next_url))
    elif panel.review_state == ReviewState.VERIFIED:
        if row.release_refusal:
            parts.append(f'<span class="help">Cannot release: {escape(row.release_refusal)}</span>')
        else:
            url = _url(urls.release, pk)
            parts.append(_action(url, pk, "Release", accession, csrf, next_url))
    return "".join(parts)


def row_html(row: Any, *, urls: RowUrls, csrf: str, next_url: str) -> str:
    """One worklist row (``panels.worklist_pages.WorklistRow``), every text escaped."""
    panel = row.panel
    pk = int(panel.pk)
    accession = escape(panel.accession)
    name = escape(panel.family_name)
    if panel.given_name:
        name = f"{name}, {escape(panel.given_name)}"
    check = (
        f'<input type="checkbox" name="panel" value="{pk}" form="bulk" id="check-{pk}" '
        f'aria-label="Select {accession} for bulk verification">'
        if panel.review_state == ReviewState.RECEIVED
        else ""
    )
    critical = ' class="critical-row"' if panel.is_critical else ""
    collected = f"{timezone.localtime(panel.collected_at):%Y-%m-%d %H:%M}"
    state = _STATES.get(panel.review_state) or escape(panel.review_state)
    return (
        f'<tr id="panel-{pk}"{critical}>\n'
        f'  <td data-label="Select">{check}</td>\n'
        f'  <th scope="row" data-label="Accession"><a href="{_url(urls.detail, pk)}">'
        f"{accession}</a></th>\n"
        f'  <td data-label="Patient">{name} <br><span class="help">MRN {escape(panel.mrn)}'
        "</span></td>\n"
        f'  <td data-label="Collected">{collected}</td>\n'
        f'  <td class="status" data-label="State">{state}</td>\n'
        f'  <td data-label="Results">{results_html(panel)}</td>\n'
        f'  <td class="row-actions" data-label="Actions">'
        f"{actions_html(row, urls=urls, csrf=csrf, next_url=next_url)}</td>\n"
        "</tr>\n"
    )


def rows_html(rows: Iterable[Any], *, csrf_token: str, next_url: str) -> SafeString:
    """The ``<tbody>`` rows of ``rows``, every text in them escaped."""
    urls = RowUrls.make()
    csrf = f'<input type="hidden" name="csrfmiddlewaretoken" value="{escape(csrf_token)}">'
    escaped_next = escape(next_url)
    return mark_safe(  # noqa: S308 - every text in the rows is escaped above
        "".join(row_html(row, urls=urls, csrf=csrf, next_url=escaped_next) for row in rows)
    )


def gone_html(panel_id: int, message: str, *, is_error: bool) -> SafeString:
    """The row of a panel that left the worklist (released): its message alone."""
    css = "error" if is_error else "done"
    return mark_safe(  # noqa: S308 - the message is escaped
        f'<tr id="panel-{int(panel_id)}"><td colspan="7"><p class="{css}" role="status">'
        f"{escape(message)}</p></td></tr>\n"
    )


def _field_errors(form: Any, name: str) -> tuple[str, str]:
    """The ``aria-invalid``/``aria-describedby`` attributes and the error line of ``name``
    (as Django renders them: the error's id is the field's id with ``_error``)."""
    errors = form.errors.get(name) if form.is_bound else None
    if not errors:
        return "", ""
    return (
        f' aria-invalid="true" aria-describedby="id_{name}_error"',
        f'<span class="error" id="id_{name}_error">{escape(" ".join(errors))}</span>',
    )


def filters_html(form: Any) -> SafeString:
    """The worklist's filter fields (``panels.worklist_pages.WorklistFilterForm``), as
    Django's widgets render them (labels, ids, the submitted values, the errors tied to their
    inputs), written here: the widgets' templates cost the page more than its rows."""
    data = form.data if form.is_bound else {}
    fields = form.fields
    state = str(data.get("state", ""))
    options = "".join(
        f'<option value="{escape(str(value))}"{" selected" if str(value) == state else ""}>'
        f"{escape(str(label))}</option>"
        for value, label in fields["state"].choices
    )
    state_aria, state_error = _field_errors(form, "state")
    flagged = fields["flagged"].widget.value_from_datadict(data, {}, "flagged") if data else False
    q = str(data.get("q", ""))
    q_aria, q_error = _field_errors(form, "q")
    collected = str(data.get("collected", ""))
    collected_aria, collected_error = _field_errors(form, "collected")

    def label(name: str) -> str:
        return f'<label for="id_{name}">{escape(str(fields[name].label))}:</label>'

    def value(text: str) -> str:
        return f' value="{escape(text)}"' if text else ""

    return mark_safe(  # noqa: S308 - every text is escaped
        f'<div class="field">{label("state")} <select name="state"{state_aria} id="id_state">'
        f"{options}</select>{state_error}</div>\n"
        f'<div class="field"><input type="checkbox" name="flagged" id="id_flagged"'
        f"{' checked' if flagged else ''}> {label('flagged')}</div>\n"
        f'<div class="field">{label("q")} <input type="text" name="q"{value(q)} '
        f'maxlength="{int(fields["q"].max_length)}"{q_aria} id="id_q">{q_error}</div>\n'
        f'<div class="field">{label("collected")} <input type="date" name="collected"'
        f'{value(collected)}{collected_aria} id="id_collected">{collected_error}</div>\n'
    )
