"""Settings shared by every environment; everything variable comes from config.env."""

from datetime import timedelta

from django.utils.translation import gettext_lazy as _

from config.env import BASE_DIR, env

SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-embedded-default-key-change-me-0123456789")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "pgtrigger",
    "channels",
    "trading",
    "bidding",
    "escrow",
    "livestream",
    "bidding.evaluation",
    "trading.supervision",
    "bidding.auction",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "trading.web.middleware.SecondFactorRequired",
    "trading.web.middleware.DomainErrorPage",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
                "django.template.context_processors.i18n",
                "trading.web.context.platform",
            ],
        },
    },
]

# --- Data ---------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    (BASE_DIR / "var").mkdir(exist_ok=True)  # the embedded default keeps its data here
    # Several processes (server, worker) share one embedded file: wait rather than fail.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    # A transaction takes the write lock when it begins: one that read and then writes while another thread
    # writes would otherwise fail at once with "database is locked" (SQLite does not wait on a lock upgrade).
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "trading.User"

REDIS_URL = env("REDIS_URL", default="")

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # The pub/sub layer keeps one connection per process, not one per viewer.
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            # Pub/sub ignores the Redis database number: deployments (or test runs) sharing one Redis set a prefix each.
            "CONFIG": {"hosts": [REDIS_URL], "prefix": env("CHANNELS_PREFIX", default="asgi")},
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Mail: a drawn expert's invitation --------------------------------------
# EMAIL_URL as django-environ reads it (smtp+tls://user:password@host:587, consolemail://). Without it each
# message is written to a file under var/mail: a demo's invitations can be read there, and no log line
# carries who was drawn (EVAL-SECRET).
if env("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = BASE_DIR / "var" / "mail"
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="阳光交易 <noreply@sunlight.invalid>")
# Where the platform is reached from outside: the links in messages.
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

# --- Live streams ---------------------------------------------------------
# Heartbeat: presence count and a catch-up check against the database; clients reconnect after missing two.
LIVESTREAM_HEARTBEAT_SECONDS = env.float("LIVESTREAM_HEARTBEAT_SECONDS", default=15)
# Events each process keeps per stream, so joins and reconnects rarely reach the database.
LIVESTREAM_CACHE_EVENTS = env.int("LIVESTREAM_CACHE_EVENTS", default=5000)
LIVESTREAM_HISTORY_CHUNK = 500
# Live events arriving this close together leave in one frame (a transaction's events, a burst).
LIVESTREAM_COALESCE_SECONDS = env.float("LIVESTREAM_COALESCE_SECONDS", default=0.002)
# Viewers are read-only: they send small pings, a few a minute.
LIVESTREAM_CLIENT_FRAME_BYTES = 512
LIVESTREAM_CLIENT_FRAMES_PER_MINUTE = 120
LIVESTREAM_CLIENT_BAD_FRAMES = 5
# Frames queued for a viewer that stopped reading before it is cut off (it reconnects and catches up).
LIVESTREAM_VIEWER_BACKLOG = 2000
# A process keeps a stream's subscription this long after its last viewer left, to ride out reconnects.
LIVESTREAM_IDLE_SECONDS = env.float("LIVESTREAM_IDLE_SECONDS", default=30)
# The demo page and its publish endpoint (the demo stream only): off unless asked for.
LIVESTREAM_DEMO = env.bool("LIVESTREAM_DEMO", default=False)

# --- Celery -------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
# A crashed worker's task must come back, not vanish: acknowledge after the work.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_TIME_LIMIT = 1800
CELERY_TIMEZONE = "Asia/Shanghai"
CELERY_BEAT_SCHEDULE = {
    "audit-checkpoint": {"task": "trading.tasks.audit_checkpoint", "schedule": timedelta(minutes=5)},
    "lifecycle-tick": {"task": "trading.tasks.lifecycle_tick", "schedule": timedelta(minutes=1)},
    "escrow-refund-scan": {"task": "escrow.tasks.refund_scan", "schedule": timedelta(minutes=10)},
    "escrow-reconciliation": {"task": "escrow.tasks.reconciliation_task", "schedule": timedelta(days=1)},
    "escrow-sim-deliver": {"task": "escrow.tasks.sim_deliver", "schedule": timedelta(seconds=30)},
    "opening-watchdog": {
        "task": "bidding.tasks.opening_watchdog_task",
        "schedule": timedelta(seconds=env.float("OPENING_WATCHDOG_SECONDS", default=30)),
    },
    "evaluation-contracts-overdue": {"task": "bidding.evaluation.tasks.contracts_overdue_task", "schedule": timedelta(hours=6)},
    "supervision-scan": {"task": "trading.supervision.tasks.supervision_scan", "schedule": timedelta(minutes=10)},
}
# Sales (bidding.auction): the limited-time countdown restarts at this length with every valid offer.
AUCTION_COUNTDOWN_SECONDS = env.int("AUCTION_COUNTDOWN_SECONDS", default=240)
AUCTION_WARNING_SECONDS = 60
AUCTION_RESERVE_KEY = env("AUCTION_RESERVE_KEY", default="")  # base64 of 32 bytes; seals reserve prices
AUCTION_OFFER_FRAMES_PER_MINUTE = env.int("AUCTION_OFFER_FRAMES_PER_MINUTE", default=600)
CELERY_BEAT_SCHEDULE["auction-tick"] = {"task": "bidding.auction.tasks.sales_tick_task", "schedule": timedelta(seconds=1)}
# Deposits: the payment provider ("sim": the built-in simulator) and where the simulator posts
# its notifications (empty: handed over in-process, the embedded default).
ESCROW_PROVIDER = env("ESCROW_PROVIDER", default="sim")
ESCROW_SIM_CALLBACK_URL = env("ESCROW_SIM_CALLBACK_URL", default="")
ESCROW_SIM_PRIVATE_KEY = env("ESCROW_SIM_PRIVATE_KEY", default="")
ESCROW_SIM_PUBLIC_KEY = env("ESCROW_SIM_PUBLIC_KEY", default="")
# The escrow bank's public key (PEM, RSA) that signs its statements; empty: the embedded stand-in bank's own key.
ESCROW_BANK_PUBLIC_KEY = env("ESCROW_BANK_PUBLIC_KEY", default="")
# Seals who paid each deposit (base64 of 32 bytes); the embedded default derives one from SECRET_KEY.
ESCROW_PAYER_KEY = env("ESCROW_PAYER_KEY", default="")
# Staff look a deposit up by the bidder code a bidder tells them; this many a day each (SECRET-BIDDERS:
# the code space is small, so unbounded lookups would find the registered codes by trying them).
ESCROW_LOOKUPS_PER_DAY = env.int("ESCROW_LOOKUPS_PER_DAY", default=30)
# Keeps opened bids' parts sealed at rest: their data keys, for the committee (bidding.parts); base64 of 32 bytes.
OPENED_PARTS_KEY = env("OPENED_PARTS_KEY", default="")
# Seals each expert draw's seed until it is revealed (bidding.evaluation.seed); base64 of 32 bytes.
EVALUATION_SEED_KEY = env("EVALUATION_SEED_KEY", default="")
# Experts sign their scores with keys of their own (bidding.evaluation.services.expert_keys); production
# requires it: an expert without a key makes one on the scoring page before submitting.
EVALUATION_EXPERT_SIGNATURES_REQUIRED = env.bool("EVALUATION_EXPERT_SIGNATURES_REQUIRED", default=False)

