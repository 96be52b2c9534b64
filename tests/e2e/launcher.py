"""`make run`'s launcher started as a new user starts it: the one start-up of the e2e tests.

``new_user_environment`` is this process's environment without the configuration a developer's
or the test run's environment may carry (a new user has set none of it);
``launcher_running`` starts a command that runs the launcher in a process group of its own,
waits for it to say it is running and stops the whole group afterwards. Used by
``tests/e2e/load.py`` (and through it ``bench/embedded_load.py``),
``tests/e2e/test_embedded_default.py`` and ``tests/e2e/test_readme_commands.py``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parents[2]
BOOT_TIMEOUT_SECONDS = 180
LAUNCHER = (sys.executable, "-m", "labpanel.launcher")
RUNNING = "Labpanel is running at"
# What a new user has not set: Django's, Celery's and Labpanel's variables, the database, the port.
CONFIGURATION_PREFIXES = ("DJANGO_", "CELERY_", "LABPANEL_", "DATABASE_URL", "PORT")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def new_user_environment(**variables: str) -> dict[str, str]:
    """This environment without any configuration, plus ``variables``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(CONFIGURATION_PREFIXES)
    }
    env.update(variables)
    return env


def process_stop(process: subprocess.Popen[Any]) -> None:
    """SIGTERM to ``process`` (a server stops its own children), SIGKILL after 20 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)


def process_group_stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process's group (started with ``start_new_session``), SIGKILL after 30 s."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def process_start(
    command: Sequence[str], env: dict[str, str], log_path: Path, *, cwd: Path = BASE_DIR
) -> subprocess.Popen[bytes]:
    """``command`` in a process group of its own (``process_group_stop`` ends it), its output
    appended to ``log_path`` (a file, not a pipe: a pipe nobody reads would stop the process
    once full)."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            list(command),
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@contextmanager
def launcher_running(
    log_path: Path,
    env: dict[str, str],
    *,
    command: Sequence[str] = LAUNCHER,
    cwd: Path = BASE_DIR,
) -> Iterator[subprocess.Popen[bytes]]:
    """``command`` (the launcher, or ``make run``) in ``cwd``, its output in ``log_path``;
    yields it once it says it is running. Raises ``RuntimeError`` with the log when it exits or
    takes BOOT_TIMEOUT_SECONDS first. The process group is stopped when the block ends."""
    log_path.write_text("")
    launcher = process_start(command, env, log_path, cwd=cwd)
    try:
        deadline = time.monotonic() + BOOT_TIMEOUT_SECONDS
        while RUNNING not in log_path.read_text():
            if launcher.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the launcher did not start:\n{log_path.read_text()}")
            time.sleep(0.5)
        yield launcher
    finally:
        process_group_stop(launcher)


def technician_token(
    env: dict[str, str], *, cwd: Path = BASE_DIR, python: str = sys.executable
) -> str:
    """An API token for the demo technician (``lab.tech``) of the running installation."""
    return subprocess.run(
        [python, "manage.py", "issue_api_token", "lab.tech", "--role", "technician"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def port_wait(
    port: int,
    process: subprocess.Popen[Any],
    log: Path | None = None,
    *,
    timeout: float = BOOT_TIMEOUT_SECONDS,
) -> None:
    """Return once something listens on 127.0.0.1:``port``. Raises ``RuntimeError`` (with the
    end of ``log``) when ``process`` exits first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                output = log.read_text(errors="replace")[-4000:] if log is not None else ""
                raise RuntimeError(
                    f"{process.args!r} did not listen on {port}:\n{output}"
                ) from None
            time.sleep(0.1)
