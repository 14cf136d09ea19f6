"""Login, logout and the signed-in customer."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from miniprogram_api.accounts import services, tokens

from .schema import ERROR_RESPONSES
from .throttling import LoginThrottle


class CustomerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    nickname = serializers.CharField()
    phone = serializers.CharField()
    created_at = serializers.DateTimeField()


class StrictCharField(serializers.CharField):
    """A string, not a number coerced into one: DRF's CharField turns 123 into "123", and
    a code that was never a string is a client bug better refused than sent to WeChat."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class WeChatLoginInput(serializers.Serializer):
    code = StrictCharField(max_length=128, help_text="The code from wx.login() in the mini-program.")


class WeChatLoginOutput(serializers.Serializer):
    token = serializers.CharField(help_text="Send as 'Authorization: Bearer <token>'.")
    expires_at = serializers.DateTimeField()
    created = serializers.BooleanField(help_text="True when this login created the customer.")
    customer = CustomerSerializer()


class WeChatLoginView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginThrottle]

    @extend_schema(
        request=WeChatLoginInput,
        responses={200: WeChatLoginOutput, **ERROR_RESPONSES},
        summary="Log in with a wx.login() code",
        tags=["auth"],
    )
    def post(self, request):
        data = WeChatLoginInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.login_with_wechat_code(code=data.validated_data["code"])
        return Response(WeChatLoginOutput(result).data)


class LogoutView(APIView):
    @extend_schema(request=None, responses={204: None, **ERROR_RESPONSES}, summary="Revoke this token", tags=["auth"])
    def post(self, request):
        tokens.revoke_token(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(
        responses={200: CustomerSerializer, **ERROR_RESPONSES}, summary="The signed-in customer", tags=["auth"]
    )
    def get(self, request):
        return Response(CustomerSerializer(request.user).data)
