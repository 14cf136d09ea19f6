"""One error shape on every API path: ``{"error": {"code", "message", "details"}}``, whatever
failed (unknown URL, wrong method, a bug, a bad Host) and whether DEBUG is on or off."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.test import Client
from rest_framework import exceptions

from miniprogram_api.api.errors import exception_handler
from miniprogram_api.core import errors as domain


def _assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    return body["error"]


@pytest.fixture(params=[False, True], ids=["debug-off", "debug-on"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


@pytest.fixture
def boom_urls(settings):
    settings.ROOT_URLCONF = "tests.api.urls_boom"


@pytest.fixture
def client_no_raise() -> Client:
    return Client(raise_request_exception=False)


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v1/me/", "/api/nope", "/api/v2/me"])
def test_unknown_api_url_is_a_json_404(db, debug, client, path):
    _assert_error(client.get(path), 404, "not_found")


def test_unknown_api_url_is_a_json_404_for_post_too(db, debug, client):
    _assert_error(client.post("/api/v1/nope", {}, content_type="application/json"), 404, "not_found")


def test_unknown_url_outside_the_api_is_left_to_django(db, client):
    response = client.get("/not-api/nope")

    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


def test_wrong_method_is_405_method_not_allowed(auth_client, debug):
    response = auth_client.delete("/api/v1/me")

    _assert_error(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]


def test_bug_in_a_drf_view_is_a_json_500_without_internals(db, debug, boom_urls, client_no_raise, caplog):
    response = client_no_raise.get("/api/v1/test-boom")

    _assert_error(response, 500, "server_error")
    assert b"secret internals" not in response.content
    assert b"Traceback" not in response.content
    assert "secret internals" in caplog.text, "the bug must still be logged for us"


def test_bug_in_a_plain_view_on_an_api_path_is_a_json_500(db, debug, boom_urls, client_no_raise):
    response = client_no_raise.get("/api/v1/test-plain-boom")

    _assert_error(response, 500, "server_error")
    assert b"secret internals" not in response.content


def test_bug_outside_the_api_is_left_to_django(db, boom_urls, client_no_raise):
    response = client_no_raise.get("/test-plain-boom")

    assert response.status_code == 500
    assert not response["Content-Type"].startswith("application/json")


def test_domain_error_keeps_its_code_message_and_details(db, boom_urls, client):
    error = _assert_error(client.get("/api/v1/test-domain-error"), 409, "basket_checked_out")

    assert error["message"] == "The basket is already checked out."
    assert error["details"] == {"id": 7}


def test_wrong_method_on_a_plain_view_on_an_api_path_is_a_json_405(db, boom_urls, client):
    response = client.get("/api/v1/test-plain-post-only")

    _assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "POST"


def test_request_for_a_host_we_do_not_serve_is_a_json_400(db, debug, client):
    response = client.get("/api/v1/me", HTTP_HOST="evil.example")

    _assert_error(response, 400, "bad_request")


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (domain.InvalidInput(), 400),
        (domain.Unauthenticated(), 401),
        (domain.NotFound(), 404),
        (domain.Conflict(), 409),
        (domain.Unprocessable(), 422),
        (domain.RateLimited(), 429),
        (domain.UpstreamError(), 502),
        (domain.UpstreamUnavailable(), 503),
        (domain.DomainError(), 400),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_each_kind_of_domain_error_has_its_status(exc, status):
    response = exception_handler(exc, {})

    assert response.status_code == status
    assert response.data == {"error": {"code": exc.code, "message": exc.message, "details": {}}}


def test_domain_rate_limit_with_a_retry_hint_sets_retry_after():
    response = exception_handler(domain.RateLimited(details={"retry_after_seconds": 30}), {})

    assert response.status_code == 429
    assert response["Retry-After"] == "30"


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (Http404(), 404, "not_found"),
        (PermissionDenied(), 403, "permission_denied"),
        (exceptions.ParseError(), 400, "malformed_request"),
        (exceptions.NotAcceptable(), 406, "not_acceptable"),
        (exceptions.APIException(), 500, "error"),
    ],
    ids=["http404", "django-permission-denied", "parse-error", "not-acceptable", "api-exception"],
)
def test_django_and_drf_exceptions_take_the_error_shape(exc, status, code):
    response = exception_handler(exc, {})

    assert response.status_code == status
    assert response.data["error"]["code"] == code
    assert set(response.data["error"]) == {"code", "message", "details"}


def test_validation_errors_list_the_fields_in_details():
    response = exception_handler(exceptions.ValidationError({"code": ["This field is required."]}), {})

    assert response.status_code == 400
    assert response.data["error"]["code"] == "validation_error"
    assert response.data["error"]["details"] == {"code": ["This field is required."]}


def test_non_field_validation_errors_are_under_non_field_errors():
    response = exception_handler(exceptions.ValidationError(["Basket is empty."]), {})

    assert response.data["error"]["details"] == {"non_field_errors": ["Basket is empty."]}


def test_an_unexpected_exception_is_not_swallowed_by_the_handler():
    assert exception_handler(RuntimeError("bug"), {}) is None
