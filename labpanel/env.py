"""Typed readers for environment variables (healthchecks' envbool/envint style).

Each helper raises ``ImproperlyConfigured`` on a malformed value instead of guessing.
A ``NAME_FILE`` variable, when set, is read instead of ``NAME`` so that Docker and
Kubernetes secrets work unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured


def env_str(name: str, default: str | None = None) -> str | None:
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        return Path(file_path).read_text(encoding="utf-8").strip()
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value


def env_switchable(name: str, default: str) -> str | None:
    """``name``'s value; ``default`` when it is not set; ``None`` (switched off) when it is set
    empty or to ``off``/``none`` (``LABPANEL_API_RATE=`` turns the rate limits off)."""
    if os.environ.get(name) is None and not os.environ.get(f"{name}_FILE"):
        return default
    value = (env_str(name) or "").strip()
    return None if value.lower() in ("", "off", "none") else value


def env_bool(name: str, default: bool = False) -> bool:
    value = env_str(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {value!r}")


def env_int(name: str, default: int) -> int:
    value = env_str(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError as error:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from error


def env_list(name: str, default: list[str]) -> list[str]:
    value = env_str(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]
