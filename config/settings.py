"""Cairn settings: one module, every value read from the environment.

Every variable is listed with its default in `.env.example` and the README.
With nothing set, Cairn runs embedded: SQLite, the in-memory channel layer and
in-process execution. With DATABASE_URL and REDIS_URL it runs the production
shape: PostgreSQL, Redis, uvicorn web processes, Celery workers and beat.
"""

import sys
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from config import env as env_sources
from config import keys

BASE_DIR = Path(__file__).resolve().parent.parent

# The process environment, then `.env` (or CAIRN_ENV_FILE): config/env.py is
# the one reader, shared with `make run` (manage.py runmode).
env_sources.load()
env = environ.Env()

# ---------------------------------------------------------------- core
# SECRET_KEY: see "keys" below (required in production, made once when embedded).
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list(
    "CSRF_TRUSTED_ORIGINS", default=["http://127.0.0.1:8000", "http://localhost:8000"]
)

# ---------------------------------------------------------------- HTTPS
# Off by default: `make run` serves plain HTTP on this machine. Behind TLS set
# them as docs/operations.md ("HTTPS") shows; `manage.py check --deploy` is
# then clean. SECURE_PROXY_SSL_HEADER: the header and value a TLS-terminating
# proxy sets, e.g. "HTTP_X_FORWARDED_PROTO,https" (only if the proxy always
# sets or strips it; uvicorn's --proxy-headers already trusts X-Forwarded-Proto
# from FORWARDED_ALLOW_IPS).
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
_proxy_ssl_header = env.list("SECURE_PROXY_SSL_HEADER", default=[])
if _proxy_ssl_header and len(_proxy_ssl_header) != 2:
    raise ImproperlyConfigured(
        "SECURE_PROXY_SSL_HEADER: a header and its value, e.g. HTTP_X_FORWARDED_PROTO,https"
    )
SECURE_PROXY_SSL_HEADER = tuple(_proxy_ssl_header) or None

DJANGO_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
THIRD_PARTY_APPS = [
    "channels",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
]
LOCAL_APPS = [
    "automation",
    "builder",
    "integrations",
    "ops",
    "products",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.RequestSizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Answers a locked-out login (config/login_throttle.py); last, as axes asks.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

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
            ]
        },
    }
]

# ---------------------------------------------------------------- database
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# A Celery process (worker child, beat) runs one task at a time in one
# thread: it keeps its one persistent connection (two during an outside
# call, for the lease heartbeat), which bounds it already. Threads multiply
# connections only under ASGI, so the pool is the web tier's by default.
IN_CELERY = "celery" in (Path(sys.argv[0]).name, Path(sys.argv[0]).parent.name)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool(
    "DATABASE_POOL", default=not IN_CELERY
):
    # A bounded pool per process (Django's psycopg pool): under ASGI every
    # request runs in a thread of its own, and a persistent connection per
    # thread exhausts the server's max_connections under load. A request
    # borrows a connection and gives it back when it ends (CONN_MAX_AGE=0 is
    # what Django requires with a pool); past DATABASE_POOL_MAX_SIZE, requests
    # wait up to DATABASE_POOL_TIMEOUT seconds for one (then a JSON 503).
    # The whole production shape holds at most
    #   web processes x DATABASE_POOL_MAX_SIZE + 2 x worker processes + 2
    # connections: docs/operations.md ("Database connections").
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Health checks: the pool tests a connection as it lends it out, so one
    # the server dropped (a restart, pg_terminate_backend) is replaced, never
    # handed to a request or a task.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=1),
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=4),
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
        # Idle connections above min_size close after this many seconds.
        "max_idle": env.float("DATABASE_POOL_MAX_IDLE", default=60.0),
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded server writes from its request threads and its executor
    # thread. WAL lets readers go on while one writes; IMMEDIATE transactions
    # take the write lock when they begin, so two writers queue on the busy
    # timeout instead of one failing with "database is locked" when a read
    # turns into a write.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,  # seconds a writer waits for the lock
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ---------------------------------------------------------------- static files
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# The canvas bundle: Vite writes it to static/build/ with its manifest (see
# builder/templatetags/vite.py). Its hashed file names never change content,
# so whitenoise may let browsers cache them for good.
VITE_STATIC_PREFIX = "build/"
# Relative to the project folder unless absolute.
VITE_MANIFEST_PATH = BASE_DIR / env.str(
    "VITE_MANIFEST_PATH", default="static/build/.vite/manifest.json"
)
WHITENOISE_IMMUTABLE_FILE_TEST = r"^.+/build/assets/.+-[0-9A-Za-z_-]{8,}\.\w+$"

