"""Start Labpanel on one machine with one command: ``python -m labpanel.launcher`` (``make run``).

On an unconfigured machine it fills in what a new user has not set: a secret key generated
once into ``var/secret_key``, the local allowed hosts, the Redis broker on 127.0.0.1 or, when
Redis is not answering, an embedded file-system queue under ``var/broker/``, and the embedded
SQLite database. It then migrates, collects static files, loads the reference data and the demo
lab (its logins share a published password: on the embedded SQLite database only, unless
LABPANEL_DEMO=true; ``seed_demo`` says so otherwise), and supervises one Celery worker and the
gunicorn web server until either stops.

Standard library only: it runs before anything else is known to work.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, MutableMapping
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
LOCAL_REDIS_HOST = "127.0.0.1"
LOCAL_REDIS_PORT = 6379
LOCAL_REDIS_URL = f"redis://{LOCAL_REDIS_HOST}:{LOCAL_REDIS_PORT}/0"
DEFAULT_ALLOWED_HOSTS = "127.0.0.1,localhost"
DEFAULT_QUEUE = "labpanel"
HEALTHZ_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0
# The broker chosen for an unconfigured machine, read by settings.py in every other process
# (manage.py beside `make run`), as var/secret_key is.
BROKER_CHOICE_FILE = "broker_url"

Env = MutableMapping[str, str]


def _say(message: str) -> None:
    print(message, flush=True)  # noqa: T201


def var_dir(env: Env) -> Path:
    """The folder for local state; relative paths are taken from the repository root."""
    return BASE_DIR / (env.get("LABPANEL_VAR_DIR") or "var")


def ensure_secret_key(env: Env, folder: Path) -> None:
    """Generate a key once into ``folder/secret_key`` (0600) unless one is configured."""
    if env.get("DJANGO_SECRET_KEY") or env.get("DJANGO_SECRET_KEY_FILE"):
        return
    key_file = folder / "secret_key"
    if not key_file.exists():
        folder.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(50) + "\n")
        _say(f"Generated a secret key in {key_file}")
    env["DJANGO_SECRET_KEY_FILE"] = str(key_file)


def redis_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when a Redis server at host:port answers PING with +PONG within ``timeout``."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as connection:
            connection.settimeout(timeout)
            connection.sendall(b"PING\r\n")
            return connection.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _make_broker_folders(folder: Path) -> None:
    """The folders settings.py gives the kombu file-system transport (it does not create them)."""
    for name in ("queue", "processed", "control"):
        (folder / "broker" / name).mkdir(parents=True, exist_ok=True)


def choose_broker(env: Env, folder: Path, probe: Callable[[str, int], bool] = redis_answers) -> str:
    """Set ``CELERY_BROKER_URL`` if unset (recording the choice in ``folder/broker_url``) and
    return the line that says which broker is used."""
    configured = env.get("CELERY_BROKER_URL")
    choice_file = folder / BROKER_CHOICE_FILE
    if configured:
        # Whoever configured it configures manage.py alike; no stale choice is left behind.
        choice_file.unlink(missing_ok=True)
        if configured.startswith("filesystem://"):
            _make_broker_folders(folder)
        return f"Broker: {redact_url(configured)} (CELERY_BROKER_URL)"
    if probe(LOCAL_REDIS_HOST, LOCAL_REDIS_PORT):
        env["CELERY_BROKER_URL"] = LOCAL_REDIS_URL
        choice_file.write_text(LOCAL_REDIS_URL + "\n", encoding="utf-8")
        return f"Broker: Redis at {LOCAL_REDIS_URL}"
    env["CELERY_BROKER_URL"] = "filesystem://"
    choice_file.write_text("filesystem://\n", encoding="utf-8")
    _make_broker_folders(folder)
    return (
        f"Redis is not answering at {LOCAL_REDIS_HOST}:{LOCAL_REDIS_PORT}: reports will be "
        "rendered by the local worker through an embedded file-system queue in "
        f"{_shown(folder / 'broker')}/ (set CELERY_BROKER_URL to use another broker)"
    )


def describe_database(env: Env, folder: Path) -> str:
    url = env.get("DATABASE_URL")
    if url:
        return f"Database: {redact_url(url)} (DATABASE_URL)"
    return f"Database: embedded SQLite at {_shown(folder / 'labpanel.sqlite3')}"


def redact_url(url: str) -> str:
    """The URL without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return parts._replace(netloc=f"{user}:***@{host}").geturl()


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(BASE_DIR))
    except ValueError:
        return str(path)


