"""Settings for the RevOps portal, configured only through environment variables.

Every variable is parsed strictly: a malformed value stops the process with a message naming the
variable, and production mode (``DEBUG`` off) refuses to start without a real ``SECRET_KEY``.

Production is the default. No file in the checkout is read unless ``REVOPS_ENV_FILE`` names it, so a
developer's convenience settings can never put a process started without ``DEBUG=1`` into debug
mode or give it the development secret (``make run`` and ``scripts/manage.sh`` set ``DEBUG=1``
for their own processes).
"""

import datetime as dt
import os
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import dj_database_url
from croniter import croniter
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def _load_env_file(path: Path) -> None:
    """Read KEY=VALUE lines from ``path``, named by ``REVOPS_ENV_FILE``; real environment variables win."""
    if not path.is_file():
        if str(path) != os.devnull:
            raise ImproperlyConfigured(f"REVOPS_ENV_FILE={str(path)!r} is not a readable file")
        return
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip().isidentifier():
            raise ImproperlyConfigured(f"{path}:{number}: expected KEY=VALUE, got {line!r}")
        os.environ.setdefault(key.strip(), value.strip().strip("'\""))


# Only on request: a `.env` lying in the checkout is never read by the settings themselves.
if os.environ.get("REVOPS_ENV_FILE", "").strip():
    _load_env_file(Path(os.environ["REVOPS_ENV_FILE"].strip()))

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use one of 1/0, true/false, yes/no, on/off)")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
INSECURE_DEFAULT_SECRET = "insecure-development-key-do-not-use-in-production"
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Production mode (DEBUG off, the default) refuses to start with a default "
            "secret: set SECRET_KEY to a long random value. In a developer checkout run manage.py commands as "
            "`scripts/manage.sh <command>` (or `DEBUG=1 .venv/bin/python manage.py <command>`)."
        )
    SECRET_KEY = INSECURE_DEFAULT_SECRET
elif not DEBUG and (SECRET_KEY == INSECURE_DEFAULT_SECRET or len(SECRET_KEY) < 32):
    raise ImproperlyConfigured("SECRET_KEY is too weak for production: use at least 32 random characters.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_rq",
    "simple_history",
    "axes",
    "csp",
    "revops",
    "routing",
    "handoffs",
    "monitors",
    "lifecycle",
    "webhooks",
    "dataquality",
    "exceptions",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "revops.timezones.ViewerTimeZoneMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lock-out page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "revops.urls"
WSGI_APPLICATION = "revops.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
                "revops.sso.login_context",
            ],
        },
    },
]