# ---------------------------------------------------------------- i18n
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# ---------------------------------------------------------------- execution
REDIS_URL = env.str("REDIS_URL", default="")
# "celery": runs go to Celery workers through Redis (production).
# "embedded": runs execute in a thread of the web process (the `make run` default).
CAIRN_EXECUTION = env.str("CAIRN_EXECUTION", default="celery" if REDIS_URL else "embedded")

# How POST /api/v1/events stores events. "queued": the request stores the
# events (deduplicated) and answers 202 at once; a Celery task ingests them in
# batches right after (automation/pending_events.py), and `enrolled` in the answer is
# null. "inline": the request ingests and enrols itself and `enrolled` is exact.
EVENT_INTAKE = env.str(
    "EVENT_INTAKE", default="queued" if CAIRN_EXECUTION == "celery" else "inline"
)
if EVENT_INTAKE not in ("queued", "inline") or (
    EVENT_INTAKE == "queued"
    and (
        CAIRN_EXECUTION != "celery"
        or DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql"
    )
):
    raise ImproperlyConfigured(
        f"EVENT_INTAKE={EVENT_INTAKE!r}: use 'inline', or 'queued' with Celery and "
        "PostgreSQL (DATABASE_URL and REDIS_URL)"
    )
# Seconds the queued intake's drain waits after the first event of a burst,
# and at least between the starts of two batches that are not full, gathering
# the events that follow into one batch.
EVENT_DRAIN_DELAY = env.float("EVENT_DRAIN_DELAY", default=0.1)
# With the queued intake, a valid single event with a known API key is stored
# and answered without Django's request cycle, concurrent ones in one INSERT
# (builder/api/fast_events.py); anything else goes through the API view.
EVENT_FAST_PATH = env.bool("EVENT_FAST_PATH", default=True)
# Pending events ingested per transaction by the queued intake.
EVENT_DRAIN_BATCH = env.int("EVENT_DRAIN_BATCH", default=500)

# ---------------------------------------------------------------- keys
# config/keys.py. SECRET_KEY signs sessions, email click and unsubscribe links
# and webhook-trigger URLs; SECRET_KEY_FALLBACKS (Django's rotation) are older
# keys whose signatures are still accepted. CONNECTION_ENCRYPTION_KEYS are
# Fernet keys, newest first: connection secrets are encrypted with the first
# and read with any (`manage.py rotate_connection_keys` re-encrypts).
# Production shape: all required, a weak or example SECRET_KEY refused at
# start. Embedded: any not set is made once into .cairn-keys (git-ignored).
SECRET_KEY = env.str("SECRET_KEY", default="")
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
CONNECTION_ENCRYPTION_KEYS = [
    key.strip() for key in env.list("CONNECTION_ENCRYPTION_KEYS", default=[]) if key.strip()
]
if CAIRN_EXECUTION == "celery":
    _problems = keys.production_problems(
        SECRET_KEY, SECRET_KEY_FALLBACKS, CONNECTION_ENCRYPTION_KEYS
    )
    if _problems:
        raise ImproperlyConfigured(keys.refusal(_problems))
elif not SECRET_KEY or SECRET_KEY in keys.EXAMPLE_SECRET_KEYS or not CONNECTION_ENCRYPTION_KEYS:
    # The example key is replaced, not used (`manage.py runmode` warns).
    _local = keys.local_keys(keys.keys_file())
    if not SECRET_KEY or SECRET_KEY in keys.EXAMPLE_SECRET_KEYS:
        SECRET_KEY = _local["SECRET_KEY"]
    if not CONNECTION_ENCRYPTION_KEYS:
        CONNECTION_ENCRYPTION_KEYS = [_local["CONNECTION_ENCRYPTION_KEYS"]]
