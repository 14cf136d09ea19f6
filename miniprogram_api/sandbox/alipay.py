"""Alipay's open-API gateway (``gateway.do``) for ``alipay.trade.create/query/close``, and the
asynchronous notification Alipay sends when the shopper pays.

Behaves as Alipay documents it: parameters by form POST or query string (both merged, as
Alipay's SDKs send them); the app's RSA2 signature checked strictly with the public key
the app "uploaded" (``SANDBOX_ALIPAY_APP_PUBLIC_KEY_PATH``); answers always HTTP 200 with
``{"<method>_response": {...}, "sign": "..."}`` signed with the platform's private key
over the raw ``*_response`` text. Gateway refusals (``40001`` missing parameter, ``40002``
invalid parameter: app id, signature, timestamp...) come unsigned, as Alipay's do when it
cannot yet trust the caller; business answers (``10000``, ``40004``) and ``20000`` are signed.

Where the sandbox is more lenient than Alipay, it says so:

* ``alipay.trade.create`` with ``product_code=JSAPI_PAY`` needs a ``buyer_id`` or
  ``buyer_open_id`` at Alipay. Our shoppers are WeChat users, so the sandbox accepts a
  trade without a buyer and binds a sandbox buyer when the payment is confirmed.
* Notification retries are compressed: Alipay retries over about 25 hours (4m, 10m, 10m,
  1h, 2h, 6h, 15h); the sandbox waits ``SANDBOX_NOTIFY_RETRY_DELAYS`` seconds (default
  1, 2, 4, 8, 15) between attempts, in a background thread.

A test-only knob, ``SANDBOX_ALIPAY_FAIL_WITH`` (unset by default), maps a method to the
failure to rehearse: ``{"alipay.trade.query": "20000"}`` or ``{"...": "ACQ.SYSTEM_ERROR"}``.

Refunds (``alipay.trade.refund``, ``alipay.trade.fastpay.refund.query``) live in
``alipay_refunds.py``.

It imports nothing of ours but settings: the signing code here is the platform's own.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import json
import logging
import re
import secrets
import threading
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .models import AlipayTrade

logger = logging.getLogger(__name__)

BEIJING = ZoneInfo("Asia/Shanghai")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
TIMESTAMP_WINDOW = dt.timedelta(minutes=15)
DEFAULT_NOTIFY_RETRY_DELAYS = (1, 2, 4, 8, 15)
NOTIFY_TIMEOUT = (3, 10)
MAX_TOTAL_FEN = 100_000_000 * 100
METHODS = (
    "alipay.trade.create",
    "alipay.trade.query",
    "alipay.trade.close",
    "alipay.trade.refund",
    "alipay.trade.fastpay.refund.query",
)
REQUIRED = (
    ("method", "isv.missing-method", "缺少方法名参数"),
    ("sign", "isv.missing-signature", "缺少签名参数"),
    ("sign_type", "isv.missing-signature-type", "缺少签名类型参数"),
    ("app_id", "isv.missing-app-id", "缺少appId参数"),
    ("timestamp", "isv.missing-timestamp", "缺少时间戳参数"),
    ("version", "isv.missing-version", "缺少版本参数"),
)
MESSAGES = {
    "10000": "Success",
    "20000": "Service Currently Unavailable",
    "40001": "Missing Required Arguments",
    "40002": "Invalid Arguments",
    "40004": "Business Failed",
}
_AMOUNT = re.compile(r"(0|[1-9][0-9]{0,8})(?:\.([0-9]{1,2}))?")
_OUT_TRADE_NO = re.compile(r"[A-Za-z0-9_]{1,64}")
PAID = (AlipayTrade.Status.TRADE_SUCCESS, AlipayTrade.Status.TRADE_FINISHED)


class Refusal(Exception):
    def __init__(self, code: str, sub_code: str, sub_msg: str):
        self.code, self.sub_code, self.sub_msg = code, sub_code, sub_msg
        super().__init__(sub_code)


def _business(sub_code: str, sub_msg: str) -> Refusal:
    return Refusal("40004", sub_code, sub_msg)


# --- What Alipay has on file ------------------------------------------------------------


def _app_id() -> str:
    return getattr(settings, "SANDBOX_ALIPAY_APP_ID", settings.ALIPAY_APP_ID)


def _seller_id() -> str:
    return getattr(settings, "SANDBOX_ALIPAY_SELLER_ID", settings.ALIPAY_SELLER_ID)


@functools.lru_cache(maxsize=8)
def _pem(path: str, mtime_ns: int, private: bool):
    data = Path(path).read_bytes()
    return serialization.load_pem_private_key(data, None) if private else serialization.load_pem_public_key(data)


def _app_public_key():
    path = settings.SANDBOX_ALIPAY_APP_PUBLIC_KEY_PATH
    return _pem(str(path), Path(path).stat().st_mtime_ns, False)


def _platform_private_key():
    path = settings.SANDBOX_ALIPAY_PLATFORM_PRIVATE_KEY_PATH
    return _pem(str(path), Path(path).stat().st_mtime_ns, True)


def _rsa2_sign(content: str) -> str:
    signature = _platform_private_key().sign(content.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def _rsa2_verify(content: str, signature: str) -> bool:
    try:
        raw = base64.b64decode(signature, validate=True)
        _app_public_key().verify(raw, content.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def _sign_content(params: dict[str, str], *, exclude: tuple[str, ...]) -> str:
    return "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in exclude and v != "")


# --- The gateway ------------------------------------------------------------------------


def _answer(key: str, content: dict, *, signed: bool) -> HttpResponse:
    text = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    body = f'{{"{key}":{text}'
    if signed:
        body += f',"sign":"{_rsa2_sign(text)}"'
    return HttpResponse(body + "}", content_type="application/json;charset=utf-8")


@csrf_exempt
@require_http_methods(["GET", "POST"])
def gateway(request):
    params = {key: request.GET.get(key, "") for key in request.GET}
    params.update({key: request.POST.get(key, "") for key in request.POST})
    method = params.get("method", "")
    key = method.replace(".", "_") + "_response" if method in METHODS else "error_response"
    try:
        _authenticate(params, method)
    except Refusal as refusal:
        logger.info("sandbox alipay gateway refused %s: %s", method or "-", refusal.sub_code)
        content = {"code": refusal.code, "msg": MESSAGES[refusal.code]}
        content.update({"sub_code": refusal.sub_code, "sub_msg": refusal.sub_msg})
        return _answer(key, content, signed=False)
    try:
        forced = getattr(settings, "SANDBOX_ALIPAY_FAIL_WITH", {}).get(method)
        if forced == "20000":
            raise Refusal("20000", "aop.unknow-error", "系统繁忙")
        if forced:
            raise _business(forced, "sandbox: rehearsed failure")
        try:
            biz = json.loads(params.get("biz_content") or "{}")
        except ValueError:
            raise _business("ACQ.INVALID_PARAMETER", "biz_content is not JSON") from None
        if not isinstance(biz, dict):
            raise _business("ACQ.INVALID_PARAMETER", "biz_content is not a JSON object")
        handler = _handlers()[method]
        content = {"code": "10000", "msg": "Success", **handler(params, biz)}
    except Refusal as refusal:
        content = {"code": refusal.code, "msg": MESSAGES[refusal.code]}
        content.update({"sub_code": refusal.sub_code, "sub_msg": refusal.sub_msg})
    return _answer(key, content, signed=True)


def _handlers():
    from . import alipay_refunds  # refunds build on this module's trades and signatures

    return {
        "alipay.trade.create": _create,
        "alipay.trade.query": _query,
        "alipay.trade.close": _close,
        "alipay.trade.refund": alipay_refunds.refund,
        "alipay.trade.fastpay.refund.query": alipay_refunds.refund_query,
    }


def _authenticate(params: dict[str, str], method: str) -> None:
    """The gateway's checks, before any business logic: 40001 and 40002 refusals."""
    for name, sub_code, sub_msg in REQUIRED:
        if not params.get(name):
            raise Refusal("40001", sub_code, sub_msg)
    if method not in METHODS:
        raise Refusal("40002", "isv.invalid-method", "不存在的方法名")
    if params["app_id"] != _app_id():
        raise Refusal("40002", "isv.invalid-app-id", "无效的AppID参数")
    if params["sign_type"] != "RSA2":
        raise Refusal("40002", "isv.invalid-signature-type", "无效的签名类型")
    if not _rsa2_verify(_sign_content(params, exclude=("sign",)), params["sign"]):
        raise Refusal("40002", "isv.invalid-signature", "验签出错")
    if params.get("charset", "utf-8").lower() != "utf-8":
        raise Refusal("40002", "isv.invalid-charset", "字符集错误")
    if params.get("format", "JSON").upper() != "JSON":
        raise Refusal("40002", "isv.invalid-format", "无效的数据格式")
    if params["version"] != "1.0":
        raise Refusal("40002", "isv.invalid-version", "无效的版本号")
    try:
        sent_at = _parse_time(params["timestamp"])
    except ValueError:
        raise Refusal("40002", "isv.invalid-timestamp", "非法的时间戳参数") from None
    if abs(timezone.now() - sent_at) > TIMESTAMP_WINDOW:
        raise Refusal("40002", "isv.invalid-timestamp", "非法的时间戳参数")


