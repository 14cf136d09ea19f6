"""WeChat Pay API v3 (JSAPI, direct merchant) as WeChat Pay behaves, per its public docs.

Mounted at ``/sandbox/wechatpay``, which stands in for ``https://api.mch.weixin.qq.com``:
the URL a merchant signs is the path after that base (``/v3/...`` and the query).

- Every request must carry a valid ``WECHATPAY2-SHA256-RSA2048`` Authorization from the
  merchant on file (``WECHATPAY_MCHID``, certificate serial ``WECHATPAY_CERT_SERIAL``, the
  public key "uploaded" at ``SANDBOX_WECHATPAY_MERCHANT_PUBLIC_KEY_PATH``), made less than
  5 minutes ago; otherwise 401 ``SIGN_ERROR``.
- Every answer, errors and empty 204s included, is signed with the platform key and names
  it by ``Wechatpay-Serial`` (``WECHATPAY_PLATFORM_PUBLIC_KEY_ID``, public-key mode).
- Errors are ``{code, message}`` with WeChat Pay's HTTP statuses: 400 ``PARAM_ERROR``,
  ``APPID_MCHID_NOT_MATCH``, ``INVALID_REQUEST`` ("201 商户订单号重复"), ``ORDERPAID``,
  ``ORDER_CLOSED``; 401 ``SIGN_ERROR``; 404 ``ORDER_NOT_EXIST``.
- An unpaid order stays ``NOTPAY`` past its ``time_expire`` until it is closed (it can no
  longer be paid); closing a closed order answers 204 again.

``confirm_trade`` plays the shopper paying: the trade becomes ``SUCCESS`` and the
notification (AEAD_AES_256_GCM under the APIv3 key, signed headers) is POSTed to the
order's ``notify_url``. The first attempt is made at once, so a demo sees the order paid
right after confirming; failed deliveries are retried from a daemon thread after the
delays in ``SANDBOX_NOTIFY_RETRY_DELAYS`` (seconds; default 1, 2, 4, 8, 15: WeChat's own
schedule of 15s/15s/30s/3m/10m/20m/... up to 24 hours, compressed), each signed afresh.

Test-only knob, off unless asked: a request with ``X-Sandbox-Fail: SYSTEM_ERROR`` (or
``FREQUENCY_LIMITED``) is answered with that error, signed, before anything else happens.

Refunds (``/v3/refund/domestic/refunds``) live in ``wechatpay_refunds.py``; a trade with a
refund answers ``trade_state`` REFUND ("转入退款"), still with its payment's fields.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
import re
import secrets
import string
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.http import HttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt

from .wechatpay_models import WeChatPayTrade

logger = logging.getLogger(__name__)

AUTH_SCHEME = "WECHATPAY2-SHA256-RSA2048"
MAX_SKEW_SECONDS = 300
OUT_TRADE_NO = re.compile(r"^[0-9A-Za-z_\-|*]{6,32}$")
SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_RETRY_DELAYS = [1, 2, 4, 8, 15]
NOTIFY_TIMEOUT = (3, 5)
REHEARSALS = {
    "SYSTEM_ERROR": (500, "系统错误"),
    "FREQUENCY_LIMITED": (429, "频率超限"),
}
# A refunded trade was paid: it answers like a paid one, with trade_state REFUND.
PAID = (WeChatPayTrade.TradeState.SUCCESS, WeChatPayTrade.TradeState.REFUND)
TRADE_STATE_DESC = {"NOTPAY": "订单未支付", "SUCCESS": "支付成功", "CLOSED": "订单已关闭", "REFUND": "转入退款"}
# Deliveries still retrying in the background (tests may join them).
RETRY_THREADS: list[threading.Thread] = []


class _Refusal(Exception):
    def __init__(self, status: int, code: str, message: str, detail: dict | None = None):
        super().__init__(code)
        self.status, self.code, self.message, self.detail = status, code, message, detail


# --- Keys and signatures -----------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _private_key(path: str):
    return serialization.load_pem_private_key(Path(path).read_bytes(), password=None)


@functools.lru_cache(maxsize=4)
def _public_key(path: str):
    return serialization.load_pem_public_key(Path(path).read_bytes())


def _platform_sign(message: bytes) -> str:
    key = _private_key(settings.SANDBOX_WECHATPAY_PLATFORM_PRIVATE_KEY_PATH)
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def platform_signature_headers(body: bytes) -> dict[str, str]:
    """The ``Wechatpay-*`` headers WeChat Pay puts on an answer or a notification."""
    timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
    return {
        "Wechatpay-Serial": settings.WECHATPAY_PLATFORM_PUBLIC_KEY_ID,
        "Wechatpay-Timestamp": timestamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": _platform_sign(f"{timestamp}\n{nonce}\n".encode() + body + b"\n"),
        "Wechatpay-Signature-Type": AUTH_SCHEME,
    }


def _signed(status: int, payload: dict[str, Any] | None = None) -> HttpResponse:
    body = b"" if payload is None else json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    response = HttpResponse(body, status=status, content_type="application/json; charset=utf-8")
    if not body:
        del response["Content-Type"]
    for name, value in platform_signature_headers(body).items():
        response[name] = value
    response["Request-ID"] = secrets.token_hex(20).upper()
    return response


def _refused(refusal: _Refusal) -> HttpResponse:
    payload: dict[str, Any] = {"code": refusal.code, "message": refusal.message}
    if refusal.detail:
        payload["detail"] = refusal.detail
    return _signed(refusal.status, payload)


def _signed_url(request) -> str:
    """The request's path and query as sent, relative to where this sandbox is mounted."""
    raw = request.META.get("RAW_URI") or request.META.get("REQUEST_URI")
    if not raw:
        # wsgiref (runserver, live_server) keeps only the decoded path: re-encode it the
        # RFC 3986 way (everything but unreserved characters), as a careful client sends it.
        path = request.META.get("SCRIPT_NAME", "") + request.META.get("PATH_INFO", "")
        raw = quote(path.encode("latin-1"), safe="/-_.~")
        if request.META.get("QUERY_STRING"):
            raw += "?" + request.META["QUERY_STRING"]
    return raw[raw.find("/v3/") :]