# Database: an embedded SQLite file unless DATABASE_URL names another server.
DATA_DIR = Path(os.environ.get("DATA_DIR", BASE_DIR / "var"))
_database_url = os.environ.get("DATABASE_URL", "").strip()
if _database_url:
    try:
        _db = dj_database_url.parse(_database_url, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is malformed: {exc}") from None
    if _db.get("ENGINE") not in ("django.db.backends.postgresql", "django.db.backends.sqlite3"):
        raise ImproperlyConfigured(
            f"DATABASE_URL scheme {_database_url.split(':', 1)[0]!r} is not supported: use postgres:// or sqlite:///"
        )
else:
    env_int("DB_CONN_MAX_AGE", 60)  # validated even when unused, so a typo never waits for a move to PostgreSQL
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    _db = {"ENGINE": "django.db.backends.sqlite3", "NAME": DATA_DIR / "revops.sqlite3"}
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and IMMEDIATE transactions let the web server and the workers write without
    # "database is locked" errors on the embedded database.
    _db["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    _db.pop("CONN_MAX_AGE", None)
elif _db["ENGINE"] == "django.db.backends.postgresql":
    # dj-database-url always sets it (False): a persistent connection that died with a PostgreSQL
    # restart would fail the next request. Checked once per request or job (revops.worker).
    _db["CONN_HEALTH_CHECKS"] = True
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis and RQ. The "hot" queue carries per-change automation batches, "default" the rest,
# "low" scans and clean-ups.
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
_redis = urlparse(REDIS_URL)
if _redis.scheme not in {"redis", "rediss", "unix"}:
    raise ImproperlyConfigured(f"REDIS_URL={REDIS_URL!r} must start with redis://, rediss:// or unix://")
# Every Redis connection the portal opens gives up on a Redis that stopped answering (a dead host,
# a partition: no connection refused, just silence) after these many seconds, so the API answers
# 503, /healthz "down", and the scheduler and the sweeper retry, instead of hanging for ever. rq's
# worker raises the read timeout of its own connection above its blocking dequeue by itself.
REDIS_SOCKET_TIMEOUT = env_int("REDIS_SOCKET_TIMEOUT", 5, minimum=1)
REDIS_CONNECT_TIMEOUT = env_int("REDIS_CONNECT_TIMEOUT", 5, minimum=1)
_redis_timeouts = {"socket_timeout": REDIS_SOCKET_TIMEOUT, "socket_connect_timeout": REDIS_CONNECT_TIMEOUT}
_redis_query = {k: v for k, v in _redis_timeouts.items() if k not in parse_qs(_redis.query)}  # REDIS_URL's win
RQ_REDIS_URL = f"{REDIS_URL}{'&' if _redis.query else '?'}{urlencode(_redis_query)}" if _redis_query else REDIS_URL
RQ_QUEUES = {
    name: {"URL": RQ_REDIS_URL, "DEFAULT_TIMEOUT": timeout}  # django-rq passes only the URL on
    for name, timeout in (("hot", 60), ("default", 300), ("low", 1800))
}
RQ_SHOW_ADMIN_LINK = True
# Surviving restarts (docs/development.md, "Processes, restarts and /healthz"): the outbox
# sweeper's grace and period, how long a worker or the scheduler may stay silent before /healthz
# counts it dead, the oldest pending event /healthz accepts, and how long the claim of a request
# that died holds its Idempotency-Key: 300 s, well above the longest a sync request runs (a full
# batch plus SQLite's 30 s lock wait; runserver has no request timeout, gunicorn's is 120 s in
# docs/deployment.md). A request that outlives it
# anyway loses the key and rolls back (revops/idempotency.py), so this is never a correctness limit.
OUTBOX_GRACE_SECONDS = env_int("OUTBOX_GRACE_SECONDS", 60, minimum=1)
OUTBOX_SWEEP_SECONDS = env_int("OUTBOX_SWEEP_SECONDS", 60, minimum=1)
# Lanes (revops.outbox.batch_lane): a sync batch of at most OUTBOX_HOT_MAX_EVENTS lead or activity
# events is worked on the hot queue (a person waits for its routing or SLA touch); any other batch
# goes to the bulk lane ("low") in jobs of OUTBOX_BULK_EVENTS_PER_JOB events (about a second each).
OUTBOX_HOT_MAX_EVENTS = env_int("OUTBOX_HOT_MAX_EVENTS", 100, minimum=1)
OUTBOX_BULK_EVENTS_PER_JOB = env_int("OUTBOX_BULK_EVENTS_PER_JOB", 600, minimum=1)
# Records one transaction of a batch driver takes (revops.engine.batch; routing.bulk routes that many
# leads under the pools' locks at once, and, in a bulk job, commits early while a hot worker runs a job).
ENGINE_BATCH_SIZE = env_int("ENGINE_BATCH_SIZE", 400, minimum=2)
# … and how long it may work in one transaction before it commits what it has done (milliseconds).
ENGINE_BATCH_MS = env_int("ENGINE_BATCH_MS", 400, minimum=0)
# Before each chunk, a batch driver on a bulk lane waits while jobs queue on the hot lane, up to this long.
ENGINE_BULK_YIELD_MS = env_int("ENGINE_BULK_YIELD_MS", 2000, minimum=0)
WORKER_HEARTBEAT_WINDOW = env_int("WORKER_HEARTBEAT_WINDOW", 60, minimum=20)
SCHEDULER_TICK_WINDOW = env_int("SCHEDULER_TICK_WINDOW", 120, minimum=30)
HEALTH_OUTBOX_MAX_AGE_SECONDS = env_int("HEALTH_OUTBOX_MAX_AGE_SECONDS", 600, minimum=1)
IDEMPOTENCY_CLAIM_SECONDS = env_int("IDEMPOTENCY_CLAIM_SECONDS", 300, minimum=1)

# Shared cache (API throttling, short-lived counters) in the same Redis.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "revops",
        "TIMEOUT": 300,
        "OPTIONS": _redis_timeouts,
    }
}

