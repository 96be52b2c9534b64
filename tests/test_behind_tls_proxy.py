"""Under the settings docker-compose.yml runs (LABPANEL_BEHIND_TLS_PROXY: computed by
labpanel.settings in a subprocess, applied here): a request the proxy marks
``X-Forwarded-Proto: https`` gets https:// links in its API answer, plain http is redirected,
and /healthz still answers over plain http inside the network."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client, override_settings
from rest_framework.test import APIClient

from tests.compose import compose_web_environment, tls_settings_under

pytestmark = pytest.mark.django_db

# What the proxy sends on: the Host the browser asked for, and the scheme it was asked over.
HTTPS = {"X-Forwarded-Proto": "https", "Host": "testserver"}


@pytest.fixture(scope="module")
def compose_tls_settings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    var_dir: Path = tmp_path_factory.mktemp("var")
    shown = tls_settings_under(compose_web_environment(), var_dir)
    shown["SECURE_PROXY_SSL_HEADER"] = tuple(shown["SECURE_PROXY_SSL_HEADER"])
    assert shown["SECURE_SSL_REDIRECT"] is True
    return shown


@pytest.fixture
def behind_proxy(compose_tls_settings: dict[str, Any]) -> Iterator[None]:
    with override_settings(**compose_tls_settings):
        yield


def test_links_in_an_api_answer_are_https_behind_the_proxy(
    behind_proxy: None, technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    response = technician_client.post(
        "/api/v1/panels/", panel_payload, format="json", headers=HTTPS
    )

    assert response.status_code == 201, response.content
    report = response.json()["report"]
    assert report["url"] == f"https://testserver/api/v1/reports/{report['id']}/"
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"


def test_plain_http_is_redirected_to_https(
    behind_proxy: None, technician_client: APIClient
) -> None:
    response = technician_client.get("/api/v1/panels/")

    assert response.status_code == 301
    assert response["Location"] == "https://testserver/api/v1/panels/"


def test_the_health_check_answers_over_plain_http(behind_proxy: None) -> None:
    response = Client().get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_session_and_csrf_cookies_are_https_only(behind_proxy: None) -> None:
    response = Client().get("/login/", headers=HTTPS)

    assert response.status_code == 200
    assert response.cookies["csrftoken"]["secure"] is True