def _authenticate(request) -> str:
    """The merchant's mchid, if its Authorization checks out."""
    scheme, _, params = request.headers.get("Authorization", "").partition(" ")
    if scheme != AUTH_SCHEME:
        raise _Refusal(401, "SIGN_ERROR", "Authorization 认证类型不正确")
    fields = dict(re.findall(r'(\w+)="([^"]*)"', params))
    missing = {"mchid", "nonce_str", "signature", "timestamp", "serial_no"} - fields.keys()
    if missing:
        raise _Refusal(401, "SIGN_ERROR", f"Authorization 缺少 {','.join(sorted(missing))}")
    if fields["mchid"] != settings.WECHATPAY_MCHID:
        raise _Refusal(401, "SIGN_ERROR", "商户号不存在或与证书不匹配")
    if fields["serial_no"].upper() != settings.WECHATPAY_CERT_SERIAL.upper():
        raise _Refusal(401, "SIGN_ERROR", "商户证书序列号有误。请使用签名私钥匹配的证书序列号")
    timestamp = fields["timestamp"]
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) >= MAX_SKEW_SECONDS:
        raise _Refusal(401, "SIGN_ERROR", "请求的时间戳已过期或无效")
    if not fields["nonce_str"] or len(fields["nonce_str"]) > 32:
        raise _Refusal(401, "SIGN_ERROR", "nonce_str 无效")
    message = (
        f"{request.method}\n{_signed_url(request)}\n{timestamp}\n{fields['nonce_str']}\n".encode()
        + request.body
        + b"\n"
    )
    try:
        signature = base64.b64decode(fields["signature"], validate=True)
        _public_key(settings.SANDBOX_WECHATPAY_MERCHANT_PUBLIC_KEY_PATH).verify(
            signature, message, padding.PKCS1v15(), hashes.SHA256()
        )
    except (InvalidSignature, binascii.Error, ValueError):
        raise _Refusal(401, "SIGN_ERROR", "错误的签名, 验签失败") from None
    return fields["mchid"]


