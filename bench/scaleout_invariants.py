"""What must hold in the database after ``bench/scaleout.py``'s run, however the requests
interleaved over two API processes and two Celery workers. Each check returns
``(name, passed, detail)``; ``scaleout.py`` prints them and exits non-zero on a failure.

Some of these are also database CHECKs (stock, quotas, slot capacity): the check then
proves that no write was refused by the database as a 500 in a shopper's face, which the
run counts separately, and that the rows are sane as read.
"""

from __future__ import annotations

from collections import Counter, defaultdict

Check = tuple[str, bool, str]


def run_all(*, reserved_before: dict[tuple[int, int], int], confirmed: list[str]) -> list[Check]:
    return [
        no_order_paid_twice(),
        every_confirmed_payment_settled(confirmed),
        stock_within_bounds(),
        reservations_match_open_shipments(reserved_before),
        flash_sales_within_quota(),
        slots_within_capacity(),
        couriers_within_capacity(),
        after_payment_done_once(),
        paid_delivery_dispatched_once(),
        no_shipment_dispatched_twice(),
        gift_card_ledgers_balance(),
    ]


def no_order_paid_twice() -> Check:
    """Two paid payments on one order only when settlement flagged it for staff."""
    from django.db.models import Count

    from checkout.models import OrderEvent, Payment

    doubled = set(
        Payment.objects.filter(state=Payment.State.PAID)
        .values("order_id")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .values_list("order_id", flat=True)
    )
    flagged = set(
        OrderEvent.objects.filter(order_id__in=doubled, type__in=("paid_twice", "paid_superseded_payment")).values_list(
            "order_id", flat=True
        )
    )
    paid = Payment.objects.filter(state=Payment.State.PAID).count()
    unflagged = sorted(doubled - flagged)
    return (
        "no order paid twice",
        not unflagged,
        f"{paid} paid payments; orders with two paid payments: {len(doubled)} ({len(flagged)} flagged for staff)"
        + (f"; UNFLAGGED {unflagged[:10]}" if unflagged else ""),
    )


def every_confirmed_payment_settled(confirmed: list[str]) -> Check:
    """Every trade a shopper confirmed in the sandbox is paid here, its order too."""
    from checkout.models import Payment

    states = Counter(Payment.objects.filter(out_trade_no__in=confirmed).values_list("state", "order__state").iterator())
    settled = sum(n for (payment, order), n in states.items() if payment == "paid" and order == "paid")
    return (
        "every confirmed payment paid, with its order",
        settled == len(confirmed),
        f"{len(confirmed)} confirmed at the sandbox; (payment, order) states {dict(states)}",
    )


def stock_within_bounds() -> Check:
    from django.db.models import F, Q

    from stores.models import Stock

    bad = Stock.objects.filter(Q(on_hand__lt=0) | Q(reserved__lt=0) | Q(reserved__gt=F("on_hand")))
    return (
        "no stock below zero (on_hand >= 0, 0 <= reserved <= on_hand)",
        not bad.exists(),
        f"{Stock.objects.count()} stock rows; out of bounds: {bad.count()}",
    )


def reservations_match_open_shipments(reserved_before: dict[tuple[int, int], int]) -> Check:
    """Stock reserved now = what was reserved before the run + the units of shipments that
    still hold theirs (neither consumed at dispatch nor released when closed)."""
    from django.db.models import Sum

    from checkout.delivery_models import ShipmentLine
    from stores.models import Stock

    expected: dict[tuple[int, int], int] = defaultdict(int, reserved_before)
    for location_id, product_id, units in (
        ShipmentLine.objects.filter(shipment__stock_consumed_at__isnull=True, shipment__stock_released_at__isnull=True)
        .values("shipment__location_id", "product_id")
        .annotate(units=Sum("quantity"))
        .values_list("shipment__location_id", "product_id", "units")
    ):
        expected[location_id, product_id] += units
    actual = {
        (loc, product): reserved
        for loc, product, reserved in Stock.objects.filter(reserved__gt=0).values_list(
            "location_id", "product_id", "reserved"
        )
    }
    wrong = {key for key in set(expected) | set(actual) if expected.get(key, 0) != actual.get(key, 0)}
    return (
        "stock reserved = units of shipments still holding stock",
        not wrong,
        f"{sum(actual.values())} units reserved on {len(actual)} rows; rows that differ: {len(wrong)}",
    )


def flash_sales_within_quota() -> Check:
    """sold <= quota, sold = what reservations hold or sold, and no shopper past the
    per-shopper limit."""
    from django.db.models import Sum

    from promotions.models import FlashSaleItem, FlashSaleReservation

    taken = dict(
        FlashSaleReservation.objects.exclude(status="released")
        .values("item_id")
        .annotate(units=Sum("quantity"))
        .values_list("item_id", "units")
    )
    items = list(FlashSaleItem.objects.values_list("pk", "quota", "sold", "per_customer_limit"))
    over_quota = [pk for pk, quota, sold, _ in items if sold > quota]
    mismatched = [pk for pk, _, sold, _ in items if sold != taken.get(pk, 0)]
    limits = {pk: limit for pk, _, _, limit in items}
    over_limit = [
        (item_id, customer_id)
        for item_id, customer_id, units in FlashSaleReservation.objects.exclude(status="released")
        .values("item_id", "customer_id")
        .annotate(units=Sum("quantity"))
        .values_list("item_id", "customer_id", "units")
        if units > limits[item_id]
    ]
    sold = ", ".join(f"{sold}/{quota}" for _, quota, sold, _ in items if sold)
    return (
        "flash sales: sold <= quota, sold = reservations, per-shopper limit kept",
        not (over_quota or mismatched or over_limit),
        f"sold/quota of items sold: {sold or 'none'}; over quota {over_quota}, sold != reservations {mismatched}, "
        f"shoppers over the limit {over_limit[:10]}",
    )


