"""A small but complete world for the schema fuzzing: one of everything the API can point at.

A store with products and barcodes, a shopper with a token, an open basket with lines, a
paid scan & pay order (paid through the sandbox, so a return is refunded for real), a gift
card, a coupon offer and a held coupon, a raffle, a festival poster, an address and a cart
in the store's city, a paid pick-up order with its code, a dispatched shipment with a
waybill number, and a registered exit gate with an audit waiting for staff.

Fuzzed requests mostly carry made-up ids and values, which only ever reach the "not found"
and "invalid" branches; ``path_ids`` and ``body_values`` give the fuzzer the real ones to
mix in, so it also reaches the code behind them.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests
from django.conf import settings
from django.db import transaction
from rest_framework.test import APIClient

from checkout import gates, pickup_codes
from checkout.couriers import signing
from checkout.delivery_models import Shipment
from checkout.models import Order
from miniprogram_api.accounts.tokens import issue_token
from miniprogram_api.core import clock
from promotions import campaigns
from promotions.models import Campaign, DeliveryFeeRule
from tests.checkout.delivery_town import address_for, fill_cart, next_slot
from tests.checkout.online_orders import online_order
from tests.checkout.shop import APPLE_PLU, MILK_EAN, make_shop, weight_label
from tests.factories import CustomerFactory
from tests.gates.gate_shop import exit_pass, paid_order
from tests.orders import make_order
from tests.promotions.coupon_templates import held_coupon, offer
from tests.promotions.gift_card_setup import default_denominations, make_card
from tests.promotions.raffle_setup import make_raffle

DAY = dt.timedelta(days=1)
OMIT = object()  # in ``body_values``: leave the field out of the request


@dataclass
class World:
    shopper: Any
    token: str
    gate_authorization: str
    tracking_no: str
    # Path parameter values per (method, path) template: ids the fuzzer should also try.
    path_ids: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Body fields per (method, path): real values to mix into generated bodies.
    body_values: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Query parameters per (method, path).
    query_values: dict[str, dict[str, Any]] = field(default_factory=dict)
    # How many requests were sent again without a credential, by outcome (the test counts).
    probed: Counter[str] = field(default_factory=Counter)

    def shopper_headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    def fresh_token(self) -> str:
        raw, _ = issue_token(customer=self.shopper)
        return raw


def courier_headers(body: bytes) -> dict[str, str]:
    """The courier provider's signature of ``body``, as sent now."""
    timestamp = int(clock.now().timestamp())
    return {
        signing.TIMESTAMP_HEADER: str(timestamp),
        signing.SIGNATURE_HEADER: signing.sign(secret=settings.COURIER_WEBHOOK_SECRET, timestamp=timestamp, body=body),
    }


