"""The server calls out only to the providers' configured base URLs (OWASP API7, server side
request forgery): what a shopper sends is never a URL we fetch, and text from a request
that travels in an outbound call goes as an encoded parameter, never into the host or path.

The one request field that reaches a provider as it was typed is the ``wx.login()`` code
(every other outbound call carries our own ids and amounts), so it is the one tried here.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.conf import settings
from rest_framework.test import APIClient

from miniprogram_api.accounts import wechat

pytestmark = pytest.mark.django_db

HOSTILE_CODES = [
    "x@169.254.169.254/latest/meta-data",
    "../../cgi-bin/token?grant_type=client_credential",
    "abc&appid=wxevil&secret=stolen",
    "abc#fragment",
    "http://127.0.0.1:6379/",
    "abc%2F..%2Fevil",
]


class Answer:
    status_code = 200

    def json(self):
        return {"openid": "o-outbound-test", "session_key": "sk"}


@pytest.mark.parametrize("code", HOSTILE_CODES)
def test_a_login_code_full_of_url_characters_goes_to_wechat_only_as_the_js_code_parameter(monkeypatch, code):
    sent: list[str] = []

    def get(url, params=None, **kwargs):
        sent.append(requests.Request("GET", url, params=params).prepare().url)
        return Answer()

    monkeypatch.setattr(wechat.requests, "get", get)

    response = APIClient().post("/api/v1/auth/wechat-login", {"code": code}, format="json")

    assert response.status_code in (200, 201), response.content
    (url,) = sent
    configured = urlsplit(f"{settings.WECHAT_API_BASE_URL}/sns/jscode2session")
    called = urlsplit(url)
    assert (called.scheme, called.netloc, called.path, called.fragment) == (
        configured.scheme,
        configured.netloc,
        configured.path,
        "",
    )
    assert parse_qs(called.query) == {
        "appid": [settings.WECHAT_APPID],
        "secret": [settings.WECHAT_SECRET],
        "js_code": [code],
        "grant_type": ["authorization_code"],
    }
