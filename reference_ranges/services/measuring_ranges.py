"""Recording an assay's measuring range (LLOQ/ULOQ) for one analyte in one lab.

A range is never edited once recorded: results may already have been judged with it. A change
(new lot, new assay, revalidation) is a new range with a later ``effective_from``, which takes
over from that day. A range takes effect today or later, never retroactively: results stored
before today were judged with the range then in force.
"""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal
from typing import TypedDict, Unpack

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from labpanel.accounts import access
from labpanel.accounts.models import Lab
from labpanel.exceptions import Conflict, InvalidInput
from reference_ranges.models import Analyte, AssayMeasuringRange

logger = logging.getLogger(__name__)

_MAX_DECIMAL_PLACES = 6
_MAX_INTEGER_DIGITS = 14
_LATER_RANGE = (
    "a range for this analyte already starts on or after this day; ranges are never edited or "
    "back-filled: choose a later date"
)


def _problem(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message}


def _limit_problems(name: str, value: Decimal | None) -> list[dict[str, str]]:
    if value is None:
        return []
    if not value.is_finite() or value < 0:
        return [_problem(name, "must be a number of 0 or more")]
    exponent = value.as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    if places > _MAX_DECIMAL_PLACES or value.adjusted() >= _MAX_INTEGER_DIGITS:
        return [
            _problem(
                name,
                f"at most {_MAX_INTEGER_DIGITS} digits before and {_MAX_DECIMAL_PLACES} after "
                "the decimal point (a limit is never rounded)",
            )
        ]
    return []


class MeasuringRangeFields(TypedDict):
    """A range to record, as the command and the admin give it."""

    lab: Lab
    analyte: Analyte
    assay: str
    lloq: Decimal | None
    uloq: Decimal | None
    unit: str
    effective_from: date
    source: str


def measuring_range_check(**fields: Unpack[MeasuringRangeFields]) -> list[dict[str, str]]:
    """Every problem with a range to record, as ``{"field", "message"}``; writes nothing."""
    lab, analyte, effective_from = fields["lab"], fields["analyte"], fields["effective_from"]
    lloq, uloq, unit = fields["lloq"], fields["uloq"], fields["unit"]
    problems = [*_limit_problems("lloq", lloq), *_limit_problems("uloq", uloq)]
    if lloq is None and uloq is None:
        problems.append(_problem("lloq", "give an LLOQ, a ULOQ, or both"))
    if uloq is not None and uloq == 0:
        problems.append(_problem("uloq", "must be above 0"))
    if lloq is not None and uloq is not None and not problems and lloq >= uloq:
        problems.append(_problem("uloq", f"ULOQ {uloq} must be above LLOQ {lloq}"))
    if unit not in analyte.allowed_units:
        allowed = ", ".join(analyte.allowed_units)
        problems.append(
            _problem("unit", f"{unit!r} is not a unit {analyte.code} is reported in ({allowed})")
        )
    if not fields["assay"].strip():
        problems.append(_problem("assay", "name the assay or method"))
    if not fields["source"].strip():
        problems.append(
            _problem("source", "say where the limits come from (package insert, validation)")
        )
    if effective_from < timezone.localdate():
        problems.append(
            _problem(
                "effective_from",
                "a measuring range takes effect today or later: results stored before today "
                "were judged with the range then in force",
            )
        )
    elif AssayMeasuringRange.objects.filter(
        lab=lab, analyte=analyte, effective_from__gte=effective_from
    ).exists():
        problems.append(_problem("effective_from", _LATER_RANGE))
    return problems


def measuring_range_record(
    *, created_by: User | None, **fields: Unpack[MeasuringRangeFields]
) -> AssayMeasuringRange:
    """Record a measuring range for ``analyte`` in ``lab`` from ``effective_from``.

    ``created_by`` must be a director of ``lab`` or a superuser (``None``: the command line).
    The limits are in ``unit``, one of the analyte's allowed units; at least one is given, LLOQ
    below ULOQ.
    A range for the same lab and analyte already in force keeps judging results until the new
    one's ``effective_from``; only one range may start on a given day. Raises ``InvalidInput``
    naming every problem, ``NotAllowed``, ``Conflict`` (a range already starts that day, or
    a later one exists: ranges are recorded in order).
    """
    lab, analyte, effective_from = fields["lab"], fields["analyte"], fields["effective_from"]
    access.measuring_range_record_check(created_by, lab_id=lab.pk)
    problems = measuring_range_check(**fields)
    if problems:
        count = len(problems)
        raise InvalidInput(
            f"the measuring range has {count} problem{'s' if count != 1 else ''}",
            details=problems,
        )
    conflict = Conflict(
        f"{analyte.code} already has a measuring range starting on or after {effective_from}",
        details=[_problem("effective_from", _LATER_RANGE)],
    )
    try:
        with transaction.atomic():
            later = AssayMeasuringRange.objects.select_for_update().filter(
                lab=lab, analyte=analyte, effective_from__gte=effective_from
            )
            if later.exists():
                raise conflict
            measuring_range = AssayMeasuringRange(
                **{**fields, "assay": fields["assay"].strip(), "source": fields["source"].strip()},
                created_by=created_by,
            )
            measuring_range.full_clean(validate_constraints=False)
            measuring_range.save()
    except IntegrityError as error:
        raise conflict from error
    logger.info(
        "measuring_range.recorded measuring_range_id=%s lab_id=%s analyte=%s effective_from=%s",
        measuring_range.pk,
        lab.pk,
        analyte.code,
        effective_from,
    )
    return measuring_range
