"""``alipay.trade.refund`` and ``alipay.trade.fastpay.refund.query`` at the sandbox's gateway,
as Alipay documents them.

A refund is synchronous: a request Alipay accepts has moved the money when it answers
(``fund_change`` "Y"). ``refund_fee`` in the answer is the trade's *cumulative* refunded
amount. The same ``out_request_no`` with the same amount is answered again without moving
money (``fund_change`` "N"), with another amount it is ``ACQ.DISCORDANT_REPEAT_REQUEST``.
Without ``out_request_no`` the request's number is the trade's ``out_trade_no``, as at
Alipay (so one such refund per trade). Refusals: ``ACQ.TRADE_NOT_EXIST`` (unknown trade),
``ACQ.TRADE_STATUS_ERROR`` (not paid, or closed), ``ACQ.TRADE_HAS_FINISHED``,
``ACQ.REFUND_AMT_NOT_EQUAL_TOTAL`` (more than remains refundable),
``ACQ.REASON_TRADE_REFUND_FEE_ERR`` (zero), ``ACQ.INVALID_PARAMETER`` (malformed). The
refund that brings the total back to zero closes the trade (``TRADE_CLOSED``).

The refund query answers ``refund_status`` "REFUND_SUCCESS" with ``refund_amount`` (this
refund's) for a refund Alipay made, ``gmt_refund_pay`` when asked in ``query_options``,
and only the trade's and request's numbers when it knows no such refund.

After a refund Alipay sends the trade's ``trade_status_sync`` notification again to the
payment's ``notify_url`` (``alipay.trade.refund`` takes none), with ``out_biz_no`` (the
``out_request_no``), ``refund_fee`` (cumulative) and ``gmt_refund`` (milliseconds), and
``TRADE_SUCCESS`` after a partial refund or ``TRADE_CLOSED`` (with ``gmt_close``) after
the last one. The sandbox sends it from a daemon thread once the refund is committed,
retrying after ``SANDBOX_NOTIFY_RETRY_DELAYS``; ``SANDBOX_ALIPAY_REFUND_NOTIFY = False``
turns it off.
"""

from __future__ import annotations

import logging
import re
import threading
import time

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from .alipay import (
    BEIJING,
    DEFAULT_NOTIFY_RETRY_DELAYS,
    _business,
    _find,
    _format_time,
    _yuan,
    build_notification,
    post_notification,
)
from .alipay_models import AlipayRefund, AlipayTrade

logger = logging.getLogger(__name__)

_REFUND_AMOUNT = re.compile(r"(0|[1-9][0-9]{0,8})(?:\.([0-9]{1,2}))?")
MAX_REFUND_FEN = 100_000_000 * 100
# Refund notifications on their way (tests may join them).
NOTIFY_THREADS: list[threading.Thread] = []
_THREADS_LOCK = threading.Lock()


