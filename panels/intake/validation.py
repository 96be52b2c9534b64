"""Field rules shared by every way a panel arrives (JSON API, CSV and instrument files, HL7).

Each checker takes the text as received and returns the clean value or raises ``FieldError``
with a reason a technician can act on. Nothing is rounded, converted or guessed here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import models
from django.utils import timezone

from panels.models import Result
from panels.notation import NotationError, parse_reported_value
from reference_ranges.models import Analyte, Sex, SpecimenType
from reports.rendering.scripts import describe, undrawable_characters

ACCESSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$"
_ACCESSION = re.compile(ACCESSION_PATTERN)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
FUTURE_TOLERANCE = timedelta(minutes=5)

_SEX_WORDS = {choice.value: choice.value for choice in Sex}
# HL7 table 0001 letters and the same letters in CSV exports; A (ambiguous) and N (not
# applicable) say nothing about which interval applies, so they read as unknown.
_SEX_LETTERS = {
    "f": "female",
    "m": "male",
    "o": "other",
    "u": "unknown",
    "a": "unknown",
    "n": "unknown",
}
_SPECIMENS = {choice.value: choice.value for choice in SpecimenType}


class FieldError(ValueError):
    """The text cannot be stored as this field; the message says why."""


def accession_clean(text: str) -> str:
    value = text.strip()
    if not value:
        raise FieldError("accession is empty")
    if not _ACCESSION.match(value):
        raise FieldError(
            f"{value!r} is not an accession: use 1-64 letters, digits, '.', '_' or '-'"
        )
    return value


def required_text(text: str, *, field: str, max_length: int) -> str:
    value = text.strip()
    if not value:
        raise FieldError(f"{field} is empty")
    return optional_text(value, field=field, max_length=max_length)


def optional_text(text: str, *, field: str, max_length: int) -> str:
    value = text.strip()
    if _CONTROL.search(value):
        raise FieldError(f"{field} contains a control character (tab, line break or NUL)")
    if len(value) > max_length:
        raise FieldError(f"{field} is longer than {max_length} characters")
    problem = unprintable(value)
    if problem:
        raise FieldError(f"{field} {problem}")
    return value


PRINTED_SCRIPTS = "Latin, Greek, Cyrillic, Arabic, Hebrew, Chinese, Japanese and Korean"


def unprintable(text: str) -> str | None:
    """Why the report could not print ``text`` (a name, an MRN), or ``None`` when it can.

    Refused at submission so the panel's report never fails on it later.
    """
    undrawable = undrawable_characters(text)
    if not undrawable:
        return None
    return (
        f"contains characters the report cannot print: {describe(undrawable)} "
        f"(the report prints {PRINTED_SCRIPTS} script)"
    )


def sex_clean(text: str) -> str:
    key = text.strip().casefold()
    sex = _SEX_WORDS.get(key) or _SEX_LETTERS.get(key)
    if sex is None:
        raise FieldError(f"{text!r} is not a sex: use female, male, other or unknown (or F/M/O/U)")
    return sex


def specimen_type_clean(text: str) -> str:
    key = text.strip().casefold().replace(" ", "_")
    specimen = _SPECIMENS.get(key)
    if specimen is None:
        raise FieldError(f"{text!r} is not a specimen type: use one of {', '.join(_SPECIMENS)}")
    return specimen


def birth_date_clean(text: str, *, today: date) -> date | None:
    """``YYYY-MM-DD``; an empty cell or ``unknown`` means unknown (no age-partitioned range)."""
    value = text.strip()
    if not value or value.casefold() == "unknown":
        return None
    if not _DATE.match(value):
        raise FieldError(
            f"{value!r} is not a date in YYYY-MM-DD form (day/month order is never guessed)"
        )
    return birth_date_read(value, date.fromisoformat, today=today)


def birth_date_read(value: str, read: Callable[[str], date], *, today: date) -> date:
    """The birth date ``value`` as ``read`` reads it (each way in has its form: YYYY-MM-DD,
    HL7's YYYYMMDD); refused when it is not a real date (``read`` raises ``ValueError``) or is
    in the future."""
    try:
        born = read(value)
    except ValueError as error:
        raise FieldError(f"{value!r} is not a real date") from error
    if born > today:
        raise FieldError("birth date is in the future")
    return born


def received_at_clean(text: str, *, local_zone: ZoneInfo, now: datetime) -> datetime | None:
    """When the laboratory received the specimen, read as ``collected_at_clean`` reads a
    collection time; an empty cell means the lab did not state it (None, never guessed)."""
    if not text.strip():
        return None
    return collected_at_clean(text, local_zone=local_zone, now=now, what="receipt time")


def collected_at_clean(
    text: str, *, local_zone: ZoneInfo, now: datetime, what: str = "collection time"
) -> datetime:
    """ISO 8601 date and time. Without a UTC offset the time is read on the lab's clock
    (``local_zone``); a wall time that does not exist or happens twice there is refused.
    ``what`` names the time in messages."""
    value = text.strip()
    if not value:
        raise FieldError(f"{what} is empty")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise FieldError(
            f"{value!r} is not an ISO 8601 date and time, e.g. 2026-11-20T08:30:00Z"
        ) from error
    if len(value) <= 10:
        raise FieldError(f"{value!r} is a date without the time of day ({what})")
    if parsed.tzinfo is None:
        earlier = parsed.replace(tzinfo=local_zone, fold=0)
        later = parsed.replace(tzinfo=local_zone, fold=1)
        if earlier.utcoffset() != later.utcoffset():
            raise FieldError(
                f"{value!r} happens twice or never on the lab's clock ({local_zone.key}, a "
                "daylight-saving change); give the UTC offset"
            )
        parsed = earlier
    if parsed > now + FUTURE_TOLERANCE:
        raise FieldError(f"{what} is in the future")
    return parsed


def unit_match(unit: str, analyte: Analyte) -> str | None:
    """The catalogue's spelling of ``unit`` for ``analyte``, or ``None`` if it is not allowed."""
    if unit in analyte.allowed_units:
        return unit
    folded = [allowed for allowed in analyte.allowed_units if allowed.casefold() == unit.casefold()]
    return folded[0] if len(folded) == 1 else None


def unit_problem(unit: str, analyte: Analyte) -> str:
    allowed = ", ".join(analyte.allowed_units)
    return (
        f"{unit!r} is not a unit {analyte.short_name} is reported in "
        f"(allowed: {allowed}); other units are refused, never guessed"
    )


def dilution_factor_clean(text: str) -> Decimal:
    try:
        reported = parse_reported_value(text)
    except NotationError as error:
        raise FieldError(str(error)) from error
    if reported.comparator.is_censored or reported.value < 1:
        raise FieldError("a dilution factor is a plain number of 1 or more")
    column = Result._meta.get_field("dilution_factor")
    _storable_exactly(reported.value, column, "a dilution factor")
    return reported.value


def _storable_exactly(value: Decimal, field: models.Field[Any, Any], what: str) -> None:
    """Refuse ``value`` when the decimal column ``field`` would not store it exactly (it would
    round it, or overflow): the limits are the column's own ``max_digits`` and
    ``decimal_places``. Trailing zeros written after the point are not counted (``2.50000`` is
    stored exactly as 2.5)."""
    if not isinstance(field, models.DecimalField):
        raise TypeError(f"{field} is not a decimal column")
    max_digits, places = int(field.max_digits), int(field.decimal_places)
    whole_digits = max_digits - places
    exact = value.normalize()
    decimals = max(0, -int(exact.as_tuple().exponent))
    whole = max(0, exact.adjusted() + 1)
    if decimals > places or whole > whole_digits:
        raise FieldError(
            f"{what} is stored with at most {places} decimal places and {max_digits} digits "
            f"in all ({whole_digits} before the decimal point): {value:f} cannot be stored "
            "exactly, and is never rounded"
        )


def local_zone() -> ZoneInfo:
    zone = timezone.get_current_timezone()
    return zone if isinstance(zone, ZoneInfo) else ZoneInfo(str(zone))
