"""Test settings: the production settings on PostgreSQL and Redis, with fast hashing."""

import os
import tempfile
import uuid
from pathlib import Path

os.environ.setdefault("DJANGO_DEBUG", "false")
os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/labpanel")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
# A queue of this test run's own, so a worker of a running `make run` never takes its tasks.
# Under pytest-xdist each test process takes a queue of its own: the processes inherit the
# controlling process's environment (and so its queue), and a worker started by one process's
# test would otherwise take the other's tasks, which name rows of the other's test database. A
# worker process a test starts inherits its test process's queue (it names the same xdist
# process) and keeps it.
_XDIST_PROCESS = os.environ.get("PYTEST_XDIST_WORKER", "")
if _XDIST_PROCESS and f"-{_XDIST_PROCESS}-" not in os.environ.get("CELERY_TASK_DEFAULT_QUEUE", ""):
    os.environ["CELERY_TASK_DEFAULT_QUEUE"] = (
        f"labpanel-test-{_XDIST_PROCESS}-{uuid.uuid4().hex[:12]}"
    )
os.environ.setdefault("CELERY_TASK_DEFAULT_QUEUE", f"labpanel-test-{uuid.uuid4().hex[:12]}")

from labpanel import settings as _production  # noqa: E402
from labpanel.settings import *  # noqa: E402, F403  (after the environment above)

ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Per-process folders, created only when something is stored (importing settings creates none).
_RUN_DIR = Path(tempfile.gettempdir()) / f"labpanel-test-{os.getpid()}-{uuid.uuid4().hex[:6]}"
MEDIA_ROOT = _RUN_DIR / "media"
if os.environ.get("LABPANEL_TEST_WORKER_MEDIA_ROOT"):
    # A worker process started by an end-to-end test stores PDFs where the test reads them.
    MEDIA_ROOT = Path(os.environ["LABPANEL_TEST_WORKER_MEDIA_ROOT"])
STATIC_ROOT = _RUN_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
LOGGING = {**LOGGING, "root": {"handlers": ["console"], "level": "WARNING"}}  # noqa: F405
# Static files are served by whitenoise in the running service (the launcher smoke test covers
# it); in-process tests have no collected static folder for it to watch.
MIDDLEWARE = [entry for entry in MIDDLEWARE if not entry.startswith("whitenoise.")]  # noqa: F405
# API rate limits off: tests that check them set LABPANEL_API_RATE themselves; their counts
# go under this run's own prefix, so no other run's counts meet them in the shared Redis.
LABPANEL_API_RATE = None
# Cursor pages: no settle time (tests page what they just wrote); the transactions' horizon
# still applies, and tests/api/test_panel_cursor_pages.py sets the settle time where it checks it.
LABPANEL_CURSOR_SETTLE_SECONDS = 0.0
CACHES = {
    **_production.CACHES,
    "shared": {
        **_production.CACHES["shared"],
        "KEY_PREFIX": f"labpanel-test-{uuid.uuid4().hex[:12]}",
    },
}
