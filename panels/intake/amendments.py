"""Corrections and dilution re-runs: an amended report that keeps the original.

``panel_amend`` is the one way a stored result changes. The released report and its PDF never
change; the corrected result is stored as a new row and the old one is kept, marked as
superseded by it; the panel's findings and summary are re-evaluated (the old findings are kept,
marked superseded); and a new report is created that amends the released one, carrying the
reason and what changed (previous and corrected value), then rendered by the worker. A
re-run on dilution is the same path for a censored result (``>ULOQ``) measured again diluted.

Before release the amended report is another PRELIMINARY one (a verified panel goes back to
be verified again); after release it is CORRECTED. Amending waits for the current report to be
rendered (ready) or failed, so that the report being drawn always shows the results it was
created for.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from labpanel.accounts import access
from labpanel.bulk import ids_reserve
from labpanel.events.models import EventKind
from labpanel.events.services import event_record
from labpanel.exceptions import InvalidInput, NotReady
from panels.documents import panel_documents_write
from panels.interpretation import (
    PanelInterpretation,
    panel_conclusions,
    panel_interpret,
    result_data_measurement,
)
from panels.models import Finding, Panel, Result
from panels.notation import NotationError, parse_reported_value
from panels.result_counts import panel_result_counts_store
from panels.review import panel_verification_withdraw
from panels.services import conclusions_store, result_build
from panels.submission import ResultData
from reference_ranges.adapters import ruleset_to_engine
from reference_ranges.models import ReferenceRangeRule
from reports.models import Report, ReportStatus
from reports.services import report_amend_request

logger = logging.getLogger(__name__)

CORRECTION = "correction"
DILUTION_RERUN = "dilution_rerun"
KINDS = (CORRECTION, DILUTION_RERUN)


@dataclass(frozen=True)
class Amended:
    panel: Panel
    report: Report


def panel_amend(
    *,
    panel_id: int,
    user: User,
    corrections: Sequence[ResultData],
    reason: str,
    kind: str = CORRECTION,
    intake: str = "api",
) -> Amended:
    """Replace the results in ``corrections`` (one per analyte already on the panel) and issue
    an amended report. Raises ``InvalidInput`` naming every offending correction (nothing is
    stored), ``NotReady`` while the current report is still being produced, ``NotAllowed``.
    Side effects: writes a ``panel.results_amended`` event (naming the amended report and
    ``intake``, the way the correction came in) in the same transaction; enqueues the amended
    report's rendering after commit.
    """
    if kind not in KINDS:
        raise InvalidInput(
            f"unknown amendment kind {kind!r}",
            details=[{"field": "kind", "message": f"use one of {', '.join(KINDS)}"}],
        )
    if not reason.strip():
        raise InvalidInput(
            "an amendment needs a reason", details=[{"field": "reason", "message": "required"}]
        )
    with transaction.atomic():
        panel = (
            Panel.objects.select_for_update().select_related("patient", "ruleset").get(pk=panel_id)
        )
        access.amend_check(user, lab_id=panel.lab_id, submitted_by_id=panel.submitted_by_id)
        current_report = panel.reports.order_by("-pk").first()
        if current_report is None or current_report.status not in (
            ReportStatus.READY,
            ReportStatus.FAILED,
        ):
            raise NotReady(
                f"the report of panel {panel.accession} is still being produced; amend it once "
                "it is released",
                details=[{"field": "report", "message": "pending"}],
            )
        current = {
            result.analyte_id: result
            for result in Result.objects.current()
            .select_for_update()
            .filter(panel=panel)
            .select_related("analyte")
        }
        _check(corrections, current, kind)
        now = timezone.now()
        new_results = _store_corrections(
            panel=panel, corrections=corrections, current=current, now=now
        )
        panel_result_counts_store(panel_ids=[panel.pk])
        _reconclude(panel=panel, now=now)
        panel_verification_withdraw(panel=panel, user=user, now=now)
        changes = [
            {
                "analyte": new.analyte.code,
                "analyte_name": new.analyte.short_name,
                "previous": current[new.analyte_id].value_text,
                "previous_unit": current[new.analyte_id].unit,
                "previous_interpretation": current[new.analyte_id].interpretation or None,
                "corrected": new.value_text,
                "corrected_unit": new.unit,
                "corrected_interpretation": new.interpretation or None,
                "dilution_factor": None
                if new.dilution_factor is None
                else format(new.dilution_factor.normalize(), "f"),
            }
            for new in new_results
        ]
        report = report_amend_request(
            panel=panel,
            amends=current_report,
            reason=reason.strip(),
            corrections=changes,
            requested_by=user,
        )
        event_record(
            kind=EventKind.PANEL_RESULTS_AMENDED,
            lab_id=panel.lab_id,
            actor_id=user.pk,
            panel_id=panel.pk,
            report_id=report.pk,
            payload={
                "accession": panel.accession,
                "amendment_kind": kind,
                "amends_report_id": current_report.pk,
                "analytes": [new.analyte.code for new in new_results],
                "intake": intake,
                "report_id": report.pk,
                "report_stage": report.stage,
            },
            occurred_at=now,
        )
        panel_documents_write(panel_ids=[panel.pk])
    logger.info(
        "panel.amended panel_id=%s report_id=%s amends_report_id=%s results=%d kind=%s",
        panel.pk,
        report.pk,
        current_report.pk,
        len(new_results),
        kind,
    )
    return Amended(panel=panel, report=report)


def _check(corrections: Sequence[ResultData], current: dict[int, Result], kind: str) -> None:
    problems: list[dict[str, str]] = []
    seen: set[int] = set()
    if not corrections:
        problems.append({"field": "results", "message": "name at least one corrected result"})
    for index, correction in enumerate(corrections):
        where = f"results[{index}]"
        analyte = correction.analyte
        old = current.get(analyte.pk)
        if analyte.pk in seen:
            problems.append(
                {"field": f"{where}.analyte", "message": f"{analyte.short_name} is corrected twice"}
            )
            continue
        seen.add(analyte.pk)
        if old is None:
            problems.append(
                {
                    "field": f"{where}.analyte",
                    "message": f"the panel has no {analyte.short_name} result to correct",
                }
            )
            continue
        unchanged = (
            old.value_text == correction.reported.text
            and old.unit == correction.unit
            and old.dilution_factor == correction.dilution_factor
        )
        if unchanged:
            problems.append({"field": f"{where}.value", "message": "the same as the stored result"})
        if kind == DILUTION_RERUN:
            if not old.comparator.startswith(">"):
                problems.append(
                    {
                        "field": f"{where}.analyte",
                        "message": f"the stored {analyte.short_name} ({old.value_text}) is not "
                        "above the measuring range; a dilution re-run replaces a '>' result",
                    }
                )
            if correction.dilution_factor is None or correction.dilution_factor <= 1:
                problems.append(
                    {
                        "field": f"{where}.dilution_factor",
                        "message": "a re-run on dilution states its dilution factor (more than 1)",
                    }
                )
    if problems:
        raise InvalidInput("the amendment cannot be applied; nothing was changed", details=problems)


def _store_corrections(
    *, panel: Panel, corrections: Sequence[ResultData], current: dict[int, Result], now: Any
) -> list[Result]:
    ruleset = panel.ruleset
    interpretations = _interpret(panel, corrections).interpretations
    rules = {
        rule.key: rule
        for rule in ReferenceRangeRule.objects.filter(
            ruleset=ruleset, key__in={i.rule_key for i in interpretations if i.rule_key}
        )
    }
    last = Result.objects.filter(panel=panel).aggregate(last=Max("position"))["last"] or 0
    new_ids = ids_reserve(Result, len(corrections))
    # The old rows leave the "one current result per analyte" set first (pointing at the new
    # rows' reserved ids: foreign keys are checked at commit), then the new rows go in.
    for correction, new_id in zip(corrections, new_ids, strict=True):
        old = current[correction.analyte.pk]
        old.superseded_by_id = new_id
        old.superseded_at = now
        old.save(update_fields=["superseded_by", "superseded_at"])
    return Result.objects.bulk_create(
        result_build(
            pk=new_id,
            panel=panel,
            position=last + offset,
            data=correction,
            interpretation=interpretation,
            rules=rules,
            ruleset_version=ruleset.version,
        )
        for offset, (correction, interpretation, new_id) in enumerate(
            zip(corrections, interpretations, new_ids, strict=True), start=1
        )
    )


def _interpret(panel: Panel, results: Sequence[ResultData]) -> PanelInterpretation:
    """``results`` interpreted as the panel's submission was: the same recipe, rule set and day."""
    patient = panel.patient
    return panel_interpret(
        sex=patient.sex,
        birth_date=patient.birth_date,
        specimen_type=panel.specimen_type,
        collected_at=panel.collected_at,
        measurements=[result_data_measurement(result) for result in results],
        ruleset=ruleset_to_engine(panel.ruleset),
        lab_id=panel.lab_id,
    )


