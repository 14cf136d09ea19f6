"""A shopper's orders: only their own, with lines and payment, in constant queries."""

from __future__ import annotations

import pytest

from checkout.models import Order
from tests.factories import CustomerFactory, LocationFactory, ProductFactory
from tests.orders import make_order

pytestmark = pytest.mark.django_db


def _order(customer, store, *, lines: int = 2) -> Order:
    """Two of each of ``lines`` products at 5.00, 5.01, ... fen-exact, pending payment."""
    items = [(ProductFactory(base_price_fen=500 + i), 2, 500 + i) for i in range(lines)]
    return make_order(customer_id=customer.pk, store_id=store.pk, items=items)


def test_order_detail_shows_lines_totals_and_payment(auth_client):
    order = _order(auth_client.customer, LocationFactory(), lines=2)

    body = auth_client.get(f"/api/v1/orders/{order.pk}").json()

    assert body["number"] == order.number and body["state"] == "pending_payment"
    assert body["total_fen"] == 2 * 500 + 2 * 501 == sum(line["final_fen"] for line in body["lines"])
    assert body["item_count"] == 4
    assert body["payment"] == {
        "provider": "wechat_pay",
        "out_trade_no": order.number,
        "state": "pending",
        "amount_fen": body["total_fen"],
        "paid_at": None,
    }


def test_another_shoppers_order_is_not_found(auth_client):
    other = _order(CustomerFactory(), LocationFactory())

    response = auth_client.get(f"/api/v1/orders/{other.pk}")

    assert response.status_code == 404 and response.json()["error"]["code"] == "order_not_found"
    assert auth_client.get("/api/v1/orders").json()["count"] == 0


@pytest.mark.parametrize("order_id", ["0", "99999999", str(2**63)])
def test_unknown_order_ids_are_not_found(auth_client, order_id):
    assert auth_client.get(f"/api/v1/orders/{order_id}").status_code == 404


def test_order_list_is_newest_first_in_constant_queries(auth_client, django_assert_num_queries):
    store = LocationFactory()
    first = _order(auth_client.customer, store)
    with django_assert_num_queries(7):  # token, count, page, lines, payments, shipments, returns
        assert [o["id"] for o in auth_client.get("/api/v1/orders").json()["results"]] == [first.pk]

    newer = [_order(auth_client.customer, store, lines=3) for _ in range(9)]
    with django_assert_num_queries(7):
        results = auth_client.get("/api/v1/orders").json()["results"]
    assert [o["id"] for o in results] == [o.pk for o in reversed(newer)] + [first.pk]
