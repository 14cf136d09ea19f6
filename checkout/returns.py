"""14-day no-questions returns: what may come back, what it is worth, and the goods' way
back onto the shelf.

A return is accepted whole or not at all, in one transaction under the order's row lock
(``select_for_update``): two returns of the last unit, from two phones at once, queue on
that lock and the second sees the first's lines, so never more comes back than was
bought. The same transaction writes the return, its refunds (``refunds.write_refunds``:
one per tender, gift cards credited at once), the order's ``refunded_fen`` and its new
state, and on a full return gives back its coupons still valid.

What a line is worth is its net (``line_total_fen - discount_fen``: its share after every
discount, as the pricing engine allocated it), shared over its units with cumulative
rounding (``money.refund_for_units``), so returning every unit refunds exactly the net.
The delivery fee comes back with the return that brings back everything left.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence

from django.conf import settings
from django.db import transaction
from django.db.models import F, Prefetch, QuerySet, Sum

from miniprogram_api.core import clock, money
from miniprogram_api.core.errors import Conflict, InvalidInput, Unprocessable
from promotions import holds
from stores.models import Stock

from . import after_payment, order_states, refunds
from .delivery_models import ShipmentLine
from .models import Order, OrderLine
from .orders import OrderNotFound
from .returns_models import Refund, Return, ReturnLine

MAX_LINES_PER_RETURN = 200
RETURNABLE_STATES = (Order.State.PAID, Order.State.PARTIALLY_REFUNDED)
ONLINE_CHANNELS = (Order.Channel.DELIVERY, Order.Channel.PICKUP)


# --- Errors ---------------------------------------------------------------------------------


class OrderNotReturnable(Unprocessable):
    """Gift-card purchases and top-ups are stored value, not goods: they do not come back."""

    code = "order_not_returnable"
    default_message = "Only goods can be returned; a gift card purchase cannot."


class OrderNotPaid(Conflict):
    code = "order_not_paid"
    default_message = "This order was not paid, so there is nothing to return."


class OrderAlreadyRefunded(Conflict):
    code = "order_already_refunded"
    default_message = "Everything on this order was already returned."


class OrderNotDelivered(Conflict):
    """The 14 days start at delivery (or collection): before it there is nothing to bring back."""

    code = "order_not_delivered"
    default_message = "This order has not been delivered yet; it can be returned once it has."


class ReturnWindowClosed(Unprocessable):
    code = "return_window_closed"
    default_message = "The return period for this order is over."


class InvalidReturnLines(InvalidInput):
    code = "invalid_return_lines"
    default_message = "Name each line to return once, with a quantity of at least 1."


class UnknownOrderLine(InvalidInput):
    code = "unknown_order_line"
    default_message = "This order has no line with this id."


class ReturnQuantityExceeded(Unprocessable):
    """More than was bought minus what already came back: ``details.returnable`` says how
    many units may still be returned (for a weighed line: the whole line, 1)."""

    code = "return_quantity_exceeded"
    default_message = "That is more than was bought, or than is left after earlier returns."


# --- Creating a return ----------------------------------------------------------------------


def create_return(*, customer_id: int, order_id: int, lines: Sequence[Mapping[str, int]], reason: str = "") -> Return:
    """Accept the return of ``lines`` (``{"line_id", "quantity"}`` each) of the shopper's
    order and refund it: the gift cards' part at once, the rest sent after commit."""
    wanted = _wanted(lines)
    now = clock.now()
    with transaction.atomic():
        order = (
            Order.objects.select_for_update().filter(pk=order_id, customer_id=customer_id).first()
            if 0 < order_id < 2**63
            else None
        )
        if order is None:
            raise OrderNotFound()
        _check_returnable(order, now)
        order_lines = {line.pk: line for line in OrderLine.objects.filter(order_id=order.pk)}
        before = returned_units(order.pk)
        drafts: list[ReturnLine] = []
        for line_id, quantity in wanted.items():
            line = order_lines.get(line_id)
            if line is None:
                raise UnknownOrderLine(details={"line_id": line_id})
            left = units_bought(line) - before[line_id]
            if quantity > left:
                raise ReturnQuantityExceeded(details={"line_id": line_id, "quantity": quantity, "returnable": left})
            refund_fen = money.refund_for_units(
                net_fen=line.line_total_fen - line.discount_fen,
                quantity=units_bought(line),
                returned_before=before[line_id],
                returning=quantity,
            )
            drafts.append(ReturnLine(order_line=line, quantity=quantity, refund_fen=refund_fen))
        full = all(units_bought(line) == before[pk] + wanted.get(pk, 0) for pk, line in order_lines.items())
        goods_fen = sum(draft.refund_fen for draft in drafts)
        delivery_fee_fen = order.delivery_fee_fen if full else 0
        return_request = Return.objects.create(
            number=f"{order.number}R{Return.objects.filter(order_id=order.pk).count() + 1}",
            order=order,
            customer_id=customer_id,
            reason=reason,
            goods_fen=goods_fen,
            delivery_fee_fen=delivery_fee_fen,
            amount_fen=goods_fen + delivery_fee_fen,
            full=full,
        )
        for draft in drafts:
            draft.return_request = return_request
        ReturnLine.objects.bulk_create(drafts)
        written = refunds.write_refunds(order=order, return_request=return_request, now=now)
        Order.objects.filter(pk=order.pk).update(refunded_fen=F("refunded_fen") + return_request.amount_fen)
        order_states.transition(
            order_id=order.pk,
            from_state=order.state,
            to_state=Order.State.REFUNDED if full else Order.State.PARTIALLY_REFUNDED,
            event="returned",
            data={
                "return_id": return_request.pk,
                "number": return_request.number,
                "amount_fen": return_request.amount_fen,
                "full": full,
                "refunds": {refund.out_refund_no: refund.amount_fen for refund in written},
            },
        )
        if full:
            restored = holds.restore_coupons_for_order(order_id=order.pk, now=now)
            if restored:
                order_states.record_event(order_id=order.pk, event="coupons_restored", data={"coupon_ids": restored})
        if all(refund.state == Refund.State.SUCCEEDED for refund in written):
            Return.objects.filter(pk=return_request.pk).update(
                refund_state=Return.RefundState.REFUNDED, refunded_at=now
            )
        refunds.send_after_commit(written)
    return return_get(customer_id=customer_id, order_id=order.pk, return_id=return_request.pk)