def _reconclude(*, panel: Panel, now: Any) -> None:
    """Findings, trend and summary again, from the results as they now stand."""
    Finding.objects.current().filter(panel=panel).update(superseded_at=now)
    results = list(
        Result.objects.current().filter(panel=panel).select_related("analyte").order_by("position")
    )
    data = [
        ResultData(
            analyte=result.analyte,
            analyte_as_received=result.analyte_as_received,
            raw_value=result.raw_value,
            reported=parse_reported_value(result.value_text),
            unit=result.unit,
            dilution_factor=result.dilution_factor,
        )
        for result in results
    ]
    interpreted = _interpret(panel, data)
    conclusions = panel_conclusions(
        panel=panel,
        results=results,
        interpretations=interpreted.interpretations,
        clinical={name: _clinical(value) for name, value in panel.clinical.items()},
        age_years=interpreted.age.years if interpreted.age else None,
        analytes={result.analyte.code: result.analyte for result in results},
    )
    conclusions_store(panel=panel, conclusions=conclusions)


def _clinical(value: Any) -> Decimal | bool | str:
    """A stored clinical input back to its type: numbers were stored as their text."""
    if isinstance(value, bool):
        return value
    try:
        reported = parse_reported_value(str(value))
    except NotationError:
        return str(value)
    return reported.value if not reported.comparator.is_censored else str(value)
