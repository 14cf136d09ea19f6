from django.urls import path

from . import wechat_login

urlpatterns = [
    path("wechat/sns/jscode2session", wechat_login.jscode2session),
    path("wechat/login-codes", wechat_login.mint_login_code),
]