def _wanted(lines: Sequence[Mapping[str, int]]) -> dict[int, int]:
    """The lines asked for, by id: each once, at least one, each quantity at least 1."""
    wanted: dict[int, int] = {}
    if not lines or len(lines) > MAX_LINES_PER_RETURN:
        raise InvalidReturnLines(details={"lines": len(lines), "max": MAX_LINES_PER_RETURN})
    for line in lines:
        line_id, quantity = line["line_id"], line["quantity"]
        if line_id in wanted:
            raise InvalidReturnLines(details={"duplicate_line_id": line_id})
        if quantity < 1:
            raise InvalidReturnLines(details={"line_id": line_id, "quantity": quantity})
        wanted[line_id] = quantity
    return wanted


def _check_returnable(order: Order, now: dt.datetime) -> None:
    if order.kind != Order.Kind.GOODS:
        raise OrderNotReturnable(details={"kind": order.kind})
    if order.state == Order.State.REFUNDED:
        raise OrderAlreadyRefunded()
    if order.state not in RETURNABLE_STATES:
        raise OrderNotPaid(details={"state": order.state})
    if order.channel in ONLINE_CHANNELS and order.delivered_at is None:
        raise OrderNotDelivered()
    deadline = return_deadline(order)
    if deadline is not None and now > deadline:
        raise ReturnWindowClosed(details={"deadline": clock.local_iso(deadline)})


def return_deadline(order: Order) -> dt.datetime | None:
    """The end of the no-questions period: ``RETURN_WINDOW_DAYS`` after delivery (or
    collection at a pick-up station) for online orders, after payment in store. None
    while it has not started (not delivered yet, not paid) or for what is not goods."""
    if order.kind != Order.Kind.GOODS:
        return None
    start = order.delivered_at if order.channel in ONLINE_CHANNELS else order.paid_at
    return None if start is None else start + dt.timedelta(days=settings.RETURN_WINDOW_DAYS)


def units_bought(line: OrderLine) -> int:
    """A weighed line is one thing (its weight comes back whole); others their quantity."""
    return 1 if line.weight_g else line.quantity


def returned_units(order_id: int) -> defaultdict[int, int]:
    """Units of each line of the order already returned, by order line id."""
    rows = (
        ReturnLine.objects.filter(return_request__order_id=order_id)
        .values("order_line_id")
        .annotate(units=Sum("quantity"))
    )
    returned: defaultdict[int, int] = defaultdict(int)
    for row in rows:
        returned[row["order_line_id"]] = row["units"]
    return returned


# --- Reading --------------------------------------------------------------------------------


