"""Patients, panels (one specimen's ordered panel) and their results.

Results keep the value exactly as reported: the raw text, the Decimal, its comparator and the
number of decimals written, so nothing is rounded or re-notated. Each result points at the rule
and rule-set version that interpreted it.
"""

from __future__ import annotations

import hashlib
import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from labpanel.db import QuickLoadModel, TimestampedModel
from labpanel.events.models import AppendOnlyError
from reference_ranges.models import (
    Analyte,
    ReferenceRangeRule,
    ReferenceRangeSet,
    Sex,
    SpecimenType,
)


class Patient(TimestampedModel):
    lab = models.ForeignKey("accounts.Lab", on_delete=models.PROTECT, related_name="patients")
    mrn = models.CharField("MRN", max_length=64)
    family_name = models.CharField(max_length=120)
    given_name = models.CharField(max_length=120, blank=True)
    birth_date = models.DateField(null=True, blank=True)
    sex = models.CharField(max_length=8, choices=Sex.choices)

    class Meta:
        # Patients are per lab: the same MRN in two labs is two patients.
        constraints = [models.UniqueConstraint(fields=["lab", "mrn"], name="patient_mrn_per_lab")]

    def __str__(self) -> str:
        # Identifiers only: names never leave the record through str() (logs, admin lists).
        return f"Patient {self.mrn}"


class PatientEventKind(models.TextChoices):
    CAR_T_INFUSION = "car_t_infusion", "CAR-T infusion"
    BISPECIFIC_START = "bispecific_start", "Bispecific antibody start"
    TOCILIZUMAB = "tocilizumab", "Tocilizumab given"


class PatientEvent(TimestampedModel):
    """A dated clinical event that anchors serial results (e.g. CAR-T infusion = day 0)."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=24, choices=PatientEventKind.choices)
    occurred_at = models.DateTimeField()

    class Meta:
        ordering = ["patient", "occurred_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "kind", "occurred_at"], name="patient_event_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} for patient {self.patient_id} at {self.occurred_at:%Y-%m-%d}"


class ReviewState(models.TextChoices):
    """Where a panel's results stand: received (not yet looked at), verified by a qualified
    person (or by the lab's auto-verification rule), released to the ordering clinician."""

    RECEIVED = "received", "Received"
    VERIFIED = "verified", "Verified"
    RELEASED = "released", "Released"


class Panel(TimestampedModel):
    """One accessioned specimen and the cytokine panel measured on it."""

    accession = models.CharField(max_length=64)
    lab = models.ForeignKey("accounts.Lab", on_delete=models.PROTECT, related_name="panels")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="panels")
    specimen_type = models.CharField(max_length=16, choices=SpecimenType.choices)
    collected_at = models.DateTimeField()
    received_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the laboratory received the specimen, as the lab stated it; "
        "null when not stated (never guessed from Labpanel's own entry time, created_at)",
    )
    specimen_condition = models.CharField(
        max_length=200,
        blank=True,
        help_text="The specimen's condition as the lab stated it (e.g. Hemolyzed); blank when "
        "not stated",
    )
    is_baseline = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Marked by the lab as the patient's baseline: fold changes of later panels "
        "of the same specimen type are measured from it",
    )
    ordering_clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="ordered_panels"
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="submitted_panels"
    )
    ruleset = models.ForeignKey(ReferenceRangeSet, on_delete=models.PROTECT, related_name="panels")
    content_sha256 = models.CharField(
        max_length=64, help_text="Hash of the submitted content, for idempotent re-submission"
    )
    clinical = models.JSONField(
        default=dict, blank=True, help_text="Clinical inputs supplied with the panel, as sent"
    )
    anchor_event = models.ForeignKey(
        PatientEvent, null=True, blank=True, on_delete=models.PROTECT, related_name="panels"
    )
    serial = models.JSONField(
        default=dict, blank=True, help_text="Trend snapshot: earlier panels as known at submission"
    )
    summary = models.JSONField(default=dict, blank=True, help_text="Summary by family and role")
    # Changed only by ``panels.review`` (each change writes a ``ReviewTransition``). A database
    # default too: the bulk import's COPY leaves the column out.
    review_state = models.CharField(
        max_length=10,
        choices=ReviewState.choices,
        default=ReviewState.RECEIVED,
        db_default=ReviewState.RECEIVED,
    )
    # The panel's current results counted by judgement, for the lab's worklist (its order and
    # its flagged filter read them from one index). Written only by
    # ``panels.result_counts.panel_result_counts_store``, in the transaction of every change to
    # the panel's current results (submission, import, amendment); database defaults too (the
    # bulk import's COPY leaves them out, then counts).
    results_total = models.PositiveSmallIntegerField(default=0, db_default=0)
    results_flagged = models.PositiveSmallIntegerField(
        default=0,
        db_default=0,
        help_text="Current results neither normal, indeterminate nor uninterpreted",
    )
    results_critical = models.PositiveSmallIntegerField(default=0, db_default=0)
    results_not_interpreted = models.PositiveSmallIntegerField(default=0, db_default=0)
    results_indeterminate = models.PositiveSmallIntegerField(
        default=0, db_default=0, help_text="Current results that cannot be placed (IND)"
    )
    is_critical = models.BooleanField(
        default=False, db_default=False, help_text="A current result is flagged critical (HH/LL)"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # An accession is the lab's own: two labs may use the same one.
            models.UniqueConstraint(fields=["lab", "accession"], name="panel_accession_per_lab"),
            # A lab's panels as ids alone: a scope (``access.panels_scope``: ``lab_id = ...``)
            # joined or counted reads this index only, not the panels' wide rows (a FHIR search
            # counted its matches in 12 ms of 17 at 10,000 panels by sequential scan, 1 ms
            # from here). Unique (the id is) so that a report's (lab, panel) can refer to it:
            # a report's lab is its panel's (``reports.Report.lab``).
            models.UniqueConstraint(fields=["lab", "id"], name="panel_lab_ids"),
        ]
        indexes = [
            models.Index(fields=["lab", "-created_at"]),
            # The lab's worklist (``panels.worklist``) reads only this index, in its order: the
            # panels awaiting verification or release, critical first, then the oldest
            # collection, with what a row shows.
            models.Index(
                fields=["lab", "-is_critical", "collected_at", "accession"],
                include=[
                    "id",
                    "patient",
                    "submitted_by",
                    "specimen_type",
                    "review_state",
                    "results_total",
                    "results_flagged",
                    "results_critical",
                    "results_not_interpreted",
                    "results_indeterminate",
                ],
                condition=Q(review_state__in=["received", "verified"]),
                name="panel_worklist_order",
            ),
        ]

    def __str__(self) -> str:
        return f"Panel {self.accession}"


