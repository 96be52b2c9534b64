"""API tokens carry scopes (``TokenScopes``, keyed by the knox token's digest). Tokens issued
before scopes existed keep working: each gets the scopes its user's role allowed then (the map
below, a frozen copy of ``access.TOKEN_SCOPES_BY_ROLE``; a superuser without a lab role, every
scope), so no integration breaks on upgrade. Migrating back drops the table."""

from typing import Any

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

ALL = ("results:read", "results:submit", "ranges:manage", "webhooks:receive")
BY_ROLE = {
    "technician": ("results:read", "results:submit"),
    "clinician": ("results:read",),
    "integrator": ("results:read", "results:submit", "webhooks:receive"),
    "director": ALL,
}


def existing_tokens_scoped(apps: Any, schema_editor: Any) -> None:
    token_model = apps.get_model("knox", "AuthToken")
    staff_model = apps.get_model("accounts", "StaffMember")
    scopes_model = apps.get_model("accounts", "TokenScopes")
    roles = dict(staff_model.objects.values_list("user_id", "role"))
    rows = []
    for digest, user_id, superuser in token_model.objects.values_list(
        "digest", "user_id", "user__is_superuser"
    ):
        scopes = BY_ROLE.get(roles.get(user_id, ""), ALL if superuser else ())
        if scopes:
            rows.append(scopes_model(token_id=digest, scopes=" ".join(scopes)))
    scopes_model.objects.bulk_create(rows, batch_size=500)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_end_sessions_before_idle_timeout"),
        ("knox", "0009_extend_authtoken_field"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="TokenScopes",
            fields=[
                (
                    "token",
                    models.OneToOneField(
                        db_column="digest",
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="labpanel_scopes",
                        serialize=False,
                        to="knox.authtoken",
                    ),
                ),
                ("scopes", models.CharField(max_length=200)),
            ],
            options={"verbose_name_plural": "token scopes"},
        ),
        migrations.RunPython(existing_tokens_scoped, migrations.RunPython.noop),
    ]
