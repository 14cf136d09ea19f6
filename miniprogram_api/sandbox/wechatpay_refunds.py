"""WeChat Pay API v3 domestic refunds, as WeChat Pay documents them (direct merchant).

- ``POST /v3/refund/domestic/refunds`` ``{out_trade_no | transaction_id, out_refund_no,
  reason?, notify_url?, amount: {refund, total, currency}}`` answers the refund, signed.
- ``GET /v3/refund/domestic/refunds/{out_refund_no}`` answers it again, as it is now.

Refusals, with WeChat Pay's codes (same Authorization and signed errors as payments):
404 ``RESOURCE_NOT_EXISTS`` for an unknown trade *and* for an unpaid one ("未支付的订单
不能发起退款") or an unknown refund; 400 ``INVALID_REQUEST`` (valid format, business rule
broken) when ``amount.total`` is not the trade's total, when the refund is more than what
remains refundable (the trade's total minus every earlier refund that did not close), when
the trade already had 50 refunds, and when an ``out_refund_no`` is used again for another
trade or amount; 400 ``PARAM_ERROR`` for malformed fields. The same ``out_refund_no`` with
the same trade and amounts is the same refund, answered again ("同一退款单号多次请求只退一笔").

A new refund is PROCESSING and the trade's ``trade_state`` becomes REFUND. It becomes
SUCCESS ``SANDBOX_REFUND_SECONDS`` later (default 1; a float): a daemon thread then POSTs
the signed REFUND.SUCCESS notification (resource AEAD_AES_256_GCM under the APIv3 key,
``original_type`` "refund") to the refund's ``notify_url``, retrying after the delays in
``SANDBOX_NOTIFY_RETRY_DELAYS``. A query or repeat made after the due time answers SUCCESS
even if that thread has not run yet; whoever moves the refund to SUCCESS sends the
notification, so it is sent once. A negative ``SANDBOX_REFUND_SECONDS`` keeps refunds
PROCESSING until ``complete_refund(out_refund_no)`` (or ``POST
/sandbox/refunds/{out_refund_no}/complete``) finishes it, as SUCCESS or, to rehearse a
failure, CLOSED or ABNORMAL (which notify REFUND.CLOSED / REFUND.ABNORMAL).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import re
import secrets
import string
import threading
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from .wechatpay import (
    DEFAULT_RETRY_DELAYS,
    NOTIFY_TIMEOUT,
    PAID,
    SHANGHAI,
    _api,
    _json_object,
    _param_error,
    _Refusal,
    _rfc3339,
    _signed,
    _string,
    platform_signature_headers,
)
from .wechatpay_models import WeChatPayRefund, WeChatPayTrade

logger = logging.getLogger(__name__)

DEFAULT_REFUND_SECONDS = 1.0
MAX_REFUNDS_PER_TRADE = 50
REASON_MAX_BYTES = 80
OUT_REFUND_NO = re.compile(r"^[0-9A-Za-z_\-|*@]{1,64}$")
FINAL = (WeChatPayRefund.Status.SUCCESS, WeChatPayRefund.Status.CLOSED, WeChatPayRefund.Status.ABNORMAL)
SUMMARIES = {"SUCCESS": "退款成功", "CLOSED": "退款关闭", "ABNORMAL": "退款异常"}
# Refunds waiting to succeed or notifying in the background (tests may join them).
REFUND_THREADS: list[threading.Thread] = []
_THREADS_LOCK = threading.Lock()


# --- The API --------------------------------------------------------------------------------


@_api("POST")
def create_refund(request, mchid: str):
    body = _json_object(request)
    fields = _validate(body)
    try:
        with transaction.atomic():
            refund, created = _accept(mchid, fields)
            if created and refund.due_at is not None:
                pk, due_at = refund.pk, refund.due_at
                transaction.on_commit(lambda: _complete_when_due(pk, due_at))
    except IntegrityError:  # the same out_refund_no accepted concurrently for another trade
        raise _Refusal(400, "INVALID_REQUEST", "商户退款单号重复") from None
    return _signed(200, refund_json(_settle_if_due(refund)))


@_api("GET")
def query_refund(request, mchid: str, out_refund_no: str):
    refund = WeChatPayRefund.objects.select_related("trade").filter(mchid=mchid, out_refund_no=out_refund_no).first()
    if refund is None:
        raise _Refusal(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
    return _signed(200, refund_json(_settle_if_due(refund)))


def _validate(body: dict) -> dict[str, Any]:
    out_trade_no, transaction_id = body.get("out_trade_no"), body.get("transaction_id")
    if not out_trade_no and not transaction_id:
        raise _param_error("/out_trade_no", "transaction_id 和 out_trade_no 必须二选一")
    for name, value in (("out_trade_no", out_trade_no), ("transaction_id", transaction_id)):
        if value is not None and (not isinstance(value, str) or not 1 <= len(value) <= 32):
            raise _param_error(f"/{name}", "应为 1-32 个字符的字符串")
    out_refund_no = _string(body, "out_refund_no", max_length=64)
    if not OUT_REFUND_NO.match(out_refund_no):
        raise _param_error("/out_refund_no", "只能是数字、大小写字母_-|*@, 1-64个字符")
    reason = body.get("reason") or ""
    if not isinstance(reason, str) or len(reason.encode()) > REASON_MAX_BYTES:
        raise _param_error("/reason", "不可超过80个字节")
    notify_url = body.get("notify_url") or ""
    if notify_url:
        parts = urlsplit(notify_url) if isinstance(notify_url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
            raise _param_error("/notify_url", "应为不带参数的 http(s) 绝对地址")
        if len(notify_url) > 256:
            raise _param_error("/notify_url", "不可超过256个字符")
    amount = body.get("amount")
    if not isinstance(amount, dict):
        raise _param_error("/amount", "必填")
    for name in ("refund", "total"):
        value = amount.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise _param_error(f"/amount/{name}", "应为正整数(分)")
    if amount.get("currency") != "CNY":
        raise _param_error("/amount/currency", "必填, 只支持 CNY")
    return {
        "out_trade_no": out_trade_no,
        "transaction_id": transaction_id,
        "out_refund_no": out_refund_no,
        "reason": reason,
        "notify_url": notify_url,
        "refund_fen": amount["refund"],
        "total_fen": amount["total"],
    }


def _accept(mchid: str, fields: dict[str, Any]) -> tuple[WeChatPayRefund, bool]:
    """The refund, new or the one this ``out_refund_no`` already names; call inside a
    transaction. The trade's row is locked, so two refunds of one trade are decided in
    turn and what remains refundable is never spent twice."""
    trades = WeChatPayTrade.objects.select_for_update().filter(mchid=mchid)
    if fields["transaction_id"]:  # it wins over out_trade_no when both are given
        trade = trades.filter(transaction_id=fields["transaction_id"]).first()
    else:
        trade = trades.filter(out_trade_no=fields["out_trade_no"]).first()
    if trade is None:
        raise _Refusal(404, "RESOURCE_NOT_EXISTS", "订单不存在")
    existing = WeChatPayRefund.objects.filter(mchid=mchid, out_refund_no=fields["out_refund_no"]).first()
    if existing is not None:
        if (existing.trade_id, existing.refund_fen, existing.total_fen) != (
            trade.pk,
            fields["refund_fen"],
            fields["total_fen"],
        ):
            raise _Refusal(400, "INVALID_REQUEST", "订单金额或退款金额与之前请求不一致, 请核实后再试")
        existing.trade = trade
        return existing, False
    if trade.trade_state not in PAID:
        raise _Refusal(404, "RESOURCE_NOT_EXISTS", "订单未支付, 未支付的订单不能发起退款")
    if fields["total_fen"] != trade.amount_fen:
        raise _Refusal(400, "INVALID_REQUEST", "订单金额与原支付订单金额不一致")
    earlier = list(trade.refunds.exclude(status=WeChatPayRefund.Status.CLOSED).values_list("refund_fen", flat=True))
    if len(earlier) >= MAX_REFUNDS_PER_TRADE:
        raise _Refusal(400, "INVALID_REQUEST", "该订单部分退款次数已超过50次")
    if sum(earlier) + fields["refund_fen"] > trade.amount_fen:
        raise _Refusal(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
    now = timezone.now()
    seconds = float(getattr(settings, "SANDBOX_REFUND_SECONDS", DEFAULT_REFUND_SECONDS))
    refund = WeChatPayRefund.objects.create(
        trade=trade,
        mchid=mchid,
        out_refund_no=fields["out_refund_no"],
        refund_id=_refund_id(now),
        refund_fen=fields["refund_fen"],
        total_fen=fields["total_fen"],
        reason=fields["reason"],
        notify_url=fields["notify_url"],
        created_at=now,
        due_at=now + dt.timedelta(seconds=seconds) if seconds >= 0 else None,
    )
    WeChatPayTrade.objects.filter(pk=trade.pk).update(trade_state=WeChatPayTrade.TradeState.REFUND)
    return refund, True


def refund_json(refund: WeChatPayRefund) -> dict[str, Any]:
    """The refund as WeChat Pay answers it to a refund request or query."""
    trade = refund.trade
    answer: dict[str, Any] = {
        "refund_id": refund.refund_id,
        "out_refund_no": refund.out_refund_no,
        "transaction_id": trade.transaction_id,
        "out_trade_no": trade.out_trade_no,
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "create_time": _rfc3339(refund.created_at),
        "status": refund.status,
        "funds_account": "AVAILABLE",
        "amount": {
            "total": trade.amount_fen,
            "refund": refund.refund_fen,
            "from": [],
            "payer_total": trade.amount_fen,
            "payer_refund": refund.refund_fen,
            "settlement_refund": refund.refund_fen,
            "settlement_total": trade.amount_fen,
            "discount_refund": 0,
            "currency": "CNY",
            "refund_fee": 0,
        },
        "promotion_detail": [],
    }
    if refund.status == WeChatPayRefund.Status.SUCCESS:
        answer["success_time"] = _rfc3339(refund.success_time)
    return answer


def _refund_id(now: dt.datetime) -> str:
    digits = "".join(secrets.choice(string.digits) for _ in range(16))
    return "50300" + now.astimezone(SHANGHAI).strftime("%Y%m%d") + digits


# --- Completion -----------------------------------------------------------------------------


def _finish(refund: WeChatPayRefund, status: str, *, only_if_due: bool) -> bool:
    """PROCESSING -> ``status`` with a conditional UPDATE: True for the one caller that
    moved it (and so sends the notification)."""
    now = timezone.now()
    processing = WeChatPayRefund.objects.filter(pk=refund.pk, status=WeChatPayRefund.Status.PROCESSING)
    if only_if_due:
        processing = processing.filter(due_at__lte=now)
    changes: dict[str, Any] = {"status": status}
    if status == WeChatPayRefund.Status.SUCCESS:
        changes["success_time"] = now.replace(microsecond=0)  # WeChat Pay's times have whole seconds
    moved = bool(processing.update(**changes))
    refund.refresh_from_db()
    return moved


def _settle_if_due(refund: WeChatPayRefund) -> WeChatPayRefund:
    """Lazy completion: a refund past its due time is SUCCESS whoever looks first."""
    if (
        refund.status == WeChatPayRefund.Status.PROCESSING
        and refund.due_at is not None
        and refund.due_at <= timezone.now()
        and _finish(refund, WeChatPayRefund.Status.SUCCESS, only_if_due=True)
    ):
        _in_background(_notify, refund.pk, retry_here=True, name=f"sandbox-refund-notify-{refund.pk}")
    return refund


def _complete_when_due(refund_pk: int, due_at: dt.datetime) -> None:
    def wait_then_complete() -> None:
        for _ in range(100):  # a clock that wakes early re-checks; the bound only guards bugs
            remaining = (due_at - timezone.now()).total_seconds()
            if remaining <= 0:
                break
            time.sleep(remaining + 0.01)
        refund = WeChatPayRefund.objects.filter(pk=refund_pk).first()
        if refund is not None and _finish(refund, WeChatPayRefund.Status.SUCCESS, only_if_due=True):
            _notify(refund.pk, retry_here=True)

    _in_background(wait_then_complete, name=f"sandbox-refund-due-{refund_pk}")


def complete_refund(out_refund_no: str, *, status: str = "SUCCESS") -> dict[str, Any] | None:
    """Finish a PROCESSING refund now, as ``status`` (SUCCESS, CLOSED or ABNORMAL), and send
    its notification (first attempt now, retries in the background). None when this
    sandbox has no such refund; a refund already final stays as it is, and asking for
    another final status comes back with ``"error"``."""
    if status not in FINAL:
        raise ValueError(f"status must be one of {', '.join(FINAL)}")
    refund = WeChatPayRefund.objects.select_related("trade").filter(out_refund_no=out_refund_no).order_by("pk").first()
    if refund is None:
        return None
    result: dict[str, Any] = {"provider": "wechat_pay", "out_refund_no": out_refund_no}
    if not _finish(refund, status, only_if_due=False):
        result.update(status=refund.status, notified=refund.notified_at is not None)
        if refund.status != status:
            result["error"] = f"the refund is already {refund.status}"
        return result
    return {**result, "status": refund.status, "notified": _notify(refund.pk, retry_here=False)}


# --- The notification -----------------------------------------------------------------------


def build_refund_notification(refund: WeChatPayRefund) -> bytes:
    """The REFUND.<status> notification body, its resource encrypted under the APIv3 key."""
    trade = refund.trade
    resource: dict[str, Any] = {
        "mchid": refund.mchid,
        "out_trade_no": trade.out_trade_no,
        "transaction_id": trade.transaction_id,
        "out_refund_no": refund.out_refund_no,
        "refund_id": refund.refund_id,
        "refund_status": refund.status,
        "user_received_account": "支付用户零钱",
        "amount": {
            "total": trade.amount_fen,
            "refund": refund.refund_fen,
            "payer_total": trade.amount_fen,
            "payer_refund": refund.refund_fen,
        },
    }
    if refund.status == WeChatPayRefund.Status.SUCCESS:
        resource["success_time"] = _rfc3339(refund.success_time)
    plaintext = json.dumps(resource, ensure_ascii=False, separators=(",", ":")).encode()
    nonce = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(12))
    associated_data = "refund"
    ciphertext = AESGCM(settings.WECHATPAY_APIV3_KEY.encode()).encrypt(
        nonce.encode(), plaintext, associated_data.encode()
    )
    envelope = {
        "id": str(uuid.uuid4()),
        "create_time": _rfc3339(timezone.now()),
        "resource_type": "encrypt-resource",
        "event_type": f"REFUND.{refund.status}",
        "summary": SUMMARIES[refund.status],
        "resource": {
            "original_type": "refund",
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": base64.b64encode(ciphertext).decode(),
            "associated_data": associated_data,
            "nonce": nonce,
        },
    }
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()


def _notify(refund_pk: int, *, retry_here: bool) -> bool:
    """Deliver the refund's notification now; if it is not acknowledged, retry after the
    configured delays, in this thread (``retry_here``: already a background one) or in a
    new one. True when the first attempt was acknowledged."""
    refund = WeChatPayRefund.objects.select_related("trade").filter(pk=refund_pk).first()
    if refund is None or not refund.notify_url:
        return False
    body = build_refund_notification(refund)
    if _deliver(refund.pk, refund.notify_url, body):
        return True
    delays = list(getattr(settings, "SANDBOX_NOTIFY_RETRY_DELAYS", DEFAULT_RETRY_DELAYS))
    if not delays:
        return False

    def retries() -> None:
        for delay in delays:
            time.sleep(delay)
            if _deliver(refund.pk, refund.notify_url, body):
                return
        logger.warning("sandbox WeChat Pay gave up notifying refund %s", refund.pk)

    if retry_here:
        retries()
    else:
        _in_background(retries, name=f"sandbox-refund-retry-{refund.pk}")
    return False


def _deliver(refund_pk: int, url: str, body: bytes) -> bool:
    """One attempt, signed now; True when the merchant answered 200 or 204."""
    headers = {"Content-Type": "application/json", "User-Agent": "Mozilla/4.0", **platform_signature_headers(body)}
    try:
        response = requests.post(url, data=body, headers=headers, timeout=NOTIFY_TIMEOUT)
        accepted, outcome = response.status_code in (200, 204), f"HTTP {response.status_code}"
    except requests.RequestException as exc:
        accepted, outcome = False, type(exc).__name__
    changes: dict[str, Any] = {"notify_attempts": F("notify_attempts") + 1}
    if accepted:
        changes["notified_at"] = timezone.now()
    WeChatPayRefund.objects.filter(pk=refund_pk).update(**changes)
    logger.info("sandbox WeChat Pay refund notification for refund %s: %s", refund_pk, outcome)
    return accepted


def _in_background(target, *args, name: str, **kwargs) -> None:
    def run() -> None:
        try:
            target(*args, **kwargs)
        except Exception:  # a background thread must not die noisily mid-test teardown
            logger.exception("sandbox WeChat Pay refund thread %s failed", name)
        finally:
            connection.close()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    with _THREADS_LOCK:
        REFUND_THREADS[:] = [t for t in REFUND_THREADS if t.is_alive()] + [thread]
