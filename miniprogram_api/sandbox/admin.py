from django.contrib import admin

from .models import WeChatLoginCode, WeChatSubscribeMessage, WeChatSubscription


@admin.register(WeChatLoginCode)
class WeChatLoginCodeAdmin(admin.ModelAdmin):
    list_display = ("shopper", "openid", "created_at", "used_at", "fail_with_errcode")
    search_fields = ("shopper", "openid")
    readonly_fields = ("code",)


@admin.register(WeChatSubscribeMessage)
class WeChatSubscribeMessageAdmin(admin.ModelAdmin):
    list_display = ("received_at", "touser", "template_id", "page", "msgid")
    list_filter = ("template_id",)
    search_fields = ("=touser", "=msgid")


@admin.register(WeChatSubscription)
class WeChatSubscriptionAdmin(admin.ModelAdmin):
    list_display = ("openid", "template_id", "status", "updated_at")
    list_filter = ("status",)
    search_fields = ("=openid",)
