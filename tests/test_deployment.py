"""Deployment files and the one-command launcher: no database, no broker."""

from __future__ import annotations

import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from labpanel import launcher
from tests.compose import (
    compose_web_environment,
    new_user_environment,
    tls_settings_under,
)

REPO = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO / "docker-compose.yml"
CI_RUN = REPO / ".ci" / "run"
# What a developer's or the test run's environment may carry that a new user has not set.
_CONFIG = ("DJANGO_", "DATABASE_URL", "CELERY_", "LABPANEL_")


def _compose_client_or_skip() -> None:
    if shutil.which("docker") is None:
        pytest.skip("the docker client is not installed")
    version = subprocess.run(
        ["docker", "compose", "version"], capture_output=True, check=False, timeout=60
    )
    if version.returncode != 0:
        pytest.skip("the docker client has no compose plugin (`docker compose version` failed)")


def _compose_config(env: dict[str, str], env_file: Path) -> subprocess.CompletedProcess[str]:
    compose = ["docker", "compose", "--env-file", str(env_file), "-f", str(COMPOSE_FILE)]
    return subprocess.run(
        [*compose, "config", "--quiet"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.fixture
def empty_env_file(tmp_path: Path) -> Path:
    path = tmp_path / "empty.env"
    path.write_text("", encoding="utf-8")
    return path


def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


# --- docker-compose.yml ---------------------------------------------------------------------------


def test_compose_file_is_valid_for_docker_compose(empty_env_file: Path) -> None:
    _compose_client_or_skip()
    env = {**os.environ, "DJANGO_SECRET_KEY": "compose-config-check"}
    result = _compose_config(env, empty_env_file)
    assert result.returncode == 0, result.stderr


def test_compose_refuses_to_start_without_a_secret_key(empty_env_file: Path) -> None:
    _compose_client_or_skip()
    env = {name: value for name, value in os.environ.items() if name != "DJANGO_SECRET_KEY"}
    result = _compose_config(env, empty_env_file)
    assert result.returncode != 0
    assert "set DJANGO_SECRET_KEY" in result.stderr


def test_compose_defines_the_services_with_healthchecks() -> None:
    services = _compose()["services"]

    assert set(services) == {"db", "redis", "web", "worker", "beat", "mllp"}
    assert services["mllp"]["profiles"] == ["hl7"]  # only where an interface is connected
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no healthcheck"


def test_web_and_worker_run_the_same_image() -> None:
    services = _compose()["services"]
    web, worker = services["web"], services["worker"]

    assert web.get("build") == worker.get("build")
    assert web.get("image") == worker.get("image")
    assert web.get("build") or web.get("image")


def test_web_and_worker_wait_for_healthy_database_and_broker() -> None:
    services = _compose()["services"]

    for name in ("web", "worker"):
        depends_on = services[name]["depends_on"]
        assert depends_on["db"]["condition"] == "service_healthy"
        assert depends_on["redis"]["condition"] == "service_healthy"


def test_data_lives_in_named_volumes_shared_by_web_and_worker() -> None:
    compose = _compose()
    services = compose["services"]

    assert {"pgdata", "media"} <= set(compose["volumes"])
    assert any(volume.startswith("pgdata:") for volume in services["db"]["volumes"])
    media_root = services["web"]["environment"]["LABPANEL_MEDIA_ROOT"]
    for name in ("web", "worker"):
        assert f"media:{media_root}" in services[name]["volumes"]
        assert services[name]["environment"]["LABPANEL_MEDIA_ROOT"] == media_root


def test_secret_key_is_required_not_defaulted() -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")

    assert "${DJANGO_SECRET_KEY:?" in text


def test_the_database_password_is_required_not_defaulted() -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")

    assert "POSTGRES_PASSWORD:-" not in text
    required = "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD"
    services = _compose()["services"]
    assert required in services["db"]["environment"]["POSTGRES_PASSWORD"]
    for name in ("web", "worker", "beat", "mllp"):
        assert required in services[name]["environment"]["DATABASE_URL"], name


def test_compose_refuses_to_start_without_a_database_password(empty_env_file: Path) -> None:
    _compose_client_or_skip()
    env = {name: value for name, value in os.environ.items() if name != "POSTGRES_PASSWORD"}
    env["DJANGO_SECRET_KEY"] = "compose-config-check"
    result = _compose_config(env, empty_env_file)
    assert result.returncode != 0
    assert "set POSTGRES_PASSWORD" in result.stderr


def test_mllp_is_reachable_on_the_compose_network_only() -> None:
    mllp = _compose()["services"]["mllp"]

    assert "ports" not in mllp  # nothing published on the host: MLLP carries no credentials
    assert mllp["expose"] == ["2575"]


# --- The production settings docker-compose.yml runs -------------------------------------------


def test_check_deploy_is_clean_with_the_compose_environment(tmp_path: Path) -> None:
    env = {**new_user_environment(), **compose_web_environment()}
    env.update(DJANGO_SETTINGS_MODULE="labpanel.settings", LABPANEL_VAR_DIR=str(tmp_path))

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_the_compose_environment_turns_the_tls_proxy_settings_on(tmp_path: Path) -> None:
    shown = tls_settings_under(compose_web_environment(), tmp_path)

    assert shown == {
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "SECURE_SSL_REDIRECT": True,
        "SECURE_REDIRECT_EXEMPT": ["^healthz$"],
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": True,
    }


def test_make_run_leaves_the_tls_proxy_settings_off(tmp_path: Path) -> None:
    shown = tls_settings_under({"DJANGO_SECRET_KEY": "make-run-like"}, tmp_path)

    assert shown == {
        "SECURE_PROXY_SSL_HEADER": None,
        "SECURE_SSL_REDIRECT": False,
        "SECURE_REDIRECT_EXEMPT": [],
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "SECURE_HSTS_SECONDS": 0,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,
        "SECURE_HSTS_PRELOAD": False,
    }


# --- .ci/run --------------------------------------------------------------------------------------


def test_ci_script_is_executable_and_runs_the_test_suite() -> None:
    mode = CI_RUN.stat().st_mode

    assert mode & stat.S_IXUSR
    text = CI_RUN.read_text(encoding="utf-8")
    assert text.startswith("#!/usr/bin/env bash")
    assert "set -euo pipefail" in text
    commands = [line.strip() for line in text.splitlines() if not line.strip().startswith("#")]
    assert any(re.search(r"\bmake\b.*\btest$", command) for command in commands)


# --- labpanel/launcher.py -------------------------------------------------------------------------


@pytest.fixture
def fake_server() -> Iterator[tuple[socket.socket, list[bytes]]]:
    """A one-connection TCP server on 127.0.0.1 that sends back what ``replies`` holds."""
    server = socket.create_server(("127.0.0.1", 0))
    replies: list[bytes] = []

    def serve() -> None:
        try:
            connection, _ = server.accept()
        except OSError:
            return
        with connection:
            connection.recv(64)
            for reply in replies:
                connection.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server, replies
    server.close()
    thread.join(timeout=2)


def _closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port: int = probe.getsockname()[1]
    return port


def test_redis_probe_accepts_pong(fake_server: tuple[socket.socket, list[bytes]]) -> None:
    server, replies = fake_server
    replies.append(b"+PONG\r\n")

    assert launcher.redis_answers("127.0.0.1", server.getsockname()[1])


def test_redis_probe_rejects_other_answers(fake_server: tuple[socket.socket, list[bytes]]) -> None:
    server, replies = fake_server
    replies.append(b"-NOAUTH Authentication required.\r\n")

    assert not launcher.redis_answers("127.0.0.1", server.getsockname()[1])


def test_redis_probe_gives_up_on_a_silent_server(
    fake_server: tuple[socket.socket, list[bytes]],
) -> None:
    server, _ = fake_server

    assert not launcher.redis_answers("127.0.0.1", server.getsockname()[1], timeout=0.2)


def test_redis_probe_rejects_a_closed_port() -> None:
    assert not launcher.redis_answers("127.0.0.1", _closed_port())


def test_broker_falls_back_to_the_file_system_queue(tmp_path: Path) -> None:
    env: dict[str, str] = {}

    message = launcher.choose_broker(env, tmp_path, probe=lambda host, port: False)

    assert env["CELERY_BROKER_URL"] == "filesystem://"
    assert (tmp_path / "broker" / "queue").is_dir()
    assert (tmp_path / "broker" / "processed").is_dir()
    assert message.startswith("Redis is not answering at 127.0.0.1:6379: ")
    assert "(set CELERY_BROKER_URL to use another broker)" in message
    # manage.py beside `make run` reads the choice (settings.py): it enqueues where the worker is
    assert (tmp_path / "broker_url").read_text().strip() == "filesystem://"


def test_broker_uses_local_redis_when_it_answers(tmp_path: Path) -> None:
    env: dict[str, str] = {}

    message = launcher.choose_broker(env, tmp_path, probe=lambda host, port: True)

    assert env["CELERY_BROKER_URL"] == "redis://127.0.0.1:6379/0"
    assert message == "Broker: Redis at redis://127.0.0.1:6379/0"
    assert (tmp_path / "broker_url").read_text().strip() == "redis://127.0.0.1:6379/0"


def test_configured_broker_is_kept_without_probing(tmp_path: Path) -> None:
    env = {"CELERY_BROKER_URL": "redis://:hunter2@broker.internal:6379/1"}
    (tmp_path / "broker_url").write_text("filesystem://\n")  # an earlier unconfigured start

    def probe(host: str, port: int) -> bool:
        raise AssertionError("must not probe")

    message = launcher.choose_broker(env, tmp_path, probe=probe)

    assert env["CELERY_BROKER_URL"] == "redis://:hunter2@broker.internal:6379/1"
    assert "hunter2" not in message
    assert not (tmp_path / "broker_url").exists()  # never written with a password, none stale


def test_secret_key_is_generated_once_and_private(tmp_path: Path) -> None:
    first: dict[str, str] = {}
    second: dict[str, str] = {}

    launcher.ensure_secret_key(first, tmp_path)
    launcher.ensure_secret_key(second, tmp_path)

    key_file = Path(first["DJANGO_SECRET_KEY_FILE"])
    assert key_file == tmp_path / "secret_key"
    assert second["DJANGO_SECRET_KEY_FILE"] == first["DJANGO_SECRET_KEY_FILE"]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(key_file.read_text(encoding="utf-8").strip()) >= 50


def test_configured_secret_key_is_left_alone(tmp_path: Path) -> None:
    env = {"DJANGO_SECRET_KEY": "configured"}

    launcher.ensure_secret_key(env, tmp_path)

    assert env == {"DJANGO_SECRET_KEY": "configured"}
    assert not (tmp_path / "secret_key").exists()


def test_database_description_hides_the_password(tmp_path: Path) -> None:
    env = {"DATABASE_URL": "postgres://labpanel:s3cret@db.internal:5432/labpanel"}

    described = launcher.describe_database(env, tmp_path)

    assert "s3cret" not in described
    assert "postgres://labpanel:***@db.internal:5432/labpanel" in described
    assert "embedded SQLite" in launcher.describe_database({}, tmp_path)


def test_manage_py_finds_what_the_launcher_generated(tmp_path: Path) -> None:
    """Beside `make run`, manage.py (a separate process, no configuration) reads the secret key
    and the broker the launcher chose from var/ — the README's first command needs it."""
    env: dict[str, str] = {}
    launcher.ensure_secret_key(env, tmp_path)
    launcher.choose_broker(env, tmp_path, probe=lambda host, port: False)
    clean = {key: value for key, value in os.environ.items() if not key.startswith(_CONFIG)}
    clean.update(LABPANEL_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="labpanel.settings")
    shown = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.SECRET_KEY); print(settings.CELERY_BROKER_URL); "
            "from labpanel.celery import app; "
            "cls = app.connection_for_write().get_transport_cls(); "
            "print(cls.__module__ + '.' + cls.__name__)",
        ],
        cwd=REPO,
        env=clean,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert shown == [
        (tmp_path / "secret_key").read_text().strip(),
        "filesystem://",
        # the file-system transport that writes each message whole (labpanel/broker_files.py)
        "labpanel.broker_files.Transport",
    ]
