"""The stored FHIR resources' stamp also names the analyte catalogue's last update (longer)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('reports', '0008_fhir_stored'),
    ]

    operations = [
        migrations.AlterField(
            model_name='storeddiagnosticreport',
            name='stamp',
            field=models.CharField(help_text="What it was built from: the code, the panel's API document, the lab and the analyte catalogue", max_length=200),
        ),
    ]
