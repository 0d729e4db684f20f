"""Settings shared by every environment. Configuration comes only from the environment
(see .env.example); local/test/production only change defaults and strictness."""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# A developer's .env is read when present; production sets real environment variables.
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

SECRET_KEY = env("SECRET_KEY", default="")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])

INSTALLED_APPS = [
    "nija_site.apps.NijaAdminConfig",  # django.contrib.admin with the project's AdminSite
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "csp",
    "core",
    "security",
    "compliance",
    "accounts",
    "brokers",
    "copytrading",
    "reporting",
    "portal",
    "operations",
]

MIDDLEWARE = [
    "core.middleware.RequestIdMiddleware",
    "core.middleware.ApiErrorShapeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "security.middleware.StaffSessionIdleMiddleware",
    "security.middleware.StaffSecondFactorMiddleware",  # no page outside /admin/ without the second factor
    "security.middleware.RefusedAnonymousThrottleMiddleware",  # refused anonymous API calls, per address
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "nija_site.urls"
WSGI_APPLICATION = "nija_site.wsgi.application"
ASGI_APPLICATION = "nija_site.asgi.application"

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
            ],
        },
    },
]

# SQLite is the embedded default; PostgreSQL comes through DATABASE_URL.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'nija.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(exist_ok=True)  # a fresh checkout has no var/ yet
    # Web, worker and beat share one file: WAL lets readers run beside the writer, IMMEDIATE
    # transactions take the write lock up front so concurrent writers queue instead of failing.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
LOGIN_URL = "/admin/login/"

