"""FHIR search parameters, parsed and checked: pure, no queries.

Handling is strict (the CapabilityStatement says so): a parameter the resource does not
support, a modifier, a malformed value or an unsupported date prefix is refused with 400, never
ignored, so a client never takes an unfiltered answer for a filtered one. Values separated by
commas are alternatives (OR); a parameter repeated must hold for each repetition (AND) where
it may repeat (``date``), and is refused elsewhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.utils.dateparse import parse_datetime

from reports.fhir import codes
from reports.fhir.errors import FhirError

DEFAULT_COUNT = 20
MAX_COUNT = 100
# Accepted on every search, besides each resource's own parameters.
COMMON = frozenset({"_id", "_count", "_offset", "_format", "_total"})
# ``_total``: how exactly Bundle.total is wanted. ``estimate`` is answered with the exact count
# (an estimate may be exact); ``none`` leaves it out, and no count is made.
TOTALS = frozenset({"none", "estimate", "accurate"})
FORMATS = frozenset({"json", "application/json", "application/fhir+json", codes.FHIR_JSON})


@dataclass(frozen=True)
class DateBound:
    """One ``date`` condition: ``prefix`` and the instant range its value stands for."""

    prefix: str
    start: datetime
    end: datetime


@dataclass
class Search:
    """A parsed search: each filter ``None`` when not given."""

    ids: list[int] | None = None
    patients: list[int] | None = None
    identifiers: list[tuple[str | None, str]] | None = None
    codes: list[tuple[str | None, str]] | None = None
    statuses: list[str] | None = None
    dates: list[DateBound] = field(default_factory=list)
    include_results: bool = False
    counted: bool = True  # Bundle.total wanted (``_total``: not ``none``)
    count: int = DEFAULT_COUNT
    offset: int = 0


def _int(name: str, text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,18}", text):
        raise FhirError(f"{name}: {text!r} is not a whole number")
    return int(text)


def _alternatives(name: str, text: str) -> list[str]:
    values = [part.strip() for part in text.split(",")]
    if not all(values):
        raise FhirError(f"{name}: an empty value")
    return values


def reference_id(name: str, text: str, kind: str) -> int:
    """``123``, ``Patient/123`` or an absolute URL ending in ``/Patient/123`` -> 123."""
    match = re.fullmatch(rf"(?:.*/)?(?:{kind}/)?([0-9]{{1,18}})", text)
    if match is None or ("/" in text and f"{kind}/" not in text):
        raise FhirError(f"{name}: {text!r} is not a reference to a {kind}")
    return int(match.group(1))


def token(text: str) -> tuple[str | None, str]:
    """``system|code`` -> (system, code); ``|code`` -> ("", code): no system; ``code`` ->
    (None, code): any system."""
    if "|" in text:
        system, value = text.split("|", 1)
        if not value:
            raise FhirError(f"{text!r}: a token without a code is not supported")
        return system, value
    return None, text


def _date_bound(text: str) -> DateBound:
    prefix = text[:2] if text[:2].isalpha() else "eq"
    value = text[2:] if text[:2].isalpha() else text
    if prefix not in codes.DATE_PREFIXES:
        raise FhirError(
            f"date: the prefix {prefix!r} is not supported (use {', '.join(codes.DATE_PREFIXES)})"
        )
    start, end = _date_range(value)
    return DateBound(prefix=prefix, start=start, end=end)


def _date_range(value: str) -> tuple[datetime, datetime]:
    """The instants a FHIR date value stands for at its precision (a year, month, day, or an
    instant); a date without a time zone is read in UTC (the CapabilityStatement says so)."""
    try:
        if re.fullmatch(r"[0-9]{4}", value):
            year = int(value)
            return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}", value):
            year, month = (int(part) for part in value.split("-"))
            start = datetime(year, month, 1, tzinfo=UTC)
            end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
            return start, end
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            day = date.fromisoformat(value)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return start, start + timedelta(days=1)
        moment = parse_datetime(value)
    except ValueError as error:
        raise FhirError(f"date: {value!r} is not a date") from error
    if moment is None:
        raise FhirError(f"date: {value!r} is not a date")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    precision = timedelta(seconds=1) if moment.microsecond == 0 else timedelta(microseconds=1)
    return moment, moment + precision


def search_parse(
    params: Any, *, kind: str, allowed: frozenset[str], statuses: frozenset[str] = frozenset()
) -> Search:
    """``params`` (a ``QueryDict``) for a search of ``kind`` supporting ``allowed``."""
    search = Search()
    for name in params:
        values = params.getlist(name)
        if name not in allowed | COMMON:
            raise FhirError(
                f"the search parameter {name!r} is not supported for {kind} (supported: "
                f"{', '.join(sorted(allowed | COMMON))})",
                code="not-supported",
            )
        if name != "date" and len(values) > 1:
            raise FhirError(f"{name}: given more than once (use commas for alternatives)")
        text = values[0]
        if name == "_count":
            search.count = _int(name, text)
            if not 1 <= search.count <= MAX_COUNT:
                raise FhirError(f"_count: from 1 to {MAX_COUNT}")
        elif name == "_offset":
            search.offset = _int(name, text)
        elif name == "_total":
            if text not in TOTALS:
                raise FhirError(f"_total: one of {', '.join(sorted(TOTALS))}")
            search.counted = text != "none"
        elif name == "_format":
            if text not in FORMATS:
                raise FhirError(f"_format: only JSON ({codes.FHIR_JSON})", code="not-supported")
        elif name == "_id":
            search.ids = [_int(name, part) for part in _alternatives(name, text)]
        elif name in ("subject", "patient"):
            found = [reference_id(name, part, "Patient") for part in _alternatives(name, text)]
            search.patients = (
                found if search.patients is None else sorted(set(search.patients) & set(found))
            )
        elif name == "identifier":
            search.identifiers = [token(part) for part in _alternatives(name, text)]
        elif name == "code":
            search.codes = [token(part) for part in _alternatives(name, text)]
        elif name == "status":
            search.statuses = _alternatives(name, text)
            unknown = sorted(set(search.statuses) - statuses)
            if unknown:
                raise FhirError(
                    f"status: {', '.join(unknown)} not among {', '.join(sorted(statuses))}"
                )
        elif name == "date":
            search.dates = [_date_bound(value) for value in values]
        elif name == "_include":
            if text != "DiagnosticReport:result":
                raise FhirError(
                    "_include: only DiagnosticReport:result is supported", code="not-supported"
                )
            search.include_results = True
    return search
