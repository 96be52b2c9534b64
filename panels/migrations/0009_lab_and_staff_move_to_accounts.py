"""Lab and StaffMember now live in ``accounts`` (state only: tables and rows stay as they are).

``accounts`` 0001 took the models over with their tables (``panels_lab``,
``panels_staffmember``); here the foreign keys of ``panels`` point at ``accounts.Lab`` and the
old models leave the ``panels`` state. Nothing in the database changes.
"""

import django.db.models.deletion
from django.db import migrations, models


def _lab(related_name: str) -> models.ForeignKey:
    return models.ForeignKey(
        on_delete=django.db.models.deletion.PROTECT,
        related_name=related_name,
        to="accounts.lab",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("panels", "0008_import_job_dispatch_failed"),
        ("reference_ranges", "0004_lab_moves_to_accounts"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(model_name="patient", name="lab", field=_lab("patients")),
                migrations.AlterField(model_name="panel", name="lab", field=_lab("panels")),
                migrations.AlterField(
                    model_name="importjob", name="lab", field=_lab("import_jobs")
                ),
                migrations.AlterField(
                    model_name="beadregion", name="lab", field=_lab("bead_regions")
                ),
                migrations.AlterField(
                    model_name="inboundmessage", name="lab", field=_lab("inbound_messages")
                ),
                migrations.DeleteModel(name="StaffMember"),
                migrations.DeleteModel(name="Lab"),
            ],
            database_operations=[],
        ),
    ]