def refund(params: dict[str, str], biz: dict) -> dict:
    refund_fen = _refund_fen(biz.get("refund_amount"))
    out_request_no = biz.get("out_request_no") or biz.get("out_trade_no") or biz.get("trade_no")
    if not isinstance(out_request_no, str) or len(out_request_no) > 64:
        raise _business("ACQ.INVALID_PARAMETER", "out_request_no 不合法")
    reason = biz.get("refund_reason") or ""
    if not isinstance(reason, str) or len(reason) > 256:
        raise _business("ACQ.INVALID_PARAMETER", "refund_reason 不合法")
    with transaction.atomic():
        trade = _find(params, biz)  # locked: refunds of one trade are decided in turn
        made = trade.refunds.filter(out_request_no=out_request_no).first()
        if made is not None:
            if made.refund_fen != refund_fen:
                raise _business("ACQ.DISCORDANT_REPEAT_REQUEST", "不一致的请求")
            return _refund_answer(trade, made, fund_change="N")
        if trade.trade_status == AlipayTrade.Status.TRADE_FINISHED:
            raise _business("ACQ.TRADE_HAS_FINISHED", "交易已完结")
        if trade.trade_status != AlipayTrade.Status.TRADE_SUCCESS:
            raise _business("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
        total_fen = _fen(trade.total_amount)
        if _refunded_fen(trade) + refund_fen > total_fen:
            raise _business("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
        now = timezone.now()
        made = AlipayRefund.objects.create(
            trade=trade, out_request_no=out_request_no, refund_fen=refund_fen, refund_reason=reason, gmt_refund_pay=now
        )
        if _refunded_fen(trade) == total_fen:
            trade.trade_status, trade.gmt_close = AlipayTrade.Status.TRADE_CLOSED, now
            trade.save(update_fields=["trade_status", "gmt_close"])
        if trade.notify_url and getattr(settings, "SANDBOX_ALIPAY_REFUND_NOTIFY", True):
            refund_pk = made.pk
            transaction.on_commit(lambda: _notify_in_background(refund_pk))
        return _refund_answer(trade, made, fund_change="Y")


def refund_query(params: dict[str, str], biz: dict) -> dict:
    out_request_no = biz.get("out_request_no")
    if not isinstance(out_request_no, str) or not out_request_no:
        raise _business("ACQ.INVALID_PARAMETER", "out_request_no 不能为空")
    options = biz.get("query_options") or []
    if not isinstance(options, list):
        raise _business("ACQ.INVALID_PARAMETER", "query_options 不合法")
    with transaction.atomic():
        trade = _find(params, biz)
    answer = {"trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no, "out_request_no": out_request_no}
    made = trade.refunds.filter(out_request_no=out_request_no).first()
    if made is not None:
        answer.update(total_amount=trade.total_amount, refund_amount=_yuan(made.refund_fen))
        answer["refund_status"] = "REFUND_SUCCESS"
        if "gmt_refund_pay" in options:
            answer["gmt_refund_pay"] = _format_time(made.gmt_refund_pay)
    return answer


def _refund_answer(trade: AlipayTrade, made: AlipayRefund, *, fund_change: str) -> dict:
    answer = {
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "buyer_logon_id": "159****5620",
        "fund_change": fund_change,
        "refund_fee": _yuan(_refunded_fen(trade)),
        "gmt_refund_pay": _format_time(made.gmt_refund_pay),
    }
    if trade.buyer_id:
        answer["buyer_user_id"] = trade.buyer_id
    return answer


def _refund_fen(value: object) -> int:
    """``refund_amount``: yuan with at most two decimals, in [0.01, 100000000]."""
    match = _REFUND_AMOUNT.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise _business("ACQ.INVALID_PARAMETER", "refund_amount 格式错误")
    fen = int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))
    if fen <= 0 or fen > MAX_REFUND_FEN:
        raise _business("ACQ.REASON_TRADE_REFUND_FEE_ERR", "退款金额无效")
    return fen


def _fen(yuan: str) -> int:
    whole, _, cents = yuan.partition(".")
    return int(whole) * 100 + int(cents.ljust(2, "0") or 0)


def _refunded_fen(trade: AlipayTrade) -> int:
    return sum(trade.refunds.values_list("refund_fen", flat=True))


# --- The notification after a refund -----------------------------------------------------


def build_refund_notification(made: AlipayRefund) -> dict[str, str]:
    """The trade's ``trade_status_sync``, as it stands after ``made``, with the refund's fields."""
    trade = made.trade
    extra = {
        "out_biz_no": made.out_request_no,
        "refund_fee": _yuan(_refunded_fen(trade)),
        "gmt_refund": made.gmt_refund_pay.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
    }
    if trade.trade_status == AlipayTrade.Status.TRADE_CLOSED and trade.gmt_close:
        extra["gmt_close"] = _format_time(trade.gmt_close)
    return build_notification(trade, extra=extra)


def _notify_in_background(refund_pk: int) -> None:
    def deliver() -> None:
        try:
            made = AlipayRefund.objects.select_related("trade").filter(pk=refund_pk).first()
            if made is None:
                return
            fields = build_refund_notification(made)
            url = made.trade.notify_url
            delays = tuple(getattr(settings, "SANDBOX_NOTIFY_RETRY_DELAYS", DEFAULT_NOTIFY_RETRY_DELAYS))
            for delay in (0, *delays):
                time.sleep(delay)
                if post_notification(url, fields):
                    return
            logger.warning("sandbox alipay gave up notifying refund %s", made.out_request_no)
        except Exception:  # a background thread must not die noisily mid-test teardown
            logger.exception("sandbox alipay refund notification %s failed", refund_pk)
        finally:
            connection.close()

    thread = threading.Thread(target=deliver, daemon=True, name=f"alipay-refund-notify-{refund_pk}")
    thread.start()
    with _THREADS_LOCK:
        NOTIFY_THREADS[:] = [t for t in NOTIFY_THREADS if t.is_alive()] + [thread]