def _returns() -> QuerySet[Return]:
    return Return.objects.prefetch_related(
        Prefetch("lines", queryset=ReturnLine.objects.select_related("order_line").order_by("pk")),
        Prefetch("refunds", queryset=Refund.objects.order_by("pk")),
    )


def returns_of_order(*, customer_id: int, order_id: int) -> list[Return]:
    """The order's returns, newest first, with their lines and refunds; another shopper's
    order is not found (404)."""
    if not (0 < order_id < 2**63 and Order.objects.filter(pk=order_id, customer_id=customer_id).exists()):
        raise OrderNotFound()
    return list(_returns().filter(order_id=order_id))


def return_get(*, customer_id: int, order_id: int, return_id: int) -> Return:
    found = _returns().filter(pk=return_id, order_id=order_id, customer_id=customer_id).first()
    if found is None:
        raise OrderNotFound()
    return found


# --- The goods come back --------------------------------------------------------------------


def receive_goods(*, return_id: int, staff: str) -> bool:
    """Staff took the returned goods back (service desk in store, warehouse or store for
    delivery): they go back into stock, once (a conditional UPDATE claims the return).
    False if the return was received before.

    In store, at the order's store, in units (grams for weighed goods, as in-store stock
    is kept and as ``after_payment.commit_store_stock`` took them out). Delivery and
    pick-up, at the location of the shipment that carried each unit: a line split over
    shipments fills them in shipment-line order, each return taking the units after those
    returned before it. Stock rows are written in (product, location) order, the order
    every stock writer locks in.
    """
    now = clock.now()
    with transaction.atomic():
        claimed = Return.objects.filter(pk=return_id, goods_state=Return.GoodsState.AWAITED).update(
            goods_state=Return.GoodsState.RECEIVED, received_at=now, received_by=staff[:150]
        )
        if not claimed:
            return False
        return_request = Return.objects.select_related("order").get(pk=return_id)
        order = return_request.order
        lines = list(ReturnLine.objects.filter(return_request_id=return_id).select_related("order_line"))
        if order.channel in ONLINE_CHANNELS:
            back = _back_to_shipment_locations(order, lines)
        else:
            # The sale leaves the book stock first if the after-payment task has not run
            # yet (it would otherwise take the returned units out again later).
            after_payment.commit_store_stock(order_id=order.pk)
            back = defaultdict(int)
            for line in lines:
                units = line.order_line.weight_g if line.order_line.weight_g else line.quantity
                back[line.order_line.product_id, order.store_id] += units
        for (product_id, location_id), units in sorted(back.items()):
            updated = Stock.objects.filter(location_id=location_id, product_id=product_id).update(
                on_hand=F("on_hand") + units
            )
            if not updated:
                Stock.objects.create(location_id=location_id, product_id=product_id, on_hand=units)
        order_states.record_event(
            order_id=order.pk,
            event="return_received",
            data={
                "return_id": return_id,
                "by": staff,
                "stock": [
                    {"product_id": product_id, "location_id": location_id, "units": units}
                    for (product_id, location_id), units in sorted(back.items())
                ],
            },
        )
    return True


def _back_to_shipment_locations(order: Order, lines: Sequence[ReturnLine]) -> dict[tuple[int, int], int]:
    """Units to put back per (product, location) for an online order's returned lines."""
    order_line_ids = sorted({line.order_line_id for line in lines})
    carried: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for order_line_id, location_id, quantity in (
        ShipmentLine.objects.filter(order_line_id__in=order_line_ids)
        .order_by("pk")
        .values_list("order_line_id", "shipment__location_id", "quantity")
    ):
        carried[order_line_id].append((location_id, quantity))
    earlier_rows = list(
        ReturnLine.objects.filter(order_line_id__in=order_line_ids, pk__lt=max(line.pk for line in lines)).values_list(
            "order_line_id", "pk", "quantity"
        )
    )
    back: dict[tuple[int, int], int] = defaultdict(int)
    for line in lines:
        skip = sum(units for ol_id, pk, units in earlier_rows if ol_id == line.order_line_id and pk < line.pk)
        left = line.quantity
        for location_id, quantity in carried[line.order_line_id]:
            taken = min(max(quantity - skip, 0), left)
            skip = max(skip - quantity, 0)
            if taken:
                back[line.order_line.product_id, location_id] += taken
                left -= taken
        if left:  # more than the shipments carried (should not happen): the first location, or the store
            shipments = carried[line.order_line_id]
            back[line.order_line.product_id, shipments[0][0] if shipments else order.store_id] += left
    return back
