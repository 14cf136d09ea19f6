"""Settings come from the environment: each case starts a fresh Python process with a clean,
explicit environment and reads what Django ended up with."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.conf import settings

from miniprogram_api.core.local_keys import ensure_local_keys

LONG_SECRET_KEY = "Zq8vK2mN5pR7tW9yB3dF6hJ1lX4cV0sG-production-grade-key"
# Real key files, as a deployment mounts them (these happen to be made by the local-run helper).
KEYS = Path(tempfile.mkdtemp(prefix="prod-keys-"))
_generated = ensure_local_keys(KEYS)
GOOD_PRODUCTION = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": LONG_SECRET_KEY,
    "DEBUG": "false",
    "SANDBOX_ENABLED": "false",
    "ALLOWED_HOSTS": "api.example.com",
    "WECHAT_APPID": "wx1234567890abcdef",
    "WECHAT_SECRET": "0123456789abcdef0123456789abcdef",
    "WECHATPAY_MCHID": "1230000109",
    "WECHATPAY_CERT_SERIAL": _generated["merchant_serial"],
    "WECHATPAY_APIV3_KEY": _generated["apiv3_key"],
    "WECHATPAY_PRIVATE_KEY_PATH": str(KEYS / "wechatpay_merchant_private.pem"),
    "WECHATPAY_PLATFORM_PUBLIC_KEY_PATH": str(KEYS / "wechatpay_platform_public.pem"),
    "WECHATPAY_PLATFORM_PUBLIC_KEY_ID": _generated["platform_public_key_id"],
    "ALIPAY_APP_ID": "2021001234567890",
    "ALIPAY_SELLER_ID": "2088123456789012",
    "ALIPAY_PRIVATE_KEY_PATH": str(KEYS / "alipay_app_private.pem"),
    "ALIPAY_PUBLIC_KEY_PATH": str(KEYS / "alipay_platform_public.pem"),
    "COURIER_WEBHOOK_SECRET": "c0ur13r-w3bh00k-s3cr3t-0f-32-chars-or-more",
}
PRINT_SETTINGS = """
import json, django
django.setup()
from django.conf import settings
from miniprogram_api.celery import app
db = settings.DATABASES["default"]
print(json.dumps({
    "DEBUG": settings.DEBUG,
    "ENGINE": db["ENGINE"],
    "NAME": str(db["NAME"]),
    "HOST": db.get("HOST", ""),
    "OPTIONS": db.get("OPTIONS", {}),
    "CACHE_BACKEND": settings.CACHES["default"]["BACKEND"],
    "CACHE_LOCATION": settings.CACHES["default"].get("LOCATION"),
    "CACHE_KEY_PREFIX": settings.CACHES["default"].get("KEY_PREFIX", ""),
    "BROKER_URL": app.conf.broker_url,
    "SANDBOX_INSTALLED": "miniprogram_api.sandbox" in settings.INSTALLED_APPS,
    "RENDERERS": settings.REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"],
    "NUM_PROXIES": settings.REST_FRAMEWORK.get("NUM_PROXIES"),
    "WECHAT_API_BASE_URL": settings.WECHAT_API_BASE_URL,
    "SECURE_SSL_REDIRECT": getattr(settings, "SECURE_SSL_REDIRECT", False),
    "SESSION_COOKIE_SECURE": settings.SESSION_COOKIE_SECURE,
    "SECURE_HSTS_SECONDS": settings.SECURE_HSTS_SECONDS,
}))
"""


@pytest.fixture
def run_python(tmp_path):
    """Run code in a new interpreter with only PATH, VAR_DIR and the variables given."""

    def run(code: str, **variables: str) -> subprocess.CompletedProcess:
        environment = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", str(tmp_path)),
            "DJANGO_SETTINGS_MODULE": "miniprogram_api.settings",
            "VAR_DIR": str(tmp_path / "var"),
            "PYTHONDONTWRITEBYTECODE": "1",
            **variables,
        }
        return subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
            [sys.executable, "-c", code],
            cwd=settings.BASE_DIR,
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run


@pytest.fixture
def read_settings(run_python):
    def read(**variables: str) -> dict:
        result = run_python(PRINT_SETTINGS, **variables)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout.strip().splitlines()[-1])

    return read


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"DEBUG": "true"}, "DEBUG must be off"),
        ({"SECRET_KEY": None}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": "insecure-local-development-key-do-not-use-in-production"}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": "short-but-not-default"}, "SECRET_KEY must be set"),
        ({"SANDBOX_ENABLED": "true"}, "SANDBOX_ENABLED must be off"),
        ({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS must list"),
        ({"ALLOWED_HOSTS": " , "}, "ALLOWED_HOSTS must list"),
        ({"WECHAT_APPID": None}, "WECHAT_APPID and WECHAT_SECRET must be"),
        ({"WECHAT_SECRET": None}, "WECHAT_APPID and WECHAT_SECRET must be"),
        ({"WECHATPAY_APIV3_KEY": "short"}, "WeChat Pay must have WECHATPAY_APIV3_KEY"),
        ({"WECHATPAY_PRIVATE_KEY_PATH": "/nonexistent/key.pem"}, "WeChat Pay must have WECHATPAY_PRIVATE_KEY_PATH"),
        ({"ALIPAY_APP_ID": None}, "Alipay must have ALIPAY_APP_ID"),
        ({"ALIPAY_PUBLIC_KEY_PATH": "/nonexistent/alipay.pem"}, "Alipay must have ALIPAY_PUBLIC_KEY_PATH"),
        ({"COURIER_WEBHOOK_SECRET": None}, "COURIER_WEBHOOK_SECRET must be set"),
        ({"COURIER_WEBHOOK_SECRET": "short"}, "COURIER_WEBHOOK_SECRET must be set"),
    ],
    ids=[
        "debug-on",
        "no-secret-key",
        "development-secret-key",
        "short-secret-key",
        "sandbox-on",
        "no-allowed-hosts",
        "blank-allowed-hosts",
        "sandbox-wechat-appid",
        "sandbox-wechat-secret",
        "short-apiv3-key",
        "missing-wechatpay-key-file",
        "no-alipay-app-id",
        "missing-alipay-public-key",
        "no-courier-webhook-secret",
        "short-courier-webhook-secret",
    ],
)
def test_production_refuses_to_start_with_an_unsafe_setting(run_python, change, message):
    variables = {key: value for key, value in {**GOOD_PRODUCTION, **change}.items() if value is not None}

    result = run_python("import django; django.setup()", **variables)

    assert result.returncode != 0
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("django.core.exceptions.ImproperlyConfigured: Refusing to start in production:")
    assert message in error
    assert error.count(" must ") == 1, "only the broken setting should be reported"


def test_production_lists_every_unsafe_setting_at_once(run_python):
    result = run_python("import django; django.setup()", DJANGO_ENV="production", DEBUG="1", SANDBOX_ENABLED="1")

    assert result.returncode != 0
    for message in ("DEBUG must be off", "SECRET_KEY must be set", "SANDBOX_ENABLED", "ALLOWED_HOSTS must list"):
        assert message in result.stderr


def test_production_with_safe_settings_starts_hardened(read_settings):
    values = read_settings(**GOOD_PRODUCTION)

    assert values["DEBUG"] is False
    assert values["SANDBOX_INSTALLED"] is False
    assert values["RENDERERS"] == ["miniprogram_api.api.renderers.JSONRenderer"]
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 31536000


def test_production_defaults_wechat_login_to_wechats_own_api(read_settings):
    assert read_settings(**GOOD_PRODUCTION)["WECHAT_API_BASE_URL"] == "https://api.weixin.qq.com"


def test_production_trusts_one_reverse_proxy_for_client_addresses(read_settings):
    assert read_settings(**GOOD_PRODUCTION)["NUM_PROXIES"] == 1
    assert read_settings(**GOOD_PRODUCTION, NUM_PROXIES="2")["NUM_PROXIES"] == 2


def test_production_does_not_mount_the_sandbox(run_python):
    code = (
        "import django; django.setup()\n"
        "from django.urls import Resolver404, resolve\n"
        "try:\n"
        "    resolve('/sandbox/wechat/login-codes')\n"
        "except Resolver404:\n"
        "    print('not mounted')\n"
    )

    result = run_python(code, **GOOD_PRODUCTION)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "not mounted"


def test_production_passes_djangos_deployment_checks(run_python):
    code = "import sys; from django.core.management import execute_from_command_line as run; run(sys.argv)"

    result = run_python(f"import sys; sys.argv = ['manage.py', 'check', '--deploy']; {code}", **GOOD_PRODUCTION)

    assert result.returncode == 0, result.stderr


def test_default_local_run_uses_sqlite_under_var_dir_and_no_servers(read_settings, tmp_path):
    values = read_settings()

    assert values["ENGINE"] == "django.db.backends.sqlite3"
    assert Path(values["NAME"]) == tmp_path / "var" / "db.sqlite3"
    assert values["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in values["OPTIONS"]["init_command"]
    assert values["OPTIONS"]["timeout"] > 0
    assert values["CACHE_BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"
    assert values["BROKER_URL"].startswith("filesystem://")
    assert values["DEBUG"] is True
    assert values["SANDBOX_INSTALLED"] is True
    assert values["NUM_PROXIES"] == 0
    assert values["WECHAT_API_BASE_URL"] == "http://127.0.0.1:8000/sandbox/wechat"


def test_database_and_redis_urls_switch_to_postgresql_redis_cache_and_redis_broker(read_settings):
    values = read_settings(
        DATABASE_URL="postgres://shop:pw@db.example.com:5432/miniprogram",
        REDIS_URL="redis://cache.example.com:6379/2",
        CACHE_KEY_PREFIX="shop",
    )

    assert values["ENGINE"] == "django.db.backends.postgresql"
    assert (values["NAME"], values["HOST"]) == ("miniprogram", "db.example.com")
    assert values["CACHE_BACKEND"] == "django_redis.cache.RedisCache"
    assert values["CACHE_LOCATION"] == "redis://cache.example.com:6379/2"
    assert values["CACHE_KEY_PREFIX"] == "shop"
    assert values["BROKER_URL"] == "redis://cache.example.com:6379/2"


def test_production_with_only_wechat_pay_needs_no_alipay_configuration(run_python):
    variables = {k: v for k, v in GOOD_PRODUCTION.items() if not k.startswith("ALIPAY_")}

    result = run_python("import django; django.setup()", **variables, PAYMENT_METHODS="wechat_pay")

    assert result.returncode == 0, result.stderr
