"""FHIR R4 resources built from rows already read: pure functions, no queries.

Each builder takes the rows (and what was read with them: ``panel``, ``analyte``, ``rule``,
``supersedes``) and returns the resource as a plain dict. Numbers stay ``Decimal`` with the
decimals as reported (the renderer writes them as JSON numbers, digit for digit); nothing is
rounded, guessed or dropped: a censored value keeps its comparator, a result no interval judged
says so and carries no reference range, an analyte's LOINC is given only where the catalogue
verified it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from labpanel.accounts.models import Lab
from panels.models import Finding, Panel, Patient, Result, ReviewState
from reference_ranges.models import ReferenceRangeRule
from reports.fhir import codes
from reports.fhir.rows import AnalyteRow, ReplacedRow, ResultRow, RuleRow
from reports.models import Report, ReportStage, ReportStatus
from reports.results_builder import FLAG_TEXT

NO_INTERVAL_NOTE = (
    "No reference interval judged this result: it carries no reference range and no interpretation."
)


def reference(kind: str, pk: int) -> dict[str, str]:
    return {"reference": f"{kind}/{pk}"}


@functools.lru_cache(maxsize=1024)
def _instant(moment: datetime) -> str:
    """``moment`` in ISO 8601 (cached: a panel's collection time is written on each of its
    Observations)."""
    return moment.isoformat()


def _patient_gender(sex: str) -> str:
    # Labpanel's sexes are FHIR's administrative genders (female, male, other, unknown).
    return sex if sex in ("female", "male", "other", "unknown") else "unknown"


# --- Patient ------------------------------------------------------------------------------------


def patient_resource(patient: Patient) -> dict[str, Any]:
    name: dict[str, Any] = {"use": "official", "family": patient.family_name}
    if patient.given_name:
        name["given"] = [patient.given_name]
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(patient.pk),
        "identifier": [
            {
                "use": "usual",
                "type": {"coding": [{"system": codes.IDENTIFIER_TYPE, "code": "MR"}]},
                "system": codes.mrn_system(patient.lab_id),
                "value": patient.mrn,
            }
        ],
        "name": [name],
        "gender": _patient_gender(patient.sex),
    }
    if patient.birth_date is not None:
        resource["birthDate"] = patient.birth_date.isoformat()
    return resource


# --- Specimen and ServiceRequest (from the panel) -----------------------------------------------


def _accession(panel: Panel) -> dict[str, str]:
    return {"system": codes.accession_system(panel.lab_id), "value": panel.accession}


def _panel_code() -> dict[str, Any]:
    return {
        "coding": [
            {"system": codes.LOCAL_PANEL, "code": codes.PANEL_CODE, "display": codes.PANEL_DISPLAY}
        ],
        "text": codes.PANEL_DISPLAY,
    }


def specimen_resource(panel: Panel, *, type_display: str) -> dict[str, Any]:
    """The panel's specimen: its type, collection time, the lab's receipt time and condition as
    the lab stated them (none invented when not stated)."""
    resource: dict[str, Any] = {
        "resourceType": "Specimen",
        "id": str(panel.pk),
        "accessionIdentifier": _accession(panel),
        "status": "available",
        "type": {
            "coding": [
                {
                    "system": codes.LOCAL_SPECIMEN_TYPE,
                    "code": panel.specimen_type,
                    "display": type_display,
                }
            ],
            "text": type_display,
        },
        "subject": reference("Patient", panel.patient_id),
        "request": [reference("ServiceRequest", panel.pk)],
        "collection": {"collectedDateTime": _instant(panel.collected_at)},
    }
    if panel.received_at is not None:
        resource["receivedTime"] = _instant(panel.received_at)
    if panel.specimen_condition:
        resource["condition"] = [{"text": panel.specimen_condition}]
    return resource


def service_request_resource(panel: Panel, *, requester_display: str) -> dict[str, Any]:
    """The order the panel fulfils: completed once released, active before."""
    released = panel.review_state == ReviewState.RELEASED
    return {
        "resourceType": "ServiceRequest",
        "id": str(panel.pk),
        "identifier": [_accession(panel)],
        "status": "completed" if released else "active",
        "intent": "order",
        "category": [
            {
                "coding": [
                    {"system": codes.DIAGNOSTIC_SERVICE, "code": "LAB", "display": "Laboratory"}
                ]
            }
        ],
        "code": _panel_code(),
        "subject": reference("Patient", panel.patient_id),
        "requester": {"display": requester_display},
        "specimen": [reference("Specimen", panel.pk)],
    }


# --- Observation (one result) -------------------------------------------------------------------


def _quantity(value: Decimal, unit: str) -> dict[str, Any]:
    quantity: dict[str, Any] = {"value": value, "unit": unit}
    ucum = codes.UCUM_CODES.get(unit)
    if ucum is not None:
        quantity["system"] = codes.UCUM
        quantity["code"] = ucum
    return quantity


# A result as a read gives it: a model instance (a read of one, an Observation search) or a plain
# row (the results a DiagnosticReport search includes: ``rows``).
AnyResult = Result | ResultRow


def reported_value(result: AnyResult) -> Decimal:
    """The value with the decimals as reported (the column keeps six): ``<1.5`` -> 1.5."""
    return result.value.quantize(Decimal(1).scaleb(-result.value_scale))


def _age_quantity(age: int, unit: str) -> dict[str, Any]:
    code = "a" if unit == "years" else "d"
    return {"value": Decimal(age), "unit": unit, "system": codes.UCUM, "code": code}


def _reference_range(rule: ReferenceRangeRule | RuleRow, text: str) -> dict[str, Any]:
    """The interval that judged the result, as the rule states it (its own unit); from a rule
    read as a row, built once per page and text."""
    if isinstance(rule, RuleRow):
        kept = rule.fhir_ranges.get(text)
        if kept is None:
            kept = rule.fhir_ranges[text] = _range_built(rule, text)
        return kept
    return _range_built(rule, text)


def _range_built(rule: ReferenceRangeRule | RuleRow, text: str) -> dict[str, Any]:
    answer: dict[str, Any] = {}
    if rule.low is not None:
        answer["low"] = _quantity(rule.low.normalize(), rule.unit)
    if rule.high is not None:
        answer["high"] = _quantity(rule.high.normalize(), rule.unit)
    if rule.sex:
        answer["appliesTo"] = [
            {
                "coding": [{"system": codes.ADMINISTRATIVE_GENDER, "code": rule.sex}],
                "text": rule.sex,
            }
        ]
    if rule.min_age is not None or rule.max_age is not None:
        age: dict[str, Any] = {}
        if rule.min_age is not None:
            age["low"] = _age_quantity(rule.min_age, rule.age_unit)
        if rule.max_age is not None:
            age["high"] = _age_quantity(rule.max_age, rule.age_unit)
        answer["age"] = age
    words = rule.published_text or text
    if words:
        answer["text"] = words
    return answer


_SUPERSEDES = Result._meta.get_field("supersedes")


def _replaced(result: AnyResult) -> Result | ReplacedRow | None:
    """The result this one replaced (read with it: ``select_related("supersedes")``, or the
    row's). Taken from what the read cached, where a result that replaced none holds None:
    asking the accessor raises and catches ``DoesNotExist`` for each of them."""
    if isinstance(result, ResultRow):
        return result.supersedes
    if _SUPERSEDES.is_cached(result):
        replaced: Result | None = _SUPERSEDES.get_cached_value(result)  # type: ignore[assignment]
        return replaced
    try:
        return result.supersedes
    except Result.DoesNotExist:
        return None


def observation_status(result: AnyResult, *, panel: Panel, released_at: datetime | None) -> str:
    """preliminary / final / amended / corrected, from the panel's review state and its report
    history (``released_at``: when its FINAL report was issued, ``None`` before release).

    A result is preliminary while its panel is not released (or, for a result since replaced,
    when it was replaced before the release); final once released; a result that replaced a
    released one is corrected, or amended when it is a dilution re-run (a result above the
    measuring range measured again diluted: new information, not a corrected error)."""
    if released_at is None:
        return "preliminary"
    if result.superseded_at is not None:
        if result.superseded_at <= released_at:
            return "preliminary"
    elif panel.review_state != ReviewState.RELEASED:
        return "preliminary"
    replaced = _replaced(result)
    if replaced is None or replaced.superseded_at is None or replaced.superseded_at < released_at:
        return "final"
    if replaced.comparator.startswith(">") and result.dilution_factor is not None:
        return "amended"
    return "corrected"


def observation_code(result: AnyResult) -> dict[str, Any]:
    """The analyte's LOINC (where the catalogue verified it) and local code; from an analyte
    read as a row, built once per page."""
    analyte = result.analyte
    if isinstance(analyte, AnalyteRow):
        if analyte.fhir_code is None:
            analyte.fhir_code = _code_built(analyte)
        return analyte.fhir_code
    return _code_built(analyte)


def _code_built(analyte: Any) -> dict[str, Any]:
    coding = []
    if analyte.loinc and analyte.loinc_verified:
        coding.append({"system": codes.LOINC, "code": analyte.loinc, "display": analyte.name})
    coding.append(
        {"system": codes.LOCAL_ANALYTE, "code": analyte.code, "display": analyte.short_name}
    )
    return {"coding": coding, "text": analyte.name}


# The parts of an Observation that are the same for many results, made once and shared by the
# resources that show them (like ``observation_code``'s and ``_reference_range``'s): no
# resource is changed once built, and the renderer only reads them. The FHIR search of 50
# reports built its 650 Observations in 4.4 ms before, 3.6 after (bench/fhir_search.py's
# database, median of 300, the collector off).
_LABORATORY = [
    {
        "coding": [
            {"system": codes.OBSERVATION_CATEGORY, "code": "laboratory", "display": "Laboratory"}
        ]
    }
]


@functools.lru_cache(maxsize=256)
def _performer_display(lab_name: str) -> list[dict[str, str]]:
    return [{"display": lab_name}]


@functools.lru_cache(maxsize=256)
def _result_system(lab_id: int) -> str:
    return codes.result_system(lab_id)


@functools.cache
def _interpretation(code: str) -> list[dict[str, Any]]:
    """The v3 ObservationInterpretation of an interpretation code (the engine's few)."""
    return [
        {
            "coding": [
                {
                    "system": codes.V3_INTERPRETATION,
                    "code": code,
                    "display": codes.INTERPRETATION_DISPLAY.get(code, code),
                }
            ],
            "text": FLAG_TEXT.get(code, code),
        }
    ]


def observation_resource(
    result: AnyResult, *, panel: Panel, released_at: datetime | None
) -> dict[str, Any]:
    """One result as an Observation (``result.analyte``, ``result.rule`` and
    ``result.supersedes`` read with it; ``panel`` its panel, with its lab: the performer)."""
    quantity = _quantity(reported_value(result), result.unit)
    if result.comparator:
        quantity = {"value": quantity.pop("value"), "comparator": result.comparator, **quantity}
    replaced = _replaced(result)
    issued = replaced.superseded_at if replaced is not None else panel.created_at
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": str(result.pk),
        "identifier": [
            {
                "system": _result_system(panel.lab_id),
                "value": f"{panel.accession}/{result.analyte.code}",
            }
        ],
        "basedOn": [reference("ServiceRequest", panel.pk)],
        "status": observation_status(result, panel=panel, released_at=released_at),
        "category": _LABORATORY,
        "code": observation_code(result),
        "subject": reference("Patient", panel.patient_id),
        "effectiveDateTime": _instant(panel.collected_at),
        "issued": _instant(issued if issued is not None else panel.created_at),
        "performer": _performer_display(panel.lab.name),
        "valueQuantity": quantity,
        "specimen": reference("Specimen", panel.pk),
    }
    notes = []
    if result.interpretation:
        resource["interpretation"] = _interpretation(result.interpretation)
    if result.rule is not None:
        resource["referenceRange"] = [_reference_range(result.rule, result.reference_text)]
    else:
        notes.append(NO_INTERVAL_NOTE)
    if result.interpretation_reason:
        notes.append(result.interpretation_reason)
    if result.conversion:
        notes.append(f"Judged on the converted value: {result.conversion}")
    if result.dilution_factor is not None:
        notes.append(f"Dilution factor {format(result.dilution_factor.normalize(), 'f')}")
    if result.superseded_by_id is not None:
        notes.append(f"Replaced by Observation/{result.superseded_by_id}")
    if replaced is not None:
        notes.append(f"Replaces Observation/{replaced.pk}")
    if notes:
        resource["note"] = [{"text": text} for text in notes]
    if result.method:
        resource["method"] = {"text": result.method}
    if result.instrument:
        resource["device"] = {"display": result.instrument}
    return resource


# --- DiagnosticReport (one report) --------------------------------------------------------------

_REPORT_STATUS = {
    ReportStage.PRELIMINARY: "preliminary",
    ReportStage.FINAL: "final",
    ReportStage.CORRECTED: "corrected",
}
_FINDING_STATUS = {
    "met": "Met",
    "not_met": "Not met",
    "indeterminate": "Indeterminate",
    "not_evaluated": "Not evaluated",
}


def report_status(report: Report) -> str:
    return _REPORT_STATUS.get(ReportStage(report.stage), "unknown")


def _finding_line(finding: Finding) -> str:
    """A finding as the PDF words it: the criteria named for what their source studied (the
    rule's name and citation), its status and statement, and unverified criteria marked."""
    words = finding.text
    unverified = "" if words.verified else " (unverified criteria)"
    return (
        f"{words.name}{unverified}: {_FINDING_STATUS.get(finding.status, finding.status)}. "
        f"{words.statement} Source: {words.citation} (rule {finding.rule_id} "
        f"v{finding.rule_version})."
    )


def conclusion(findings: Sequence[Finding]) -> tuple[str | None, list[dict[str, Any]]]:
    """The report's ``conclusion`` (every evaluated finding, in rule order; those not evaluated
    named together) and ``conclusionCode`` (the findings met)."""
    evaluated = [f for f in findings if f.status != "not_evaluated"]
    skipped = [f for f in findings if f.status == "not_evaluated"]
    lines = [_finding_line(finding) for finding in evaluated]
    if skipped:
        lines.append(
            "Not evaluated (inputs not supplied with this panel): "
            + "; ".join(finding.text.name for finding in skipped)
            + "."
        )
    met = [
        {
            "coding": [
                {
                    "system": codes.LOCAL_FINDING,
                    "code": finding.rule_id,
                    "display": finding.text.name,
                }
            ],
            "text": finding.text.statement,
        }
        for finding in evaluated
        if finding.status == "met"
    ]
    return ("\n".join(lines) or None), met


LAB_ID = "lab"
"""The id of the performing laboratory, contained in each DiagnosticReport (``#lab``)."""


def performing_lab(lab: Lab) -> dict[str, Any]:
    """The laboratory that performed the tests, as a contained Organization: its name and
    address, which a report must carry (CLIA 42 CFR 493.1291(c)(2)); not a resource of its own
    on this server."""
    organization: dict[str, Any] = {"resourceType": "Organization", "id": LAB_ID, "name": lab.name}
    if lab.address:
        organization["address"] = [{"text": lab.address}]
    return organization


def _performer(lab: Lab) -> list[dict[str, str]]:
    return [{"reference": f"#{LAB_ID}", "display": lab.name}]


def diagnostic_report_resource(
    report: Report,
    *,
    panel: Panel,
    result_ids: Iterable[int],
    findings: Sequence[Finding],
    pdf_url: str,
) -> dict[str, Any]:
    """One report (``panel`` its panel): its results (``result_ids``: those it was issued
    with), the findings as conclusion, and its PDF once drawn."""
    resource: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "id": str(report.pk),
        "contained": [performing_lab(panel.lab)],
        "identifier": [{"system": codes.report_system(), "value": f"urn:uuid:{report.uuid}"}],
        "basedOn": [reference("ServiceRequest", panel.pk)],
        "status": report_status(report),
        "category": [
            {
                "coding": [
                    {"system": codes.DIAGNOSTIC_SERVICE, "code": "LAB", "display": "Laboratory"}
                ]
            }
        ],
        "code": _panel_code(),
        "subject": reference("Patient", panel.patient_id),
        "effectiveDateTime": _instant(panel.collected_at),
        "issued": _instant(report.created_at),
        "performer": _performer(panel.lab),
        "specimen": [reference("Specimen", panel.pk)],
        "result": [reference("Observation", pk) for pk in result_ids],
    }
    if not resource["result"]:
        del resource["result"]
    text, met = conclusion(findings)
    if text:
        resource["conclusion"] = text
    if met:
        resource["conclusionCode"] = met
    if report.status == ReportStatus.READY:
        resource["presentedForm"] = presented_form(report.pk, pdf_url)
    return resource


