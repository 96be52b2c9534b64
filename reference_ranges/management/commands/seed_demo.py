"""``manage.py seed_demo``: the demo lab with one user per role; prints the demo logins.

It lives with the reference data (not in ``labpanel.accounts``) because the demo lab also states
what its generic "plasma" is: lithium heparin, the specimen of the default adult intervals, so
the README's examples (``"type": "plasma"``) are judged. A real lab states its own (admin:
Reference ranges › Lab specimen settings); the demo's statement is made once and a director's
later change is kept.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand

from labpanel.accounts.services import demo_lab_ensure
from reference_ranges.models import LabSpecimenSetting, PlasmaAnticoagulant
from reference_ranges.services.specimen_settings import lab_specimen_setting_change

DEMO_PASSWORD_ENV = "LABPANEL_DEMO_PASSWORD"  # noqa: S105 - a variable name
DEFAULT_DEMO_PASSWORD = "labpanel-demo"  # noqa: S105 - a demo login, printed on purpose


class Command(BaseCommand):
    help = "Create the demo lab and one user per role (idempotent) and print the logins."

    def handle(self, *args: Any, **options: Any) -> None:
        password = os.environ.get(DEMO_PASSWORD_ENV) or DEFAULT_DEMO_PASSWORD
        lab, members = demo_lab_ensure(password=password)
        if not LabSpecimenSetting.objects.filter(lab=lab).exists():
            lab_specimen_setting_change(
                lab=lab, plasma_anticoagulant=PlasmaAnticoagulant.HEPARIN, changed_by=None
            )
        self.stdout.write(f"Demo lab: {lab.name} (its generic plasma is lithium heparin plasma)")
        self.stdout.write(
            f"Demo logins (password {password!r}; set {DEMO_PASSWORD_ENV} to change):"
        )
        for staff in members:
            self.stdout.write(f"  {staff.role:<11} {staff.user.get_username()}")
        self.stdout.write(
            "API token: .venv/bin/python manage.py issue_api_token lab.tech --role technician"
        )
