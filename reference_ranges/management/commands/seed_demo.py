"""``manage.py seed_demo``: the demo lab with one user per role; prints the demo logins.

It lives with the reference data (not in ``labpanel.accounts``) because the demo lab also states
what its generic "plasma" is: lithium heparin, the specimen of the default adult intervals, so
the README's examples (``"type": "plasma"``) are judged. A real lab states its own (admin:
Reference ranges › Lab specimen settings); the demo's statement is made once and a director's
later change is kept.

The demo lab also has its own rule set with one critical limit (none ship by default), so that
critical results can be tried: IL-6 at or above 5000 pg/mL, a local laboratory limit (its
provenance says so in the rule's note). Made once: a lab that has its own set keeps it.

Demo logins share a published password, so they are made only for the embedded default database
(SQLite, as ``make run`` uses without ``DATABASE_URL``). On any other database (PostgreSQL: a
real installation) the command creates nothing and says why, unless asked: ``--force-demo`` or
``LABPANEL_DEMO=true`` (the test suite, the benches and a demonstration server).
``LABPANEL_DEMO=false`` keeps them out of the embedded database too.
"""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection

from labpanel.accounts.models import Lab, StaffMember
from labpanel.accounts.services import demo_lab_ensure
from labpanel.env import env_bool, env_str
from reference_ranges.models import LabSpecimenSetting, PlasmaAnticoagulant, ReferenceRangeSet
from reference_ranges.services.critical_limits import lab_critical_ruleset_publish
from reference_ranges.services.specimen_settings import lab_specimen_setting_change

DEMO_PASSWORD_ENV = "LABPANEL_DEMO_PASSWORD"  # noqa: S105 - a variable name
DEMO_ENV = "LABPANEL_DEMO"
DEFAULT_DEMO_PASSWORD = "labpanel-demo"  # noqa: S105 - a demo login, printed on purpose
DEMO_RULESET_KEY = "demo-lab-cytokine"
DEMO_CRITICAL_HIGH = {("IL6", "pg/mL"): Decimal("5000")}
DEMO_CRITICAL_PROVENANCE = (
    "Critical high limit IL-6 5000 pg/mL: a local laboratory limit set by the demo lab's "
    "director for trying critical-result notification; not a published limit (no critical "
    "limit ships with Labpanel)."
)


def demo_refusal(*, forced: bool, database_vendor: str) -> str:
    """Why no demo account is made ("" when they are): asked by ``--force-demo`` or
    ``LABPANEL_DEMO=true``, refused by ``LABPANEL_DEMO=false``, else made only on the embedded
    SQLite database."""
    wanted = env_bool(DEMO_ENV, default=False) if env_str(DEMO_ENV) is not None else None
    if forced or wanted is True:
        return ""
    if wanted is False:
        return f"No demo accounts: {DEMO_ENV} is false."
    if database_vendor == "sqlite":
        return ""
    return (
        "No demo accounts: their password is published, and this is not the embedded SQLite "
        f"database ({database_vendor}, from DATABASE_URL). Ask for them with "
        f"`manage.py seed_demo --force-demo` or {DEMO_ENV}=true."
    )


class Command(BaseCommand):
    help = "Create the demo lab and one user per role (idempotent) and print the logins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force-demo",
            action="store_true",
            help="create the demo accounts (known password) even on a database other than "
            "the embedded SQLite default",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        refusal = demo_refusal(forced=options["force_demo"], database_vendor=connection.vendor)
        if refusal:
            self.stdout.write(refusal)
            return
        password = os.environ.get(DEMO_PASSWORD_ENV) or DEFAULT_DEMO_PASSWORD
        lab, members = demo_lab_ensure(password=password)
        if not LabSpecimenSetting.objects.filter(lab=lab).exists():
            lab_specimen_setting_change(
                lab=lab, plasma_anticoagulant=PlasmaAnticoagulant.HEPARIN, changed_by=None
            )
        self._critical_limits_ensure(lab, members)
        self.stdout.write(f"Demo lab: {lab.name} (its generic plasma is lithium heparin plasma)")
        self.stdout.write(
            f"Demo logins (password {password!r}; set {DEMO_PASSWORD_ENV} to change):"
        )
        for staff in members:
            self.stdout.write(f"  {staff.role:<11} {staff.user.get_username()}")
        self.stdout.write(
            "API token: .venv/bin/python manage.py issue_api_token lab.tech --role technician"
        )

    def _critical_limits_ensure(self, lab: Lab, members: list[StaffMember]) -> None:
        if ReferenceRangeSet.objects.filter(lab=lab).exists():
            return  # the lab has its own set (this one, or a director's): kept
        director = next(staff.user for staff in members if staff.user.username == "lab.director")
        try:
            ruleset = lab_critical_ruleset_publish(
                lab=lab,
                director=director,
                key=DEMO_RULESET_KEY,
                name=f"{lab.name} cytokine intervals and critical limits",
                critical_high=DEMO_CRITICAL_HIGH,
                provenance=DEMO_CRITICAL_PROVENANCE,
            )
        except LookupError as error:
            self.stderr.write(f"No critical limit set: {error}")
            return
        self.stdout.write(
            f"Demo rule set: {ruleset.key} v{ruleset.version} "
            "(IL-6 critical high 5000 pg/mL, a local laboratory limit)"
        )
