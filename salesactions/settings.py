"""Settings, from the environment or a ``.env`` file (django-environ); see SPEC section 10.

The embedded default needs no server: SQLite and a Celery broker on the filesystem, both under
``var/``. ``DATABASE_URL``, ``REDIS_URL`` and ``CELERY_BROKER_URL`` switch to PostgreSQL/Redis.
"""

import os
import sys
from pathlib import Path

import environ

from salesactions.secret_key import UnsafeSecretKey, secret_key_resolve

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=True)
# No default key in the repository: each install generates its own (DEBUG on), production must
# set a strong one (salesactions/secret_key.py; README "Security" for rotating it).
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
try:
    SECRET_KEY = secret_key_resolve(
        env("SECRET_KEY", default=None), debug=DEBUG, fallbacks=SECRET_KEY_FALLBACKS,
        key_file=Path(env("SECRET_KEY_FILE", default=str(VAR_DIR / "secret_key"))))
except UnsafeSecretKey as refusal:
    sys.stderr.write(f"Sales Actions will not start: {refusal}\n")
    sys.exit(2)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "salesactions.apps.SalesActionsConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_htmx",
    "axes",
    "csp",
    "accounts",
    "people",
    "activities",
    "reminders",
    "syncing",
    "unsubscribes",
    "emails",
    "campaigns",
    "analytics",
    "mailboxes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "salesactions.api.ApiBodySizeMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After auth: a signed-in user's own language and time zone win over the browser's. No
    # URL carries a language, so it need not come before CommonMiddleware.
    "salesactions.i18n.UserLocaleMiddleware",
    "salesactions.middleware.PagesLoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # The app's error pages under DEBUG too (salesactions/errors.py); after auth and messages,
    # which the layout reads.
    "salesactions.errors.ErrorPagesMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "salesactions.urls"
WSGI_APPLICATION = "salesactions.wsgi.application"

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
                "reminders.context_processors.tasks_due",
            ],
            # |day, |day_time, |weekday, |clock, |precise: one way to write dates, everywhere.
            "builtins": ["salesactions.templatetags.when"],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'salesactions.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one SQLite file: WAL lets readers run beside a writer and
    # IMMEDIATE transactions queue writers instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "transaction_mode": "IMMEDIATE",
         "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    )
    # A file, not memory, so tests can hand the test database to a worker subprocess; one per
    # test process, so two test runs on one machine never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out username or address before the password is even checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

# The languages of the interface (README "Languages"), each named in its own language. What a
# page is shown in: the signed-in user's choice (You page), else the language picked on the
# login page (a cookie), else the browser's Accept-Language, else LANGUAGE_CODE, the install's
# default (salesactions/i18n.py). The API and the unsubscribe page follow Accept-Language.
LANGUAGES = [
    ("en", "English"),
    ("fr", "Français"),
    ("es", "Español"),
    ("it", "Italiano"),
    ("pt-br", "Português (Brasil)"),
    ("zh-hans", "简体中文"),
]
LANGUAGE_CODE = env("LANGUAGE_CODE", default="en").lower()
if LANGUAGE_CODE not in dict(LANGUAGES):
    sys.stderr.write(f"Sales Actions will not start: LANGUAGE_CODE={LANGUAGE_CODE!r} is not one of "
                     f"its languages ({', '.join(dict(LANGUAGES))}).\n")
    sys.exit(2)
