from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from checkout.exitpass import state_of
from checkout.models import Order, Shipment
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

    def get_final_fen(self, line) -> int:
        return line.line_total_fen - line.discount_fen


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


class OrderSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    channel = serializers.ChoiceField(choices=Order.Channel.choices)
    state = serializers.ChoiceField(choices=Order.State.choices)
    store = OrderStoreSerializer(allow_null=True)
    payment_method = serializers.CharField()
    item_count = serializers.IntegerField()
    goods_subtotal_fen = serializers.IntegerField()
    discount_fen = serializers.IntegerField()
    delivery_fee_fen = serializers.IntegerField()
    total_fen = serializers.IntegerField()
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

    def validate_coupon_ids(self, value: list[int]) -> list[int]:
        """Sorted, so the same choice in another order is the same request (Idempotency-Key)."""
        if len(set(value)) != len(value):
            raise serializers.ValidationError("Each coupon at most once.")
        return sorted(value)


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
