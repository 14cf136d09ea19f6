from django.urls import include, path

from . import confirm, wechat_login

urlpatterns = [
    path("wechat/sns/jscode2session", wechat_login.jscode2session),
    path("wechat/login-codes", wechat_login.mint_login_code),
    path("wechatpay/", include("miniprogram_api.sandbox.wechatpay_urls")),
    path("alipay/", include("miniprogram_api.sandbox.alipay_urls")),
    path("payments/<str:out_trade_no>/confirm", confirm.confirm_payment),
]
