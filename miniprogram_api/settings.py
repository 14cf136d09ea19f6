"""Settings, read from the environment (a ``.env`` file is read if present).

Every value has a safe default for the local run: SQLite under ``var/``, an in-process
cache, a filesystem Celery broker and the built-in provider sandbox. ``DJANGO_ENV=production``
switches on the production checks at the bottom, which refuse to start with a setting
that would be unsafe in front of shoppers.
"""

from __future__ import annotations

import ipaddress
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

load_dotenv(BASE_DIR / ".env")


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    raw = env(name)
    return int(raw) if raw else default


def env_list(name: str, default: list[str]) -> list[str]:
    raw = env(name)
    return [item.strip() for item in raw.split(",") if item.strip()] if raw else default


DEVELOPMENT_SECRET_KEY = "insecure-local-development-key-do-not-use-in-production"  # noqa: S105

PRODUCTION = env("DJANGO_ENV", "development").lower() == "production"
DEBUG = env_bool("DEBUG", not PRODUCTION)
SECRET_KEY = env("SECRET_KEY", DEVELOPMENT_SECRET_KEY)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"])
SANDBOX_ENABLED = env_bool("SANDBOX_ENABLED", not PRODUCTION)
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

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
    "miniprogram_api.accounts",
    "miniprogram_api.idempotency",
    "stores",
    "promotions",
    "checkout",
]
if SANDBOX_ENABLED:
    INSTALLED_APPS.append("miniprogram_api.sandbox")
    INSTALLED_APPS.append("miniprogram_api.demo")  # the demo pages: templates and static files

MIDDLEWARE = [
    "miniprogram_api.request_context.RequestIdMiddleware",
    # Times everything below; answers /metrics itself, before the host check and redirect.
    "miniprogram_api.metrics.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "miniprogram_api.api.errors.ApiErrorMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "miniprogram_api.urls"
WSGI_APPLICATION = "miniprogram_api.wsgi.application"
AUTH_USER_MODEL = "accounts.Customer"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

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
            ]
        },
    }
]

# --- Database -------------------------------------------------------------------------
DATABASE_URL = env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Concurrent writers need IMMEDIATE transactions, WAL and a busy timeout, or they
    # fail with "database is locked" instead of waiting their turn.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test_db.sqlite3")}
else:
    # A persistent connection (CONN_MAX_AGE) is checked before each request reuses it, so
    # after a database restart the first request reconnects instead of failing.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Without it a connection to a database that does not answer (a dead host, a dropped
    # route) waits for the kernel's TCP timeout, minutes, holding a web worker; with it the
    # request fails fast with 503 database_unavailable.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", env_int("DB_CONNECT_TIMEOUT", 5))
    if env_bool("DB_PREPARED_STATEMENTS", True):
        # Parameters bound by the server, and a statement run a fifth time on a connection
        # kept prepared: PostgreSQL then skips parsing and planning it, which for the short
        # statements of a scan costs more than running them (bench/RESULTS.md). Off behind
        # a pooler that cannot keep prepared statements (PgBouncer in transaction mode
        # before 1.21).
        DATABASES["default"]["OPTIONS"].update(server_side_binding=True, prepare_threshold=5)

# --- Cache, Redis and Celery ----------------------------------------------------------
REDIS_URL = env("REDIS_URL")
CACHE_KEY_PREFIX = env("CACHE_KEY_PREFIX", "mp")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 2,
                "SOCKET_TIMEOUT": 2,
                # Redis down is a cache miss, not an error: reads find nothing, writes are
                # dropped, throttles let requests through (see api/throttling.py), so scan
                # & pay keeps working through a Redis outage. Each ignored error is logged.
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "mp"}}

