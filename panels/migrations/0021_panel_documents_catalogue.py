"""The panels' stored documents name when the analyte catalogue they were written from last
changed (``panels.models_documents.PanelDocument.catalogue_updated_at``): a document is served
only while the catalogue is as it was, since its results show the analytes' names.

Rows written before: a row written after the catalogue's last change was written from the
catalogue as it is, and is given its time; a row written before it (the catalogue changed since)
is left empty, so it is not served until ``manage.py panel_documents_write --missing`` writes it
again (the panel is answered from its records meanwhile).
"""

from django.db import migrations, models
from django.db.models import Max


def _known(apps, schema_editor):
    Analyte = apps.get_model("reference_ranges", "Analyte")
    PanelDocument = apps.get_model("panels", "PanelDocument")
    latest = Analyte.objects.aggregate(latest=Max("updated_at"))["latest"]
    if latest is not None:
        PanelDocument.objects.filter(written_at__gt=latest).update(catalogue_updated_at=latest)


class Migration(migrations.Migration):
    dependencies = [
        ("panels", "0020_panel_documents_json_text"),
        ("reference_ranges", "0006_reference_data_stamp"),
    ]

    operations = [
        migrations.AddField(
            model_name="paneldocument",
            name="catalogue_updated_at",
            field=models.DateTimeField(
                help_text=(
                    "When the analyte catalogue it was written from last changed (its results "
                    "show the analytes' names); empty: not known"
                ),
                null=True,
            ),
        ),
        migrations.RunPython(_known, migrations.RunPython.noop),
    ]
