"""The one settings module: everything that differs between machines comes from the environment.

Without any configuration the service runs on an embedded SQLite file under ``var/`` and a
Redis broker at ``redis://127.0.0.1:6379/0``; ``DATABASE_URL`` and ``CELERY_BROKER_URL``
switch database and broker. ``.env.example`` documents every variable.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

from labpanel.env import env_bool, env_int, env_list, env_str, env_switchable

django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
# Local state; a relative LABPANEL_VAR_DIR is taken from the repository root, as the launcher does.
VAR_DIR = BASE_DIR / (env_str("LABPANEL_VAR_DIR") or "var")

DEBUG = env_bool("DJANGO_DEBUG", default=False)
# The launcher (`make run`) generates var/secret_key once; every other process of the same
# installation (manage.py, `make worker`, the MLLP listener) finds it there, so the README's
# commands work beside a running `make run` without configuration.
_secret_key = env_str("DJANGO_SECRET_KEY")
if _secret_key is None and (VAR_DIR / "secret_key").is_file():
    _secret_key = (VAR_DIR / "secret_key").read_text(encoding="utf-8").strip() or None
if _secret_key is None:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is required unless DJANGO_DEBUG is true "
            f"(or run `make run` once: it generates {VAR_DIR / 'secret_key'})"
        )
    _secret_key = "insecure-development-key-only-valid-with-DJANGO_DEBUG"  # noqa: S105
SECRET_KEY = _secret_key
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "django_filters",
    "labpanel.accounts.apps.AccountsConfig",
    "labpanel.events.apps.EventsConfig",
    "labpanel.audit.apps.AuditConfig",
    "labpanel.webhooks.apps.WebhooksConfig",
    "labpanel.idempotency.apps.IdempotencyConfig",
    "panels.apps.PanelsConfig",
    "panels.intake.apps.IntakeConfig",
    "reference_ranges.apps.ReferenceRangesConfig",
    "reports.apps.ReportsConfig",
]

MIDDLEWARE = [
    # First: a body over REQUEST_BODY_MAX_BYTES is refused before anything reads it.
    "labpanel.uploads.RequestBodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "labpanel.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "labpanel.urls"
LOGIN_URL = "login"
# Django's model backend, reading a session's user with their lab membership in one query.
AUTHENTICATION_BACKENDS = ["labpanel.accounts.backends.StaffModelBackend"]
# Django's database sessions, read with one plain statement (labpanel/sessions.py).
SESSION_ENGINE = "labpanel.sessions"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
WSGI_APPLICATION = "labpanel.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# Persistent connections: opening a connection per request would cost a database-backed
# endpoint more than its own work (figure: bench/embedded_load.py). Health checks drop
# connections the server closed.
DEFAULT_SQLITE_URL = f"sqlite:///{VAR_DIR / 'labpanel.sqlite3'}"
DATABASE_URL = env_str("DATABASE_URL", DEFAULT_SQLITE_URL) or DEFAULT_SQLITE_URL
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 600),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # One file shared by the web workers, the Celery worker and the MLLP listener:
    # - WAL journal: readers never block the writer nor it them (a report being drawn reads
    #   while panels are stored); synchronous=NORMAL is durable at each checkpoint and safe
    #   with WAL (a power cut may lose the last commits, never corrupt the file).
    # - IMMEDIATE transactions: every atomic block takes the write lock at BEGIN, waiting for
    #   it. A DEFERRED one that reads first and writes later gets SQLITE_BUSY at once when
    #   another process wrote meanwhile, whatever the timeout ("database is locked").
    # - timeout: how long a connection waits for the write lock (busy timeout), in atomic
    #   blocks and autocommit writes alike. Write transactions stay short; nothing holds one
    #   while drawing a PDF.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        }
    )
else:
    # Django's PostgreSQL backend, its timestamps loaded by psycopg's C loader instead of the
    # pure-Python one Django's own loader derives from (labpanel/postgresql/base.py).
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"]["ENGINE"] = "labpanel.postgresql"
    # Server-side binding with prepared statements: psycopg sends the parameters apart from
    # the SQL and prepares a statement once this connection has run it 5 times (psycopg's
    # default prepare_threshold; Django's is None, never), so PostgreSQL stops planning the
    # statements every request runs (a read's token, panel and audit statements; a report's
    # claim-and-read): a panel read went from 3.6 to 2.1 ms in process (bench/panel_read.py).
    # DATABASE_SERVER_SIDE_BINDING=false goes back to client-side binding, nothing prepared
    # (what a transaction-pooling PgBouncer in front of PostgreSQL needs).
    if env_bool("DATABASE_SERVER_SIDE_BINDING", default=True):
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            {"server_side_binding": True, "prepare_threshold": 5}
        )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("LABPANEL_TIME_ZONE", "UTC") or "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("LABPANEL_MEDIA_ROOT", str(VAR_DIR / "media")) or VAR_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- REST API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # knox's token authentication, reading the token, its user and their lab membership
        # in one statement (labpanel/accounts/token_auth.py).
        "labpanel.accounts.token_auth.StaffTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # a token request needs the scope the view declares (labpanel/accounts/scopes.py)
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "labpanel.accounts.scopes.TokenScopeRequired",
    ],
    # drf-spectacular's, naming each operation's token scope (labpanel/schema.py)
    "DEFAULT_SCHEMA_CLASS": "labpanel.schema.ScopedAutoSchema",
    "EXCEPTION_HANDLER": "labpanel.exceptions.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "labpanel.pagination.LabpanelPagination",
    "DEFAULT_PARSER_CLASSES": [
        "labpanel.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "PAGE_SIZE": 50,
    "COERCE_DECIMAL_TO_STRING": True,
    # per token, per user for sessions: LABPANEL_API_RATE, 429, Retry-After (labpanel/throttling.py)
    "DEFAULT_THROTTLE_CLASSES": ["labpanel.throttling.TokenRateThrottle"],
}
# Requests per token (sessions: per user) per second/min/hour/day; empty turns limits off.
LABPANEL_API_RATE = env_switchable("LABPANEL_API_RATE", "600/min")
# Cursor pages that set a poller's newest edge hold back rows newer than the oldest transaction
# in progress, less this many seconds for clocks that differ (labpanel/pagination.py).
LABPANEL_CURSOR_SETTLE_SECONDS = float(env_str("LABPANEL_CURSOR_SETTLE_SECONDS", "1") or "1")
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=env_int("LABPANEL_TOKEN_TTL_DAYS", 90)),
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Labpanel API",
    "DESCRIPTION": "Cytokine panel results in; interpreted results and PDF reports out.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "ENUM_NAME_OVERRIDES": {"ReviewStateEnum": "panels.models.ReviewState"},
    # the shared error answers (401, 403, 404, 400, 413, 415, 503) on every operation
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "labpanel.schema.error_responses",
    ],
}

# --- Celery -----------------------------------------------------------------------------------
# Unconfigured, the broker is the one the launcher chose at its last start (var/broker_url:
# Redis on 127.0.0.1 when it answered, else the embedded file-system queue), so manage.py
# commands run beside `make run` enqueue where its worker listens.
_launcher_broker = VAR_DIR / "broker_url"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or (
    _launcher_broker.read_text(encoding="utf-8").strip()
    if _launcher_broker.is_file()
    else "redis://127.0.0.1:6379/0"
)
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
CELERY_BROKER_TRANSPORT: str | None = None  # Celery's default: the URL's scheme names it
if CELERY_BROKER_URL and CELERY_BROKER_URL.startswith("filesystem://"):
    # Embedded broker for machines without Redis: a folder both processes share. kombu's
    # file-system transport, each message written whole before a reader can see it
    # (labpanel/broker_files.py: kombu's own let a reader take a half-written file).
    CELERY_BROKER_TRANSPORT = "labpanel.broker_files:Transport"
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        # The worker looks for messages this often once its 2 slots are busy or the queue is
        # empty (kombu's default, 1 s, leaves the worker idle between polls and holds rendering
        # back; figures: bench/embedded_load.py --broker); a listdir each.
        "polling_interval": 0.1,
    }
elif CELERY_BROKER_URL and CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # A dead or unreachable Redis must fail a publish within seconds, not hang a web request.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 5}
# The cache every web process shares (the API's rate limits, labpanel/throttling.py): Redis at
# LABPANEL_CACHE_URL, else at the broker's URL when the broker is Redis; otherwise (the embedded
# `make run` without Redis) the database's cache table, made by `manage.py createcachetable`
# (the launcher runs it). "default" stays Django's per-process memory cache.
_cache_url = env_str("LABPANEL_CACHE_URL") or (
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else None
)
CACHES: dict[str, dict[str, object]] = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "shared": (
        {
            "BACKEND": "labpanel.cache.RedisCache",
            "LOCATION": _cache_url,
            "KEY_PREFIX": "labpanel",
            # an unreachable Redis costs a request at most a second (and is let through)
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
        if _cache_url
        else {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "labpanel_shared_cache",
        }
    ),
}
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "labpanel") or "labpanel"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_TASK_TIME_LIMIT = 120
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes the database connection around every task, so each report
# opened a new PostgreSQL session. With a reuse count it keeps the connection (closing it every
# 100 tasks), and labpanel.celery closes it the way Django closes a request's: when it broke or
# outlived CONN_MAX_AGE (django.db.close_old_connections after each task).
CELERY_DB_REUSE_MAX = 100
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing gives up after about a second when the broker is down (reports.services records
# the unsent message and the sweep sends it again): 3 tries, 0.2 s apart.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
# Every minute, work whose message was lost is sent again (reports.tasks,
# panels.intake.imports.tasks): the launcher runs the scheduler inside its worker (-B);
# docker-compose runs a "beat" service.
CELERY_BEAT_SCHEDULE: dict[str, object] = {
    "requeue-stalled-reports": {"task": "reports.requeue_stalled", "schedule": 60.0},
    "requeue-stalled-imports": {"task": "panels.requeue_stalled_imports", "schedule": 60.0},
}

# --- Critical results and notification emails ---------------------------------------------------
# Every minute beat escalates the critical alerts nobody acknowledged in time (panels.critical;
# the schedule of each alert is a row in PostgreSQL). Task modules beyond <app>.tasks:
CELERY_BEAT_SCHEDULE["escalate-critical-alerts"] = {
    "task": "panels.escalate_critical_alerts",
    "schedule": 60.0,
}
# Webhooks (issue 15): new events fanned out to deliveries and due deliveries handed to the
# broker every few seconds, from PostgreSQL (labpanel.webhooks.services).
CELERY_BEAT_SCHEDULE["dispatch-webhooks"] = {
    "task": "webhooks.dispatch",
    "schedule": float(env_int("WEBHOOKS_DISPATCH_SECONDS", 5)),
}
CELERY_IMPORTS = ["panels.critical_tasks", "reports.notify", "labpanel.webhooks.tasks"]
# Webhook endpoints are https; plain http to 127.0.0.1/localhost only in development (DEBUG)
# or where this is set (the tests' local receiver).
WEBHOOKS_ALLOW_HTTP_LOOPBACK = env_bool("WEBHOOKS_ALLOW_HTTP_LOOPBACK", default=False)
# Idempotency keys (labpanel.idempotency) are kept this long, then deleted hourly (and ignored
# past it); a key still in flight after IDEMPOTENCY_IN_FLIGHT_STALE lost its request (a crash).
IDEMPOTENCY_KEY_TTL = timedelta(hours=24)
IDEMPOTENCY_IN_FLIGHT_STALE = timedelta(minutes=10)
CELERY_BEAT_SCHEDULE["expire-idempotency-keys"] = {
    "task": "idempotency.keys_expire",
    "schedule": 3600.0,
}
# Django's email backend: SMTP once DJANGO_EMAIL_HOST is set, else the console (development,
# `make run`: the worker's output), unless DJANGO_EMAIL_BACKEND names one. Emails carry a link
# on LABPANEL_PUBLIC_URL, never patient data.
_email_host = env_str("DJANGO_EMAIL_HOST")
EMAIL_BACKEND = env_str("DJANGO_EMAIL_BACKEND") or (
    "django.core.mail.backends.smtp.EmailBackend"
    if _email_host
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_HOST = _email_host or "localhost"
EMAIL_PORT = env_int("DJANGO_EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("DJANGO_EMAIL_HOST_USER", "") or ""
EMAIL_HOST_PASSWORD = env_str("DJANGO_EMAIL_HOST_PASSWORD", "") or ""
EMAIL_USE_TLS = env_bool("DJANGO_EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env_bool("DJANGO_EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env_int("DJANGO_EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DJANGO_DEFAULT_FROM_EMAIL", "labpanel@localhost") or ""
LABPANEL_PUBLIC_URL = env_str("LABPANEL_PUBLIC_URL", "http://127.0.0.1:8000") or ""

# --- Labpanel -----------------------------------------------------------------------------------
# Rows stuck in "rendering" longer than this are considered abandoned by a crashed worker.
REPORT_RENDER_STALE_AFTER = timedelta(
    seconds=env_int("REPORT_RENDER_STALE_AFTER_SECONDS", CELERY_TASK_TIME_LIMIT * 2)
)
# A pending report untouched this long, with no message waiting in the queue, lost its message.
REPORT_REQUEUE_AFTER = timedelta(minutes=10)
# A report that failed for a transient reason (storage, database or broker unavailable) is
# rendered again by the sweep after REPORT_AUTO_RETRY_BACKOFF_SECONDS, doubling each time up to
# REPORT_AUTO_RETRY_BACKOFF_MAX_SECONDS, at most REPORT_AUTO_RETRY_LIMIT times; then it stays
# failed until a director retries it.
REPORT_AUTO_RETRY_LIMIT = env_int("REPORT_AUTO_RETRY_LIMIT", 5)
REPORT_AUTO_RETRY_BACKOFF = timedelta(seconds=env_int("REPORT_AUTO_RETRY_BACKOFF_SECONDS", 60))
REPORT_AUTO_RETRY_BACKOFF_MAX = timedelta(
    seconds=env_int("REPORT_AUTO_RETRY_BACKOFF_MAX_SECONDS", 3600)
)
# Input limits (README "Limits on what Labpanel reads"; labpanel.uploads). Uploads for import
# stream to a temporary file and are archived; each file is counted while it arrives and the
# upload stops as soon as one passes its field's limit (413, nothing stored).
IMPORT_MAX_BYTES = env_int("LABPANEL_IMPORT_MAX_BYTES", 256 * 1024 * 1024)
IMPORT_MANIFEST_MAX_BYTES = env_int("LABPANEL_IMPORT_MANIFEST_MAX_BYTES", 16 * 1024 * 1024)
# A rule-set document posted to /api/v1/reference-ranges/import/ (the default set is 6 kB).
RULESET_MAX_BYTES = env_int("LABPANEL_RULESET_MAX_BYTES", 2 * 1024 * 1024)
# Form fields other than files (Django's own limit, 2.5 MB by default).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("LABPANEL_FORM_MAX_BYTES", 2621440)
# Any request body: an import with its manifest and form fields; over it, answered before reading.
REQUEST_BODY_MAX_BYTES = env_int(
    "LABPANEL_REQUEST_MAX_BYTES",
    IMPORT_MAX_BYTES + IMPORT_MANIFEST_MAX_BYTES + DATA_UPLOAD_MAX_MEMORY_SIZE,
)
FILE_UPLOAD_HANDLERS = [
    "labpanel.uploads.LimitedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# HL7 MSH-11 this installation takes: P (production); a test system sets T. Other messages: AR.
HL7_PROCESSING_ID = env_str("LABPANEL_HL7_PROCESSING_ID", "P") or "P"

# A known MRN sent with other demographics is refused and audited (panels.demographics); after
# this many refusals within the window a user's submissions naming a known MRN answer 429 until
# the oldest of them leaves the window. Counted from the event record, so it holds across
# processes.
DEMOGRAPHICS_MISMATCH_LIMIT = 5
DEMOGRAPHICS_MISMATCH_WINDOW = timedelta(minutes=10)
# An import left validating/committing longer than its task may run (30 min soft, 31 hard: see
# panels.intake.imports.tasks) lost its message or worker; its task is sent again, at most this
# many times.
IMPORT_REQUEUE_AFTER = timedelta(minutes=35)
IMPORT_MAX_REQUEUES = 2
# The read audit (labpanel.audit) records the client's address as REMOTE_ADDR, unless the
# deployment puts N trusted proxies in front of gunicorn: then the N-th address from the right of
# X-Forwarded-For (what the nearest trusted proxy saw). 0 (the default) never reads the header,
# which any client can write.
LABPANEL_AUDIT_PROXY_HOPS = env_int("LABPANEL_AUDIT_PROXY_HOPS", 0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "filters": {
        # Celery's INFO lines of the scheduled sweeps and polls (every 5 s) are left out
        "scheduled_tasks": {
            "()": "labpanel.log_filters.ScheduledTaskLines",
            "tasks": sorted({str(entry["task"]) for entry in CELERY_BEAT_SCHEDULE.values()}),  # type: ignore[index]
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["scheduled_tasks"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LABPANEL_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Logins, sessions and deployment behind TLS (issue 13) --------------------------------------
# Kept in one block so the lists above stay as they were; each line says why.
INSTALLED_APPS += [
    # Failed logins are counted and locked out by django-axes (its own tables: migrate).
    "axes",
    # Swagger UI and ReDoc from the project's own static files, never a CDN.
    "drf_spectacular_sidecar",
]
MIDDLEWARE += [
    # After sessions and authentication: refreshes an active session's expiry (idle timeout).
    "labpanel.logins.SessionIdleMiddleware",
    # Turns a lockout into the "locked" page (429).
    "axes.middleware.AxesMiddleware",
    # Last, just before the view: an API token's rate-limit count goes to Redis while the
    # token is read from PostgreSQL (labpanel/throttling.py).
    "labpanel.throttling.CountAheadMiddleware",
]
# django-axes checks every authenticate() call first (the web login and the admin login pass
# the request); API tokens (knox) never call authenticate() and are not counted.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", *AUTHENTICATION_BACKENDS]
# LABPANEL_LOGIN_FAILURE_LIMIT failures in a row for one username from one address lock that
# pair out for LABPANEL_LOGIN_LOCKOUT_MINUTES (a wrong password from elsewhere does not lock
# the account everywhere); a success resets the count. Attempts are rows in the database
# (SQLite or PostgreSQL). `manage.py axes_reset_username NAME` (or axes_reset) lifts a lock.
AXES_FAILURE_LIMIT = env_int("LABPANEL_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LABPANEL_LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_CALLABLE = "labpanel.logins.lockout_response"
# Axes' log lines name the client by address and path only: logs carry ids, never names.
AXES_CLIENT_STR_CALLABLE = "labpanel.logins.login_client_str"
# A session ends after LABPANEL_SESSION_IDLE_MINUTES without a request; SessionIdleMiddleware
# moves the expiry forward at most once a minute (not a session write on every request).
SESSION_IDLE_MINUTES = env_int("LABPANEL_SESSION_IDLE_MINUTES", 30)
SESSION_COOKIE_AGE = SESSION_IDLE_MINUTES * 60
SESSION_IDLE_REFRESH_SECONDS = 60
SPECTACULAR_SETTINGS.update(
    {
        "SWAGGER_UI_DIST": "SIDECAR",
        "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
        "REDOC_DIST": "SIDECAR",
        # No call to validator.swagger.io either: the docs work without internet.
        "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    }
)
# Behind the TLS-terminating proxy of a deployment (docker-compose.yml sets
# LABPANEL_BEHIND_TLS_PROXY=true): requests the proxy marks X-Forwarded-Proto: https are secure
# (so links in API answers are https://), plain http is redirected, cookies are sent over https
# only, and browsers are told to use https (HSTS). /healthz stays plain http for the container
# health check inside the network. `make run` on http://127.0.0.1 leaves all of this off.
BEHIND_TLS_PROXY = env_bool("LABPANEL_BEHIND_TLS_PROXY", default=False)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("LABPANEL_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("LABPANEL_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env_bool("LABPANEL_HSTS_PRELOAD", default=True)
