"""Lab and StaffMember move here from ``panels``: state only, the tables stay as they are.

The tables ``panels_lab`` and ``panels_staffmember`` were created by ``panels`` 0001 (and
altered up to 0008), so this migration runs after them and creates the models in the migration
state only. The content types are relabelled so that permissions and admin history stay
attached. ``panels`` 0009 then drops the old models from its state, after every foreign key
(``panels`` 0009, ``reference_ranges`` 0004) points here.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

MOVED = ("lab", "staffmember")


def _relabel(apps: StateApps, old: str, new: str) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    for model in MOVED:
        if not content_type.objects.filter(app_label=new, model=model).exists():
            content_type.objects.filter(app_label=old, model=model).update(app_label=new)


def content_types_forward(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    _relabel(apps, "panels", "accounts")


def content_types_backward(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    _relabel(apps, "accounts", "panels")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("panels", "0008_import_job_dispatch_failed"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Lab",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        ("name", models.CharField(max_length=200)),
                        ("address", models.TextField(blank=True)),
                        ("clia_number", models.CharField(blank=True, max_length=16)),
                    ],
                    options={"db_table": "panels_lab"},
                ),
                migrations.CreateModel(
                    name="StaffMember",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        (
                            "role",
                            models.CharField(
                                choices=[
                                    ("technician", "Lab technician"),
                                    ("clinician", "Clinician"),
                                    ("integrator", "Integrator"),
                                    ("director", "Lab director"),
                                ],
                                max_length=16,
                            ),
                        ),
                        ("display_name", models.CharField(blank=True, max_length=120)),
                        (
                            "provider_id",
                            models.CharField(
                                blank=True,
                                help_text=(
                                    "Identifier interfaces use for this clinician "
                                    "(HL7 OBR-16.1), e.g. an NPI"
                                ),
                                max_length=64,
                            ),
                        ),
                        (
                            "lab",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="staff",
                                to="accounts.lab",
                            ),
                        ),
                        (
                            "user",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="staff",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "panels_staffmember",
                        "constraints": [
                            models.UniqueConstraint(
                                condition=models.Q(("provider_id", ""), _negated=True),
                                fields=("lab", "provider_id"),
                                name="staff_provider_id_once_per_lab",
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_forward, content_types_backward, elidable=True),
    ]
