"""What ending sessions after idle time costs a logged-in page: labpanel.logins'
SessionIdleMiddleware (the session's expiry moved at most once a minute) beside Django's
``SESSION_SAVE_EVERY_REQUEST`` (the session row written on every request) and beside neither
(no idle refresh: the cost floor).

On a fresh PostgreSQL database (``LABPANEL_BENCH_DATABASE``, default
``labpanel_bench_session``, dropped and created) it logs a technician in (the login page, so
the session is stamped as a browser's is) and requests, in this
process through Django's test client (the whole middleware stack), ``/bare-user/``: a view
answering the logged-in user's name, so a request costs what any logged-in page costs at the
least (session read, user read) and nothing more. Each configuration runs ``--seconds`` in all,
in ``--rounds`` interleaved slices (a busy moment on a shared machine slows all alike); it
prints requests/s, the ratio to the floor, the requests and the session writes (the idle
middleware writes once a minute: a run over a minute per configuration shows it).

    .venv/bin/python bench/session_idle.py
    .venv/bin/python bench/session_idle.py --seconds 3 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import types
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(BASE_DIR)]

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = os.environ.get("LABPANEL_BENCH_DATABASE", "labpanel_bench_session")
IDLE = "labpanel.logins.SessionIdleMiddleware"


def _configure() -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DATABASE}")
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "labpanel.settings",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
            "CELERY_BROKER_URL": "memory://",
            "LABPANEL_MEDIA_ROOT": tempfile.mkdtemp(prefix="labpanel-bench-session-"),
            "LABPANEL_LOG_LEVEL": "WARNING",
            "DJANGO_SECRET_KEY": "bench-only",
            "DJANGO_DEBUG": "false",
            "DJANGO_ALLOWED_HOSTS": "testserver",
        }
    )
    import django

    django.setup()


def _bare_urls() -> str:
    from django.http import HttpRequest, HttpResponse
    from django.urls import path

    from labpanel import urls

    def bare_user(request: HttpRequest) -> HttpResponse:
        return HttpResponse(request.user.get_username())

    module = types.ModuleType("bench_session_urls")
    module.urlpatterns = [path("bare-user/", bare_user), *urls.urlpatterns]  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    return module.__name__


def _configurations() -> dict[str, dict[str, Any]]:
    from django.conf import settings

    without_idle = [entry for entry in settings.MIDDLEWARE if entry != IDLE]
    return {
        "SessionIdleMiddleware (once a minute)": {"MIDDLEWARE": list(settings.MIDDLEWARE)},
        "SESSION_SAVE_EVERY_REQUEST": {
            "MIDDLEWARE": without_idle,
            "SESSION_SAVE_EVERY_REQUEST": True,
        },
        "neither (floor: no idle refresh)": {"MIDDLEWARE": without_idle},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per configuration, in all")
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    _configure()

    from django.core.management import call_command
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import setup_test_environment

    from labpanel.accounts.models import Role
    from tests.factories import make_lab, make_staff

    setup_test_environment()
    # whitenoise's note that var/static/ was never collected: no static file is requested here
    warnings.filterwarnings("ignore", message="No directory at")
    call_command("migrate", verbosity=0)
    technician = make_staff(username="bench.tech", lab=make_lab(), role=Role.TECHNICIAN)
    technician.user.set_password("bench-pw")
    technician.user.save(update_fields=["password"])
    urlconf = _bare_urls()
    configurations = _configurations()
    clients: dict[str, Client] = {}
    for name, overrides in configurations.items():
        with override_settings(ROOT_URLCONF=urlconf, **overrides):
            client = Client()
            # through the login page, as a browser: the session gets its activity stamp
            login = client.post("/login/", {"username": "bench.tech", "password": "bench-pw"})
            assert login.status_code == 302, login.status_code
            assert client.get("/bare-user/").content == b"bench.tech"
            clients[name] = client

    requests = dict.fromkeys(configurations, 0)
    elapsed = dict.fromkeys(configurations, 0.0)
    session_writes = dict.fromkeys(configurations, 0)
    current: list[str] = [""]

    def count_writes(execute: Callable[..., Any], sql: str, *args: Any) -> Any:
        if sql.lstrip().upper().startswith(("UPDATE", "INSERT")) and "django_session" in sql:
            session_writes[current[0]] += 1
        return execute(sql, *args)

    slice_seconds = arguments.seconds / arguments.rounds
    with connection.execute_wrapper(count_writes):
        for _round in range(arguments.rounds):
            for name, overrides in configurations.items():
                current[0] = name
                client = clients[name]
                with override_settings(ROOT_URLCONF=urlconf, **overrides):
                    start = time.perf_counter()
                    deadline = start + slice_seconds
                    while time.perf_counter() < deadline:
                        client.get("/bare-user/")
                        requests[name] += 1
                    elapsed[name] += time.perf_counter() - start

    floor = (
        requests["neither (floor: no idle refresh)"] / elapsed["neither (floor: no idle refresh)"]
    )
    print(f"{'configuration':<40} {'req/s':>8} {'x floor':>8} {'requests':>9} {'writes':>7}")
    for name in configurations:
        rate = requests[name] / elapsed[name]
        print(
            f"{name:<40} {rate:>8.0f} {rate / floor:>8.2f} {requests[name]:>9} "
            f"{session_writes[name]:>7}"
        )


if __name__ == "__main__":
    main()