# --- Sign-in and session hardening (README "Security") ------------------------------------
# django-axes sits in front of every authenticate() call (the admin, the portal, any login built
# on django.contrib.auth): after NIJA_LOGIN_FAILURE_LIMIT wrong passwords for one username that
# username is locked for NIJA_LOGIN_LOCKOUT_MINUTES (0: until staff unlock it with unlock_login or
# the admin's "Locked sign-ins" page).
AUTHENTICATION_BACKENDS = [
    "security.backends.LockoutBackend",  # django-axes lockout (security/backends.py)
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("NIJA_LOGIN_FAILURE_LIMIT", default=5)
_LOCKOUT_MINUTES = env.int("NIJA_LOGIN_LOCKOUT_MINUTES", default=30)
AXES_COOLOFF_TIME = timedelta(minutes=_LOCKOUT_MINUTES) if _LOCKOUT_MINUTES > 0 else None
# Per username (a guesser spreading over many addresses is still stopped) and, separately, per
# client address (one address spraying a password over many usernames is stopped too).
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# Reverse proxies in front of the web process whose X-Forwarded-For is trusted (production: 1).
NIJA_TRUSTED_PROXY_COUNT = env.int("NIJA_TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "security.addresses.client_address"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_ENABLE_ADMIN = False  # security/admin.py registers them with an audited unlock
AXES_VERBOSE = False  # axes would log each username; our own log line says what is needed
# Staff sessions end after this many idle seconds (each request restarts the clock); investors keep
# Django's SESSION_COOKIE_AGE.
NIJA_STAFF_SESSION_IDLE_SECONDS = env.int("NIJA_STAFF_SESSION_IDLE_SECONDS", default=1800)
# Two-factor sign-in (django-otp, TOTP + recovery codes): required for superusers and operators when
# on (production turns it on), optional for viewers. Authenticator apps show this issuer name.
NIJA_OTP_REQUIRED = env.bool("NIJA_OTP_REQUIRED", default=False)
OTP_TOTP_ISSUER = env("NIJA_OTP_ISSUER", default="NIJA back office")
# Going LIVE or replacing a broker credential in the admin asks for the password again when the
# session's last sign-in (or password entry) is older than this.
NIJA_REAUTH_SECONDS = env.int("NIJA_REAUTH_SECONDS", default=300)
# A password-reset link works once and for this long (Django's default is three days).
PASSWORD_RESET_TIMEOUT = env.int("NIJA_PASSWORD_RESET_HOURS", default=2) * 3600

# Content-Security-Policy for every page (admin, portal): scripts, styles and images from this site
# only, no inline script, no framing, forms post only here. Stored report HTML is served with its
# own stricter policy (sandbox, see portal.views.portal_report).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],  # inline <style> in templates; no inline script
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # A token first: a caller without credentials then gets 401 with WWW-Authenticate: Bearer.
        "accounts.api.authentication.ApiTokenAuthentication",
        # The browser's session; a staff session without its second factor is refused (security app).
        "security.authentication.StaffVerifiedSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    # Per signed-in user and per client address on every endpoint; the signal webhook has its own,
    # stricter, rate per source address. Over the rate: 429 in the error shape with Retry-After.
    "DEFAULT_THROTTLE_CLASSES": ["security.throttles.UserThrottle", "security.throttles.AddressThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "user": env("NIJA_THROTTLE_USER", default="600/min"),
        "address": env("NIJA_THROTTLE_ADDRESS", default="1200/min"),
        "signal_source": env("NIJA_THROTTLE_SIGNAL_SOURCE", default="120/min"),
        # Refused calls without a valid identity (no credentials, a wrong token), per address.
        "refused_anonymous": env("NIJA_THROTTLE_REFUSED", default="30/min"),
        # Password-reset requests (staff and portal), per client address and per e-mail address.
        "password_reset_address": env("NIJA_PASSWORD_RESET_RATE_ADDRESS", default="10/hour"),
        "password_reset_email": env("NIJA_PASSWORD_RESET_RATE_EMAIL", default="3/hour"),
    },
}
# The schema maps every endpoint and parameter: signed-in users only.
SPECTACULAR_SETTINGS = {
    "TITLE": "NIJA back office API", "VERSION": "1",
    "DESCRIPTION": ("Read-only. Money is a string rounded to the cent (USD unless a currency says otherwise); "
                    "times are ISO 8601 UTC; every error is {\"error\": {\"code\", \"message\", \"fields\"?}}."),
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # The docs page's Swagger UI comes from the installed sidecar package: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR", "SWAGGER_UI_FAVICON_HREF": "SIDECAR", "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_INCLUDE_SCHEMA": False,
}

# --- Celery -------------------------------------------------------------------------------
# REDIS_URL selects Redis. Without it the embedded mode uses kombu's filesystem transport, so a
# real worker and beat run with no broker service at all.
REDIS_URL = env("REDIS_URL", default="")
CELERY_EMBEDDED = not REDIS_URL
CELERY_QUEUE_DIR = Path(env("NIJA_CELERY_QUEUE_DIR", default=str(VAR_DIR / "celery")))
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {"visibility_timeout": 3600}
else:
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_QUEUE_DIR / "queue"),
        "data_folder_out": str(CELERY_QUEUE_DIR / "queue"),
        "processed_folder": str(CELERY_QUEUE_DIR / "processed"),
        "control_folder": str(CELERY_QUEUE_DIR / "control"),
        "store_processed": False,
    }
    # Producers (seed_demo, the web process) may queue before any worker has started.
    for _folder in ("queue", "processed", "control"):
        (CELERY_QUEUE_DIR / _folder).mkdir(parents=True, exist_ok=True)
