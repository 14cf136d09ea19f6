"""The sandbox's own records: login codes here; each provider's trades, and WeChat's
access tokens and subscribe messages, in their modules."""

from django.db import models

from .alipay_models import *  # noqa: F403
from .wechat_message_models import *  # noqa: F403
from .wechatpay_models import *  # noqa: F403


class WeChatLoginCode(models.Model):
    """A ``wx.login()`` code as WeChat would hand it to the phone: single use, 5 minutes."""

    code = models.CharField(max_length=64, unique=True)
    appid = models.CharField(max_length=32)
    shopper = models.CharField(max_length=64)
    openid = models.CharField(max_length=64)
    unionid = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    fail_with_errcode = models.IntegerField(
        null=True, blank=True, help_text="Makes the exchange answer this errcode, to rehearse WeChat's failures."
    )

    class Meta:
        indexes = [models.Index(fields=["openid", "used_at"])]

    def __str__(self) -> str:
        return f"{self.shopper} ({self.openid})"