# --- Files ----------------------------------------------------------------
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "var" / "media")
MEDIA_URL = "/media/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "var" / "static")
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
S3_BUCKET = env("S3_BUCKET", default="")
if S3_BUCKET:
    default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": env("S3_ENDPOINT_URL", default=None),
            "region_name": env("S3_REGION", default=None),
            "access_key": env("S3_ACCESS_KEY_ID", default=None),
            "secret_key": env("S3_SECRET_ACCESS_KEY", default=None),
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
else:
    default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Sealed bids: partial uploads go to this directory (a shared volume when several machines serve uploads).
UPLOAD_TEMP_DIR = env.path("UPLOAD_TEMP_DIR", default=BASE_DIR / "var" / "uploads")
OPENING_KEY_THRESHOLD = env.int("OPENING_KEY_THRESHOLD", default=2)
# Openings: the decryption window, the pause between read-out lines, when a decryption task counts as lost.
OPENING_DECRYPT_MINUTES = env.int("OPENING_DECRYPT_MINUTES", default=60)
OPENING_READOUT_SECONDS = env.float("OPENING_READOUT_SECONDS", default=3)
OPENING_TASK_STALL_SECONDS = env.int("OPENING_TASK_STALL_SECONDS", default=300)
# Bids per decryption task (written together: rows, audit entries, stream events), and the threads each
# task decrypts them on (AES-GCM and file reads let go of the GIL).
OPENING_BATCH = env.int("OPENING_BATCH", default=16)
OPENING_THREADS = env.int("OPENING_THREADS", default=2)
OPENING_CHUNK_PAUSE = env.float("OPENING_CHUNK_PAUSE", default=0)  # crash tests only: slow decryption down
MAX_ENVELOPE_SIZE = env.int("MAX_ENVELOPE_SIZE", default=2 * 1024**3)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# --- Time and language ----------------------------------------------------
TIME_ZONE = "Asia/Shanghai"
USE_TZ = True
USE_I18N = True
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]

# --- Sign-in ----------------------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "workspace"
LOGOUT_REDIRECT_URL = "portal"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
SIGNIN_MAX_FAILURES = env.int("SIGNIN_MAX_FAILURES", default=5)
SIGNIN_LOCKOUT = timedelta(minutes=env.int("SIGNIN_LOCKOUT_MINUTES", default=15))
OTP_TOTP_ISSUER = "Sunlight 阳光交易"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False

# --- API ----------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "trading.api.auth.ExpiringTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_PAGINATION_CLASS": "trading.api.pagination.Pagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("API_THROTTLE_ANON", default="600/min"),
        "user": env("API_THROTTLE_USER", default="1200/min"),
        "signin": env("API_THROTTLE_SIGNIN", default="30/min"),
    },
    "EXCEPTION_HANDLER": "trading.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}
# Anonymous reads of the public announcements list are cached this long (0: off).
ANNOUNCEMENT_CACHE_SECONDS = env.int("ANNOUNCEMENT_CACHE_SECONDS", default=10)
SPECTACULAR_SETTINGS = {
    "TITLE": "Sunlight 阳光交易 API",
    "DESCRIPTION": "Public-resource trading platform: announcements, sections, sealed bids, audit chain.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # Swagger UI and Redoc served from our own static files, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Platform -------------------------------------------------------------
# The platform's Ed25519 signing key (audit checkpoints, receipts, opening records):
# a PEM in the environment, or a file generated on first use in the embedded default.
PLATFORM_SIGNING_KEY = env("PLATFORM_SIGNING_KEY", default="")
PLATFORM_SIGNING_KEY_FILE = env.path("PLATFORM_SIGNING_KEY_FILE", default=BASE_DIR / "var" / "keys" / "platform-ed25519.pem")
TSA_URL = env("TSA_URL", default="")
PLATFORM_NAME = "Sunlight 阳光交易"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