# Throttle counters must be shared by every web process: Redis when there is one.
# "overview": the investor overview's figures, computed by a worker and read by the web process, so
# it must be shared by both: Redis, or without it a folder (the embedded mode runs on one machine).
NIJA_OVERVIEW_CACHE_DIR = Path(env("NIJA_OVERVIEW_CACHE_DIR", default="") or VAR_DIR / "cache" / "overview")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                          "KEY_PREFIX": "nija"},
              "overview": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                           "KEY_PREFIX": "nija-overview"}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
              "overview": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                           "LOCATION": str(NIJA_OVERVIEW_CACHE_DIR), "OPTIONS": {"MAX_ENTRIES": 5000}}}
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True  # a task whose worker dies is delivered again
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Every task has a time limit. At the soft limit the task gets SoftTimeLimitExceeded and records
# why it stopped; at the hard limit the worker kills it (acks_late: it is delivered again). Tasks
# known to run longer (reports) raise their own limits on the task.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("NIJA_TASK_SOFT_TIME_LIMIT", default=120)
CELERY_TASK_TIME_LIMIT = env.int("NIJA_TASK_TIME_LIMIT", default=180)
# Queues: "celery" (everything else) and "stops" (stop-loss checks and the sells they trigger), so a
# long reconciliation or report run never delays a stop. A worker started without -Q consumes
# every queue listed here; production can give "stops" a worker of its own (README, Production).
CELERY_TASK_DEFAULT_QUEUE = "celery"
NIJA_STOPS_QUEUE = "stops"
CELERY_TASK_QUEUES = (Queue(CELERY_TASK_DEFAULT_QUEUE), Queue(NIJA_STOPS_QUEUE))
CELERY_TASK_ROUTES = {"copytrading.tasks.copy_stops_enforce_task": {"queue": NIJA_STOPS_QUEUE}}
# Tasks that walk accounts or orders take this many per run and queue themselves for the rest.
NIJA_TASK_BATCH_SIZE = env.int("NIJA_TASK_BATCH_SIZE", default=500)
# The periodic schedule lives here, in code, so it is reviewed like code.
CELERY_BEAT_SCHEDULE: dict = {
    "brokers-balance-audit": {
        "task": "brokers.tasks.balance_audit_task",
        "schedule": crontab(minute="*/5"),
    },
    # A loss between master signals (the market moved): the daily loss limit's warning, alert and
    # auto-suspension, two minutes after each balance audit starts so it reads that audit's snapshots.
    "copytrading-watch-daily-losses": {
        "task": "copytrading.tasks.daily_losses_watch_task",
        "schedule": crontab(minute="2-59/5"),
        "options": {"expires": 240},
    },
    "brokers-erase-archived-credentials": {
        "task": "brokers.tasks.credentials_archived_erase_task",
        "schedule": crontab(minute=40, hour=3),
    },
    "operations-advance-offboardings": {
        "task": "operations.tasks.offboardings_advance_task",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "compliance-verify-audit-chain": {
        "task": "compliance.tasks.audit_chain_verify_task",
        "schedule": crontab(minute=15, hour="*/6"),
    },
    "copytrading-reconcile-orders": {
        "task": "copytrading.tasks.copy_orders_reconcile_task",
        "schedule": 30.0,
        # A run still waiting in the queue when the next is due is dropped, not stacked up.
        "options": {"expires": 25},
    },
    "copytrading-poll-master-fills": {
        "task": "copytrading.tasks.master_fills_poll_task",
        "schedule": 15.0,
    },
    # Signals left RECEIVED (the webhook could not queue their planning, or a planner crashed)
    # are planned as soon as a worker takes this sweep.
    "copytrading-plan-pending-signals": {
        "task": "copytrading.tasks.signals_plan_pending_task",
        "schedule": 10.0,
        "options": {"expires": 10.0},
    },
    "copytrading-enforce-stops": {
        "task": "copytrading.tasks.copy_stops_enforce_task",
        "schedule": 10.0,
        "options": {"expires": 9},
    },
    # Reporting: reports for the UTC day/week/month just ended; prices and copy fills feed the ledger.
    "reporting-daily-reports": {
        "task": "reporting.tasks.reports_period_task", "args": ("daily",),
        "schedule": crontab(minute=10, hour=0),
    },
    "reporting-weekly-reports": {
        "task": "reporting.tasks.reports_period_task", "args": ("weekly",),
        "schedule": crontab(minute=20, hour=0, day_of_week="mon"),
    },
    "reporting-monthly-reports": {
        "task": "reporting.tasks.reports_period_task", "args": ("monthly",),
        "schedule": crontab(minute=30, hour=0, day_of_month=1),
    },
    "reporting-fees-accrue": {"task": "reporting.tasks.fees_accrue_task", "schedule": crontab(minute=5, hour=0)},
    "reporting-prices-refresh": {"task": "reporting.tasks.prices_refresh_task", "schedule": crontab(minute="*/15")},
    "reporting-copy-fills-import": {
        "task": "reporting.tasks.ledger_copy_fills_import_task", "schedule": crontab(minute="*/5"),
    },
    # E-mails whose send failed (retry with backoff) or whose queued task was lost.
    "compliance-send-due-communications": {
        "task": "compliance.tasks.communications_send_due_task", "schedule": 60.0, "options": {"expires": 55},
    },
    # The books against the venues, once a day after the night's balance audits (issue 10 §2).
    "reporting-reconcile-books": {
        "task": "reporting.tasks.books_reconcile_task", "schedule": crontab(minute=45, hour=0),
    },
    # The daily compliance check after the night's reports and reconciliation; the weekly review
    # (patterns over the week) on Mondays after it (issue 15 §3).
    "operations-daily-compliance-check": {
        "task": "operations.tasks.compliance_run_task", "args": ("daily",),
        "schedule": crontab(minute=0, hour=1),
    },
    "operations-weekly-compliance-review": {
        "task": "operations.tasks.compliance_run_task", "args": ("weekly",),
        "schedule": crontab(minute=15, hour=1, day_of_week="mon"),
    },
}

EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="NIJA back office <backoffice@localhost>")
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)  # seconds; a hung mail server fails the attempt
# Notifications (compliance.services.notification_queue): staff messages go to these addresses; a failed
# send is tried again after NIJA_MAIL_RETRY_BASE_SECONDS, doubling each time (capped at
# NIJA_MAIL_RETRY_MAX_SECONDS), NIJA_MAIL_MAX_ATTEMPTS attempts in all; a message queued longer than
# NIJA_MAIL_QUEUED_SWEEP_SECONDS (its task was lost) is sent by the beat sweep.
NIJA_STAFF_ALERT_EMAILS = env.list("NIJA_STAFF_ALERT_EMAILS", default=[])
NIJA_MAIL_MAX_ATTEMPTS = env.int("NIJA_MAIL_MAX_ATTEMPTS", default=5)
NIJA_MAIL_RETRY_BASE_SECONDS = env.int("NIJA_MAIL_RETRY_BASE_SECONDS", default=60)
NIJA_MAIL_RETRY_MAX_SECONDS = env.int("NIJA_MAIL_RETRY_MAX_SECONDS", default=3600)
NIJA_MAIL_QUEUED_SWEEP_SECONDS = env.int("NIJA_MAIL_QUEUED_SWEEP_SECONDS", default=300)
NIJA_MAIL_SWEEP_BATCH_SIZE = env.int("NIJA_MAIL_SWEEP_BATCH_SIZE", default=100)
# The "daily loss limit approaching" warning, once per day, when today's loss reaches this % of the limit.
NIJA_DAILY_LOSS_WARN_PCT = env("NIJA_DAILY_LOSS_WARN_PCT", default="80")  # a decimal string

