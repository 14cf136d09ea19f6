"""The auth edge: login input validation, bearer tokens on every endpoint, the login throttle."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern, RoutePattern
from django.utils import timezone
from django.utils.regex_helper import normalize
from rest_framework.test import APIClient

from miniprogram_api.accounts import wechat
from miniprogram_api.accounts.models import AccessToken, Customer
from miniprogram_api.accounts.tokens import issue_token
from miniprogram_api.api.throttling import LoginThrottle

LOGIN_URL = "/api/v1/auth/wechat-login"
WWW_AUTHENTICATE = 'Bearer realm="api"'


def _assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    return body["error"]


@pytest.fixture
def no_wechat_calls(monkeypatch):
    """Invalid input must be refused before anything is sent to WeChat."""

    def fail(*args, **kwargs):
        raise AssertionError("WeChat was called for input that should have been refused")

    monkeypatch.setattr(wechat.requests, "get", fail)


@pytest.fixture
def fake_wechat(monkeypatch):
    """jscode2session answering at once, for tests about our edge rather than WeChat."""
    seen: list[str] = []

    def code_to_session(code: str) -> wechat.WeChatSession:
        seen.append(code)
        return wechat.WeChatSession(openid=f"o-{len(code)}", unionid=None, session_key="sk")

    monkeypatch.setattr(wechat, "code_to_session", code_to_session)
    return seen


# --- Login input ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "code"),
        ({"code": ""}, "code"),
        ({"code": "   "}, "code"),
        ({"code": None}, "code"),
        ({"code": 123456}, "code"),
        ({"code": 1.5}, "code"),
        ({"code": True}, "code"),
        ({"code": ["abc"]}, "code"),
        ({"code": {"value": "abc"}}, "code"),
        ({"code": "x" * 129}, "code"),
        ({"code": "abc\x00def"}, "code"),
    ],
    ids=[
        "missing",
        "empty",
        "blank",
        "null",
        "integer",
        "float",
        "boolean",
        "list",
        "object",
        "too-long",
        "nul-byte",
    ],
)
def test_bad_login_code_is_a_400_validation_error_and_creates_nobody(db, no_wechat_calls, payload, field):
    response = APIClient().post(LOGIN_URL, payload, format="json")

    error = _assert_error(response, 400, "validation_error")
    assert field in error["details"]
    assert Customer.objects.count() == 0
    assert AccessToken.objects.count() == 0


@pytest.mark.parametrize("body", ["[]", '"code"', "123", "null"], ids=["array", "string", "number", "null"])
def test_login_body_that_is_not_an_object_is_a_400(db, no_wechat_calls, body):
    response = APIClient().post(LOGIN_URL, body, content_type="application/json")

    _assert_error(response, 400, "validation_error")
    assert Customer.objects.count() == 0


def test_malformed_json_is_a_400_malformed_request(db, no_wechat_calls):
    response = APIClient().post(LOGIN_URL, '{"code": "abc', content_type="application/json")

    _assert_error(response, 400, "malformed_request")
    assert Customer.objects.count() == 0


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"], ids=str
)
def test_login_body_that_is_not_json_is_a_415(db, no_wechat_calls, content_type):
    response = APIClient().post(LOGIN_URL, "code=abc", content_type=content_type)

    _assert_error(response, 415, "unsupported_media_type")
    assert Customer.objects.count() == 0


def test_multipart_form_login_is_a_415(db, no_wechat_calls):
    response = APIClient().post(LOGIN_URL, {"code": "abc"}, format="multipart")

    _assert_error(response, 415, "unsupported_media_type")
    assert Customer.objects.count() == 0


def test_code_of_exactly_128_characters_is_accepted(db, fake_wechat):
    response = APIClient().post(LOGIN_URL, {"code": "c" * 128}, format="json")

    assert response.status_code == 200
    assert fake_wechat == ["c" * 128]


def test_login_ignores_a_stale_authorization_header(db, fake_wechat):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer expired-or-garbage")

    response = client.post(LOGIN_URL, {"code": "abc"}, format="json")

    assert response.status_code == 200
    assert response.json()["created"] is True


def test_login_with_get_is_405(db, no_wechat_calls):
    response = APIClient().get(LOGIN_URL)

    _assert_error(response, 405, "method_not_allowed")


# --- Bearer tokens -------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), [("get", "/api/v1/me"), ("post", "/api/v1/auth/logout")])
def test_no_token_is_401_not_authenticated_with_a_challenge(db, method, path):
    response = getattr(APIClient(), method)(path)

    _assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == WWW_AUTHENTICATE


def test_unknown_token_is_401_invalid_token(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer definitely-not-issued")

    response = client.get("/api/v1/me")

    _assert_error(response, 401, "invalid_token")
    assert response["WWW-Authenticate"] == WWW_AUTHENTICATE


@pytest.mark.parametrize(
    "header",
    ["Token abc", "Bearer", "Bearer ", "Bearer two parts", "Basic dXNlcjpwYXNz", "abc"],
    ids=["token-scheme", "bearer-alone", "bearer-space", "three-parts", "basic", "no-scheme"],
)
def test_malformed_authorization_header_is_401(db, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    response = client.get("/api/v1/me")

    _assert_error(response, 401, "malformed_authorization")


def test_bearer_scheme_is_case_insensitive(auth_client):
    raw = auth_client._credentials["HTTP_AUTHORIZATION"].split()[1]
    auth_client.credentials(HTTP_AUTHORIZATION=f"bearer {raw}")

    assert auth_client.get("/api/v1/me").status_code == 200


def test_valid_token_reads_the_signed_in_customer(auth_client):
    response = auth_client.get("/api/v1/me")

    assert response.status_code == 200
    assert response.json()["id"] == auth_client.customer.pk
    assert set(response.json()) == {"id", "nickname", "phone", "created_at"}


def test_expired_token_is_401_token_expired(auth_client):
    AccessToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = auth_client.get("/api/v1/me")

    _assert_error(response, 401, "token_expired")


def test_logout_is_204_and_then_the_token_is_revoked(auth_client):
    response = auth_client.post("/api/v1/auth/logout")

    assert response.status_code == 204
    assert response.content == b""
    assert AccessToken.objects.get().revoked_at is not None
    _assert_error(auth_client.get("/api/v1/me"), 401, "token_revoked")
    _assert_error(auth_client.post("/api/v1/auth/logout"), 401, "token_revoked")


def test_logout_revokes_only_the_token_it_was_sent_with(auth_client):
    other_raw, _ = issue_token(customer=auth_client.customer)

    auth_client.post("/api/v1/auth/logout")

    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {other_raw}")
    assert other.get("/api/v1/me").status_code == 200


def test_disabled_customer_is_401_account_disabled(auth_client):
    Customer.objects.filter(pk=auth_client.customer.pk).update(is_active=False)

    response = auth_client.get("/api/v1/me")

    _assert_error(response, 401, "account_disabled")


# --- Every endpoint under /api/ needs a token, unless it is on this list ----------------

# A new public endpoint (say, a payment notification, authenticated by its signature) is
# added here with the reason it needs no token; anything else under /api/ must answer 401.
PUBLIC_ENDPOINTS = {
    LOGIN_URL: "there is no token before logging in",
    "/api/schema": "the OpenAPI schema is public",
    "/api/docs": "the schema's docs page is public",
    "/api/payments/wechatpay/notify": "WeChat Pay's notifications are authenticated by their signature",
    "/api/payments/alipay/notify": "Alipay's notifications are authenticated by their signature",
    # Signed with the shared secret, so no token; tests/api/test_courier_webhook.py checks the 401s.
    "/api/couriers/v1/events": "the courier provider's events are authenticated by their HMAC signature",
}
PLACEHOLDERS = {
    "int": "1",
    "str": "x",
    "slug": "x",
    "path": "x",
    "uuid": str(uuid.UUID(int=1)),
}
ROUTE_PARAM = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


def _example(pattern) -> str:
    if isinstance(pattern, RoutePattern):
        return ROUTE_PARAM.sub(lambda m: PLACEHOLDERS.get(m["converter"] or "str", "1"), str(pattern))
    if isinstance(pattern, RegexPattern):
        template, params = normalize(pattern.regex.pattern)[0]
        return template % {name: "json" if name == "format" else "1" for name in params}
    raise AssertionError(f"unknown URL pattern type {type(pattern)!r}")


def _walk(patterns, prefix: str):
    for entry in patterns:
        path = prefix + _example(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, path)
        elif isinstance(entry, URLPattern):
            yield path, entry.callback


def _methods(callback) -> list[str]:
    actions = getattr(callback, "actions", None)  # a DRF viewset's bound actions
    if actions:
        return sorted(method for method in actions if method not in {"head", "options"})
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view_class is None:
        return ["get", "post"]  # a plain function view: it must refuse both
    return [m for m in view_class.http_method_names if m not in {"head", "options", "trace"} and hasattr(view_class, m)]


def _api_endpoints() -> list[tuple[str, str]]:
    endpoints = set()
    for path, callback in _walk(get_resolver().url_patterns, "/"):
        if not path.startswith("/api/"):
            continue
        match = resolve(path)
        assert match.func is callback, f"placeholder path {path} resolves elsewhere: add a placeholder above"
        endpoints.update((method, path) for method in _methods(callback))
    return sorted(endpoints)


API_ENDPOINTS = _api_endpoints()
PROTECTED_ENDPOINTS = [(method, path) for method, path in API_ENDPOINTS if path not in PUBLIC_ENDPOINTS]

# Exit gates authenticate with their own credential (``Authorization: Gate <key_id>:<secret>``),
# never a shopper's token: everything under this prefix answers with the gate's challenge.
GATE_PREFIX = "/api/gate/"
GATE_CHALLENGE = ("gate_not_authenticated", 'Gate realm="gate"')
SHOPPER_CHALLENGE = ("not_authenticated", WWW_AUTHENTICATE)


def _expected_challenge(path: str) -> tuple[str, str]:
    return GATE_CHALLENGE if path.startswith(GATE_PREFIX) else SHOPPER_CHALLENGE


def test_endpoint_enumeration_finds_the_known_endpoints():
    assert ("get", "/api/v1/me") in PROTECTED_ENDPOINTS
    assert ("post", "/api/v1/auth/logout") in PROTECTED_ENDPOINTS
    assert ("post", "/api/gate/v1/verify") in PROTECTED_ENDPOINTS
    assert ("post", LOGIN_URL) in API_ENDPOINTS
    assert {path for _, path in API_ENDPOINTS} >= set(PUBLIC_ENDPOINTS)


@pytest.mark.parametrize(
    ("method", "path"), PROTECTED_ENDPOINTS, ids=[f"{method.upper()} {path}" for method, path in PROTECTED_ENDPOINTS]
)
def test_every_api_endpoint_refuses_a_request_without_a_token(db, method, path):
    client = APIClient()
    response = client.get(path) if method == "get" else getattr(client, method)(path, {}, format="json")

    code, challenge = _expected_challenge(path)
    _assert_error(response, 401, code)
    assert response["WWW-Authenticate"] == challenge


@pytest.mark.parametrize(
    ("method", "path"), PROTECTED_ENDPOINTS, ids=[f"{method.upper()} {path}" for method, path in PROTECTED_ENDPOINTS]
)
def test_every_api_endpoint_refuses_the_other_kind_of_credential(db, method, path):
    """A shopper's token opens no gate endpoint; a gate's credential reads no shopper's data."""
    from checkout import gates
    from tests.factories import LocationFactory

    client = APIClient()
    if path.startswith(GATE_PREFIX):
        raw, _ = issue_token(customer=Customer.objects.create_user("shopper"))
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        expected = "gate_not_authenticated"
    else:
        gate, secret = gates.create_gate(store_id=LocationFactory().pk, name="Exit 1")
        client.credentials(HTTP_AUTHORIZATION=gates.authorization_header(gate.key_id, secret))
        expected = "malformed_authorization"
    response = client.get(path) if method == "get" else getattr(client, method)(path, {}, format="json")

    _assert_error(response, 401, expected)
    assert response["WWW-Authenticate"] == _expected_challenge(path)[1]


