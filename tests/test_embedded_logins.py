"""On the embedded SQLite default (`make run` without DATABASE_URL): the demo accounts are made,
and django-axes keeps its lockout rows in that database: wrong passwords lock the login, the
right one is then refused, and ``axes_reset_username`` lifts the lock.

Runs ``manage.py`` in subprocesses with the production settings and a temporary var/ folder, as
the launcher does; PostgreSQL is covered by tests/accounts/test_logins.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.compose import REPO, new_user_environment

PROBE = """
import json
import django
django.setup()
from django.db import connection
from django.test import Client
from django.test.utils import setup_test_environment
from axes.models import AccessAttempt

setup_test_environment()
client = Client()
statuses = [
    client.post("/login/", {"username": "lab.tech", "password": "wrong"}).status_code
    for _ in range(6)
]
right = client.post("/login/", {"username": "lab.tech", "password": "labpanel-demo"})
print(json.dumps({
    "vendor": connection.vendor,
    "statuses": statuses,
    "right_password": right.status_code,
    "attempt_rows": AccessAttempt.objects.count(),
}))
"""

LOGIN = """
import django
django.setup()
from django.test import Client
from django.test.utils import setup_test_environment

setup_test_environment()
print(Client().post("/login/", {"username": "lab.tech", "password": "labpanel-demo"}).status_code)
"""


def _run(arguments: list[str], env: dict[str, str]) -> str:
    return subprocess.run(
        [sys.executable, *arguments],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout


def test_the_embedded_default_has_demo_logins_and_locks_them_after_failures(
    tmp_path: Path,
) -> None:
    env = new_user_environment()
    env.update(
        DJANGO_SETTINGS_MODULE="labpanel.settings",
        DJANGO_SECRET_KEY="embedded-logins-probe",
        DJANGO_ALLOWED_HOSTS="testserver",
        LABPANEL_VAR_DIR=str(tmp_path),
        LABPANEL_LOG_LEVEL="ERROR",
    )
    _run(["manage.py", "migrate", "--noinput", "--verbosity", "0"], env)
    seeded = _run(["manage.py", "seed_demo"], env)
    assert "Demo logins (password 'labpanel-demo'" in seeded

    probe = json.loads(_run(["-c", PROBE], env).strip().splitlines()[-1])

    assert probe == {
        "vendor": "sqlite",
        "statuses": [200, 200, 200, 200, 429, 429],
        "right_password": 429,
        "attempt_rows": 1,
    }
    _run(["manage.py", "axes_reset_username", "lab.tech"], env)
    assert _run(["-c", LOGIN], env).strip().splitlines()[-1] == "302"
