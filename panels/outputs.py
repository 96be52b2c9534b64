"""Output shapes of the panels API: a panel as stored (patient, specimen, results with their
interpretation and rule, findings, superseded results) with its reports. The patient's history
(``serial``) and the findings measured against it are what the caller may be shown
(``panels.history``; one query for a whole list, none for the lab's staff).
"""

from __future__ import annotations

from typing import Any, cast

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from labpanel.accounts import access
from labpanel.serializer_reuse import reused
from panels.history import (
    HistoryShown,
    findings_shown,
    history_facts,
    history_shown_to,
    serial_shown,
)
from panels.models import (
    Finding,
    Panel,
    Result,
    ReviewTransition,
)

_FACTS = "history_facts"


def _value_text(result: Result) -> str:
    """The number with the decimals as reported, without the comparator."""
    return result.value_text.lstrip("<>=")


def _dilution_text(result: Result) -> str | None:
    """The dilution factor as a plain number (``10``, not ``1E+1``), or None (undiluted)."""
    return (
        None if result.dilution_factor is None else format(result.dilution_factor.normalize(), "f")
    )


def _rule_output(result: Result) -> dict[str, Any] | None:
    rule = result.rule
    if rule is None:
        return None
    return {
        "key": rule.key,
        "ruleset_version": result.ruleset_version,
        "source": rule.source,
        "test_code": rule.test_code,
        "citation": rule.citation,
        "verified": rule.verified,
        "published_text": rule.published_text,
    }


class ResultOutput(serializers.ModelSerializer[Result]):
    analyte = serializers.CharField(source="analyte.code")
    analyte_name = serializers.CharField(source="analyte.short_name")
    value = serializers.SerializerMethodField(method_name="get_value_text")
    interpretation = serializers.SerializerMethodField()
    reference_interval = serializers.SerializerMethodField()
    rule = serializers.SerializerMethodField()
    dilution_factor = serializers.SerializerMethodField()
    conversion = serializers.SerializerMethodField()

    class Meta:
        model = Result
        fields = (
            "position",
            "analyte",
            "analyte_name",
            "analyte_as_received",
            "raw_value",
            "value",
            "comparator",
            "unit",
            "dilution_factor",
            "interpretation",
            "conversion",
            "interpretation_reason",
            "reference_interval",
            "ruleset_version",
            "rule",
            "method",
            "instrument",
        )
        read_only_fields = fields

    def get_value_text(self, result: Result) -> str:
        """The number with the decimals as reported (no comparator; see ``comparator``)."""
        return _value_text(result)

    def get_dilution_factor(self, result: Result) -> str | None:
        return _dilution_text(result)

    def get_conversion(self, result: Result) -> str | None:
        return result.conversion or None

    def get_interpretation(self, result: Result) -> str | None:
        return result.interpretation or None

    def get_reference_interval(self, result: Result) -> str | None:
        return result.reference_text or None

    def get_rule(self, result: Result) -> dict[str, Any] | None:
        return _rule_output(result)


class ReviewTransitionOutput(serializers.ModelSerializer[ReviewTransition]):
    """One change of the panel's review state: who (``null`` and ``automatic``: the lab's rule
    named in ``rule``), when, why, from and to; a release names the FINAL report."""

    by = serializers.CharField(source="actor.username", allow_null=True, default=None)
    automatic = serializers.BooleanField(source="is_automatic")
    rule = serializers.CharField(allow_null=True)
    reason = serializers.CharField(allow_null=True)
    report = serializers.IntegerField(source="report_id", allow_null=True)

    class Meta:
        model = ReviewTransition
        fields = (
            "from_state",
            "to_state",
            "occurred_at",
            "by",
            "automatic",
            "rule",
            "reason",
            "report",
        )
        read_only_fields = fields

    def to_representation(self, instance: ReviewTransition) -> dict[str, Any]:
        data = dict(super().to_representation(instance))
        data["rule"] = data["rule"] or None
        data["reason"] = data["reason"] or None
        return data


class ReportSummaryOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    status = serializers.CharField(source="public_status")
    stage = serializers.CharField()
    amends = serializers.IntegerField(source="amends_id", allow_null=True)
    url = serializers.SerializerMethodField()
    pdf_url = serializers.SerializerMethodField()

    def _absolute(self, path: str) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    def get_url(self, report: Any) -> str:
        return self._absolute(reverse("api:report-detail", args=[report.pk]))

    def get_pdf_url(self, report: Any) -> str:
        return self._absolute(reverse("api:report-pdf", args=[report.pk]))


class FindingOutput(serializers.ModelSerializer[Finding]):
    # The finding's words are its shared FindingText's (read with select_related("text")).
    name = serializers.CharField(source="text.name", read_only=True)
    statement = serializers.CharField(source="text.statement", read_only=True)
    citation = serializers.CharField(source="text.citation", read_only=True)
    verified = serializers.BooleanField(source="text.verified", read_only=True)
    verification_note = serializers.CharField(source="text.verification_note", read_only=True)
    score = serializers.SerializerMethodField()

    class Meta:
        model = Finding
        fields = (
            "rule_id",
            "rule_version",
            "name",
            "status",
            "statement",
            "score",
            "evidence",
            "missing_inputs",
            "citation",
            "verified",
            "verification_note",
            "evaluated_at",
        )
        read_only_fields = fields

    def get_score(self, finding: Finding) -> str | None:
        return None if finding.score is None else format(finding.score.normalize(), "f")


class SpecimenOutput(serializers.Serializer[Any]):
    """The specimen as the lab stated it (the schema of ``PanelOutput.specimen``)."""

    type = serializers.CharField()
    collected_at = serializers.DateTimeField()
    received_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When the laboratory received the specimen, as it stated it; null when it "
        "did not (never Labpanel's own entry time: see created_at)",
    )
    condition = serializers.CharField(
        allow_blank=True, help_text="The specimen's condition as stated; empty when not stated"
    )


class PanelListOutput(serializers.ListSerializer[Panel]):
    """A list of panels: the facts of every earlier panel their histories show are read at once
    (for the panels whose caller is not shown the whole history)."""

    def to_representation(self, data: Any) -> list[Any]:
        panels = list(data.all() if hasattr(data, "all") else data)
        user = self.context["request"].user
        # the child reads the root's context (this list's): one read for every panel
        context = cast(dict[str, Any], self.context)
        context[_FACTS] = history_facts(
            [panel for panel in panels if not access.history_whole(user, lab_id=panel.lab_id)]
        )
        return [self.child.to_representation(panel) for panel in panels]  # type: ignore[union-attr]


