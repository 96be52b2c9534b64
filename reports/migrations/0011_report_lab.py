"""A report keeps its panel's lab (``Report.lab``): filled in from the panels, then required,
indexed with the ids (``report_lab_ids``), and on PostgreSQL held to the panel's lab by a
foreign key from (lab, panel) to the panel's (lab, id)."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery

_FOREIGN_KEY = "report_lab_is_panel_lab"


def labs_fill(apps, schema_editor):
    Report = apps.get_model("reports", "Report")
    Panel = apps.get_model("panels", "Panel")
    Report.objects.update(
        lab_id=Subquery(Panel.objects.filter(pk=OuterRef("panel_id")).values("lab_id")[:1])
    )


def foreign_key_add(apps, schema_editor):
    # PostgreSQL only: SQLite (the embedded default) cannot add a constraint to a table.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"ALTER TABLE reports_report ADD CONSTRAINT {_FOREIGN_KEY} "
            "FOREIGN KEY (lab_id, panel_id) REFERENCES panels_panel (lab_id, id) "
            "DEFERRABLE INITIALLY DEFERRED"
        )


def foreign_key_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE reports_report DROP CONSTRAINT {_FOREIGN_KEY}")


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0005_token_scopes'),
        ('panels', '0023_panel_lab_ids_unique'),
        ('reports', '0010_fhir_stored_included_compressed'),
    ]

    operations = [
        migrations.AddField(
            model_name='report',
            name='lab',
            field=models.ForeignKey(db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='accounts.lab'),
        ),
        migrations.RunPython(labs_fill, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name='report',
            name='lab',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='accounts.lab'),
        ),
        migrations.AddIndex(
            model_name='report',
            index=models.Index(fields=['lab', 'id'], name='report_lab_ids'),
        ),
        migrations.RunPython(foreign_key_add, foreign_key_drop),
    ]
