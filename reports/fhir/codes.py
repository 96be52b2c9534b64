"""The code systems and small tables the FHIR resources use.

The interpretation codes need no mapping: the engine stores HL7 v2 table 0078 codes, which are
the v3 ObservationInterpretation codes (``reference_ranges.engine.types.InterpretationCode``);
only their display names (the code system's own words) and the report's wording of each flag
(``reports.results_builder.FLAG_TEXT``) are added here.
"""

from __future__ import annotations

from reference_ranges.engine.types import InterpretationCode

FHIR_VERSION = "4.0.1"
FHIR_JSON = "application/fhir+json"

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
V3_INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
DIAGNOSTIC_SERVICE = "http://terminology.hl7.org/CodeSystem/v2-0074"
ADMINISTRATIVE_GENDER = "http://hl7.org/fhir/administrative-gender"
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"

# Labpanel's own code systems and identifier systems (URNs: they need no resolvable host).
LOCAL_ANALYTE = "urn:labpanel:analyte"
LOCAL_PANEL = "urn:labpanel:panel"
LOCAL_FINDING = "urn:labpanel:finding"
LOCAL_SPECIMEN_TYPE = "urn:labpanel:specimen-type"
PANEL_CODE = "cytokine-panel"
PANEL_DISPLAY = "Cytokine panel"


def mrn_system(lab_id: int) -> str:
    """The identifier system of a lab's MRNs: an MRN is the lab's own (the same MRN in two labs
    is two patients)."""
    return f"urn:labpanel:lab:{lab_id}:mrn"


def accession_system(lab_id: int) -> str:
    """The identifier system of a lab's accession numbers."""
    return f"urn:labpanel:lab:{lab_id}:accession"


def result_system(lab_id: int) -> str:
    """The identifier system of a lab's results: ``{accession}/{analyte code}`` names the
    panel's result of that analyte (a result replaced by a correction or re-run shares it with
    the result that replaced it: one result, its versions)."""
    return f"urn:labpanel:lab:{lab_id}:result"


def report_system() -> str:
    """The identifier system of reports (their UUIDs, unique across labs)."""
    return "urn:ietf:rfc:3986"


# v3 ObservationInterpretation display names, for the codes the engine emits.
INTERPRETATION_DISPLAY: dict[str, str] = {
    InterpretationCode.NORMAL: "Normal",
    InterpretationCode.HIGH: "High",
    InterpretationCode.LOW: "Low",
    InterpretationCode.CRITICAL_HIGH: "Critical high",
    InterpretationCode.CRITICAL_LOW: "Critical low",
    InterpretationCode.OFF_SCALE_LOW: "Off scale low",
    InterpretationCode.OFF_SCALE_HIGH: "Off scale high",
    InterpretationCode.INDETERMINATE: "Indeterminate",
}

# Units as Labpanel stores them -> their UCUM code. A unit missing here (U/mL: arbitrary units of
# sIL-2R, which UCUM's U, the enzyme unit, is not) is given as text only, never a UCUM code.
UCUM_CODES: dict[str, str] = {
    "pg/mL": "pg/mL",
    "ng/mL": "ng/mL",
    "ng/L": "ng/L",
    "mg/L": "mg/L",
    "mg/dL": "mg/dL",
    "pmol/L": "pmol/L",
    "ug/L": "ug/L",
    "µg/L": "ug/L",
}

# FHIR's search prefixes for dates that are supported.
DATE_PREFIXES = ("eq", "ge", "gt", "le", "lt")
