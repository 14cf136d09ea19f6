"""What the sandbox's WeChat keeps for the server API: access tokens, the shoppers'
subscription choices, and every subscribe message it accepted."""

from django.db import models

__all__ = ["WeChatAccessToken", "WeChatSubscribeMessage", "WeChatSubscription"]


class WeChatAccessToken(models.Model):
    """A ``cgi-bin/token`` access token. Issuing a new one leaves the older ones of the app
    five more minutes at most, as WeChat documents."""

    appid = models.CharField(max_length=32)
    token = models.CharField(max_length=200, unique=True)
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["appid", "expires_at"])]

    def __str__(self) -> str:
        return f"{self.appid} {self.token[:8]}… until {self.expires_at:%H:%M:%S}"


class WeChatSubscription(models.Model):
    """A shopper's answer to ``wx.requestSubscribeMessage`` for one template (or, with no
    template, for all). Without a row the shopper counts as subscribed, so the local run
    needs no phone; ``reject`` makes ``subscribe/send`` answer 43101."""

    class Status(models.TextChoices):
        ACCEPT = "accept", "Accepted"
        REJECT = "reject", "Rejected"

    appid = models.CharField(max_length=32)
    openid = models.CharField(max_length=64)
    template_id = models.CharField(max_length=64, blank=True, help_text="Empty: every template.")
    status = models.CharField(max_length=8, choices=Status.choices)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["appid", "openid", "template_id"], name="sandbox_wechat_subscription_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.openid} {self.template_id or '*'}: {self.status}"


class WeChatSubscribeMessage(models.Model):
    """A message ``subscribe/send`` accepted, as the shopper's WeChat would show it."""

    appid = models.CharField(max_length=32)
    msgid = models.BigIntegerField(unique=True)
    touser = models.CharField(max_length=64)
    template_id = models.CharField(max_length=64)
    page = models.CharField(max_length=256, blank=True)
    data = models.JSONField(default=dict)
    miniprogram_state = models.CharField(max_length=16)
    lang = models.CharField(max_length=8)
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["touser", "id"])]

    def __str__(self) -> str:
        return f"{self.template_id} to {self.touser}"
