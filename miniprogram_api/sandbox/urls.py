from django.urls import include, path

from . import confirm, wechat_login, wechat_messages

urlpatterns = [
    path("wechat/sns/jscode2session", wechat_login.jscode2session),
    path("wechat/login-codes", wechat_login.mint_login_code),
    path("wechat/cgi-bin/token", wechat_messages.token),
    path("wechat/cgi-bin/message/subscribe/send", wechat_messages.subscribe_send),
    path("wechat/subscriptions", wechat_messages.set_subscription),
    path("wechat/messages", wechat_messages.list_messages),
    path("wechatpay/", include("miniprogram_api.sandbox.wechatpay_urls")),
    path("alipay/", include("miniprogram_api.sandbox.alipay_urls")),
    path("payments/<str:out_trade_no>/confirm", confirm.confirm_payment),
    path("refunds/<str:out_refund_no>/complete", confirm.complete_refund),
]
