"""The results part of the report: result rows, the banner's statements, the summaries, the notes.

Everything the engine concluded about a result reaches the page: its flag, its explanation
(extrapolated beyond the measuring range, the dilution factor, why a result is indeterminate,
why no interval applies), the conversion the flag was judged on, and who published the interval.
A result no interval judged is counted and named in the banner and in the summaries, never
summarised as "none elevated". Values stay exactly as reported; the converted value is the
engine's own (read from the conversion it stored), never recomputed here.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Any

from panels.models import Result
from reference_ranges.models import ReferenceRangeRule
from reports.rendering.document import Notice, RangeBar, ResultLine, SummaryLine

FLAG_TEXT = {
    "N": "Normal",
    "H": "High",
    "L": "Low",
    "HH": "Critical high",
    "LL": "Critical low",
    "<": "Below measuring range",
    ">": "Above measuring range",
    "IND": "Indeterminate",
    "": "Not interpreted",
}
NOT_FLAGGED = ("", "N", "IND")
NO_INTERVAL_TEXT = "None applies"
ROLE_MARK = "†"
ROLE_LABELS = {
    "pro": "pro-inflammatory",
    "anti": "anti-inflammatory",
    "dual": "pro- and anti-inflammatory",
    "marker": "marker",
}
LEGEND = (
    "Values are shown exactly as reported; '<' and '>' before a value mark a result outside the "
    "measuring range. Where the reference interval is in another unit, the value is converted "
    "only where physics defines the conversion (e.g. 1 ng/mL = 1000 pg/mL), and the converted "
    "value, on which the flag was judged, is printed under the reported one with the conversion "
    "in the note; arbitrary units (U/mL) are never converted. Flags: N normal, H high, L low, "
    "HH/LL critical, '<'/'>' below/above the measuring range, IND indeterminate (cannot be "
    "placed within or outside the interval); 'Not interpreted': no reference interval applies, "
    "so the value carries no flag. Range bar: the shaded band is the reference interval, ◆ the "
    "value judged; a value reported below or above a measuring limit ('<', '>') is a stroke at "
    "that limit with a dashed arrow (◀ or ▶) over every value it may stand for, never a point; "
    "'log' marks a logarithmic scale. No bar is drawn where no interval applies."
)

# Conversion.describe(): "<c>0.005 ng/mL = <c>5 pg/mL (1 ng/mL = 1000 pg/mL)", "≈" when rounded.
_CONVERSION = re.compile(
    r"^\S+ \S+ (?P<sign>[=≈]) (?P<comparator>[<>]=?)?(?P<value>[0-9.]+) (?P<unit>\S+) \(.+\)$"
)
_CENSORING = {"<": "<", "<=": "<", ">": ">", ">=": ">"}


def _engine_source(rule: ReferenceRangeRule) -> str:
    return " ".join(part for part in (rule.source, rule.test_code) if part)


def _explanation(result: Result, rule: ReferenceRangeRule | None) -> str:
    """The engine's reason without what the row prints anyway: the conversion (printed on its
    own), the interval's source (a footnote) and, for a normal exact value, "x within ≤y"."""
    reason = result.interpretation_reason
    if result.conversion and reason.startswith(f"{result.conversion}; "):
        reason = reason[len(result.conversion) + 2 :]
    if rule is None:
        return reason
    source = _engine_source(rule)
    for suffix in (f" — {source} [unverified source]", f" — {source}"):
        if reason.endswith(suffix):
            reason = reason[: -len(suffix)]
            break
    if result.interpretation == "N" and reason == f"{result.value_text} within {rule_text(result)}":
        return ""
    return reason


def rule_text(result: Result) -> str:
    return result.reference_text or NO_INTERVAL_TEXT


def _converted(result: Result) -> tuple[str, Decimal, str, str] | None:
    """(text, value, censoring, unit) of the value the engine judged, from its conversion."""
    match = _CONVERSION.match(result.conversion)
    if match is None:
        return None
    comparator = match["comparator"] or ""
    try:
        value = Decimal(match["value"])
    except InvalidOperation:
        return None
    text = f"{match['sign']} {comparator}{match['value']} {match['unit']}"
    return text, value, _CENSORING.get(comparator, ""), match["unit"]