def presented_form(report_pk: int, pdf_url: str) -> list[dict[str, str]]:
    """A drawn report's PDF (``pdf_url``): the DiagnosticReport's last field (a stored one has
    it added when read: ``stored``)."""
    return [
        {
            "contentType": "application/pdf",
            "url": pdf_url,
            "title": f"Labpanel report {report_pk}",
        }
    ]


def results_of_report(
    report: Report, results: Sequence[AnyResult], *, newest: bool
) -> list[AnyResult]:
    """The results ``report`` was issued with, among all of its panel's (current and
    replaced): the current ones for the panel's newest report, else those in force when it
    was created (not replaced by then, and not replacing one replaced after)."""
    if newest:
        return [result for result in results if result.superseded_by_id is None]
    issued = report.created_at
    chosen = []
    for result in results:
        if result.superseded_at is not None and result.superseded_at <= issued:
            continue
        replaced = _replaced(result)
        if replaced is not None and replaced.superseded_at and replaced.superseded_at > issued:
            continue
        chosen.append(result)
    return chosen


def findings_of_report(
    report: Report, findings: Sequence[Finding], *, newest: bool
) -> list[Finding]:
    """The findings ``report`` was issued with (as ``results_of_report`` chooses results)."""
    if newest:
        return [finding for finding in findings if finding.superseded_at is None]
    issued = report.created_at
    return [
        finding
        for finding in findings
        if finding.evaluated_at <= issued
        and (finding.superseded_at is None or finding.superseded_at > issued)
    ]
