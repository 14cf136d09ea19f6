"""The payment provider failing at checkout: a clear 503 or 502, the order left pending and
payable, and a retry with the same basket resuming that same order once the provider is back."""

from __future__ import annotations

import time

import pytest

from .conftest import PAYMENT_READ_TIMEOUT_SECONDS
from .shopper import Shopper

pytestmark = pytest.mark.faults


@pytest.mark.parametrize(
    ("mode", "status", "code"),
    [
        ("hang", 503, "payment_provider_unavailable"),  # no answer within the read timeout
        ("answer_lost", 503, "payment_provider_unavailable"),  # the trade was created, its answer lost
        ("system_error", 503, "payment_provider_unavailable"),  # WeChat Pay's 500 SYSTEM_ERROR
        ("unverifiable", 502, "payment_provider_error"),  # an answer without a valid signature
    ],
)
def test_a_failing_provider_leaves_a_pending_order_that_a_retry_resumes_and_pays(healthy, mode, status, code):
    stack = healthy
    shopper = Shopper(stack.app.url)
    basket_id = shopper.basket_with_milk(stack.store_id, bottles=2)

    stack.provider.mode = mode
    started = time.monotonic()
    failed = shopper.checkout(basket_id, key=f"provider-{mode}")
    took = time.monotonic() - started
    assert failed.status_code == status, failed.text
    assert failed.json()["error"]["code"] == code
    assert took < PAYMENT_READ_TIMEOUT_SECONDS + 3  # the read timeout, not a hang
    assert stack.provider.requests_seen, "the checkout never called the provider"

    # The order was written and waits for its payment; the basket is frozen on it.
    [(order_id, state, total_fen)] = stack.sql(
        "SELECT id, state, total_fen FROM checkout_order WHERE basket_id = %s", basket_id
    )
    assert state == "pending_payment"
    assert total_fen == 2 * 1190
    assert shopper.get(f"/api/v1/baskets/{basket_id}").json()["status"] == "frozen"

    # The provider is back: the same key (released by the failure) resumes the same order
    # and its one payment, and the shopper pays.
    stack.provider.mode = "forward"
    retried = shopper.checkout(basket_id, key=f"provider-{mode}")
    assert retried.status_code == 201, retried.text
    order = retried.json()["order"]
    assert order["id"] == order_id
    assert retried.json()["payment_params"]["package"].startswith("prepay_id=")
    assert shopper.pay(order["payment"]["out_trade_no"])["notified"] is True
    assert shopper.order(order_id)["state"] == "paid"
    assert stack.sql("SELECT count(*) FROM checkout_order WHERE basket_id = %s", basket_id) == [(1,)]
    assert stack.sql("SELECT count(*), sum(amount_fen) FROM checkout_payment WHERE order_id = %s", order_id) == [
        (1, 2 * 1190)
    ]