LOCALE_PATHS = [BASE_DIR / "locale"]
# The login page's menu keeps its choice a year (the You page's choice is the user's own).
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SAMESITE = "Lax"
# Dates and times per language (salesactions/formats/<locale>/formats.py): the five shapes of
# salesactions/templatetags/when.py. Numbers keep no thousands separator by default (ids in
# URLs and inputs); counts use |intcomma, which follows the language.
FORMAT_MODULE_PATH = ["salesactions.formats"]
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
# With DEBUG off the app still serves its static files with no separate step: whitenoise
# finds them in the apps and static/ when collectstatic has not run (WHITENOISE_USE_FINDERS),
# and {% static %} falls back to the plain name when the manifest lacks one
# (salesactions/storage.py). After collectstatic (docker-compose runs it on start) they come
# hashed, compressed and cached for a year from STATIC_ROOT.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage" if DEBUG
        else "salesactions.storage.ManifestFallbackStaticFilesStorage",
    },
}
WHITENOISE_USE_FINDERS = True
# Files a browser asks for at the site's root (favicon.ico), served before any login check.
WHITENOISE_ROOT = BASE_DIR / "public"

REDIS_URL = env("REDIS_URL", default=None)

if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                          "LOCATION": str(VAR_DIR / "cache")}}
# Two installs (or two test runs) sharing one cache server keep apart by a prefix of their own.
for _cache in CACHES.values():
    _cache["KEY_PREFIX"] = env("CACHE_KEY_PREFIX", default="")
# People lists are cached per data version (people/list_cache.py); 0 turns that off.
PEOPLE_LIST_CACHE_SECONDS = env.int("PEOPLE_LIST_CACHE_SECONDS", default=300)
# The people API counts a list in the request when PostgreSQL expects fewer matches than this;
# a longer one is counted in the request for at most PEOPLE_COUNT_INLINE_MS (by one request at
# a time), and past that answers the estimate while a worker counts it for the next request
# (people/selectors.py). At a million people the whole table counts in ~75 ms, a search of
# 30,000-40,000 matches in 100-135 ms; at ten million one of 7,600 ("olivia smith") in 150 ms,
# 300,000 in 2-3 s (bench/README.md). 300 ms leaves every list at a million but the unsubscribed
# filter twice its time on a busy machine. 0 hands every long count to the worker at once.
PEOPLE_COUNT_INLINE_LIMIT = env.int("PEOPLE_COUNT_INLINE_LIMIT", default=5_000)
PEOPLE_COUNT_INLINE_MS = env.int("PEOPLE_COUNT_INLINE_MS", default=300)
# How long an analytics report (API and page) may be served from the cache; 0 turns it off.
ANALYTICS_CACHE_SECONDS = env.int("ANALYTICS_CACHE_SECONDS", default=60)

# Celery. Without a server the broker is kombu's filesystem transport (with atomic writes,
# salesactions/broker.py): the web process, the worker and beat on one machine exchange
# messages through files under var/broker.
BROKER_DIR = VAR_DIR / "broker"
# A host in the embedded broker's URL only keeps kombu from warning on every connection ("No
# hostname was supplied"); the folders below are what it uses.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://localhost/")
if CELERY_BROKER_URL.startswith("filesystem://"):
    for folder in ("queue", "processed", "control"):
        (BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A web request that logs a call must not hang on a dead broker: the outbox row is already
# committed and beat's tick delivers it later, so one quick try is enough.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2,
                                    "interval_max": 0.2}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# On Redis a worker otherwise takes a message off the queue even while its processes are all
