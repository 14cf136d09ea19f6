"""Logging a shopper in with WeChat."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction

from . import tokens, wechat
from .models import Customer


@dataclass(frozen=True)
class LoginResult:
    token: str
    expires_at: dt.datetime
    customer: Customer
    created: bool


def login_with_wechat_code(*, code: str) -> LoginResult:
    """Exchange the code, find or create the customer by (appid, openid), issue a token.

    The session key WeChat returns stays here: it is neither stored nor returned, since
    nothing we do needs it (phone numbers use WeChat's newer code-based API).
    """
    session = wechat.code_to_session(code)
    customer, created = _find_or_create_customer(openid=session.openid, unionid=session.unionid)
    raw, token = tokens.issue_token(customer=customer)
    return LoginResult(token=raw, expires_at=token.expires_at, customer=customer, created=created)


def _find_or_create_customer(*, openid: str, unionid: str | None) -> tuple[Customer, bool]:
    appid = settings.WECHAT_APPID
    lookup = {"wechat_appid": appid, "openid": openid}
    customer = Customer.objects.filter(**lookup).first()
    if customer is not None:
        if unionid and customer.unionid != unionid:
            Customer.objects.filter(pk=customer.pk).update(unionid=unionid)
            customer.unionid = unionid
        return customer, False
    try:
        # Two first logins of one shopper can race; the unique constraint decides.
        with transaction.atomic():
            customer = Customer.objects.create_user(username=f"wx:{appid}:{openid}"[:150], unionid=unionid, **lookup)
        return customer, True
    except IntegrityError:
        return Customer.objects.get(**lookup), False
