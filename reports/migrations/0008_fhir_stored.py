"""The FHIR server's stored resources (``reports.models_fhir``): an empty table, filled by the
DiagnosticReport searches that build them (``reports.fhir.stored``); nothing to backfill."""

import django.db.models.deletion
import reports.models_fhir
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('reports', '0007_inbox_entry_backfill'),
    ]

    operations = [
        migrations.CreateModel(
            name='StoredDiagnosticReport',
            fields=[
                ('report', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='fhir_stored', serialize=False, to='reports.report')),
                ('stamp', models.CharField(help_text="What it was built from: the code, the panel's API document and the lab", max_length=120)),
                ('superseded', models.BooleanField(help_text='Whether a later report of its panel existed')),
                ('history_dependent', models.BooleanField(help_text="Whether its findings are measured against an earlier panel (a reader not shown that panel is shown them otherwise: such a reader's is built from the records)")),
                ('resource', reports.models_fhir.JSONTextField(help_text="The report's DiagnosticReport, compact JSON, without its presentedForm (added when read: the PDF's URL is the request's), its findings as the lab's staff read them")),
                ('result_ids', models.JSONField(help_text='The ids of the results it links, in order')),
                ('observations', reports.models_fhir.JSONTextField(help_text='The Observations of those results, in that order, their texts end to end')),
                ('observation_ends', models.JSONField(help_text="Where each Observation's text ends in observations (UTF-8 bytes)")),
                ('written_at', models.DateTimeField()),
            ],
            options={
                'abstract': False,
            },
        ),
    ]
