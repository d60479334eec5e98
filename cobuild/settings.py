"""Cobuild settings: one module, read from the environment (see README, 配置)."""

import datetime
from pathlib import Path

import environ
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

# A development key is offered only while DEBUG is on; production must set its own.
if DEBUG:
    SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key-do-not-use-in-production")
else:
    SECRET_KEY = env.str("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.forms",
    "django_htmx",
    "treebeard",
    "simple_history",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "pairings",
    "activities",
    "reports",
    "cobuild",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Pages go out gzipped (static files come precompressed from whitenoise). Django pads the
    # gzip header with random bytes ("Heal The Breach") and masks CSRF tokens, against BREACH.
    "django.middleware.gzip.GZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # A database error in a view → the Chinese 503 page (views the audit middleware runs
    # inside its transaction reach handler500, which answers 503 for them too).
    "cobuild.outage.DatabaseOutageMiddleware",
    # Identity rules after sign-in: timeouts, forced password change, second factor, admin area.
    "cobuild.security.SessionSecurityMiddleware",
    # Turns axes' lockout signal into the Chinese lockout page (wraps the response only).
    "axes.middleware.AxesMiddleware",
    # After a write commits, the year's figures of the counties it wrote in (reports.parts).
    "reports.middleware.RefreshPartsMiddleware",
    # Last: runs writing views in one transaction with their audit rows (cobuild/audit.py).
    "cobuild.audit.AuditMiddleware",
]

ROOT_URLCONF = "cobuild.urls"
# Form widgets may use the project's templates (the participant picker does).
FORM_RENDERER = "cobuild.renderers.Renderer"
WSGI_APPLICATION = "cobuild.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "pairings.context_processors.roles",
                "reports.context_processors.notifications",
            ],
        },
    },
]

# Database: SQLite in the project folder unless DATABASE_URL says otherwise.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# SQLite for concurrent use: WAL journal, writers take the lock up front and wait for it.
SQLITE_OPTIONS = {
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
}
# PostgreSQL sessions. No JIT: it compiles each of the scope-wide aggregates anew, and at city
# scale spent 1.2 s of the report's 4.4 s compiling (EXPLAIN ANALYZE). More memory for each sort
# and hash than the server's default 4 MB: a city's or province's roll-ups spilled to disk with it
# (docs/scaling.md); a few app processes × threads × nodes of DATABASE_WORK_MEM stay small.
POSTGRES_SESSION = f"-c jit=off -c work_mem={env.str('DATABASE_WORK_MEM', default='64MB')}"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {**SQLITE_OPTIONS, **DATABASES["default"].get("OPTIONS", {})}
else:
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", POSTGRES_SESSION)
    # Django's native pool (psycopg_pool) for app servers: DATABASE_POOL=true, or the largest
    # number of connections each process keeps: one per gunicorn thread, and one for the
    # background chores (cobuild/tasks.py), which hold theirs for a whole task (say
    # DATABASE_POOL=9 for 8 threads; true is 5, for gunicorn.conf.py's 4 threads). Connections
    # return to the pool after each request and task, so CONN_MAX_AGE stays 0.
    pool = env.str("DATABASE_POOL", default="")
    if pool and pool.lower() not in ("0", "false", "no"):
        size = int(pool) if pool.isdigit() else 5
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": size,
            "timeout": env.int("DATABASE_POOL_TIMEOUT", default=10),
        }
