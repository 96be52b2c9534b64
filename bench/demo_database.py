"""A fresh bench database with the reference data, the demo lab and an API token of lab.tech,
and the environment a bench's gunicorn runs with on it (``bench/panel_read.py``,
``bench/read_audit.py``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import psycopg

BASE_DIR = Path(__file__).resolve().parents[1]
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
TECHNICIAN = "lab.tech"


def environment(*, settings: str, database: str, media: str) -> dict[str, str]:
    """The bench's settings module on ``database``, an in-memory broker and ``media``."""
    return {
        "DJANGO_SETTINGS_MODULE": settings,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
        "CELERY_BROKER_URL": "memory://",
        # the API's rate limits count in Redis, as deployed (the broker is in memory here), at a
        # rate no bench reaches: their cost is measured, never a 429
        "LABPANEL_CACHE_URL": "redis://127.0.0.1:6379/14",
        "LABPANEL_API_RATE": "1000000/s",
        "LABPANEL_MEDIA_ROOT": media,
        "DJANGO_SECRET_KEY": "bench-only",
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,testserver",
        "PYTHONPATH": str(BASE_DIR),
    }


def demo_database_create(*, settings: str, database: str, media: str) -> str:
    """Drop and create ``database``, set Django up on it in this process, migrate, seed the
    reference data and the demo lab; an API token of lab.tech (no expiry)."""
    with psycopg.connect(ADMIN_DSN, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {database}")
    os.environ.update(environment(settings=settings, database=database, media=media))
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from labpanel.accounts.services import api_token_issue

    call_command("migrate", verbosity=0)
    call_command("seed_reference_data", verbosity=0)
    call_command("seed_demo", "--force-demo", verbosity=0)  # on PostgreSQL: asked for
    return api_token_issue(user=User.objects.get(username=TECHNICIAN), expires_in=None)


def panels_post(client: Any, *, panels: int, per_patient: int, prefix: str) -> int:
    """Post ``panels`` panels of 13 results (``bench_panel``'s values) through the API with
    ``client`` (a token's Django test client), ``per_patient`` per patient (collected a month
    apart, so each later panel shows a history): accessions ``{prefix}-00000``..., MRNs
    ``{prefix}-MRN-00000``...; the id of the newest."""
    from bench_panel import bench_panel

    panel_id = 0
    for index in range(panels):
        body = bench_panel(
            accession=f"{prefix}-{index:05d}",
            mrn=f"{prefix}-MRN-{index // per_patient:05d}",
            given_name="Reader",
            sex="female",
            clinician="dr.house",
        )
        body["specimen"]["collected_at"] = f"2026-{1 + index % per_patient:02d}-15T08:30:00Z"
        response = client.post("/api/v1/panels/", body, content_type="application/json")
        if response.status_code != 201:
            raise SystemExit(f"panel {index} answered {response.status_code}: {response.content!r}")
        panel_id = int(response.json()["id"])
    return panel_id
