"""Code run as the embedded default runs: in a subprocess with the production settings and no
DATABASE_URL, as `make run` does, its SQLite file (and everything else it keeps) under a
directory of the test's own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parents[1]


def embedded_probe(code: str, var_dir: Path) -> Any:
    """Run ``code`` (Python, which sets Django up itself) as the embedded default with its
    files under ``var_dir``; the last line it printed, parsed as JSON."""
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env.update(
        DJANGO_SETTINGS_MODULE="labpanel.settings",
        DJANGO_SECRET_KEY="probe-only",
        LABPANEL_VAR_DIR=str(var_dir),
    )
    output = subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(output.splitlines()[-1])
