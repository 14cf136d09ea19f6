"""Checking out a delivery cart: price it, route it, reserve its stock and slot, write the
order and its shipments, start the payment. The model is scan & pay's checkout.

The database work is one transaction, all or nothing: lock the cart; check the address
(or pick-up store) and the slot; price the lines for the delivery (or pick-up) channel
with the chosen coupons; route them to the nearest locations with stock; reserve the
stock (``shipments.reserve_stock``) and book the slot at each shipment's location; write
the order, its shipments and its promotions' holds; empty the cart. The provider call
comes after it, outside any lock. Locks are taken in the order ``checkout.shipments``
documents, the same order the payment timeout gives things back in.

A retry after the cart was emptied (the provider was down, the client lost the answer)
resumes the pending order it made, if it asks for the same thing, rather than refusing an
empty cart: the Idempotency-Key replays a finished answer, this covers the rest.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from miniprogram_api.core import clock
from miniprogram_api.core.errors import Unprocessable
from promotions import holds
from promotions.pricing import PricedBasket, price_lines
from stores.geo import GeoPoint
from stores.models import City, Location
from stores.routing import RoutingPlan, route

from . import addresses, carts, delivery_slots, gift_card_tender, orders, pickup_codes, settlement, shipments
from .baskets import adjustment_dict
from .delivery_models import Address
from .models import Order, Payment
from .orders import DeliveryDetails, OrderLineDraft
from .scan_and_pay import CheckoutResult, CouponNotApplicable, PaymentMethodUnavailable, create_at_provider

# Lines no stock can make orderable: the product was withdrawn, is weighed in store, or
# no location of the city carries it any more. Stock shortfalls are routing's to find.
UNDELIVERABLE = frozenset({carts.PRODUCT_INACTIVE, carts.NOT_DELIVERABLE, carts.NOT_SOLD_IN_CITY})


class EmptyCart(Unprocessable):
    code = "cart_empty"
    default_message = "Add something to the cart before checking out."


class AddressInOtherCity(Unprocessable):
    """The cart is per city; an address elsewhere is served by another city's cart."""

    code = "address_in_other_city"
    default_message = "This address is in another city than the cart."


@dataclass(frozen=True)
class _Destination:
    """Where the order goes: an address (delivery) or a pick-up store."""

    channel: str
    point: GeoPoint
    address: Address | None = None
    store: Location | None = None


def checkout_cart(
    *,
    customer_id: int,
    city_code: str,
    slot: str,
    payment_method: str,
    address_id: int | None = None,
    pickup_store_id: int | None = None,
    coupon_ids: Sequence[int] = (),
    gift_card_ids: Sequence[int] = (),
) -> CheckoutResult:
    """Check out the shopper's cart in ``city_code`` for delivery to ``address_id`` or
    collection at ``pickup_store_id`` (exactly one) in ``slot`` (a ``delivery_slots`` id).
    ``gift_card_ids`` pay first (in that order), ``payment_method`` the rest."""
    if payment_method not in settings.PAYMENT_METHODS:
        raise PaymentMethodUnavailable(details={"available": list(settings.PAYMENT_METHODS)})
    if (address_id is None) == (pickup_store_id is None):
        raise ValueError("exactly one of address_id and pickup_store_id")
    order_id = _cart_into_order(
        customer_id=customer_id,
        city_code=city_code,
        slot_id=slot,
        payment_method=payment_method,
        address_id=address_id,
        pickup_store_id=pickup_store_id,
        coupon_ids=sorted(set(coupon_ids)),
        gift_card_ids=list(gift_card_ids),
    )
    payment = Payment.objects.select_related("order__store", "order__customer").filter(order_id=order_id).last()
    params = None if payment is None else payment.client_params or create_at_provider(payment)
    return CheckoutResult(order=orders.order_get(customer_id=customer_id, order_id=order_id), payment_params=params)


