"""Payments when things go wrong: replayed and tampered notifications, orders nobody pays,
notifications that never arrive, a provider that is down, and bad checkout input."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
import requests
from django.utils import timezone
from rest_framework.test import APIClient

from checkout import payment_jobs
from checkout.models import Basket, Order, OrderEvent, Payment
from checkout.tasks import order_paid
from miniprogram_api.sandbox import alipay as sandbox_alipay
from miniprogram_api.sandbox import wechatpay as sandbox_wechatpay
from miniprogram_api.sandbox.models import AlipayTrade, WeChatPayTrade
from stores.models import Stock
from tests.checkout.shop import APPLE_PLU, MILK_EAN, make_shop, weight_label
from tests.factories import CustomerFactory
from tests.factories import client_for as _client

pytestmark = pytest.mark.django_db(transaction=True)
CLOSED_PORT_URL = "http://127.0.0.1:9"


@pytest.fixture
def shop():
    return make_shop()


def _basket_with_scans(client: APIClient, store_id: int) -> int:
    basket_id = client.post("/api/v1/baskets", {"store_id": store_id}, format="json").json()["id"]
    client.post(f"/api/v1/baskets/{basket_id}/scan", {"barcode": MILK_EAN, "quantity": 3}, format="json")
    client.post(f"/api/v1/baskets/{basket_id}/scan", {"barcode": weight_label(APPLE_PLU, 500)}, format="json")
    return basket_id


def _checkout(client: APIClient, basket_id: int, method: str = "wechat_pay", key: str | None = None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(f"/api/v1/baskets/{basket_id}/checkout", {"payment_method": method}, format="json", **headers)


def _paid_order(server, shop, method: str) -> Order:
    client = _client(CustomerFactory())
    response = _checkout(client, _basket_with_scans(client, shop.store.pk), method)
    assert response.status_code == 201, response.content
    order = Order.objects.get(pk=response.json()["order"]["id"])
    assert requests.post(f"{server}/sandbox/payments/{order.number}/confirm", timeout=20).json()["notified"]
    order.refresh_from_db()
    assert order.state == Order.State.PAID
    return order


def _paid_events(order: Order) -> int:
    return OrderEvent.objects.filter(order=order, type="paid").count()


# --- Notifications -------------------------------------------------------------------------


def test_a_wechat_pay_notification_arriving_15_times_pays_the_order_once(server, shop):
    order = _paid_order(server, shop, "wechat_pay")
    trade = WeChatPayTrade.objects.get(out_trade_no=order.number)
    body = sandbox_wechatpay.build_notification(trade)

    for _ in range(15):
        headers = {"Content-Type": "application/json", **sandbox_wechatpay.platform_signature_headers(body)}
        answer = requests.post(f"{server}/api/payments/wechatpay/notify", data=body, headers=headers, timeout=10)
        assert answer.status_code == 204

    assert _paid_events(order) == 1
    assert Payment.objects.get(order=order).state == Payment.State.PAID
    # The after-payment work ran once: three bottles of milk left the store's stock.
    assert Stock.objects.get(location=shop.store, product=shop.milk).on_hand == 100 - 3
    assert OrderEvent.objects.filter(order=order, type="stock_committed").count() == 1


def test_an_alipay_notification_arriving_15_times_pays_the_order_once(server, shop):
    order = _paid_order(server, shop, "alipay")
    fields = sandbox_alipay.build_notification(AlipayTrade.objects.get(out_trade_no=order.number))

    for _ in range(15):
        answer = requests.post(f"{server}/api/payments/alipay/notify", data=fields, timeout=10)
        assert answer.text == "success"

    assert _paid_events(order) == 1


def _pending_order(shop, method: str = "wechat_pay") -> Order:
    client = _client(CustomerFactory())
    response = _checkout(client, _basket_with_scans(client, shop.store.pk), method)
    assert response.status_code == 201, response.content
    return Order.objects.get(pk=response.json()["order"]["id"])


def _pay_at_sandbox_only(model, order: Order) -> None:
    """The shopper paid, but the notification is yet to come (or lost)."""
    if model is WeChatPayTrade:
        WeChatPayTrade.objects.filter(out_trade_no=order.number).update(
            trade_state="SUCCESS", transaction_id="4200001234202611220000000001", success_time=timezone.now()
        )
    else:
        AlipayTrade.objects.filter(out_trade_no=order.number).update(
            trade_status="TRADE_SUCCESS", gmt_payment=timezone.now(), buyer_id="2088102000000001"
        )


def test_a_wechat_pay_notification_with_a_bad_signature_changes_nothing(server, shop):
    order = _pending_order(shop)
    _pay_at_sandbox_only(WeChatPayTrade, order)
    body = sandbox_wechatpay.build_notification(WeChatPayTrade.objects.get(out_trade_no=order.number))
    headers = {"Content-Type": "application/json", **sandbox_wechatpay.platform_signature_headers(body)}
    tampered = body.replace(b'"summary"', b'"summary "')

    answer = requests.post(f"{server}/api/payments/wechatpay/notify", data=tampered, headers=headers, timeout=10)

    assert answer.status_code == 401 and answer.json()["code"] == "FAIL"
    order.refresh_from_db()
    assert order.state == Order.State.PENDING_PAYMENT


def test_a_wechat_pay_notification_with_the_wrong_amount_changes_nothing(server, shop):
    order = _pending_order(shop)
    _pay_at_sandbox_only(WeChatPayTrade, order)
    trade = WeChatPayTrade.objects.get(out_trade_no=order.number)
    trade.amount_fen = 1  # a notification claiming one fen was paid, correctly signed
    body = sandbox_wechatpay.build_notification(trade)
    headers = {"Content-Type": "application/json", **sandbox_wechatpay.platform_signature_headers(body)}

    answer = requests.post(f"{server}/api/payments/wechatpay/notify", data=body, headers=headers, timeout=10)

    assert answer.status_code == 400
    order.refresh_from_db()
    assert order.state == Order.State.PENDING_PAYMENT
    assert OrderEvent.objects.filter(order=order, type="payment_amount_mismatch").exists()


def test_a_notification_for_an_unknown_order_changes_nothing(server, shop):
    order = _pending_order(shop)
    _pay_at_sandbox_only(WeChatPayTrade, order)
    trade = WeChatPayTrade.objects.get(out_trade_no=order.number)
    trade.out_trade_no = "S20260101000000000000"
    body = sandbox_wechatpay.build_notification(trade)
    headers = {"Content-Type": "application/json", **sandbox_wechatpay.platform_signature_headers(body)}

    answer = requests.post(f"{server}/api/payments/wechatpay/notify", data=body, headers=headers, timeout=10)

    assert answer.status_code == 400
    assert Order.objects.get(pk=order.pk).state == Order.State.PENDING_PAYMENT


def test_an_alipay_notification_with_a_bad_signature_or_amount_changes_nothing(server, shop):
    order = _pending_order(shop, "alipay")
    _pay_at_sandbox_only(AlipayTrade, order)
    fields = sandbox_alipay.build_notification(AlipayTrade.objects.get(out_trade_no=order.number))

    forged = {**fields, "total_amount": "0.01"}  # the signature no longer matches
    assert requests.post(f"{server}/api/payments/alipay/notify", data=forged, timeout=10).text == "failure"
    trade = AlipayTrade.objects.get(out_trade_no=order.number)
    trade.total_amount = "0.01"  # correctly signed, wrong amount
    signed_wrong = sandbox_alipay.build_notification(trade)
    assert requests.post(f"{server}/api/payments/alipay/notify", data=signed_wrong, timeout=10).text == "failure"

    assert Order.objects.get(pk=order.pk).state == Order.State.PENDING_PAYMENT


# --- Timeouts and reconciliation -----------------------------------------------------------


@pytest.mark.parametrize(("method", "model"), [("wechat_pay", WeChatPayTrade), ("alipay", AlipayTrade)])
def test_an_order_unpaid_past_its_deadline_is_closed_there_and_here_and_its_basket_reopened(
    server, shop, method, model
):
    order = _pending_order(shop, method)
    Order.objects.filter(pk=order.pk).update(payment_deadline=timezone.now() - dt.timedelta(seconds=1))

    assert payment_jobs.close_expired_orders() == 1

    order.refresh_from_db()
    assert order.state == Order.State.CLOSED
    assert Payment.objects.get(order=order).state == Payment.State.CLOSED
    assert Basket.objects.get(pk=order.basket_id).status == Basket.Status.OPEN
    trade = model.objects.get(out_trade_no=order.number)
    assert (trade.trade_state if model is WeChatPayTrade else trade.trade_status) in {"CLOSED", "TRADE_CLOSED"}
    assert requests.post(f"{server}/sandbox/payments/{order.number}/confirm", timeout=10).status_code == 409
    assert payment_jobs.close_expired_orders() == 0


def test_an_order_paid_just_before_its_deadline_is_paid_not_closed(server, shop):
    order = _pending_order(shop)
    _pay_at_sandbox_only(WeChatPayTrade, order)
    Order.objects.filter(pk=order.pk).update(payment_deadline=timezone.now() - dt.timedelta(seconds=1))

    assert payment_jobs.close_expired_orders() == 0

    order.refresh_from_db()
    assert order.state == Order.State.PAID
    assert list(OrderEvent.objects.filter(order=order).values_list("type", flat=True)) == [
        "created",
        "paid",
        "stock_committed",
    ]


@pytest.mark.parametrize(("method", "model"), [("wechat_pay", WeChatPayTrade), ("alipay", AlipayTrade)])
def test_a_payment_whose_notification_never_came_is_settled_by_reconciliation(server, shop, method, model):
    order = _pending_order(shop, method)
    _pay_at_sandbox_only(model, order)
    Payment.objects.filter(order=order).update(created_at=timezone.now() - dt.timedelta(minutes=5))

    assert payment_jobs.reconcile_pending_payments() == 1

    order.refresh_from_db()
    assert order.state == Order.State.PAID
    assert OrderEvent.objects.get(order=order, type="paid").data["source"] == "reconciliation"
    assert payment_jobs.reconcile_pending_payments() == 0


def test_reconciliation_leaves_young_and_unpaid_payments_alone(server, shop):
    young = _pending_order(shop)
    _pay_at_sandbox_only(WeChatPayTrade, young)
    unpaid = _pending_order(shop)
    Payment.objects.filter(order=unpaid).update(created_at=timezone.now() - dt.timedelta(minutes=5))

    assert payment_jobs.reconcile_pending_payments() == 0

    assert Order.objects.get(pk=young.pk).state == Order.State.PENDING_PAYMENT
    assert Order.objects.get(pk=unpaid.pk).state == Order.State.PENDING_PAYMENT


# --- Checkout input ------------------------------------------------------------------------


def test_a_provider_that_is_down_gives_503_and_a_retry_resumes_the_same_order(server, shop, settings):
    client = _client(CustomerFactory())
    basket_id = _basket_with_scans(client, shop.store.pk)
    settings.WECHATPAY_BASE_URL = CLOSED_PORT_URL

    down = _checkout(client, basket_id, key="k-1")
    assert down.status_code == 503 and down.json()["error"]["code"] == "payment_provider_unavailable"
    assert Order.objects.get().state == Order.State.PENDING_PAYMENT

    settings.WECHATPAY_BASE_URL = f"{server}/sandbox/wechatpay"
    retried = _checkout(client, basket_id, key="k-1")
    assert retried.status_code == 201
    assert Order.objects.count() == 1 and retried.json()["order"]["id"] == Order.objects.get().pk


def test_the_same_idempotency_key_with_another_body_is_refused(server, shop):
    client = _client(CustomerFactory())
    basket_id = _basket_with_scans(client, shop.store.pk)
    assert _checkout(client, basket_id, "wechat_pay", key="k-2").status_code == 201

    other = _checkout(client, basket_id, "alipay", key="k-2")

    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert Order.objects.count() == 1


def test_checkout_of_an_empty_basket_is_refused(server, shop):
    client = _client(CustomerFactory())
    basket_id = client.post("/api/v1/baskets", {"store_id": shop.store.pk}, format="json").json()["id"]

    response = _checkout(client, basket_id)

    assert response.status_code == 422 and response.json()["error"]["code"] == "basket_empty"
    assert Basket.objects.get(pk=basket_id).status == Basket.Status.OPEN
    assert not Order.objects.exists()


def test_checkout_of_another_shoppers_basket_is_not_found(server, shop):
    owner = _client(CustomerFactory())
    basket_id = _basket_with_scans(owner, shop.store.pk)

    response = _checkout(_client(CustomerFactory()), basket_id)

    assert response.status_code == 404 and response.json()["error"]["code"] == "basket_not_found"
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    "body",
    [{}, {"payment_method": "cash"}, {"payment_method": 1}, {"payment_method": "wechat_pay", "amount_fen": 1}],
    ids=["missing", "unknown-method", "not-a-string", "client-amount-ignored"],
)
def test_checkout_input_is_validated_and_never_takes_an_amount_from_the_client(server, shop, body):
    client = _client(CustomerFactory())
    basket_id = _basket_with_scans(client, shop.store.pk)

    response = client.post(f"/api/v1/baskets/{basket_id}/checkout", body, format="json")

    if "amount_fen" in body:
        assert response.status_code == 201
        assert Payment.objects.get().amount_fen == 3 * 1190 + 995 != 1
    else:
        assert response.status_code == 400 and response.json()["error"]["code"] == "validation_error"
        assert not Order.objects.exists()


def test_checkout_with_a_frozen_basket_and_another_method_is_a_conflict(server, shop):
    client = _client(CustomerFactory())
    basket_id = _basket_with_scans(client, shop.store.pk)
    assert _checkout(client, basket_id, "wechat_pay").status_code == 201

    response = _checkout(client, basket_id, "alipay")

    assert response.status_code == 409 and response.json()["error"]["code"] == "basket_awaiting_other_payment"


def test_checkout_takes_at_most_25_queries(server, shop, django_assert_max_num_queries):
    client = _client(CustomerFactory())
    basket_id = _basket_with_scans(client, shop.store.pk)

    with django_assert_max_num_queries(25):
        response = _checkout(client, basket_id, key=str(uuid.uuid4()))

    assert response.status_code == 201, json.dumps(response.json())


@pytest.mark.parametrize("method", ["wechat_pay", "alipay"])
def test_an_order_whose_payment_never_reached_the_provider_is_closed_at_its_deadline(server, shop, settings, method):
    client = _client(CustomerFactory())
    basket_id = _basket_with_scans(client, shop.store.pk)
    settings.WECHATPAY_BASE_URL = settings.ALIPAY_GATEWAY_URL = CLOSED_PORT_URL
    assert _checkout(client, basket_id, method).status_code == 503
    settings.WECHATPAY_BASE_URL = f"{server}/sandbox/wechatpay"
    settings.ALIPAY_GATEWAY_URL = f"{server}/sandbox/alipay/gateway.do"
    Order.objects.update(payment_deadline=timezone.now() - dt.timedelta(seconds=1))

    assert payment_jobs.close_expired_orders() == 1

    assert Order.objects.get().state == Order.State.CLOSED
    assert Basket.objects.get(pk=basket_id).status == Basket.Status.OPEN


def test_a_payment_method_the_retailer_turned_off_is_refused(server, shop, settings):
    settings.PAYMENT_METHODS = ["wechat_pay"]
    client = _client(CustomerFactory())
    basket_id = _basket_with_scans(client, shop.store.pk)

    response = _checkout(client, basket_id, "alipay")

    assert response.status_code == 422 and response.json()["error"]["code"] == "payment_method_unavailable"
    assert not Order.objects.exists() and Basket.objects.get(pk=basket_id).status == Basket.Status.OPEN


def test_the_after_payment_task_delivered_twice_commits_stock_once(server, shop):
    order = _paid_order(server, shop, "alipay")  # the notification already ran the task once

    order_paid.delay(order.pk)
    order_paid.delay(order.pk)

    assert Stock.objects.get(location=shop.store, product=shop.milk).on_hand == 100 - 3
    # 500 g of apples against 100 g of book stock: the shelf wins, book stock stops at zero.
    assert Stock.objects.get(location=shop.store, product=shop.apples).on_hand == 0
    assert OrderEvent.objects.filter(order=order, type="stock_committed").count() == 1


def test_an_order_whose_payment_failed_is_closed_at_its_deadline_and_its_basket_reopened(server, shop):
    order = _pending_order(shop)
    Payment.objects.filter(order=order).update(state=Payment.State.FAILED)  # the bank refused
    Order.objects.filter(pk=order.pk).update(payment_deadline=timezone.now() - dt.timedelta(seconds=1))

    assert payment_jobs.close_expired_orders() == 1

    assert Order.objects.get(pk=order.pk).state == Order.State.CLOSED
    assert Basket.objects.get(pk=order.basket_id).status == Basket.Status.OPEN


def test_one_trade_with_a_wrong_amount_does_not_stall_reconciliation_of_the_others(server, shop):
    bad, good = _pending_order(shop), _pending_order(shop)
    for order in (bad, good):
        _pay_at_sandbox_only(WeChatPayTrade, order)
    WeChatPayTrade.objects.filter(out_trade_no=bad.number).update(amount_fen=1)
    Payment.objects.update(created_at=timezone.now() - dt.timedelta(minutes=5))

    assert payment_jobs.reconcile_pending_payments() == 1

    assert Order.objects.get(pk=good.pk).state == Order.State.PAID
    assert Order.objects.get(pk=bad.pk).state == Order.State.PENDING_PAYMENT
    assert OrderEvent.objects.filter(order=bad, type="payment_amount_mismatch").exists()