def _api(method: str):
    """Wrap a view: rehearsed failures, method, Authorization; refusals become signed errors."""

    def decorate(view):
        @csrf_exempt
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            rehearsal = request.headers.get("X-Sandbox-Fail")
            try:
                if rehearsal:
                    if rehearsal not in REHEARSALS:
                        raise _Refusal(400, "PARAM_ERROR", f"unknown X-Sandbox-Fail {rehearsal[:32]!r}")
                    status, message = REHEARSALS[rehearsal]
                    raise _Refusal(status, rehearsal, message)
                if request.method != method:
                    raise _Refusal(405, "INVALID_REQUEST", f"请使用 {method} 方法")
                mchid = _authenticate(request)
                return view(request, mchid, *args, **kwargs)
            except _Refusal as refusal:
                return _refused(refusal)

        return wrapped

    return decorate


# --- Parameters -----------------------------------------------------------------------------


def _param_error(field: str, issue: str, location: str = "body") -> _Refusal:
    return _Refusal(400, "PARAM_ERROR", f"参数错误: {field} {issue}", {"field": field, "location": location})


def _json_object(request) -> dict[str, Any]:
    try:
        body = json.loads(request.body)
    except ValueError:
        raise _Refusal(400, "PARAM_ERROR", "请求体不是合法的 JSON") from None
    if not isinstance(body, dict):
        raise _Refusal(400, "PARAM_ERROR", "请求体必须是 JSON 对象")
    return body


def _string(body: dict, field: str, *, max_length: int, min_length: int = 1) -> str:
    value = body.get(field)
    if value is None or value == "":
        raise _param_error(f"/{field}", "必填")
    if not isinstance(value, str) or not min_length <= len(value) <= max_length:
        raise _param_error(f"/{field}", f"应为 {min_length}-{max_length} 个字符的字符串")
    return value


def _check_out_trade_no(value: str, location: str = "body") -> None:
    if not OUT_TRADE_NO.match(value):
        raise _param_error("out_trade_no", "只能是数字、大小写字母_-|*, 6-32个字符", location)