# Read only, never used to encrypt: the keys earlier releases derived from
# SECRET_KEY (and, embedded, from the old default key) when
# CONNECTION_ENCRYPTION_KEYS was empty, so connections stored then stay
# readable until `manage.py rotate_connection_keys` re-encrypts them.
CONNECTION_DECRYPTION_FALLBACK_KEYS = [keys.derived_connection_key(SECRET_KEY)]
if CAIRN_EXECUTION != "celery":
    CONNECTION_DECRYPTION_FALLBACK_KEYS += [
        keys.derived_connection_key(key) for key in sorted(keys.EXAMPLE_SECRET_KEYS)
    ]

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = env.int("CELERY_WORKER_PREFETCH_MULTIPLIER", default=1)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=120)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=150)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    # Workers take housekeeping, then high, normal, low (config/celery.py).
    "queue_order_strategy": "config.celery:QueuesInPriorityOrder",
}
# Queues, in the order workers take them (config/celery.py): housekeeping
# (the timer sweep, the reaper, schedules, product metrics: short tasks that
# must never wait behind runs), then runs by their workflow's priority
# (automation/dispatch.py). A worker started without -Q consumes them all.
CELERY_TASK_QUEUES = {"housekeeping": {}, "high": {}, "normal": {}, "low": {}}
CELERY_TASK_DEFAULT_QUEUE = "normal"
HOUSEKEEPING_TASKS = (
    "automation.sweep_due_runs",
    "automation.reap_stale_runs",
    "automation.send_lost_message_checks",
    "automation.fire_schedules",
    "automation.check_inactivity",
    "products.refresh_dirty",
    "products.refresh_all",
    "products.raise_escalations",
    "products.fire_schedules",
)
CELERY_TASK_ROUTES = {name: {"queue": "housekeeping"} for name in HOUSEKEEPING_TASKS}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Beat keeps its schedule in memory: every entry is a short interval, so
# there is nothing worth keeping across restarts, no file a beat killed
# mid-write can leave corrupt, and no state two instances could share.
CELERY_BEAT_SCHEDULER = "celery.beat:Scheduler"
CELERY_BEAT_SCHEDULE = {
    "sweep-due-runs": {"task": "automation.sweep_due_runs", "schedule": 1.0},
    # Runs of dead workers (their lease lapsed), within seconds.
    "reap-stale-runs": {"task": "automation.reap_stale_runs", "schedule": 2.0},
    # Runs whose message a broker or a killed worker process lost: a check
    # down each priority's queue (automation/tasks.py).
    "send-lost-message-checks": {
        "task": "automation.send_lost_message_checks",
        "schedule": env.float("LOST_MESSAGE_CHECK_SECONDS", default=30.0),
    },
    # The queued intake's safety net: events a lost message left pending.
    "drain-events": {
        "task": "automation.drain_events",
        "schedule": 1.0,
        "options": {"queue": "high"},
    },
    "fire-schedules": {"task": "automation.fire_schedules", "schedule": 15.0},
    "check-inactivity": {"task": "automation.check_inactivity", "schedule": 300.0},
    # products/: metrics of products with new usage, every product (the window
    # moves), escalations not acknowledged in time, product schedules.
    "products-refresh-dirty": {
        "task": "products.refresh_dirty",
        "schedule": env.float("PRODUCT_METRICS_DIRTY_SECONDS", default=2.0),
    },
    "products-refresh-all": {
        "task": "products.refresh_all",
        "schedule": env.float("PRODUCT_METRICS_ALL_SECONDS", default=900.0),
    },
    "products-raise-escalations": {"task": "products.raise_escalations", "schedule": 1.0},
    "products-fire-schedules": {"task": "products.fire_schedules", "schedule": 15.0},
}

