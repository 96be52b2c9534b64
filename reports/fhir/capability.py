"""What the server supports, once: the resources, their search parameters and statuses. The
views parse searches against it and the CapabilityStatement states it, so the two never
disagree."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reports.fhir import codes


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    documentation: str


@dataclass(frozen=True)
class Kind:
    name: str
    params: tuple[Param, ...]
    statuses: frozenset[str] = frozenset()
    includes: tuple[str, ...] = ()

    @property
    def allowed(self) -> frozenset[str]:
        return frozenset(param.name for param in self.params) | (
            frozenset({"_include"}) if self.includes else frozenset()
        )


_SUBJECT = Param("subject", "reference", "The patient: Patient/{id} or {id}")
_PATIENT = Param("patient", "reference", "The patient: Patient/{id} or {id}")
_DATE = Param(
    "date",
    "date",
    "The specimen's collection time; prefixes eq, ge, gt, le, lt (a value without a time zone "
    "is read in UTC); may repeat (each must hold)",
)
_ACCESSION = Param(
    "identifier", "token", "The accession: urn:labpanel:lab:{lab}:accession|{value}, or {value}"
)

KINDS: dict[str, Kind] = {
    "Patient": Kind(
        "Patient",
        (Param("identifier", "token", "The MRN: urn:labpanel:lab:{lab}:mrn|{value}, or {value}"),),
    ),
    "Specimen": Kind("Specimen", (_ACCESSION, _SUBJECT, _PATIENT)),
    "ServiceRequest": Kind(
        "ServiceRequest",
        (
            _ACCESSION,
            _SUBJECT,
            _PATIENT,
            Param("code", "token", f"{codes.LOCAL_PANEL}|{codes.PANEL_CODE}"),
            Param("status", "token", "active (not yet released) or completed (released)"),
        ),
        statuses=frozenset({"active", "completed"}),
    ),
    "Observation": Kind(
        "Observation",
        (
            Param(
                "identifier",
                "token",
                "The result: urn:labpanel:lab:{lab}:result|{accession}/{analyte code}, or "
                "{accession}/{analyte code}",
            ),
            _SUBJECT,
            _PATIENT,
            Param(
                "code",
                "token",
                f"The analyte: {codes.LOINC}|{{code}} (verified LOINC codes only) or "
                f"{codes.LOCAL_ANALYTE}|{{code}}",
            ),
            _DATE,
            Param("status", "token", "preliminary, final, amended or corrected"),
        ),
        statuses=frozenset({"preliminary", "final", "amended", "corrected"}),
    ),
    "DiagnosticReport": Kind(
        "DiagnosticReport",
        (
            Param(
                "identifier",
                "token",
                f"The report's UUID: {codes.report_system()}|urn:uuid:{{uuid}}",
            ),
            _SUBJECT,
            _PATIENT,
            Param("code", "token", f"{codes.LOCAL_PANEL}|{codes.PANEL_CODE}"),
            _DATE,
            Param("status", "token", "preliminary, final or corrected"),
        ),
        statuses=frozenset({"preliminary", "final", "corrected"}),
        includes=("DiagnosticReport:result",),
    ),
}

_COMMON_PARAMS = (
    Param("_id", "token", "The resource's id (commas: any of them)"),
    Param("_count", "number", "Resources a page (1 to 100, default 20)"),
    Param("_offset", "number", "Where the page starts (the paging links set it)"),
    Param(
        "_total",
        "token",
        "accurate (the default) or estimate: Bundle.total is the exact number of matches; "
        "none: no total (nothing is counted; the next link still says whether more follow)",
    ),
)


def capability_statement(*, base_url: str, date: str) -> dict[str, Any]:
    resources = []
    for kind in KINDS.values():
        resource: dict[str, Any] = {
            "type": kind.name,
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": [
                {"name": param.name, "type": param.type, "documentation": param.documentation}
                for param in (*kind.params, *_COMMON_PARAMS)
            ],
        }
        if kind.includes:
            resource["searchInclude"] = list(kind.includes)
        resources.append(resource)
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": date,
        "publisher": "Labpanel",
        "kind": "instance",
        "software": {"name": "Labpanel"},
        "implementation": {"description": "Labpanel FHIR R4 (read-only)", "url": base_url},
        "fhirVersion": codes.FHIR_VERSION,
        "format": [codes.FHIR_JSON],
        "rest": [
            {
                "mode": "server",
                "documentation": (
                    "Read-only. Search handling is strict: an unknown search parameter, a "
                    "modifier or a malformed value is refused with 400 and an OperationOutcome, "
                    "never ignored. Answers only what the caller may open (404 otherwise, as for "
                    "a resource that does not exist); every answer with patient data is recorded "
                    "in the read audit."
                ),
                "security": {
                    "service": [
                        {
                            "text": "API token (Authorization: Token ...) or a session, as the "
                            "REST API"
                        }
                    ]
                },
                "resource": resources,
            }
        ],
    }
