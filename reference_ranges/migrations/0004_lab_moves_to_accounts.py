"""The lab foreign keys point at ``accounts.Lab`` (state only: the table is still ``panels_lab``)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("reference_ranges", "0003_lab_configuration"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="assaymeasuringrange",
                    name="lab",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="measuring_ranges",
                        to="accounts.lab",
                    ),
                ),
                migrations.AlterField(
                    model_name="patternrulesetting",
                    name="lab",
                    field=models.ForeignKey(
                        blank=True,
                        help_text="The lab this setting is for; empty = the installation default",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="pattern_rule_settings",
                        to="accounts.lab",
                    ),
                ),
                migrations.AlterField(
                    model_name="referencerangeset",
                    name="lab",
                    field=models.ForeignKey(
                        blank=True,
                        help_text=(
                            "The lab this set is for; empty = the installation-wide default set"
                        ),
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="rulesets",
                        to="accounts.lab",
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
