"""What docker-compose.yml gives the application, read without docker: the web service's
environment with compose's ``${...}`` substitutions made, and the TLS-proxy settings Django
computes under a given environment (in a subprocess, as the service would start)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO / "docker-compose.yml"
# What a developer's or the test run's environment may carry that a deployment has not set.
CONFIGURATION_PREFIXES = ("DJANGO_", "DATABASE_URL", "CELERY_", "LABPANEL_")

_SUBSTITUTION = re.compile(r"\$\{(\w+)(?::?([-?]))?([^}]*)\}")
# What an operator sets before `docker compose up` (the file's header).
COMPOSE_VALUES = {
    "DJANGO_SECRET_KEY": "k3y-" + "a1b2c3d4e5f6g7h8" * 4,
    "POSTGRES_PASSWORD": "database-password",
    "DJANGO_ALLOWED_HOSTS": "labpanel.example.org",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://labpanel.example.org",
}
TLS_SETTINGS = (
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_SSL_REDIRECT",
    "SECURE_REDIRECT_EXEMPT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
)
_SHOW_TLS_SETTINGS = (
    "import json, django; django.setup(); from django.conf import settings; "
    f"print(json.dumps({{name: getattr(settings, name) for name in {TLS_SETTINGS!r}}}))"
)


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _substituted(value: str, values: dict[str, str]) -> str:
    """``value`` with compose's ``${NAME}``, ``${NAME:-default}`` and ``${NAME:?message}``."""

    def one(match: re.Match[str]) -> str:
        name, kind, rest = match.group(1), match.group(2), match.group(3)
        if name in values:
            return values[name]
        assert kind != "?", f"compose requires {name}: {rest}"
        return rest if kind == "-" else ""

    return _SUBSTITUTION.sub(one, value)


def compose_web_environment(values: dict[str, str] = COMPOSE_VALUES) -> dict[str, str]:
    """The environment docker-compose.yml gives the web service, with ``values`` set."""
    environment = compose()["services"]["web"]["environment"]
    return {name: _substituted(str(value), values) for name, value in environment.items()}


def new_user_environment() -> dict[str, str]:
    """This process's environment without any Labpanel configuration."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(CONFIGURATION_PREFIXES)
    }


def tls_settings_under(variables: dict[str, str], var_dir: Path) -> dict[str, Any]:
    """The TLS-proxy settings (``TLS_SETTINGS``) labpanel.settings computes under
    ``variables`` (and nothing else configured), as JSON values."""
    env = {**new_user_environment(), **variables}
    env.update(DJANGO_SETTINGS_MODULE="labpanel.settings", LABPANEL_VAR_DIR=str(var_dir))
    shown = subprocess.run(
        [sys.executable, "-c", _SHOW_TLS_SETTINGS],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    loaded = json.loads(shown)
    assert isinstance(loaded, dict)
    return loaded
