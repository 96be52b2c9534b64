"""A DiagnosticReport's findings as its reader is shown them: a finding measured against a
baseline panel the reader may not open reads as indeterminate, without its values, as the
REST API shows it (``panels.history.findings_shown``). The lab's staff read only the
snapshot's baseline for this (``selectors.serial_baseline_of``); other readers the snapshot."""

from __future__ import annotations

from typing import Any

import pytest

from panels.models import Panel
from reference_ranges.services.pattern_settings import pattern_rule_setting_change
from reports.models import Report
from tests.conftest import token_client
from tests.fhir.conftest import fhir
from tests.panels.test_history_visibility import (  # noqa: F401 - fixtures
    earlier,
    interface_answer,
    people,
    released_h3,
)


@pytest.fixture
def fold_rise_on(people: dict[str, Any]) -> None:  # noqa: F811
    """The lab measures the CAR-T fold rise of IL-6 from the patient's baseline panel."""
    director = people["director"]
    pattern_rule_setting_change(
        rule_id="DAVILA_2014_FOLD_RISE",
        lab=director.lab,
        enabled=True,
        reason="CAR-T monitoring protocol",
        changed_by=director.user,
    )


def _conclusion(client: Any, report: Report, *, search: bool) -> str:
    if search:
        bundle = fhir(client, f"/fhir/DiagnosticReport?_id={report.pk}")
        assert bundle["total"] == 1
        resource = bundle["entry"][0]["resource"]
    else:
        resource = fhir(client, f"/fhir/DiagnosticReport/{report.pk}")
    assert resource["id"] == str(report.pk)
    conclusion: str = resource.get("conclusion", "")
    return conclusion


@pytest.mark.django_db
@pytest.mark.parametrize("search", [False, True])
def test_a_fold_rise_from_a_baseline_the_reader_may_not_open_is_withheld(
    fold_rise_on: None,
    people: dict[str, Any],  # noqa: F811
    released_h3: tuple[Panel, Report],  # noqa: F811
    search: bool,
) -> None:
    panel, final = released_h3
    assert (panel.serial or {}).get("baseline") == "E-111"
    # the lab sees the fold rise measured against E-111
    lab = _conclusion(token_client(people["technician"]), final, search=search)
    # the interface submitted E-333 only: E-111 is not shown to it
    interface = _conclusion(token_client(people["integrator"]), final, search=search)
    # dr.wilson, E-333's ordering clinician, may open the released E-111
    wilson = _conclusion(token_client(people["wilson"]), final, search=search)

    withheld = "not shown to this reader"
    measured = "of 5 cytokines met"  # the statement measured against E-111
    assert measured in lab
    assert withheld not in lab
    assert wilson == lab
    assert measured not in interface
    assert withheld in interface
