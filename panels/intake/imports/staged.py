"""What staging makes of an import file: the staged panels, QC samples and problems, and the
database facts staging reads (StagingContext). Plain data, shared by staging, preparing and
the job services.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.contrib.auth.models import User

from panels.intake.validation import (
    unit_match,
)
from panels.submission import (
    PanelSubmission,
)
from reference_ranges.models import Analyte
from reference_ranges.selectors import AnalyteCatalogue, MeasuringRangeFacts

FILE = "file"
MANIFEST = "manifest"


@dataclass(frozen=True)
class StagedProblem:
    source: str  # "file" or "manifest"
    row: int | None
    column: str | None
    code: str
    severity: str  # "error" or "warning"
    message: str


@dataclass(frozen=True)
class StagedPanel:
    """One patient sample ready to become a panel; ``positions`` parallel the results."""

    sample_id: str
    row: int
    well: str | None
    submission: PanelSubmission
    positions: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class QcSample:
    sample_id: str
    kind: str
    row: int
    well: str | None
    values: int


@dataclass
class StagedImport:
    format: str
    panels: list[StagedPanel] = field(default_factory=list)
    qc_samples: list[QcSample] = field(default_factory=list)
    problems: list[StagedProblem] = field(default_factory=list)
    not_measured: int = 0
    parser_errors: set[tuple[int | None, str | None]] = field(default_factory=set)

    @property
    def errors(self) -> list[StagedProblem]:
        return [problem for problem in self.problems if problem.severity == "error"]


@dataclass(frozen=True)
class StagingContext:
    catalogue: AnalyteCatalogue
    clinicians: Mapping[str, User]  # username -> active clinician of the lab
    now: datetime
    today: date
    local_zone: ZoneInfo
    measuring_ranges: Mapping[str, MeasuringRangeFacts] = field(default_factory=dict)
    default_unit: str = ""  # declared at upload for files that name no unit
    bead_regions: Mapping[str, Analyte] = field(default_factory=dict)  # the lab's mapping
    _analytes: dict[str, Analyte | None] = field(default_factory=dict)
    _units: dict[tuple[str, str], str | None] = field(default_factory=dict)

    def analyte(self, label: str) -> Analyte | None:
        """The catalogue's analyte for ``label`` (a file names a few analytes many times)."""
        if label not in self._analytes:
            self._analytes[label] = self.catalogue.resolve(label)
        return self._analytes[label]

    def unit(self, unit: str, analyte: Analyte) -> str | None:
        key = (unit, analyte.code)
        if key not in self._units:
            self._units[key] = unit_match(unit, analyte)
        return self._units[key]
