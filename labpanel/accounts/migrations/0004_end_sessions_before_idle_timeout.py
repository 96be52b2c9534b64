"""Sessions made before sessions ended after idle time (labpanel.logins) carry Django's
two-week expiry and no activity stamp, so nothing would end them early: they are ended once,
here (everyone logs in again after this upgrade). Nothing is undone when migrating back."""

from typing import Any

from django.db import migrations


def sessions_end(apps: Any, schema_editor: Any) -> None:
    apps.get_model("sessions", "Session").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_lab_critical_result_settings"),
        ("sessions", "0001_initial"),
    ]

    operations = [migrations.RunPython(sessions_end, migrations.RunPython.noop, elidable=True)]