def _cart_into_order(
    *,
    customer_id: int,
    city_code: str,
    slot_id: str,
    payment_method: str,
    address_id: int | None,
    pickup_store_id: int | None,
    coupon_ids: list[int],
    gift_card_ids: list[int],
) -> int:
    with transaction.atomic():
        now = clock.now()
        cart, lines = carts.cart_for_checkout(customer_id=customer_id, city_code=city_code)
        city = cart.city
        destination = _destination(
            customer_id=customer_id, city=city, address_id=address_id, pickup_store_id=pickup_store_id
        )
        slot = delivery_slots.bookable_slot(city=city, slot_id=slot_id, now=now)
        if slot.is_express and destination.channel != Order.Channel.DELIVERY:
            raise delivery_slots.SlotUnavailable(details={"slot": slot_id, "reason": "express_unavailable"})
        if not lines:
            pending = _pending_retry(
                customer_id=customer_id,
                city=city,
                destination=destination,
                slot=slot,
                payment_method=payment_method,
                coupon_ids=coupon_ids,
            )
            if pending is None:
                raise EmptyCart()
            totals = Order.objects.values("gift_card_fen", "total_fen").get(pk=pending)
            gift_card_tender.check_retry(order_id=pending, card_ids=gift_card_ids, **totals)
            return pending

        undeliverable = sorted(line.product.pk for line in lines if line.unavailable_reason in UNDELIVERABLE)
        if undeliverable:
            raise shipments.OutOfStock(details={"product_ids": undeliverable})
        priced = price_lines(
            lines=[line.pricing_line() for line in lines],
            channel=destination.channel,
            city_id=city.pk,
            customer_id=customer_id,
            coupon_ids=coupon_ids,
            now=now,
        )
        refused = {str(cid): priced.coupon_problems[cid] for cid in coupon_ids if cid in priced.coupon_problems}
        if refused:
            raise CouponNotApplicable(details=refused)

        plan = _plan(city=city, destination=destination, slot=slot, lines=lines, now=now)
        shipments.reserve_stock(plan)
        shipments.take_capacity(plan=plan, slot=slot)
        cards = gift_card_tender.plan_cards(
            customer_id=customer_id, card_ids=gift_card_ids, total_fen=priced.total_fen, now=now
        )
        order = orders.create_order(
            customer_id=customer_id,
            channel=destination.channel,
            store_id=destination.store.pk if destination.store else None,
            basket_id=None,
            payment_method=payment_method,
            lines=_drafts(lines, priced),
            goods_subtotal_fen=priced.goods_subtotal_fen,
            discount_fen=priced.discount_fen,
            delivery_fee_fen=priced.delivery_fee_fen,
            total_fen=priced.total_fen,
            adjustments=[adjustment_dict(a) for a in priced.adjustments],
            line_keys=[line.line.pk for line in lines],
            delivery=DeliveryDetails(
                city_id=city.pk,
                delivery_address=addresses.snapshot(destination.address) if destination.address else None,
                slot_date=slot.date,
                slot=slot.window,
                routing=_routing_record(plan=plan, destination=destination, slot=slot),
            ),
            gift_card_fen=cards.total_fen,
        )
        shipments.create_for_order(order=order, plan=plan, slot=slot)
        if destination.channel == Order.Channel.PICKUP:
            pickup_codes.assign_code(order_id=order.pk)
        gift_card_tender.hold_cards(cards, order_id=order.pk)
        holds.hold_for_order(order_id=order.pk, customer_id=customer_id, priced=priced, now=now)
        carts.clear_cart(cart_id=cart.pk)
        if order.total_fen == order.gift_card_fen:
            source = "gift_cards_cover_total" if order.gift_card_fen else "promotions_cover_total"
            settlement.settle_without_payment(order_id=order.pk, basket_id=None, data={"source": source})
        return order.pk


def _destination(*, customer_id: int, city: City, address_id: int | None, pickup_store_id: int | None) -> _Destination:
    if address_id is not None:
        address = addresses.address_get(customer_id=customer_id, address_id=address_id)
        if address.city_id != city.pk:
            raise AddressInOtherCity(details={"address_id": address_id, "city": address.city.code})
        return _Destination(
            channel=Order.Channel.DELIVERY, point=delivery_slots.address_point(address), address=address
        )
    store = delivery_slots.pickup_store_get(store_id=pickup_store_id, city=city)
    return _Destination(channel=Order.Channel.PICKUP, point=delivery_slots.location_point(store), store=store)


def _plan(
    *,
    city: City,
    destination: _Destination,
    slot: delivery_slots.Slot,
    lines: list[carts.CartLineInfo],
    now: dt.datetime,
) -> RoutingPlan:
    """Where each line comes from: the express store for express, else the nearest
    locations with stock. Anything no location can send is ``OutOfStock``."""
    wanted = {line.line.product_id: line.line.quantity for line in lines}
    if slot.is_express:
        plan = delivery_slots.express_plan(city_id=city.pk, destination=destination.point, wanted=wanted, now=now)
        if plan is None:
            raise delivery_slots.SlotUnavailable(details={"slot": slot.id, "reason": "express_unavailable"})
        return plan
    plan = route(city_id=city.pk, destination=destination.point, wanted=wanted)
    if plan.unserved:
        raise shipments.OutOfStock(details={"product_ids": sorted(plan.unserved)})
    return plan


def _drafts(lines: list[carts.CartLineInfo], priced: PricedBasket) -> list[OrderLineDraft]:
    """Delivery sells at the catalogue price (the cart's): the goods may come from any location."""
    by_key = {line.key: line for line in priced.lines}
    return [
        OrderLineDraft(
            product_id=info.product.pk,
            sku=info.product.sku,
            name=info.product.name,
            barcode="",
            kind="unit",
            quantity=info.line.quantity,
            weight_g=None,
            unit_price_fen=info.unit_price_fen,
            line_total_fen=by_key[info.line.pk].line_total_fen,
            discount_fen=by_key[info.line.pk].discount_fen,
            age_restricted=info.product.age_restricted,
        )
        for info in lines
    ]


def _routing_record(*, plan: RoutingPlan, destination: _Destination, slot: delivery_slots.Slot) -> dict:
    """Routing's own explanation (distances, why each location was chosen or skipped), and
    how the order is fulfilled: for the admin."""
    return {
        "fulfilment": "express" if slot.is_express else destination.channel,
        "pickup_store_id": destination.store.pk if destination.store else None,
        **plan.explanation,
    }


def _pending_retry(
    *,
    customer_id: int,
    city: City,
    destination: _Destination,
    slot: delivery_slots.Slot,
    payment_method: str,
    coupon_ids: list[int],
) -> int | None:
    """The shopper's newest unpaid order from this city's cart that asked for exactly this
    (where, when, how to pay, which coupons), if any: a retry resumes it."""
    order = (
        Order.objects.filter(
            customer_id=customer_id,
            city_id=city.pk,
            channel=destination.channel,
            state=Order.State.PENDING_PAYMENT,
            payment_deadline__gt=clock.now(),
            payment_method=payment_method,
            slot_date=slot.date,
            slot=slot.window,
            store_id=destination.store.pk if destination.store else None,
        )
        .order_by("-pk")
        .first()
    )
    if order is None or orders.coupon_ids_of(order) != coupon_ids:
        return None
    if destination.address is not None and (order.delivery_address or {}).get("address_id") != destination.address.pk:
        return None
    return order.pk