CELERY_TIMEZONE = "Asia/Shanghai"
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
# Workers log through LOGGING below (request ids, JSON in production), not Celery's own setup.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Deployments (or test runs) sharing one Redis keep their messages apart by queue name.
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_QUEUE", "celery")
if REDIS_URL:
    CELERY_BROKER_URL = env("CELERY_BROKER_URL", REDIS_URL)
    # Longer than any countdown or retry backoff we use, so Redis never redelivers a
    # message that a worker is still legitimately holding.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
        # What workers took and have not acknowledged is kept per queue as well, so a worker
        # restoring a dead worker's messages restores only its own deployment's (kombu keeps
        # one set per Redis database otherwise).
        "unacked_key": f"{CELERY_TASK_DEFAULT_QUEUE}:unacked",
        "unacked_index_key": f"{CELERY_TASK_DEFAULT_QUEUE}:unacked_index",
        "unacked_mutex_key": f"{CELERY_TASK_DEFAULT_QUEUE}:unacked_mutex",
        # Without these a Redis that accepts connections but does not answer (frozen,
        # failing over) blocks a publish forever: a payment notification enqueueing its
        # order_paid task would hold its web worker until gunicorn kills it. With them the
        # publish fails in seconds and the redrive does the work (docs/operations.md).
        "socket_timeout": 2,
        "socket_connect_timeout": 2,
    }
    # One retry (a pooled connection Redis dropped is replaced at once), not Celery's three:
    # a publish to a Redis that does not answer gives up after about 6 s instead of 10.
    CELERY_TASK_PUBLISH_RETRY_POLICY = {
        "max_retries": 1,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.2,
    }
else:
    _broker_dir = VAR_DIR / "celery-broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = env("CELERY_BROKER_URL", "filesystem://")
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_BEAT_SCHEDULE = {
    "purge-expired-tokens": {
        "task": "miniprogram_api.accounts.tasks.purge_expired_tokens",
        "schedule": timedelta(hours=1),
    },
    "purge-idempotency-records": {
        "task": "miniprogram_api.idempotency.tasks.purge_old_records",
        "schedule": timedelta(hours=1),
    },
    "redrive-after-payment": {
        "task": "checkout.tasks.redrive_after_payment",
        "schedule": timedelta(seconds=env_int("AFTER_PAYMENT_REDRIVE_EVERY_SECONDS", 60)),
    },
    "close-expired-orders": {
        "task": "checkout.tasks.close_expired_orders",
        "schedule": timedelta(seconds=env_int("CLOSE_EXPIRED_ORDERS_EVERY_SECONDS", 60)),
    },
    "reconcile-pending-payments": {
        "task": "checkout.tasks.reconcile_pending_payments",
        "schedule": timedelta(seconds=env_int("RECONCILE_PAYMENTS_EVERY_SECONDS", 60)),
    },
    "expire-idle-baskets": {
        "task": "checkout.tasks.expire_idle_baskets",
        "schedule": timedelta(minutes=5),
    },
    "redrive-notifications": {
        "task": "checkout.tasks.redrive_notifications",
        "schedule": timedelta(minutes=5),
    },
    "build-pick-lists": {
        "task": "checkout.tasks.build_pick_lists",
        "schedule": timedelta(seconds=env_int("PICK_LISTS_EVERY_SECONDS", 60)),
    },
    "dispatch-due-shipments": {
        "task": "checkout.tasks.dispatch_due_shipments",
        "schedule": timedelta(seconds=env_int("DISPATCH_EVERY_SECONDS", 60)),
    },
    "expire-coupons": {
        "task": "promotions.tasks.expire_coupons",
        "schedule": timedelta(minutes=15),
    },
    "poll-refunds": {
        "task": "checkout.tasks.poll_refunds",
        "schedule": timedelta(seconds=env_int("REFUND_POLL_EVERY_SECONDS", 60)),
    },
}

# --- Internationalisation and time ----------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env("STATIC_ROOT", str(BASE_DIR / "staticfiles")))