# CRM sync API limits.
SYNC_MAX_RECORDS = env_int("SYNC_MAX_RECORDS", 1000, minimum=1)
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("SYNC_MAX_BODY_BYTES", 20 * 1024 * 1024, minimum=1024)
API_THROTTLE_RATE = os.environ.get("API_THROTTLE_RATE", "6000/min")
IDEMPOTENCY_KEY_TTL_HOURS = env_int("IDEMPOTENCY_KEY_TTL_HOURS", 48, minimum=24)
SYNC_MAX_FUTURE_SKEW_SECONDS = env_int("SYNC_MAX_FUTURE_SKEW_SECONDS", 86400, minimum=0)
# Risk tiers (docs/automations.md): a medium-risk automation goes live after this many days and runs in
# shadow with its current rule, and an agreement with what people did of at least this share.
AUTOMATION_SHADOW_DAYS = env_int("AUTOMATION_SHADOW_DAYS", 7, minimum=0)
AUTOMATION_SHADOW_MIN_RUNS = env_int("AUTOMATION_SHADOW_MIN_RUNS", 20, minimum=0)
AUTOMATION_SHADOW_AGREEMENT = float(os.environ.get("AUTOMATION_SHADOW_AGREEMENT", "") or 0.9)
# Failure monitoring (docs/automations.md): an item when the CRM has sent nothing for this many hours
# (0: never).
CRM_SILENCE_HOURS = env_int("CRM_SILENCE_HOURS", 24, minimum=0)
# Handoffs (docs/handoffs.md): a sync batch with more deals to evaluate than this has them evaluated on
# the low lane after its commit; a recorded evaluation not done this long after its job was enqueued
# is enqueued again.
HANDOFFS_INLINE_MAX = env_int("HANDOFFS_INLINE_MAX", 100, minimum=0)
HANDOFFS_PENDING_RETRY_SECONDS = env_int("HANDOFFS_PENDING_RETRY_SECONDS", 300, minimum=30)

# Forecast snapshots (monitors app, docs/monitors.md): when the snapshot of every open deal is taken,
# as a cron expression in the scheduler's local time (UTC on servers); default Sunday 20:00, weekly.
MONITORS_SNAPSHOT_CRON = os.environ.get("MONITORS_SNAPSHOT_CRON", "").strip() or "0 20 * * 0"
if not croniter.is_valid(MONITORS_SNAPSHOT_CRON):
    raise ImproperlyConfigured(
        f"MONITORS_SNAPSHOT_CRON={MONITORS_SNAPSHOT_CRON!r} is not a cron expression (e.g. '0 20 * * 0')"
    )
# The daily renewal scan (tasks, risk items, finance notices): default 05:30 every day.
MONITORS_RENEWAL_CRON = os.environ.get("MONITORS_RENEWAL_CRON", "").strip() or "30 5 * * *"
if not croniter.is_valid(MONITORS_RENEWAL_CRON):
    raise ImproperlyConfigured(
        f"MONITORS_RENEWAL_CRON={MONITORS_RENEWAL_CRON!r} is not a cron expression (e.g. '30 5 * * *')"
    )
# The nightly lead re-score (lifecycle app, docs/lifecycle.md): engagement points decay and leave their
# windows, changed scoring models reach every lead. Default 02:30 every day.
LIFECYCLE_RESCORE_CRON = os.environ.get("LIFECYCLE_RESCORE_CRON", "").strip() or "30 2 * * *"
if not croniter.is_valid(LIFECYCLE_RESCORE_CRON):
    raise ImproperlyConfigured(
        f"LIFECYCLE_RESCORE_CRON={LIFECYCLE_RESCORE_CRON!r} is not a cron expression (e.g. '30 2 * * *')"
    )
# Outbound webhooks (webhooks app, docs/webhooks.md): entries per POST, the receiver's time to answer,
# the retry backoff (doubling from the base up to the cap) and the failures in a row that pause a
# subscription and open an item for its owner.
WEBHOOK_BATCH_SIZE = env_int("WEBHOOK_BATCH_SIZE", 100, minimum=1)
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 10, minimum=1)
WEBHOOK_RETRY_BASE_SECONDS = env_int("WEBHOOK_RETRY_BASE_SECONDS", 30, minimum=1)
WEBHOOK_RETRY_MAX_SECONDS = env_int("WEBHOOK_RETRY_MAX_SECONDS", 3600, minimum=1)
WEBHOOK_MAX_FAILURES = env_int("WEBHOOK_MAX_FAILURES", 8, minimum=1)