CHANNEL_LAYERS = {
    "default": (
        {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
        if REDIS_URL
        else {"BACKEND": "channels.layers.InMemoryChannelLayer"}
    )
}

# ---------------------------------------------------------------- limits
WORKFLOW_MAX_NODES = env.int("WORKFLOW_MAX_NODES", default=200)
GRAPH_MAX_BYTES = env.int("GRAPH_MAX_BYTES", default=512 * 1024)
RUN_MAX_STEPS = env.int("RUN_MAX_STEPS", default=500)
EVENT_MAX_BYTES = env.int("EVENT_MAX_BYTES", default=64 * 1024)
EVENT_BATCH_MAX = env.int("EVENT_BATCH_MAX", default=1000)
STEP_OUTPUT_MAX_BYTES = env.int("STEP_OUTPUT_MAX_BYTES", default=64 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("REQUEST_MAX_BYTES", default=10 * 1024 * 1024)
# What rendering one template field may cost (automation/template_budget.py):
# loop iterations, characters written, CPU seconds. Going over fails the step
# at once with an error saying what to simplify.
TEMPLATE_MAX_ITERATIONS = env.int("TEMPLATE_MAX_ITERATIONS", default=10_000)
TEMPLATE_MAX_OUTPUT = env.int("TEMPLATE_MAX_OUTPUT", default=100_000)
TEMPLATE_MAX_SECONDS = env.float("TEMPLATE_MAX_SECONDS", default=0.5)
ACTION_MAX_ATTEMPTS = env.int("ACTION_MAX_ATTEMPTS", default=5)
ACTION_RETRY_BASE_SECONDS = env.float("ACTION_RETRY_BASE_SECONDS", default=10.0)
ACTION_RETRY_MAX_SECONDS = env.float("ACTION_RETRY_MAX_SECONDS", default=3600.0)
# A running run's lease: renewed by every chunk and, during an outside call,
# by a heartbeat; a dead worker's runs are re-queued this long after it died.
RUN_LEASE_SECONDS = env.int("RUN_LEASE_SECONDS", default=20)
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)

# ---------------------------------------------------------------- email
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Cairn <cairn@localhost>")
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)

# ---------------------------------------------------------------- integrations
# Outbound HTTP refuses private, loopback, link-local, multicast and metadata
# addresses after DNS resolution and on every redirect. List host names or
# networks (CIDR) here to open them, e.g. a self-hosted CRM: "10.1.2.0/24,crm.internal".
OUTBOUND_ALLOWLIST = env.list("OUTBOUND_ALLOWLIST", default=[])
OUTBOUND_MAX_REDIRECTS = env.int("OUTBOUND_MAX_REDIRECTS", default=5)
# A PEM file of CA certificates to trust for outbound HTTPS instead of the
# default bundle (self-hosted targets behind a private CA).
OUTBOUND_CA_BUNDLE = env.str("OUTBOUND_CA_BUNDLE", default="")
OUTBOUND_MAX_RESPONSE_BYTES = env.int("OUTBOUND_MAX_RESPONSE_BYTES", default=1024 * 1024)
# Transient failures in a row that open a connection's circuit, and for how long.
CIRCUIT_BREAKER_THRESHOLD = env.int("CIRCUIT_BREAKER_THRESHOLD", default=5)
CIRCUIT_BREAKER_COOLDOWN_SECONDS = env.float("CIRCUIT_BREAKER_COOLDOWN_SECONDS", default=60.0)
# CONNECTION_ENCRYPTION_KEYS: see "keys" above.
# Inbound Standard Webhooks: how far a webhook-timestamp may be from now, and
# how long a rotated-out signing secret keeps working.
INBOUND_WEBHOOK_TOLERANCE_SECONDS = env.int("INBOUND_WEBHOOK_TOLERANCE_SECONDS", default=300)
WEBHOOK_SECRET_OVERLAP_HOURS = env.float("WEBHOOK_SECRET_OVERLAP_HOURS", default=24.0)
# Where contacts reach Cairn: unsubscribe links, open pixels, click redirects.
# Default: the address HOST and PORT (as for `make run`) give.
PUBLIC_BASE_URL = env.str(
    "PUBLIC_BASE_URL",
    default=env_sources.browser_url(
        env.str("HOST", default=env_sources.DEFAULT_HOST),
        env.int("PORT", default=env_sources.DEFAULT_PORT),
    ),
)
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # Circuit breaker state, shared by every worker when Redis is there.
    "integrations": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "cb"}
    ),
    # Wrong API keys per address, shared by every web process when Redis is there.
    "throttle": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "throttle"}
    ),
}

