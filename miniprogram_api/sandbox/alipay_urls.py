from django.urls import path

from . import alipay

urlpatterns = [
    path("gateway.do", alipay.gateway),
]
