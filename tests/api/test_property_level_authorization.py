"""What the server owns stays the server's (OWASP API3, broken object property level
authorization): prices, totals, states, owners and ids sent by a client are ignored, and
what only staff may see is not in the shopper's answer.

Every input serializer names the fields it accepts, so anything else in a body is dropped
before a service sees it; these tests send the tempting ones and check what was written.
"""

from __future__ import annotations

import pytest

from checkout import order_states
from checkout.models import Address, Order, Payment
from promotions.models import GiftCard
from tests.checkout.delivery_town import fill_cart, make_town
from tests.checkout.online_orders import online_order
from tests.checkout.shop import MILK_EAN, make_shop
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

FAKE_PARAMS = {"appId": "wx-test", "package": "prepay_id=wx-test"}


@pytest.fixture
def no_provider(monkeypatch):
    """Creating the trade at the provider is tested with the sandbox elsewhere."""

    def create_at_provider(payment):
        Payment.objects.filter(pk=payment.pk).update(client_params=FAKE_PARAMS)
        return FAKE_PARAMS

    monkeypatch.setattr("checkout.scan_and_pay.create_at_provider", create_at_provider)


def test_an_address_takes_neither_an_owner_nor_an_id_from_the_body(auth_client):
    other = CustomerFactory()
    body = {
        "recipient": "李娜",
        "phone": "13800138000",
        "text": "Room 1202, 88 Huaihai Middle Rd",
        "city": "shanghai",
        "latitude": 31.2245,
        "longitude": 121.4692,
    }
    make_town()  # the city

    created = auth_client.post(
        "/api/v1/addresses", {**body, "id": 4242, "customer": other.pk, "customer_id": other.pk}, format="json"
    )
    assert created.status_code == 201, created.content
    address_id = created.json()["id"]
    patched = auth_client.patch(
        f"/api/v1/addresses/{address_id}", {"recipient": "王伟", "customer_id": other.pk}, format="json"
    )

    assert patched.status_code == 200
    assert address_id != 4242
    assert list(Address.objects.values_list("pk", "customer_id", "recipient")) == [
        (address_id, auth_client.customer.pk, "王伟")
    ]


def test_prices_totals_and_states_sent_at_scan_and_checkout_are_ignored(auth_client, no_provider):
    shop = make_shop()
    basket = auth_client.post("/api/v1/baskets", {"store_id": shop.store.pk}, format="json").json()["id"]

    scanned = auth_client.post(
        f"/api/v1/baskets/{basket}/scan",
        {"barcode": MILK_EAN, "quantity": 2, "unit_price_fen": 1, "price_fen": 1, "line_total_fen": 2},
        format="json",
    )
    checkout = auth_client.post(
        f"/api/v1/baskets/{basket}/checkout",
        {
            "payment_method": "wechat_pay",
            "total_fen": 1,
            "discount_fen": 2379,
            "gift_card_fen": 2380,
            "state": "paid",
            "customer_id": CustomerFactory().pk,
        },
        format="json",
    )

    assert scanned.status_code == 200 and scanned.json()["lines"][0]["unit_price_fen"] == 1190
    assert checkout.status_code == 201, checkout.content
    order = Order.objects.get()
    assert (order.customer_id, order.state, order.total_fen, order.discount_fen, order.gift_card_fen) == (
        auth_client.customer.pk,
        "pending_payment",
        2380,
        0,
        0,
    )
    assert list(Payment.objects.values_list("amount_fen", "state")) == [(2380, "pending")]


def test_a_gift_card_purchase_takes_neither_a_balance_nor_an_owner_from_the_body(auth_client, no_provider):
    other = CustomerFactory()

    response = auth_client.post(
        "/api/v1/gift-cards",
        {
            "amount_fen": 5000,
            "payment_method": "wechat_pay",
            "balance_fen": 100_000,
            "owner_id": other.pk,
            "state": "paid",
            "total_fen": 1,
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="buy-1",
    )

    assert response.status_code == 201, response.content
    order = Order.objects.get()
    assert (order.customer_id, order.kind, order.state, order.total_fen) == (
        auth_client.customer.pk,
        "gift_card",
        "pending_payment",
        5000,
    )
    assert not GiftCard.objects.exists()  # issued when paid, never from the request


def test_a_cart_line_is_priced_from_the_catalogue_not_the_body(auth_client):
    town = make_town()

    response = auth_client.post(
        "/api/v1/cart/lines",
        {"city": "shanghai", "product_id": town.milk.pk, "quantity": 1, "unit_price_fen": 1, "final_fen": 1},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert [(line["unit_price_fen"], line["final_fen"]) for line in response.json()["lines"]] == [(1290, 1290)]


def test_why_a_delivery_order_ships_from_where_it_does_is_for_staff_only(auth_client):
    town = make_town()
    fill_cart(auth_client.customer, town.city, {town.milk: 1})
    order = online_order(
        customer=auth_client.customer, city=town.city, product=town.milk, shipments=[(town.near_store, "awaiting_pick")]
    )
    Order.objects.filter(pk=order.pk).update(routing={"rule": "nearest", "skipped": {"SHW": "farther"}})
    order_states.record_event(order_id=order.pk, event="staff_note", data={"note": "call before"})

    detail = auth_client.get(f"/api/v1/orders/{order.pk}").json()

    assert detail["id"] == order.pk
    assert "routing" not in detail and "events" not in detail
    assert "SHW" not in str(detail) and "call before" not in str(detail)
