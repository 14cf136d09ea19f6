"""Returns end to end: checkout and payment through the API and the payment sandbox on a
live server, the return through the API, the refund sent to the sandbox over real HTTP,
and WeChat Pay's signed refund notification coming back to our notify endpoint (or the
polling job asking, when it never arrives). Alipay refunds succeed within the call."""

from __future__ import annotations

import datetime as dt
import time

import pytest
import requests
from rest_framework.test import APIClient

from checkout.models import GateEvent, Order, OrderEvent, Refund, Return
from checkout.tasks import poll_refunds
from miniprogram_api.core import clock
from miniprogram_api.sandbox import wechatpay as sandbox_wechatpay
from miniprogram_api.sandbox import wechatpay_refunds as sandbox_refunds
from miniprogram_api.sandbox.models import AlipayRefund, AlipayTrade, WeChatPayRefund
from promotions import gift_card_ledger
from promotions.models import Coupon
from tests.checkout.delivery_town import address_for, fill_cart, make_town
from tests.checkout.delivery_town import checkout as cart_checkout
from tests.checkout.returned_orders import card_money, later
from tests.checkout.shop import APPLE_PLU, MILK_EAN, make_shop, weight_label
from tests.factories import CustomerFactory, client_for
from tests.gates.gate_shop import exit_pass, gate_client, scan
from tests.promotions.coupon_templates import held_coupon, offer
from tests.promotions.gift_card_setup import make_card

pytestmark = pytest.mark.django_db(transaction=True)
CLOSED_PORT_URL = "http://127.0.0.1:9"


@pytest.fixture
def sandbox(server, settings):
    settings.SANDBOX_REFUND_SECONDS = 0.1
    yield server
    for thread in list(sandbox_refunds.REFUND_THREADS):
        thread.join(timeout=5)


@pytest.fixture
def shop():
    return make_shop()


def shopping(client: APIClient, store_id: int, method: str = "wechat_pay", *, gift_card_ids=()) -> Order:
    """Three milks (11.90 each) and 500 g of apples (9.95), checked out: 45.65."""
    basket_id = client.post("/api/v1/baskets", {"store_id": store_id}, format="json").json()["id"]
    for body in ({"barcode": MILK_EAN, "quantity": 3}, {"barcode": weight_label(APPLE_PLU, 500)}):
        assert client.post(f"/api/v1/baskets/{basket_id}/scan", body, format="json").status_code == 200
    body = {"payment_method": method, "gift_card_ids": list(gift_card_ids)}
    response = client.post(f"/api/v1/baskets/{basket_id}/checkout", body, format="json")
    assert response.status_code == 201, response.content
    return Order.objects.get(pk=response.json()["order"]["id"])


def confirm(server: str, order: Order) -> Order:
    """The shopper confirms on the phone; the sandbox notifies us and the order is paid."""
    assert requests.post(f"{server}/sandbox/payments/{order.number}/confirm", timeout=20).json()["notified"]
    order.refresh_from_db()
    assert order.state == Order.State.PAID
    return order


def give_back(client: APIClient, order: Order, *pairs, key: str | None = None) -> dict:
    body = {"lines": [{"line_id": line_id, "quantity": quantity} for line_id, quantity in pairs]}
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    response = client.post(f"/api/v1/orders/{order.pk}/returns", body, format="json", **headers)
    assert response.status_code == 201, response.content
    return response.json()


def line_id(order: Order, sku: str) -> int:
    return order.lines.get(sku=sku).pk


def wait_for(refund: Refund, state: str, timeout: float = 10) -> Refund:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        refund.refresh_from_db()
        if refund.state == state:
            return refund
        time.sleep(0.02)
    raise AssertionError(f"refund {refund.out_refund_no} is {refund.state}, not {state}")


def external_refund(body: dict) -> Refund:
    (refund,) = [r for r in body["refunds"] if r["tender"] != "gift_card"]
    return Refund.objects.get(pk=refund["id"])


def notify(server: str, body: bytes, headers: dict[str, str]):
    return requests.post(
        f"{server}/api/payments/wechatpay/notify",
        data=body,
        headers={"Content-Type": "application/json", **headers},
        timeout=10,
    )


# --- WeChat Pay ----------------------------------------------------------------------------------


