"""Staged panels checked against what is stored, and interpreted: what a commit would write.

Reads only: the lab's registered patients by MRN (new, matched, or conflicting demographics),
the lab's accessions already stored (an identical panel is skipped, a different one is an
error); another lab's MRNs and accessions are other patients and panels, never seen. Then
interprets
every result against the lab's active rule set with ``panels.interpretation.panel_interpret``,
as a single submission does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from django.utils import timezone

from labpanel.accounts.models import Lab
from panels.demographics import differing_fields
from panels.intake.imports.staged import FILE, StagedImport, StagedPanel, StagedProblem
from panels.interpretation import MeasuringRanges, panel_interpret, result_data_measurement
from panels.models import Panel, Patient
from reference_ranges.adapters import ruleset_to_engine
from reference_ranges.engine import Age
from reference_ranges.engine.types import Interpretation, Measurement
from reference_ranges.models import ReferenceRangeSet

CHUNK = 5000


@dataclass(frozen=True)
class PreparedPanel:
    staged: StagedPanel
    content_sha256: str
    patient_id: int | None  # None: a new patient
    age: Age | None
    measurements: tuple[Measurement, ...]
    interpretations: tuple[Interpretation, ...]


@dataclass
class Prepared:
    panels: list[PreparedPanel]
    already_stored: list[StagedPanel]
    ruleset: ReferenceRangeSet
    # (patient id, differing fields) of every row naming a known MRN with other demographics:
    # audited with the job's validation (panels.demographics)
    mismatches: list[tuple[int, tuple[str, ...]]] = field(default_factory=list)

    @property
    def new_patients(self) -> int:
        return len({p.staged.submission.patient.mrn for p in self.panels if p.patient_id is None})

    @property
    def matched_patients(self) -> int:
        return len({p.patient_id for p in self.panels if p.patient_id is not None})

    def content_sha256(self) -> str:
        """What a commit would store, independent of order: compared before committing."""
        digest = hashlib.sha256(self.ruleset.version.encode())
        for line in sorted(f"{p.content_sha256}:{p.patient_id or 'new'}" for p in self.panels):
            digest.update(line.encode())
        for panel in sorted(p.submission.accession for p in self.already_stored):
            digest.update(f"skip:{panel}".encode())
        return digest.hexdigest()


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def prepare(*, staged: StagedImport, lab: Lab, ruleset: ReferenceRangeSet) -> Prepared:
    """Check ``staged`` against stored patients and accessions, then interpret every result.

    Problems found here are appended to ``staged.problems``; panels with problems are left out.
    """
    mrns = sorted({panel.submission.patient.mrn for panel in staged.panels})
    patients: dict[str, Patient] = {}
    for chunk in _chunks(mrns):
        patients.update((p.mrn, p) for p in Patient.objects.filter(lab=lab, mrn__in=chunk))
    accessions = [panel.submission.accession for panel in staged.panels]
    stored: dict[str, str] = {}
    for chunk in _chunks(accessions):
        stored.update(
            Panel.objects.filter(lab=lab, accession__in=chunk).values_list(
                "accession", "content_sha256"
            )
        )
    engine_ruleset = ruleset_to_engine(ruleset)
    ranges_by_day: dict[date, MeasuringRanges] = {}
    prepared = Prepared(panels=[], already_stored=[], ruleset=ruleset)
    zone = timezone.get_current_timezone()  # looked up once: the lookup is costly
    for panel in staged.panels:
        submission = panel.submission
        content_sha256 = submission.content_sha256()
        if submission.accession in stored:
            if stored[submission.accession] == content_sha256:
                prepared.already_stored.append(panel)
                continue
            staged.problems.append(
                StagedProblem(
                    FILE,
                    panel.row,
                    "accession",
                    "accession_used",
                    "error",
                    f"accession {submission.accession} is already stored with different "
                    "content; corrections go through an amended report",
                )
            )
            continue
        patient = patients.get(submission.patient.mrn)
        if patient is not None and not _same_patient(patient, panel, staged, prepared):
            continue
        interpreted = panel_interpret(
            sex=submission.patient.sex,
            birth_date=submission.patient.birth_date,
            specimen_type=submission.specimen_type,
            collected_at=submission.collected_at,
            measurements=[result_data_measurement(result) for result in submission.results],
            ruleset=engine_ruleset,
            lab_id=lab.pk,
            measuring_ranges_by_day=ranges_by_day,
            zone=zone,
        )
        prepared.panels.append(
            PreparedPanel(
                staged=panel,
                content_sha256=content_sha256,
                patient_id=patient.pk if patient else None,
                age=interpreted.age,
                measurements=interpreted.measurements,
                interpretations=interpreted.interpretations,
            )
        )
    return prepared


def _same_patient(
    patient: Patient, panel: StagedPanel, staged: StagedImport, prepared: Prepared
) -> bool:
    """Whether the row names ``patient`` (the lab's, by MRN) with its demographics; else the
    differing fields are the row's problem (the uploader is the lab's staff: named)."""
    data = panel.submission.patient
    differing = differing_fields(patient, data)
    if differing:
        prepared.mismatches.append((patient.pk, tuple(differing)))
        staged.problems.append(
            StagedProblem(
                FILE,
                panel.row,
                differing[0],
                "patient_differs",
                "error",
                f"MRN {data.mrn} is registered with a different {', '.join(differing)} "
                "(possible wrong patient; never merged)",
            )
        )
        return False
    return True
