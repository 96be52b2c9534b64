"""What storing one panel costs in SQL (issue 14, "Intake"): the statements of ``panel_submit``
(a new patient, a known one) and of ``hl7_receive`` (one ORU message, one panel), pinned, and
the same whatever the number of results in the panel.

Counted as a request or a message meets them: the membership read afresh (``staff_forget``), the
reference data kept in memory (``reference_ranges.current``) loaded by an earlier panel. Inside
a test the storing transaction is a savepoint (SAVEPOINT and RELEASE are counted; in production
they are BEGIN and COMMIT, which Django does not count).

Also here: a new panel is inserted with the result counts the database would count for it
(``panels.result_counts``), and its inbox entry is the one ``reports.inbox_entries`` would
build from the stored rows.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from labpanel.accounts import access
from labpanel.accounts.models import Lab, Role, StaffMember
from panels.intake.hl7.services import hl7_receive
from panels.intake.inputs import PanelSubmitInput
from panels.intake.submission import panel_submit
from panels.models import Panel, Result, Transport
from panels.result_counts import NOT_FLAGGED, panel_result_counts_store
from reference_ranges.current import reference_data_current
from reports.inbox_entries import inbox_entries_refresh
from reports.models import InboxEntry
from tests.conftest import EXAMPLE_PANEL
from tests.factories import make_staff

BENCH = Path(__file__).resolve().parents[2] / "bench"
if str(BENCH) not in sys.path:
    sys.path.append(str(BENCH))

from mllp_client import ANALYTES  # noqa: E402

pytestmark = pytest.mark.django_db

# Pinned (before issue 14: 28, 28 and 32). A new patient: the membership, the accession
# (a re-send?), SAVEPOINT, the reference data stamp, the patient (FOR UPDATE), INSERT patient,
# panel, results, findings, report, inbox entry, event, RELEASE. A known patient: no INSERT
# of it, but its demographic-mismatch count, its earlier panels (with their results: one
# query, the prefetch's second only when there are some) and its events. A message: the
# membership, the replay check (MSH-10), the stamp, the lab's clinicians, then a new
# patient's panel as above and the archived message with its ACK. Then 9 more each, since
# the finding texts and the read model landed beside this work: the findings' shared words
# (one INSERT ... ON CONFLICT DO NOTHING, panels.FindingText) and the panel's stored API
# document (panels.documents: the panel read back as the API's serializer reads it, 7
# statements, and its INSERT), which the POST's answer and every later read then take in one
# statement instead of the 12 of a live build. Without the document: 13, 15 and 16. Then 7
# fewer each: the document is built from the rows the submission holds
# (panels.documents.panel_document_of_new), not read back, and stored with one INSERT (was 22,
# 24 and 25).
SUBMIT_NEW_PATIENT = 15
SUBMIT_KNOWN_PATIENT = 17
HL7_MESSAGE = 18

VALUES = ["12.4", "<1.5", "3.1", "40.2", "2.2", "1.6", "25.0", "1.9", "0.8", "1.1", "2.5", "1.0"]


def _payload(accession: str, mrn: str, results: int) -> dict[str, Any]:
    payload = copy.deepcopy(EXAMPLE_PANEL)
    payload["accession"] = accession
    payload["patient"]["mrn"] = mrn
    payload["results"] = [
        {"analyte": code, "value": VALUES[index % len(VALUES)], "unit": "pg/mL"}
        for index, (code, _, _) in enumerate(ANALYTES[:results])
    ]
    return payload


@pytest.fixture
def submit(
    reference_data: None, lab: Lab, technician: StaffMember, clinician: StaffMember
) -> Callable[..., int]:
    """Submit a panel of ``results`` results as a new request would; its statement count."""
    user = technician.user

    def run(accession: str, mrn: str, results: int = 2) -> int:
        serializer = PanelSubmitInput(
            data=_payload(accession, mrn, results),
            context={"lab": lab, "catalogue": reference_data_current().catalogue()},
        )
        assert serializer.is_valid(), serializer.errors
        submission = serializer.to_submission()
        access.staff_forget(user)
        with CaptureQueriesContext(connection) as queries:
            _, created = panel_submit(submitted_by=user, submission=submission)
        assert created
        return len(queries)

    run("WARM-UP", "MRN-WARM")  # loads the reference data into the process
    return run


def test_a_submission_for_a_new_patient_costs_the_pinned_statements(
    submit: Callable[..., int],
) -> None:
    assert submit("A-1", "MRN-NEW") == SUBMIT_NEW_PATIENT


def test_a_submission_for_a_known_patient_costs_the_pinned_statements(
    submit: Callable[..., int],
) -> None:
    submit("A-1", "MRN-KNOWN")
    assert submit("A-2", "MRN-KNOWN") == SUBMIT_KNOWN_PATIENT


def test_the_statements_of_a_submission_do_not_grow_with_its_results(
    submit: Callable[..., int],
) -> None:
    assert submit("A-1", "MRN-1", results=1) == submit("A-13", "MRN-13", results=13)


def _message(number: int, results: int) -> str:
    stamp = "20261120083000"
    segments = [
        f"MSH|^~\\&|HIS|HOSP|LABPANEL|LAB1|{stamp}||ORU^R01^ORU_R01|CTL{number:05d}|P|2.5.1",
        f"PID|1||MRN-H{number}^^^HOSP^MR||Doe^Jane||19800402|F",
        f"ORC|RE|PL-{number}|ACC-H{number}",
        f"OBR|1|PL-{number}|ACC-H{number}|CYTO13^Cytokine panel 13^L|||{stamp}"
        "||||||||SER^Serum|dr.house",
    ]
    for index, (code, text, _) in enumerate(ANALYTES[:results], start=1):
        segments.append(
            f"OBX|{index}|NM|{code}^{text}^L||{VALUES[index % len(VALUES)].lstrip('<')}"
            "|pg/mL^picogram per millilitre^UCUM|||||F"
        )
    return "\r".join(segments) + "\r"


@pytest.fixture
def receive(
    reference_data: None, lab: Lab, integrator: StaffMember, clinician: StaffMember
) -> Callable[..., int]:
    """Receive one ORU message of ``results`` OBX as the MLLP listener would; its statements."""
    user = integrator.user

    def run(number: int, results: int = 13) -> int:
        access.staff_forget(user)
        with CaptureQueriesContext(connection) as queries:
            outcome = hl7_receive(
                raw=_message(number, results), user=user, transport=Transport.MLLP
            )
        assert outcome.ack_code == "AA", outcome.ack
        return len(queries)

    run(0)  # loads the reference data into the process
    return run


def test_an_hl7_message_costs_the_pinned_statements(receive: Callable[..., int]) -> None:
    assert receive(1) == HL7_MESSAGE


def test_the_statements_of_an_hl7_message_do_not_grow_with_its_results(
    receive: Callable[..., int],
) -> None:
    assert receive(1, results=1) == receive(2, results=13)


def test_a_new_panel_is_stored_with_the_counts_and_inbox_entry_the_database_gives(
    reference_data: None, lab: Lab, technician: StaffMember, clinician: StaffMember
) -> None:
    # given: a panel with a critical, a flagged, a normal and a censored result
    make_staff(username="dr.counts", lab=lab, role=Role.CLINICIAN)
    payload = _payload("A-COUNTS", "MRN-COUNTS", 4)
    payload["results"][0]["value"] = "900"  # IL-6 far above its interval
    serializer = PanelSubmitInput(
        data=payload, context={"lab": lab, "catalogue": reference_data_current().catalogue()}
    )
    assert serializer.is_valid(), serializer.errors
    panel, _ = panel_submit(submitted_by=technician.user, submission=serializer.to_submission())
    fields = [
        "results_total",
        "results_flagged",
        "results_critical",
        "results_not_interpreted",
        "results_indeterminate",
        "is_critical",
    ]
    stored = Panel.objects.filter(pk=panel.pk).values(*fields, "summary").get()
    entry = InboxEntry.objects.filter(panel=panel).values().get()
    # when: the database counts the stored results, and the inbox entry is built from the rows
    panel_result_counts_store(panel_ids=[panel.pk])
    inbox_entries_refresh(panel_ids=[panel.pk])
    # then: both find what the panel and its entry were inserted with
    assert Panel.objects.filter(pk=panel.pk).values(*fields, "summary").get() == stored
    assert InboxEntry.objects.filter(panel=panel).values().get() == entry
    flagged = Result.objects.filter(panel=panel).exclude(interpretation__in=NOT_FLAGGED)
    assert (stored["results_total"], stored["results_flagged"]) == (4, flagged.count())
    assert flagged.filter(analyte__code="IL6").exists()  # the value far above its interval
    assert stored["summary"]["by_family"]
