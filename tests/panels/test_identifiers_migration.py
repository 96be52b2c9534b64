"""Migrating to identifiers per lab (panels 0017) keeps every row (issue 13).

The database is migrated back to panels 0016 (MRN and accession unique across labs), rows are
written with the models of that state — a patient of lab A whose panels were stored by lab A
and by lab B (possible in data made before the per-lab rule), one of lab B's anchored on the
patient's CAR-T infusion — and then it is migrated forward: lab A keeps its patient and panel,
lab B gets its own patient with the same MRN and demographics holding both its panels (the
anchor event copied to it), and no panel is lost. The database then refuses an MRN or an
accession twice in one lab.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from panels.models import Panel, Patient, PatientEvent

BEFORE = [("panels", "0016_panel_result_counts")]


@pytest.fixture
def executor() -> Iterator[MigrationExecutor]:
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    yield executor
    # Whatever happened, leave the database fully migrated for the tests that follow.
    executor = MigrationExecutor(connection)
    executor.migrate(leaves)


@pytest.mark.django_db(transaction=True)
def test_a_patient_with_panels_in_two_labs_is_split_keeping_every_panel(
    reference_data: None, executor: MigrationExecutor
) -> None:
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    lab_model = old.get_model("accounts", "Lab")
    lab_a = lab_model.objects.create(name="Lab A")
    lab_b = lab_model.objects.create(name="Lab B")
    person = User.objects.create(username="someone")
    ruleset = old.get_model("reference_ranges", "ReferenceRangeSet").objects.first()
    patient = old.get_model("panels", "Patient").objects.create(
        lab_id=lab_a.pk,
        mrn="MRN-SPLIT",
        family_name="Split",
        given_name="Sam",
        birth_date=datetime(1970, 1, 2, tzinfo=UTC).date(),
        sex="male",
    )
    infusion = old.get_model("panels", "PatientEvent").objects.create(
        patient_id=patient.pk,
        kind="car_t_infusion",
        occurred_at=datetime(2026, 11, 1, tzinfo=UTC),
    )
    old_panel = old.get_model("panels", "Panel")

    def panel(accession: str, lab_id: int, anchor_event_id: int | None = None) -> int:
        return int(
            old_panel.objects.create(
                accession=accession,
                lab_id=lab_id,
                patient_id=patient.pk,
                specimen_type="serum",
                collected_at=datetime(2026, 11, 20, tzinfo=UTC),
                ordering_clinician_id=person.pk,
                submitted_by_id=person.pk,
                ruleset_id=ruleset.pk,
                content_sha256=accession.lower() * 4,
                anchor_event_id=anchor_event_id,
            ).pk
        )

    in_a = panel("ACC-A1", lab_a.pk, infusion.pk)
    in_b = [panel("ACC-B1", lab_b.pk, infusion.pk), panel("ACC-B2", lab_b.pk)]

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    kept = Patient.objects.get(pk=patient.pk)
    assert (kept.lab_id, kept.mrn) == (lab_a.pk, "MRN-SPLIT")
    assert list(kept.panels.values_list("pk", flat=True)) == [in_a]
    split = Patient.objects.get(lab_id=lab_b.pk, mrn="MRN-SPLIT")
    assert (split.family_name, split.given_name, split.birth_date, split.sex) == (
        "Split",
        "Sam",
        kept.birth_date,
        "male",
    )
    assert sorted(split.panels.values_list("pk", flat=True)) == sorted(in_b)
    assert Panel.objects.count() == 3
    anchored = Panel.objects.select_related("anchor_event").get(pk=in_b[0])
    assert anchored.anchor_event is not None
    assert (anchored.anchor_event.patient_id, anchored.anchor_event.occurred_at) == (
        split.pk,
        infusion.occurred_at,
    )
    assert Panel.objects.get(pk=in_a).anchor_event_id == infusion.pk
    assert PatientEvent.objects.filter(patient=kept).count() == 1

    with pytest.raises(IntegrityError), transaction.atomic():
        Patient.objects.create(lab_id=lab_b.pk, mrn="MRN-SPLIT", family_name="Twin", sex="male")
    twin = Panel.objects.get(pk=in_a)
    twin.pk = None
    twin.lab_id = lab_b.pk
    twin.accession = "ACC-B1"
    with pytest.raises(IntegrityError), transaction.atomic():
        twin.save()
