"""Refund notifications at our notify endpoints: verified like payment ones, handed to the
refunds service, and answered in each provider's protocol.

What the refunds service does with them (once, however often they come) is tested with
it; here its ``apply_refund_status`` is replaced by a recorder to see what reaches it,
except where its refusal of a refund we never made is the point.
"""

from __future__ import annotations

import pytest

from checkout import refunds
from checkout.payments.base import RefundStatus

from .refund_notifications import (
    ALIPAY_FORM,
    alipay_refund_notification,
    wechatpay_refund,
    wechatpay_refund_notification,
    wechatpay_signed_headers,
)

WECHATPAY_NOTIFY = "/api/payments/wechatpay/notify"
ALIPAY_NOTIFY = "/api/payments/alipay/notify"


def _post_wechatpay(client, body: bytes, headers: dict | None = None):
    headers = wechatpay_signed_headers(body) if headers is None else headers
    meta = {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}
    return client.post(WECHATPAY_NOTIFY, data=body, content_type="application/json", **meta)


def test_a_wechatpay_refund_notification_reaches_the_refunds_service_and_is_acknowledged(client, db, monkeypatch):
    calls: list[dict] = []
    monkeypatch.setattr(refunds, "apply_refund_status", lambda **kwargs: calls.append(kwargs) or "succeeded")

    response = _post_wechatpay(client, wechatpay_refund_notification())

    assert response.status_code == 204
    assert len(calls) == 1
    assert (calls[0]["provider"], calls[0]["source"]) == ("wechat_pay", "notification")
    status = calls[0]["status"]
    assert isinstance(status, RefundStatus)
    assert (status.out_refund_no, status.state, status.amount_fen) == ("RF20261122000030F1", "succeeded", 2550)


@pytest.mark.parametrize(
    ("error", "message"),
    [(refunds.UnknownRefund(), "unknown_refund"), (refunds.RefundAmountMismatch(), "refund_amount_mismatch")],
)
def test_a_refund_the_service_refuses_is_answered_fail_so_wechat_retries(client, db, monkeypatch, error, message):
    def refuse(**kwargs):
        raise error

    monkeypatch.setattr(refunds, "apply_refund_status", refuse)

    response = _post_wechatpay(client, wechatpay_refund_notification())

    assert response.status_code == 400
    assert response.json() == {"code": "FAIL", "message": message}


def test_a_refund_notification_with_a_bad_signature_is_refused_before_the_service(client, db, monkeypatch):
    calls: list[dict] = []
    monkeypatch.setattr(refunds, "apply_refund_status", lambda **kwargs: calls.append(kwargs))
    body = wechatpay_refund_notification()
    headers = wechatpay_signed_headers(body)
    headers["Wechatpay-Signature"] = headers["Wechatpay-Signature"][::-1]

    response = _post_wechatpay(client, body, headers)
    tampered = _post_wechatpay(
        client, body.replace(b"REFUND.SUCCESS", b"REFUND.CLOSED"), wechatpay_signed_headers(body)
    )

    assert response.status_code == tampered.status_code == 401
    assert calls == []


def test_a_refund_notification_for_another_merchant_is_refused(client, db, monkeypatch):
    calls: list[dict] = []
    monkeypatch.setattr(refunds, "apply_refund_status", lambda **kwargs: calls.append(kwargs))

    response = _post_wechatpay(client, wechatpay_refund_notification(wechatpay_refund(mchid="1900000002")))

    assert response.status_code == 401
    assert calls == []


def test_a_verified_notification_of_a_refund_we_never_made_changes_nothing(client, db):
    """With the real service: no such refund, so WeChat is told to try again."""
    response = _post_wechatpay(client, wechatpay_refund_notification())

    assert response.status_code == 400
    assert response.json() == {"code": "FAIL", "message": "unknown_refund"}


def test_an_alipay_refund_notification_reaches_the_refunds_service(client, db, monkeypatch):
    calls: list[dict] = []
    monkeypatch.setattr(refunds, "apply_refund_status", lambda **kwargs: calls.append(kwargs) or "unchanged")

    response = client.post(ALIPAY_NOTIFY, data=alipay_refund_notification(), content_type=ALIPAY_FORM["Content-Type"])

    assert (response.status_code, response.content) == (200, b"success")
    assert [(call["provider"], call["source"], call["status"].out_refund_no) for call in calls] == [
        ("alipay", "notification", "P1F1")
    ]


def test_alipay_is_told_failure_for_a_refund_we_never_made_or_a_forged_notification(client, db):
    unknown = client.post(ALIPAY_NOTIFY, data=alipay_refund_notification(), content_type=ALIPAY_FORM["Content-Type"])
    forged = client.post(
        ALIPAY_NOTIFY,
        data=alipay_refund_notification().replace(b"refund_fee=30.00", b"refund_fee=169.00"),
        content_type=ALIPAY_FORM["Content-Type"],
    )

    assert unknown.content == forged.content == b"failure"
