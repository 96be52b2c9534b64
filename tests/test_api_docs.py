"""Swagger UI (/api/v1/docs/) and ReDoc (/api/v1/redoc/) load everything from the project's own
static files (drf-spectacular-sidecar, served by whitenoise): no CDN, no web fonts, no online
validator, so the pages work on a hospital network without internet."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from tests.compose import REPO, new_user_environment

DOCS_PAGES = ("/api/v1/docs/", "/api/v1/redoc/")
_REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")
_OTHER_HOST = re.compile(r"""(?:[a-z][a-z0-9+.-]*:)?//[^\s"'<>]+""", re.IGNORECASE)


def _references(page: str) -> list[str]:
    return _REFERENCE.findall(page)


@pytest.fixture(scope="module")
def docs_pages() -> dict[str, str]:
    pages = {}
    for path in DOCS_PAGES:
        response = Client().get(path)
        assert response.status_code == 200, path
        pages[path] = response.content.decode()
    return pages


def test_the_docs_pages_reference_no_other_host(docs_pages: dict[str, str]) -> None:
    for path, page in docs_pages.items():
        assert _OTHER_HOST.findall(page) == [], path
        references = _references(page)
        assert references, path
        assert all(reference.startswith("/static/") for reference in references), references


def test_swagger_ui_calls_no_online_validator(docs_pages: dict[str, str]) -> None:
    assert '"validatorUrl": null' in docs_pages["/api/v1/docs/"]


def test_the_docs_static_files_are_there_after_collectstatic(
    docs_pages: dict[str, str], tmp_path: Path
) -> None:
    env = new_user_environment()
    env.update(
        DJANGO_SETTINGS_MODULE="labpanel.settings",  # whitenoise's compressed storage
        DJANGO_SECRET_KEY="collectstatic-only",
        LABPANEL_VAR_DIR=str(tmp_path),
    )
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=REPO,
        env=env,
        check=True,
        timeout=600,
    )

    referenced = {ref for page in docs_pages.values() for ref in _references(page)}
    assert {
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
        "/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js",
    } <= referenced
    for reference in referenced:
        collected = tmp_path / "static" / reference.removeprefix("/static/")
        assert collected.is_file(), reference
        assert collected.stat().st_size > 0, reference
