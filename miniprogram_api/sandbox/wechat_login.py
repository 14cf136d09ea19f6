"""WeChat's ``jscode2session``, and a way to mint codes for demo shoppers.

Behaves as WeChat documents it: HTTP 200 with a JSON body in every case; ``errcode``
40013 (invalid appid), 40125 (invalid secret), 40029 (invalid or expired code), 40163
(code already used), 45011 (more than the per-user minute quota) and -1 (system busy).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import timedelta

from django.conf import settings
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from .models import WeChatLoginCode

CODE_TTL = timedelta(minutes=5)
EXCHANGES_PER_USER_PER_MINUTE = 100


def _error(errcode: int, errmsg: str) -> JsonResponse:
    return JsonResponse({"errcode": errcode, "errmsg": f"{errmsg}, rid: {secrets.token_hex(8)}"})


def _stable_id(prefix: str, *parts: str) -> str:
    digest = hmac.new(b"sandbox-wechat-ids", "|".join(parts).encode(), hashlib.sha256).digest()
    return prefix + base64.urlsafe_b64encode(digest).decode()[:27]


def sandbox_openid(appid: str, shopper: str) -> str:
    """The openid this sandbox gives ``shopper`` in mini-program ``appid``.

    Stable, as WeChat's is per user and app, so every login as one shopper finds the same
    customer, and demo data (``seed_demo``) can create that customer before the first login.
    """
    return _stable_id("o", appid, shopper)


@require_GET
def jscode2session(request):
    appid = request.GET.get("appid", "")
    if appid != settings.SANDBOX_WECHAT_APPID:
        return _error(40013, "invalid appid")
    if not hmac.compare_digest(request.GET.get("secret", "").encode(), settings.SANDBOX_WECHAT_SECRET.encode()):
        return _error(40125, "invalid appsecret")
    if request.GET.get("grant_type") != "authorization_code":
        return _error(40002, "invalid grant_type")
    code = request.GET.get("js_code", "")
    row = WeChatLoginCode.objects.filter(code=code, appid=appid).first()
    now = timezone.now()
    if row is None or row.created_at + CODE_TTL < now:
        return _error(40029, "invalid code")
    if row.fail_with_errcode is not None:
        return _error(row.fail_with_errcode, "simulated failure")
    recent = WeChatLoginCode.objects.filter(openid=row.openid, used_at__gte=now - timedelta(minutes=1)).count()
    if recent >= EXCHANGES_PER_USER_PER_MINUTE:
        return _error(45011, "api minute-quota reach limit  mustslower  retry next minute")
    if not WeChatLoginCode.objects.filter(pk=row.pk, used_at__isnull=True).update(used_at=now):
        return _error(40163, "code been used")
    return JsonResponse({"openid": row.openid, "session_key": _session_key(), "unionid": row.unionid})


def _session_key() -> str:
    return base64.b64encode(secrets.token_bytes(16)).decode()


@csrf_exempt
@require_POST
def mint_login_code(request):
    """What ``wx.login()`` would give the named shopper's phone: ``{code, openid}``."""
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"error": "body must be JSON"}, status=400)
    shopper = str(body.get("shopper", "")).strip() if isinstance(body, dict) else ""
    if not shopper or len(shopper) > 64:
        return JsonResponse({"error": "shopper (1-64 characters) is required"}, status=400)
    fail_with = body.get("fail_with_errcode")
    if fail_with is not None and not isinstance(fail_with, int):
        return JsonResponse({"error": "fail_with_errcode must be an integer"}, status=400)
    appid = settings.SANDBOX_WECHAT_APPID
    row = WeChatLoginCode.objects.create(
        code=secrets.token_urlsafe(24),
        appid=appid,
        shopper=shopper,
        openid=sandbox_openid(appid, shopper),
        unionid=_stable_id("u", shopper),
        created_at=timezone.now(),
        fail_with_errcode=fail_with,
    )
    return JsonResponse({"code": row.code, "openid": row.openid}, status=201)