def _parse_time(value: str) -> dt.datetime:
    return dt.datetime.strptime(value, TIME_FORMAT).replace(tzinfo=BEIJING)


def _format_time(moment: dt.datetime) -> str:
    return moment.astimezone(BEIJING).strftime(TIME_FORMAT)


def _amount_fen(value: object) -> int:
    """Alipay takes yuan with at most two decimals, in [0.01, 100000000]."""
    match = _AMOUNT.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise _business("ACQ.INVALID_PARAMETER", "total_amount 格式错误")
    fen = int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))
    if fen <= 0:
        raise _business("ACQ.INVALID_PARAMETER", "total_amount 必须大于0")
    if fen > MAX_TOTAL_FEN:
        raise _business("ACQ.TOTAL_FEE_EXCEED", "订单金额超过限额")
    return fen


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _new_trade_no(now: dt.datetime) -> str:
    return now.astimezone(BEIJING).strftime("%Y%m%d") + "22" + f"{secrets.randbelow(10**18):018d}"


def _expire_if_due(trade: AlipayTrade, now: dt.datetime) -> None:
    """Alipay closes an unpaid trade at its ``time_expire``; the sandbox does it on sight."""
    if trade.trade_status == AlipayTrade.Status.WAIT_BUYER_PAY and trade.time_expire and trade.time_expire <= now:
        trade.trade_status, trade.gmt_close = AlipayTrade.Status.TRADE_CLOSED, now
        trade.save(update_fields=["trade_status", "gmt_close"])


