"""The JSON submission: validate-then-store one panel, its results and its pending report,
atomically.

``panel_submit`` is the one way a single panel enters the system (the JSON API and HL7 call it).
It interprets every result with the pure engine against the active rule set, stores the results
with the rule and version that produced each interpretation, asks ``reports`` for the pending
report (enqueued once the transaction has committed), and writes the ``panel.stored`` event.
Re-sending the same accession with identical content returns the stored panel; different
content is a conflict. Where the lab has auto-verification on, an all-normal panel is verified
on arrival (``panels.review.panel_auto_verify``), in the same transaction.
"""

from __future__ import annotations

import logging

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction

from labpanel.accounts import access
from labpanel.accounts.models import Lab
from labpanel.events.models import EventKind
from labpanel.events.services import event_record
from labpanel.exceptions import Conflict
from panels.demographics import DemographicsMismatch, mismatch_refusal
from panels.documents import panel_document_of_new, panel_document_store_new
from panels.interpretation import (
    panel_conclusions,
    panel_interpret,
    result_data_measurement,
)
from panels.models import Panel, Result
from panels.result_counts import panel_result_counts_apply
from panels.review import panel_auto_verify
from panels.services import (
    conclusions_apply,
    events_record,
    findings_store,
    patient_for,
    result_build,
)
from panels.submission import PanelSubmission, json_value
from reference_ranges.adapters import ruleset_to_engine
from reference_ranges.current import ReferenceData, reference_data_current
from reference_ranges.engine.patterns import FindingStatus
from reports.services import report_request

logger = logging.getLogger(__name__)

# The ways a panel comes in, as its ``panel.stored`` event names them ("import" is the bulk
# path, ``panels.intake.imports``, which writes the same event).
INTAKE_API = "api"
INTAKE_HL7_HTTP = "hl7_http"
INTAKE_HL7_MLLP = "hl7_mllp"


def _existing_panel_outcome(*, lab: Lab, accession: str, content_sha256: str) -> Panel | None:
    """``lab``'s panel of ``accession`` when the same content was sent before (another lab's
    accession is another panel, never seen here); ``Conflict`` when it holds other content."""
    panel = Panel.objects.filter(lab=lab, accession=accession).first()
    if panel is None:
        return None
    if panel.content_sha256 != content_sha256:
        raise Conflict(
            f"accession {accession} already holds a panel with different content; "
            "corrections go through an amended report, not a re-submission",
            details=[{"field": "accession", "message": "already used with different content"}],
        )
    return panel


def panel_submit(
    *,
    submitted_by: User,
    submission: PanelSubmission,
    intake: str = INTAKE_API,
    mismatch_to_caller: bool = False,
    reference: ReferenceData | None = None,
    in_caller_transaction: bool = False,
) -> tuple[Panel, bool]:
    """Store ``submission`` and request its report. Returns (panel, created).

    Raises ``NotAllowed`` (role may not submit), ``Conflict`` (accession reused with other
    content, patient demographics differ, no active rule set), ``TooManyAttempts`` (a known
    MRN after too many demographic mismatches). Nothing is stored on error. Accessions and
    MRNs are the submitting lab's own.

    A demographic mismatch is audited in its own transaction and answered as
    ``panels.demographics.mismatch_refusal`` says (no field named outside the lab's staff).
    A caller storing several panels in its own transaction (HL7: a message's panels) passes
    ``mismatch_to_caller``: ``DemographicsMismatch`` then propagates, and the caller answers it
    with ``mismatch_refusal`` once its transaction has rolled back (else the audit would roll
    back with it). ``reference``: the reference data the caller took for its unit of work
    (``reference_ranges.current``; HL7: one per message); else it is taken here.
    ``in_caller_transaction``: the panel is stored in the caller's transaction with no
    savepoint of its own (HL7: the message's); an ``IntegrityError`` (a concurrent submission
    won the race for the accession or the new patient's MRN) then propagates, and the caller
    rolls back and tries again, where this function would have answered against the rows the
    other submission committed.
    Side effects: writes a ``panel.stored`` event naming ``intake`` (the way in: ``api``,
    ``hl7_http``, ``hl7_mllp``) in the storing transaction; enqueues
    ``reports.render_report_pdf`` after commit. A re-sent identical panel writes no event.
    """
    lab = access.submitting_lab(submitted_by)
    try:
        return _panel_submit(
            lab=lab,
            submitted_by=submitted_by,
            submission=submission,
            intake=intake,
            reference=reference,
            in_caller_transaction=in_caller_transaction,
        )
    except DemographicsMismatch as mismatch:
        if mismatch_to_caller:
            raise
        raise mismatch_refusal(mismatch=mismatch, user=submitted_by, intake=intake) from None


