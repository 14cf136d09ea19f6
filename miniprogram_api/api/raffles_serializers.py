from rest_framework import serializers

from stores.selectors import MAX_ID

from .baskets_serializers import StrictIntegerField
from .orders_serializers import OrderSerializer

OUTCOMES = [("won", "Won"), ("lost", "Lost"), ("budget_exhausted", "Won, but today's prizes are all given away")]


class LiveRaffleSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    prize_fen = serializers.IntegerField(help_text="Off the whole order when the entry wins.")
    daily_entries_per_customer = serializers.IntegerField()
    entries_left_today = serializers.IntegerField(help_text="Entries this shopper has left today (Asia/Shanghai).")


class RaffleEnterInput(serializers.Serializer):
    order_id = StrictIntegerField(min_value=1, max_value=MAX_ID, help_text="An unpaid order of mine; one per raffle.")


class RaffleEnterOutput(serializers.Serializer):
    entry_id = serializers.IntegerField()
    outcome = serializers.ChoiceField(choices=OUTCOMES)
    won = serializers.BooleanField()
    prize_fen = serializers.IntegerField(help_text="Taken off the order; 0 unless won.")
    order = OrderSerializer(help_text="The order after the draw: re-priced on a win, paid if nothing is left to pay.")
    payment_params = serializers.DictField(
        allow_null=True,
        help_text=(
            "When a win re-priced the order: the new payment's client params (as checkout returns them); pay "
            "with these, not the old ones. Null on a loss, when the prize left nothing to pay, or when the "
            "provider could not be reached (check the basket out again to get them)."
        ),
    )