# Automation health (docs/health.md): the signals that open retire / review suggestions, and when the
# monthly review and the weekly e-mail to RevOps admins run (cron, the scheduler's local time).
HEALTH_WINDOW_DAYS = env_int("HEALTH_WINDOW_DAYS", 30, minimum=1)  # the review's window
HEALTH_IGNORED_PERCENT = env_int("HEALTH_IGNORED_PERCENT", 50, minimum=1)  # "most": more than this share
HEALTH_IGNORED_MIN = env_int("HEALTH_IGNORED_MIN", 3, minimum=1)  # closed alerts before it may trip
HEALTH_OVERRIDE_PERCENT = env_int("HEALTH_OVERRIDE_PERCENT", 30, minimum=1)  # at or above
HEALTH_OVERRIDE_MIN = env_int("HEALTH_OVERRIDE_MIN", 5, minimum=1)  # decided approvals before it may trip
HEALTH_EXCEPTIONS_MIN = env_int("HEALTH_EXCEPTIONS_MIN", 3, minimum=1)  # items opened before it may trip
HEALTH_NO_FIRE_DAYS = env_int("HEALTH_NO_FIRE_DAYS", 90, minimum=1)
HEALTH_WATCH_ERROR_PERCENT = env_int("HEALTH_WATCH_ERROR_PERCENT", 5, minimum=1)
HEALTH_REVIEW_CRON = os.environ.get("HEALTH_REVIEW_CRON", "").strip() or "0 6 1 * *"
HEALTH_WEEKLY_CRON = os.environ.get("HEALTH_WEEKLY_CRON", "").strip() or "0 7 * * 1"
for _name in ("HEALTH_REVIEW_CRON", "HEALTH_WEEKLY_CRON"):
    if not croniter.is_valid(globals()[_name]):
        raise ImproperlyConfigured(f"{_name}={globals()[_name]!r} is not a cron expression (e.g. '0 7 * * 1')")

# The closed-loop report's campaign: the key of the lead's custom field (data dictionary) that names it.
LIFECYCLE_CAMPAIGN_FIELD = os.environ.get("LIFECYCLE_CAMPAIGN_FIELD", "").strip() or "utm_campaign"

# The nightly full duplicate scan (dataquality app, docs/dataquality.md): every active duplicate rule
# over the existing records, in chunks on the low lane. Default 03:15 every day.
# A sync batch with more records to check than this, none of which a rule could refuse, has its
# duplicate check on the low lane after its commit (docs/dataquality.md); a recorded check not done
# this long after its job was enqueued is enqueued again.
DATAQUALITY_INLINE_MAX = env_int("DATAQUALITY_INLINE_MAX", 100, minimum=0)
DATAQUALITY_PENDING_RETRY_SECONDS = env_int("DATAQUALITY_PENDING_RETRY_SECONDS", 300, minimum=30)
DATAQUALITY_SCAN_CRON = os.environ.get("DATAQUALITY_SCAN_CRON", "").strip() or "15 3 * * *"
if not croniter.is_valid(DATAQUALITY_SCAN_CRON):
    raise ImproperlyConfigured(
        f"DATAQUALITY_SCAN_CRON={DATAQUALITY_SCAN_CRON!r} is not a cron expression (e.g. '15 3 * * *')"
    )

# Sign-in throttling (django-axes, attempts kept in the database so RevOps admins see them in the
# admin under "Axes"): AXES_FAILURE_LIMIT wrong passwords for one username from one client address
# lock that pair out for AXES_COOLOFF_MINUTES; every further try during the lock-out restarts the
# clock. Unlock early with `manage.py axes_reset_ip_username <ip> <username>`, `axes_reset_username`
# or by deleting the access attempt in the admin. API tokens are not passwords and are not counted.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "revops.people.RepAwareBackend",  # Django's password sign-in, refused to reps inactive in the CRM
]
# Personal notification webhooks (exceptions/channels.py) may post inside the portal's own network only
# when this is on: otherwise any login could make the server probe internal addresses.
NOTIFICATION_WEBHOOKS_INTERNAL = env_bool("NOTIFICATION_WEBHOOKS_INTERNAL", False)