def build_world(server: str) -> World:
    shop = make_shop()
    city = shop.store.city
    DeliveryFeeRule.objects.get_or_create(city=None, defaults={"fee_fen": 800, "free_from_fen": 16_900})
    default_denominations()
    shopper = CustomerFactory(nickname="Li Na")
    raw_token, _ = issue_token(customer=shopper)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_token}")

    order = _paid_scan_and_pay_order(client, server, shop.store.pk)
    order_lines = order.lines.order_by("pk")
    # An unpaid order, for a raffle entry; written by the service (a checked-out basket
    # awaiting its payment would keep the shopper from opening another one).
    unpaid_order = make_order(customer_id=shopper.pk, store_id=shop.store.pk, items=[(shop.milk, 1, 1190)])
    # Opened after the checkout: a shopper has one open basket per store.
    basket_id = _open_basket(client, shop.store.pk)
    basket_lines = client.get(f"/api/v1/baskets/{basket_id}").json()["lines"]

    card = make_card(shopper, 20_000)
    coupon_offer = offer()
    coupon = held_coupon(shopper)
    raffle = make_raffle()
    poster = _poster_payload(shop.store.pk)

    address = address_for(shopper, city)
    fill_cart(shopper, city, {shop.milk: 2})
    cart_line_id = client.get("/api/v1/cart", {"city": city.code}).json()["lines"][0]["id"]
    pickup = online_order(
        customer=shopper,
        city=city,
        product=shop.milk,
        channel=Order.Channel.PICKUP,
        store=shop.store,
        shipments=[(shop.store, "awaiting_pick")],
    )
    pickup_codes.assign_code(order_id=pickup.pk)
    tracking_no = _dispatched_shipment(shopper, city, shop)

    gate, secret = gates.create_gate(store_id=shop.store.pk, name="Exit 1")
    gate_authorization = gates.authorization_header(gate.key_id, secret)
    gate_client = APIClient()
    gate_client.credentials(HTTP_AUTHORIZATION=gate_authorization)
    audited = exit_pass(paid_order(shop.store), audit=True)
    audit_id = gate_client.post("/api/gate/v1/verify", {"token": audited.token}, format="json").json()["audit_id"]
    open_pass = exit_pass(paid_order(shop.store))

    # Another shopper's card on offer: what a friend's share link carries.
    friend = CustomerFactory(nickname="Wang Wei")
    friends_card = make_card(friend, 10_000)
    share_token = (
        _client_for(friend).post(f"/api/v1/gift-cards/{friends_card.pk}/share", {}, format="json").json()["token"]
    )

    # What wx.login() gives a new shopper's phone: one real login.
    login_code = requests.post(f"{server}/sandbox/wechat/login-codes", json={"shopper": "zhao-lei"}, timeout=5)
    assert login_code.status_code == 201, login_code.text

    basket = {"basket_id": basket_id, "line_id": basket_lines[0]["id"]}
    return World(
        shopper=shopper,
        token=raw_token,
        gate_authorization=gate_authorization,
        tracking_no=tracking_no,
        path_ids={
            "/api/v1/baskets/{basket_id}": basket,
            "/api/v1/baskets/{basket_id}/scan": basket,
            "/api/v1/baskets/{basket_id}/checkout": basket,
            "/api/v1/baskets/{basket_id}/lines/{line_id}": basket,
            "/api/v1/cart/lines/{line_id}": {"line_id": cart_line_id},
            "/api/v1/orders/{order_id}": {"order_id": order.pk},
            "/api/v1/orders/{order_id}/exit-pass": {"order_id": order.pk},
            "/api/v1/orders/{order_id}/exit-pass.png": {"order_id": order.pk},
            "/api/v1/orders/{order_id}/returns": {"order_id": order.pk},
            "/api/v1/orders/{order_id}/pickup-code": {"order_id": pickup.pk},
            "/api/v1/orders/{order_id}/pickup-code.png": {"order_id": pickup.pk},
            "/api/v1/gift-cards/{card_id}": {"card_id": card.pk},
            "/api/v1/gift-cards/{card_id}/share": {"card_id": card.pk},
            "/api/v1/gift-cards/{card_id}/top-up": {"card_id": card.pk},
            "/api/v1/coupon-offers/{offer_id}/claim": {"offer_id": coupon_offer.pk},
            "/api/v1/raffles/{raffle_id}/enter": {"raffle_id": raffle.pk},
            "/api/v1/stores/{store_id}": {"store_id": shop.store.pk},
            "/api/v1/stores/{store_id}/products/lookup": {"store_id": shop.store.pk},
            "/api/v1/products/{product_id}": {"product_id": shop.milk.pk},
            "/api/v1/addresses/{address_id}": {"address_id": address.pk},
            "/api/gate/v1/audits/{audit_id}/resolve": {"audit_id": audit_id},
        },
        body_values={
            "POST /api/v1/auth/wechat-login": {"code": login_code.json()["code"]},
            "POST /api/v1/baskets": {"store_id": shop.store.pk},
            "POST /api/v1/baskets/{basket_id}/scan": {"barcode": MILK_EAN},
            "PATCH /api/v1/baskets/{basket_id}/lines/{line_id}": {"quantity": 2},
            "POST /api/v1/baskets/{basket_id}/checkout": {"gift_card_ids": [card.pk], "coupon_ids": [coupon.pk]},
            "POST /api/v1/cart/lines": {"city": city.code, "product_id": shop.milk.pk},
            "POST /api/v1/cart/checkout": {
                "city": city.code,
                "address_id": address.pk,
                "slot": next_slot(city),
                "gift_card_ids": [card.pk],
                "pickup_store_id": OMIT,  # one of address_id and pickup_store_id
            },
            "POST /api/v1/addresses": {
                "recipient": "Li Na",
                "phone": "13800138000",
                "text": "Room 1202, 88 Nanjing West Road",
                "city": city.code,
                "latitude": 31.2304,
                "longitude": 121.4737,
            },
            "PATCH /api/v1/addresses/{address_id}": {"phone": "021-12345678"},
            "POST /api/v1/orders/{order_id}/returns": {"lines": [{"line_id": order_lines[0].pk, "quantity": 1}]},
            "POST /api/v1/gift-cards": {"amount_fen": 10_000},
            "POST /api/v1/gift-cards/{card_id}/top-up": {"amount_fen": 5_000},
            "POST /api/v1/gift-cards/claim": {"token": share_token},
            "POST /api/v1/raffles/{raffle_id}/enter": {"order_id": unpaid_order.pk},
            "POST /api/v1/campaigns/scan": {"payload": poster},
            "POST /api/gate/v1/verify": {"token": open_pass.token},
            "POST /api/couriers/v1/events": {"tracking_no": tracking_no},
        },
        query_values={
            "GET /api/v1/stores/{store_id}/products/lookup": {"barcode": weight_label(APPLE_PLU, 500)},
            "GET /api/v1/cart": {"city": city.code},
            "GET /api/v1/delivery/slots": {"address_id": address.pk, "city": city.code},
            "GET /api/v1/stores": {"city": city.code},
            "GET /api/v1/coupons": {"basket_id": basket_id},
        },
    )


