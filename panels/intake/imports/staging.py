"""From a parsed file to panels that could be stored, and every problem by row and column.

Staging reads what the parser found (``panels.intake.files``), names the analytes through the
catalogue's aliases, maps instrument sample IDs to accessions through the manifest, checks every
field with the same rules as the JSON API (``panels.intake.validation``), and keeps standards,
controls and blanks apart from patient samples. It writes nothing. Database facts it needs (the
lab's clinicians, the catalogue, registered patients and accessions) are passed in or read in bulk.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.contrib.auth.models import User

from panels.intake.files.types import (
    CellValue,
    ParsedFile,
    ParsedSample,
    PatientFields,
    SampleKind,
    ValueKind,
)
from panels.intake.validation import (
    FieldError,
    accession_clean,
    birth_date_clean,
    collected_at_clean,
    dilution_factor_clean,
    optional_text,
    required_text,
    sex_clean,
    specimen_type_clean,
    unit_match,
    unit_problem,
)
from panels.notation import NotationError, ReportedValue, parse_reported_value
from panels.submission import (
    PanelSubmission,
    PatientData,
    ResultData,
    SubmissionInvalid,
    panel_submission_build,
    specimen_problems,
)
from reference_ranges.models import Analyte
from reference_ranges.selectors import AnalyteCatalogue, MeasuringRangeFacts

FILE = "file"
MANIFEST = "manifest"
MAX_RESULTS_PER_PANEL = 200


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


@lru_cache(maxsize=65_536)
def _reported_value(text: str) -> ReportedValue:
    """``parse_reported_value``, remembered: values repeat within a file and the result is
    immutable (errors are not cached; they are rare)."""
    return parse_reported_value(text)


@dataclass(frozen=True)
class _Identity:
    accession: str
    patient: PatientFields
    source: str
    row: int


def stage(
    parsed: ParsedFile, *, manifest: ParsedFile | None, context: StagingContext
) -> StagedImport:
    """Everything ``parsed`` would create, or the problems that stop it. Never raises on data."""
    staged = StagedImport(format=parsed.format)
    staged.problems.extend(_problems(parsed.problems, source=FILE))
    staged.parser_errors = {(p.row, p.column) for p in parsed.problems if p.severity == "error"}
    identities: dict[str, _Identity] = {}
    is_vendor = all(sample.patient is None for sample in parsed.samples) and bool(parsed.samples)
    if manifest is not None:
        staged.problems.extend(_problems(manifest.problems, source=MANIFEST))
        identities = _manifest_identities(manifest, staged)
    elif is_vendor:
        staged.problems.append(
            StagedProblem(
                FILE,
                None,
                None,
                "manifest_missing",
                "error",
                "an instrument export names samples, not patients: upload a manifest mapping "
                "each sample ID to its accession and patient",
            )
        )
    for sample in parsed.samples:
        if sample.kind is not SampleKind.PATIENT and is_vendor and sample.sample_id in identities:
            # The name looked like a standard's (S12, C1...), but the manifest maps it to an
            # accession: the lab's own mapping wins, and the preview says so.
            staged.problems.append(
                StagedProblem(
                    FILE,
                    sample.row,
                    None,
                    "mapped_sample_named_like_qc",
                    "warning",
                    f"sample {sample.sample_id!r} is named like a {sample.kind.value} but the "
                    "manifest maps it to an accession: imported as a patient sample",
                )
            )
            sample = replace(sample, kind=SampleKind.PATIENT)
        if sample.kind is not SampleKind.PATIENT:
            staged.qc_samples.append(
                QcSample(
                    sample_id=sample.sample_id,
                    kind=sample.kind.value,
                    row=sample.row,
                    well=sample.well,
                    values=len(sample.values),
                )
            )
            continue
        identity = _identity_for(sample, identities, staged, vendor=is_vendor)
        if identity is None:
            continue
        panel = _stage_sample(sample, identity, context, staged)
        if panel is not None:
            staged.panels.append(panel)
    _check_across_panels(staged)
    if not staged.panels and not staged.errors:
        staged.problems.append(
            StagedProblem(
                FILE, None, None, "no_patient_samples", "error", "the file holds no patient samples"
            )
        )
    return staged


def _problems(problems: Iterable[object], *, source: str) -> list[StagedProblem]:
    return [
        StagedProblem(
            source=source,
            row=problem.row,  # type: ignore[attr-defined]
            column=problem.column,  # type: ignore[attr-defined]
            code=problem.code,  # type: ignore[attr-defined]
            severity=problem.severity,  # type: ignore[attr-defined]
            message=problem.message,  # type: ignore[attr-defined]
        )
        for problem in problems
    ]


def _manifest_identities(manifest: ParsedFile, staged: StagedImport) -> dict[str, _Identity]:
    identities: dict[str, _Identity] = {}
    for sample in manifest.samples:
        if sample.patient is None or sample.accession is None:
            continue
        if sample.sample_id in identities:
            first = identities[sample.sample_id]
            staged.problems.append(
                StagedProblem(
                    MANIFEST,
                    sample.row,
                    "sample_id",
                    "duplicate_sample_id",
                    "error",
                    f"sample {sample.sample_id!r} is mapped twice (first at row {first.row})",
                )
            )
            continue
        identities[sample.sample_id] = _Identity(
            accession=sample.accession, patient=sample.patient, source=MANIFEST, row=sample.row
        )
    return identities


def _identity_for(
    sample: ParsedSample, identities: Mapping[str, _Identity], staged: StagedImport, *, vendor: bool
) -> _Identity | None:
    if not vendor:
        if sample.patient is None:  # pragma: no cover - CSV layouts always carry patients
            return None
        return _Identity(
            accession=sample.accession or sample.sample_id,
            patient=sample.patient,
            source=FILE,
            row=sample.row,
        )
    identity = identities.get(sample.sample_id)
    if identity is None and identities:
        where = f" (well {sample.well})" if sample.well else ""
        staged.problems.append(
            StagedProblem(
                FILE,
                sample.row,
                "Sample",
                "sample_not_in_manifest",
                "error",
                f"sample {sample.sample_id!r}{where} is on the plate but has no accession in "
                "the manifest",
            )
        )
    return identity


class _Collector:
    """Problems of one sample; each carries the source and row it was found at."""

    def __init__(self, staged: StagedImport) -> None:
        self.staged = staged
        self.failed = False
        self.parser_errors = staged.parser_errors

    def error(
        self, source: str, row: int | None, column: str | None, code: str, message: str
    ) -> None:
        self.failed = True
        self.staged.problems.append(StagedProblem(source, row, column, code, "error", message))

    def warning(
        self, source: str, row: int | None, column: str | None, code: str, message: str
    ) -> None:
        self.staged.problems.append(StagedProblem(source, row, column, code, "warning", message))


def _stage_sample(
    sample: ParsedSample, identity: _Identity, context: StagingContext, staged: StagedImport
) -> StagedPanel | None:
    problems = _Collector(staged)
    src, row = identity.source, identity.row
    fields = identity.patient

    def check(column: str, clean: object, *args: object, **kwargs: object) -> object:
        try:
            return clean(*args, **kwargs)  # type: ignore[operator]
        except FieldError as error:
            problems.error(src, row, column, "invalid_field", f"{column}: {error}")
            return None

    accession = check("accession", accession_clean, identity.accession)
    mrn = check("mrn", required_text, fields.mrn, field="MRN", max_length=64)
    family_name = check(
        "family_name", required_text, fields.family_name, field="family name", max_length=120
    )
    given_name = check(
        "given_name", optional_text, fields.given_name, field="given name", max_length=120
    )
    birth_date = check("birth_date", birth_date_clean, fields.birth_date, today=context.today)
    sex = check("sex", sex_clean, fields.sex)
    specimen_type = check("specimen_type", specimen_type_clean, fields.specimen_type)
    collected_at = check(
        "collected_at",
        collected_at_clean,
        fields.collected_at,
        local_zone=context.local_zone,
        now=context.now,
    )
    clinician = context.clinicians.get(fields.ordering_clinician.strip())
    if clinician is None:
        problems.error(
            src,
            row,
            "ordering_clinician",
            "unknown_clinician",
            f"ordering_clinician: {fields.ordering_clinician.strip()!r} is not an active "
            "clinician of this lab",
        )
    if isinstance(birth_date, date) and isinstance(collected_at, datetime):
        for problem in specimen_problems(
            birth_date=birth_date, collected_at=collected_at, zone=context.local_zone
        ):
            problems.error(src, row, "collected_at", problem.code, problem.message)
    results, positions = _stage_values(sample, context, problems)
    if not results and not problems.failed:
        problems.error(
            FILE, sample.row, None, "no_results", f"sample {sample.sample_id!r} has no results"
        )
    if len(results) > MAX_RESULTS_PER_PANEL:
        problems.error(
            FILE, sample.row, None, "too_many_results", f"more than {MAX_RESULTS_PER_PANEL} results"
        )
    if problems.failed:
        return None
    if not isinstance(collected_at, datetime) or clinician is None:  # pragma: no cover
        return None  # unreachable: both were reported as problems above
    try:
        submission = panel_submission_build(
            accession=str(accession),
            patient=PatientData(
                mrn=str(mrn),
                family_name=str(family_name),
                given_name=str(given_name),
                birth_date=birth_date if isinstance(birth_date, date) else None,
                sex=str(sex),
            ),
            specimen_type=str(specimen_type),
            collected_at=collected_at,
            ordering_clinician=clinician,
            results=results,
            zone=context.local_zone,
        )
    except SubmissionInvalid as invalid:  # pragma: no cover - each check was named above
        for problem in invalid.problems:
            problems.error(src, row, None, problem.code, f"{problem.field}: {problem.message}")
        return None
    return StagedPanel(
        sample_id=sample.sample_id,
        row=sample.row,
        well=sample.well,
        submission=submission,
        positions=tuple(positions),
    )


def _stage_values(
    sample: ParsedSample, context: StagingContext, problems: _Collector
) -> tuple[list[ResultData], list[tuple[int, str]]]:
    results: list[ResultData] = []
    positions: list[tuple[int, str]] = []
    seen: dict[str, CellValue] = {}
    for cell in sample.values:
        result = _stage_value(cell, context, problems)
        if result is None:
            continue
        first = seen.get(result.analyte.code)
        if first is not None:
            problems.error(
                FILE,
                cell.row,
                cell.column,
                "analyte_twice",
                f"{result.analyte.short_name} is reported twice for sample {sample.sample_id!r} "
                f"(first at row {first.row}, column {first.column!r})",
            )
            continue
        seen[result.analyte.code] = cell
        results.append(result)
        positions.append((cell.row, cell.column))
    return results, positions


def _at(cell: CellValue, field: str) -> tuple[str, int, str]:
    """Where a problem with ``field`` of ``cell`` is: in the long layout the analyte, unit and
    dilution have columns of their own; elsewhere everything is in the value's column."""
    long_layout = cell.column.casefold() == "value"
    return FILE, cell.row, field if long_layout else cell.column