class PanelOutput(serializers.ModelSerializer[Panel]):
    patient = serializers.SerializerMethodField()
    specimen = serializers.SerializerMethodField()
    ordering_clinician = serializers.CharField(source="ordering_clinician.username")
    ruleset = serializers.SerializerMethodField()
    results = ResultOutput(many=True)
    findings = serializers.SerializerMethodField()
    serial = serializers.SerializerMethodField(
        help_text="The trend over the patient's earlier panels the caller may be shown (see "
        'README, "Who sees a patient\'s history"); `not_shown` says how many were left out, '
        "where the caller is told"
    )
    report = serializers.SerializerMethodField()
    reports = serializers.SerializerMethodField()
    superseded_results = serializers.SerializerMethodField()
    flagged = serializers.SerializerMethodField()
    review_history = ReviewTransitionOutput(many=True, source="review_transitions")

    class Meta:
        model = Panel
        fields = (
            "id",
            "accession",
            "patient",
            "specimen",
            "ordering_clinician",
            "ruleset",
            "review_state",
            "review_history",
            "flagged",
            "results",
            "superseded_results",
            "findings",
            "summary",
            "serial",
            "clinical",
            "report",
            "reports",
            "created_at",
        )
        read_only_fields = fields
        list_serializer_class = PanelListOutput

    def _history_shown(self, panel: Panel) -> HistoryShown | None:
        """What the caller is shown of ``panel``'s history (``serial`` and ``findings`` ask)."""
        user = self.context["request"].user
        if access.history_whole(user, lab_id=panel.lab_id):
            return None
        context = cast(dict[str, Any], self.context)
        facts = context.get(_FACTS)
        if facts is None or panel.pk not in facts:
            # one panel (a read, a submission's answer): its earlier panels' facts, read once
            facts = context[_FACTS] = {**(facts or {}), **history_facts([panel])}
        return history_shown_to(user, panel, facts.get(panel.pk))

    def get_serial(self, panel: Panel) -> dict[str, Any]:
        return serial_shown(panel.serial or {}, panel.accession, self._history_shown(panel))

    @extend_schema_field(FindingOutput(many=True))
    def get_findings(self, panel: Panel) -> list[dict[str, Any]]:
        shown = findings_shown(
            list(panel.findings.all()),
            panel.serial or {},
            panel.accession,
            self._history_shown(panel),
        )
        # FindingOutput shows the finding alone (no context): one instance for every panel
        finding = reused(FindingOutput)
        return [finding.to_representation(each) for each in shown]

    def get_patient(self, panel: Panel) -> dict[str, Any]:
        patient = panel.patient
        return {
            "mrn": patient.mrn,
            "family_name": patient.family_name,
            "given_name": patient.given_name,
            "birth_date": patient.birth_date.isoformat() if patient.birth_date else None,
            "sex": patient.sex,
        }

    @extend_schema_field(SpecimenOutput)
    def get_specimen(self, panel: Panel) -> dict[str, Any]:
        return {
            "type": panel.specimen_type,
            "collected_at": serializers.DateTimeField().to_representation(panel.collected_at),
            # the laboratory's own receipt time; null when the lab did not state it
            "received_at": serializers.DateTimeField().to_representation(panel.received_at)
            if panel.received_at
            else None,
            "condition": panel.specimen_condition,
            "is_baseline": panel.is_baseline,
        }

    def get_ruleset(self, panel: Panel) -> dict[str, str]:
        return {
            "key": panel.ruleset.key,
            "name": panel.ruleset.name,
            "version": panel.ruleset.version,
        }

    def get_flagged(self, panel: Panel) -> bool:
        return any(result.interpretation not in ("", "N", "IND") for result in panel.results.all())

    def get_report(self, panel: Panel) -> dict[str, Any] | None:
        """The current report: the latest amendment, or the original."""
        reports = sorted(panel.reports.all(), key=lambda report: report.pk, reverse=True)
        if not reports:
            return None
        return dict(ReportSummaryOutput(reports[0], context=self.context).data)

    def get_reports(self, panel: Panel) -> list[dict[str, Any]]:
        """Every report of the panel, newest first: amended reports keep the originals."""
        reports = sorted(panel.reports.all(), key=lambda report: report.pk, reverse=True)
        return [dict(ReportSummaryOutput(report, context=self.context).data) for report in reports]

    def get_superseded_results(self, panel: Panel) -> list[dict[str, Any]]:
        """Results a correction or a dilution re-run replaced (kept, never deleted)."""
        superseded = getattr(panel, "superseded", None)
        if superseded is None:
            superseded = list(
                panel.results.filter(superseded_by__isnull=False).select_related(
                    "analyte", "superseded_by"
                )
            )
        return [
            {
                "analyte": result.analyte.code,
                "value": _value_text(result),
                "comparator": result.comparator,
                "unit": result.unit,
                "dilution_factor": _dilution_text(result),
                "interpretation": result.interpretation or None,
                "method": result.method,
                "instrument": result.instrument,
                "superseded_at": serializers.DateTimeField().to_representation(
                    result.superseded_at
                ),
                "replaced_by_position": result.superseded_by.position
                if result.superseded_by
                else None,
            }
            for result in superseded
        ]


class BulkRefusalOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    code = serializers.CharField(
        help_text="not_found, permission_denied, conflict (wrong state) or not_all_normal"
    )
    message = serializers.CharField()
    blockers = serializers.ListField(
        child=serializers.DictField(child=serializers.CharField()),
        help_text="For not_all_normal: each reason, with its code and a sentence",
    )


class BulkVerifyOutput(serializers.Serializer[Any]):
    verified = serializers.ListField(child=serializers.IntegerField())
    refused = BulkRefusalOutput(many=True)