# --- REST framework and the API conventions -------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["miniprogram_api.api.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["miniprogram_api.api.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "miniprogram_api.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "miniprogram_api.api.errors.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "login": env("THROTTLE_LOGIN", "20/min"),
        "lookup": env("THROTTLE_LOOKUP", "300/min"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # How many reverse proxies append to X-Forwarded-For in front of us: throttles count the
    # address the nearest proxy saw. DRF's default (None) trusts the whole header, so a
    # client could dodge the login throttle by sending a different X-Forwarded-For each time.
    "NUM_PROXIES": env_int("NUM_PROXIES", 1 if PRODUCTION else 0),
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append("rest_framework.renderers.BrowsableAPIRenderer")

SPECTACULAR_SETTINGS = {
    "TITLE": "Mini-program backend API",
    "DESCRIPTION": (
        "Scan & pay, next-day delivery, promotions, gift cards and returns for a retailer's "
        "WeChat mini-program. Money is integer fen; times are ISO 8601 with offset; errors "
        'are `{"error": {"code", "message", "details"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    # Fields named "status" and "kind" hold different choice sets in different responses;
    # naming the shared sets keeps the schema free of generated hash names.
    "ENUM_NAME_OVERRIDES": {
        "CouponKindEnum": "promotions.models.CouponTemplate.Kind",
        "CouponStatusEnum": "promotions.models.Coupon.Status",
        "BasketStatusEnum": ["open", "frozen", "checked_out", "expired", "released"],
        "GiftCardStatusEnum": ["active", "frozen"],
        "GiftCardTransactionKindEnum": ["issue", "top_up", "hold", "capture", "release", "refund", "transfer"],
        "GiftCardSharingStateEnum": ["none", "offered"],
        # A return's refund_state and a refund's state would both be named RefundStateEnum,
        # and one would silently take the other's values.
        "ReturnRefundStateEnum": "checkout.returns_models.Return.RefundState",
        "RefundStateEnum": "checkout.returns_models.Refund.State",
    },
}

# --- Tokens ---------------------------------------------------------------------------
ACCESS_TOKEN_TTL = timedelta(days=env_int("ACCESS_TOKEN_TTL_DAYS", 30))

# --- WeChat login ---------------------------------------------------------------------
SANDBOX_DEFAULT_WECHAT_APPID = "wx0000sandbox0001"
SANDBOX_DEFAULT_WECHAT_SECRET = "sandbox-app-secret"  # noqa: S105 - the sandbox's own, refused in production
WECHAT_APPID = env("WECHAT_APPID", SANDBOX_DEFAULT_WECHAT_APPID)
WECHAT_SECRET = env("WECHAT_SECRET", SANDBOX_DEFAULT_WECHAT_SECRET)
WECHAT_API_BASE_URL = env(
    "WECHAT_API_BASE_URL", "https://api.weixin.qq.com" if PRODUCTION else f"{PUBLIC_BASE_URL}/sandbox/wechat"
).rstrip("/")
WECHAT_HTTP_TIMEOUT = (float(env("WECHAT_CONNECT_TIMEOUT", "3")), float(env("WECHAT_READ_TIMEOUT", "5")))
# The mini-program as the sandbox's WeChat has it on file. The sandbox checks our requests
# against these, not against our own settings, so a wrong WECHAT_SECRET fails as it would
# at Tencent.
SANDBOX_WECHAT_APPID = env("SANDBOX_WECHAT_APPID", WECHAT_APPID)
SANDBOX_WECHAT_SECRET = env("SANDBOX_WECHAT_SECRET", WECHAT_SECRET)

# --- WeChat subscribe messages (order notifications) ----------------------------------
# The server API's access token is cached and fetched anew this long before it expires.
WECHAT_ACCESS_TOKEN_REFRESH_MARGIN = timedelta(seconds=env_int("WECHAT_ACCESS_TOKEN_REFRESH_MARGIN_SECONDS", 300))
# Which version of the mini-program a message opens: formal (released), trial or developer.
WECHAT_MINIPROGRAM_STATE = env("WECHAT_MINIPROGRAM_STATE", "formal" if PRODUCTION else "developer")
# The mini-program page a message opens, given ?id=<order id>.
WECHAT_ORDER_PAGE = env("WECHAT_ORDER_PAGE", "pages/order/detail")
# The subscribe-message templates chosen in the mini-program admin, one per kind of message.
# Empty: that message is not sent. Outside production they name the sandbox's templates.
SANDBOX_DEFAULT_WECHAT_TEMPLATES = {
    "WECHAT_TEMPLATE_ORDER_PAID": "sandbox-tpl-order-paid",
    "WECHAT_TEMPLATE_ORDER_DISPATCHED": "sandbox-tpl-order-dispatched",
    "WECHAT_TEMPLATE_ORDER_DELIVERED": "sandbox-tpl-order-delivered",
    "WECHAT_TEMPLATE_ORDER_READY_FOR_PICKUP": "sandbox-tpl-ready-for-pickup",
    "WECHAT_TEMPLATE_ORDER_DELIVERY_FAILED": "sandbox-tpl-delivery-failed",
}


def _template(name: str) -> str:
    return env(name, "" if PRODUCTION else SANDBOX_DEFAULT_WECHAT_TEMPLATES[name])


WECHAT_TEMPLATE_ORDER_PAID = _template("WECHAT_TEMPLATE_ORDER_PAID")
WECHAT_TEMPLATE_ORDER_DISPATCHED = _template("WECHAT_TEMPLATE_ORDER_DISPATCHED")
WECHAT_TEMPLATE_ORDER_DELIVERED = _template("WECHAT_TEMPLATE_ORDER_DELIVERED")
WECHAT_TEMPLATE_ORDER_READY_FOR_PICKUP = _template("WECHAT_TEMPLATE_ORDER_READY_FOR_PICKUP")
WECHAT_TEMPLATE_ORDER_DELIVERY_FAILED = _template("WECHAT_TEMPLATE_ORDER_DELIVERY_FAILED")
# Which keyword of each template carries which of our values. A template's keywords are
# fixed by the template picked in the admin (the type is the name without its digits:
# thing4 is a "thing", at most 20 characters); override as JSON to match other templates,
# e.g. WECHAT_TEMPLATE_KEYWORDS='{"paid": {"number": "character_string2", ...}}'.
WECHAT_TEMPLATE_KEYWORDS_DEFAULT = {
    "paid": {"number": "character_string1", "amount": "amount2", "slot": "time3", "place": "thing4"},
    "dispatched": {"number": "character_string1", "slot": "time2", "courier": "thing3"},
    "delivered": {"number": "character_string1", "delivered_at": "time2", "place": "thing3"},
    "ready_for_pickup": {
        "number": "character_string1",
        "store": "thing2",
        "pickup_code": "character_string3",
        "slot": "time4",
    },
    "delivery_failed": {"number": "character_string1", "reason": "thing2", "next_step": "thing3"},
}
_keywords_raw = env("WECHAT_TEMPLATE_KEYWORDS")
if _keywords_raw:
    import json

    try:
        WECHAT_TEMPLATE_KEYWORDS = {**WECHAT_TEMPLATE_KEYWORDS_DEFAULT, **json.loads(_keywords_raw)}
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"WECHAT_TEMPLATE_KEYWORDS is not a JSON object: {exc}") from None
else:
    WECHAT_TEMPLATE_KEYWORDS = WECHAT_TEMPLATE_KEYWORDS_DEFAULT
# The sandbox's WeChat: the templates the mini-program "added" in its admin, each with its
# keywords (the sandbox checks every message against them, as WeChat does).
SANDBOX_WECHAT_TEMPLATES = {
    "sandbox-tpl-order-paid": ["character_string1", "amount2", "time3", "thing4"],
    "sandbox-tpl-order-dispatched": ["character_string1", "time2", "thing3"],
    "sandbox-tpl-order-delivered": ["character_string1", "time2", "thing3"],
    "sandbox-tpl-ready-for-pickup": ["character_string1", "thing2", "character_string3", "time4"],
    "sandbox-tpl-delivery-failed": ["character_string1", "thing2", "thing3"],
}

# --- Payments and exit passes ----------------------------------------------------------
# Locally (sandbox on) every key defaults to one generated once into var/keys, shared with
# the sandbox that plays WeChat Pay and Alipay. In production each must come from the
# environment; the checks at the bottom refuse to start without them.
KEYS_DIR = VAR_DIR / "keys"
_local_keys: dict[str, str] = {}
if SANDBOX_ENABLED:
    from miniprogram_api.core.local_keys import ensure_local_keys

    _local_keys = ensure_local_keys(KEYS_DIR)

# A scan & pay basket untouched (no scan or change) for this long is expired by the
# periodic sweep, which frees the shopper's one-basket-per-store slot.
BASKET_IDLE_TIMEOUT = timedelta(minutes=env_int("BASKET_IDLE_MINUTES", 120))
# Express delivery (within the hour) comes from a store that offers it no farther than this
# from the address, great-circle, and has the whole cart in stock.
DELIVERY_EXPRESS_RADIUS_M = env_int("DELIVERY_EXPRESS_RADIUS_M", 5000)
# Fulfilment (checkout.fulfilment): a shipment is dispatched this long before its slot
# starts; a failed delivery is tried again in the next slot until this many attempts.
DISPATCH_LEAD_MINUTES = env_int("DISPATCH_LEAD_MINUTES", 60)
FAILED_DELIVERY_MAX_ATTEMPTS = env_int("FAILED_DELIVERY_MAX_ATTEMPTS", 2)
# Who carries deliveries ("local": no rider, for the local run and the tests), and the
# shared secret its webhook signs events with (refused in production unless set).
COURIER_PROVIDER = env("COURIER_PROVIDER", "local")
DEVELOPMENT_COURIER_WEBHOOK_SECRET = "local-courier-webhook-secret"  # noqa: S105 - refused in production
COURIER_WEBHOOK_SECRET = env("COURIER_WEBHOOK_SECRET", DEVELOPMENT_COURIER_WEBHOOK_SECRET)
COURIER_WEBHOOK_TOLERANCE = timedelta(seconds=env_int("COURIER_WEBHOOK_TOLERANCE_SECONDS", 300))
PAYMENT_METHODS = env_list("PAYMENT_METHODS", ["wechat_pay", "alipay"])
PAYMENT_TIMEOUT = timedelta(minutes=env_int("PAYMENT_TIMEOUT_MINUTES", 15))
PAYMENT_RECONCILE_AFTER_SECONDS = env_int("PAYMENT_RECONCILE_AFTER_SECONDS", 180)
# After payment (checkout/after_payment_jobs.py): a paid order's work not done this long after
# payment is run by the redrive; whoever runs it holds it this long (keep it under
# CELERY_VISIBILITY_TIMEOUT, so the redrive, not a redelivery, picks up after a dead worker).
AFTER_PAYMENT_REDRIVE_AFTER_SECONDS = env_int("AFTER_PAYMENT_REDRIVE_AFTER_SECONDS", 60)
AFTER_PAYMENT_LEASE_SECONDS = env_int("AFTER_PAYMENT_LEASE_SECONDS", 300)
# Returns: the no-questions period, from delivery (online orders) or payment (in store).
RETURN_WINDOW_DAYS = env_int("RETURN_WINDOW_DAYS", 14)
# A refund not yet accepted by its provider is sent again, and one still processing is
# queried, when its last attempt is this old (also the lease of a worker sending it).
REFUND_POLL_AFTER_SECONDS = env_int("REFUND_POLL_AFTER_SECONDS", 30)
PAYMENT_HTTP_TIMEOUT = (float(env("PAYMENT_CONNECT_TIMEOUT", "3")), float(env("PAYMENT_READ_TIMEOUT", "10")))
WECHATPAY_MCHID = env("WECHATPAY_MCHID", "1900000001" if SANDBOX_ENABLED else "")
WECHATPAY_PRIVATE_KEY_PATH = env("WECHATPAY_PRIVATE_KEY_PATH", str(KEYS_DIR / "wechatpay_merchant_private.pem"))
WECHATPAY_CERT_SERIAL = env("WECHATPAY_CERT_SERIAL", _local_keys.get("merchant_serial", ""))
WECHATPAY_APIV3_KEY = env("WECHATPAY_APIV3_KEY", _local_keys.get("apiv3_key", ""))
WECHATPAY_PLATFORM_PUBLIC_KEY_PATH = env(
    "WECHATPAY_PLATFORM_PUBLIC_KEY_PATH", str(KEYS_DIR / "wechatpay_platform_public.pem")
)
WECHATPAY_PLATFORM_PUBLIC_KEY_ID = env(
    "WECHATPAY_PLATFORM_PUBLIC_KEY_ID", _local_keys.get("platform_public_key_id", "")
)
WECHATPAY_BASE_URL = env(
    "WECHATPAY_BASE_URL", "https://api.mch.weixin.qq.com" if PRODUCTION else f"{PUBLIC_BASE_URL}/sandbox/wechatpay"
).rstrip("/")
ALIPAY_APP_ID = env("ALIPAY_APP_ID", "2021000000000001" if SANDBOX_ENABLED else "")
ALIPAY_PRIVATE_KEY_PATH = env("ALIPAY_PRIVATE_KEY_PATH", str(KEYS_DIR / "alipay_app_private.pem"))
ALIPAY_PUBLIC_KEY_PATH = env("ALIPAY_PUBLIC_KEY_PATH", str(KEYS_DIR / "alipay_platform_public.pem"))
ALIPAY_SELLER_ID = env("ALIPAY_SELLER_ID", "2088000000000001" if SANDBOX_ENABLED else "")
ALIPAY_GATEWAY_URL = env(
    "ALIPAY_GATEWAY_URL",
    "https://openapi.alipay.com/gateway.do" if PRODUCTION else f"{PUBLIC_BASE_URL}/sandbox/alipay/gateway.do",
)
EXIT_PASS_SIGNING_KEY_PATH = env("EXIT_PASS_SIGNING_KEY_PATH", str(KEYS_DIR / "exit_pass_ed25519.pem"))
# The id (4 ASCII characters) of the signing key, carried in every pass so verifiers know
# which public key to use; rotate by signing with a new key and id while the old public
# key stays listed in EXIT_PASS_EXTRA_PUBLIC_KEYS ("kid:/path/to/public.pem,...") until
# every pass it signed has expired.
EXIT_PASS_KEY_ID = env("EXIT_PASS_KEY_ID", "k001")
EXIT_PASS_EXTRA_PUBLIC_KEYS = env_list("EXIT_PASS_EXTRA_PUBLIC_KEYS", [])
EXIT_PASS_TTL = timedelta(minutes=env_int("EXIT_PASS_TTL_MINUTES", 30))
EXIT_PASS_CLOCK_SKEW = timedelta(seconds=env_int("EXIT_PASS_CLOCK_SKEW_SECONDS", 60))
# Audits: a random share of exits (per mille, decided at payment with a secure random
# source), plus rules. Staff check the basket against the order before the gate opens.
EXIT_AUDIT_SAMPLE_PER_MILLE = env_int("EXIT_AUDIT_SAMPLE_PER_MILLE", 30)
EXIT_AUDIT_TOTAL_ABOVE_FEN = env_int("EXIT_AUDIT_TOTAL_ABOVE_FEN", 100_000)
EXIT_AUDIT_WEIGHED_LINES_AT_LEAST = env_int("EXIT_AUDIT_WEIGHED_LINES_AT_LEAST", 5)
EXIT_AUDIT_AGE_RESTRICTED = env_bool("EXIT_AUDIT_AGE_RESTRICTED", True)

# --- Gift cards -------------------------------------------------------------------------
# A card is bought for an active denomination (admin) or a custom amount from this many fen
# up to the 100,000 fen cap; a share link works this long; the page a share card opens.
GIFT_CARD_CUSTOM_MIN_FEN = env_int("GIFT_CARD_CUSTOM_MIN_FEN", 1000)
GIFT_CARD_SHARE_TTL = timedelta(hours=env_int("GIFT_CARD_SHARE_TTL_HOURS", 24))
GIFT_CARD_CLAIM_PAGE = env("GIFT_CARD_CLAIM_PAGE", "pages/gift-card/claim")

# The sandbox's side: the platforms' private keys and what the merchant "uploaded" to them.
SANDBOX_WECHATPAY_PLATFORM_PRIVATE_KEY_PATH = str(KEYS_DIR / "wechatpay_platform_private.pem")
SANDBOX_WECHATPAY_MERCHANT_PUBLIC_KEY_PATH = str(KEYS_DIR / "wechatpay_merchant_public.pem")
SANDBOX_ALIPAY_PLATFORM_PRIVATE_KEY_PATH = str(KEYS_DIR / "alipay_platform_private.pem")
SANDBOX_ALIPAY_APP_PUBLIC_KEY_PATH = str(KEYS_DIR / "alipay_app_public.pem")
# Sandbox refunds: a WeChat Pay refund stays PROCESSING this many seconds (a float), then
# succeeds and is notified; negative keeps it PROCESSING until completed by hand
# (POST /sandbox/refunds/{out_refund_no}/complete). Alipay refunds succeed at once and are
# then notified at the payment's notify_url, unless SANDBOX_ALIPAY_REFUND_NOTIFY is off.
SANDBOX_REFUND_SECONDS = float(env("SANDBOX_REFUND_SECONDS", "1"))
SANDBOX_ALIPAY_REFUND_NOTIFY = env_bool("SANDBOX_ALIPAY_REFUND_NOTIFY", True)

# --- Catalogue ------------------------------------------------------------------------
NEW_PRODUCT_DAYS = env_int("NEW_PRODUCT_DAYS", 30)
# In-store variable-measure EAN-13 layouts by two-digit prefix (20-29): the item code
# length, whether the value is a price in fen or a weight in grams, and whether a GS1
# 4-digit price verifier digit precedes the value. Shops print their own labels, so the
# layout is the retailer's choice; override with STORE_BARCODE_LAYOUTS as JSON.
STORE_BARCODE_LAYOUTS_DEFAULT = {
    "20": {"item_digits": 5, "value": "price", "verifier": False},
    "21": {"item_digits": 5, "value": "price", "verifier": False},
    "22": {"item_digits": 5, "value": "price", "verifier": True},
    "23": {"item_digits": 5, "value": "price", "verifier": True},
    "24": {"item_digits": 5, "value": "price", "verifier": True},
    "25": {"item_digits": 5, "value": "weight", "verifier": False},
    "26": {"item_digits": 5, "value": "weight", "verifier": False},
    "27": {"item_digits": 5, "value": "weight", "verifier": False},
    "28": {"item_digits": 5, "value": "weight", "verifier": False},
    "29": {"item_digits": 5, "value": "weight", "verifier": False},
}
_layouts_raw = env("STORE_BARCODE_LAYOUTS")
if _layouts_raw:
    import json

    try:
        STORE_BARCODE_LAYOUTS = json.loads(_layouts_raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"STORE_BARCODE_LAYOUTS is not valid JSON: {exc}") from None
else:
    STORE_BARCODE_LAYOUTS = STORE_BARCODE_LAYOUTS_DEFAULT

# --- Metrics (GET /metrics, see miniprogram_api/metrics.py) ----------------------------
# Who may scrape: peers in these addresses or networks (e.g. 10.0.0.0/8), or anyone with
# "Authorization: Bearer <METRICS_TOKEN>" when that is set.
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", ["127.0.0.1", "::1"])
METRICS_TOKEN = env("METRICS_TOKEN")
for _entry in METRICS_ALLOWED_IPS:
    try:
        ipaddress.ip_network(_entry, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"METRICS_ALLOWED_IPS: {_entry!r} is not an address or network") from None

# --- Logging --------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request": {"()": "miniprogram_api.request_context.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "miniprogram_api.request_context.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": env("LOG_FORMAT", "json" if PRODUCTION else "plain"),
            "filters": ["request"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # At DEBUG urllib3 logs every request line, query string included, and WeChat's
        # jscode2session takes the app secret in the query string.
        "urllib3": {"level": "WARNING"},
    },
}