# Single sign-on through OpenID Connect (revops/sso.py, docs/deployment.md): on when OIDC_RP_CLIENT_ID
# is set. The provider's endpoints come from its discovery document (…/.well-known/openid-configuration).
OIDC_RP_CLIENT_ID = os.environ.get("OIDC_RP_CLIENT_ID", "").strip()
OIDC_RP_CLIENT_SECRET = os.environ.get("OIDC_RP_CLIENT_SECRET", "")
OIDC_OP_AUTHORIZATION_ENDPOINT = os.environ.get("OIDC_OP_AUTHORIZATION_ENDPOINT", "")
OIDC_OP_TOKEN_ENDPOINT = os.environ.get("OIDC_OP_TOKEN_ENDPOINT", "")
OIDC_OP_USER_ENDPOINT = os.environ.get("OIDC_OP_USER_ENDPOINT", "")
OIDC_OP_JWKS_ENDPOINT = os.environ.get("OIDC_OP_JWKS_ENDPOINT", "")
OIDC_RP_SIGN_ALGO = os.environ.get("OIDC_RP_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = os.environ.get("OIDC_RP_SCOPES", "openid email profile")
OIDC_PROVIDER_NAME = os.environ.get("OIDC_PROVIDER_NAME", "your company's sign-in")
# The claim that carries the person's groups or roles, and how its values map to the portal's roles
# ("revops-admins=RevOps admin,sales-leads=Manager"); without it the role follows the team tree.
OIDC_ROLE_CLAIM = os.environ.get("OIDC_ROLE_CLAIM", "").strip()
OIDC_ROLE_VALUES = dict(pair.split("=", 1) for pair in env_list("OIDC_ROLE_VALUES", []) if "=" in pair)
LOGIN_REDIRECT_URL = "/admin/"
LOGIN_REDIRECT_URL_FAILURE = "/admin/login/?sso=refused"  # the login page says why, in words
LOGOUT_REDIRECT_URL = "/admin/login/"
OIDC_TRUST_EMAIL = env_bool("OIDC_TRUST_EMAIL", False)  # for providers that never send email_verified
if OIDC_RP_CLIENT_ID:
    _missing = [
        name
        for name in (
            "OIDC_RP_CLIENT_SECRET",
            "OIDC_OP_AUTHORIZATION_ENDPOINT",
            "OIDC_OP_TOKEN_ENDPOINT",
            "OIDC_OP_USER_ENDPOINT",
        )
        if not globals()[name]
    ]
    if OIDC_RP_SIGN_ALGO.startswith("RS") and not OIDC_OP_JWKS_ENDPOINT:
        _missing.append("OIDC_OP_JWKS_ENDPOINT")
    if _missing:
        raise ImproperlyConfigured(f"OIDC_RP_CLIENT_ID is set (single sign-on), so set {', '.join(_missing)} too")
    AUTHENTICATION_BACKENDS.insert(1, "revops.sso.PortalOIDCBackend")

# Invitations (revops/people.py): how long the one-time link to set a first password works.
PASSWORD_RESET_TIMEOUT = env_int("INVITE_LINK_HOURS", 72, minimum=1) * 3600
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_LOCKOUT_CALLABLE = "revops.security.lockout_response"
AXES_VERBOSE = False  # no start-up banner on every manage.py command; attempts are still logged
# Behind a reverse proxy, CLIENT_IP_HEADER names the request.META key the proxy sets to the client's
# address (e.g. HTTP_X_FORWARDED_FOR: its right-most entry, the one your proxy added, is used).
# Only set it when every request comes through that proxy: clients can send the header themselves.
CLIENT_IP_HEADER = os.environ.get("CLIENT_IP_HEADER", "REMOTE_ADDR").strip() or "REMOTE_ADDR"
if CLIENT_IP_HEADER != "REMOTE_ADDR" and not CLIENT_IP_HEADER.startswith("HTTP_"):
    raise ImproperlyConfigured(
        f"CLIENT_IP_HEADER={CLIENT_IP_HEADER!r} must be REMOTE_ADDR or a request.META header key such as "
        "HTTP_X_FORWARDED_FOR or HTTP_X_REAL_IP"
    )
AXES_CLIENT_IP_CALLABLE = "revops.security.client_ip"

# Content-Security-Policy (django-csp): scripts only from the portal's own static files, never
# inline; <style> blocks carry the per-response nonce (`{{ request.csp_nonce }}`); style
# attributes (used by Django's and third-party admin templates) are allowed, scripts are not.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
# Dates as "6 Dec 2026, 17:05 EST" (revops/formats/en/formats.py), in the viewer's zone (revops/timezones.py).
FORMAT_MODULE_PATH = ["revops.formats"]
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "var" / "static"))