def _find(params: dict[str, str], biz: dict) -> AlipayTrade:
    """The trade named by ``trade_no`` (which wins when both are given, as at Alipay) or
    ``out_trade_no``, locked; call inside a transaction."""
    out_trade_no, trade_no = biz.get("out_trade_no"), biz.get("trade_no")
    if not out_trade_no and not trade_no:
        raise _business("ACQ.INVALID_PARAMETER", "out_trade_no 和 trade_no 不能同时为空")
    trades = AlipayTrade.objects.select_for_update().filter(app_id=params["app_id"])
    lookup = {"trade_no": str(trade_no)} if trade_no else {"out_trade_no": str(out_trade_no)}
    trade = trades.filter(**lookup).first()
    if trade is None:
        raise _business("ACQ.TRADE_NOT_EXIST", "交易不存在")
    _expire_if_due(trade, timezone.now())
    return trade


def _create(params: dict[str, str], biz: dict) -> dict:
    out_trade_no, subject = biz.get("out_trade_no"), biz.get("subject")
    if not isinstance(out_trade_no, str) or not _OUT_TRADE_NO.fullmatch(out_trade_no):
        raise _business("ACQ.INVALID_PARAMETER", "out_trade_no 不合法")
    if not isinstance(subject, str) or not subject or len(subject) > 256:
        raise _business("ACQ.INVALID_PARAMETER", "subject 不合法")
    total_fen = _amount_fen(biz.get("total_amount"))
    seller_id = biz.get("seller_id") or _seller_id()
    if seller_id != _seller_id():
        raise _business("ACQ.INVALID_PARAMETER", "seller_id 与应用的商户不一致")
    time_expire = None
    if biz.get("time_expire"):
        try:
            time_expire = _parse_time(str(biz["time_expire"]))
        except ValueError:
            raise _business("ACQ.INVALID_PARAMETER", "time_expire 格式错误") from None
    notify_url = params.get("notify_url", "")
    if notify_url and not notify_url.startswith(("http://", "https://")):
        raise _business("ACQ.INVALID_PARAMETER", "notify_url 不合法")
    buyer_open_id, buyer_id = str(biz.get("buyer_open_id") or ""), str(biz.get("buyer_id") or "")
    now = timezone.now()
    try:
        with transaction.atomic():
            trade, created = AlipayTrade.objects.select_for_update().get_or_create(
                app_id=params["app_id"],
                out_trade_no=out_trade_no,
                defaults={
                    "trade_no": _new_trade_no(now),
                    "total_amount": _yuan(total_fen),
                    "subject": subject,
                    "product_code": str(biz.get("product_code") or ""),
                    "seller_id": seller_id,
                    "buyer_id": buyer_id,
                    "buyer_open_id": buyer_open_id,
                    "notify_url": notify_url,
                    "time_expire": time_expire,
                    "created_at": now,
                },
            )
            if not created:
                _same_trade_or_refuse(trade, total_fen, buyer_id, buyer_open_id, now)
    except IntegrityError:  # another create of this out_trade_no won the race
        trade = AlipayTrade.objects.get(app_id=params["app_id"], out_trade_no=out_trade_no)
        _same_trade_or_refuse(trade, total_fen, buyer_id, buyer_open_id, now)
    return {"out_trade_no": trade.out_trade_no, "trade_no": trade.trade_no}


