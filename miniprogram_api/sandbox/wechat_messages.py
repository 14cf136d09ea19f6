"""WeChat's server API for subscribe messages: ``cgi-bin/token`` and
``cgi-bin/message/subscribe/send``, plus two sandbox-only doors for tests and demos: a
shopper's subscription choice, and the list of messages accepted.

Behaves as WeChat documents it: HTTP 200 with a JSON body in every case. The token call
answers 40002 (grant_type), 40013 (appid), 40125 (secret); a token lives 7200 seconds, and
a new one leaves the app's older ones five more minutes. The send call answers 40001 (an
unknown or superseded token), 42001 (an expired one), 47001 (a body that is not JSON),
40003 (touser), 40037 (template_id), 47003 (the data does not fit the template: a
keyword missing, or a value breaking its type's rule; errmsg names the keyword) and 43101
(the shopper has not subscribed).
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from .models import WeChatAccessToken, WeChatSubscribeMessage, WeChatSubscription
from .wechat_login import _error

TOKEN_LIFETIME = timedelta(seconds=7200)
SUPERSEDED_TOKEN_GRACE = timedelta(minutes=5)
MINIPROGRAM_STATES = frozenset({"developer", "trial", "formal"})
LANGS = frozenset({"zh_CN", "en_US", "zh_HK", "zh_TW"})
OPENID = re.compile(r"^[A-Za-z0-9_-]{6,64}$")

# The value rules of subscribe-message keywords, by type (the keyword without its digits).
_DATE = r"\d{4}(?:年\d{1,2}月\d{1,2}日|-\d{1,2}-\d{1,2}|/\d{1,2}/\d{1,2})"
_CLOCK = r"\d{1,2}:\d{2}(?::\d{2})?"
_TIME_POINT = rf"(?:{_DATE} )?{_CLOCK}"
_DATE_POINT = rf"{_DATE}(?: {_CLOCK})?"
_CJK = "\u4e00-\u9fff"
VALUE_RULES: dict[str, re.Pattern[str]] = {
    "thing": re.compile(r"^.{1,20}$", re.DOTALL),
    "number": re.compile(r"^\d{1,32}(?:\.\d+)?$"),
    "letter": re.compile(r"^[A-Za-z]{1,32}$"),
    "symbol": re.compile(r"^[^0-9A-Za-z\s]{1,5}$"),
    "character_string": re.compile(r"^[\x21-\x7e]{1,32}$"),
    "time": re.compile(rf"^{_TIME_POINT}(?:~{_TIME_POINT})?$"),
    "date": re.compile(rf"^{_DATE_POINT}(?:~{_DATE_POINT})?$"),
    "amount": re.compile(r"^[¥￥$€£]?\d{1,10}(?:\.\d{1,2})?元?$"),
    "phone_number": re.compile(r"^[0-9+\-() ]{1,17}$"),
    "car_number": re.compile(rf"^[{_CJK}A-Za-z0-9][A-Za-z0-9]{{0,6}}[{_CJK}A-Za-z0-9]?$"),
    "name": re.compile(rf"^(?:[{_CJK}]{{1,10}}|[A-Za-z .·-]{{1,20}})$"),
    "phrase": re.compile(rf"^[{_CJK}]{{1,5}}$"),
}


@require_GET
def token(request):
    if request.GET.get("grant_type") != "client_credential":
        return _error(40002, "invalid grant_type")
    appid = request.GET.get("appid", "")
    if appid != settings.SANDBOX_WECHAT_APPID:
        return _error(40013, "invalid appid")
    if not secrets.compare_digest(request.GET.get("secret", "").encode(), settings.SANDBOX_WECHAT_SECRET.encode()):
        return _error(40125, "invalid appsecret")
    now = timezone.now()
    with transaction.atomic():
        WeChatAccessToken.objects.filter(appid=appid, expires_at__gt=now + SUPERSEDED_TOKEN_GRACE).update(
            expires_at=now + SUPERSEDED_TOKEN_GRACE
        )
        row = WeChatAccessToken.objects.create(
            appid=appid, token=secrets.token_urlsafe(96), issued_at=now, expires_at=now + TOKEN_LIFETIME
        )
    return JsonResponse({"access_token": row.token, "expires_in": int(TOKEN_LIFETIME.total_seconds())})


@csrf_exempt
@require_POST
def subscribe_send(request):
    access_token = WeChatAccessToken.objects.filter(token=request.GET.get("access_token", "")).first()
    if access_token is None:
        return _error(40001, "invalid credential, access_token is invalid or not latest")
    if access_token.expires_at <= timezone.now():
        return _error(42001, "access_token expired")
    try:
        body = json.loads(request.body)
    except ValueError:
        return _error(47001, "data format error")
    if not isinstance(body, dict):
        return _error(47001, "data format error")
    touser = body.get("touser")
    if not isinstance(touser, str) or not OPENID.match(touser):
        return _error(40003, "invalid openid")
    template_id = body.get("template_id")
    keywords = settings.SANDBOX_WECHAT_TEMPLATES.get(template_id) if isinstance(template_id, str) else None
    if keywords is None:
        return _error(40037, "invalid template_id")
    problem = _data_problem(body.get("data"), keywords)
    if problem:
        return _error(47003, f"argument invalid! {problem}")
    state = body.get("miniprogram_state", "formal")
    if state not in MINIPROGRAM_STATES:
        return _error(47003, "argument invalid! miniprogram_state invalid")
    lang = body.get("lang", "zh_CN")
    if lang not in LANGS:
        return _error(47003, "argument invalid! lang invalid")
    page = body.get("page", "")
    if not isinstance(page, str) or len(page) > 256 or page.startswith("/"):
        return _error(41030, "invalid page")
    if not _subscribed(access_token.appid, touser, template_id):
        return _error(43101, "user refuse to accept the msg")
    message = WeChatSubscribeMessage.objects.create(
        appid=access_token.appid,
        msgid=secrets.randbelow(2**62) + 1,
        touser=touser,
        template_id=template_id,
        page=page,
        data={keyword: body["data"][keyword] for keyword in keywords},
        miniprogram_state=state,
        lang=lang,
        received_at=timezone.now(),
    )
    return JsonResponse({"errcode": 0, "errmsg": "ok", "msgid": message.msgid})


def _data_problem(data: object, keywords: list[str]) -> str:
    """What is wrong with ``data`` for a template with ``keywords`` ("" if nothing)."""
    if not isinstance(data, dict):
        return "data invalid"
    for keyword in keywords:
        entry = data.get(keyword)
        value = entry.get("value") if isinstance(entry, dict) else None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            return f"data.{keyword}.value is empty"
        text = str(value)
        if not text.strip():
            return f"data.{keyword}.value is empty"
        rule = VALUE_RULES.get(keyword.rstrip("0123456789"), VALUE_RULES["thing"])
        if not rule.match(text):
            return f"data.{keyword}.value invalid"
    return ""


def _subscribed(appid: str, openid: str, template_id: str) -> bool:
    choices = dict(
        WeChatSubscription.objects.filter(appid=appid, openid=openid, template_id__in=[template_id, ""]).values_list(
            "template_id", "status"
        )
    )
    status = choices.get(template_id) or choices.get("") or WeChatSubscription.Status.ACCEPT
    return status == WeChatSubscription.Status.ACCEPT


@csrf_exempt
@require_POST
def set_subscription(request):
    """What the shopper chose in ``wx.requestSubscribeMessage``:
    ``{touser, template_id?, status: "accept" | "reject"}`` (no template: all of them)."""
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"error": "body must be JSON"}, status=400)
    if not isinstance(body, dict):
        return JsonResponse({"error": "body must be a JSON object"}, status=400)
    touser, template_id, status = body.get("touser"), body.get("template_id") or "", body.get("status")
    if not isinstance(touser, str) or not OPENID.match(touser):
        return JsonResponse({"error": "touser must be an openid"}, status=400)
    if template_id and template_id not in settings.SANDBOX_WECHAT_TEMPLATES:
        return JsonResponse({"error": "unknown template_id"}, status=400)
    if status not in WeChatSubscription.Status.values:
        return JsonResponse({"error": "status must be accept or reject"}, status=400)
    WeChatSubscription.objects.update_or_create(
        appid=settings.SANDBOX_WECHAT_APPID,
        openid=touser,
        template_id=template_id,
        defaults={"status": status, "updated_at": timezone.now()},
    )
    return JsonResponse({"touser": touser, "template_id": template_id, "status": status}, status=201)


@require_GET
def list_messages(request):
    """The messages accepted, oldest first: ``?touser=`` and ``?template_id=`` narrow them."""
    messages = WeChatSubscribeMessage.objects.all()
    if request.GET.get("touser"):
        messages = messages.filter(touser=request.GET["touser"])
    if request.GET.get("template_id"):
        messages = messages.filter(template_id=request.GET["template_id"])
    return JsonResponse(
        {
            "messages": [
                {
                    "msgid": message.msgid,
                    "touser": message.touser,
                    "template_id": message.template_id,
                    "page": message.page,
                    "data": message.data,
                    "miniprogram_state": message.miniprogram_state,
                    "lang": message.lang,
                    "received_at": message.received_at.isoformat(),
                }
                for message in messages[:500]
            ]
        }
    )