def test_an_in_store_partial_return_is_refunded_to_wechat_pay_by_its_notification(sandbox, shop):
    shopper = CustomerFactory()
    client = client_for(shopper)
    order = confirm(sandbox, shopping(client, shop.store.pk))

    body = give_back(client, order, (line_id(order, shop.milk.sku), 1), key="return-milk")

    assert (body["amount_fen"], body["refund_state"]) == (1190, "refunding")
    refund = wait_for(external_refund(body), "succeeded")  # the sandbox's notification arrived
    for thread in list(sandbox_refunds.REFUND_THREADS):
        thread.join(timeout=5)  # the sandbox records the delivery once our answer is back
    at_wechat = WeChatPayRefund.objects.get(out_refund_no=refund.out_refund_no)
    assert (at_wechat.status, at_wechat.refund_fen, at_wechat.total_fen) == ("SUCCESS", 1190, order.total_fen)
    assert at_wechat.notified_at is not None
    assert refund.provider_refund_id == at_wechat.refund_id
    shown = client.get(f"/api/v1/orders/{order.pk}/returns").json()
    assert (shown[0]["refund_state"], shown[0]["refunds"][0]["state"]) == ("refunded", "succeeded")
    order.refresh_from_db()
    assert (order.state, order.refunded_fen) == (Order.State.PARTIALLY_REFUNDED, 1190)

    # WeChat Pay sends the notification again (and again): acknowledged, nothing changes.
    events = OrderEvent.objects.filter(order=order).count()
    payload = sandbox_refunds.build_refund_notification(at_wechat)
    for _ in range(3):
        assert notify(sandbox, payload, sandbox_wechatpay.platform_signature_headers(payload)).status_code == 204
    assert OrderEvent.objects.filter(order=order).count() == events
    assert Refund.objects.get(pk=refund.pk).succeeded_at == refund.succeeded_at


def test_a_refund_notification_with_a_bad_signature_changes_nothing(sandbox, shop, settings):
    settings.SANDBOX_REFUND_SECONDS = -1  # stays PROCESSING until the sandbox is told
    shopper = CustomerFactory()
    client = client_for(shopper)
    order = confirm(sandbox, shopping(client, shop.store.pk))
    refund = external_refund(give_back(client, order, (line_id(order, shop.milk.sku), 2)))
    assert Refund.objects.get(pk=refund.pk).state == "processing"
    at_wechat = WeChatPayRefund.objects.get(out_refund_no=refund.out_refund_no)
    WeChatPayRefund.objects.filter(pk=at_wechat.pk).update(status="SUCCESS", success_time=clock.now())
    at_wechat.refresh_from_db()
    payload = sandbox_refunds.build_refund_notification(at_wechat)
    headers = sandbox_wechatpay.platform_signature_headers(payload)
    tampered = payload.replace(b'"summary"', b'"summary "')

    answer = notify(sandbox, tampered, headers)

    assert answer.status_code == 401 and answer.json()["code"] == "FAIL"
    assert Refund.objects.get(pk=refund.pk).state == "processing"
    assert Return.objects.get(pk=refund.return_request_id).refund_state == "refunding"
    # The same notification, correctly signed, is what completes it.
    assert notify(sandbox, payload, headers).status_code == 204
    assert Refund.objects.get(pk=refund.pk).state == "succeeded"


def test_the_poller_completes_a_refund_whose_notification_never_arrives(sandbox, shop, settings, monkeypatch):
    shopper = CustomerFactory()
    client = client_for(shopper)
    order = confirm(sandbox, shopping(client, shop.store.pk))
    settings.PUBLIC_BASE_URL = CLOSED_PORT_URL  # the refund's notify_url: nobody listens

    refund = external_refund(give_back(client, order, (line_id(order, shop.apples.sku), 1)))

    assert Refund.objects.get(pk=refund.pk).state == "processing"
    for thread in list(sandbox_refunds.REFUND_THREADS):
        thread.join(timeout=5)  # the sandbox finished it and failed to tell us
    assert WeChatPayRefund.objects.get(out_refund_no=refund.out_refund_no).status == "SUCCESS"
    assert Refund.objects.get(pk=refund.pk).state == "processing"

    monkeypatch.setattr(clock, "now", later(dt.timedelta(minutes=2)))
    assert poll_refunds.delay().get() == 1

    refund.refresh_from_db()
    assert refund.state == "succeeded" and refund.amount_fen == 995
    assert Return.objects.get(pk=refund.return_request_id).refund_state == "refunded"


