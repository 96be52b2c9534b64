"""Eight realistic report cases, as the JSON API receives them (issue 11's list).

Each case is a list of steps: panels posted in order (earlier panels make the history of the
last one), and optionally an amendment of the last panel. ``bench/report_render.py`` posts them
through the API, renders their reports with a real worker and writes each one's PDF and PNGs;
``tests/reports/test_render_statements.py`` builds their documents both ways the worker can read
them. ``measuring_ranges_record`` gives a lab the assay limits the extrapolated case needs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from labpanel.accounts.models import Lab

INFUSION = datetime.fromisoformat("2026-11-10T09:00:00+00:00")

# A typical adult panel on lithium heparin plasma (the ARUP intervals' specimen), all within
# the interval.
NORMAL = {
    "SIL2R": "900",
    "IL12P70": "3.1",
    "IFNG": "6.0",
    "IL4": "<1.0",
    "IL5": "1.2",
    "IL10": "3.0",
    "IL13": "2.2",
    "IL1B": "4.0",
    "IL6": "2.0",
    "IL8": "7.5",
    "TNFA": "9.1",
    "IL2": "1.0",
    "IL17A": "1.5",
}


@dataclass(frozen=True)
class Step:
    day: int  # collection day relative to the infusion
    values: dict[str, str]
    units: dict[str, str] = field(default_factory=dict)  # analyte code -> unit (pg/mL else)
    dilution: dict[str, str] = field(default_factory=dict)
    clinical: dict[str, Any] = field(default_factory=dict)
    specimen: str = "plasma_heparin"


@dataclass(frozen=True)
class Case:
    slug: str
    title: str
    birth_date: str
    sex: str
    steps: tuple[Step, ...]
    infusion: bool = True
    amendment: dict[str, Any] | None = None


def _with(**changes: str) -> dict[str, str]:
    return {**NORMAL, **changes}


CASES: tuple[Case, ...] = (
    Case(
        "cart-day3-crs",
        "Adult, CAR-T day +3, CRS",
        "1968-03-14",
        "female",
        (
            Step(
                3,
                _with(IL6="1480", IFNG="412", IL10="96.4", SIL2R="5210", TNFA="31.0"),
                clinical={
                    "temperature_c": "39.4",
                    "fever_attributable_to_other_cause": False,
                    "antipyretic_or_anticytokine_given": False,
                    "hypotension": True,
                    "vasopressin": False,
                    "vasopressors_excluding_vasopressin": 1,
                    "oxygen_device": "low_flow_nasal_cannula",
                    "oxygen_flow_l_min": "4",
                },
            ),
        ),
    ),
    Case(
        "child",
        "Child, 10 years, IL-6 5000 pg/mL",
        "2016-06-01",
        "male",
        (Step(3, _with(IL6="5000", IFNG="220")),),
    ),
    Case("all-normal", "Adult, every analyte normal", "1975-09-30", "male", (Step(5, NORMAL),)),
    Case(
        "converted",
        "Adult, IL-6 reported in ng/mL",
        "1980-01-22",
        "female",
        (Step(2, _with(IL6="0.005"), units={"IL6": "ng/mL"}),),
    ),
    Case(
        "extrapolated",
        "Adult, IL-10 extrapolated above the measuring range, IL-6 diluted",
        "1959-12-02",
        "male",
        (Step(4, _with(IL6="24800", IL10="6200", IFNG=">1000"), dilution={"IL6": "10"}),),
    ),
    Case(
        "serial",
        "Adult, serial panels from day −1 to day +7",
        "1971-07-07",
        "female",
        (
            Step(-1, _with(IL6="3.1", IFNG="7.0")),
            Step(1, _with(IL6="48.0", IFNG="52.0")),
            Step(3, _with(IL6="620", IFNG="380", IL10="41.0")),
            Step(7, _with(IL6="95.0", IFNG="60.0", IL10="12.0")),
        ),
    ),
    Case(
        "amended",
        "Adult, IL-6 corrected after release",
        "1964-04-18",
        "male",
        (Step(2, _with(IL6="148.2")),),
        amendment={
            "reason": "Transcription error: IL-6 was entered with a misplaced decimal point.",
            "results": [{"analyte": "IL6", "value": "14.82", "unit": "pg/mL"}],
        },
    ),
    Case(
        "clinical-inputs",
        "Adult with clinician-supplied data: HLH-2004, HScore",
        "1988-02-11",
        "female",
        (
            Step(
                9,
                _with(SIL2R="9800", IFNG="180", IL10="150", IL6="60.0", FERRITIN="8400"),
                units={"FERRITIN": "ng/mL"},
                clinical={
                    "temperature_c": "39.0",
                    "splenomegaly": True,
                    "cytopenias_2_of_3_lineages": True,
                    "hypertriglyceridemia_or_hypofibrinogenemia": True,
                    "hemophagocytosis": False,
                    "known_immunosuppression": True,
                    "organomegaly": "both",
                    "cytopenic_lineages": 3,
                    "triglycerides_mmol_l": "4.2",
                    "fibrinogen_g_l": "1.9",
                    "ast_iu_l": "140",
                    "marrow_hemophagocytosis": False,
                },
            ),
        ),
    ),
)


def case_payloads(case: Case, *, clinician: str) -> list[dict[str, Any]]:
    """The JSON bodies of ``case``'s panels, in posting order, with fresh identifiers."""
    tag = uuid.uuid4().hex[:8].upper()
    patient = {
        "mrn": f"MRN-{case.slug.upper()}-{tag}",
        "family_name": "Case",
        "given_name": case.slug.replace("-", " ").title(),
        "birth_date": case.birth_date,
        "sex": case.sex,
    }
    events = [{"type": "car_t_infusion", "at": INFUSION.isoformat()}] if case.infusion else []
    payloads = []
    for index, step in enumerate(case.steps):
        collected = INFUSION + timedelta(days=step.day, hours=-1)
        payloads.append(
            {
                "accession": f"{case.slug.upper()}-{tag}-{index}",
                "patient": patient,
                "specimen": {"type": step.specimen, "collected_at": collected.isoformat()},
                "ordering_clinician": clinician,
                "events": events,
                "clinical": step.clinical,
                "results": [
                    {
                        "analyte": code,
                        "value": value,
                        "unit": step.units.get(code, "pg/mL"),
                        **(
                            {"dilution_factor": step.dilution[code]}
                            if code in step.dilution
                            else {}
                        ),
                    }
                    for code, value in step.values.items()
                ],
            }
        )
    return payloads


# The demo bead assay's measuring range of IL-6 and IL-10 (the extrapolated case).
MEASURING_RANGES = (("IL6", "1.5", "5000"), ("IL10", "1.5", "5000"))


def measuring_ranges_record(lab: Lab) -> None:
    """``lab``'s IL-6 and IL-10 assays measure 1.5-5000 pg/mL (the extrapolated case).

    Written straight to the table with a past ``effective_from``: the service records a range
    only from today on (never retroactively), and the cases are collected in November 2026.
    """
    from datetime import date
    from decimal import Decimal

    from reference_ranges.models import Analyte, AssayMeasuringRange

    for code, lloq, uloq in MEASURING_RANGES:
        AssayMeasuringRange.objects.create(
            lab=lab,
            analyte=Analyte.objects.get(code=code),
            assay="Demo bead assay",
            lloq=Decimal(lloq),
            uloq=Decimal(uloq),
            unit="pg/mL",
            effective_from=date(2026, 1, 1),
            source="bench/report_cases.py",
        )
