"""Input and output of returns: what the shopper brings back, and where the money goes."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from checkout.returns import MAX_LINES_PER_RETURN
from checkout.returns_models import Refund, Return
from stores.selectors import MAX_ID

from .baskets_serializers import StrictIntegerField

MAX_UNITS_PER_LINE = 9999


class ReturnLineInput(serializers.Serializer):
    line_id = StrictIntegerField(min_value=1, max_value=MAX_ID, help_text="An order line id (`order.lines[].id`).")
    quantity = StrictIntegerField(
        min_value=1,
        max_value=MAX_UNITS_PER_LINE,
        help_text="Units to return; a weighed line comes back whole: 1.",
    )


class ReturnInput(serializers.Serializer):
    lines = ReturnLineInput(many=True, min_length=1, max_length=MAX_LINES_PER_RETURN)
    reason = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="", help_text="Optional: no questions asked."
    )

    def validate_lines(self, value: list[dict]) -> list[dict]:
        ids = [line["line_id"] for line in value]
        if len(set(ids)) != len(ids):
            raise serializers.ValidationError("Each line at most once.")
        return [{"line_id": line["line_id"], "quantity": line["quantity"]} for line in value]


class ReturnLineSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    line_id = serializers.IntegerField(source="order_line_id")
    sku = serializers.CharField(source="order_line.sku")
    name = serializers.CharField(source="order_line.name")
    quantity = serializers.IntegerField()
    refund_fen = serializers.IntegerField(help_text="These units' share of the line after every discount.")


class RefundSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    tender = serializers.ChoiceField(choices=Refund.Tender.choices)
    amount_fen = serializers.IntegerField()
    state = serializers.ChoiceField(
        choices=Refund.State.choices,
        help_text="pending (not yet sent), processing (at WeChat Pay or Alipay), succeeded, or failed (staff act).",
    )
    out_refund_no = serializers.CharField(help_text="The refund's number at the provider.")
    gift_card_id = serializers.IntegerField(allow_null=True, help_text="Gift-card refunds: the card paid back.")
    overflow_gift_card_id = serializers.SerializerMethodField(
        help_text="A gift-card refund that did not fit under the card's cap (or whose card now belongs to someone "
        "else) went, in part or whole, onto this new card of the shopper's."
    )
    created_at = serializers.DateTimeField()
    succeeded_at = serializers.DateTimeField(allow_null=True)

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_overflow_gift_card_id(self, refund: Refund) -> int | None:
        return refund.data.get("overflow_card_id") if refund.tender == Refund.Tender.GIFT_CARD else None


class ReturnSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    order_id = serializers.IntegerField()
    reason = serializers.CharField()
    goods_fen = serializers.IntegerField(help_text="The returned units' share after discounts.")
    delivery_fee_fen = serializers.IntegerField(help_text="Refunded with the return that brings back everything.")
    amount_fen = serializers.IntegerField(help_text="goods_fen + delivery_fee_fen: what is refunded.")
    full = serializers.BooleanField(help_text="This return brought back everything left of the order.")
    refund_state = serializers.ChoiceField(choices=Return.RefundState.choices)
    goods_state = serializers.ChoiceField(
        choices=Return.GoodsState.choices, help_text="received once staff took the goods back."
    )
    created_at = serializers.DateTimeField()
    refunded_at = serializers.DateTimeField(allow_null=True)
    received_at = serializers.DateTimeField(allow_null=True)
    lines = ReturnLineSerializer(many=True)
    refunds = RefundSerializer(many=True, help_text="One per tender: gift cards first, then WeChat Pay or Alipay.")