@pytest.mark.parametrize("path", ["/api/schema", "/api/docs"])
def test_schema_and_docs_are_public(db, path):
    assert APIClient().get(path).status_code == 200


# --- Login throttle ------------------------------------------------------------------


@pytest.fixture
def two_logins_per_minute(monkeypatch):
    monkeypatch.setattr(LoginThrottle, "rate", "2/min", raising=False)


def test_third_login_in_a_minute_is_throttled_with_a_retry_after(db, no_wechat_calls, two_logins_per_minute):
    client = APIClient()
    for _ in range(2):
        assert client.post(LOGIN_URL, {}, format="json").status_code == 400

    response = client.post(LOGIN_URL, {"code": "abc"}, format="json")

    error = _assert_error(response, 429, "throttled")
    retry_after = error["details"]["retry_after_seconds"]
    assert 0 < retry_after <= 60
    assert response["Retry-After"] == str(retry_after)


def test_login_throttle_cannot_be_dodged_with_a_forged_forwarded_for(db, no_wechat_calls, two_logins_per_minute):
    client = APIClient()
    statuses = [
        client.post(LOGIN_URL, {}, format="json", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}").status_code for n in range(3)
    ]

    assert statuses == [400, 400, 429]


def test_login_throttle_counts_per_client_address(db, no_wechat_calls, two_logins_per_minute):
    client = APIClient()
    for _ in range(3):
        client.post(LOGIN_URL, {}, format="json", REMOTE_ADDR="192.0.2.1")

    assert client.post(LOGIN_URL, {}, format="json", REMOTE_ADDR="192.0.2.2").status_code == 400


