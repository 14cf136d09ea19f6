"""Input and output serializers for gift cards: buying, topping up, sharing and claiming.

Amounts are JSON integers of fen (``StrictIntegerField``: not "100", not 100.0, not true);
whether an amount is allowed is the service's decision, so every refusal carries the same
stable code however it is reached. Outputs only read what the selectors fetched.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from checkout.models import Order
from promotions.models import GiftCard, GiftCardTransaction

from .baskets_serializers import StrictCharField, StrictIntegerField
from .orders_serializers import OrderSerializer

MAX_MESSAGE_LENGTH = 200
MAX_TOKEN_LENGTH = 128

# --- Inputs -------------------------------------------------------------------------------


class GiftCardPaymentInput(serializers.Serializer):
    amount_fen = StrictIntegerField(
        help_text="An active denomination, or a custom amount from `custom_min_fen` to `custom_max_fen` "
        "(see `GET /api/v1/gift-cards/denominations`)."
    )
    payment_method = serializers.ChoiceField(choices=Order.PaymentMethod.choices)


class GiftCardShareInput(serializers.Serializer):
    message = StrictCharField(
        max_length=MAX_MESSAGE_LENGTH,
        required=False,
        allow_blank=True,
        default="",
        help_text="A note for the friend, shown on the share card (at most 200 characters).",
    )


class GiftCardClaimInput(serializers.Serializer):
    token = StrictCharField(max_length=MAX_TOKEN_LENGTH, help_text="The `token` from the share card's link.")


# --- Outputs ------------------------------------------------------------------------------


def _inline_enum(choices) -> dict:
    """An enum schema of its own: no shared component whose name could clash with another
    app's ``status`` or ``kind``."""
    return {"type": "string", "enum": [value for value, _ in choices]}


SHARING_STATES = [("none", "Not offered"), ("offered", "Offered to a friend")]


@extend_schema_field(_inline_enum(GiftCard.Status.choices))
class GiftCardStatusField(serializers.CharField):
    pass


@extend_schema_field(_inline_enum(GiftCardTransaction.Kind.choices))
class GiftCardTransactionKindField(serializers.CharField):
    pass


@extend_schema_field(_inline_enum(SHARING_STATES))
class SharingStateField(serializers.CharField):
    pass


class GiftCardSharingOutput(serializers.Serializer):
    state = SharingStateField(
        help_text="`offered` while an unexpired share is open: the card cannot be spent or topped up.",
    )
    share_id = serializers.IntegerField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)


class GiftCardOutput(serializers.Serializer):
    """A card as lists show it; reads the ``share_id``/``share_expires_at`` annotations."""

    id = serializers.IntegerField()
    masked_code = serializers.CharField(help_text="All but the last 4 digits hidden.")
    balance_fen = serializers.IntegerField(help_text="Spendable now.")
    held_fen = serializers.IntegerField(help_text="Set aside for an order awaiting its payment.")
    initial_fen = serializers.IntegerField(help_text="What the card was bought or issued for.")
    status = GiftCardStatusField(help_text="`active`, or `frozen` by staff (cannot be spent, shared or topped up).")
    created_at = serializers.DateTimeField()
    sharing = serializers.SerializerMethodField()

    @extend_schema_field(GiftCardSharingOutput)
    def get_sharing(self, card: GiftCard) -> dict:
        offered = card.share_id is not None
        return {
            "state": "offered" if offered else "none",
            "share_id": card.share_id,
            "expires_at": serializers.DateTimeField().to_representation(card.share_expires_at) if offered else None,
        }


class GiftCardTransactionOutput(serializers.Serializer):
    kind = GiftCardTransactionKindField(
        help_text="`issue`, `top_up`, `hold`, `capture`, `release`, `refund` or `transfer`."
    )
    amount_fen = serializers.IntegerField(help_text="Change of the spendable balance (negative: spent or held).")
    held_delta_fen = serializers.IntegerField(help_text="Change of the held amount.")
    balance_after_fen = serializers.IntegerField()
    held_after_fen = serializers.IntegerField()
    order_id = serializers.IntegerField(allow_null=True, help_text="The order that bought, topped up or spent it.")
    created_at = serializers.DateTimeField()


class GiftCardDetailOutput(GiftCardOutput):
    code = serializers.CharField(help_text="The full 16-digit code (only ever shown to the card's owner).")
    transactions = GiftCardTransactionOutput(
        many=True, source="history", help_text="The ledger while the card has been mine, oldest first."
    )


class GiftCardOrderOutput(serializers.Serializer):
    order = OrderSerializer()
    payment_params = serializers.DictField(
        help_text=(
            "For wechat_pay, pass to wx.requestPayment: {appId, timeStamp, nonceStr, package, signType, paySign}. "
            "For alipay, pass tradeNO to my.tradePay: {tradeNO}."
        ),
    )


class WeChatShareCardOutput(serializers.Serializer):
    title = serializers.CharField(help_text="For onShareAppMessage's `title`, e.g. '送你一张¥200.00礼品卡'.")
    path = serializers.CharField(help_text="For onShareAppMessage's `path`: the claim page with the token.")
    message = serializers.CharField(help_text="The sharer's note (may be empty).")


class GiftCardShareOutput(serializers.Serializer):
    share_id = serializers.IntegerField(source="share.pk")
    token = serializers.CharField(help_text="Single use; give it only to the friend (it is shown once).")
    expires_at = serializers.DateTimeField(source="share.expires_at")
    amount_fen = serializers.IntegerField(help_text="What the friend receives: the card's whole balance.")
    wechat_share = serializers.SerializerMethodField()

    @extend_schema_field(WeChatShareCardOutput)
    def get_wechat_share(self, offer) -> dict:
        return {"title": offer.title, "path": offer.path, "message": offer.share.message}


class GiftCardDenominationsOutput(serializers.Serializer):
    denominations_fen = serializers.ListField(
        child=serializers.IntegerField(), help_text="The amounts offered, in display order."
    )
    custom_min_fen = serializers.IntegerField(help_text="A custom amount is at least this ...")
    custom_max_fen = serializers.IntegerField(help_text="... and at most this (the card's cap).")
    cap_fen = serializers.IntegerField(help_text="What one card may hold at most, spendable and held together.")