# A read-only copy (a streaming replica) for the reports' reads: cobuild/routers.py.
if env("REPORTS_DATABASE_URL", default=""):
    DATABASES["reports"] = {
        **env.db("REPORTS_DATABASE_URL"),
        "TEST": {"MIRROR": "default"},
    }
    if DATABASES["reports"]["ENGINE"] != "django.db.backends.sqlite3":
        DATABASES["reports"].setdefault("OPTIONS", {}).setdefault("options", POSTGRES_SESSION)
    DATABASE_ROUTERS = ["cobuild.routers.ReportsRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Tasks (django.tasks): chores after a request, such as computing every county's figures after a
# change they all read (reports.tasks), run in a thread of the app server (cobuild.tasks); an
# installation with a worker queue names its backend here.
TASKS = {
    "default": {"BACKEND": env("COBUILD_TASKS_BACKEND", default="cobuild.tasks.ThreadBackend")}
}

# Cache: local memory unless CACHE_URL is given (redis://127.0.0.1:6379/1 uses Django's Redis cache).
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
# The counties' figures (reports.parts): in the shared cache when there is one, else in each
# process's memory, room for the parts of a few periods of a province (about 50 KB a county).
CACHES["parts"] = (
    {**CACHES["default"], "KEY_PREFIX": "parts", "TIMEOUT": 2 * 24 * 3600}
    if env("CACHE_URL", default=None)
    else {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "parts",
        "TIMEOUT": 2 * 24 * 3600,
        "OPTIONS": {"MAX_ENTRIES": 2000},
    }
)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env.int("COBUILD_PASSWORD_MIN_LENGTH", default=8)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # Three of four character classes; also records when a password was set (rotation).
    {"NAME": "cobuild.security.CharacterClassValidator"},
]
# axes first: it refuses a locked username before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "cobuild.security.PasswordBackend",
    # Permissions in the Django admin come from the 三员 roles (cobuild.security).
    "cobuild.security.RolePermissionBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文")]
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True
FORMAT_MODULE_PATH = ["cobuild.formats"]
# A few Django strings that Django's own catalogue does not translate yet (the .mo is committed).
LOCALE_PATHS = [BASE_DIR / "locale"]

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Uploaded evidence lives here and is only ever served through a view that checks scope.
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# With S3_BUCKET set, evidence goes to an S3-compatible object store (MinIO, OSS, COS …) in a
# private bucket instead; it is still served only through the scoped download views.
S3_BUCKET = env.str("S3_BUCKET", default="")
if S3_BUCKET:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": env.str("S3_ENDPOINT_URL"),
            "access_key": env.str("S3_ACCESS_KEY_ID"),
            "secret_key": env.str("S3_SECRET_ACCESS_KEY"),
            "region_name": env.str("S3_REGION", default="") or None,
            "default_acl": None,  # no ACL header: objects stay as private as the bucket
            "querystring_auth": True,  # any URL made for a file is signed and soon expires
            "querystring_expire": 300,
            "signature_version": "s3v4",
            "file_overwrite": False,
        },
    }

# Content Security Policy with per-request nonces: no inline script anywhere.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Cookies: HTTPS only outside development, never readable by scripts, not sent cross-site.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_FAILURE_VIEW = "cobuild.security.csrf_failure"
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Only behind a proxy that overwrites this header (nginx: proxy_set_header X-Forwarded-Proto).
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=SECURE_HSTS_SECONDS > 0)
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
# Request size: form posts up to 5 MB, at most 2000 fields and 20 files per request (evidence
# files have their own limit in COBUILD below); larger uploads go to a temporary file.
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 2000
DATA_UPLOAD_MAX_NUMBER_FILES = 20
FILE_UPLOAD_MAX_MEMORY_SIZE = 2621440
FILE_UPLOAD_PERMISSIONS = 0o640

# Mail: EMAIL_URL such as smtp+tls://user:password@smtp.example.org:587 (console in development).
_email = env.email_url("EMAIL_URL", default="consolemail://")
_smtp_options = {
    "host": _email.get("EMAIL_HOST"),
    "port": _email.get("EMAIL_PORT"),
    "username": _email.get("EMAIL_HOST_USER"),
    "password": _email.get("EMAIL_HOST_PASSWORD"),
    "use_tls": _email.get("EMAIL_USE_TLS"),
    "use_ssl": _email.get("EMAIL_USE_SSL"),
}
MAILERS = {
    "default": {
        "BACKEND": _email["EMAIL_BACKEND"],
        "OPTIONS": {k: v for k, v in _smtp_options.items() if v}
        if _email["EMAIL_BACKEND"].endswith("smtp.EmailBackend")
        else {},
    }
}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="cobuild@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="WARNING")},
}

