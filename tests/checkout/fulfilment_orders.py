"""Paid delivery and pick-up orders with their shipments, for the fulfilment tests, written
by the real services (order, stock reservation, shipments, the paid transition) without
the cart and the payment provider in between; and the courier webhook's signature.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence

from django.conf import settings
from django.db import transaction
from rest_framework.test import APIClient

from checkout import addresses, order_states, shipments
from checkout.couriers import signing
from checkout.delivery_slots import Slot
from checkout.models import Courier, Order, Shipment
from checkout.orders import DeliveryDetails, OrderLineDraft, create_order
from miniprogram_api.core import clock
from stores.models import City, Location, Product
from stores.routing import PlannedShipment, RoutingPlan
from tests.checkout.delivery_town import Town, address_for

COURIER_EVENTS_URL = "/api/couriers/v1/events"


def paid_order(
    customer,
    town: Town,
    *,
    sends: Sequence[tuple[Location, Mapping[Product, int]]],
    slot_date: dt.date,
    slot: str,
    pickup_store: Location | None = None,
) -> Order:
    """A paid order whose shipments come from ``sends`` (location, {product: units}), in
    ``slot`` on ``slot_date``: delivered to the shopper's home, or collected at
    ``pickup_store``. Its stock is reserved as checkout reserves it; its shipments await
    their pick."""
    wanted: dict[Product, int] = {}
    for _, lines in sends:
        for product, units in lines.items():
            wanted[product] = wanted.get(product, 0) + units
    drafts = [
        OrderLineDraft(
            product_id=product.pk,
            sku=product.sku,
            name=product.name,
            barcode="",
            kind="unit",
            quantity=units,
            weight_g=None,
            unit_price_fen=product.base_price_fen,
            line_total_fen=units * product.base_price_fen,
            discount_fen=0,
            age_restricted=product.age_restricted,
        )
        for product, units in wanted.items()
    ]
    goods = sum(draft.line_total_fen for draft in drafts)
    plan = RoutingPlan(
        shipments=tuple(
            PlannedShipment(
                location_id=location.pk, distance_m=1000 * (n + 1), lines={p.pk: u for p, u in lines.items()}
            )
            for n, (location, lines) in enumerate(sends)
        ),
        unserved={},
        explanation={},
    )
    home = None if pickup_store else address_for(customer, town.city)
    with transaction.atomic():
        shipments.reserve_stock(plan)
        order = create_order(
            customer_id=customer.pk,
            channel=Order.Channel.PICKUP if pickup_store else Order.Channel.DELIVERY,
            store_id=pickup_store.pk if pickup_store else None,
            basket_id=None,
            payment_method="wechat_pay",
            lines=drafts,
            goods_subtotal_fen=goods,
            discount_fen=0,
            delivery_fee_fen=0,
            total_fen=goods,
            adjustments=[],
            delivery=DeliveryDetails(
                city_id=town.city.pk,
                delivery_address=addresses.snapshot(home) if home else None,
                slot_date=slot_date,
                slot=slot,
                routing={},
            ),
        )
        shipments.create_for_order(order=order, plan=plan, slot=Slot(date=slot_date, window=slot))
    order_states.transition(
        order_id=order.pk, from_state=Order.State.PENDING_PAYMENT, to_state=Order.State.PAID, event="paid"
    )
    shipments.mark_paid(order_id=order.pk)
    order.refresh_from_db()
    return order


def shipment_of(order: Order, location: Location | None = None) -> Shipment:
    found = Shipment.objects.filter(order=order)
    return (found.filter(location=location) if location else found).get()


def courier_in(city: City, name: str = "Wang Wei", *, capacity: int = 12, **fields) -> Courier:
    return Courier.objects.create(
        city=city, name=name, provider_ref=f"rider-{name.lower().replace(' ', '-')}", slot_capacity=capacity, **fields
    )


def event_body(
    *, event_id: str, tracking_no: str, kind: str, occurred_at: dt.datetime, data: dict | None = None
) -> bytes:
    body: dict = {"event_id": event_id, "tracking_no": tracking_no, "kind": kind}
    body["occurred_at"] = occurred_at.isoformat()
    if data is not None:
        body["data"] = data
    return json.dumps(body).encode()


def signed_headers(body: bytes, *, timestamp: int | None = None, secret: str | None = None) -> dict[str, str]:
    """The headers the courier provider sends with ``body``, as Django test client extras;
    signed at the project clock's now unless ``timestamp`` is given."""
    stamp = int(clock.now().timestamp()) if timestamp is None else timestamp
    signature = signing.sign(secret=secret or settings.COURIER_WEBHOOK_SECRET, timestamp=stamp, body=body)
    return {"HTTP_X_COURIER_TIMESTAMP": str(stamp), "HTTP_X_COURIER_SIGNATURE": signature}


def post_event(client: APIClient, body: bytes, **headers: str):
    """POST ``body`` to the webhook, signed now unless ``headers`` are given."""
    return client.post(
        COURIER_EVENTS_URL, data=body, content_type="application/json", **(headers or signed_headers(body))
    )