def _recorded_limit(
    cell: CellValue, analyte: Analyte, context: StagingContext, problems: _Collector
) -> str | None:
    """``OOR <`` / ``OOR >`` as ``<LLOQ`` / ``>ULOQ`` from the lab's recorded measuring range
    for the assay (in the cell's unit, undiluted); without one the cell is an error."""
    below = cell.kind is ValueKind.BELOW_RANGE
    side = "below" if below else "above"
    facts = context.measuring_ranges.get(analyte.code)
    unit = (cell.unit or "").strip() or context.default_unit
    limits = facts.limits_in(unit) if facts is not None and unit else None
    limit = (limits[0] if below else limits[1]) if limits else None
    diluted = cell.dilution_factor not in (None, "", "1") and _is_not_one(cell.dilution_factor)
    if facts is None or limit is None or diluted:
        why = (
            "the sample was diluted, so the assay's limit does not apply as recorded"
            if diluted and limit is not None
            else "no measuring range is recorded for this assay"
        )
        problems.error(
            FILE,
            cell.row,
            cell.column,
            "out_of_range_without_value",
            f"{cell.raw!r}: {analyte.short_name} is {side} the measuring range but {why}; "
            "report it as <LLOQ or >ULOQ with the number (a limit is never guessed)",
        )
        return None
    text = f"{'<' if below else '>'}{limit:f}"
    problems.warning(
        FILE,
        cell.row,
        cell.column,
        "out_of_range_read_as_limit",
        f"{cell.raw!r} read as {text} {unit} from the lab's measuring range for "
        f"{analyte.short_name} ({facts.assay}, in force since {facts.effective_from})",
    )
    return text


