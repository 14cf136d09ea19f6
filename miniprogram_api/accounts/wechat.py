"""The client side of WeChat's ``jscode2session`` (mini-program login).

Spoken over real HTTP to ``WECHAT_API_BASE_URL`` (the built-in sandbox locally, WeChat's
``https://api.weixin.qq.com`` in production). The app secret and the session key never
reach a log line, and the login code only as a short prefix.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import requests
from django.conf import settings

from miniprogram_api.core.errors import InvalidInput, RateLimited, UpstreamError, UpstreamUnavailable

logger = logging.getLogger(__name__)

# WeChat's documented error codes for jscode2session.
ERRCODE_SYSTEM_BUSY = -1
ERRCODE_INVALID_CODE = 40029
ERRCODE_CODE_USED = 40163
ERRCODE_RATE_LIMITED = 45011
ERRCODE_HIGH_RISK_USER = 40226


class WeChatCodeInvalid(InvalidInput):
    code = "wechat_code_invalid"
    default_message = "The WeChat login code is invalid or expired; call wx.login again."


class WeChatCodeUsed(InvalidInput):
    code = "wechat_code_used"
    default_message = "The WeChat login code was already used; call wx.login again."


class WeChatUserBlocked(InvalidInput):
    code = "wechat_user_blocked"
    default_message = "WeChat refused to log in this user."


class WeChatRateLimited(RateLimited):
    code = "wechat_rate_limited"
    default_message = "WeChat is limiting logins right now; try again in a minute."


class WeChatUnavailable(UpstreamUnavailable):
    code = "wechat_unavailable"
    default_message = "WeChat login is unavailable right now; try again shortly."


class WeChatError(UpstreamError):
    code = "wechat_error"
    default_message = "WeChat answered with an unexpected error."


@dataclass(frozen=True)
class WeChatSession:
    openid: str
    unionid: str | None
    session_key: str


def code_to_session(code: str) -> WeChatSession:
    """Exchange a ``wx.login`` code for the shopper's openid (and unionid, if bound)."""
    url = f"{settings.WECHAT_API_BASE_URL}/sns/jscode2session"
    params = {
        "appid": settings.WECHAT_APPID,
        "secret": settings.WECHAT_SECRET,
        "js_code": code,
        "grant_type": "authorization_code",
    }
    try:
        response = requests.get(url, params=params, timeout=settings.WECHAT_HTTP_TIMEOUT)
    except requests.RequestException as exc:
        logger.warning("jscode2session failed: %s", type(exc).__name__)
        raise WeChatUnavailable() from None
    if response.status_code >= 500:
        logger.warning("jscode2session answered HTTP %s", response.status_code)
        raise WeChatUnavailable()
    try:
        body = response.json()
    except ValueError:
        logger.warning("jscode2session answered non-JSON (HTTP %s)", response.status_code)
        raise WeChatError() from None
    if not isinstance(body, dict):
        raise WeChatError()

    errcode = body.get("errcode") or 0
    if errcode:
        error = _error_for(errcode)
        if isinstance(error, WeChatError):
            # Not the shopper's doing (a wrong appid or secret, an unknown errcode): ours to fix.
            logger.error("jscode2session errcode=%s errmsg=%s", errcode, str(body.get("errmsg", ""))[:200])
        else:
            logger.info("jscode2session errcode=%s code=%s…", errcode, code[:4])
        raise error
    openid, session_key = body.get("openid"), body.get("session_key")
    if not openid or not session_key:
        raise WeChatError("WeChat answered without an openid.")
    return WeChatSession(openid=openid, unionid=body.get("unionid") or None, session_key=session_key)


def _error_for(errcode: int) -> Exception:
    """The shopper sees the errcode but not WeChat's errmsg, which may describe our setup."""
    if errcode == ERRCODE_INVALID_CODE:
        return WeChatCodeInvalid(details={"errcode": errcode})
    if errcode == ERRCODE_CODE_USED:
        return WeChatCodeUsed(details={"errcode": errcode})
    if errcode == ERRCODE_RATE_LIMITED:
        # WeChat's quota is per minute: "retry next minute".
        return WeChatRateLimited(details={"errcode": errcode, "retry_after_seconds": 60})
    if errcode == ERRCODE_HIGH_RISK_USER:
        return WeChatUserBlocked(details={"errcode": errcode})
    if errcode == ERRCODE_SYSTEM_BUSY:
        return WeChatUnavailable(details={"errcode": errcode})
    return WeChatError(details={"errcode": errcode})
