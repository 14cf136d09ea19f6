"""``/api/v1/orders/{id}/returns``: returning goods over HTTP, each bad request a clear 4xx that
writes nothing, idempotent retries, the order showing what came back, constant queries, and
two phones returning the last unit at once."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from rest_framework.test import APIClient

from checkout.models import Order, Refund, Return
from miniprogram_api.accounts.tokens import issue_token
from miniprogram_api.core import clock
from tests.checkout.returned_orders import FakeProvider, Item, line_of, paid_order, pending_order, ship_and_deliver
from tests.checkout.shop import make_shop
from tests.factories import CustomerFactory, ProductFactory
from tests.parallel import run_in_parallel

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    return make_shop()


@pytest.fixture
def providers(monkeypatch):
    fakes = {"wechat_pay": FakeProvider("wechat_pay"), "alipay": FakeProvider("alipay", answer="succeeded")}
    monkeypatch.setattr("checkout.refunds.get_provider", lambda name: fakes[name])
    return fakes


def milks_and_bread(customer, shop) -> Order:
    """Three milks at 11.90 (3.00 off the line) and a loaf at 15.00: 47.70, paid."""
    return paid_order(
        customer, store=shop.store, items=[Item(shop.milk, 3, 1190, discount_fen=300), Item(shop.bread, 1, 1500)]
    )


def post_return(client: APIClient, order: Order, pairs, *, key: str | None = None, **extra):
    body = {"lines": [{"line_id": line_id, "quantity": quantity} for line_id, quantity in pairs], **extra}
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(f"/api/v1/orders/{order.pk}/returns", body, format="json", **headers)


def error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code, response.json()
    return response.json()["error"]


def unchanged(order: Order) -> None:
    order.refresh_from_db()
    assert (order.state, order.refunded_fen) == (Order.State.PAID, 0)
    assert not Return.objects.filter(order=order).exists() and not Refund.objects.filter(order=order).exists()


# --- Returning -----------------------------------------------------------------------------------


def test_a_return_answers_201_with_its_lines_and_refunds(auth_client, shop, providers):
    order = milks_and_bread(auth_client.customer, shop)
    milk = line_of(order, shop.milk)

    response = post_return(auth_client, order, [(milk.pk, 2)], reason="Too much milk")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["order_id"], body["goods_fen"], body["delivery_fee_fen"], body["amount_fen"]) == (
        order.pk,
        2180,
        0,
        2180,
    )
    assert (body["full"], body["refund_state"], body["goods_state"], body["reason"]) == (
        False,
        "refunding",
        "awaited",
        "Too much milk",
    )
    assert body["lines"] == [
        {
            "id": body["lines"][0]["id"],
            "line_id": milk.pk,
            "sku": shop.milk.sku,
            "name": shop.milk.name,
            "quantity": 2,
            "refund_fen": 2180,
        }
    ]
    (refund,) = body["refunds"]
    assert (refund["tender"], refund["amount_fen"], refund["state"], refund["gift_card_id"]) == (
        "wechat_pay",
        2180,
        "pending",
        None,
    )
    assert refund["out_refund_no"] == f"{order.number}F1"


def test_a_retry_with_the_same_key_returns_the_first_answer_and_returns_nothing_twice(auth_client, shop, providers):
    order = milks_and_bread(auth_client.customer, shop)
    pairs = [(line_of(order, shop.milk).pk, 1)]

    first = post_return(auth_client, order, pairs, key="return-1")
    again = post_return(auth_client, order, pairs, key="return-1")
    other = post_return(auth_client, order, [(line_of(order, shop.bread).pk, 1)], key="return-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    error(other, 422, "idempotency_key_reused")
    order.refresh_from_db()
    assert (Return.objects.filter(order=order).count(), order.refunded_fen) == (1, 1090)


def test_returning_everything_refunds_the_total_and_the_order_shows_it(auth_client, shop, providers):
    order = milks_and_bread(auth_client.customer, shop)
    milk, bread = line_of(order, shop.milk), line_of(order, shop.bread)
    post_return(auth_client, order, [(milk.pk, 1)])

    last = post_return(auth_client, order, [(milk.pk, 2), (bread.pk, 1)]).json()

    assert (last["amount_fen"], last["full"]) == (2180 + 1500, True)
    shown = auth_client.get(f"/api/v1/orders/{order.pk}").json()
    assert (shown["state"], shown["refunded_fen"], shown["total_fen"]) == ("refunded", 4770, 4770)
    assert (shown["kind"], shown["gift_card_fen"], shown["gift_card_id"]) == ("goods", 0, None)
    assert {line["id"]: line["returned_quantity"] for line in shown["lines"]} == {milk.pk: 3, bread.pk: 1}
    assert [(r["number"], r["amount_fen"], r["full"]) for r in shown["returns"]] == [
        (f"{order.number}R2", 3680, True),
        (f"{order.number}R1", 1090, False),
    ]
    assert shown["return_deadline"] == clock.local_iso(order.paid_at + dt.timedelta(days=14))


# --- Refused, nothing written ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"lines": []},
        {},
        {"lines": [{"line_id": "MILK", "quantity": 0}]},
        {"lines": [{"line_id": "MILK", "quantity": "1"}]},
        {"lines": [{"line_id": "MILK", "quantity": 1.0}]},
        {"lines": [{"line_id": "MILK", "quantity": 1}, {"line_id": "MILK", "quantity": 1}]},
        {"lines": [{"line_id": "MILK"}]},
        {"lines": [{"line_id": "MILK", "quantity": 1}], "reason": "x" * 201},
        {"lines": "MILK"},
    ],
    ids=[
        "no_lines",
        "no_body",
        "quantity_0",
        "quantity_string",
        "quantity_float",
        "duplicate",
        "no_quantity",
        "long_reason",
        "not_a_list",
    ],
)
def test_malformed_returns_are_400(auth_client, shop, providers, body):
    order = milks_and_bread(auth_client.customer, shop)
    milk = line_of(order, shop.milk).pk
    if isinstance(body.get("lines"), list):
        body["lines"] = [{**line, "line_id": milk} if line.get("line_id") == "MILK" else line for line in body["lines"]]

    response = auth_client.post(f"/api/v1/orders/{order.pk}/returns", body, format="json")

    error(response, 400, "validation_error")
    unchanged(order)


def test_a_line_of_another_order_is_400(auth_client, shop, providers):
    order = milks_and_bread(auth_client.customer, shop)
    other = milks_and_bread(auth_client.customer, shop)

    found = error(post_return(auth_client, order, [(line_of(other, shop.milk).pk, 1)]), 400, "unknown_order_line")

    assert found["details"] == {"line_id": line_of(other, shop.milk).pk}
    unchanged(order)


def test_more_than_was_bought_is_422_with_what_may_still_come_back(auth_client, shop, providers):
    order = milks_and_bread(auth_client.customer, shop)
    milk = line_of(order, shop.milk).pk

    found = error(post_return(auth_client, order, [(milk, 4)]), 422, "return_quantity_exceeded")

    assert found["details"] == {"line_id": milk, "quantity": 4, "returnable": 3}
    unchanged(order)


def test_another_shoppers_order_is_404_for_returns_and_their_list(auth_client, shop, providers):
    other = milks_and_bread(CustomerFactory(), shop)

    error(post_return(auth_client, other, [(line_of(other, shop.milk).pk, 1)]), 404, "order_not_found")
    error(auth_client.get(f"/api/v1/orders/{other.pk}/returns"), 404, "order_not_found")
    error(auth_client.get("/api/v1/orders/99999999/returns"), 404, "order_not_found")
    unchanged(other)


def test_a_return_after_14_days_is_422_with_the_deadline(auth_client, shop, providers, monkeypatch):
    order = milks_and_bread(auth_client.customer, shop)
    monkeypatch.setattr(clock, "now", lambda: order.paid_at + dt.timedelta(days=15))

    found = error(post_return(auth_client, order, [(line_of(order, shop.milk).pk, 1)]), 422, "return_window_closed")

    assert found["details"] == {"deadline": clock.local_iso(order.paid_at + dt.timedelta(days=14))}
    unchanged(order)


def test_a_gift_card_order_is_422_and_an_undelivered_or_unpaid_one_409(auth_client, shop, providers):
    customer = auth_client.customer
    gift = pending_order(
        customer,
        store=None,
        channel=Order.Channel.ONLINE,
        kind=Order.Kind.GIFT_CARD,
        items=[Item(ProductFactory(), 1, 20_000)],
    )
    Order.objects.filter(pk=gift.pk).update(state=Order.State.PAID, paid_at=clock.now())
    undelivered = paid_order(customer, store=None, channel=Order.Channel.DELIVERY, items=[Item(shop.milk, 1, 1290)])
    unpaid = pending_order(customer, store=shop.store, items=[Item(shop.milk, 1, 1190)])

    error(post_return(auth_client, gift, [(gift.lines.get().pk, 1)]), 422, "order_not_returnable")
    error(post_return(auth_client, undelivered, [(line_of(undelivered, shop.milk).pk, 1)]), 409, "order_not_delivered")
    error(post_return(auth_client, unpaid, [(line_of(unpaid, shop.milk).pk, 1)]), 409, "order_not_paid")
    assert not Return.objects.exists()


def test_returns_need_a_token(api_client, shop):
    order = milks_and_bread(CustomerFactory(), shop)

    assert api_client.get(f"/api/v1/orders/{order.pk}/returns").status_code == 401
    assert post_return(api_client, order, [(line_of(order, shop.milk).pk, 1)]).status_code == 401


# --- Reading, in constant queries -------------------------------------------------------------


def test_the_returns_list_is_newest_first_in_constant_queries(auth_client, shop, providers, django_assert_num_queries):
    order = paid_order(
        auth_client.customer,
        store=None,
        channel=Order.Channel.DELIVERY,
        items=[Item(shop.milk, 3, 1290), Item(shop.bread, 2, 1500)],
        delivery_fee_fen=800,
    )
    ship_and_deliver(order, [(shop.store, {shop.milk: 3, shop.bread: 2})])
    milk, bread = line_of(order, shop.milk).pk, line_of(order, shop.bread).pk
    post_return(auth_client, order, [(milk, 1)])
    url = f"/api/v1/orders/{order.pk}/returns"

    with django_assert_num_queries(5):  # token, order, returns, their lines, their refunds
        one = auth_client.get(url).json()
    post_return(auth_client, order, [(milk, 1), (bread, 1)])
    post_return(auth_client, order, [(milk, 1), (bread, 1)])
    with django_assert_num_queries(5):
        three = auth_client.get(url).json()

    assert len(one) == 1
    assert [r["number"] for r in three] == [f"{order.number}R{n}" for n in (3, 2, 1)]
    assert [len(r["lines"]) for r in three] == [2, 2, 1]
    assert three[0]["delivery_fee_fen"] == 800 and three[0]["full"]


def test_the_order_list_with_returns_costs_the_same_for_few_and_many(
    auth_client, shop, providers, django_assert_num_queries
):
    first = milks_and_bread(auth_client.customer, shop)
    post_return(auth_client, first, [(line_of(first, shop.milk).pk, 1)])

    with django_assert_num_queries(7):  # token, count, page, lines, payments, shipments, returns
        auth_client.get("/api/v1/orders")
    for _ in range(3):
        order = milks_and_bread(auth_client.customer, shop)
        post_return(auth_client, order, [(line_of(order, shop.bread).pk, 1)])
    with django_assert_num_queries(7):
        listed = auth_client.get("/api/v1/orders").json()

    assert [len(order["returns"]) for order in listed["results"]] == [1, 1, 1, 1]


# --- Two phones, the last unit ---------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_returns_of_the_last_unit_at_once_refund_it_once(shop, providers):
    customer = CustomerFactory()
    order = paid_order(customer, store=shop.store, items=[Item(shop.milk, 2, 1190), Item(shop.bread, 1, 1500)])
    milk = line_of(order, shop.milk).pk
    raw, _ = issue_token(customer=customer)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert post_return(client, order, [(milk, 1)]).status_code == 201

    def return_the_last_milk(index: int) -> tuple[int, str]:
        phone = APIClient()
        phone.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        response = post_return(phone, order, [(milk, 1)])
        return response.status_code, response.json().get("error", {}).get("code", "returned")

    results = run_in_parallel(return_the_last_milk, 2)

    assert Counter(results) == {(201, "returned"): 1, (422, "return_quantity_exceeded"): 1}
    order.refresh_from_db()
    assert (order.state, order.refunded_fen) == (Order.State.PARTIALLY_REFUNDED, 2 * 1190)
    assert sorted(Refund.objects.filter(order=order).values_list("amount_fen", flat=True)) == [1190, 1190]
    assert len(providers["wechat_pay"].calls) == 2  # each refund sent once, after its commit