# --- NIJA ---------------------------------------------------------------------------------
NIJA_REQUIRE_SERVICES = env.bool("NIJA_REQUIRE_SERVICES", default=False)
NIJA_CREDENTIAL_KEYS = env.list("NIJA_CREDENTIAL_KEYS", default=[])
# Archived credentials (offboarding) keep their encrypted secrets this long, then a daily task erases them.
NIJA_CREDENTIAL_RETENTION_DAYS = env.int("NIJA_CREDENTIAL_RETENTION_DAYS", default=90)
# The daily compliance check (daily_user_check, README "Operations"): what counts as a finding.
NIJA_CHECK_BALANCE_STALE_SECONDS = env.int("NIJA_CHECK_BALANCE_STALE_SECONDS", default=3600)
NIJA_CHECK_UNAVAILABLE_AUDITS = env.int("NIJA_CHECK_UNAVAILABLE_AUDITS", default=3)
NIJA_CHECK_CREDENTIAL_FAILURES = env.int("NIJA_CHECK_CREDENTIAL_FAILURES", default=3)
NIJA_CHECK_BREAK_OPEN_HOURS = env.int("NIJA_CHECK_BREAK_OPEN_HOURS", default=24)
NIJA_CHECK_PENDING_DAYS = env.int("NIJA_CHECK_PENDING_DAYS", default=7)
NIJA_CHECK_AUDIT_VERIFY_MAX_AGE_HOURS = env.int("NIJA_CHECK_AUDIT_VERIFY_MAX_AGE_HOURS", default=24)
NIJA_CHECK_SUBMITTING_STALE_MINUTES = env.int("NIJA_CHECK_SUBMITTING_STALE_MINUTES", default=30)
NIJA_CHECK_COPY_LOOKBACK_HOURS = env.int("NIJA_CHECK_COPY_LOOKBACK_HOURS", default=48)
# The weekly review (Mondays) over the last NIJA_WEEKLY_WINDOW_DAYS days.
NIJA_WEEKLY_WINDOW_DAYS = env.int("NIJA_WEEKLY_WINDOW_DAYS", default=7)
NIJA_WEEKLY_DRAWDOWN_PCT = env("NIJA_WEEKLY_DRAWDOWN_PCT", default="10")  # a decimal string
NIJA_WEEKLY_LOSS_STREAK_DAYS = env.int("NIJA_WEEKLY_LOSS_STREAK_DAYS", default=4)
NIJA_WEEKLY_MISSED_COPIES = env.int("NIJA_WEEKLY_MISSED_COPIES", default=5)
NIJA_SIGNAL_SECRET = env("NIJA_SIGNAL_SECRET", default="")
# The longest date range one report or statement request may cover (about ten years).
NIJA_REPORT_MAX_SPAN_DAYS = env.int("NIJA_REPORT_MAX_SPAN_DAYS", default=3660)
# A master signal older than this (executed_at to receipt) is stored as EXPIRED and never copied;
# one dated further in the future than the clock tolerance is refused.
NIJA_SIGNAL_MAX_AGE_SECONDS = env.int("NIJA_SIGNAL_MAX_AGE_SECONDS", default=300)
NIJA_SIGNAL_CLOCK_TOLERANCE_SECONDS = env.int("NIJA_SIGNAL_CLOCK_TOLERANCE_SECONDS", default=30)
# The sweep plans a RECEIVED signal once it has waited this long for its queued planning task.
NIJA_SIGNAL_PLAN_SWEEP_AFTER_SECONDS = env.int("NIJA_SIGNAL_PLAN_SWEEP_AFTER_SECONDS", default=20)
# Copy engine: a follower whose latest good balance snapshot is older than this is skipped
# (stale_balance); orders go out in chunks of NIJA_COPY_CHUNK_SIZE per task, at most
# NIJA_COPY_CONCURRENCY in flight per chunk; a SUBMITTING order quiet for longer than
# NIJA_COPY_SUBMIT_STALE_SECONDS is looked up by reconciliation.
NIJA_COPY_BALANCE_MAX_AGE = env.int("NIJA_COPY_BALANCE_MAX_AGE", default=900)
# A chunk is mostly waiting for venues, so one task keeps a whole chunk in flight; bigger chunks
# pay the per-task costs (claim, loads, one lock round trip, outcome writes) less often
# (bench/results/copy_fanout.md).
NIJA_COPY_CHUNK_SIZE = env.int("NIJA_COPY_CHUNK_SIZE", default=500)
NIJA_COPY_CONCURRENCY = env.int("NIJA_COPY_CONCURRENCY", default=500)
NIJA_COPY_THREADS = env.int("NIJA_COPY_THREADS", default=8)
NIJA_COPY_SUBMIT_STALE_SECONDS = env.int("NIJA_COPY_SUBMIT_STALE_SECONDS", default=300)
NIJA_BALANCE_CACHE_TTL = env.int("NIJA_BALANCE_CACHE_TTL", default=120)
# BALANCE_DROP alert: a fall of at least this % against the previous good snapshot.
NIJA_BALANCE_DROP_PCT = env("NIJA_BALANCE_DROP_PCT", default="20")  # a decimal string
# How many credentials the balance audit fetches at once (each credential still one call at a time).
NIJA_BALANCE_AUDIT_CONCURRENCY = env.int("NIJA_BALANCE_AUDIT_CONCURRENCY", default=100)
# Books reconciliation: a ledger/venue difference up to the asset's tolerance is rounding, not a
# break. NIJA_RECONCILE_TOLERANCES="USD=0.01,BTC=0.00000001"; assets not listed use the default.
NIJA_RECONCILE_TOLERANCES = env.dict("NIJA_RECONCILE_TOLERANCES", default={
    "USD": "0.01", "USDT": "0.01", "USDC": "0.01", "EUR": "0.01", "GBP": "0.01",
})
NIJA_RECONCILE_TOLERANCE_DEFAULT = env("NIJA_RECONCILE_TOLERANCE_DEFAULT", default="0.00000001")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "nija": {"handlers": ["console"], "level": env("NIJA_LOG_LEVEL", default="INFO"), "propagate": True},
    },
}

# Tasks `make run` queues once at start (dotted paths to Celery tasks).
NIJA_RUN_ON_START: list[str] = [
    "brokers.tasks.balance_audit_task",
]

# Investor portal: the address its e-mailed links start with, and how long an invitation link lives.
NIJA_PORTAL_BASE_URL = env("NIJA_PORTAL_BASE_URL", default="http://127.0.0.1:8000")
NIJA_PORTAL_INVITE_DAYS = env.int("NIJA_PORTAL_INVITE_DAYS", default=7)
