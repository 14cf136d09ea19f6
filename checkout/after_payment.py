"""What happens once an order is paid: the steps ``after_payment_jobs`` runs, from the
``order_paid`` task or, if that was lost, from the redrive.

Each step is idempotent on its own (a conditional update or a unique row claims its work),
so a job may run twice — a redelivered message, a redrive racing a late task, a run cut
short between two steps — and still do each thing once.
"""

from __future__ import annotations

from collections import defaultdict

from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest

from miniprogram_api.core import clock
from promotions import campaigns, packs
from stores.models import Stock

from . import exitpass, notifications, order_states, pickup_codes
from .models import Order, OrderLine

# Orders that were paid, whatever happened after: a refunded first order was still the first.
EVER_PAID_STATES = (Order.State.PAID, Order.State.PARTIALLY_REFUNDED, Order.State.REFUNDED)


def commit_store_stock(*, order_id: int) -> bool:
    """Take what a paid in-store order sold out of the store's stock; False if done before.

    Units for packaged goods, grams for weighed ones (how their stock is kept). The shelf
    already lost the goods, so book stock follows even where it was wrong: it is clamped
    at what is reserved for other orders rather than refusing the sale. Rows are locked in
    product order, as every stock writer does, so two orders never deadlock.
    """
    with transaction.atomic():
        # Returned since (the task ran late)? What was sold still left the shelf; the
        # return puts it back when staff receive it, so the sale is committed regardless.
        claimed = Order.objects.filter(
            pk=order_id, state__in=EVER_PAID_STATES, channel=Order.Channel.IN_STORE, stock_committed_at__isnull=True
        ).update(stock_committed_at=clock.now())
        if not claimed:
            return False
        order = Order.objects.only("store_id").get(pk=order_id)
        sold: dict[int, int] = defaultdict(int)
        for line in OrderLine.objects.filter(order_id=order_id).only("product_id", "quantity", "weight_g"):
            sold[line.product_id] += line.weight_g if line.weight_g else line.quantity
        for product_id in sorted(sold):
            Stock.objects.filter(location_id=order.store_id, product_id=product_id).update(
                on_hand=Greatest(F("on_hand") - sold[product_id], F("reserved"))
            )
        order_states.record_event(order_id=order_id, event="stock_committed", data={"lines": len(sold)})
    return True


def issue_exit_pass(*, order_id: int) -> bool:
    """Have the pass ready before the shopper walks to the gate (the shopper's own request
    would issue it too, so this only saves them a wait); False for other channels."""
    if not Order.objects.filter(pk=order_id, channel=Order.Channel.IN_STORE, state=Order.State.PAID).exists():
        return False
    exitpass.issue_exit_pass(order_id=order_id)
    return True


# Orders that count as paid for the omnichannel bonus: a later refund does not take back
# the bonus, as the shopper did shop on that channel.
BONUS_PAID_STATES = (Order.State.PAID, Order.State.PARTIALLY_REFUNDED, Order.State.REFUNDED)
ONLINE_CHANNELS = (Order.Channel.DELIVERY, Order.Channel.PICKUP)


def award_campaign_bonuses(*, order_id: int) -> int:
    """Grant the omnichannel bonus of every campaign live when this order was paid, to a
    shopper who has paid orders inside its window both in store and online (delivery or
    pick-up); the number granted. Each grant is once-only by its own unique row."""
    order = Order.objects.filter(pk=order_id, state__in=BONUS_PAID_STATES).only("customer_id", "paid_at").first()
    if order is None or order.paid_at is None:
        return 0
    granted = 0
    for window in campaigns.bonus_windows(at=order.paid_at, customer_id=order.customer_id):
        channels = set(
            Order.objects.filter(
                customer_id=order.customer_id,
                state__in=BONUS_PAID_STATES,
                paid_at__gte=window.starts_at,
                paid_at__lt=window.ends_at,
            )
            .values_list("channel", flat=True)
            .distinct()
        )
        if Order.Channel.IN_STORE in channels and channels.intersection(ONLINE_CHANNELS):
            granted += campaigns.grant_omnichannel_bonus(campaign_id=window.campaign_id, customer_id=order.customer_id)
    return granted


def announce_online_order(*, order_id: int) -> bool:
    """A paid delivery or pick-up order: a pick-up order gets its code if checkout gave it
    none, and the shopper the "paid" message (once, ``notifications`` sees to that) unless
    the work comes more than ``PAID_NOTICE_WITHIN`` after payment (a job that kept failing):
    such news would only confuse. False for other channels or states."""
    order = (
        Order.objects.filter(pk=order_id, state=Order.State.PAID, channel__in=ONLINE_CHANNELS).only("paid_at").first()
    )
    if order is None:
        return False
    pickup_codes.assign_code(order_id=order_id)
    if order.paid_at is not None and order.paid_at < clock.now() - notifications.PAID_NOTICE_WITHIN:
        return False
    return notifications.notify(order_id, "paid") is not None


def grant_new_customer_pack(*, order_id: int) -> bool:
    """Grant the new-customer pack if this paid order is the shopper's first; True if granted.

    First means no other order of theirs that was ever paid (refunded ones count) has an
    earlier ``paid_at``, ties broken by id: so of two first orders paid at once exactly one
    qualifies, whichever task runs first. The goods that count are after discounts. The
    pack's grant row (one per shopper) is what finally makes it once-only. Buying or
    topping up a gift card is not shopping: such orders neither earn the pack nor count
    as an earlier order.
    """
    order = (
        Order.objects.filter(pk=order_id, state=Order.State.PAID, kind=Order.Kind.GOODS)
        .only("customer_id", "paid_at", "goods_subtotal_fen", "discount_fen")
        .first()
    )
    if order is None or order.paid_at is None:
        return False
    earlier = (
        Order.objects.filter(customer_id=order.customer_id, state__in=EVER_PAID_STATES, kind=Order.Kind.GOODS)
        .filter(Q(paid_at__lt=order.paid_at) | Q(paid_at=order.paid_at, pk__lt=order.pk))
        .exists()
    )
    if earlier:
        return False
    return packs.grant_new_customer_pack(
        customer_id=order.customer_id, order_id=order.pk, goods_fen=order.goods_subtotal_fen - order.discount_fen
    )