# The campaign's rules (DOMAIN.md, "Periods, compliance and locking").
COBUILD = {
    # Days after a period's end within which a submission still counts as on time.
    "GRACE_DAYS": env.int("COBUILD_GRACE_DAYS", default=10),
    # Days after a period's end (beyond which its activities are read-only for secretaries).
    "LOCK_DELAY_DAYS": env.int("COBUILD_LOCK_DELAY_DAYS", default=30),
    # Evidence uploads: the largest file accepted, and how many files one record may hold.
    "EVIDENCE_MAX_BYTES": env.int("COBUILD_EVIDENCE_MAX_BYTES", default=10 * 1024 * 1024),
    "EVIDENCE_MAX_FILES": env.int("COBUILD_EVIDENCE_MAX_FILES", default=9),
    # Reminders (manage.py send_reminders): a regime period ending within this many days with
    # nothing submitted yet; an activity waiting for the partner's confirmation longer than this.
    "REMINDER_DAYS_BEFORE_END": env.int("COBUILD_REMINDER_DAYS_BEFORE_END", default=7),
    "REMINDER_CONFIRM_AFTER_DAYS": env.int("COBUILD_REMINDER_CONFIRM_AFTER_DAYS", default=3),
    # Where the site is reached from outside, to make the links in reminder emails absolute.
    "SITE_URL": env.str("COBUILD_SITE_URL", default="http://127.0.0.1:8000"),
    # Situation reports' 存在问题: pairings whose member participation is below this share, and
    # pairings whose activities use this many categories or fewer.
    "REPORT_LOW_PARTICIPATION": env.float("COBUILD_REPORT_LOW_PARTICIPATION", default=0.5),
    "REPORT_FEW_CATEGORIES": env.int("COBUILD_REPORT_FEW_CATEGORIES", default=2),
    # Identity (等保 2.0 身份鉴别): passwords need this many of the four character classes
    # (lower, upper, digit, symbol) and are changed after this many days.
    "PASSWORD_MIN_CLASSES": env.int("COBUILD_PASSWORD_MIN_CLASSES", default=3),
    "PASSWORD_MAX_AGE_DAYS": env.int("COBUILD_PASSWORD_MAX_AGE_DAYS", default=90),
    # Failed sign-ins (per username) before the account is locked, and for how long.
    "LOGIN_FAILURE_LIMIT": env.int("COBUILD_LOGIN_FAILURE_LIMIT", default=5),
    "LOGIN_LOCKOUT_MINUTES": env.int("COBUILD_LOGIN_LOCKOUT_MINUTES", default=30),
    # Sessions end after this long without a request, and this long after sign-in in any case.
    "SESSION_IDLE_MINUTES": env.int("COBUILD_SESSION_IDLE_MINUTES", default=30),
    "SESSION_ABSOLUTE_HOURS": env.int("COBUILD_SESSION_ABSOLUTE_HOURS", default=12),
    # Two-factor sign-in (TOTP, with backup codes) for county staff, supervisors and the three
    # administrators. On unless turned off explicitly, and it can be off only with DEBUG on.
    "OTP_REQUIRED": env.bool("COBUILD_OTP_REQUIRED", default=True) or not DEBUG,
    "OTP_BACKUP_CODES": env.int("COBUILD_OTP_BACKUP_CODES", default=10),
    # The Django admin (/admin/) answers only to these address ranges (CIDR).
    "ADMIN_ALLOWED_NETWORKS": env.list(
        "COBUILD_ADMIN_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1/128"]
    ),
    # Reverse proxies in front of the app that append to X-Forwarded-For (0: use REMOTE_ADDR).
    "TRUSTED_PROXY_COUNT": env.int("COBUILD_TRUSTED_PROXY_COUNT", default=0),
    # The audit log is kept at least this many days (never fewer than 180: the database refuses
    # to delete younger rows); manage.py purge_audit removes only older ones.
    "AUDIT_RETENTION_DAYS": max(180, env.int("COBUILD_AUDIT_RETENTION_DAYS", default=180)),
    # Ledger import (导入台账): the largest workbook accepted, and the zip-bomb guards checked
    # before it is opened: the total unpacked size and the unpacked/packed ratio of any member.
    "IMPORT_MAX_BYTES": env.int("COBUILD_IMPORT_MAX_BYTES", default=20 * 1024 * 1024),
    "IMPORT_MAX_UNPACKED_BYTES": env.int(
        "COBUILD_IMPORT_MAX_UNPACKED_BYTES", default=400 * 1024 * 1024
    ),
    "IMPORT_MAX_RATIO": env.int("COBUILD_IMPORT_MAX_RATIO", default=200),
}

# Sessions: the idle limit is the cookie age; SessionSecurityMiddleware refreshes it at most
# once a minute and enforces the absolute cap.
SESSION_COOKIE_AGE = COBUILD["SESSION_IDLE_MINUTES"] * 60
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# Login lockout (django-axes): keyed by username only, so rotating addresses does not help and
# unknown usernames lock exactly like real ones.
AXES_FAILURE_LIMIT = COBUILD["LOGIN_FAILURE_LIMIT"]
AXES_COOLOFF_TIME = datetime.timedelta(minutes=COBUILD["LOGIN_LOCKOUT_MINUTES"])
AXES_LOCKOUT_PARAMETERS = ["username"]
# axes.W006 asks for an address-keyed lock as well; offices here share one NAT address, so five
# typos by one person would lock out the whole township. The username key is the requirement.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked.html"
AXES_CLIENT_IP_CALLABLE = "cobuild.security.client_ip"
AXES_VERBOSE = False

# Two-factor (django-otp): our own lock counts failures, so no exponential delays on top.
OTP_TOTP_ISSUER = "互助共建管理平台"
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
