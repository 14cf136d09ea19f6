"""The provider's "paid" notification arriving while our checkout is still waiting for the
answer to its create call: the order is paid once, and the checkout's answer still holds."""

from __future__ import annotations

import pytest

from .shopper import Shopper

pytestmark = pytest.mark.faults


def test_a_notification_before_the_checkout_answer_pays_once_and_the_answer_stands(healthy):
    stack = healthy
    shopper = Shopper(stack.app.url)
    basket_id = shopper.basket_with_milk(stack.store_id, bottles=2)
    confirmations = []

    def shopper_pays_at_once(out_trade_no: str) -> None:
        # The trade exists at the provider and our checkout waits for its answer: the
        # shopper pays and the notification reaches us now, before that answer does.
        confirmations.append(shopper.pay(out_trade_no))

    stack.provider.after_create = shopper_pays_at_once
    checkout = shopper.checkout(basket_id, key="early-notification")

    assert [c["notified"] for c in confirmations] == [True]
    assert checkout.status_code == 201, checkout.text
    body = checkout.json()
    order_id = body["order"]["id"]
    assert body["order"]["state"] == "paid"
    assert body["payment_params"]["package"].startswith("prepay_id=")
    assert shopper.order(order_id)["state"] == "paid"
    assert shopper.get(f"/api/v1/orders/{order_id}/exit-pass").status_code == 200

    # Paid once: one payment, paid, its client params kept; one "paid" event.
    [(state, client_params)] = stack.sql(
        "SELECT state, client_params FROM checkout_payment WHERE order_id = %s", order_id
    )
    assert state == "paid"
    assert client_params == body["payment_params"]
    paid_events = stack.sql("SELECT count(*) FROM checkout_orderevent WHERE order_id = %s AND type = 'paid'", order_id)
    assert paid_events == [(1,)]

    # The client retrying its checkout gets the same answer, and nothing more happens.
    replay = shopper.checkout(basket_id, key="early-notification")
    assert replay.status_code == 201
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json() == body
    assert stack.sql("SELECT count(*) FROM checkout_order WHERE basket_id = %s", basket_id) == [(1,)]