class ReviewTransitionQuerySet(models.QuerySet["ReviewTransition"]):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("review transitions are append-only: they are never updated")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("review transitions are append-only: they are never deleted")


class ReviewTransition(QuickLoadModel):
    """One change of a panel's review state: from, to, who (``None``: automatic, with the
    ``rule`` that allowed it), when and why. Append-only: the history of a panel's review."""

    panel = models.ForeignKey(Panel, on_delete=models.PROTECT, related_name="review_transitions")
    from_state = models.CharField(max_length=10, choices=ReviewState.choices)
    to_state = models.CharField(max_length=10, choices=ReviewState.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Who made the change; empty when it was automatic",
    )
    rule = models.CharField(
        max_length=64, blank=True, help_text="The lab rule that made an automatic change"
    )
    reason = models.TextField(blank=True)
    report_id = models.BigIntegerField(
        null=True, blank=True, help_text="The report a release produced"
    )
    occurred_at = models.DateTimeField()

    objects = ReviewTransitionQuerySet.as_manager()

    class Meta:
        ordering = ["panel", "occurred_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(from_state=models.F("to_state")), name="review_transition_changes"
            ),
            # An automatic change names its rule; a person's change names the person.
            models.CheckConstraint(
                condition=Q(actor__isnull=False) | ~Q(rule=""),
                name="review_transition_has_author",
            ),
        ]

    def __str__(self) -> str:
        return f"Panel {self.panel_id}: {self.from_state} → {self.to_state}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("review transitions are append-only: they are never updated")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("review transitions are append-only: they are never deleted")

    @property
    def is_automatic(self) -> bool:
        return self.actor_id is None


class ResultQuerySet(models.QuerySet["Result"]):
    def current(self) -> ResultQuerySet:
        """Results as they stand: without those a correction or re-run replaced."""
        return self.filter(superseded_by__isnull=True)


