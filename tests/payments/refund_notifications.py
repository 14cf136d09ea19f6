"""Refund notifications as WeChat Pay and Alipay send them, built and signed here (with
``AESGCM``, the ``wechatpayv3`` library's ``rsa_sign`` and Alipay's sign string), never
with the code under test."""

from __future__ import annotations

import base64
import json
import time
import urllib.parse
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from wechatpayv3 import utils as wechatpayv3_utils

from checkout.payments import alipay_signing as signing

ALIPAY_FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def wechatpay_refund(**overrides) -> dict:
    """The decrypted resource of a REFUND.SUCCESS notification."""
    resource = {
        "mchid": settings.WECHATPAY_MCHID,
        "out_trade_no": "RF20261122000030",
        "transaction_id": "4200001234202611221234567890",
        "out_refund_no": "RF20261122000030F1",
        "refund_id": "50300202611221234567890123456",
        "refund_status": "SUCCESS",
        "success_time": "2026-11-22T12:05:06+08:00",
        "user_received_account": "支付用户零钱",
        "amount": {"total": 10000, "refund": 2550, "payer_total": 10000, "payer_refund": 2550},
    }
    resource.update(overrides)
    return resource


def wechatpay_refund_notification(
    refund: dict | None = None, *, apiv3_key: str | None = None, event_type: str = "REFUND.SUCCESS", **envelope
) -> bytes:
    """A REFUND.* notification body; ``envelope`` replaces top-level fields (``resource`` too)."""
    plaintext = json.dumps(refund or wechatpay_refund(), ensure_ascii=False).encode()
    nonce = "Ru0pn8mK2bzQ"
    key = (apiv3_key or settings.WECHATPAY_APIV3_KEY).encode()
    ciphertext = AESGCM(key).encrypt(nonce.encode(), plaintext, b"refund")
    body = {
        "id": "EV-2026112212050601",
        "create_time": "2026-11-22T12:05:07+08:00",
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": "退款成功",
        "resource": {
            "original_type": "refund",
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": base64.b64encode(ciphertext).decode(),
            "associated_data": "refund",
            "nonce": nonce,
        },
    }
    body.update(envelope)
    return json.dumps(body, ensure_ascii=False).encode()


def wechatpay_signed_headers(body: bytes, *, key_path: str | None = None, timestamp: int | None = None) -> dict:
    """WeChat Pay's signature headers over ``body``, with the platform's key unless told."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    nonce = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"
    key = serialization.load_pem_private_key(
        Path(key_path or settings.SANDBOX_WECHATPAY_PLATFORM_PRIVATE_KEY_PATH).read_bytes(), password=None
    )
    return {
        "Wechatpay-Serial": settings.WECHATPAY_PLATFORM_PUBLIC_KEY_ID,
        "Wechatpay-Timestamp": str(timestamp),
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": wechatpayv3_utils.rsa_sign(key, f"{timestamp}\n{nonce}\n{body.decode()}\n"),
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    }


def alipay_platform_key():
    pem = Path(settings.SANDBOX_ALIPAY_PLATFORM_PRIVATE_KEY_PATH).read_bytes()
    return serialization.load_pem_private_key(pem, None)


def alipay_refund_notification(**overrides) -> bytes:
    """The ``trade_status_sync`` Alipay sends after a partial refund, form-encoded and
    signed; an override of None leaves the field out."""
    fields = {
        "notify_time": "2026-11-23 10:00:01",
        "notify_type": "trade_status_sync",
        "notify_id": "2026112300222100001000000000000001",
        "app_id": settings.ALIPAY_APP_ID,
        "charset": "utf-8",
        "version": "1.0",
        "trade_no": "2026112222001400000000000001",
        "out_trade_no": "P1",
        "out_biz_no": "P1F1",
        "seller_id": settings.ALIPAY_SELLER_ID,
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "169.00",
        "refund_fee": "30.00",
        "gmt_payment": "2026-11-22 12:01:02",
        "gmt_refund": "2026-11-23 10:00:00.320",
    }
    fields.update(overrides)
    fields = {k: v for k, v in fields.items() if v is not None}
    signature = signing.sign(alipay_platform_key(), signing.notification_sign_content(fields))
    return urllib.parse.urlencode({**fields, "sign_type": "RSA2", "sign": signature}).encode()