def _client_for(customer) -> APIClient:
    raw, _ = issue_token(customer=customer)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def _open_basket(client: APIClient, store_id: int) -> int:
    basket_id = client.post("/api/v1/baskets", {"store_id": store_id}, format="json").json()["id"]
    for barcode, quantity in ((MILK_EAN, 2), (weight_label(APPLE_PLU, 500), 1)):
        response = client.post(
            f"/api/v1/baskets/{basket_id}/scan", {"barcode": barcode, "quantity": quantity}, format="json"
        )
        assert response.status_code == 200, response.content
    return basket_id


def _paid_scan_and_pay_order(client: APIClient, server: str, store_id: int) -> Order:
    """Checked out and confirmed in the sandbox, which notifies us: paid for real."""
    response = client.post(
        f"/api/v1/baskets/{_open_basket(client, store_id)}/checkout", {"payment_method": "wechat_pay"}, format="json"
    )
    assert response.status_code == 201, response.content
    order = Order.objects.get(pk=response.json()["order"]["id"])
    assert requests.post(f"{server}/sandbox/payments/{order.number}/confirm", timeout=20).json()["notified"]
    order.refresh_from_db()
    assert order.state == Order.State.PAID
    return order


def _poster_payload(store_id: int) -> str:
    now = clock.now()
    template = offer(name="Festival: 10 off", claimable=False, valid_from=now - DAY, valid_until=now + 7 * DAY)
    campaign = Campaign.objects.create(name="Mid-Autumn festival", starts_at=now - DAY, ends_at=now + 3 * DAY)
    campaign.scan_templates.set([template])
    return campaigns.poster_payload(campaign.pk, store_id)


def _dispatched_shipment(shopper, city, shop) -> str:
    order = online_order(customer=shopper, city=city, product=shop.bread, shipments=[(shop.store, "dispatched")])
    tracking_no = f"SF{order.pk:010d}"
    with transaction.atomic():
        Shipment.objects.filter(order=order).update(tracking_no=tracking_no)
    return tracking_no
