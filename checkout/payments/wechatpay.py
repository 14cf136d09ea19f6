"""WeChat Pay API v3 for a direct merchant, JSAPI (mini-program) payments.

Spoken over real HTTP to ``WECHATPAY_BASE_URL``: ``https://api.mch.weixin.qq.com`` in
production, the built-in sandbox locally and in tests. Every request is signed with the
merchant key; every answer, errors and empty 204s included, must carry a valid platform
signature (public-key mode) or it is not believed.

What we sign as the URL is the path *after* the base URL (``/v3/pay/...`` plus query), as
WeChat Pay sees it, so the same client works behind a base URL with a path prefix (the
sandbox at ``/sandbox/wechatpay``, or a forward proxy). Path segments are percent-encoded
per RFC 3986 (everything but unreserved characters) before signing, and sent as signed.

Retries: only failures to connect are retried (twice, with a short backoff). That is safe
even when a request may have reached WeChat Pay, because every call here is idempotent:
creating again with identical parameters returns the same prepay_id, querying only reads,
closing a closed order answers 204 again, and a refund asked again with the same
``out_refund_no`` and amount is the same refund ("同一退款单号多次请求只退一笔"). Read
timeouts are not retried, so a shopper waits at most one read timeout; the caller may
retry the whole step.

Refunds (``/v3/refund/domestic/refunds``) are accepted as PROCESSING and finish later;
the result comes by a refund notification (``original_type`` "refund", decrypted like a
payment's) or by querying the refund. WeChat's ABNORMAL (the money could not reach the
shopper's card) and CLOSED both need staff, so both are ``failed`` here.

Signature timestamps (ours and WeChat's) are checked against the real wall clock, not
``core.clock``: WeChat Pay compares them with its own clock, so a test that moves business
time must not make every signature look stale.

Nothing secret reaches the logs: no Authorization header, keys, bodies or openids.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import requests
from django.conf import settings
from django.utils.dateparse import parse_datetime

from . import wechatpay_crypto as crypto
from .base import (
    CreatedPayment,
    InvalidNotification,
    PaymentProviderError,
    PaymentProviderUnavailable,
    RefundState,
    RefundStatus,
    TradeState,
    TradeStatus,
)

logger = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")
USER_AGENT = "miniprogram-backend-wechatpay/1.0"
DESCRIPTION_MAX_CHARS = 127  # WeChat Pay's limit for ``description``
REASON_MAX_BYTES = 80  # a refund's ``reason``: "不可超过80个字节"
DEFAULT_RETRY_DELAYS = (0.2, 0.5)

# WeChat Pay's trade_state -> ours. REFUND means it was paid and then (partly) refunded:
# the trade was paid; the raw state stays in ``TradeStatus.raw``.
TRADE_STATES: dict[str, TradeState] = {
    "SUCCESS": "paid",
    "REFUND": "paid",
    "NOTPAY": "pending",
    "USERPAYING": "pending",
    "CLOSED": "closed",
    "REVOKED": "closed",
    "PAYERROR": "failed",
}

# A refund's ``status`` (answers) or ``refund_status`` (notifications) -> ours.
REFUND_STATES: dict[str, RefundState] = {
    "PROCESSING": "processing",
    "SUCCESS": "succeeded",
    "CLOSED": "failed",
    "ABNORMAL": "failed",
}


class WeChatPay:
    """The ``PaymentProvider`` for WeChat Pay (see ``base.py`` for the contract)."""

    name = "wechat_pay"

    def __init__(
        self,
        *,
        appid: str,
        mchid: str,
        merchant_private_key_path: str,
        merchant_serial_no: str,
        apiv3_key: str,
        platform_public_key_path: str,
        platform_public_key_id: str,
        base_url: str,
        timeout: float | tuple[float, float],
        retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
        session: requests.Session | None = None,
    ):
        self.appid = appid
        self.mchid = mchid
        self.merchant_serial_no = merchant_serial_no
        self.platform_public_key_id = platform_public_key_id
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retry_delays = tuple(retry_delays)
        self._private_key = crypto.load_private_key(merchant_private_key_path)
        self._platform_key = crypto.load_public_key(platform_public_key_path)
        self._apiv3_key = apiv3_key
        self._http = session or requests

    @classmethod
    def from_settings(cls) -> WeChatPay:
        return cls(
            appid=settings.WECHAT_APPID,
            mchid=settings.WECHATPAY_MCHID,
            merchant_private_key_path=settings.WECHATPAY_PRIVATE_KEY_PATH,
            merchant_serial_no=settings.WECHATPAY_CERT_SERIAL,
            apiv3_key=settings.WECHATPAY_APIV3_KEY,
            platform_public_key_path=settings.WECHATPAY_PLATFORM_PUBLIC_KEY_PATH,
            platform_public_key_id=settings.WECHATPAY_PLATFORM_PUBLIC_KEY_ID,
            base_url=settings.WECHATPAY_BASE_URL,
            timeout=settings.PAYMENT_HTTP_TIMEOUT,
            retry_delays=getattr(settings, "PAYMENT_HTTP_RETRY_DELAYS", DEFAULT_RETRY_DELAYS),
        )

    # --- The provider interface -------------------------------------------------------

    def create(
        self,
        *,
        out_trade_no: str,
        amount_fen: int,
        description: str,
        payer_openid: str,
        notify_url: str,
        expires_at: dt.datetime,
    ) -> CreatedPayment:
        body = {
            "appid": self.appid,
            "mchid": self.mchid,
            "description": description[:DESCRIPTION_MAX_CHARS],
            "out_trade_no": out_trade_no,
            "time_expire": rfc3339_shanghai(expires_at),
            "notify_url": notify_url,
            "amount": {"total": amount_fen, "currency": "CNY"},
            "payer": {"openid": payer_openid},
        }
        answer = self._call("POST", "/v3/pay/transactions/jsapi", body=body)
        prepay_id = answer.get("prepay_id") if isinstance(answer, dict) else None
        if not isinstance(prepay_id, str) or not prepay_id:
            raise PaymentProviderError("WeChat Pay answered without a prepay_id.")
        return CreatedPayment(client_params=self.request_payment_params(prepay_id), provider_reference=prepay_id)

    def query(self, *, out_trade_no: str) -> TradeStatus:
        path = f"/v3/pay/transactions/out-trade-no/{_segment(out_trade_no)}?mchid={_segment(self.mchid)}"
        answer = self._call("GET", path)
        if not isinstance(answer, dict) or answer.get("out_trade_no") != out_trade_no:
            raise PaymentProviderError("WeChat Pay answered about another trade.")
        try:
            return trade_status(answer)
        except ValueError as exc:
            raise PaymentProviderError(f"WeChat Pay answered an unusable trade: {exc}") from None

    def close(self, *, out_trade_no: str) -> None:
        self._call(
            "POST", f"/v3/pay/transactions/out-trade-no/{_segment(out_trade_no)}/close", body={"mchid": self.mchid}
        )

    def refund(
        self,
        *,
        out_trade_no: str,
        out_refund_no: str,
        refund_fen: int,
        total_fen: int,
        reason: str,
        notify_url: str,
    ) -> RefundStatus:
        """``POST /v3/refund/domestic/refunds``: usually answered PROCESSING (the result follows
        by notification or query), sometimes SUCCESS at once. ``total_fen`` is the trade's
        total, which WeChat Pay checks against the trade."""
        if not _whole_fen(refund_fen) or not _whole_fen(total_fen) or not 0 < refund_fen <= total_fen:
            raise ValueError("refund_fen must be a whole number of fen in (0, total_fen]")
        body: dict[str, Any] = {"out_trade_no": out_trade_no, "out_refund_no": out_refund_no}
        reason = _truncate_utf8(reason, REASON_MAX_BYTES)
        if reason:
            body["reason"] = reason
        body["notify_url"] = notify_url
        body["amount"] = {"refund": refund_fen, "total": total_fen, "currency": "CNY"}
        answer = self._call("POST", "/v3/refund/domestic/refunds", body=body)
        status = self._read_refund(answer, out_trade_no=out_trade_no, out_refund_no=out_refund_no)
        if status.amount_fen != refund_fen:
            logger.error("WeChat Pay answered refund %s with another amount", out_refund_no)
            raise PaymentProviderError("WeChat Pay answered with another refund amount.")
        return status

    def query_refund(self, *, out_trade_no: str, out_refund_no: str) -> RefundStatus:
        """``GET /v3/refund/domestic/refunds/{out_refund_no}``. A refund WeChat Pay never
        accepted is a ``PaymentProviderError`` with ``provider_code`` RESOURCE_NOT_EXISTS:
        asking for it again with the same ``out_refund_no`` is safe."""
        answer = self._call("GET", f"/v3/refund/domestic/refunds/{_segment(out_refund_no)}")
        return self._read_refund(answer, out_trade_no=out_trade_no, out_refund_no=out_refund_no)

    def parse_notification(self, *, headers: Mapping[str, str], body: bytes) -> TradeStatus | RefundStatus:
        """Verify, decrypt and check a payment or refund notification (``TradeStatus`` or
        ``RefundStatus``); anything wrong is ``InvalidNotification``."""
        try:
            return self._parse_notification(headers, body)
        except InvalidNotification:
            raise
        except Exception as exc:  # a malformed notification must never surface as a 500
            logger.warning("WeChat Pay notification rejected: %s", type(exc).__name__)
            raise InvalidNotification() from None

    # --- What the mini-program needs ------------------------------------------------

    def request_payment_params(self, prepay_id: str) -> dict[str, str]:
        """The arguments of ``wx.requestPayment`` for this prepay_id, signed with the merchant key."""
        time_stamp = str(int(time.time()))
        nonce_str = crypto.new_nonce()
        package = f"prepay_id={prepay_id}"
        return {
            "appId": self.appid,
            "timeStamp": time_stamp,
            "nonceStr": nonce_str,
            "package": package,
            "signType": "RSA",
            "paySign": crypto.pay_sign(
                self._private_key, app_id=self.appid, time_stamp=time_stamp, nonce_str=nonce_str, package=package
            ),
        }

    def _read_refund(self, answer: Any, *, out_trade_no: str, out_refund_no: str) -> RefundStatus:
        if (
            not isinstance(answer, dict)
            or answer.get("out_refund_no") != out_refund_no
            or answer.get("out_trade_no") != out_trade_no
        ):
            logger.error("WeChat Pay answered refund %s about another refund or trade", out_refund_no)
            raise PaymentProviderError("WeChat Pay answered about another refund.")
        try:
            return refund_status(answer, status_field="status")
        except ValueError as exc:
            raise PaymentProviderError(f"WeChat Pay answered an unusable refund: {exc}") from None

    # --- HTTP ---------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, body: dict[str, Any] | None = None) -> Any:
        """Sign, send (retrying failed connections), verify; return the parsed JSON or None for 204."""
        payload = b"" if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        attempt = 0
        while True:
            try:
                response = self._send(method, path, payload)
                break
            except requests.ConnectionError as exc:  # ConnectTimeout included, ReadTimeout not
                if attempt >= len(self.retry_delays):
                    logger.warning("WeChat Pay %s %s failed: %s", method, _path_only(path), type(exc).__name__)
                    raise PaymentProviderUnavailable() from None
                time.sleep(self.retry_delays[attempt])
                attempt += 1
            except requests.RequestException as exc:
                logger.warning("WeChat Pay %s %s failed: %s", method, _path_only(path), type(exc).__name__)
                raise PaymentProviderUnavailable() from None
        return self._read(method, path, response)

    def _send(self, method: str, path: str, payload: bytes) -> requests.Response:
        # Signed afresh per attempt: a retry must not carry a stale timestamp.
        authorization = crypto.build_authorization(
            private_key=self._private_key,
            mchid=self.mchid,
            serial_no=self.merchant_serial_no,
            method=method,
            url=path,
            body=payload,
            timestamp=str(int(time.time())),
            nonce=crypto.new_nonce(),
        )
        headers = {
            "Authorization": authorization,
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            "Wechatpay-Serial": self.platform_public_key_id,
        }
        if payload:
            headers["Content-Type"] = "application/json"
        return self._http.request(
            method, self.base_url + path, data=payload or None, headers=headers, timeout=self.timeout
        )

    def _read(self, method: str, path: str, response: requests.Response) -> Any:
        status = response.status_code
        request_id = response.headers.get("Request-ID", "")
        logger.info("WeChat Pay %s %s -> HTTP %s (request %s)", method, _path_only(path), status, request_id)
        if status >= 500:
            raise PaymentProviderUnavailable(details={"http_status": status, **_error_code(response.content)})
        try:
            crypto.verify_platform_signature(
                headers=response.headers,
                body=response.content,
                public_key=self._platform_key,
                public_key_id=self.platform_public_key_id,
                now=time.time(),
            )
        except crypto.SignatureInvalid as exc:
            logger.error("WeChat Pay answer to %s %s not verified: %s", method, _path_only(path), exc)
            raise PaymentProviderError(
                "The payment provider's answer could not be verified.", details={"http_status": status}
            ) from None
        if status == 429:
            # FREQUENCY_LIMITED is WeChat asking us to slow down, not refusing the request.
            raise PaymentProviderUnavailable(details={"http_status": status, **_error_code(response.content)})
        if status >= 400:
            details = {"http_status": status, **_error_code(response.content)}
            logger.warning("WeChat Pay refused %s %s: %s", method, _path_only(path), details.get("provider_code"))
            raise PaymentProviderError(details=details)
        if status == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise PaymentProviderError("WeChat Pay answered something other than JSON.") from None

    # --- Notifications ------------------------------------------------------------------

    def _parse_notification(self, headers: Mapping[str, str], body: bytes) -> TradeStatus | RefundStatus:
        if isinstance(body, str):
            body = body.encode()
        try:
            crypto.verify_platform_signature(
                headers=headers,
                body=body,
                public_key=self._platform_key,
                public_key_id=self.platform_public_key_id,
                now=time.time(),
            )
        except crypto.SignatureInvalid as exc:
            raise InvalidNotification(f"The notification's signature does not check out: {exc}.") from None
        envelope = json.loads(body)
        if not isinstance(envelope, dict):
            raise InvalidNotification("The notification is not a JSON object.")
        resource = envelope.get("resource")
        if envelope.get("resource_type") != "encrypt-resource" or not isinstance(resource, dict):
            raise InvalidNotification("The notification carries no encrypted resource.")
        original_type = resource.get("original_type")
        if resource.get("algorithm") != "AEAD_AES_256_GCM" or original_type not in ("transaction", "refund"):
            raise InvalidNotification("The notification is not an AEAD_AES_256_GCM transaction or refund.")
        if original_type == "refund" and not str(envelope.get("event_type") or "").startswith("REFUND."):
            raise InvalidNotification("A refund resource in a notification that is not about a refund.")
        try:
            plaintext = crypto.aes_gcm_decrypt(
                apiv3_key=self._apiv3_key,
                nonce=str(resource.get("nonce") or ""),
                associated_data=str(resource.get("associated_data") or ""),
                ciphertext=str(resource.get("ciphertext") or ""),
            )
        except ValueError:
            raise InvalidNotification("The notification's resource does not decrypt.") from None
        transaction = json.loads(plaintext)
        if not isinstance(transaction, dict):
            raise InvalidNotification("The notification's transaction is not an object.")
        if original_type == "refund":
            return self._refund_notification(transaction)
        if transaction.get("appid") != self.appid or transaction.get("mchid") != self.mchid:
            raise InvalidNotification("The notification is for another app or merchant.")
        try:
            return trade_status(transaction)
        except ValueError as exc:
            raise InvalidNotification(f"The notification's transaction is unusable: {exc}.") from None

    def _refund_notification(self, refund: dict[str, Any]) -> RefundStatus:
        """A refund notification carries no appid: the merchant is what must match."""
        if refund.get("mchid") != self.mchid:
            raise InvalidNotification("The refund notification is for another merchant.")
        try:
            return refund_status(refund, status_field="refund_status")
        except ValueError as exc:
            raise InvalidNotification(f"The notification's refund is unusable: {exc}.") from None


def trade_status(transaction: Mapping[str, Any]) -> TradeStatus:
    """A WeChat Pay transaction (a query answer or a decrypted notification) as a ``TradeStatus``."""
    out_trade_no = transaction.get("out_trade_no")
    if not isinstance(out_trade_no, str) or not out_trade_no:
        raise ValueError("no out_trade_no")
    trade_state = transaction.get("trade_state")
    if trade_state not in TRADE_STATES:
        raise ValueError(f"unknown trade_state {trade_state!r}")
    amount = transaction.get("amount")
    total = amount.get("total") if isinstance(amount, dict) else None
    if total is not None and (not isinstance(total, int) or isinstance(total, bool) or total < 0):
        raise ValueError("amount.total is not a whole number of fen")
    paid_at = None
    if transaction.get("success_time"):
        paid_at = parse_datetime(str(transaction["success_time"]))
        if paid_at is None or paid_at.tzinfo is None:
            raise ValueError("success_time is not an RFC 3339 time")
    state = TRADE_STATES[trade_state]
    if state == "paid" and not transaction.get("transaction_id"):
        raise ValueError("a paid trade without transaction_id")
    return TradeStatus(
        out_trade_no=out_trade_no,
        state=state,
        amount_fen=total,
        provider_trade_id=str(transaction.get("transaction_id") or ""),
        paid_at=paid_at,
        raw=dict(transaction),
    )


def refund_status(refund: Mapping[str, Any], *, status_field: str) -> RefundStatus:
    """A WeChat Pay refund (an answer, ``status``, or a decrypted notification,
    ``refund_status``) as a ``RefundStatus``; ``ValueError`` if it is not what WeChat sends."""
    out_trade_no, out_refund_no = refund.get("out_trade_no"), refund.get("out_refund_no")
    if not isinstance(out_trade_no, str) or not out_trade_no:
        raise ValueError("no out_trade_no")
    if not isinstance(out_refund_no, str) or not out_refund_no:
        raise ValueError("no out_refund_no")
    status = refund.get(status_field)
    if status not in REFUND_STATES:
        raise ValueError(f"unknown {status_field} {status!r}")
    amount = refund.get("amount")
    refunded = amount.get("refund") if isinstance(amount, dict) else None
    if not _whole_fen(refunded):
        raise ValueError("amount.refund is not a whole number of fen")
    refund_id = refund.get("refund_id")
    if not isinstance(refund_id, str) or not refund_id:
        raise ValueError("no refund_id")
    succeeded_at = None
    if status == "SUCCESS" and refund.get("success_time"):
        succeeded_at = parse_datetime(str(refund["success_time"]))
        if succeeded_at is None or succeeded_at.tzinfo is None:
            raise ValueError("success_time is not an RFC 3339 time")
    return RefundStatus(
        out_trade_no=out_trade_no,
        out_refund_no=out_refund_no,
        state=REFUND_STATES[status],
        amount_fen=refunded,
        provider_refund_id=refund_id,
        succeeded_at=succeeded_at,
        raw=dict(refund),
    )


def rfc3339_shanghai(moment: dt.datetime) -> str:
    """``2024-06-08T10:34:56+08:00``: WeChat Pay's time format, in Beijing time."""
    if moment.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware")
    return moment.astimezone(SHANGHAI).isoformat(timespec="seconds")


def _segment(value: str) -> str:
    return quote(value, safe="")


def _whole_fen(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _truncate_utf8(text: str, max_bytes: int) -> str:
    """At most ``max_bytes`` of UTF-8, never cutting a character in two."""
    return (text or "").encode()[:max_bytes].decode("utf-8", errors="ignore")


def _path_only(path: str) -> str:
    return path.split("?", 1)[0]


def _error_code(content: bytes) -> dict[str, str]:
    """WeChat Pay's ``{code, message}``: the code is kept, the message (which may describe our
    setup or echo our parameters) is not passed on to the shopper."""
    try:
        parsed = json.loads(content)
    except ValueError:
        return {}
    code = parsed.get("code") if isinstance(parsed, dict) else None
    return {"provider_code": str(code)[:64]} if code else {}
