"""The client side of WeChat's server API for the mini-program: the access token and
subscribe messages (``subscribeMessage.send``).

Spoken over real HTTP to ``WECHAT_API_BASE_URL``, like ``jscode2session`` in ``wechat``.

The access token comes from ``GET /cgi-bin/token`` and is shared by every process through
the Django cache under one key, with the moment it expires (by our clock). It is fetched
anew ``WECHAT_ACCESS_TOKEN_REFRESH_MARGIN`` before then. WeChat keeps only the newest token
fully alive (the one before it works for five more minutes), so processes must not each
fetch their own: one refreshes under a cache lock (``cache.add``) while the others keep
using the token in hand, which is still valid during the margin. Only a process with no
valid token at all waits for the refresh, briefly, and fetches one itself if the lock
holder died: one extra fetch, never a failure.

The app secret and the access token never reach a log line.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import requests
from django.conf import settings
from django.core.cache import cache

from miniprogram_api.core import clock
from miniprogram_api.core.errors import UpstreamError, UpstreamUnavailable

logger = logging.getLogger(__name__)

# WeChat's documented error codes for the token and subscribe-message calls.
ERRCODE_SYSTEM_BUSY = -1
ERRCODE_INVALID_CREDENTIAL = 40001  # the access token is invalid or not the latest (or, fetching one, a wrong secret)
ERRCODE_INVALID_ACCESS_TOKEN = 40014
ERRCODE_ACCESS_TOKEN_EXPIRED = 42001
ERRCODE_USER_REFUSED = 43101  # the shopper has not subscribed, or cancelled the subscription
ERRCODE_BAD_TEMPLATE_DATA = 47003
ERRCODE_DAILY_QUOTA = 45009
ERRCODE_RATE_LIMITED = 45011
TOKEN_ERRCODES = frozenset({ERRCODE_INVALID_CREDENTIAL, ERRCODE_INVALID_ACCESS_TOKEN, ERRCODE_ACCESS_TOKEN_EXPIRED})
# Worth trying again later: WeChat is busy or limiting us, not refusing the message.
RETRYABLE_ERRCODES = frozenset({ERRCODE_SYSTEM_BUSY, ERRCODE_DAILY_QUOTA, ERRCODE_RATE_LIMITED})

LOCK_SECONDS = 30  # longer than a token request can take (its connect and read timeouts)
WAIT_FOR_REFRESH_SECONDS = 3.0
WAIT_STEP_SECONDS = 0.05


class WeChatApiUnavailable(UpstreamUnavailable):
    """WeChat did not answer, or answered that it is busy: worth trying again later."""

    code = "wechat_api_unavailable"
    default_message = "The WeChat server API is unavailable right now."


class WeChatApiError(UpstreamError):
    """WeChat refused the call for a reason of ours (a wrong secret, an IP not on the
    allow-list, ...): ``details.errcode`` says which. Trying again will not help."""

    code = "wechat_api_error"
    default_message = "WeChat refused the server API call."


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_at: dt.datetime


Outcome = Literal["sent", "refused", "failed", "retry"]


@dataclass(frozen=True)
class SendResult:
    """What became of a subscribe message: ``sent``; ``refused`` (the shopper has not
    subscribed: not an error, nothing to retry); ``failed`` (WeChat refused the message
    itself, ``errcode`` says why); ``retry`` (WeChat was unreachable or busy)."""

    outcome: Outcome
    errcode: int = 0
    errmsg: str = ""
    msgid: int | None = None


def _cache_key() -> str:
    return f"wechat:access-token:{settings.WECHAT_APPID}"


def _lock_key() -> str:
    return f"{_cache_key()}:refreshing"


def _cached() -> AccessToken | None:
    value = cache.get(_cache_key())
    if not isinstance(value, dict) or not value.get("token"):
        return None
    return AccessToken(token=value["token"], expires_at=dt.datetime.fromtimestamp(value["expires_at"], tz=dt.UTC))


def _fresh(token: AccessToken | None, now: dt.datetime) -> bool:
    return token is not None and now < token.expires_at - settings.WECHAT_ACCESS_TOKEN_REFRESH_MARGIN


def get_access_token() -> str:
    """The current access token: the cached one while it is fresh, else a new one.

    Raises ``WeChatApiUnavailable`` (try later) or ``WeChatApiError`` (our setup is wrong).
    """
    cached = _cached()
    if _fresh(cached, clock.now()):
        return cached.token
    if cache.add(_lock_key(), "1", timeout=LOCK_SECONDS):
        try:
            cached = _cached()  # refreshed by another process between our read and the lock
            if _fresh(cached, clock.now()):
                return cached.token
            return _fetch_and_store().token
        finally:
            cache.delete(_lock_key())
    # Another process is refreshing: a token in the margin still works until it expires.
    if cached is not None and clock.now() < cached.expires_at:
        return cached.token
    deadline = time.monotonic() + WAIT_FOR_REFRESH_SECONDS
    while time.monotonic() < deadline:
        time.sleep(WAIT_STEP_SECONDS)
        cached = _cached()
        if cached is not None and clock.now() < cached.expires_at:
            return cached.token
    logger.warning("wechat access token: the refresh under way did not finish; fetching one here")
    return _fetch_and_store().token


def forget_access_token(token: str) -> None:
    """WeChat said ``token`` is invalid or expired: drop it, unless another process has
    already replaced it with a newer one."""
    cached = _cached()
    if cached is not None and cached.token == token:
        cache.delete(_cache_key())


def _fetch_and_store() -> AccessToken:
    token = fetch_access_token()
    lifetime = max(int((token.expires_at - clock.now()).total_seconds()), 1)
    cache.set(_cache_key(), {"token": token.token, "expires_at": token.expires_at.timestamp()}, timeout=lifetime)
    return token


def fetch_access_token() -> AccessToken:
    """``GET /cgi-bin/token``: a new access token, not cached (``get_access_token`` caches)."""
    url = f"{settings.WECHAT_API_BASE_URL}/cgi-bin/token"
    params = {"grant_type": "client_credential", "appid": settings.WECHAT_APPID, "secret": settings.WECHAT_SECRET}
    asked_at = clock.now()
    body = _call("GET", url, params=params, what="cgi-bin/token")
    errcode = _errcode(body)
    if errcode in RETRYABLE_ERRCODES:
        logger.warning("cgi-bin/token errcode=%s", errcode)
        raise WeChatApiUnavailable(details={"errcode": errcode})
    if errcode:
        # A wrong appid or secret, an IP not on the allow-list: ours to fix.
        logger.error("cgi-bin/token errcode=%s errmsg=%s", errcode, str(body.get("errmsg", ""))[:200])
        raise WeChatApiError(details={"errcode": errcode})
    token, expires_in = body.get("access_token"), body.get("expires_in")
    if not isinstance(token, str) or not token or not isinstance(expires_in, int) or expires_in <= 0:
        raise WeChatApiError("WeChat answered without an access token.")
    return AccessToken(token=token, expires_at=asked_at + dt.timedelta(seconds=expires_in))


def send_subscribe_message(*, openid: str, template_id: str, data: Mapping[str, str], page: str = "") -> SendResult:
    """``POST /cgi-bin/message/subscribe/send``: one subscribe message to ``openid``.

    ``data`` maps the template's keywords to their text. A token WeChat calls invalid or
    expired is dropped and the message sent once more with a new one.
    """
    body = {
        "touser": openid,
        "template_id": template_id,
        "data": {keyword: {"value": value} for keyword, value in data.items()},
        "miniprogram_state": settings.WECHAT_MINIPROGRAM_STATE,
        "lang": "zh_CN",
    }
    if page:
        body["page"] = page
    result = None
    for _ in range(2):
        try:
            token = get_access_token()
        except WeChatApiUnavailable as exc:
            return SendResult("retry", errcode=exc.details.get("errcode", 0), errmsg="access token unavailable")
        except WeChatApiError as exc:
            return SendResult("failed", errcode=exc.details.get("errcode", 0), errmsg="access token refused")
        result = _send(token, body)
        if result.errcode not in TOKEN_ERRCODES:
            return result
        logger.info("subscribe/send errcode=%s: fetching a new access token", result.errcode)
        forget_access_token(token)
    return SendResult("retry", errcode=result.errcode, errmsg=result.errmsg)


def _send(token: str, body: dict) -> SendResult:
    url = f"{settings.WECHAT_API_BASE_URL}/cgi-bin/message/subscribe/send"
    try:
        answer = _call(
            "POST",
            url,
            params={"access_token": token},
            data=json.dumps(body, ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json; charset=utf-8"},
            what="subscribe/send",
        )
    except WeChatApiUnavailable:
        return SendResult("retry", errmsg="unreachable")
    errcode = _errcode(answer)
    errmsg = str(answer.get("errmsg", ""))[:200]
    if errcode == 0:
        msgid = answer.get("msgid")
        return SendResult("sent", msgid=msgid if isinstance(msgid, int) else None)
    if errcode == ERRCODE_USER_REFUSED:
        return SendResult("refused", errcode=errcode, errmsg=errmsg)
    if errcode in TOKEN_ERRCODES or errcode in RETRYABLE_ERRCODES:
        return SendResult("retry", errcode=errcode, errmsg=errmsg)
    logger.warning("subscribe/send template=%s errcode=%s errmsg=%s", body["template_id"], errcode, errmsg)
    return SendResult("failed", errcode=errcode, errmsg=errmsg)


def _call(method: str, url: str, *, what: str, **kwargs) -> dict:
    """One HTTP call; the JSON object WeChat answered. No answer, a 5xx or a body that is
    not a JSON object is ``WeChatApiUnavailable`` (a gateway's error page, not WeChat's word)."""
    try:
        response = requests.request(method, url, timeout=settings.WECHAT_HTTP_TIMEOUT, **kwargs)
    except requests.RequestException as exc:
        logger.warning("%s failed: %s", what, type(exc).__name__)
        raise WeChatApiUnavailable() from None
    if response.status_code >= 500:
        logger.warning("%s answered HTTP %s", what, response.status_code)
        raise WeChatApiUnavailable()
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        logger.warning("%s answered something other than a JSON object (HTTP %s)", what, response.status_code)
        raise WeChatApiUnavailable()
    return body


def _errcode(body: dict) -> int:
    """WeChat's errcode (0 when absent); one that is not a number is taken as "busy"."""
    errcode = body.get("errcode") or 0
    if isinstance(errcode, bool):
        return ERRCODE_SYSTEM_BUSY
    try:
        return int(errcode)
    except (TypeError, ValueError):
        return ERRCODE_SYSTEM_BUSY
