from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserCreationForm

from .models import AccessToken, Customer


class CustomerCreationForm(UserCreationForm):
    class Meta:
        model = Customer
        fields = ("username",)


@admin.register(Customer)
class CustomerAdmin(UserAdmin):
    add_form = CustomerCreationForm
    list_display = ("username", "nickname", "phone", "openid", "is_staff", "is_active", "created_at")
    list_filter = ("is_staff", "is_superuser", "is_active", "wechat_appid")
    search_fields = ("username", "nickname", "phone", "openid", "unionid")
    ordering = ("-created_at",)
    readonly_fields = ("created_at", "last_login", "wechat_appid", "openid", "unionid")
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Profile", {"fields": ("nickname", "phone")}),
        ("WeChat", {"fields": ("wechat_appid", "openid", "unionid")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "created_at")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("username", "password1", "password2")}),)


@admin.register(AccessToken)
class AccessTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "customer", "created_at", "expires_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("prefix", "customer__username", "customer__nickname")
    raw_id_fields = ("customer",)
    readonly_fields = ("key_hash", "prefix", "created_at")
