"""The sandbox's WeChat server API answers as WeChat documents it: ``cgi-bin/token`` and
``cgi-bin/message/subscribe/send`` with their errcodes, plus the sandbox's own doors
(subscription choices, the list of messages accepted). Spoken to directly here, without
our client, so a client bug cannot hide a sandbox bug."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client
from django.utils import timezone

from miniprogram_api.sandbox.models import WeChatAccessToken, WeChatSubscribeMessage

pytestmark = pytest.mark.django_db

OPENID = "oSandboxShopper000000000002"
PAID = "sandbox-tpl-order-paid"
PAID_DATA = {
    "character_string1": {"value": "D202611230001"},
    "amount2": {"value": "¥169.00"},
    "time3": {"value": "2026年11月23日 09:00~12:00"},
    "thing4": {"value": "Near Store"},
}


@pytest.fixture
def wechat(settings) -> Client:
    settings.SANDBOX_WECHAT_APPID = "wx0000sandbox0001"
    settings.SANDBOX_WECHAT_SECRET = "sandbox-app-secret"
    return Client()


def get_token(client: Client, **overrides) -> dict:
    params = {"grant_type": "client_credential", "appid": "wx0000sandbox0001", "secret": "sandbox-app-secret"}
    response = client.get("/sandbox/wechat/cgi-bin/token", params | overrides)
    assert response.status_code == 200
    return response.json()


def send(client: Client, token: str, body: dict | str) -> dict:
    payload = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    response = client.post(
        f"/sandbox/wechat/cgi-bin/message/subscribe/send?access_token={token}",
        payload,
        content_type="application/json",
    )
    assert response.status_code == 200
    return response.json()


def message(**overrides) -> dict:
    return {"touser": OPENID, "template_id": PAID, "page": "pages/order/detail?id=1", "data": PAID_DATA} | overrides


# --- cgi-bin/token ------------------------------------------------------------------------


def test_a_token_lives_7200_seconds(wechat):
    answer = get_token(wechat)

    assert answer["expires_in"] == 7200
    row = WeChatAccessToken.objects.get(token=answer["access_token"])
    assert row.expires_at - row.issued_at == dt.timedelta(seconds=7200)


@pytest.mark.parametrize(
    ("overrides", "errcode"),
    [
        ({"secret": "wrong"}, 40125),
        ({"appid": "wx-someone-else"}, 40013),
        ({"grant_type": "authorization_code"}, 40002),
    ],
    ids=["wrong-secret", "wrong-appid", "wrong-grant-type"],
)
def test_a_token_is_refused_for_wrong_credentials(wechat, overrides, errcode):
    answer = get_token(wechat, **overrides)

    assert answer["errcode"] == errcode
    assert "access_token" not in answer
    assert not WeChatAccessToken.objects.exists()


def test_a_new_token_leaves_the_older_one_five_minutes(wechat):
    old = get_token(wechat)["access_token"]
    before = timezone.now()
    new = get_token(wechat)["access_token"]

    old_row, new_row = WeChatAccessToken.objects.get(token=old), WeChatAccessToken.objects.get(token=new)
    assert old_row.expires_at <= timezone.now() + dt.timedelta(minutes=5)
    assert old_row.expires_at >= before + dt.timedelta(minutes=5)
    assert new_row.expires_at - new_row.issued_at == dt.timedelta(seconds=7200)
    assert send(wechat, old, message())["errcode"] == 0  # still good within the five minutes


# --- subscribe/send -----------------------------------------------------------------------


def test_an_accepted_message_is_recorded_and_listed(wechat):
    token = get_token(wechat)["access_token"]

    answer = send(wechat, token, message())

    assert (answer["errcode"], answer["errmsg"]) == (0, "ok")
    recorded = WeChatSubscribeMessage.objects.get()
    assert recorded.msgid == answer["msgid"]
    assert (recorded.touser, recorded.template_id, recorded.data) == (OPENID, PAID, PAID_DATA)
    assert (recorded.miniprogram_state, recorded.lang) == ("formal", "zh_CN")  # WeChat's defaults
    listed = wechat.get("/sandbox/wechat/messages", {"touser": OPENID}).json()["messages"]
    assert [(m["msgid"], m["template_id"], m["data"]) for m in listed] == [(answer["msgid"], PAID, PAID_DATA)]
    assert wechat.get("/sandbox/wechat/messages", {"touser": "oSomeoneElse0000"}).json() == {"messages": []}


def test_an_unknown_token_is_40001_and_an_expired_one_42001(wechat):
    token = get_token(wechat)["access_token"]
    WeChatAccessToken.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    assert send(wechat, "not-a-token", message())["errcode"] == 40001
    assert send(wechat, token, message())["errcode"] == 42001
    assert not WeChatSubscribeMessage.objects.exists()


@pytest.mark.parametrize(
    ("body", "errcode", "named"),
    [
        ("{not json", 47001, ""),
        (message(touser=""), 40003, ""),
        (message(touser="o p e n i d"), 40003, ""),
        (message(template_id="tpl-nobody-added"), 40037, ""),
        (message(data={k: v for k, v in PAID_DATA.items() if k != "amount2"}), 47003, "amount2"),
        (message(data=PAID_DATA | {"amount2": {"value": "169 yuan"}}), 47003, "amount2"),
        (message(data=PAID_DATA | {"thing4": {"value": "A" * 21}}), 47003, "thing4"),
        (message(data=PAID_DATA | {"thing4": {"value": "   "}}), 47003, "thing4"),
        (message(data=PAID_DATA | {"time3": {"value": "9 to 12"}}), 47003, "time3"),
        (message(data=PAID_DATA | {"character_string1": {"value": "x" * 33}}), 47003, "character_string1"),
        (message(data=PAID_DATA | {"thing4": "Near Store"}), 47003, "thing4"),
        (message(data=[]), 47003, "data"),
        (message(miniprogram_state="beta"), 47003, "miniprogram_state"),
        (message(lang="fr_FR"), 47003, "lang"),
        (message(page="/pages/order/detail"), 41030, ""),
    ],
    ids=[
        "not-json",
        "no-touser",
        "bad-touser",
        "unknown-template",
        "keyword-missing",
        "amount-not-money",
        "thing-over-20",
        "thing-blank",
        "time-not-a-time",
        "string-over-32",
        "value-not-wrapped",
        "data-not-object",
        "bad-state",
        "bad-lang",
        "absolute-page",
    ],
)
def test_a_message_that_breaks_the_rules_is_refused_with_wechats_errcode(wechat, body, errcode, named):
    token = get_token(wechat)["access_token"]

    answer = send(wechat, token, body)

    assert answer["errcode"] == errcode, answer
    assert named in answer["errmsg"]
    assert not WeChatSubscribeMessage.objects.exists()


def test_values_in_every_form_wechat_documents_are_accepted(wechat):
    token = get_token(wechat)["access_token"]
    forms = [
        {"amount2": {"value": "169.00元"}, "time3": {"value": "15:01"}},
        {"amount2": {"value": "￥9"}, "time3": {"value": "2019-10-01 15:01:00"}},
        {"amount2": {"value": 12}, "time3": {"value": "2019年10月1日 15:01~2019年10月1日 18:00"}},
    ]
    for form in forms:
        assert send(wechat, token, message(data=PAID_DATA | form))["errcode"] == 0, form


def test_a_shopper_who_rejected_the_template_gets_43101(wechat):
    token = get_token(wechat)["access_token"]
    choice = wechat.post(
        "/sandbox/wechat/subscriptions", {"touser": OPENID, "template_id": PAID, "status": "reject"}, "application/json"
    )
    assert choice.status_code == 201

    assert send(wechat, token, message())["errcode"] == 43101
    assert send(wechat, token, message(touser="oSomeoneElse0000"))["errcode"] == 0


def test_a_rejection_of_every_template_and_a_later_acceptance_of_one(wechat):
    token = get_token(wechat)["access_token"]
    wechat.post("/sandbox/wechat/subscriptions", {"touser": OPENID, "status": "reject"}, "application/json")
    assert send(wechat, token, message())["errcode"] == 43101

    wechat.post(
        "/sandbox/wechat/subscriptions", {"touser": OPENID, "template_id": PAID, "status": "accept"}, "application/json"
    )

    assert send(wechat, token, message())["errcode"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {"status": "reject"},
        {"touser": OPENID, "status": "maybe"},
        {"touser": OPENID, "template_id": "tpl-nobody-added", "status": "reject"},
    ],
    ids=["no-touser", "bad-status", "unknown-template"],
)
def test_a_malformed_subscription_choice_is_400(wechat, body):
    response = wechat.post("/sandbox/wechat/subscriptions", body, "application/json")

    assert response.status_code == 400