def test_gift_card_and_wechat_pay_both_get_their_share_back(sandbox, shop):
    shopper = CustomerFactory()
    client = client_for(shopper)
    card = make_card(shopper, 2000)
    order = confirm(sandbox, shopping(client, shop.store.pk, gift_card_ids=[card.pk]))
    assert (order.total_fen, order.gift_card_fen) == (4565, 2000)
    assert card_money(card) == (0, 0)

    body = give_back(client, order, (line_id(order, shop.milk.sku), 3), (line_id(order, shop.apples.sku), 1))

    # Everything back: each tender exactly what it paid.
    assert body["full"] and body["amount_fen"] == 4565
    assert [(r["tender"], r["amount_fen"]) for r in body["refunds"]] == [("gift_card", 2000), ("wechat_pay", 2565)]
    assert card_money(card) == (2000, 0)
    assert gift_card_ledger.ledger_problems([card.pk]) == []
    wait_for(external_refund(body), "succeeded")
    assert WeChatPayRefund.objects.get(out_refund_no=external_refund(body).out_refund_no).refund_fen == 2565
    order.refresh_from_db()
    assert (order.state, order.refunded_fen) == (Order.State.REFUNDED, 4565)


# --- Alipay, and the gate --------------------------------------------------------------------


def test_an_alipay_return_is_refunded_in_the_call_and_the_pass_no_longer_opens_the_gate(sandbox, shop):
    shopper = CustomerFactory()
    client = client_for(shopper)
    order = confirm(sandbox, shopping(client, shop.store.pk, method="alipay"))
    issued = exit_pass(order)
    gate, _ = gate_client(shop.store)

    body = give_back(client, order, (line_id(order, shop.milk.sku), 3), (line_id(order, shop.apples.sku), 1))

    refund = Refund.objects.get(pk=body["refunds"][0]["id"])
    assert (refund.tender, refund.state, refund.amount_fen) == ("alipay", "succeeded", 4565)
    at_alipay = AlipayRefund.objects.get(out_request_no=refund.out_refund_no)
    assert at_alipay.refund_fen == 4565
    assert AlipayTrade.objects.get(out_trade_no=order.number).trade_status == "TRADE_CLOSED"
    assert Return.objects.get(pk=body["id"]).refund_state == "refunded"

    decision = scan(gate, issued.token).json()
    assert (decision["decision"], decision["reason"]) == ("deny", "order_refunded")
    assert GateEvent.objects.get().reason == "order_refunded"


# --- Delivery: the fee and the coupon come back with everything ----------------------------------


def test_a_delivery_order_returned_whole_refunds_the_fee_and_gives_back_its_coupon(sandbox):
    town = make_town()
    shopper = CustomerFactory()
    client = client_for(shopper)
    coupon = held_coupon(shopper, offer(threshold_fen=2000, amount_off_fen=500, claimable=False))
    fill_cart(shopper, town.city, {town.milk: 2, town.tea: 1})
    response = cart_checkout(client, town.city, address=address_for(shopper, town.city), coupon_ids=[coupon.pk])
    assert response.status_code == 201, response.content
    order = confirm(sandbox, Order.objects.get(pk=response.json()["order"]["id"]))
    # 2 x 12.90 + 35.00 = 60.80, 5.00 off, 8.00 delivery: 63.80.
    assert (order.discount_fen, order.delivery_fee_fen, order.total_fen) == (500, 800, 6380)
    assert Coupon.objects.get(pk=coupon.pk).status == "used"
    refused = client.post(
        f"/api/v1/orders/{order.pk}/returns",
        {"lines": [{"line_id": line_id(order, town.tea.sku), "quantity": 1}]},
        format="json",
    )
    assert refused.json()["error"]["code"] == "order_not_delivered"
    order.shipments.update(status="delivered", delivered_at=clock.now())
    Order.objects.filter(pk=order.pk).update(delivered_at=clock.now())

    first = give_back(client, order, (line_id(order, town.milk.sku), 1))
    last = give_back(client, order, (line_id(order, town.milk.sku), 1), (line_id(order, town.tea.sku), 1))

    assert first["amount_fen"] + last["goods_fen"] == 6080 - 500
    assert (last["delivery_fee_fen"], last["full"]) == (800, True)
    for body in (first, last):
        wait_for(external_refund(body), "succeeded")
    order.refresh_from_db()
    assert (order.state, order.refunded_fen) == (Order.State.REFUNDED, 6380)
    assert sum(
        WeChatPayRefund.objects.filter(trade__out_trade_no=order.number).values_list("refund_fen", flat=True)
    ) == (6380)
    coupon.refresh_from_db()
    assert (coupon.status, coupon.order_id) == ("available", None)