def test_throttle_behind_one_proxy_counts_the_address_the_proxy_saw(
    db, no_wechat_calls, two_logins_per_minute, settings
):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    client = APIClient()

    def login(forwarded_for: str) -> int:
        return client.post(LOGIN_URL, {}, format="json", HTTP_X_FORWARDED_FOR=forwarded_for).status_code

    # The client may forge the left part; the proxy appends the address it really saw.
    assert [login(f"6.6.6.{n}, 198.51.100.7") for n in range(3)] == [400, 400, 429]
    assert login("198.51.100.8") == 400


def test_login_throttle_keeps_its_history_in_the_shared_cache(db, no_wechat_calls, two_logins_per_minute):
    """The cache is Redis in production, so every web process counts the same logins."""
    from django.core.cache import cache

    APIClient().post(LOGIN_URL, {}, format="json")

    assert len(cache.get("throttle_login_127.0.0.1")) == 1


@pytest.mark.redis
def test_login_throttle_history_is_seen_by_another_process_through_redis(db, no_wechat_calls, two_logins_per_minute):
    """Two gunicorn workers are two processes: the count must live in Redis, not in memory."""
    import os
    import subprocess
    import sys

    from django.conf import settings as django_settings

    APIClient().post(LOGIN_URL, {}, format="json")
    APIClient().post(LOGIN_URL, {}, format="json")

    other_process = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.core.cache import cache; "
            "print(len(cache.get('throttle_login_127.0.0.1') or []))",
        ],
        cwd=django_settings.BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "miniprogram_api.settings"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert other_process.stdout.strip().splitlines()[-1] == "2"
