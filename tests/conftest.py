"""Shared fixtures, and the rules for tests that need real services.

A test marked ``postgres`` runs only when the database is PostgreSQL, and one marked
``redis`` only when ``REDIS_URL`` is set; elsewhere they are skipped. When a service *is*
configured but cannot be reached, the run fails under ``CI=true`` (a missing service in CI
is a broken run, not a reason to skip) and skips the marked tests locally.
"""

from __future__ import annotations

import os

import pytest
from django.conf import settings
from django.core.cache import cache
from rest_framework.test import APIClient

from miniprogram_api.celery import app as celery_app

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
_unreachable: dict[str, str] = {}


def _is_postgres() -> bool:
    return settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


def pytest_sessionstart(session):
    if _is_postgres():
        import psycopg

        db = settings.DATABASES["default"]
        try:
            psycopg.connect(
                host=db.get("HOST") or None,
                port=db.get("PORT") or None,
                user=db.get("USER") or None,
                password=db.get("PASSWORD") or None,
                dbname="postgres",
                connect_timeout=3,
            ).close()
        except Exception as exc:
            _unreachable["postgres"] = f"PostgreSQL unreachable: {exc}"
    if settings.REDIS_URL:
        import redis

        try:
            redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
        except Exception as exc:
            _unreachable["redis"] = f"Redis unreachable: {exc}"
    if _unreachable and IN_CI:
        pytest.exit("; ".join(_unreachable.values()) + " (CI=true: a missing service fails the run)", returncode=3)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("postgres"):
            if not _is_postgres():
                item.add_marker(pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://..."))
            elif "postgres" in _unreachable:
                item.add_marker(pytest.mark.skip(reason=_unreachable["postgres"]))
        if item.get_closest_marker("redis"):
            if not settings.REDIS_URL:
                item.add_marker(pytest.mark.skip(reason="needs Redis: set REDIS_URL=redis://..."))
            elif "redis" in _unreachable:
                item.add_marker(pytest.mark.skip(reason=_unreachable["redis"]))


@pytest.fixture(autouse=True)
def _celery_join_not_denied():
    """Celery keeps "may a result be awaited here" in one process-wide flag that an eager task
    sets while it runs; one run in a live server's thread at the moment another finishes
    can leave it set, and a later test's ``.get()`` would then refuse to wait."""
    from celery._state import _set_task_join_will_block

    _set_task_join_will_block(False)


@pytest.fixture(autouse=True)
def _wechat_api_nowhere_by_default(settings):
    """Messages a test triggers by the way (an order paid, a shipment dispatched) must not
    reach whatever listens on the default local port; tests that talk to WeChat point
    ``WECHAT_API_BASE_URL`` at their own sandbox (the ``server`` fixture does)."""
    settings.WECHAT_API_BASE_URL = "http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def _isolated_cache():
    """Throttle counters and cached lookups must not leak between tests."""
    _clear_cache()
    yield
    _clear_cache()


def _clear_cache() -> None:
    from promotions import live_deals

    if hasattr(cache, "delete_pattern"):
        cache.delete_pattern("*")  # only our KEY_PREFIX, not the whole Redis database
    else:
        cache.clear()
    live_deals.clear()  # the index of live deals each process keeps in memory


@pytest.fixture(autouse=True, scope="session")
def _eager_celery():
    """Unit tests run tasks in-process; the Celery integration tests start a real worker."""
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def customer(db):
    from tests.factories import CustomerFactory

    return CustomerFactory()


@pytest.fixture
def auth_client(customer) -> APIClient:
    """An API client signed in as ``customer`` with a real bearer token."""
    from miniprogram_api.accounts.tokens import issue_token

    raw, _ = issue_token(customer=customer)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    client.customer = customer
    return client


@pytest.fixture
def server(live_server, settings):
    """The app on a live port, with the payment providers pointed at its own sandbox (which
    answers at once and notifies without retry delays): for tests that pay for real."""
    url = live_server.url
    settings.PUBLIC_BASE_URL = url
    settings.WECHATPAY_BASE_URL = f"{url}/sandbox/wechatpay"
    settings.ALIPAY_GATEWAY_URL = f"{url}/sandbox/alipay/gateway.do"
    settings.WECHAT_API_BASE_URL = f"{url}/sandbox/wechat"
    settings.SANDBOX_NOTIFY_RETRY_DELAYS = []
    settings.PAYMENT_HTTP_RETRY_DELAYS = [0.01]
    return url