class Result(QuickLoadModel):
    panel = models.ForeignKey(Panel, on_delete=models.PROTECT, related_name="results")
    position = models.PositiveSmallIntegerField()
    analyte = models.ForeignKey(Analyte, on_delete=models.PROTECT, related_name="results")
    analyte_as_received = models.CharField(max_length=120)
    raw_value = models.CharField(max_length=64, help_text="The value text exactly as received")
    comparator = models.CharField(max_length=2, blank=True)
    value = models.DecimalField(max_digits=20, decimal_places=6)
    value_scale = models.PositiveSmallIntegerField(help_text="Decimal places as reported")
    unit = models.CharField(max_length=16)
    dilution_factor = models.DecimalField(
        max_digits=12, decimal_places=4, null=True, blank=True, help_text="As reported; informative"
    )
    interpretation = models.CharField(max_length=3, blank=True)
    conversion = models.CharField(
        max_length=200, blank=True, help_text="Unit conversion shown to the reader, if any"
    )
    interpretation_reason = models.TextField()
    reference_text = models.CharField(max_length=120, blank=True)
    rule = models.ForeignKey(
        ReferenceRangeRule, null=True, blank=True, on_delete=models.PROTECT, related_name="results"
    )
    ruleset_version = models.CharField(max_length=32)
    sender_range = models.CharField(
        max_length=120,
        blank=True,
        help_text="The sending system's reference range (HL7 OBX-7) as sent; never used to judge",
    )
    sender_flags = models.CharField(
        max_length=40, blank=True, help_text="The sending system's flags (HL7 OBX-8) as sent"
    )
    method = models.CharField(
        max_length=200,
        blank=True,
        help_text="The measurement method as the sender stated it (HL7 OBX-17, an instrument "
        "export's format); blank when not stated",
    )
    instrument = models.CharField(
        max_length=200,
        blank=True,
        help_text="The instrument as the sender stated it (HL7 OBX-18, an export's serial or "
        "name); blank when not stated",
    )
    superseded_by = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="supersedes",
        help_text="The corrected (or re-run) result that replaced this one; both are kept",
    )
    superseded_at = models.DateTimeField(null=True, blank=True)

    objects = ResultQuerySet.as_manager()

    class Meta:
        ordering = ["panel", "position"]
        indexes = [
            # The worklist puts panels with a critical result first: this small index holds
            # only the current critical results (``panels.worklist``).
            models.Index(
                fields=["panel"],
                condition=Q(interpretation__in=["HH", "LL"], superseded_by__isnull=True),
                name="result_critical_current",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["panel", "position"], name="result_position_unique"),
            models.UniqueConstraint(
                fields=["panel", "analyte"],
                condition=Q(superseded_by__isnull=True),
                name="result_analyte_once",
            ),
            models.CheckConstraint(condition=Q(value__gte=0), name="result_value_not_negative"),
            models.CheckConstraint(
                condition=Q(comparator__in=["", "<", "<=", ">", ">="]),
                name="result_comparator_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.analyte.code} on panel {self.panel_id}"

    @property
    def value_text(self) -> str:
        """The value as reported: comparator plus the number with its reported decimals."""
        quantum = Decimal(1).scaleb(-self.value_scale)
        return f"{self.comparator}{self.value.quantize(quantum):f}"


class FindingStatus(models.TextChoices):
    MET = "met", "Met"
    NOT_MET = "not_met", "Not met"
    INDETERMINATE = "indeterminate", "Indeterminate"
    NOT_EVALUATED = "not_evaluated", "Not evaluated"


class FindingQuerySet(models.QuerySet["Finding"]):
    def current(self) -> FindingQuerySet:
        return self.filter(superseded_at__isnull=True)


def finding_text_key(
    rule_id: str,
    rule_version: str,
    name: str,
    statement: str,
    citation: str,
    verified: bool,
    verification_note: str,
) -> uuid.UUID:
    """The key of a finding's words: the first 128 bits of the SHA-256 of every field, each
    preceded by its length (so no two different texts share an encoding). The same words get the
    same key in every process, so writers need not read a key back before they use it."""
    digest = hashlib.sha256()
    for part in (rule_id, rule_version, name, statement, citation, "1" if verified else "0"):
        digest.update(f"{len(part)}:{part}".encode())
    digest.update(f"{len(verification_note)}:{verification_note}".encode())
    return uuid.UUID(bytes=digest.digest()[:16])


class FindingText(QuickLoadModel):
    """The words of findings, stored once: a rule version's name, citation, verification state
    and note, with one statement it gave. Thousands of findings share a few of these (a rule's
    "not met" statement is the same for every panel that does not meet it); a finding row
    keeps only what is its own (status, evidence, score, times). Immutable: the key is the
    digest of the words (``finding_text_key``), so a changed word is another row."""

    id = models.UUIDField(primary_key=True, editable=False)
    rule_id = models.CharField(max_length=64)
    rule_version = models.CharField(max_length=32)
    name = models.CharField(max_length=200)
    statement = models.TextField()
    citation = models.TextField()
    verified = models.BooleanField()
    verification_note = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.rule_id} v{self.rule_version}: {self.statement[:60]}"


def finding_text(
    *,
    rule_id: str,
    rule_version: str,
    name: str,
    statement: str,
    citation: str,
    verified: bool,
    verification_note: str,
) -> FindingText:
    """The (unsaved) ``FindingText`` of these words, with its key."""
    return FindingText(
        id=finding_text_key(
            rule_id, rule_version, name, statement, citation, verified, verification_note
        ),
        rule_id=rule_id,
        rule_version=rule_version,
        name=name,
        statement=statement,
        citation=citation,
        verified=verified,
        verification_note=verification_note,
    )


class Finding(QuickLoadModel):
    """A panel-level conclusion of one pattern rule, with the evidence it rests on. Its words
    (name, statement, citation, verification) are a shared ``FindingText`` (``finding.text``):
    read them with ``select_related("text")`` where many findings are read."""

    panel = models.ForeignKey(Panel, on_delete=models.PROTECT, related_name="findings")
    position = models.PositiveSmallIntegerField()
    rule_id = models.CharField(max_length=64)
    rule_version = models.CharField(max_length=32)
    status = models.CharField(max_length=16, choices=FindingStatus.choices)
    # No index: texts are never deleted (nothing looks findings up by their text), and the
    # index would cost a finding row's 16-byte key again in every panel's findings.
    text = models.ForeignKey(
        FindingText, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    evidence = models.JSONField(default=list)
    missing_inputs = models.JSONField(default=list)
    score = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    evaluated_at = models.DateTimeField()
    superseded_at = models.DateTimeField(
        null=True, blank=True, help_text="Set when an amendment re-evaluated the panel"
    )

    objects = FindingQuerySet.as_manager()

    class Meta:
        ordering = ["panel", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["panel", "rule_id"],
                condition=Q(superseded_at__isnull=True),
                name="finding_rule_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule_id} v{self.rule_version}: {self.status} (panel {self.panel_id})"


# --- Imports from the bench (files) -------------------------------------------------------------


def import_file_path(job: ImportJob, filename: str) -> str:
    return f"imports/{job.uuid}/{filename}"


class ImportStatus(models.TextChoices):
    VALIDATING = "validating", "Validating"
    PREVIEW = "preview", "Preview ready"
    COMMITTING = "committing", "Committing"
    COMMITTED = "committed", "Committed"
    REJECTED = "rejected", "Rejected"
    ABANDONED = "abandoned", "Abandoned"


class ImportJob(TimestampedModel):
    """One uploaded file (and its optional sample manifest): validated, previewed, committed.

    The raw bytes are archived unchanged with their SHA-256; the same file cannot be imported
    twice by one lab (an abandoned job frees it). Committing is one transaction.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    lab = models.ForeignKey("accounts.Lab", on_delete=models.PROTECT, related_name="import_jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="import_jobs"
    )
    status = models.CharField(
        max_length=10, choices=ImportStatus.choices, default=ImportStatus.VALIDATING
    )
    format_requested = models.CharField(max_length=24, blank=True)
    default_unit = models.CharField(
        max_length=16,
        blank=True,
        help_text="Unit declared at upload for values whose file names none (MSD exports)",
    )
    format = models.CharField(max_length=24, blank=True, help_text="As detected or requested")
    filename = models.CharField(max_length=255)
    file = models.FileField(upload_to=import_file_path, max_length=255)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.BigIntegerField()
    manifest = models.FileField(upload_to=import_file_path, max_length=255, blank=True)
    manifest_filename = models.CharField(max_length=255, blank=True)
    manifest_sha256 = models.CharField(max_length=64, blank=True)
    encoding = models.CharField(max_length=16, blank=True)
    rows_processed = models.PositiveIntegerField(default=0)
    rows_total = models.PositiveIntegerField(null=True, blank=True)
    ruleset = models.ForeignKey(
        ReferenceRangeSet, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    summary = models.JSONField(default=dict, blank=True)
    preview = models.FileField(upload_to=import_file_path, max_length=255, blank=True)
    preview_sha256 = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the staged file the preview showed"
    )
    basis_sha256 = models.CharField(
        max_length=64, blank=True, help_text="Hash of the database facts the preview rests on"
    )
    staged_keys = models.JSONField(
        default=dict, blank=True, help_text="Patients, accessions and clinicians the preview uses"
    )
    problem_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    status_message = models.TextField(blank=True)
    committed_at = models.DateTimeField(null=True, blank=True)
    requeued = models.PositiveSmallIntegerField(
        default=0, help_text="Times its task was sent again after the message or worker was lost"
    )
    dispatch_failed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Sending its task to the broker failed; the next sweep sends it again",
    )
    committed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="committed_imports",
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["lab", "sha256"],
                condition=~Q(status="abandoned"),
                name="import_file_once_per_lab",
            ),
        ]

    def __str__(self) -> str:
        return f"Import {self.uuid} ({self.status})"


class BeadRegion(TimestampedModel):
    """A lab's mapping of a multiplex bead region (xPONENT/Bio-Plex ``IL-6 (27)``) to an analyte,
    used when an export names a column by a label the catalogue does not know."""

    lab = models.ForeignKey("accounts.Lab", on_delete=models.PROTECT, related_name="bead_regions")
    region = models.CharField(max_length=16)
    analyte = models.ForeignKey(Analyte, on_delete=models.PROTECT, related_name="bead_regions")
    kit = models.CharField(max_length=120, blank=True, help_text="Bead kit / panel, informative")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["lab", "region"], name="bead_region_once_per_lab")
        ]

    def __str__(self) -> str:
        return f"Bead region {self.region} → {self.analyte_id} (lab {self.lab_id})"


class ImportProblem(QuickLoadModel):
    """One problem found in an import, located by row and column of the file it names."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="problems")
    position = models.PositiveIntegerField()
    source = models.CharField(max_length=8, default="file", help_text="file or manifest")
    row = models.PositiveIntegerField(null=True, blank=True)
    column = models.CharField(max_length=120, blank=True)
    code = models.CharField(max_length=40)
    severity = models.CharField(max_length=8)
    message = models.TextField()

    class Meta:
        ordering = ["job", "position"]
        constraints = [
            models.UniqueConstraint(fields=["job", "position"], name="import_problem_position"),
        ]

    def __str__(self) -> str:
        return f"{self.severity} {self.code} at row {self.row} ({self.job_id})"


class ImportedPanel(QuickLoadModel):
    """Which panels a committed import created (a panel comes from at most one import)."""

    job = models.ForeignKey(ImportJob, on_delete=models.PROTECT, related_name="panels")
    panel = models.OneToOneField(Panel, on_delete=models.PROTECT, related_name="imported_from")
    sample_id = models.CharField(max_length=120)
    row = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"Panel {self.panel_id} from import {self.job_id}"


# --- Messages from hospital interfaces (HL7 v2) ------------------------------------------------


class Transport(models.TextChoices):
    HTTP = "http", "HTTP"
    MLLP = "mllp", "MLLP"


class InboundMessage(TimestampedModel):
    """One HL7 v2 message as received (archived unchanged) and the ACK it was answered with.

    A message accepted with AA is never processed twice: a resend with the same sender and
    control ID (MSH-10) gets the stored ACK back.
    """

    lab = models.ForeignKey(
        "accounts.Lab", on_delete=models.PROTECT, related_name="inbound_messages"
    )
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="inbound_messages"
    )
    transport = models.CharField(max_length=8, choices=Transport.choices)
    sending_application = models.CharField(max_length=180, blank=True)
    sending_facility = models.CharField(max_length=180, blank=True)
    control_id = models.CharField(max_length=199, blank=True, help_text="MSH-10")
    message_type = models.CharField(max_length=40, blank=True)
    raw = models.BinaryField(help_text="The message exactly as received (bytes)")
    sha256 = models.CharField(max_length=64)
    ack_code = models.CharField(max_length=2)
    ack = models.TextField()
    problems = models.JSONField(default=list, blank=True)
    accessions = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["lab", "sending_application", "sending_facility", "control_id"],
                condition=Q(ack_code="AA"),
                name="accepted_message_once",
            )
        ]

    def __str__(self) -> str:
        return f"HL7 {self.message_type} {self.control_id} ({self.ack_code})"


# The critical-result alerts live beside the results they are about (panels/models_critical.py).
from panels.models_critical import CriticalAlert as CriticalAlert  # noqa: E402
from panels.models_critical import CriticalNotification as CriticalNotification  # noqa: E402

# The panels API's stored documents (the read model: panels/models_documents.py).
from panels.models_documents import PanelDocument as PanelDocument  # noqa: E402
