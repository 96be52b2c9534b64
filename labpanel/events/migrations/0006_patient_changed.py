
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("events", "0005_demographics_mismatch_audit"),
    ]

    operations = [
        migrations.AlterField(
            model_name='event',
            name='kind',
            field=models.CharField(choices=[('panel.stored', 'Panel stored'), ('panel.results_amended', 'Panel results amended'), ('panel.verified', 'Panel verified'), ('panel.verification_withdrawn', 'Panel verification withdrawn (results amended before release)'), ('panel.released', 'Panel released'), ('panel.critical_result', 'Critical result verified: ordering clinician notified'), ('panel.critical_escalated', 'Critical result not acknowledged in time: escalated'), ('panel.critical_acknowledged', 'Critical result acknowledged (or read back by phone)'), ('report.ready', 'Report ready'), ('report.corrected', 'Corrected report issued'), ('report.failed', 'Report failed'), ('report.acknowledged', 'Report acknowledged by a clinician'), ('import.committed', 'Import committed'), ('patient.changed', 'Patient changed in the admin (old and new values)')], max_length=40),
        ),
    ]