# busy (kombu's QoS lets one more through): a backlog's next batch would wait behind a long
# send there while another worker sits idle. Redis only (Celery warns for other brokers).
CELERY_WORKER_DISABLE_PREFETCH = CELERY_BROKER_URL.startswith(("redis://", "rediss://"))
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    # Cheap: it only looks at the DB and enqueues the syncs that are due.
    "sync-tick": {"task": "syncing.tasks.sync_tick", "schedule": 5.0},  # streams.SYNC_TICK_SECONDS
    # Due campaign steps (cheap when none is due: one indexed query).
    "campaign-steps": {"task": "campaigns.tasks.campaign_steps_task", "schedule": 15.0},
    # Sellers' mailboxes whose reading interval is up (cheap: one indexed query).
    "mailboxes-tick": {"task": "mailboxes.tasks.mailboxes_tick", "schedule": 15.0},
    "sync-history-prune": {"task": "syncing.tasks.sync_history_prune_task",
                           "schedule": 24 * 3600.0},
}
# The outbox (syncing/outbox/queue.py): how long a worker's claim on a batch holds (longer
# than the slowest send), the first retry's delay (doubling after), sends before a delivery
# fails for an admin to retry, the pause after a remote API limit, and how long a flush
# enqueued at log time waits so a burst goes out in full batches.
OUTBOX_CLAIM_SECONDS = env.float("OUTBOX_CLAIM_SECONDS", default=300)
OUTBOX_RETRY_BASE_SECONDS = env.float("OUTBOX_RETRY_BASE_SECONDS", default=15)
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=20)
OUTBOX_LIMIT_PAUSE_SECONDS = env.float("OUTBOX_LIMIT_PAUSE_SECONDS", default=900)
OUTBOX_LINGER_SECONDS = env.float("OUTBOX_LINGER_SECONDS", default=0.5)
# Days of incremental sync passes and delivery attempts kept (syncing/history.py).
SYNC_HISTORY_DAYS = env.int("SYNC_HISTORY_DAYS", default=30)

# Sales email tracking and provider events (emails/tracking_buffer.py, emails/events_api.py,
# emails/webhooks.py). Open/click hits are buffered in this Redis (default: REDIS_URL; unset:
# each hit writes the database); switches are re-read every EMAIL_TRACKING_SWITCH_SECONDS.
EMAIL_TRACKING_REDIS_URL = env("EMAIL_TRACKING_REDIS_URL", default=REDIS_URL)
EMAIL_TRACKING_SWITCH_SECONDS = env.float("EMAIL_TRACKING_SWITCH_SECONDS", default=5)
# A provider posting to /api/v1/emails/events/ sends it as X-Email-Events-Token (unset: admins
# only). anymail's webhooks (/anymail/...) need ANYMAIL["WEBHOOK_SECRET"] (below).
EMAIL_EVENTS_TOKEN = env("EMAIL_EVENTS_TOKEN", default="")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # salesactions/api.py: JSON errors, strict filters and page numbers; api_schema.py: the
    # errors each operation documents.
    "DEFAULT_SCHEMA_CLASS": "salesactions.api_schema.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["salesactions.api.FilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "salesactions.api.PageNumberPagination",
    "EXCEPTION_HANDLER": "salesactions.api.api_exception_handler",
    # A JSON API: the schema documents JSON bodies only, and form encodings would blur types.
    "DEFAULT_PARSER_CLASSES": ["salesactions.parsers.JSONParser"],
    "PAGE_SIZE": 50,
    # Per user (anonymous: per address), for every API request; plus the live Marketo panel,
    # which spends the instance's Marketo budget. The user default lets an admin page 100,000
    # people at 100 a page (1,000 requests) in one go; people/export/ streams them in one.
    "DEFAULT_THROTTLE_CLASSES": ["salesactions.throttling.UserThrottle",
                                 "salesactions.throttling.AnonThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "user": env("API_THROTTLE_USER", default="3000/min"),
        "anon": env("API_THROTTLE_ANON", default="120/min"),
        "marketo_activities": env("API_THROTTLE_MARKETO_ACTIVITIES", default="30/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Sales Actions API",
    "DESCRIPTION": "People mirrored from Marketo, calls, sales emails, reminder tasks and "
                   "unsubscribes. Token auth: `Authorization: Token <key>`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Swagger UI is served from the vendored sidecar package: no CDN at run time.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Request bodies as components of their own ("…Request"), so what a write requires
    # (minLength, patterns) is said there without binding the answers.
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"ReminderTaskStatusEnum": "reminders.models.ReminderTask.Status",
                            "CampaignStatusEnum": "campaigns.models.Campaign.Status",
                            "CampaignMemberStatusEnum": "campaigns.models.CampaignMember.Status",
                            # email, call, InMail, custom: reminder tasks and campaign steps.
                            "TypeEnum": "reminders.models.ReminderTask.Type",
                            "EmailStepTypeEnum": [("email", "Email")],
                            "TaskStepTypeEnum": [("call", "Call"), ("inmail", "InMail"),
                                                 ("custom", "Custom")],
                            "MailboxSecurityEnum": "mailboxes.models.Mailbox.Security"},
}

