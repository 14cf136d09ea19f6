from django.contrib import admin

from .models import WeChatLoginCode


@admin.register(WeChatLoginCode)
class WeChatLoginCodeAdmin(admin.ModelAdmin):
    list_display = ("shopper", "openid", "created_at", "used_at", "fail_with_errcode")
    search_fields = ("shopper", "openid")
    readonly_fields = ("code",)
