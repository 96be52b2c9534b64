"""From a parsed file to panels that could be stored, and every problem by row and column.

Staging reads what the parser found (``panels.intake.files``), names the analytes through the
catalogue's aliases, maps instrument sample IDs to accessions through the manifest, checks every
field with the same rules as the JSON API (``panels.intake.validation``), and keeps standards,
controls and blanks apart from patient samples. It writes nothing. Database facts it needs (the
lab's clinicians, the catalogue, registered patients and accessions) are passed in or read in bulk.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime

from panels.intake.files import StreamedFile
from panels.intake.files.provenance import Provenance, export_provenance
from panels.intake.files.types import (
    ParsedFile,
    ParsedSample,
    PatientFields,
    SampleKind,
)
from panels.intake.imports.staged import (
    FILE,
    MANIFEST,
    QcSample,
    StagedImport,
    StagedPanel,
    StagedProblem,
    StagingContext,
)
from panels.intake.imports.staging_values import Collector, stage_values
from panels.intake.validation import (
    FieldError,
    accession_clean,
    birth_date_clean,
    collected_at_clean,
    optional_text,
    received_at_clean,
    required_text,
    sex_clean,
    specimen_type_clean,
)
from panels.submission import (
    PatientData,
    SubmissionInvalid,
    panel_submission_build,
    specimen_problems,
)

MAX_RESULTS_PER_PANEL = 200


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
    # what the export states about how every one of its results was measured
    provenance = export_provenance(parsed.format, parsed.metadata)
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
        panel = _stage_sample(sample, identity, context, staged, provenance)
        if panel is not None:
            staged.panels.append(panel)
    return _finish(staged)


def stage_stream(streamed: StreamedFile, *, context: StagingContext) -> StagedImport:
    """As ``stage`` for a Labpanel CSV without a manifest, read sample by sample from
    ``streamed`` (``panels.intake.files.parse_stream``): each sample's cells are let go once it
    is staged. The same staged import, the problems in the same order. Raises
    ``SamplesNotGrouped`` (before anything is kept) when the file cannot be streamed."""
    staged = StagedImport(format=streamed.format)
    provenance = export_provenance(streamed.format, {})
    seen = 0
    for sample in streamed.samples():
        problems = streamed.problems_so_far()
        if len(problems) != seen:
            staged.parser_errors.update(
                (p.row, p.column) for p in problems[seen:] if p.severity == "error"
            )
            seen = len(problems)
        if sample.patient is None:  # pragma: no cover - Labpanel CSV layouts carry patients
            raise ValueError("stage_stream reads Labpanel CSV layouts only")
        if sample.kind is not SampleKind.PATIENT:  # pragma: no cover - never in a Labpanel CSV
            staged.qc_samples.append(
                QcSample(sample.sample_id, sample.kind.value, sample.row, sample.well, 0)
            )
            continue
        identity = _identity_for(sample, {}, staged, vendor=False)
        if identity is None:  # pragma: no cover - CSV layouts always carry patients
            continue
        panel = _stage_sample(sample, identity, context, staged, provenance)
        if panel is not None:
            staged.panels.append(panel)
    parsed_problems = streamed.problems()
    staged.problems[:0] = _problems(parsed_problems, source=FILE)
    staged.parser_errors = {(p.row, p.column) for p in parsed_problems if p.severity == "error"}
    return _finish(staged)


def _finish(staged: StagedImport) -> StagedImport:
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


def _stage_sample(
    sample: ParsedSample,
    identity: _Identity,
    context: StagingContext,
    staged: StagedImport,
    provenance: Provenance,
) -> StagedPanel | None:
    problems = Collector(staged)
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
    received_at = check(
        "received_at",
        received_at_clean,
        fields.received_at,
        local_zone=context.local_zone,
        now=context.now,
    )
    condition = check(
        "specimen_condition",
        optional_text,
        fields.specimen_condition,
        field="specimen condition",
        max_length=200,
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
    if isinstance(collected_at, datetime):
        for problem in specimen_problems(
            birth_date=birth_date if isinstance(birth_date, date) else None,
            collected_at=collected_at,
            received_at=received_at if isinstance(received_at, datetime) else None,
            zone=context.local_zone,
        ):
            column = problem.field.removeprefix("specimen.")
            problems.error(src, row, column, problem.code, f"{column}: {problem.message}")
    results, positions = stage_values(sample, context, problems)
    if provenance.method or provenance.instrument:
        results = [
            replace(result, method=provenance.method, instrument=provenance.instrument)
            for result in results
        ]
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
            received_at=received_at if isinstance(received_at, datetime) else None,
            specimen_condition=str(condition or ""),
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