LOGIN_URL = "admin:login"

# Email: console by default, SMTP when EMAIL_HOST is set; `make run` writes each e-mail to a file
# in EMAIL_FILE_PATH (EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend).
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_FILE_PATH = Path(os.environ.get("EMAIL_FILE_PATH", "").strip() or DATA_DIR / "mail")
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", bool(EMAIL_HOST))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "revops-portal@localhost")
# The portal's public address, for links in emails (digests, escalations) and printed hints;
# unset, the address `make run` serves (WEB_ADDR) when that is set.
_web_addr = os.environ.get("WEB_ADDR", "").strip()
PORTAL_BASE_URL = (
    os.environ.get("PORTAL_BASE_URL", "").strip() or (f"http://{_web_addr}" if _web_addr else "http://127.0.0.1:8000")
).rstrip("/")
if not PORTAL_BASE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(f"PORTAL_BASE_URL={PORTAL_BASE_URL!r} must start with http:// or https://")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

REST_FRAMEWORK = {
    "DEFAULT_PERMISSION_CLASSES": ["revops.api.auth.HasScope"],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "revops.api.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "revops.api.schema.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "revops.api.pagination.RecordCursorPagination",
    # One bucket per token (or signed-in user) at API_THROTTLE_RATE, counted in the Redis cache.
    "DEFAULT_THROTTLE_CLASSES": ["revops.api.throttling.TokenRateThrottle"],
    "EXCEPTION_HANDLER": "revops.api.throttling.exception_handler",
}

# OpenAPI schema at /api/v1/schema/, docs at /api/v1/docs/ (Swagger UI), with the UI assets
# served from drf-spectacular-sidecar so they work without internet access.
SPECTACULAR_SETTINGS = {
    "TITLE": "RevOps portal API",
    "DESCRIPTION": (
        "CRM sync, record reads and the changes feed. Authenticate with `Authorization: Bearer rvp_…` "
        "(create a token with `manage.py create_api_token`) or a signed-in staff session. See docs/api.md."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True},
    "ENUM_NAME_OVERRIDES": {
        "LeadStatusEnum": "revops.models.records.Lead.Status",
        "TaskStatusEnum": "revops.models.records.Task.Status",
        "SyncStatusEnum": ["created", "updated", "unchanged", "stale", "rejected"],
        "LeadRejectionReasonEnum": "lifecycle.models.REJECTION_REASON_CHOICES",
        "HandoffRejectionReasonEnum": "handoffs.services.REJECTION_REASON_CHOICES",
    },
}

if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def env_log_level(name: str, default: str) -> str:
    raw = os.environ.get(name)
    value = (raw or "").strip().upper() or default
    if value not in _LOG_LEVELS:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a log level (use one of {', '.join(_LOG_LEVELS)})")
    return value


# Logging: everything at LOG_LEVEL on the console (the production recipe). With LOG_DIR set (as
# `make run` does) each process also writes LOG_LEVEL and above to LOG_DIR/<process>.log — the
# name respawn.py gives it (web, worker, hot, scheduler) or the manage.py command's — while the
# console shows only LOG_CONSOLE_LEVEL and above (make run: WARNING).
LOG_LEVEL = env_log_level("LOG_LEVEL", "INFO")
LOG_CONSOLE_LEVEL = env_log_level("LOG_CONSOLE_LEVEL", LOG_LEVEL)
LOG_DIR = os.environ.get("LOG_DIR", "").strip()
_log_format = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": _log_format}},
    "handlers": {"console": {"class": "logging.StreamHandler", "level": LOG_CONSOLE_LEVEL}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
if LOG_DIR:
    _process = os.environ.get("PROCESS_NAME", "").strip() or (
        sys.argv[1] if len(sys.argv) > 1 and Path(sys.argv[0]).name == "manage.py" else "portal"
    )
    Path(LOG_DIR).mkdir(parents=True, exist_ok=True)
    LOGGING["handlers"]["file"] = {
        "class": "logging.FileHandler",
        "filename": str(Path(LOG_DIR) / f"{Path(_process).name}.log"),
        "formatter": "plain",
        "level": LOG_LEVEL,
        "delay": True,
    }
    LOGGING["root"]["handlers"].append("file")
