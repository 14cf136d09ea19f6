"""Alipay's open API (RSA2): create, query and close trades, and verify notifications.

Spoken over real HTTP to ``ALIPAY_GATEWAY_URL`` (the built-in sandbox locally, Alipay's
``https://openapi.alipay.com/gateway.do`` in production) as a form POST in utf-8.

Choices worth knowing:

* **The payer.** ``payer_openid`` in the provider interface is a *WeChat* openid; it means
  nothing to Alipay, so it is never sent as ``buyer_open_id``. Alipay's mini-program flow
  binds the buyer when the shopper pays with ``my.tradePay({tradeNO})``; the sandbox
  accepts trades without a buyer and binds one when the payment is confirmed.
* **Unsigned answers.** Success (``10000``) and business errors (``40004``) must carry a
  valid signature over the raw ``*_response`` text, else ``PaymentProviderError``. Alipay
  answers gateway-level refusals (``40001`` missing parameter, ``40002`` invalid parameter
  such as a bad signature or app id) before it knows whose key to sign with, so those are
  accepted unsigned, and only ever as errors. Any other unsigned answer is refused.
* **Retries.** Only when the request did not reach Alipay or the connection broke
  (``requests.ConnectionError``, which includes connect timeouts). A read timeout is not
  retried: Alipay may be working on it. Every call here is safe to repeat anyway (create
  with the same ``out_trade_no`` and amount returns the same trade).
* **Errors.** ``20000`` and ``ACQ.SYSTEM_ERROR`` (whose documented remedy is "call again")
  are ``PaymentProviderUnavailable``; every other refusal is ``PaymentProviderError``;
  both carry Alipay's ``sub_code`` as ``details["provider_code"]``.
* **Close** is idempotent: a trade already closed, or one Alipay never created (nothing
  the shopper could pay), counts as closed. A paid trade cannot be closed: that is a
  ``PaymentProviderError`` with ``trade_state: "paid"`` in its details.
* **Refunds.** ``alipay.trade.refund`` is synchronous: ``fund_change`` "Y" means this
  request moved money (succeeded). "N" means it did not, either because the same
  ``out_request_no`` was already refunded (a retry) or because Alipay has not done it
  yet; only ``alipay.trade.fastpay.refund.query`` tells which, so we ask it. The answer's
  ``refund_fee`` is the trade's *cumulative* refunded amount, never this refund's, so the
  ``RefundStatus`` carries the amount we asked for (or the query's ``refund_amount``).
  A query without ``refund_status`` "REFUND_SUCCESS" means Alipay has no such refund or
  has not finished it: ``processing``, to be asked again. ``alipay.trade.refund`` takes no
  ``notify_url``: Alipay notifies a refund at the payment's ``notify_url``, as a
  ``trade_status_sync`` carrying ``out_biz_no`` (our ``out_request_no``), ``refund_fee``
  and ``gmt_refund``; those are read as a ``RefundStatus`` without an amount (the
  notification only knows the cumulative one).
* **Logs** name the method, ``out_trade_no`` and Alipay's codes, never keys, signatures
  or bodies.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings

from miniprogram_api.core import clock

from . import alipay_signing as signing
from .base import (
    CreatedPayment,
    InvalidNotification,
    PaymentProviderError,
    PaymentProviderUnavailable,
    RefundStatus,
    TradeStatus,
)

logger = logging.getLogger(__name__)

ALIPAY_TZ = ZoneInfo("Asia/Shanghai")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
MILLIS_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # a notification's gmt_refund: "2015-04-28 15:45:57.320"
REFUND_REASON_MAX_CHARS = 256
REFUND_SUCCESS = "REFUND_SUCCESS"
PRODUCT_CODE = "JSAPI_PAY"

CODE_SUCCESS = "10000"
CODE_UNAVAILABLE = "20000"
CODE_MISSING_PARAMETER = "40001"
CODE_INVALID_PARAMETER = "40002"
UNSIGNED_ERROR_CODES = frozenset({CODE_MISSING_PARAMETER, CODE_INVALID_PARAMETER})
# Alipay's own advice for ACQ.SYSTEM_ERROR is "call again": a retry-later, not a refusal.
RETRYABLE_SUB_CODES = frozenset({"ACQ.SYSTEM_ERROR"})

STATES = {
    "WAIT_BUYER_PAY": "pending",
    "TRADE_SUCCESS": "paid",
    "TRADE_FINISHED": "paid",
    "TRADE_CLOSED": "closed",
}


class Alipay:
    name = "alipay"

    def __init__(
        self,
        *,
        app_id: str,
        seller_id: str,
        gateway_url: str,
        app_private_key: rsa.RSAPrivateKey,
        alipay_public_key: rsa.RSAPublicKey,
        timeout: float | tuple[float, float] = (3, 10),
        retry_delays: Sequence[float] = (0.2, 0.5),
        session: requests.Session | None = None,
    ):
        self.app_id = app_id
        self.seller_id = seller_id
        self.gateway_url = gateway_url
        self._private_key = app_private_key
        self._public_key = alipay_public_key
        self.timeout = timeout
        self.retry_delays = tuple(retry_delays)
        # One connection per call unless a session is given: a pooled keep-alive socket
        # would outlive this short-lived object (``from_settings`` builds one per use).
        self._http = session or requests

    @classmethod
    def from_settings(cls) -> Alipay:
        return cls(
            app_id=settings.ALIPAY_APP_ID,
            seller_id=settings.ALIPAY_SELLER_ID,
            gateway_url=settings.ALIPAY_GATEWAY_URL,
            app_private_key=signing.load_private_key(settings.ALIPAY_PRIVATE_KEY_PATH),
            alipay_public_key=signing.load_public_key(settings.ALIPAY_PUBLIC_KEY_PATH),
            timeout=settings.PAYMENT_HTTP_TIMEOUT,
        )

    # --- The provider interface ---------------------------------------------------------

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
        """``alipay.trade.create``; ``payer_openid`` (WeChat's) is deliberately not sent."""
        total_amount = signing.fen_to_yuan(amount_fen)
        if amount_fen == 0:
            raise ValueError("amount_fen must be positive")
        biz = {
            "out_trade_no": out_trade_no,
            "total_amount": total_amount,
            "subject": description[:128],
            "product_code": PRODUCT_CODE,
            "seller_id": self.seller_id,
            "time_expire": format_time(expires_at),
        }
        result = self._call("alipay.trade.create", biz, notify_url=notify_url, out_trade_no=out_trade_no)
        trade_no = result.get("trade_no")
        if not isinstance(trade_no, str) or not trade_no or result.get("out_trade_no") != out_trade_no:
            logger.error("alipay.trade.create %s: success without a matching trade", out_trade_no)
            raise PaymentProviderError("Alipay answered without the trade.")
        return CreatedPayment(client_params={"tradeNO": trade_no}, provider_reference=trade_no)

    def query(self, *, out_trade_no: str) -> TradeStatus:
        result = self._call("alipay.trade.query", {"out_trade_no": out_trade_no}, out_trade_no=out_trade_no)
        try:
            return _trade_status(result, out_trade_no=out_trade_no, paid_at_field="send_pay_date")
        except ValueError as exc:
            logger.error("alipay.trade.query %s: unusable answer: %s", out_trade_no, exc)
            raise PaymentProviderError("Alipay answered with a trade we cannot read.") from None

    def close(self, *, out_trade_no: str) -> None:
        try:
            self._call("alipay.trade.close", {"out_trade_no": out_trade_no}, out_trade_no=out_trade_no)
        except PaymentProviderError as exc:
            sub_code = exc.details.get("provider_code")
            if sub_code == "ACQ.TRADE_NOT_EXIST":
                logger.info("alipay.trade.close %s: Alipay has no such trade; nothing to pay", out_trade_no)
                return
            if sub_code != "ACQ.TRADE_STATUS_ERROR":
                raise
            # Closed already (fine) or paid (not closable): only a query tells which.
            state = self.query(out_trade_no=out_trade_no).state
            if state == "closed":
                return
            raise PaymentProviderError(
                "Alipay cannot close a trade that is not awaiting payment.",
                details={**exc.details, "trade_state": state},
            ) from None

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
        """``alipay.trade.refund`` with ``out_request_no`` = ``out_refund_no``. ``total_fen`` and
        ``notify_url`` are not Alipay's parameters (it knows the trade; it notifies at the
        payment's ``notify_url``); ``total_fen`` only guards the request."""
        if isinstance(refund_fen, bool) or not isinstance(refund_fen, int) or not 0 < refund_fen <= total_fen:
            raise ValueError("refund_fen must be a whole number of fen in (0, total_fen]")
        biz = {
            "out_trade_no": out_trade_no,
            "refund_amount": signing.fen_to_yuan(refund_fen),
            "out_request_no": out_refund_no,
        }
        if reason:
            biz["refund_reason"] = reason[:REFUND_REASON_MAX_CHARS]
        result = self._call("alipay.trade.refund", biz, out_trade_no=out_trade_no)
        if result.get("out_trade_no") != out_trade_no:
            logger.error("alipay.trade.refund %s: success about another trade", out_trade_no)
            raise PaymentProviderError("Alipay answered about another trade.")
        fund_change = result.get("fund_change")
        if fund_change == "Y":
            try:
                succeeded_at = parse_time(result["gmt_refund_pay"]) if result.get("gmt_refund_pay") else None
                signing.yuan_to_fen(result.get("refund_fee"))  # the cumulative amount: must be readable
            except (TypeError, ValueError):
                logger.error("alipay.trade.refund %s: unusable success", out_trade_no)
                raise PaymentProviderError("Alipay answered with a refund we cannot read.") from None
            return RefundStatus(
                out_trade_no=out_trade_no,
                out_refund_no=out_refund_no,
                state="succeeded",
                amount_fen=refund_fen,
                succeeded_at=succeeded_at,
                raw=dict(result),
            )
        logger.info("alipay.trade.refund %s: fund_change=%s, asking the refund query", out_trade_no, fund_change)
        status = self.query_refund(out_trade_no=out_trade_no, out_refund_no=out_refund_no)
        if status.state == "succeeded":
            return status
        return RefundStatus(
            out_trade_no=out_trade_no,
            out_refund_no=out_refund_no,
            state="processing",
            amount_fen=refund_fen,
            raw=dict(result),
        )

    def query_refund(self, *, out_trade_no: str, out_refund_no: str) -> RefundStatus:
        """``alipay.trade.fastpay.refund.query``: succeeded only with ``refund_status``
        REFUND_SUCCESS; anything else (no such refund, not done yet) is ``processing``."""
        biz = {"out_trade_no": out_trade_no, "out_request_no": out_refund_no, "query_options": ["gmt_refund_pay"]}
        result = self._call("alipay.trade.fastpay.refund.query", biz, out_trade_no=out_trade_no)
        try:
            return _refund_status(result, out_trade_no=out_trade_no, out_refund_no=out_refund_no)
        except ValueError as exc:
            logger.error("alipay.trade.fastpay.refund.query %s: unusable answer: %s", out_trade_no, exc)
            raise PaymentProviderError("Alipay answered with a refund we cannot read.") from None

    def parse_notification(self, *, headers: Mapping[str, str], body: bytes) -> TradeStatus | RefundStatus:
        """Verify an asynchronous notification (form-encoded, RSA2 over the sorted fields
        without ``sign`` and ``sign_type``): a payment's (``TradeStatus``) or a refund's
        (``RefundStatus``); any doubt is ``InvalidNotification``."""
        try:
            return self._parse_notification(body)
        except InvalidNotification:
            raise
        except Exception as exc:  # a notification must never turn into a 500
            logger.warning("Alipay notification unreadable: %s", type(exc).__name__)
            raise InvalidNotification() from None

    # --- Notifications ----------------------------------------------------------------

    def _parse_notification(self, body: bytes) -> TradeStatus | RefundStatus:
        if not isinstance(body, bytes | bytearray) or not body:
            raise InvalidNotification("The notification is empty.")
        pairs = urllib.parse.parse_qsl(
            bytes(body).decode("utf-8"), keep_blank_values=True, strict_parsing=True, errors="strict"
        )
        params: dict[str, str] = {}
        for key, value in pairs:
            if key in params:
                raise InvalidNotification("A notification field appears twice.")
            params[key] = value
        signature = params.get("sign", "")
        if not signature or params.get("sign_type") != "RSA2":
            raise InvalidNotification("The notification is not signed with RSA2.")
        if params.get("charset", "utf-8").lower() != "utf-8":
            raise InvalidNotification("The notification is not in utf-8.")
        if not signing.verify(self._public_key, signing.notification_sign_content(params), signature):
            raise InvalidNotification("The notification's signature does not check out.")
        if params.get("app_id") != self.app_id:
            raise InvalidNotification("The notification is for another app.")
        if params.get("seller_id") != self.seller_id:
            raise InvalidNotification("The notification is for another seller.")
        if params.get("notify_type") != "trade_status_sync":
            raise InvalidNotification("The notification is not about a trade.")
        out_trade_no = params.get("out_trade_no", "")
        if not out_trade_no:
            raise InvalidNotification("The notification names no trade.")
        verified = {k: v for k, v in params.items() if k != "sign"}
        if verified.get("out_biz_no") and verified.get("refund_fee"):
            try:
                return _refund_notification(verified, out_trade_no=out_trade_no)
            except ValueError as exc:
                raise InvalidNotification(f"The refund notification's content is not usable: {exc}") from None
        try:
            return _trade_status(verified, out_trade_no=out_trade_no, paid_at_field="gmt_payment")
        except ValueError as exc:
            raise InvalidNotification(f"The notification's content is not usable: {exc}") from None

    # --- HTTP and the signed envelope ---------------------------------------------------

    def _call(self, method: str, biz: dict[str, Any], *, out_trade_no: str, notify_url: str = "") -> dict[str, Any]:
        params = self._signed_params(method, biz, notify_url=notify_url)
        raw = self._post(method, params, out_trade_no=out_trade_no)
        result = self.read_response(method, raw, out_trade_no=out_trade_no)
        code = result.get("code")
        if code == CODE_SUCCESS:
            return result
        sub_code = str(result.get("sub_code", ""))
        details = {"provider_code": sub_code or str(code)}
        logger.warning("%s %s: Alipay answered code=%s sub_code=%s", method, out_trade_no, code, sub_code)
        if code == CODE_UNAVAILABLE or sub_code in RETRYABLE_SUB_CODES:
            raise PaymentProviderUnavailable(details=details)
        raise PaymentProviderError(details=details)

    def _signed_params(self, method: str, biz: dict[str, Any], *, notify_url: str = "") -> dict[str, str]:
        params = {
            "app_id": self.app_id,
            "method": method,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": format_time(clock.now()),
            "version": "1.0",
            "notify_url": notify_url,
            "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":")),
        }
        params = {k: v for k, v in params.items() if v != ""}
        params["sign"] = signing.sign(self._private_key, signing.request_sign_content(params))
        return params

    def _post(self, method: str, params: dict[str, str], *, out_trade_no: str) -> str:
        delays = (*self.retry_delays, None)
        for attempt, delay in enumerate(delays, start=1):
            try:
                response = self._http.post(
                    self.gateway_url,
                    data=params,
                    headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
                    timeout=self.timeout,
                )
            except requests.ConnectionError as exc:
                logger.warning("%s %s: attempt %s failed: %s", method, out_trade_no, attempt, type(exc).__name__)
                if delay is None:
                    raise PaymentProviderUnavailable() from None
                time.sleep(delay)
                continue
            except requests.RequestException as exc:  # read timeouts and the like: no retry
                logger.warning("%s %s: failed: %s", method, out_trade_no, type(exc).__name__)
                raise PaymentProviderUnavailable() from None
            break
        if response.status_code >= 500:
            logger.warning("%s %s: gateway answered HTTP %s", method, out_trade_no, response.status_code)
            raise PaymentProviderUnavailable(details={"http_status": response.status_code})
        if response.status_code != 200:
            logger.error("%s %s: gateway answered HTTP %s", method, out_trade_no, response.status_code)
            raise PaymentProviderError(details={"http_status": response.status_code})
        try:
            return response.content.decode("utf-8")
        except UnicodeDecodeError:
            logger.error("%s %s: the answer is not utf-8", method, out_trade_no)
            raise PaymentProviderError() from None

    def read_response(self, method: str, raw: str, *, out_trade_no: str = "") -> dict[str, Any]:
        """The verified ``<method>_response`` object of a raw gateway answer.

        The signature covers the value's exact text in ``raw``, which is located by a JSON
        scan of the top-level object rather than re-serialised. Raises ``PaymentProviderError``
        for anything unreadable, unsigned (unless a 40001/40002 refusal) or mis-signed.
        """
        try:
            spans = signing.top_level_spans(raw)
        except signing.MalformedResponse:
            logger.error("%s %s: the answer is not a JSON object", method, out_trade_no)
            raise PaymentProviderError() from None
        key = method.replace(".", "_") + "_response"
        if key not in spans:
            key = "error_response"
        if key not in spans:
            logger.error("%s %s: the answer has no %s", method, out_trade_no, key)
            raise PaymentProviderError()
        start, end = spans[key]
        content = raw[start:end]
        result = json.loads(content)
        if not isinstance(result, dict):
            raise PaymentProviderError()
        signature = json.loads(raw[slice(*spans["sign"])]) if "sign" in spans else ""
        if isinstance(signature, str) and signature:
            if signing.verify(self._public_key, content, signature):
                return result
            logger.error("%s %s: the answer's signature does not check out", method, out_trade_no)
            raise PaymentProviderError("Alipay's answer could not be verified.")
        code = result.get("code")
        if code in UNSIGNED_ERROR_CODES:
            # Accepted as an error only. Trade-level sub-codes (ACQ.*) come signed; an unsigned
            # one is not believed, so it can never make us treat a trade as closed.
            if str(result.get("sub_code", "")).startswith("ACQ."):
                return {**result, "sub_code": "untrusted-unsigned"}
            return result
        logger.error("%s %s: unsigned answer with code=%s", method, out_trade_no, code)
        raise PaymentProviderError("Alipay's answer could not be verified.")


def format_time(moment: dt.datetime) -> str:
    """Alipay's "yyyy-MM-dd HH:mm:ss", always Beijing time."""
    if moment.tzinfo is None:
        raise ValueError("Alipay times are built from aware datetimes")
    return moment.astimezone(ALIPAY_TZ).strftime(TIME_FORMAT)


def parse_time(value: str) -> dt.datetime:
    return dt.datetime.strptime(value, TIME_FORMAT).replace(tzinfo=ALIPAY_TZ)


def parse_refund_time(value: str) -> dt.datetime:
    """``gmt_refund`` comes with milliseconds in notifications, without in some answers."""
    for time_format in (MILLIS_TIME_FORMAT, TIME_FORMAT):
        try:
            return dt.datetime.strptime(value, time_format).replace(tzinfo=ALIPAY_TZ)
        except ValueError:
            continue
    raise ValueError("not an Alipay time")


def _refund_status(fields: Mapping[str, Any], *, out_trade_no: str, out_refund_no: str) -> RefundStatus:
    """A ``RefundStatus`` from a verified refund query answer; ``ValueError`` if it names
    another trade or refund, or its amount or time is not what Alipay sends."""
    if fields.get("out_trade_no", out_trade_no) != out_trade_no:
        raise ValueError("the answer is about another trade")
    if fields.get("out_request_no", out_refund_no) != out_refund_no:
        raise ValueError("the answer is about another refund")
    if fields.get("refund_status") != REFUND_SUCCESS:
        return RefundStatus(
            out_trade_no=out_trade_no, out_refund_no=out_refund_no, state="processing", raw=dict(fields)
        )
    refunded_at = fields.get("gmt_refund_pay")
    if refunded_at is not None and not isinstance(refunded_at, str):
        raise ValueError("gmt_refund_pay is not a time")
    return RefundStatus(
        out_trade_no=out_trade_no,
        out_refund_no=out_refund_no,
        state="succeeded",
        amount_fen=signing.yuan_to_fen(fields.get("refund_amount")),
        succeeded_at=parse_refund_time(refunded_at) if refunded_at else None,
        raw=dict(fields),
    )


def _refund_notification(fields: Mapping[str, str], *, out_trade_no: str) -> RefundStatus:
    """The ``trade_status_sync`` Alipay sends after a refund: ``out_biz_no`` names the
    refund; ``refund_fee`` is the trade's cumulative refund, so no amount is claimed."""
    if fields.get("trade_status") not in ("TRADE_SUCCESS", "TRADE_CLOSED"):
        raise ValueError("a refund of a trade that is neither paid nor closed")
    signing.yuan_to_fen(fields.get("refund_fee"))
    refunded_at = parse_refund_time(fields["gmt_refund"]) if fields.get("gmt_refund") else None
    return RefundStatus(
        out_trade_no=out_trade_no,
        out_refund_no=fields["out_biz_no"],
        state="succeeded",
        succeeded_at=refunded_at,
        raw=dict(fields),
    )


def _trade_status(fields: Mapping[str, Any], *, out_trade_no: str, paid_at_field: str) -> TradeStatus:
    """A ``TradeStatus`` from a verified query answer or notification; ``ValueError`` if
    its trade, status, amount or time is not what Alipay sends."""
    if fields.get("out_trade_no") != out_trade_no:
        raise ValueError("the answer is about another trade")
    trade_status, trade_no = fields.get("trade_status"), fields.get("trade_no", "")
    if not isinstance(trade_status, str) or trade_status not in STATES:
        raise ValueError("unknown trade_status")
    if not isinstance(trade_no, str):
        raise ValueError("trade_no is not a string")
    state = STATES[trade_status]
    amount_fen = signing.yuan_to_fen(fields.get("total_amount"))
    paid_at = None
    paid_at_text = fields.get(paid_at_field)
    if state == "paid" and paid_at_text:
        if not isinstance(paid_at_text, str):
            raise ValueError(f"{paid_at_field} is not a time")
        paid_at = parse_time(paid_at_text)
    return TradeStatus(
        out_trade_no=out_trade_no,
        state=state,
        amount_fen=amount_fen,
        provider_trade_id=trade_no,
        paid_at=paid_at,
        raw=dict(fields),
    )