def _same_trade_or_refuse(trade, total_fen, buyer_id, buyer_open_id, now) -> None:
    """A repeated create of one ``out_trade_no`` returns the trade Alipay already holds,
    unless it is paid, closed, or the request disagrees with it."""
    _expire_if_due(trade, now)
    if trade.trade_status in PAID:
        raise _business("ACQ.TRADE_HAS_SUCCESS", "交易已被支付")
    if trade.trade_status == AlipayTrade.Status.TRADE_CLOSED:
        raise _business("ACQ.TRADE_HAS_CLOSE", "交易已经关闭")
    if _amount_fen(trade.total_amount) != total_fen:
        raise _business("ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改")
    if (buyer_id and trade.buyer_id and buyer_id != trade.buyer_id) or (
        buyer_open_id and trade.buyer_open_id and buyer_open_id != trade.buyer_open_id
    ):
        raise _business("ACQ.TRADE_BUYER_NOT_MATCH", "交易买家不匹配")


def _query(params: dict[str, str], biz: dict) -> dict:
    with transaction.atomic():
        trade = _find(params, biz)
    paid = trade.trade_status in PAID
    answer = {
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "trade_status": trade.trade_status,
        "total_amount": trade.total_amount,
        "buyer_pay_amount": trade.total_amount if paid else "0.00",
        "receipt_amount": trade.total_amount if paid else "0.00",
        "invoice_amount": trade.total_amount if paid else "0.00",
        "point_amount": "0.00",
    }
    if trade.buyer_id:
        answer["buyer_user_id"] = trade.buyer_id
    if trade.buyer_open_id:
        answer["buyer_open_id"] = trade.buyer_open_id
    if paid and trade.gmt_payment:
        answer["send_pay_date"] = _format_time(trade.gmt_payment)
        answer["fund_bill_list"] = [{"fund_channel": "ALIPAYACCOUNT", "amount": trade.total_amount}]
    return answer


