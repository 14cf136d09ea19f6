"""The API's JSON renderer writes what DRF's would, byte for byte, only faster."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest
from django.utils.translation import gettext_lazy
from rest_framework import renderers
from rest_framework.utils.serializer_helpers import ReturnDict

from checkout.models import Basket
from miniprogram_api.api.renderers import JSONRenderer

SHANGHAI = ZoneInfo("Asia/Shanghai")


def both(data, accepted_media_type="application/json") -> tuple[bytes, bytes]:
    ours = JSONRenderer().render(data, accepted_media_type, {})
    drf = renderers.JSONRenderer().render(data, accepted_media_type, {})
    return ours, drf


@pytest.mark.parametrize(
    "data",
    [
        {"id": 1, "total_fen": 4313, "lines": [{"name": "光明鲜牛奶 950ml", "age_restricted": False}], "note": None},
        {"updated_at": dt.datetime(2026, 12, 8, 9, 30, 15, 123456, tzinfo=SHANGHAI)},
        {"at": dt.datetime(2026, 12, 8, 1, 30, tzinfo=dt.UTC), "day": dt.date(2026, 12, 8), "time": dt.time(22, 0)},
        {"rate": decimal.Decimal("12.50"), "id": uuid.UUID("12345678-1234-5678-1234-567812345678")},
        {"label": gettext_lazy("Delivery fee"), "status": Basket.Status.OPEN, "kinds": {"unit"}},
        {1: "int key", "nested": ReturnDict({"a": [1, 2.5, -3]}, serializer=None), "empty": [], "tuple": (1, 2)},
        {"separators": "line\u2028paragraph\u2029end", "escapes": 'quote " backslash \\ tab \t nul \x00'},
        [{"id": 9_223_372_036_854_775_807}, {"id": -9_223_372_036_854_775_808}],
        {"beyond 64 bits": 2**70},
        "a bare string",
    ],
    ids=[
        "basket-like",
        "aware-datetime",
        "utc-date-time",
        "decimal-uuid",
        "lazy-enum-set",
        "keys-subclasses",
        "js-line-separators",
        "64-bit-bounds",
        "big-int-fallback",
        "bare-string",
    ],
)
def test_it_writes_what_drfs_renderer_writes(data):
    ours, drf = both(data)

    assert ours == drf


def test_line_separators_are_escaped_so_the_body_is_also_a_javascript_literal():
    ours, _ = both({"name": "a\u2028b"})

    assert ours == b'{"name":"a\\u2028b"}'


def test_an_indented_response_asked_for_in_the_accept_header_is_still_indented():
    ours, drf = both({"id": 1, "lines": [1]}, "application/json; indent=2")

    assert ours == drf
    assert ours.startswith(b'{\n  "id": 1')


def test_nothing_renders_as_an_empty_body():
    assert JSONRenderer().render(None) == b""


def test_an_object_no_serializer_rendered_fails_as_with_drf():
    @dataclass
    class Internal:
        secret: str

    for renderer in (JSONRenderer(), renderers.JSONRenderer()):
        with pytest.raises(TypeError):
            renderer.render({"leak": Internal("token")}, "application/json", {})


def test_a_float_that_is_not_a_number_becomes_null_rather_than_a_server_error():
    assert JSONRenderer().render({"ratio": float("nan")}, "application/json", {}) == b'{"ratio":null}'
    with pytest.raises(ValueError):
        renderers.JSONRenderer().render({"ratio": float("nan")}, "application/json", {})


def test_the_api_answers_with_this_renderer(auth_client, api_client):
    for response in (auth_client.get("/api/v1/me"), api_client.get("/api/v1/me")):
        assert type(response.accepted_renderer) is JSONRenderer
        assert response["Content-Type"] == "application/json"
