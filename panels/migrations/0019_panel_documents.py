"""The panels API's stored documents (issue 14, the read model): one row per panel, written by
``panels.documents``; existing panels get theirs from ``manage.py panel_documents_write``
(until then they are built from their records, as before)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('panels', '0018_finding_texts'),
    ]

    operations = [
        migrations.CreateModel(
            name='PanelDocument',
            fields=[
                ('panel', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='document', serialize=False, to='panels.panel')),
                ('detail', models.JSONField(help_text="The panel's API document as its lab's staff read it, without its reports")),
                ('summary', models.JSONField(help_text="The panel's summary in the API's list, without reports")),
                ('panel_updated_at', models.DateTimeField(help_text="The panel's updated_at it was written from")),
                ('patient_updated_at', models.DateTimeField(help_text="The patient's updated_at it was written from")),
                ('written_at', models.DateTimeField()),
            ],
        ),
    ]
