"""A submitted panel's stored API document is built from the rows the submission holds
(``panels.documents.panel_document_of_new``), not read back: for panels of every kind that
intake meets (censored values, results no range applies to, findings met, a new and a known
patient, JSON and HL7, the ordering clinician named by username and by provider ID, verified on
arrival or not) it is exactly, byte for byte as JSON, the document the live build
(``panels.selectors.panel_details`` and the same serializer) gives for the stored panel, and it
is stored as written from the panel and patient as they are."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from labpanel.accounts.models import Lab, StaffMember
from panels import documents
from panels.documents import panel_documents_build, panel_summary
from panels.intake import submission as intake_submission
from panels.intake.hl7.services import hl7_receive
from panels.models import Panel, PanelDocument, Patient, Transport
from panels.selectors import panel_details
from tests.conftest import token_client
from tests.panels.test_read_model import ANALYTES  # the same 13 results, censored both ways

pytestmark = pytest.mark.django_db


def _json_panel(
    *, accession: str, mrn: str, day: int, specimen: str = "plasma", **extra: Any
) -> dict[str, Any]:
    return {
        "accession": accession,
        "patient": {
            "mrn": mrn,
            "family_name": "Hand",
            "given_name": "Inn",
            "birth_date": "1970-01-01",
            "sex": "female",
        },
        "specimen": {"type": specimen, "collected_at": f"2026-11-{day:02d}T08:30:00Z"},
        "ordering_clinician": "dr.house",
        "results": [{"analyte": code, "value": value, "unit": "pg/mL"} for code, value in ANALYTES],
        **extra,
    }


def _hl7_message(number: int, *, mrn: str, provider: str, day: int) -> str:
    stamp = f"202611{day:02d}083000"
    segments = [
        f"MSH|^~\\&|HIS|HOSP|LABPANEL|LAB1|{stamp}||ORU^R01^ORU_R01|CTLH{number:04d}|P|2.5.1",
        f"PID|1||{mrn}^^^HOSP^MR||Hand^Inn||19700101|F",
        f"ORC|RE|PL-H{number}|ACC-H{number}",
        f"OBR|1|PL-H{number}|ACC-H{number}|CYTO13^Cytokine panel 13^L|||{stamp}"
        f"||||||||SER^Serum|{provider}",
    ]
    for index, (code, value) in enumerate(ANALYTES, start=1):
        kind = "NM" if value[0].isdigit() else "SN"
        shown = value if kind == "NM" else f"{value[0]}^{value[1:]}"
        segments.append(
            f"OBX|{index}|{kind}|{code}^{code}^L||{shown}|pg/mL^picogram per millilitre^UCUM|||||F"
        )
    return "\r".join(segments) + "\r"


@pytest.fixture
def in_hand(monkeypatch: pytest.MonkeyPatch) -> dict[int, dict[str, Any]]:
    """The documents the submissions build in hand, by panel id (the real function, watched)."""
    built: dict[int, dict[str, Any]] = {}
    store = documents.panel_document_store_new

    def watched(*, panel: Panel, document: dict[str, Any], **more: Any) -> PanelDocument:
        built[panel.pk] = document
        return store(panel=panel, document=document, **more)

    monkeypatch.setattr(intake_submission, "panel_document_store_new", watched)
    return built


@pytest.fixture
def submitted(
    reference_data: None,
    lab: Lab,
    technician: StaffMember,
    clinician: StaffMember,
    other_clinician: StaffMember,
    integrator: StaffMember,
    in_hand: dict[int, dict[str, Any]],
) -> list[int]:
    """Six panels of every kind intake meets, each through the real submission path."""
    other_clinician.provider_id = "PRV-0042"
    other_clinician.save()
    client: APIClient = token_client(technician)
    ids: list[int] = []

    def post(body: dict[str, Any]) -> None:
        response = client.post("/api/v1/panels/", body, format="json")
        assert response.status_code == 201, response.content
        ids.append(response.json()["id"])

    def receive(number: int, **message: Any) -> None:
        outcome = hl7_receive(
            raw=_hl7_message(number, **message), user=integrator.user, transport=Transport.MLLP
        )
        assert outcome.ack_code == "AA", outcome.ack
        ids.append(Panel.objects.get(lab=lab, accession=f"ACC-H{number}").pk)

    # a new patient's baseline, the day after a CAR-T infusion: censored values, clinical inputs
    post(
        _json_panel(
            accession="IH-1",
            mrn="IH-77",
            day=1,
            clinical={"temperature_c": "39.6", "splenomegaly": True},
            events=[{"type": "car_t_infusion", "at": "2026-10-31T12:00:00Z"}],
        )
    )
    # the same (known) patient later, its specimen's receipt and condition stated: a trend, and
    # an ASTCT grade met (with its score) from the clinical inputs
    later = _json_panel(accession="IH-2", mrn="IH-77", day=5)
    later["specimen"].update(received_at="2026-11-05T10:00:00+01:00", condition="Hemolyzed")
    later["results"] += [
        {"analyte": "FERRITIN", "value": "2500", "unit": "ng/mL"},
        {"analyte": "CRP", "value": "150", "unit": "mg/L"},
    ]
    later["clinical"] = {
        "temperature_c": "39.4",
        "fever_attributable_to_other_cause": False,
        "antipyretic_or_anticytokine_given": False,
        "hypotension": True,
        "vasopressors_excluding_vasopressin": 1,
        "vasopressin": False,
        "oxygen_device": "low_flow_nasal_cannula",
        "oxygen_flow_l_min": "4",
    }
    post(later)
    # cerebrospinal fluid: results that no range applies to
    post(_json_panel(accession="IH-3", mrn="IH-88", day=3, specimen="csf"))
    # all normal, the lab verifying such panels on arrival: a review history in the document
    lab.auto_verification_enabled = True
    lab.save()
    normal = _json_panel(accession="IH-4", mrn="IH-99", day=4, ordering_clinician="dr.wilson")
    normal["results"] = [{"analyte": "IL6", "value": "2.1", "unit": "pg/mL"}]
    post(normal)
    lab.auto_verification_enabled = False
    lab.save()
    # HL7: a new patient, the clinician named by provider ID; a known patient, by username
    receive(1, mrn="IH-HL7", provider="PRV-0042", day=6)
    receive(2, mrn="IH-77", provider="dr.house", day=9)
    return ids


def _live(panel_id: int) -> dict[str, Any]:
    panels = list(panel_details(Panel.objects.filter(pk=panel_id)))
    return panel_documents_build(panels)[panel_id]


def test_the_panels_cover_what_intake_meets(submitted: list[int]) -> None:
    documents_ = [_live(panel_id) for panel_id in submitted]
    values = {r["raw_value"] for d in documents_ for r in d["results"]}
    assert {"<1.5", ">5000"} <= values
    assert any(r["rule"] is None for d in documents_ for r in d["results"])
    assert any(f["status"] == "met" and f["score"] for d in documents_ for f in d["findings"])
    assert any(d["review_history"] for d in documents_)
    assert any(d["serial"].get("panels") for d in documents_)
    assert {d["ordering_clinician"] for d in documents_} == {"dr.house", "dr.wilson"}
    mrns = [d["patient"]["mrn"] for d in documents_]
    assert len(set(mrns)) < len(mrns)  # a known patient as well as new ones


def test_the_document_built_in_hand_is_byte_equal_to_the_live_build(
    submitted: list[int], in_hand: dict[int, dict[str, Any]]
) -> None:
    assert sorted(in_hand) == sorted(submitted)
    for panel_id in submitted:
        assert json.dumps(in_hand[panel_id]) == json.dumps(_live(panel_id)), panel_id


def test_the_stored_document_is_the_live_build_written_from_the_rows_as_they_are(
    submitted: list[int],
) -> None:
    for panel_id in submitted:
        stored = PanelDocument.objects.get(panel_id=panel_id)
        live = _live(panel_id)
        panel = Panel.objects.get(pk=panel_id)
        assert json.dumps(stored.detail, sort_keys=True) == json.dumps(live, sort_keys=True)
        assert stored.summary == panel_summary(live)
        assert stored.panel_updated_at == panel.updated_at
        assert stored.patient_updated_at == Patient.objects.get(pk=panel.patient_id).updated_at