def _bar(result: Result, rule: ReferenceRangeRule | None) -> RangeBar | None:
    """Where the judged value sits; ``None`` where no interval judged it (no bar is drawn)."""
    if rule is None or not result.interpretation:
        return None
    value, censoring, unit = result.value, _CENSORING.get(result.comparator, ""), result.unit
    if result.conversion:
        converted = _converted(result)
        if converted is None:
            return None
        _, value, censoring, unit = converted
    if unit != rule.unit:
        return None
    return RangeBar(value=value, censoring=censoring, low=rule.low, high=rule.high)


def _conversion_note(result: Result, converted: tuple[str, Decimal, str, str] | None) -> str:
    if not result.conversion:
        return ""
    if converted is None:
        return f"Converted for interpretation: {result.conversion}."
    judged = converted[0].removeprefix("= ").removeprefix("≈ ")
    return f"Converted for interpretation: {result.conversion}; the flag was judged on {judged}."


def source_marks(results: Iterable[Result]) -> dict[int, str]:
    """Rule id -> the letter of the footnote naming the interval's publisher ("a", "b"...).

    Rules with the same publisher, test and citation share a letter, in order of appearance."""
    letters: dict[tuple[str, str, str, str, bool], str] = {}
    marks: dict[int, str] = {}
    for result in results:
        rule = result.rule
        if rule is None:
            continue
        key = (rule.source, rule.test_code, rule.test_name, rule.citation, rule.verified)
        marks[rule.pk] = letters.setdefault(key, chr(ord("a") + len(letters) % 26))
    return marks


def in_reported_order(current: Sequence[Result], superseded: Sequence[Result]) -> list[Result]:
    """The current results in the order the panel first reported them: a corrected or re-run
    result takes the place of the one it replaced (its chain's first position), not the end of
    the table, so an amended report reads in the same order as the report it replaces."""
    origin: dict[int, int] = {}
    for replaced in sorted(superseded, key=lambda result: result.position):
        if replaced.superseded_by_id is not None:
            origin[replaced.superseded_by_id] = origin.get(replaced.pk, replaced.position)
    return sorted(
        current, key=lambda result: (origin.get(result.pk, result.position), result.position)
    )


def result_line(result: Result, marks: Mapping[int, str], caveat: str = "") -> ResultLine:
    """The row of ``result``; ``caveat`` is what the patient's events say about this analyte
    (IL-6 after tocilizumab: ``panels.interpretation.analyte_notes``), printed in its note."""
    code = result.interpretation
    rule = result.rule
    converted = _converted(result) if result.conversion else None
    return ResultLine(
        analyte_name=result.analyte.short_name,
        analyte_code=result.analyte.code,
        value_text=result.value_text,
        unit=result.unit,
        reference_text=rule_text(result),
        flag_code=code,
        flag_text=FLAG_TEXT[code],
        is_abnormal=code not in NOT_FLAGGED,
        note="; ".join(part for part in (_explanation(result, rule), caveat) if part),
        converted_text=converted[0] if converted else "",
        conversion=_conversion_note(result, converted),
        source_mark=marks.get(rule.pk, "") if rule is not None else "",
        analyte_mark="" if result.analyte.role_verified else ROLE_MARK,
        needs_review=code in ("", "IND"),
        bar=_bar(result, rule),
    )


def table_rows(lines: Sequence[ResultLine]) -> tuple[ResultLine, ...]:
    """The rows as the table prints them: a reason no interval applies that the banner states
    for several results (a child's whole panel) is not repeated under each; the row points to
    the statement instead. A reason given for one result alone stays under its row."""
    shared = Counter(line.note for line in lines if not line.flag_code)
    return tuple(
        replace(line, note="", reference_text="None (see above)")
        if not line.flag_code and line.note and shared[line.note] > 1
        else line
        for line in lines
    )


def _value(line: ResultLine) -> str:
    shown = f"{line.analyte_name} {line.value_text} {line.unit}"
    return f"{shown} ({line.converted_text})" if line.converted_text else shown


def _results(count: int) -> str:
    return f"{count} result" if count == 1 else f"{count} results"


def banner(lines: Sequence[ResultLine]) -> str:
    flagged = [line for line in lines if line.is_abnormal]
    if not flagged:
        return ""
    listing = ", ".join(f"{_value(line)} ({line.flag_code})" for line in flagged)
    return f"{_results(len(flagged))} outside the reference interval: {listing}"