def _is_not_one(text: str | None) -> bool:
    try:
        return dilution_factor_clean(str(text)) != 1
    except FieldError:
        return True


def _stage_value(
    cell: CellValue, context: StagingContext, problems: _Collector
) -> ResultData | None:
    where = (FILE, cell.row, cell.column)
    if (cell.row, cell.column) in problems.parser_errors:
        problems.failed = True  # the parser already said what is wrong with this cell
        return None
    analyte = context.analyte(cell.analyte_label)
    mapped = context.bead_regions.get(cell.bead_region) if cell.bead_region else None
    if analyte is not None and mapped is not None and analyte.pk != mapped.pk:
        problems.error(
            *_at(cell, "analyte"),
            "bead_region_conflict",
            f"{cell.analyte_label!r} is {analyte.short_name}, but the lab maps bead region "
            f"{cell.bead_region} to {mapped.short_name}; correct the export or the mapping",
        )
        return None
    analyte = analyte or mapped
    if analyte is None:
        problems.error(
            *_at(cell, "analyte"),
            "unknown_analyte",
            f"{cell.analyte_label!r} is not an analyte in the catalogue (code, name, alias or "
            "LOINC)"
            + (f" and bead region {cell.bead_region} is not mapped" if cell.bead_region else "")
            + "; nothing in this column was imported",
        )
        return None
    if cell.kind is ValueKind.EMPTY:
        if cell.unit is None and cell.column.casefold() == "value":
            problems.error(*where, "value_missing", "the value cell is empty")
        else:
            problems.staged.not_measured += 1
        return None
    if cell.kind is ValueKind.NOT_CALCULABLE:
        problems.error(
            *where,
            "no_value",
            f"the instrument gave no value ({cell.raw!r}) for {analyte.short_name}; re-run the "
            "sample or remove the cell",
        )
        return None
    text = cell.text or ""
    if cell.kind in (ValueKind.BELOW_RANGE, ValueKind.ABOVE_RANGE):
        limit_text = _recorded_limit(cell, analyte, context, problems)
        if limit_text is None:
            return None
        text = limit_text
    if cell.extrapolated:
        problems.error(
            *where,
            "extrapolated",
            f"{cell.raw!r} is extrapolated beyond the standard curve; report it as <LLOQ or >ULOQ, "
            "or re-run on dilution",
        )
        return None
    try:
        reported = _reported_value(text)
    except NotationError as error:
        problems.error(*where, "invalid_value", str(error))
        return None
    declared = (cell.unit or "").strip() or context.default_unit
    if not declared:
        problems.error(
            *_at(cell, "unit"), "unit_missing", f"no unit given for {analyte.short_name}"
        )
        return None
    unit = context.unit(declared, analyte)
    if unit is None:
        problems.error(*_at(cell, "unit"), "unit_not_allowed", unit_problem(declared, analyte))
        return None
    dilution: Decimal | None = None
    if cell.dilution_factor not in (None, ""):
        try:
            dilution = dilution_factor_clean(str(cell.dilution_factor))
        except FieldError as error:
            problems.error(
                *_at(cell, "dilution_factor"), "invalid_dilution", f"dilution factor: {error}"
            )
            return None
    return ResultData(
        analyte=analyte,
        analyte_as_received=cell.analyte_label[:120],
        raw_value=cell.raw[:64],
        reported=reported,
        unit=unit,
        dilution_factor=dilution,
    )


