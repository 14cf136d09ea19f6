"""The customer (shoppers and staff share one model) and their access tokens."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models import Q


class CustomerManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, username: str, password: str | None = None, **extra):
        customer = self.model(username=username, **extra)
        customer.set_password(password)
        customer.save(using=self._db)
        return customer

    def create_superuser(self, username: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(username, password, **extra)


class Customer(AbstractBaseUser, PermissionsMixin):
    """A shopper (signed in with WeChat) or a member of staff (signed in to the admin).

    A shopper is identified by ``openid``, which WeChat scopes to one mini-program
    (``wechat_appid``); the same person in another app of the retailer shares only the
    ``unionid``. Shoppers get an unusable password: they never log in to the admin.
    """

    username = models.CharField(max_length=150, unique=True)
    nickname = models.CharField(max_length=64, blank=True)
    phone = models.CharField(max_length=20, blank=True)
    wechat_appid = models.CharField(max_length=32, blank=True)
    openid = models.CharField(max_length=64, null=True, blank=True)
    unionid = models.CharField(max_length=64, null=True, blank=True, db_index=True)
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CustomerManager()

    USERNAME_FIELD = "username"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = "customer"
        constraints = [
            models.UniqueConstraint(
                fields=["wechat_appid", "openid"],
                condition=Q(openid__isnull=False),
                name="customer_unique_openid_per_app",
            )
        ]

    def __str__(self) -> str:
        return self.nickname or self.username


class AccessToken(models.Model):
    """An opaque bearer token. Only its SHA-256 is stored, so a database leak leaks no
    usable token; ``prefix`` (the first characters) lets staff tell tokens apart."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="access_tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["expires_at"])]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.customer_id})"
