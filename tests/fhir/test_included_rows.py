"""The Observations a DiagnosticReport search includes are built from plain rows
(``reports.fhir.rows``); a read of one Observation from the result's model instance. Both must
say the same, for every result of every report: current and replaced, judged and not, censored,
corrected and diluted, sharing an analyte's ``code`` and a rule's ``referenceRange`` across a
page."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from labpanel.accounts.models import StaffMember
from panels.models import Result
from reports.fhir import resources
from reports.fhir.rows import AnalyteRow, ResultRow, RuleRow, results_by_panel
from reports.models import Report
from reports.services import report_render
from tests.fhir.conftest import amend, fhir, release, submit
from tests.fhir.test_observation import RESULTS as OBSERVATION_RESULTS

pytestmark = pytest.mark.django_db

# the Observation tests' results (judged, censored, trailing zero, no interval), and a result
# above the measuring range that a dilution re-run replaces
RESULTS = [*OBSERVATION_RESULTS, {"analyte": "IFN-γ", "value": ">5000", "unit": "pg/mL"}]


def _included(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        entry["resource"]["id"]: entry["resource"]
        for entry in bundle.get("entry", [])
        if entry["search"]["mode"] == "include"
    }


def test_included_observations_are_the_observations_read_one_by_one(
    technician_client: APIClient, panel_payload: dict[str, Any], director: StaffMember
) -> None:
    first = submit(technician_client, panel_payload, "R-1", RESULTS)
    second = submit(technician_client, panel_payload, "R-2")  # the example's own results
    submit(technician_client, panel_payload, "R-3", RESULTS[:3])  # never released
    release(first, director)
    release(second, director)
    amend(technician_client, first, [{"analyte": "IL-6", "value": "1.9", "unit": "pg/mL"}])
    report_render(report_id=Report.objects.filter(panel=first).latest("pk").pk)  # the worker
    amend(
        technician_client,
        first,
        [{"analyte": "IFN-γ", "value": "23456", "unit": "pg/mL", "dilution_factor": "10"}],
        kind="dilution_rerun",
    )

    bundle = fhir(
        technician_client, "/fhir/DiagnosticReport?_count=50&_include=DiagnosticReport:result"
    )
    included = _included(bundle)

    # every report's results are included, the replaced ones for the reports issued with them
    linked = {
        reference["reference"].removeprefix("Observation/")
        for entry in bundle["entry"]
        if entry["search"]["mode"] == "match"
        for reference in entry["resource"].get("result", [])
    }
    assert set(included) == linked
    assert len(included) == Result.objects.count()
    statuses = {resource["status"] for resource in included.values()}
    assert statuses == {"preliminary", "final", "corrected", "amended"}
    for pk, resource in included.items():
        assert resource == fhir(technician_client, f"/fhir/Observation/{pk}"), pk


def test_rows_share_an_analyte_and_a_rule_and_build_their_parts_once(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    panels = [submit(technician_client, panel_payload, f"S-{n}") for n in range(3)]

    rows = results_by_panel(panel.pk for panel in panels)

    assert sorted(rows) == sorted(panel.pk for panel in panels)
    by_code: dict[str, list[ResultRow]] = {}
    for panel in panels:
        ours = rows[panel.pk]
        expected = list(
            Result.objects.filter(panel=panel).order_by("position", "pk").values_list("pk")
        )
        assert [(row.pk,) for row in ours] == expected
        for row in ours:
            by_code.setdefault(row.analyte.code, []).append(row)
    for same in by_code.values():
        assert len(same) == 3
        assert len({id(row.analyte) for row in same}) == 1
        assert isinstance(same[0].analyte, AnalyteRow)
        codes = [resources.observation_code(row) for row in same]
        assert all(code is codes[0] for code in codes)
    judged = [row for same in by_code.values() for row in same if row.rule is not None]
    assert judged, "the example's results include judged ones"
    rule = judged[0].rule
    assert isinstance(rule, RuleRow)
    sharing = [row for row in judged if row.rule is rule]
    assert len(sharing) == 3
    ranges = [
        resources.observation_resource(row, panel=panels[0], released_at=None)["referenceRange"][0]
        for row in sharing
    ]
    assert all(part is ranges[0] for part in ranges)