# ---------------------------------------------------------------- bootstrap
CAIRN_ADMIN_PASSWORD = env.str("CAIRN_ADMIN_PASSWORD", default="")

# ---------------------------------------------------------------- API
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "builder.api.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "builder.api.pagination.Pagination",
    "PAGE_SIZE": env.int("API_PAGE_SIZE", default=50),
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "builder.api.errors.exception_handler",
}
# `?page_size=` may ask for up to this many rows of any list.
API_MAX_PAGE_SIZE = env.int("API_MAX_PAGE_SIZE", default=200)
# /api/schema/ and /api/docs/ for anyone (true) or only for workspace members
# and API keys (false). Default: public while DEBUG is on, private in production.
API_DOCS_PUBLIC = env.bool("API_DOCS_PUBLIC", default=DEBUG)
# Seconds a web process trusts an API key it looked up (builder/api/auth.py):
# a key revoked in the admin stops working everywhere within this time. 0: never cached.
API_KEY_CACHE_SECONDS = env.float("API_KEY_CACHE_SECONDS", default=5.0)
SPECTACULAR_SETTINGS = {
    "TITLE": "Cairn API",
    "DESCRIPTION": "Define, publish and run workflows. Authenticate with a browser "
    "session or `Authorization: Bearer <api key>`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # 3.1: JSON Schema as validation reads it (propertyNames, type lists).
    "OAS_VERSION": "3.1.0",
    # Shared error answers and the links that chain ids (builder/api/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "builder.api.schema.postprocess",
    ],
}

# ---------------------------------------------------------------- operations
# GET /metrics (Prometheus text format) answers a request carrying
# `Authorization: Bearer <METRICS_TOKEN>`, or a logged-in staff user. Empty: staff only.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# A failing dependency (Redis) is logged once per this many seconds per
# process, with the count of failures since; every failure is counted in
# cairn_dependency_failures_total (ops/dependency_log.py).
DEPENDENCY_LOG_SECONDS = env.float("DEPENDENCY_LOG_SECONDS", default=30.0)
# Celery's line per task received / succeeded and beat's per task sent: six
# lines a second for the timer sweep alone, more per run. WARNING keeps only
# failures; INFO brings them all back.
TASK_LOG_LEVEL = env.str("TASK_LOG_LEVEL", default="WARNING")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "celery.app.trace": {"level": TASK_LOG_LEVEL},
        "celery.worker.strategy": {"level": TASK_LOG_LEVEL},
        "celery.beat": {"level": TASK_LOG_LEVEL},
        "django.db.backends": {"level": "WARNING"},
        # httpx logs every request's full URL (query strings may carry tokens);
        # integrations log their calls themselves, redacted (cairn.outbound).
        "httpx": {"level": "WARNING"},
    },
}

# ---------------------------------------------------------------- login throttling
# config/login_throttle.py: failed logins on /login/ and the admin, counted
# per account and per address (django-axes, in the database).
AUTHENTICATION_BACKENDS = [
    "config.login_throttle.LoginThrottle",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("LOGIN_COOLOFF_MINUTES", default=15.0))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own
AXES_LOCKOUT_CALLABLE = "config.login_throttle.lockout_response"
# The connection's address only: uvicorn already took X-Forwarded-For from
# trusted proxies (FORWARDED_ALLOW_IPS); a client's own header is ignored.
AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)
# A success would also clear the address's count: one account of their own
# would let an attacker guess on for ever.
AXES_RESET_ON_SUCCESS = False
# No "AXES: BEGIN …" line at every process start (failures are still logged).
AXES_VERBOSE = False
# API keys: wrong keys from one address within the window, then 429
# (builder/api/key_throttle.py, in the "throttle" cache).
API_KEY_FAILURE_LIMIT = env.int("API_KEY_FAILURE_LIMIT", default=20)
API_KEY_FAILURE_WINDOW_SECONDS = env.int("API_KEY_FAILURE_WINDOW_SECONDS", default=300)

# ---------------------------------------------------------------- app pages
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/workflows/"
LOGOUT_REDIRECT_URL = "/login/"
