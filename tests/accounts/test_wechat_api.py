"""The WeChat server API client: the access token (cached, refreshed before it expires,
fetched by one process at a time) and subscribe messages, over real HTTP to the sandbox on
a live server, the way it speaks to api.weixin.qq.com in production."""

from __future__ import annotations

import datetime as dt
import logging
import socket

import pytest
import requests
from django.core.cache import cache

from miniprogram_api.accounts import wechat_api
from miniprogram_api.core import clock
from miniprogram_api.sandbox.models import WeChatAccessToken, WeChatSubscribeMessage, WeChatSubscription
from tests.parallel import run_in_parallel

pytestmark = pytest.mark.django_db(transaction=True)

OPENID = "oSandboxShopper000000000001"
TEMPLATE = "sandbox-tpl-order-dispatched"
DATA = {"character_string1": "D202611230001", "time2": "2026年11月23日 09:00~12:00", "thing3": "Wang Wei"}


@pytest.fixture
def wechat(live_server, settings) -> str:
    """Our client pointed at the sandbox's WeChat on the live server."""
    settings.WECHAT_API_BASE_URL = f"{live_server.url}/sandbox/wechat"
    settings.WECHAT_HTTP_TIMEOUT = (2, 5)
    return live_server.url


@pytest.fixture
def wechat_down(settings) -> None:
    """WeChat's address answers nothing: a port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.WECHAT_API_BASE_URL = f"http://127.0.0.1:{port}"
    settings.WECHAT_HTTP_TIMEOUT = (1, 1)


def move_clock(monkeypatch, by: dt.timedelta) -> None:
    real = clock.now
    monkeypatch.setattr(clock, "now", lambda: real() + by)


def send(**overrides) -> wechat_api.SendResult:
    arguments = {"openid": OPENID, "template_id": TEMPLATE, "data": DATA, "page": "pages/order/detail?id=7"}
    return wechat_api.send_subscribe_message(**(arguments | overrides))


# --- The access token ---------------------------------------------------------------------


def test_the_token_is_fetched_once_and_reused_while_fresh(wechat):
    first = wechat_api.get_access_token()
    second = wechat_api.get_access_token()

    assert first == second
    assert list(WeChatAccessToken.objects.values_list("token", flat=True)) == [first]


def test_the_token_is_refreshed_a_margin_before_it_expires(wechat, monkeypatch, settings):
    settings.WECHAT_ACCESS_TOKEN_REFRESH_MARGIN = dt.timedelta(minutes=5)
    first = wechat_api.get_access_token()

    move_clock(monkeypatch, dt.timedelta(seconds=7200 - 300 - 5))
    assert wechat_api.get_access_token() == first  # not yet in the margin

    move_clock(monkeypatch, dt.timedelta(seconds=10))  # 7205 s in all: inside the last five minutes
    refreshed = wechat_api.get_access_token()

    assert refreshed != first
    assert WeChatAccessToken.objects.count() == 2
    assert wechat_api.get_access_token() == refreshed


def test_while_another_process_refreshes_the_token_in_hand_is_used_until_it_expires(wechat, monkeypatch):
    first = wechat_api.get_access_token()
    cache.add(wechat_api._lock_key(), "1", timeout=30)  # another process holds the refresh
    move_clock(monkeypatch, dt.timedelta(seconds=7200 - 60))  # in the margin, not expired

    assert wechat_api.get_access_token() == first
    assert WeChatAccessToken.objects.count() == 1


def test_a_refresh_whose_holder_died_is_done_here_after_a_short_wait(wechat, monkeypatch):
    monkeypatch.setattr(wechat_api, "WAIT_FOR_REFRESH_SECONDS", 0.2)
    cache.add(wechat_api._lock_key(), "1", timeout=30)  # held by a process that died

    token = wechat_api.get_access_token()

    assert WeChatAccessToken.objects.get().token == token


def test_concurrent_first_calls_fetch_one_token(wechat):
    tokens = run_in_parallel(lambda _: wechat_api.get_access_token(), 8)

    assert len(set(tokens)) == 1
    assert WeChatAccessToken.objects.count() == 1


def test_a_wrong_secret_is_our_setup_error_and_nothing_is_cached(wechat, settings, caplog):
    settings.WECHAT_SECRET = "not-the-secret-on-file"
    caplog.set_level(logging.DEBUG)

    with pytest.raises(wechat_api.WeChatApiError) as raised:
        wechat_api.get_access_token()

    assert raised.value.details == {"errcode": 40125}
    assert cache.get(wechat_api._cache_key()) is None
    assert "not-the-secret-on-file" not in caplog.text


def test_no_answer_from_wechat_is_unavailable(wechat_down):
    with pytest.raises(wechat_api.WeChatApiUnavailable):
        wechat_api.get_access_token()


def test_neither_the_secret_nor_the_token_is_logged(wechat, settings, caplog):
    caplog.set_level(logging.DEBUG)
    token = wechat_api.get_access_token()
    WeChatAccessToken.objects.all().delete()  # WeChat forgot it: 40001, refresh, send again

    assert send().outcome == "sent"

    assert token not in caplog.text
    assert settings.WECHAT_SECRET not in caplog.text
    assert all(row.token not in caplog.text for row in WeChatAccessToken.objects.all())


# --- Subscribe messages -------------------------------------------------------------------


def test_a_message_is_sent_and_the_sandbox_records_it(wechat, settings):
    result = send()

    assert result.outcome == "sent"
    message = WeChatSubscribeMessage.objects.get()
    assert result.msgid == message.msgid
    assert (message.touser, message.template_id, message.page) == (OPENID, TEMPLATE, "pages/order/detail?id=7")
    assert message.data == {keyword: {"value": value} for keyword, value in DATA.items()}
    assert message.miniprogram_state == settings.WECHAT_MINIPROGRAM_STATE == "developer"


def test_an_unknown_token_40001_is_dropped_refreshed_and_the_message_sent_once_more(wechat):
    stale = wechat_api.get_access_token()
    WeChatAccessToken.objects.filter(token=stale).delete()

    result = send()

    assert result.outcome == "sent"
    assert WeChatSubscribeMessage.objects.count() == 1
    assert wechat_api.get_access_token() != stale
    assert WeChatAccessToken.objects.count() == 1


def test_an_expired_token_42001_is_refreshed_too(wechat):
    stale = wechat_api.get_access_token()
    WeChatAccessToken.objects.filter(token=stale).update(expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))

    assert send().outcome == "sent"
    assert wechat_api.get_access_token() != stale


def test_a_token_refused_twice_is_retried_later_not_a_third_time_now(wechat, monkeypatch):
    calls = []
    real = wechat_api._send

    def token_always_refused(token, body):
        calls.append(token)
        WeChatAccessToken.objects.filter(token=token).delete()
        return real(token, body)

    monkeypatch.setattr(wechat_api, "_send", token_always_refused)

    result = send()

    assert (result.outcome, result.errcode) == ("retry", 40001)
    assert len(calls) == 2 and calls[0] != calls[1]
    assert not WeChatSubscribeMessage.objects.exists()


def test_a_shopper_who_has_not_subscribed_is_refused_not_an_error(wechat):
    reply = requests.post(
        f"{wechat}/sandbox/wechat/subscriptions",
        json={"touser": OPENID, "template_id": TEMPLATE, "status": "reject"},
        timeout=5,
    )
    assert reply.status_code == 201

    result = send()

    assert (result.outcome, result.errcode) == ("refused", 43101)
    assert not WeChatSubscribeMessage.objects.exists()
    assert send(template_id="sandbox-tpl-order-delivered", data={**DATA}).outcome == "sent"  # another template


@pytest.mark.parametrize(
    ("data", "keyword"),
    [
        ({key: value for key, value in DATA.items() if key != "thing3"}, "thing3"),
        (DATA | {"thing3": "x" * 21}, "thing3"),
        (DATA | {"time2": "tomorrow morning"}, "time2"),
        (DATA | {"character_string1": "订单 1"}, "character_string1"),
    ],
    ids=["missing", "thing-too-long", "not-a-time", "not-ascii"],
)
def test_data_that_does_not_fit_the_template_fails_with_47003(wechat, data, keyword):
    result = send(data=data)

    assert (result.outcome, result.errcode) == ("failed", 47003)
    assert keyword in result.errmsg
    assert not WeChatSubscribeMessage.objects.exists()


def test_an_unknown_template_fails_with_40037(wechat):
    result = send(template_id="no-such-template")

    assert (result.outcome, result.errcode) == ("failed", 40037)


def test_wechat_down_is_worth_retrying(wechat_down):
    result = send()

    assert result.outcome == "retry"


def test_wechat_busy_is_worth_retrying(wechat, monkeypatch):
    real = wechat_api.requests.request

    class Busy:
        status_code = 200

        @staticmethod
        def json():
            return {"errcode": -1, "errmsg": "system error"}

    def busy_sending(method, url, **kwargs):
        return Busy() if url.endswith("/subscribe/send") else real(method, url, **kwargs)

    monkeypatch.setattr(wechat_api.requests, "request", busy_sending)

    result = send()

    assert (result.outcome, result.errcode) == ("retry", -1)


def test_a_gateway_error_page_is_worth_retrying(wechat, monkeypatch):
    real = wechat_api.requests.request

    class BadGateway:
        status_code = 502

        @staticmethod
        def json():
            raise ValueError("not JSON")

    def through_a_broken_gateway(method, url, **kwargs):
        return BadGateway() if url.endswith("/subscribe/send") else real(method, url, **kwargs)

    monkeypatch.setattr(wechat_api.requests, "request", through_a_broken_gateway)

    assert send().outcome == "retry"


def test_the_lock_is_released_when_the_fetch_fails(wechat_down):
    with pytest.raises(wechat_api.WeChatApiUnavailable):
        wechat_api.get_access_token()

    assert cache.add(wechat_api._lock_key(), "1", timeout=5)  # free for the next refresh


def test_subscribing_again_lifts_a_refusal(wechat):
    WeChatSubscription.objects.create(
        appid="ignored", openid=OPENID, template_id="", status="reject", updated_at=clock.now()
    )  # another app's refusal does not count
    for status, outcome in (("reject", "refused"), ("accept", "sent")):
        requests.post(f"{wechat}/sandbox/wechat/subscriptions", json={"touser": OPENID, "status": status}, timeout=5)
        assert send().outcome == outcome
