"""MRN and accession are unique per lab, no longer across labs (issue 13): patients are per lab,
and the same MRN in two labs is two patients.

Existing data is kept whole. A patient is its lab's (``Patient.lab``); a patient whose panels
were stored by another lab than its own (possible only in data made before the per-lab rule
was enforced) is split: each other lab gets its own patient with the same MRN and demographics,
and that lab's panels move to it, every panel kept. A moved panel anchored on a patient event
(a CAR-T infusion…) gets that event copied to its new patient; other events stay with the
original patient. Going back (unapplying) works only while no MRN or accession is used by two
labs: the database then refuses the global unique constraints, and nothing is merged.
"""

from django.db import migrations, models


def split_patients_by_lab(apps, schema_editor):
    Patient = apps.get_model("panels", "Patient")
    Panel = apps.get_model("panels", "Panel")
    PatientEvent = apps.get_model("panels", "PatientEvent")
    foreign = (
        Panel.objects.exclude(lab_id=models.F("patient__lab_id"))
        .select_related("patient", "anchor_event")
        .order_by("pk")
    )
    copies: dict[tuple[int, int], object] = {}
    event_copies: dict[tuple[int, int], object] = {}
    for panel in foreign.iterator(chunk_size=2000):
        original = panel.patient
        key = (original.pk, panel.lab_id)
        patient = copies.get(key)
        if patient is None:
            patient = Patient.objects.create(
                lab_id=panel.lab_id,
                mrn=original.mrn,
                family_name=original.family_name,
                given_name=original.given_name,
                birth_date=original.birth_date,
                sex=original.sex,
            )
            copies[key] = patient
        panel.patient = patient
        fields = ["patient"]
        event = panel.anchor_event
        if event is not None and event.patient_id == original.pk:
            event_key = (event.pk, patient.pk)
            copy = event_copies.get(event_key)
            if copy is None:
                copy, _ = PatientEvent.objects.get_or_create(
                    patient=patient, kind=event.kind, occurred_at=event.occurred_at
                )
                event_copies[event_key] = copy
            panel.anchor_event = copy
            fields.append("anchor_event")
        panel.save(update_fields=fields)
    if schema_editor.connection.vendor == "postgresql":
        # Check the deferred foreign keys now: the constraints below alter these tables, which
        # PostgreSQL refuses while trigger events are pending.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_lab_critical_result_settings"),
        ("panels", "0016_panel_result_counts"),
    ]

    operations = [
        migrations.AlterField(
            model_name="patient",
            name="mrn",
            field=models.CharField(max_length=64, verbose_name="MRN"),
        ),
        migrations.AlterField(
            model_name="panel",
            name="accession",
            field=models.CharField(max_length=64),
        ),
        migrations.RunPython(split_patients_by_lab, migrations.RunPython.noop, elidable=False),
        migrations.AddConstraint(
            model_name="patient",
            constraint=models.UniqueConstraint(fields=("lab", "mrn"), name="patient_mrn_per_lab"),
        ),
        migrations.AddConstraint(
            model_name="panel",
            constraint=models.UniqueConstraint(
                fields=("lab", "accession"), name="panel_accession_per_lab"
            ),
        ),
    ]