def slots_within_capacity() -> Check:
    from django.db.models import F, Sum

    from checkout.delivery_models import SlotCapacity

    over = SlotCapacity.objects.filter(taken__gt=F("capacity")).count()
    totals = SlotCapacity.objects.aggregate(taken=Sum("taken"))
    full = SlotCapacity.objects.filter(taken=F("capacity"), capacity__gt=0).count()
    return (
        "delivery slots: taken <= capacity",
        over == 0,
        f"{totals['taken'] or 0} bookings; {full} slots full; over capacity {over}",
    )


def couriers_within_capacity() -> Check:
    from django.db.models import Count

    from checkout.delivery_models import Courier, Shipment

    capacity = dict(Courier.objects.values_list("pk", "slot_capacity"))
    loads = (
        Shipment.objects.exclude(status="cancelled")
        .filter(courier__isnull=False)
        .values("courier_id", "slot_date", "slot")
        .annotate(n=Count("pk"))
        .values_list("courier_id", "n")
    )
    over = [(courier, n) for courier, n in loads if n > capacity[courier]]
    busiest = max((n for _, n in loads), default=0)
    return (
        "couriers: no slot booked past capacity",
        not over,
        f"busiest courier slot {busiest} shipments (capacity {max(capacity.values(), default=0)}); over {over[:5]}",
    )


def after_payment_done_once() -> Check:
    """Every paid goods order's after-payment job is done, and in-store stock was
    committed exactly once (two workers, beat's redrive: each step once)."""
    from django.db.models import Count, Q

    from checkout.after_payment_models import AfterPaymentJob
    from checkout.models import Order

    paid = Order.objects.filter(state="paid")
    jobs = AfterPaymentJob.objects.filter(order__in=paid)
    not_done = jobs.filter(done_at__isnull=True).count()
    missing = paid.filter(after_payment_job__isnull=True).count()
    in_store = paid.filter(channel="in_store").annotate(
        commits=Count("events", filter=Q(events__type="stock_committed"))
    )
    commits = Counter(in_store.values_list("commits", flat=True))
    attempts = Counter(jobs.values_list("attempts", flat=True))
    return (
        "after payment: every job done, in-store stock committed once",
        not_done == 0 and missing == 0 and set(commits) <= {1},
        f"{paid.count()} paid orders; jobs not done {not_done}, missing {missing}; "
        f"stock commits per in-store order {dict(commits)}; runs per job {dict(sorted(attempts.items()))}",
    )


def paid_delivery_dispatched_once() -> Check:
    """Each shipment of a paid delivery order is dispatched, once: one attempt, its stock
    consumed, one ``shipment_dispatched`` event (events name their shipment)."""
    from checkout.delivery_models import Shipment

    shipments = Shipment.objects.filter(order__channel="delivery", order__state="paid")
    statuses = Counter(shipments.values_list("status", flat=True))
    per_shipment = _dispatch_events_per_shipment()
    wrong = [
        s.pk
        for s in shipments.only("pk", "status", "attempts", "stock_consumed_at")
        if s.status != "dispatched" or s.attempts != 1 or s.stock_consumed_at is None or per_shipment.get(s.pk) != 1
    ]
    return (
        "every paid delivery order dispatched, each shipment once",
        bool(statuses) and not wrong,
        f"{sum(statuses.values())} shipments of paid delivery orders, by status {dict(statuses)}; "
        f"not dispatched exactly once: {len(wrong)} {wrong[:10]}",
    )


def no_shipment_dispatched_twice() -> Check:
    per_shipment = _dispatch_events_per_shipment()
    twice = sorted(pk for pk, n in per_shipment.items() if n > 1)
    return (
        "no shipment dispatched twice",
        not twice,
        f"{len(per_shipment)} shipments dispatched; more than once: {twice[:10]}",
    )


def _dispatch_events_per_shipment() -> dict[int, int]:
    from checkout.models import OrderEvent

    return Counter(
        data["shipment_id"]
        for data in OrderEvent.objects.filter(type="shipment_dispatched").values_list("data", flat=True)
    )


def gift_card_ledgers_balance() -> Check:
    from promotions import gift_card_ledger
    from promotions.models import GiftCard, GiftCardTransaction

    problems = gift_card_ledger.ledger_problems()
    kinds = Counter(GiftCardTransaction.objects.values_list("kind", flat=True))
    return (
        "every gift-card balance equals its ledger",
        not problems,
        f"{GiftCard.objects.count()} cards, ledger rows {dict(sorted(kinds.items()))}; differing {problems[:5]}",
    )