def _check_across_panels(staged: StagedImport) -> None:
    """One accession, one panel; one MRN, one set of demographics, across the whole file."""
    by_accession: dict[str, StagedPanel] = {}
    by_mrn: dict[str, StagedPanel] = {}
    kept: list[StagedPanel] = []
    for panel in staged.panels:
        submission = panel.submission
        first = by_accession.get(submission.accession)
        if first is not None:
            staged.problems.append(
                StagedProblem(
                    FILE,
                    panel.row,
                    "accession",
                    "accession_twice",
                    "error",
                    f"accession {submission.accession} appears for two samples "
                    f"(first at row {first.row})",
                )
            )
            continue
        by_accession[submission.accession] = panel
        same_patient = by_mrn.get(submission.patient.mrn)
        if same_patient is not None and same_patient.submission.patient != submission.patient:
            staged.problems.append(
                StagedProblem(
                    FILE,
                    panel.row,
                    "mrn",
                    "patient_differs",
                    "error",
                    f"MRN {submission.patient.mrn} has different demographics than at row "
                    f"{same_patient.row} (possible wrong patient; never merged)",
                )
            )
            continue
        by_mrn.setdefault(submission.patient.mrn, panel)
        kept.append(panel)
    staged.panels = kept


def panels_by_patient(panels: Sequence[StagedPanel]) -> dict[str, list[StagedPanel]]:
    grouped: dict[str, list[StagedPanel]] = {}
    for panel in panels:
        grouped.setdefault(panel.submission.patient.mrn, []).append(panel)
    return grouped
