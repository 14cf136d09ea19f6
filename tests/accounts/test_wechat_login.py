"""WeChat login end to end: our jscode2session client speaks real HTTP to the sandbox on a
live server, the way it speaks to api.weixin.qq.com in production.

Codes are minted the way the phone gets them (an HTTP POST to the sandbox), then exchanged
through ``POST /api/v1/auth/wechat-login``. Failure cases rehearse what WeChat really
answers (errcodes, silence, refused connections) and check the shopper gets a clean error.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from datetime import timedelta

import pytest
import requests
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from miniprogram_api.accounts import services
from miniprogram_api.accounts.models import AccessToken, Customer
from miniprogram_api.accounts.tokens import hash_token
from miniprogram_api.sandbox import wechat_login as sandbox_wechat
from miniprogram_api.sandbox.models import WeChatLoginCode
from tests.factories import CustomerFactory
from tests.parallel import run_in_parallel

LOGIN_URL = "/api/v1/auth/wechat-login"
SESSION_KEY_SENTINEL = "c2Vzc2lvbi1rZXktc2VudGluZWw="


class Phone:
    """Plays the mini-program: gets wx.login() codes from the sandbox over HTTP."""

    def __init__(self, base_url: str):
        self.base_url = base_url

    def wx_login(self, shopper: str, *, fail_with_errcode: int | None = None) -> str:
        body: dict = {"shopper": shopper}
        if fail_with_errcode is not None:
            body["fail_with_errcode"] = fail_with_errcode
        response = requests.post(f"{self.base_url}/sandbox/wechat/login-codes", json=body, timeout=5)
        assert response.status_code == 201, response.text
        return response.json()["code"]


@pytest.fixture
def phone(live_server, settings, monkeypatch) -> Phone:
    """Point our WeChat client at the sandbox on the live server, over real HTTP."""
    settings.WECHAT_API_BASE_URL = f"{live_server.url}/sandbox/wechat"
    settings.WECHAT_HTTP_TIMEOUT = (2, 5)
    # A known session key, so tests can prove it goes nowhere (response, logs, database).
    monkeypatch.setattr(sandbox_wechat, "_session_key", lambda: SESSION_KEY_SENTINEL)
    return Phone(live_server.url)


def _login(code) -> tuple[int, dict]:
    response = APIClient().post(LOGIN_URL, {"code": code}, format="json")
    return response.status_code, response.json()


def _assert_error(body: dict, code: str) -> None:
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)


# --- Success ---------------------------------------------------------------------------


def test_first_login_over_http_creates_the_customer_and_returns_a_working_token(phone, live_server):
    code = phone.wx_login("alice")

    response = requests.post(f"{live_server.url}{LOGIN_URL}", json={"code": code}, timeout=10)

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"token", "expires_at", "created", "customer"}
    assert body["created"] is True
    customer = Customer.objects.get()
    assert body["customer"]["id"] == customer.pk
    assert customer.openid == WeChatLoginCode.objects.get(code=code).openid
    assert customer.unionid == WeChatLoginCode.objects.get(code=code).unionid
    assert not customer.has_usable_password()
    me = requests.get(f"{live_server.url}/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"}, timeout=10)
    assert me.status_code == 200
    assert me.json()["id"] == customer.pk


def test_second_login_of_the_same_shopper_finds_the_same_customer(phone):
    first_status, first = _login(phone.wx_login("alice"))
    second_status, second = _login(phone.wx_login("alice"))

    assert (first_status, second_status) == (200, 200)
    assert first["created"] is True
    assert second["created"] is False
    assert second["customer"]["id"] == first["customer"]["id"]
    assert second["token"] != first["token"]
    assert Customer.objects.count() == 1
    assert AccessToken.objects.count() == 2


def test_different_shoppers_get_different_customers(phone):
    _, alice = _login(phone.wx_login("alice"))
    _, bob = _login(phone.wx_login("bob"))

    assert alice["customer"]["id"] != bob["customer"]["id"]
    assert Customer.objects.count() == 2


def test_session_key_is_never_returned_stored_or_logged(phone, caplog):
    caplog.set_level(logging.DEBUG)
    response = APIClient().post(LOGIN_URL, {"code": phone.wx_login("alice")}, format="json")

    assert response.status_code == 200
    text = response.content.decode()
    assert "session_key" not in text
    assert SESSION_KEY_SENTINEL not in text
    customer = Customer.objects.get()
    stored = " ".join(str(getattr(customer, f.attname)) for f in Customer._meta.concrete_fields)
    assert SESSION_KEY_SENTINEL not in stored
    assert "session_key" not in caplog.text
    assert SESSION_KEY_SENTINEL not in caplog.text


def test_app_secret_and_token_never_reach_the_logs_even_at_debug_level(phone, caplog, settings):
    caplog.set_level(logging.DEBUG)
    response = APIClient().post(LOGIN_URL, {"code": phone.wx_login("alice")}, format="json")
    failed = APIClient().post(LOGIN_URL, {"code": "no-such-code"}, format="json")

    assert response.status_code == 200
    assert failed.status_code == 400
    assert caplog.records, "the login should have logged something to check"
    assert settings.WECHAT_SECRET not in caplog.text
    assert response.json()["token"] not in caplog.text


def test_login_stores_only_the_tokens_hash(phone):
    _, body = _login(phone.wx_login("alice"))

    token = AccessToken.objects.get()
    assert token.key_hash == hash_token(body["token"])
    assert not AccessToken.objects.filter(key_hash=body["token"]).exists()


# --- WeChat says no ------------------------------------------------------------------


def test_reused_code_is_refused_as_used_and_issues_no_second_token(phone):
    code = phone.wx_login("alice")
    assert _login(code)[0] == 200

    status, body = _login(code)

    assert status == 400
    _assert_error(body, "wechat_code_used")
    assert AccessToken.objects.count() == 1


def test_code_older_than_five_minutes_is_invalid(phone):
    code = phone.wx_login("alice")
    WeChatLoginCode.objects.filter(code=code).update(created_at=timezone.now() - timedelta(minutes=6))

    status, body = _login(code)

    assert status == 400
    _assert_error(body, "wechat_code_invalid")
    assert Customer.objects.count() == 0


def test_unknown_code_is_invalid_and_creates_nobody(phone):
    status, body = _login("never-minted-by-wechat")

    assert status == 400
    _assert_error(body, "wechat_code_invalid")
    assert Customer.objects.count() == 0
    assert AccessToken.objects.count() == 0


def test_wechat_rate_limit_becomes_429_with_a_retry_hint(phone):
    response = APIClient().post(LOGIN_URL, {"code": phone.wx_login("alice", fail_with_errcode=45011)}, format="json")

    assert response.status_code == 429
    body = response.json()
    _assert_error(body, "wechat_rate_limited")
    assert body["error"]["details"]["retry_after_seconds"] == 60
    assert response["Retry-After"] == "60"
    assert Customer.objects.count() == 0


def test_wechat_system_busy_becomes_503_unavailable(phone):
    status, body = _login(phone.wx_login("alice", fail_with_errcode=-1))

    assert status == 503
    _assert_error(body, "wechat_unavailable")
    assert Customer.objects.count() == 0


def test_wechat_refusing_a_high_risk_user_is_a_400(phone):
    status, body = _login(phone.wx_login("alice", fail_with_errcode=40226))

    assert status == 400
    _assert_error(body, "wechat_user_blocked")
    assert Customer.objects.count() == 0


def test_wrong_app_secret_is_a_clean_502_that_reveals_nothing_to_the_shopper(phone, settings, caplog):
    settings.WECHAT_SECRET = "not-the-secret-wechat-has-on-file"
    code = phone.wx_login("alice")

    status, body = _login(code)

    assert status == 502
    _assert_error(body, "wechat_error")
    assert body["error"]["details"] == {"errcode": 40125}
    assert "secret" not in str(body).lower()
    assert WeChatLoginCode.objects.get(code=code).used_at is None
    assert Customer.objects.count() == 0
    assert any(r.levelno >= logging.ERROR and "40125" in r.getMessage() for r in caplog.records)
    assert settings.WECHAT_SECRET not in caplog.text


def test_wrong_app_id_is_a_clean_502(phone, settings):
    code = phone.wx_login("alice")
    settings.WECHAT_APPID = "wx-not-registered"

    status, body = _login(code)

    assert status == 502
    _assert_error(body, "wechat_error")
    assert body["error"]["details"] == {"errcode": 40013}
    assert Customer.objects.count() == 0


def test_an_html_answer_instead_of_json_is_a_clean_502(phone, live_server, settings):
    settings.WECHAT_API_BASE_URL = f"{live_server.url}/not-wechat"

    status, body = _login(phone.wx_login("alice"))

    assert status == 502
    _assert_error(body, "wechat_error")
    assert Customer.objects.count() == 0


# --- WeChat does not answer ----------------------------------------------------------


@pytest.fixture
def silent_server():
    """A host that accepts TCP connections (the kernel's backlog) but never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


@pytest.fixture
def closed_port_url():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


def test_wechat_that_never_answers_gives_503_within_the_timeout(db, settings, silent_server):
    settings.WECHAT_API_BASE_URL = silent_server
    settings.WECHAT_HTTP_TIMEOUT = (0.5, 0.5)

    started = time.monotonic()
    status, body = _login("any-code")
    elapsed = time.monotonic() - started

    assert status == 503
    _assert_error(body, "wechat_unavailable")
    assert elapsed < 3
    assert Customer.objects.count() == 0


def test_wechat_refusing_connections_gives_503(db, settings, closed_port_url):
    settings.WECHAT_API_BASE_URL = closed_port_url
    settings.WECHAT_HTTP_TIMEOUT = (0.5, 0.5)

    status, body = _login("any-code")

    assert status == 503
    _assert_error(body, "wechat_unavailable")
    assert Customer.objects.count() == 0


def test_connection_errors_log_neither_the_secret_nor_the_url(db, settings, closed_port_url, caplog):
    caplog.set_level(logging.DEBUG)
    settings.WECHAT_API_BASE_URL = closed_port_url

    assert _login("any-code")[0] == 503

    assert "jscode2session failed" in caplog.text
    assert settings.WECHAT_SECRET not in caplog.text


# --- One customer per (appid, openid) --------------------------------------------------


def test_openid_is_unique_per_app_in_the_database(db):
    CustomerFactory(wechat_appid="wx-app-a", openid="o-same")

    with pytest.raises(IntegrityError), transaction.atomic():
        CustomerFactory(wechat_appid="wx-app-a", openid="o-same")


def test_the_same_openid_in_another_app_is_another_customer(db):
    CustomerFactory(wechat_appid="wx-app-a", openid="o-same")
    CustomerFactory(wechat_appid="wx-app-b", openid="o-same")

    assert Customer.objects.filter(openid="o-same").count() == 2


def test_staff_without_openid_do_not_collide(db):
    Customer.objects.create_user("staff-1", openid=None)
    Customer.objects.create_user("staff-2", openid=None)

    assert Customer.objects.filter(openid__isnull=True).count() == 2


def test_losing_the_first_login_race_returns_the_winners_customer(db, settings, monkeypatch):
    """The other login inserts between our lookup and our insert: we get its row."""
    lookup = {"wechat_appid": settings.WECHAT_APPID, "openid": "o-racer"}
    real_filter = Customer.objects.filter
    calls = []

    def filter_then_lose_the_race(*args, **kwargs):
        queryset = real_filter(*args, **kwargs)
        if kwargs == lookup and not calls:
            calls.append(1)
            winner = CustomerFactory(username="wx:winner", **lookup)
            calls.append(winner)
            return queryset.none()
        return queryset

    monkeypatch.setattr(Customer.objects, "filter", filter_then_lose_the_race)

    customer, created = services._find_or_create_customer(openid="o-racer", unionid=None)

    assert created is False
    assert customer.pk == calls[1].pk
    assert Customer.objects.filter(openid="o-racer").count() == 1


def test_existing_customer_gets_the_unionid_once_wechat_reveals_it(db, settings):
    existing = CustomerFactory(wechat_appid=settings.WECHAT_APPID, openid="o-1", unionid=None)

    customer, created = services._find_or_create_customer(openid="o-1", unionid="u-1")

    assert (customer.pk, created) == (existing.pk, False)
    existing.refresh_from_db()
    assert existing.unionid == "u-1"


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_first_logins_of_one_shopper_make_one_customer(monkeypatch):
    """Both threads look the shopper up (and find nobody) before either inserts."""
    both_looked = threading.Barrier(2, timeout=10)
    real_filter = Customer.objects.filter

    class LookupThenWait:
        def __init__(self, queryset):
            self.queryset = queryset

        def first(self):
            found = self.queryset.first()
            both_looked.wait()
            return found

    def filter_in_lockstep(*args, **kwargs):
        queryset = real_filter(*args, **kwargs)
        return LookupThenWait(queryset) if kwargs.get("openid") == "o-simultaneous" else queryset

    monkeypatch.setattr(Customer.objects, "filter", filter_in_lockstep)

    results = run_in_parallel(
        lambda _: services._find_or_create_customer(openid="o-simultaneous", unionid="u-simultaneous"), 2, timeout=30
    )

    assert sorted(created for _, created in results) == [False, True]
    assert len({customer.pk for customer, _ in results}) == 1
    assert real_filter(openid="o-simultaneous").count() == 1