def notices(lines: Sequence[ResultLine]) -> tuple[Notice, ...]:
    """Results no interval judged, grouped by the engine's reason; then indeterminate ones."""
    by_reason: dict[str, list[ResultLine]] = {}
    for line in lines:
        if not line.flag_code:
            by_reason.setdefault(line.note, []).append(line)
    found = [
        Notice(
            heading="NOT INTERPRETED",
            text=f"{_results(len(group))} not interpreted — {reason or 'no reference interval'}: "
            f"{', '.join(_value(line) for line in group)}. No flag is given to "
            f"{'this value' if len(group) == 1 else 'these values'}.",
        )
        for reason, group in by_reason.items()
    ]
    undecided = [line for line in lines if line.flag_code == "IND"]
    if undecided:
        found.append(
            Notice(
                heading="INDETERMINATE",
                text=f"{_results(len(undecided))} cannot be placed within or outside the "
                f"reference interval (see the note under "
                f"{'it' if len(undecided) == 1 else 'each'}): "
                f"{', '.join(_value(line) for line in undecided)}.",
            )
        )
    return tuple(found)


def footnotes(results: Sequence[Result], marks: Mapping[int, str]) -> tuple[str, ...]:
    """Who published each interval used, the unverified role classifications, the legend."""
    notes: list[str] = []
    seen: set[str] = set()
    for result in results:
        rule = result.rule
        if rule is None or marks[rule.pk] in seen:
            continue
        seen.add(marks[rule.pk])
        test = ", ".join(part for part in (rule.test_code, rule.test_name) if part)
        text = f"[{marks[rule.pk]}] Reference interval published by {rule.source}"
        text += f" (test {test})" if test else ""
        text += ", adopted by this laboratory"
        text += f". Citation: {rule.citation}" if rule.citation else ""
        text += "" if rule.verified else " — UNVERIFIED source"
        notes.append(text + ".")
    unverified = [
        f"{result.analyte.short_name} (listed as "
        f"{ROLE_LABELS.get(result.analyte.inflammatory_role, result.analyte.inflammatory_role)})"
        for result in results
        if not result.analyte.role_verified
    ]
    if unverified:
        notes.append(
            f"{ROLE_MARK} Inflammatory role classification unverified: {', '.join(unverified)}. "
            "The catalogue's grouping of these analytes is context-dependent and not confirmed by "
            "a cited source; read the summary by role with this in mind. The results themselves "
            "are not affected."
        )
    notes.append(LEGEND)
    return tuple(notes)


def _names(lines: Sequence[ResultLine], *, marked: bool) -> str:
    return ", ".join(line.analyte_name + (line.analyte_mark if marked else "") for line in lines)


def summary_lines(
    groups: Sequence[Mapping[str, Any]],
    results: Sequence[Result],
    lines: Sequence[ResultLine],
    *,
    by_role: bool,
) -> tuple[SummaryLine, ...]:
    """One line per stored family or role group, saying how many results were judged.

    The stored summary gives the group, its label, how many results it holds and which are
    elevated or had no interval; indeterminate results and unverified roles are read from the
    results, so a summary stored before they were counted still reads right.
    """
    members: dict[str, list[ResultLine]] = {}
    for result, line in zip(results, lines, strict=True):
        key = result.analyte.inflammatory_role if by_role else result.analyte.family
        members.setdefault(key, []).append(line)
    summary = []
    for group in groups:
        grouped = members.get(group["group"], [])
        undecided = [line for line in grouped if line.flag_code == "IND"]
        no_range = list(group["no_range"])
        placed = group["measured"] - len(no_range) - len(undecided)
        elevated = ", ".join(
            name + (ROLE_MARK if by_role and _unverified(grouped, name) else "")
            for name in group["elevated"]
        )
        if placed <= 0 and not elevated:
            elevated_text = "not assessed: no result judged"
        elif no_range or undecided:
            elevated_text = (
                f"{elevated} (among {placed} judged)"
                if elevated
                else (f"none among {placed} judged")
            )
        else:
            elevated_text = elevated or "none"
        not_judged = []
        if no_range:
            not_judged.append(f"{len(no_range)} not interpreted: {', '.join(no_range)}")
        if undecided:
            not_judged.append(f"{len(undecided)} indeterminate: {_names(undecided, marked=False)}")
        label = group["label"]
        unverified = [line for line in grouped if line.analyte_mark]
        if by_role and unverified:
            label += f" (includes {_names(unverified, marked=True)}: role unverified)"
        summary.append(
            SummaryLine(
                label=label,
                measured=group["measured"],
                elevated=elevated_text,
                not_judged="; ".join(not_judged),
                has_elevated=bool(elevated),
            )
        )
    return tuple(summary)


def _unverified(lines: Sequence[ResultLine], name: str) -> bool:
    return any(line.analyte_name == name and line.analyte_mark for line in lines)