def _close(params: dict[str, str], biz: dict) -> dict:
    with transaction.atomic():
        trade = _find(params, biz)
        if trade.trade_status != AlipayTrade.Status.WAIT_BUYER_PAY:
            raise _business("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
        trade.trade_status, trade.gmt_close = AlipayTrade.Status.TRADE_CLOSED, timezone.now()
        trade.save(update_fields=["trade_status", "gmt_close"])
    return {"trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no}


# --- The shopper pays, Alipay notifies ----------------------------------------------------


def confirm_trade(out_trade_no: str) -> dict | None:
    """The shopper pays on the phone: ``WAIT_BUYER_PAY`` becomes ``TRADE_SUCCESS`` and the
    notification goes to the trade's ``notify_url`` (first attempt now, retries in the
    background). ``None`` when this sandbox holds no such trade; a closed trade cannot be
    paid and comes back with ``"error": "trade_closed"``. Confirming a paid trade again
    sends its notification again, as Alipay's retries would."""
    now = timezone.now()
    with transaction.atomic():
        trade = AlipayTrade.objects.select_for_update().filter(out_trade_no=out_trade_no).order_by("pk").first()
        if trade is None:
            return None
        _expire_if_due(trade, now)
        result = {"provider": "alipay", "out_trade_no": out_trade_no, "trade_status": trade.trade_status}
        if trade.trade_status == AlipayTrade.Status.TRADE_CLOSED:
            return {**result, "notified": False, "error": "trade_closed"}
        if trade.trade_status == AlipayTrade.Status.WAIT_BUYER_PAY:
            trade.trade_status, trade.gmt_payment = AlipayTrade.Status.TRADE_SUCCESS, now
            trade.buyer_id = trade.buyer_id or "2088" + f"{secrets.randbelow(10**12):012d}"
            trade.save(update_fields=["trade_status", "gmt_payment", "buyer_id"])
            result["trade_status"] = trade.trade_status
    notified = deliver_notification(trade.notify_url, build_notification(trade)) if trade.notify_url else False
    return {**result, "notified": notified}


def build_notification(
    trade: AlipayTrade, *, now: dt.datetime | None = None, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """The signed form fields of Alipay's ``trade_status_sync`` notification for ``trade``,
    with ``extra`` fields (a refund's) signed along."""
    now = now or timezone.now()
    fields = {
        "notify_time": _format_time(now),
        "notify_type": "trade_status_sync",
        "notify_id": "2026" + secrets.token_hex(15),
        "app_id": trade.app_id,
        "charset": "utf-8",
        "version": "1.0",
        "sign_type": "RSA2",
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "buyer_id": trade.buyer_id,
        "buyer_open_id": trade.buyer_open_id,
        "seller_id": trade.seller_id,
        "trade_status": trade.trade_status,
        "total_amount": trade.total_amount,
        "receipt_amount": trade.total_amount,
        "invoice_amount": trade.total_amount,
        "buyer_pay_amount": trade.total_amount,
        "point_amount": "0.00",
        "subject": trade.subject,
        "gmt_create": _format_time(trade.created_at),
        "gmt_payment": _format_time(trade.gmt_payment) if trade.gmt_payment else "",
        "fund_bill_list": json.dumps(
            [{"amount": trade.total_amount, "fundChannel": "ALIPAYACCOUNT"}], separators=(",", ":")
        ),
    }
    fields.update(extra or {})
    fields = {k: v for k, v in fields.items() if v}
    fields["sign"] = _rsa2_sign(_sign_content(fields, exclude=("sign", "sign_type")))
    return fields


def post_notification(url: str, fields: dict[str, str]) -> bool:
    """One delivery: acknowledged only by the plain text ``success``."""
    try:
        response = requests.post(url, data=fields, timeout=NOTIFY_TIMEOUT)
    except requests.RequestException as exc:
        logger.info("sandbox alipay notification to %s failed: %s", url, type(exc).__name__)
        return False
    return response.status_code == 200 and response.text.strip() == "success"


def deliver_notification(url: str, fields: dict[str, str]) -> bool:
    """First attempt now; if it is not acknowledged, retry in a daemon thread."""
    if post_notification(url, fields):
        return True
    delays = tuple(getattr(settings, "SANDBOX_NOTIFY_RETRY_DELAYS", DEFAULT_NOTIFY_RETRY_DELAYS))
    threading.Thread(
        target=_retry, args=(url, fields, delays), daemon=True, name=f"alipay-notify-{fields['out_trade_no']}"
    ).start()
    return False


def _retry(url: str, fields: dict[str, str], delays: tuple[float, ...]) -> None:
    for delay in delays:
        time.sleep(delay)
        if post_notification(url, fields):
            return
    logger.warning("sandbox alipay gave up notifying %s for %s", url, fields["out_trade_no"])