def _validate_create(body: dict, mchid: str) -> dict[str, Any]:
    appid = _string(body, "appid", max_length=32)
    if _string(body, "mchid", max_length=32) != mchid:
        raise _Refusal(400, "INVALID_REQUEST", "请求的 mchid 与 Authorization 中的商户号不一致")
    if appid != settings.SANDBOX_WECHAT_APPID:
        raise _Refusal(400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")
    description = _string(body, "description", max_length=127)
    out_trade_no = _string(body, "out_trade_no", max_length=32)
    _check_out_trade_no(out_trade_no)
    notify_url = _string(body, "notify_url", max_length=256)
    parts = urlsplit(notify_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise _param_error("/notify_url", "应为不带参数的 http(s) 绝对地址")
    time_expire = None
    if body.get("time_expire") is not None:
        raw = body["time_expire"]
        time_expire = parse_datetime(raw) if isinstance(raw, str) else None
        if time_expire is None or time_expire.tzinfo is None:
            raise _param_error("/time_expire", "应为 RFC 3339 格式, 如 2018-06-08T10:34:56+08:00")
    amount = body.get("amount")
    if not isinstance(amount, dict):
        raise _param_error("/amount", "必填")
    total = amount.get("total")
    if not isinstance(total, int) or isinstance(total, bool) or total <= 0:
        raise _param_error("/amount/total", "应为正整数(分)")
    if amount.get("currency", "CNY") != "CNY":
        raise _param_error("/amount/currency", "只支持 CNY")
    payer = body.get("payer")
    openid = payer.get("openid") if isinstance(payer, dict) else None
    if not isinstance(openid, str) or not 1 <= len(openid) <= 128:
        raise _param_error("/payer/openid", "必填")
    return {
        "appid": appid,
        "out_trade_no": out_trade_no,
        "description": description,
        "notify_url": notify_url,
        "time_expire": time_expire,
        "amount_fen": total,
        "payer_openid": openid,
    }


# --- The API ------------------------------------------------------------------------------


@_api("POST")
def jsapi_create(request, mchid: str):
    body = _json_object(request)
    fields = _validate_create(body, mchid)
    existing = WeChatPayTrade.objects.filter(mchid=mchid, out_trade_no=fields["out_trade_no"]).first()
    if existing is None:
        try:
            with transaction.atomic():
                existing = WeChatPayTrade.objects.create(
                    mchid=mchid, prepay_id=_prepay_id(), create_params=body, created_at=timezone.now(), **fields
                )
            return _signed(200, {"prepay_id": existing.prepay_id})
        except IntegrityError:  # the same order created concurrently: answer as a repeat
            existing = WeChatPayTrade.objects.get(mchid=mchid, out_trade_no=fields["out_trade_no"])
    if existing.trade_state in PAID:
        raise _Refusal(400, "ORDERPAID", "该订单已支付")
    if existing.trade_state == WeChatPayTrade.TradeState.CLOSED:
        raise _Refusal(400, "ORDER_CLOSED", "订单已关闭")
    if existing.create_params != body:
        raise _Refusal(400, "INVALID_REQUEST", "201 商户订单号重复")
    return _signed(200, {"prepay_id": existing.prepay_id})


@_api("GET")
def query_by_out_trade_no(request, mchid: str, out_trade_no: str):
    query_mchid = request.GET.get("mchid", "")
    if not query_mchid:
        raise _param_error("mchid", "必填", "query")
    if query_mchid != mchid:
        raise _Refusal(400, "INVALID_REQUEST", "请求的 mchid 与 Authorization 中的商户号不一致")
    trade = WeChatPayTrade.objects.filter(mchid=mchid, out_trade_no=out_trade_no).first()
    if trade is None:
        raise _Refusal(404, "ORDER_NOT_EXIST", "订单不存在")
    return _signed(200, transaction_json(trade))


@_api("POST")
def close(request, mchid: str, out_trade_no: str):
    body = _json_object(request)
    if _string(body, "mchid", max_length=32) != mchid:
        raise _Refusal(400, "INVALID_REQUEST", "请求的 mchid 与 Authorization 中的商户号不一致")
    trades = WeChatPayTrade.objects.filter(mchid=mchid, out_trade_no=out_trade_no)
    if not trades.exists():
        raise _Refusal(404, "ORDER_NOT_EXIST", "订单不存在")
    trades.filter(trade_state=WeChatPayTrade.TradeState.NOTPAY).update(trade_state=WeChatPayTrade.TradeState.CLOSED)
    if trades.filter(trade_state__in=PAID).exists():
        raise _Refusal(400, "ORDERPAID", "该订单已支付")
    return _signed(204)


def transaction_json(trade: WeChatPayTrade) -> dict[str, Any]:
    """The order as WeChat Pay describes it in a query answer and a notification."""
    answer: dict[str, Any] = {
        "appid": trade.appid,
        "mchid": trade.mchid,
        "out_trade_no": trade.out_trade_no,
        "trade_state": trade.trade_state,
        "trade_state_desc": TRADE_STATE_DESC[trade.trade_state],
        "amount": {"total": trade.amount_fen, "currency": trade.currency, "payer_currency": trade.currency},
        "attach": "",
        "promotion_detail": [],
        "scene_info": {"device_id": ""},
    }
    if trade.trade_state in PAID:
        answer.update(
            transaction_id=trade.transaction_id,
            trade_type="JSAPI",
            bank_type="OTHERS",
            success_time=_rfc3339(trade.success_time),
            payer={"openid": trade.payer_openid},
        )
        answer["amount"]["payer_total"] = trade.amount_fen
    return answer


def _prepay_id() -> str:
    return "wx" + timezone.now().astimezone(SHANGHAI).strftime("%Y%m%d%H%M%S") + secrets.token_hex(10)


def _transaction_id(now: datetime) -> str:
    digits = "".join(secrets.choice(string.digits) for _ in range(16))
    return "4200" + digits[:2] + now.astimezone(SHANGHAI).strftime("%Y%m%d") + digits[2:]


def _rfc3339(moment: datetime | None) -> str:
    return moment.astimezone(SHANGHAI).isoformat(timespec="seconds") if moment else ""


# --- The shopper pays, WeChat Pay notifies ---------------------------------------------------


def confirm_trade(out_trade_no: str) -> dict | None:
    """Mark the trade paid and send its notification; None when this sandbox has no such trade."""
    trade = WeChatPayTrade.objects.filter(out_trade_no=out_trade_no).order_by("pk").first()
    if trade is None:
        return None
    result: dict[str, Any] = {"provider": "wechat_pay", "out_trade_no": out_trade_no}
    now = timezone.now().replace(microsecond=0)  # WeChat Pay's times have whole seconds
    if trade.trade_state == WeChatPayTrade.TradeState.NOTPAY and trade.time_expire and trade.time_expire <= now:
        return {**result, "trade_state": trade.trade_state, "error": "trade expired"}
    paid = WeChatPayTrade.objects.filter(pk=trade.pk, trade_state=WeChatPayTrade.TradeState.NOTPAY).update(
        trade_state=WeChatPayTrade.TradeState.SUCCESS, transaction_id=_transaction_id(now), success_time=now
    )
    trade.refresh_from_db()
    if trade.trade_state == WeChatPayTrade.TradeState.CLOSED:
        return {**result, "trade_state": trade.trade_state, "error": "trade closed"}
    if not paid:  # paid before: the phone cannot pay twice, and nothing is sent again
        return {**result, "trade_state": trade.trade_state, "notified": trade.notified_at is not None}
    body = build_notification(trade)
    notified = deliver_notification(trade.pk, trade.notify_url, body)
    if not notified:
        _retry_in_background(trade.pk, trade.notify_url, body)
    return {
        **result,
        "trade_state": trade.trade_state,
        "transaction_id": trade.transaction_id,
        "notified": notified,
    }


def build_notification(trade: WeChatPayTrade) -> bytes:
    """The TRANSACTION.SUCCESS notification body, its resource encrypted under the APIv3 key."""
    plaintext = json.dumps(transaction_json(trade), ensure_ascii=False, separators=(",", ":")).encode()
    nonce = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(12))
    associated_data = "transaction"
    ciphertext = AESGCM(settings.WECHATPAY_APIV3_KEY.encode()).encrypt(
        nonce.encode(), plaintext, associated_data.encode()
    )
    envelope = {
        "id": str(uuid.uuid4()),
        "create_time": _rfc3339(timezone.now()),
        "resource_type": "encrypt-resource",
        "event_type": "TRANSACTION.SUCCESS",
        "summary": "支付成功",
        "resource": {
            "original_type": "transaction",
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": base64.b64encode(ciphertext).decode(),
            "associated_data": associated_data,
            "nonce": nonce,
        },
    }
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()


def deliver_notification(trade_pk: int, url: str, body: bytes) -> bool:
    """One delivery attempt, signed now; True when the merchant answered 200 or 204."""
    headers = {"Content-Type": "application/json", "User-Agent": "Mozilla/4.0", **platform_signature_headers(body)}
    try:
        response = requests.post(url, data=body, headers=headers, timeout=NOTIFY_TIMEOUT)
        accepted = response.status_code in (200, 204)
        outcome = f"HTTP {response.status_code}"
    except requests.RequestException as exc:
        accepted, outcome = False, type(exc).__name__
    changes: dict[str, Any] = {"notify_attempts": F("notify_attempts") + 1}
    if accepted:
        changes["notified_at"] = timezone.now()
    WeChatPayTrade.objects.filter(pk=trade_pk).update(**changes)
    logger.info("sandbox WeChat Pay notification for trade %s: %s", trade_pk, outcome)
    return accepted


def _retry_in_background(trade_pk: int, url: str, body: bytes) -> None:
    delays = list(getattr(settings, "SANDBOX_NOTIFY_RETRY_DELAYS", DEFAULT_RETRY_DELAYS))
    if not delays:
        return

    def retry() -> None:
        try:
            for delay in delays:
                time.sleep(delay)
                if deliver_notification(trade_pk, url, body):
                    return
            logger.warning("sandbox WeChat Pay gave up notifying trade %s", trade_pk)
        finally:
            connection.close()

    thread = threading.Thread(target=retry, name=f"sandbox-wechatpay-notify-{trade_pk}", daemon=True)
    thread.start()
    RETRY_THREADS[:] = [t for t in RETRY_THREADS if t.is_alive()] + [thread]