# Initial connection settings (SPEC section 10); an admin can change them on the settings page.
MARKETO_BASE_URL = env("MARKETO_BASE_URL", default="")
MARKETO_CLIENT_ID = env("MARKETO_CLIENT_ID", default="")
MARKETO_CLIENT_SECRET = env("MARKETO_CLIENT_SECRET", default="")
SALESFORCE_URL = env("SALESFORCE_URL", default="")
SALESFORCE_CLIENT_ID = env("SALESFORCE_CLIENT_ID", default="")
SALESFORCE_CLIENT_SECRET = env("SALESFORCE_CLIENT_SECRET", default="")
SALESFORCE_API_VERSION = env("SALESFORCE_API_VERSION", default="62.0")

# The app's share of Marketo's limits (100 calls / 20 s and 10 concurrent per instance): one
# budget for every process when REDIS_URL is set (syncing/clients/shared_limiter.py).
MARKETO_CALLS_PER_WINDOW = env.int("MARKETO_CALLS_PER_WINDOW", default=50)
MARKETO_WINDOW_SECONDS = env.float("MARKETO_WINDOW_SECONDS", default=20)
MARKETO_MAX_IN_FLIGHT = env.int("MARKETO_MAX_IN_FLIGHT", default=5)
# The instance's daily API quota (Marketo's default subscription has 50,000 calls a day), shown
# against the calls the app made today on Sync health.
MARKETO_DAILY_API_QUOTA = env.int("MARKETO_DAILY_API_QUOTA", default=50_000)
# Bulk export status is polled from 1 s, doubling up to this while a job is not done.
MARKETO_BULK_POLL_MAX_SECONDS = env.float("MARKETO_BULK_POLL_MAX_SECONDS", default=60)
# An incremental pass that has read this many lead changes and finds more pending fetches the
# rest with one bulk export filtered by updatedAt instead of page by page (300 a call): 40
# pages plus the export's ~10 calls stay within the app's share of Marketo's calls.
PEOPLE_SYNC_EXPORT_AFTER_CHANGES = env.int("PEOPLE_SYNC_EXPORT_AFTER_CHANGES", default=12_000)
# A running initial sync whose heartbeat is older than this lost its worker and is resumed.
SYNC_STALE_HEARTBEAT_SECONDS = env.float("SYNC_STALE_HEARTBEAT_SECONDS", default=90)

# Sales email (SPEC sections 8 and 10). SITE_URL is where the links inside emails point
# (tracking, unsubscribe). EMAIL_URL picks Django's backend: smtp://user:pass@host:port,
# smtp+tls://..., smtps://..., consolemail://; `make run` points it at the local capture
# (sandbox/mailcapture.py). ANYMAIL_ESP=postmark sends through Postmark's API (django-anymail)
# with POSTMARK_SERVER_TOKEN instead.
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=30)
ANYMAIL_ESP = env("ANYMAIL_ESP", default="")
if ANYMAIL_ESP == "postmark":
    EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
elif ANYMAIL_ESP:
    raise ValueError(f"ANYMAIL_ESP={ANYMAIL_ESP!r}: only 'postmark' is wired (see README)")
ANYMAIL = {
    "POSTMARK_SERVER_TOKEN": env("POSTMARK_SERVER_TOKEN", default=""),
    # Basic auth on the ESP's webhooks ("user:password"), checked by anymail.
    "WEBHOOK_SECRET": env("ANYMAIL_WEBHOOK_SECRET", default="") or None,
}
# The domain of the Message-IDs (default: SITE_URL's host).
EMAIL_MESSAGE_ID_DOMAIN = env("EMAIL_MESSAGE_ID_DOMAIN", default="") or (
    SITE_URL.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "localhost")