# --- Production -----------------------------------------------------------------------
if PRODUCTION:
    problems = []
    if DEBUG:
        problems.append("DEBUG must be off")
    if not SECRET_KEY or SECRET_KEY == DEVELOPMENT_SECRET_KEY or len(SECRET_KEY) < 32:
        problems.append("SECRET_KEY must be set to a long random value")
    if SANDBOX_ENABLED:
        problems.append("SANDBOX_ENABLED must be off")
    if not ALLOWED_HOSTS:
        problems.append("ALLOWED_HOSTS must list the public host names")
    if WECHAT_APPID == SANDBOX_DEFAULT_WECHAT_APPID or WECHAT_SECRET == SANDBOX_DEFAULT_WECHAT_SECRET:
        problems.append("WECHAT_APPID and WECHAT_SECRET must be the mini-program's own")
    sandbox_templates = [name for name, value in SANDBOX_DEFAULT_WECHAT_TEMPLATES.items() if globals()[name] == value]
    if sandbox_templates:
        problems.append(f"{', '.join(sandbox_templates)} must name the mini-program's own templates (or be empty)")
    if METRICS_TOKEN and len(METRICS_TOKEN) < 32:
        problems.append("METRICS_TOKEN must be at least 32 random characters (or unset)")
    if COURIER_WEBHOOK_SECRET == DEVELOPMENT_COURIER_WEBHOOK_SECRET or len(COURIER_WEBHOOK_SECRET) < 32:
        problems.append("COURIER_WEBHOOK_SECRET must be set to the long random secret shared with the courier provider")
    if "wechat_pay" in PAYMENT_METHODS:
        missing = [
            name
            for name, value in (
                ("WECHATPAY_MCHID", WECHATPAY_MCHID),
                ("WECHATPAY_CERT_SERIAL", WECHATPAY_CERT_SERIAL),
                ("WECHATPAY_PLATFORM_PUBLIC_KEY_ID", WECHATPAY_PLATFORM_PUBLIC_KEY_ID),
            )
            if not value
        ]
        if len(WECHATPAY_APIV3_KEY) != 32:
            missing.append("WECHATPAY_APIV3_KEY (32 characters)")
        missing += [
            name
            for name, path in (
                ("WECHATPAY_PRIVATE_KEY_PATH", WECHATPAY_PRIVATE_KEY_PATH),
                ("WECHATPAY_PLATFORM_PUBLIC_KEY_PATH", WECHATPAY_PLATFORM_PUBLIC_KEY_PATH),
            )
            if not Path(path).is_file()
        ]
        if missing:
            problems.append(f"WeChat Pay must have {', '.join(missing)} (or leave wechat_pay out of PAYMENT_METHODS)")
    if "alipay" in PAYMENT_METHODS:
        missing = [
            name
            for name, value in (("ALIPAY_APP_ID", ALIPAY_APP_ID), ("ALIPAY_SELLER_ID", ALIPAY_SELLER_ID))
            if not value
        ]
        missing += [
            name
            for name, path in (
                ("ALIPAY_PRIVATE_KEY_PATH", ALIPAY_PRIVATE_KEY_PATH),
                ("ALIPAY_PUBLIC_KEY_PATH", ALIPAY_PUBLIC_KEY_PATH),
            )
            if not Path(path).is_file()
        ]
        if missing:
            problems.append("Alipay must have " + ", ".join(missing) + " (or leave alipay out of PAYMENT_METHODS)")
    if problems:
        raise ImproperlyConfigured("Refusing to start in production: " + "; ".join(problems) + ".")
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
