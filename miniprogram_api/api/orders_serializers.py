from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from checkout.exitpass import state_of
from checkout.gift_card_tender import MAX_CARDS
from checkout.models import Order, Return, Shipment
from checkout.returns import return_deadline
from stores.selectors import MAX_ID

from .baskets_serializers import StrictIntegerField

MAX_CHECKOUT_COUPONS = 2  # one order coupon and one delivery coupon


class OrderStoreSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()


class OrderLineSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    product_id = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField()
    barcode = serializers.CharField()
    kind = serializers.CharField()
    quantity = serializers.IntegerField()
    weight_g = serializers.IntegerField(allow_null=True)
    unit_price_fen = serializers.IntegerField(help_text="Per unit, or per kg for weighed goods.")
    line_total_fen = serializers.IntegerField()
    discount_fen = serializers.IntegerField()
    final_fen = serializers.SerializerMethodField()
    age_restricted = serializers.BooleanField()
    returned_quantity = serializers.SerializerMethodField(help_text="Units returned so far (a weighed line: 1).")

    def get_final_fen(self, line) -> int:
        return line.line_total_fen - line.discount_fen

    def get_returned_quantity(self, line) -> int:
        if hasattr(line, "returned_quantity"):  # annotated by the orders selector
            return line.returned_quantity
        return sum(line.returned.values_list("quantity", flat=True))


class PaymentSummarySerializer(serializers.Serializer):
    provider = serializers.CharField()
    out_trade_no = serializers.CharField()
    state = serializers.CharField()
    amount_fen = serializers.IntegerField()
    paid_at = serializers.DateTimeField(allow_null=True)


class ShipmentLocationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.CharField(help_text="store or warehouse")


class ShipmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    location = ShipmentLocationSerializer()
    status = serializers.ChoiceField(choices=Shipment.Status.choices)
    slot_date = serializers.DateField()
    slot = serializers.CharField(help_text='"HH:MM-HH:MM" (local), or "express".')
    dispatched_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)


class ReturnSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    amount_fen = serializers.IntegerField()
    full = serializers.BooleanField()
    refund_state = serializers.ChoiceField(choices=Return.RefundState.choices)
    goods_state = serializers.ChoiceField(choices=Return.GoodsState.choices)
    created_at = serializers.DateTimeField()


class OrderSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    kind = serializers.ChoiceField(
        choices=Order.Kind.choices, help_text="goods, or a gift card bought (gift_card) or topped up."
    )
    channel = serializers.ChoiceField(choices=Order.Channel.choices)
    state = serializers.ChoiceField(choices=Order.State.choices)
    store = OrderStoreSerializer(allow_null=True)
    payment_method = serializers.CharField()
    item_count = serializers.IntegerField()
    goods_subtotal_fen = serializers.IntegerField()
    discount_fen = serializers.IntegerField()
    delivery_fee_fen = serializers.IntegerField()
    total_fen = serializers.IntegerField()
    gift_card_fen = serializers.IntegerField(help_text="What gift cards paid of the total; the payment is the rest.")
    refunded_fen = serializers.IntegerField(help_text="Refunded so far by returns, every tender together.")
    gift_card_id = serializers.IntegerField(
        allow_null=True, help_text="Gift-card orders: the card bought or topped up (once paid)."
    )
    adjustments = serializers.ListField(child=serializers.DictField())
    lines = OrderLineSerializer(many=True)
    payment = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    payment_deadline = serializers.DateTimeField()
    paid_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    # Delivery and pick-up orders (null or empty for scan & pay).
    city = serializers.CharField(source="city.code", allow_null=True, default=None, help_text="The city's code.")
    delivery_address = serializers.DictField(
        allow_null=True, help_text="The address as it was at checkout; null for pick-up and scan & pay."
    )
    slot_date = serializers.DateField(allow_null=True, help_text="Local date of delivery or collection.")
    slot = serializers.CharField(help_text='"HH:MM-HH:MM" (local), "express", or empty for scan & pay.')
    delivered_at = serializers.DateTimeField(allow_null=True)
    shipments = ShipmentSerializer(many=True, help_text="One per fulfilment location; empty for scan & pay.")
    return_deadline = serializers.SerializerMethodField(
        help_text="Until when goods may be returned (14 days from delivery, or from payment in store); null "
        "before delivery and for gift-card orders."
    )
    returns = ReturnSummarySerializer(many=True, help_text="Newest first; GET .../returns has their lines and refunds.")

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_return_deadline(self, order):
        deadline = return_deadline(order)
        return serializers.DateTimeField().to_representation(deadline) if deadline else None

    @extend_schema_field(PaymentSummarySerializer(allow_null=True))
    def get_payment(self, order):
        """The payment that paid the order, else its latest (a raffle win supersedes the first).
        None for an order paid with no payment (promotions covered it all)."""
        payments = list(order.payments.all())
        paid = [payment for payment in payments if payment.state == "paid"]
        if paid:
            shown = paid[0]
        elif order.paid_at is not None:
            shown = None
        else:
            shown = payments[-1] if payments else None
        return PaymentSummarySerializer(shown).data if shown else None


class CheckoutInput(serializers.Serializer):
    payment_method = serializers.ChoiceField(choices=Order.PaymentMethod.choices)
    coupon_ids = serializers.ListField(
        child=StrictIntegerField(min_value=1, max_value=MAX_ID),
        max_length=MAX_CHECKOUT_COUPONS,
        required=False,
        default=list,
        help_text="The shopper's coupons to use, each once: at most one order coupon and one delivery coupon.",
    )

    gift_card_ids = serializers.ListField(
        child=StrictIntegerField(min_value=1, max_value=MAX_ID),
        max_length=MAX_CARDS,
        required=False,
        default=list,
        help_text=(
            "The shopper's gift cards, paying first in this order, each up to its balance; "
            "`payment_method` pays the rest. Cards covering the whole total pay the order at once."
        ),
    )

    def validate_coupon_ids(self, value: list[int]) -> list[int]:
        """Sorted, so the same choice in another order is the same request (Idempotency-Key)."""
        if len(set(value)) != len(value):
            raise serializers.ValidationError("Each coupon at most once.")
        return sorted(value)

    def validate_gift_card_ids(self, value: list[int]) -> list[int]:
        """Kept in the shopper's order: the first card pays first."""
        if len(set(value)) != len(value):
            raise serializers.ValidationError("Each gift card at most once.")
        return value


class CheckoutOutput(serializers.Serializer):
    order = OrderSerializer()
    payment_params = serializers.DictField(
        allow_null=True,
        help_text=(
            "For wechat_pay, pass to wx.requestPayment: {appId, timeStamp, nonceStr, package, signType, paySign}. "
            "For alipay, pass tradeNO to my.tradePay: {tradeNO}. Null when promotions cover the whole total: "
            "the order is already paid."
        ),
    )


class ExitPassSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Show as a QR code at the exit gate (or use exit-pass.png).")
    state = serializers.SerializerMethodField(help_text="valid, used or expired")
    issued_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    used_at = serializers.DateTimeField(allow_null=True)
    item_count = serializers.IntegerField()
    total_fen = serializers.IntegerField()

    def get_state(self, exit_pass) -> str:
        return state_of(exit_pass)