def prepare_environment(env: Env) -> list[str]:
    """Fill in the defaults of an unconfigured machine; return what to tell the user."""
    folder = var_dir(env)
    folder.mkdir(parents=True, exist_ok=True)
    env.setdefault("DJANGO_SETTINGS_MODULE", "labpanel.settings")
    ensure_secret_key(env, folder)
    if not env.get("DJANGO_ALLOWED_HOSTS"):
        env["DJANGO_ALLOWED_HOSTS"] = DEFAULT_ALLOWED_HOSTS
    return [choose_broker(env, folder), describe_database(env, folder)]


def run_setup(env: Env) -> int:
    """Run the one-off steps (migrate, the cache table, static files, the reference data, the
    demo lab) in one ``manage.py launcher_setup`` process, which stops at the first that fails
    and says which; return its exit code."""
    command = [sys.executable, "manage.py", "launcher_setup"]
    code = subprocess.run(command, cwd=BASE_DIR, env=dict(env), check=False).returncode  # noqa: S603
    if code != 0:
        _say(f"Stopped: 'manage.py launcher_setup' failed with exit code {code}")
    return code


class Supervisor:
    """Run the worker and the web server; forward SIGINT/SIGTERM; stop both when one stops."""

    def __init__(self, env: Env, port: int, bind_host: str) -> None:
        self.env = dict(env)
        self.port = port
        self.bind_host = bind_host
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.stopping = False

    def _forward(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signum)

    def _start(self, name: str, arguments: list[str]) -> None:
        # A session of their own: a terminal's Ctrl-C reaches them once, through _forward,
        # so the worker shuts down warm instead of seeing the signal twice (cold shutdown).
        self.children[name] = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", *arguments], cwd=BASE_DIR, env=self.env, start_new_session=True
        )

    def _exited(self) -> tuple[str, int] | None:
        for name, child in self.children.items():
            code = child.poll()
            if code is not None:
                return name, code
        return None

    def _web_url(self) -> str:
        wildcard = self.bind_host in {"", "0.0.0.0", "::"}  # noqa: S104
        host = "127.0.0.1" if wildcard else self.bind_host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/"

    def _wait_until_healthy(self) -> bool:
        url = self._web_url() + "healthz"
        deadline = time.monotonic() + HEALTHZ_TIMEOUT_SECONDS
        last = "no answer"
        while time.monotonic() < deadline:
            if self.stopping or self._exited() is not None:
                return False
            try:
                with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
                    if response.status == 200:
                        return True
                    last = f"HTTP {response.status}"
            except urllib.error.HTTPError as error:
                last = f"HTTP {error.code}"
            except OSError:
                pass
            time.sleep(0.25)
        _say(f"Warning: {url} did not answer 200 within {HEALTHZ_TIMEOUT_SECONDS:.0f} s ({last})")
        return False

    def _stop_all(self) -> None:
        """Ask every running child to stop (unless a forwarded signal already did); then kill."""
        for child in self.children.values():
            if child.poll() is None and not self.stopping:
                child.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for child in self.children.values():
            try:
                child.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()

    def run(self) -> int:
        queue = self.env.get("CELERY_TASK_DEFAULT_QUEUE") or DEFAULT_QUEUE
        previous = {
            signum: signal.signal(signum, self._forward)
            for signum in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            worker = ["celery", "-A", "labpanel", "worker", "--loglevel=INFO", "--concurrency=2"]
            # -B: the periodic tasks (re-sending lost work) are scheduled by this one worker
            beat = ["-B", "--schedule", str(var_dir(self.env) / "celerybeat-schedule")]
            self._start("worker", [*worker, "-Q", queue, *beat])
            web = ["gunicorn", "labpanel.wsgi:application", "--workers", "2"]
            host = f"[{self.bind_host}]" if ":" in self.bind_host else self.bind_host
            bind = f"{host}:{self.port}"
            self._start("web server", [*web, "--bind", bind, "--access-logfile", "-"])
            if self._wait_until_healthy():
                url = self._web_url()
                _say(
                    f"Labpanel is running at {url} "
                    "(API: /api/v1/, docs: /api/v1/docs/, admin: /admin/)"
                )
            while (exited := self._exited()) is None:
                time.sleep(0.2)
            name, code = exited
            if self.stopping:
                return 0
            _say(f"The {name} exited unexpectedly (exit code {code}); stopping Labpanel")
            # A child killed by signal N reports -N; a shell would say 128 + N.
            return 128 - code if code < 0 else code or 1
        finally:
            self._stop_all()
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def main() -> int:
    env = os.environ
    try:
        port = int(env.get("PORT") or "8000")
    except ValueError:
        _say(f"PORT must be a port number, got {env.get('PORT')!r}")
        return 2
    bind_host = env.get("LABPANEL_BIND_HOST") or "127.0.0.1"
    try:
        for line in prepare_environment(env):
            _say(line)
        code = run_setup(env)
        if code != 0:
            return code
        return Supervisor(env, port, bind_host).run()
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