# The mailto: of List-Unsubscribe (RFC 2369) besides the one-click link; blank: the seller.
EMAIL_UNSUBSCRIBE_MAILTO = env("EMAIL_UNSUBSCRIBE_MAILTO", default="")
# Sending (emails/sending.py): emails per batch (one SMTP connection each), a worker's claim
# on a batch, the first retry's delay (doubling) and sends before an email fails.
EMAIL_SEND_BATCH = env.int("EMAIL_SEND_BATCH", default=50)
EMAIL_CLAIM_SECONDS = env.float("EMAIL_CLAIM_SECONDS", default=300)
EMAIL_RETRY_BASE_SECONDS = env.float("EMAIL_RETRY_BASE_SECONDS", default=60)
EMAIL_MAX_ATTEMPTS = env.int("EMAIL_MAX_ATTEMPTS", default=8)
# Sellers' own mailboxes (mailboxes/): plain-text connections (security "none") to a host other
# than this machine only when allowed; the IMAP/SMTP timeout; and the OAuth2 apps for Google and
# Microsoft 365 sign-in.
MAILBOX_ALLOW_INSECURE = env.bool("MAILBOX_ALLOW_INSECURE", default=False)
MAILBOX_TIMEOUT = env.float("MAILBOX_TIMEOUT", default=30)
GOOGLE_OAUTH_CLIENT_ID = env("GOOGLE_OAUTH_CLIENT_ID", default="")
GOOGLE_OAUTH_CLIENT_SECRET = env("GOOGLE_OAUTH_CLIENT_SECRET", default="")
MICROSOFT_OAUTH_CLIENT_ID = env("MICROSOFT_OAUTH_CLIENT_ID", default="")
MICROSOFT_OAUTH_CLIENT_SECRET = env("MICROSOFT_OAUTH_CLIENT_SECRET", default="")
MICROSOFT_OAUTH_TENANT = env("MICROSOFT_OAUTH_TENANT", default="common")
# A provider's endpoints and servers pointed elsewhere ({"google": {"authorize_url": ...,
# "token_url": ..., "imap": (host, port, security), "smtp": (...)}}): the OAuth sandbox of the
# tests and of `make run`'s demo mailbox.
MAILBOX_OAUTH_OVERRIDES: dict = {}
# --------------------------------------------------------------------------- security
# README "Security": what DEBUG=False turns on, and HTTPS=true behind a TLS proxy.
HTTPS = env.bool("HTTPS", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if HTTPS:
    # The proxy in front terminates TLS and says so in X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    LANGUAGE_COOKIE_SECURE = True
# The app's own health and the load balancer's probe are plain HTTP on the inside.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# HSTS preload is a deliberate choice per domain, not a default (check --deploy's W021). Served
# over plain HTTP (HTTPS unset: a private network), the HTTPS-only advice does not apply.
SILENCED_SYSTEM_CHECKS = ["security.W021"]
if not HTTPS:
    SILENCED_SYSTEM_CHECKS += ["security.W004", "security.W008", "security.W012",
                               "security.W016"]

# Content-Security-Policy (django-csp) on every answer: script only from the app's own static
# files (no inline <script>, no on*= or hx-on attributes, no eval); styles from the app (inline
# style attributes are tolerated); images also as data: URIs (Swagger UI's icons); no
# framing, no plugins, forms post to the app only.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}

# Login throttling (django-axes): this many failed logins for one username, or from one
# address, lock it out for AXES_COOLOFF_MINUTES; a good login resets the count.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_MINUTES", default=15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "salesactions.security.lockout_response"
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=1 if HTTPS else 0)
AXES_CLIENT_IP_CALLABLE = "salesactions.security.client_ip"
AXES_VERBOSE = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"forbidden_one_line": {"()": "salesactions.logs.ForbiddenOneLine"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {"django.request": {"filters": ["forbidden_one_line"]}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}