def _panel_submit(
    *,
    lab: Lab,
    submitted_by: User,
    submission: PanelSubmission,
    intake: str,
    reference: ReferenceData | None,
    in_caller_transaction: bool,
) -> tuple[Panel, bool]:
    content_sha256 = submission.content_sha256()
    existing = _existing_panel_outcome(
        lab=lab, accession=submission.accession, content_sha256=content_sha256
    )
    if existing is not None:
        return existing, False
    if in_caller_transaction:
        with transaction.atomic(savepoint=False):
            panel = _panel_create(
                lab=lab,
                submitted_by=submitted_by,
                submission=submission,
                content_sha256=content_sha256,
                intake=intake,
                reference=reference,
            )
        return panel, True
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                panel = _panel_create(
                    lab=lab,
                    submitted_by=submitted_by,
                    submission=submission,
                    content_sha256=content_sha256,
                    intake=intake,
                    reference=reference,
                )
        except IntegrityError:
            # A concurrent submission won a race for the accession (or the new patient's MRN):
            # answer as if it had arrived first, or try once more against the committed rows.
            existing = _existing_panel_outcome(
                lab=lab, accession=submission.accession, content_sha256=content_sha256
            )
            if existing is not None:
                return existing, False
            if attempt == 2:
                raise
        else:
            return panel, True
    raise AssertionError("unreachable")  # pragma: no cover


def _panel_create(
    *,
    lab: Lab,
    submitted_by: User,
    submission: PanelSubmission,
    content_sha256: str,
    intake: str,
    reference: ReferenceData | None = None,
) -> Panel:
    """Store one new panel: in a transaction the caller opened (with or without a savepoint)."""
    # The reference data as it is now (one query, or none when the caller passes its own).
    reference = reference if reference is not None else reference_data_current()
    ruleset = reference.ruleset_active(lab=lab)
    if ruleset is None:
        raise Conflict("no reference range set is active; a director must publish one")
    patient, patient_is_new = patient_for(lab=lab, data=submission.patient, user_id=submitted_by.pk)
    events_record(patient=patient, events=submission.events)
    measuring_ranges = reference.measuring_ranges_by_day(lab_id=lab.pk)
    interpreted = panel_interpret(
        sex=patient.sex,
        birth_date=patient.birth_date,
        specimen_type=submission.specimen_type,
        collected_at=submission.collected_at,
        measurements=[result_data_measurement(result) for result in submission.results],
        ruleset=ruleset_to_engine(ruleset),
        lab_id=lab.pk,
        measuring_ranges_by_day=measuring_ranges,
        anticoagulants=reference.anticoagulants,
    )
    interpretations = interpreted.interpretations
    age = interpreted.age
    rules_by_key = reference.rules(
        ruleset=ruleset, keys={i.rule_key for i in interpretations if i.rule_key}
    )
    panel = Panel(
        accession=submission.accession,
        lab=lab,
        patient=patient,
        specimen_type=submission.specimen_type,
        collected_at=submission.collected_at,
        is_baseline=submission.is_baseline,
        received_at=submission.received_at,
        specimen_condition=submission.specimen_condition,
        ordering_clinician=submission.ordering_clinician,
        submitted_by=submitted_by,
        ruleset=ruleset,
        content_sha256=content_sha256,
        clinical={name: json_value(value) for name, value in submission.clinical.items()},
    )
    results = [
        result_build(
            panel=panel,
            position=position,
            data=result,
            interpretation=interpretation,
            rules=rules_by_key,
            ruleset_version=ruleset.version,
        )
        for position, (result, interpretation) in enumerate(
            zip(submission.results, interpretations, strict=True), start=1
        )
    ]
    # Findings, trend snapshot, summary and result counts are worked out before the panel is
    # inserted, and inserted with it (no UPDATE after).
    conclusions = panel_conclusions(
        panel=panel,
        results=results,
        interpretations=interpretations,
        clinical=submission.clinical,
        age_years=age.years if age else None,
        analytes={result.analyte.code: result.analyte for result in submission.results},
        pattern_rules=reference.pattern_rules(lab_id=lab.pk),
        # registered just now, with no event: no earlier panel nor event to read
        history_is_empty=patient_is_new and not submission.events,
    )
    conclusions_apply(panel=panel, conclusions=conclusions)
    panel_result_counts_apply(panel=panel, results=results)
    # Field checks only: every foreign key here is a row just read (lab, patient, clinician,
    # submitter, rule set, anchor event); re-checking each would cost a query apiece.
    panel.full_clean(
        exclude=["lab", "patient", "ordering_clinician", "submitted_by", "ruleset", "anchor_event"],
        validate_unique=False,
    )
    panel.save()
    Result.objects.bulk_create(results)
    findings = findings_store(panel=panel, conclusions=conclusions)
    report = report_request(panel=panel, panel_is_new=True)
    event_record(
        kind=EventKind.PANEL_STORED,
        lab_id=lab.pk,
        actor_id=submitted_by.pk,
        panel_id=panel.pk,
        report_id=report.pk,
        payload={
            "accession": panel.accession,
            "intake": intake,
            "patient_id": patient.pk,
            "report_id": report.pk,
            "results": len(results),
        },
        occurred_at=panel.created_at,
    )
    verification = panel_auto_verify(
        panel=panel,
        lab=lab,
        results=results,
        met_findings=[f.name for f in conclusions.findings if f.status == FindingStatus.MET],
        ranges=reference.measuring_ranges(lab_id=lab.pk, on=interpreted.collected_on),
    )
    # The panel's stored API document, from the rows in hand (not read back): one INSERT.
    document = panel_document_of_new(
        panel=panel,
        results=results,
        findings=findings,
        review_transitions=[] if verification is None else [verification],
    )
    panel_document_store_new(
        panel=panel, document=document, catalogue_updated_at=reference.catalogue().updated_at
    )
    logger.info(
        "panel.submitted panel_id=%s report_id=%s results=%d ruleset_version=%s",
        panel.pk,
        report.pk,
        len(submission.results),
        ruleset.version,
    )
    return panel
