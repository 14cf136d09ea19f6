"""Shopper notifications: written once per order and kind in the caller's transaction, sent
once by the task however often it runs, retried while WeChat is down and then given up,
refused when the shopper has not subscribed, redriven when the task was lost. Messages go
over real HTTP to the sandbox's WeChat on the live server, which records them."""

from __future__ import annotations

import datetime as dt
import socket

import pytest
import requests
from django.db import transaction

from checkout import after_payment_jobs, notifications, settlement, tasks
from checkout.delivery_models import Courier, Notification, Shipment
from checkout.models import AfterPaymentJob, Order
from checkout.payments.base import TradeStatus
from miniprogram_api.accounts import wechat_api
from miniprogram_api.core import clock
from miniprogram_api.core.money import format_yuan
from miniprogram_api.sandbox.models import WeChatSubscribeMessage
from tests.checkout.delivery_town import address_for, checkout, fill_cart, make_town, next_slot
from tests.checkout.online_orders import online_order
from tests.factories import CustomerFactory, client_for
from tests.orders import make_order
from tests.test_settings import GOOD_PRODUCTION, run_python  # noqa: F401 - run_python is a fixture

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def town():
    return make_town()


@pytest.fixture
def shopper():
    return CustomerFactory()


@pytest.fixture
def wechat(server) -> str:
    """The sandbox's WeChat on the live server (``server`` points our client at it)."""
    return server


@pytest.fixture
def wechat_down(settings) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.WECHAT_API_BASE_URL = f"http://127.0.0.1:{port}"
    settings.WECHAT_HTTP_TIMEOUT = (1, 1)


@pytest.fixture
def lost_tasks(monkeypatch) -> list[int]:
    """The broker is down: enqueued sends go nowhere (their ids are kept here)."""
    lost: list[int] = []
    monkeypatch.setattr(tasks.send_notification, "delay", lambda notification_id: lost.append(notification_id))
    return lost


def move_clock(monkeypatch, by: dt.timedelta) -> None:
    real = clock.now
    monkeypatch.setattr(clock, "now", lambda: real() + by)


def messages_to(customer) -> list[WeChatSubscribeMessage]:
    return list(WeChatSubscribeMessage.objects.filter(touser=customer.openid))


def delivery_order(town, shopper, **options) -> Order:
    return online_order(customer=shopper, city=town.city, product=town.milk, **options)


# --- Paying sends the "paid" message ------------------------------------------------------


def test_paying_a_delivery_order_sends_the_shopper_the_paid_message(wechat, town, shopper):
    fill_cart(shopper, town.city, {town.tea: 1, town.milk: 2})
    slot = next_slot(town.city, "15:00-18:00")
    response = checkout(client_for(shopper), town.city, address=address_for(shopper, town.city), slot=slot)
    order = Order.objects.get(pk=response.json()["order"]["id"])

    assert requests.post(f"{wechat}/sandbox/payments/{order.number}/confirm", timeout=20).json()["notified"]

    notification = Notification.objects.get(order=order)
    assert (notification.kind, notification.status, notification.attempts) == ("paid", "sent", 1)
    (message,) = messages_to(shopper)
    assert message.template_id == "sandbox-tpl-order-paid"
    assert message.page == f"pages/order/detail?id={order.pk}"
    day = order.slot_date
    assert message.data == {
        "character_string1": {"value": order.number},
        "amount2": {"value": format_yuan(order.total_fen)},
        "time3": {"value": f"{day.year}年{day.month:02d}月{day.day:02d}日 15:00~18:00"},
        "thing4": {"value": "Room 501, 1 Test Ro…"},  # the address, cut to a thing's 20 characters
    }


def test_paying_a_pick_up_order_names_the_store_and_gives_the_order_its_code(wechat, town, shopper):
    fill_cart(shopper, town.city, {town.tea: 1})
    response = checkout(client_for(shopper), town.city, pickup_store=town.near_store)
    order = Order.objects.get(pk=response.json()["order"]["id"])

    requests.post(f"{wechat}/sandbox/payments/{order.number}/confirm", timeout=20)

    order.refresh_from_db()
    assert len(order.pickup_code) == 8 and order.pickup_code.isdigit()
    (message,) = messages_to(shopper)
    assert message.data["thing4"] == {"value": "Near Store"}


def test_an_in_store_order_gets_no_message(wechat, town, shopper):
    order = make_order(customer_id=shopper.pk, store_id=town.near_store.pk, items=[(town.milk, 1, 1290)])
    paid = TradeStatus(out_trade_no=order.number, state="paid", amount_fen=1290, provider_trade_id="42000001")

    settlement.apply_trade_status(provider="wechat_pay", status=paid, source="notification")

    assert Order.objects.get(pk=order.pk).state == "paid"
    assert not Notification.objects.exists()
    assert not messages_to(shopper)


# --- Once ---------------------------------------------------------------------------------


def test_a_notification_is_sent_once_however_often_notify_and_the_task_run(wechat, town, shopper):
    order = delivery_order(town, shopper)

    first = notifications.notify(order.pk, "dispatched")
    again = notifications.notify(order.pk, "dispatched")
    outcomes = [tasks.send_notification.delay(first).get(disable_sync_subtasks=False) for _ in range(3)]

    assert again is None
    assert outcomes == ["skipped"] * 3  # the first send ran on commit, inside notify
    assert Notification.objects.get().status == "sent"
    assert [m.template_id for m in messages_to(shopper)] == ["sandbox-tpl-order-dispatched"]


def test_each_kind_is_its_own_message(wechat, town, shopper):
    order = delivery_order(town, shopper)

    for kind in ("paid", "dispatched", "delivered", "delivery_failed"):
        notifications.notify(order.pk, kind)

    assert [m.template_id for m in messages_to(shopper)] == [
        "sandbox-tpl-order-paid",
        "sandbox-tpl-order-dispatched",
        "sandbox-tpl-order-delivered",
        "sandbox-tpl-delivery-failed",
    ]
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}


def test_a_notification_is_written_in_the_callers_transaction_and_sent_after_it_commits(wechat, town, shopper):
    order = delivery_order(town, shopper)

    with pytest.raises(RuntimeError), transaction.atomic():
        notifications.notify(order.pk, "dispatched")
        raise RuntimeError("the dispatch failed")

    assert not Notification.objects.exists()
    assert not messages_to(shopper)

    with transaction.atomic():
        notifications.notify(order.pk, "dispatched")
        assert not messages_to(shopper)  # nothing leaves before the commit
    assert len(messages_to(shopper)) == 1


def test_a_duplicate_inside_the_callers_transaction_does_not_break_it(wechat, town, shopper, lost_tasks):
    order = delivery_order(town, shopper)
    notifications.notify(order.pk, "dispatched")

    with transaction.atomic():
        Notification.objects.filter(order=order).delete()  # forces the unique row to clash below
        Notification.objects.create(order=order, kind="dispatched", template_id="x", data={})
        assert notifications.notify(order.pk, "dispatched") is None
        Order.objects.filter(pk=order.pk).update(slot="12:00-15:00")  # the caller goes on

    assert Order.objects.get(pk=order.pk).slot == "12:00-15:00"


def test_a_second_worker_finds_the_notification_claimed_while_the_first_sends(wechat, town, shopper, monkeypatch):
    order = delivery_order(town, shopper)
    real_send = wechat_api.send_subscribe_message
    seen = []

    def send_while_another_worker_tries(**kwargs):
        seen.append(notifications.deliver(notification_id=notification_id).outcome)  # a redelivered task
        return real_send(**kwargs)

    with transaction.atomic():
        notification_id = notifications.notify(order.pk, "delivered")
        monkeypatch.setattr(wechat_api, "send_subscribe_message", send_while_another_worker_tries)

    assert seen == ["skipped"]
    assert len(messages_to(shopper)) == 1
    assert Notification.objects.get().attempts == 1


# --- WeChat's answers ---------------------------------------------------------------------


def test_a_shopper_who_has_not_subscribed_is_recorded_as_refused_and_not_retried(wechat, town, shopper):
    requests.post(
        f"{wechat}/sandbox/wechat/subscriptions",
        json={"touser": shopper.openid, "template_id": "sandbox-tpl-order-dispatched", "status": "reject"},
        timeout=5,
    )
    order = delivery_order(town, shopper)

    notifications.notify(order.pk, "dispatched")

    notification = Notification.objects.get()
    assert (notification.status, notification.attempts) == ("refused", 1)
    assert "43101" in notification.error
    assert not messages_to(shopper)


def test_wechat_down_is_retried_with_backoff_then_given_up(wechat_down, town, shopper, monkeypatch):
    countdowns = []
    real_apply_async = tasks.send_notification.apply_async

    def apply_async(*args, **kwargs):
        countdowns.append(kwargs.get("countdown"))
        return real_apply_async(*args, **kwargs)

    monkeypatch.setattr(tasks.send_notification, "apply_async", apply_async)
    order = delivery_order(town, shopper)

    notifications.notify(order.pk, "dispatched")

    notification = Notification.objects.get()
    assert (notification.status, notification.attempts) == ("failed", notifications.MAX_ATTEMPTS)
    assert notification.error.startswith(f"gave up after {notifications.MAX_ATTEMPTS} attempts")
    assert countdowns == [None, 30, 60, 120, 240]  # the send on commit, then four retries
    # No more attempts.
    assert tasks.send_notification.delay(notification.pk).get(disable_sync_subtasks=False) == "skipped"


def test_a_message_sent_once_wechat_is_back(wechat, town, shopper, settings, lost_tasks):
    live = settings.WECHAT_API_BASE_URL
    settings.WECHAT_API_BASE_URL = "http://127.0.0.1:9"
    order = delivery_order(town, shopper)
    notification_id = notifications.notify(order.pk, "dispatched")

    assert notifications.deliver(notification_id=notification_id) == notifications.Attempt("retry", retry_in=30)
    settings.WECHAT_API_BASE_URL = live
    assert notifications.deliver(notification_id=notification_id).outcome == "sent"

    notification = Notification.objects.get()
    assert (notification.status, notification.attempts, notification.sent_at is not None) == ("sent", 2, True)
    assert len(messages_to(shopper)) == 1


def test_data_the_template_does_not_take_fails_with_wechats_errcode(wechat, town, shopper, settings):
    settings.WECHAT_TEMPLATE_KEYWORDS = {
        **settings.WECHAT_TEMPLATE_KEYWORDS,
        "dispatched": {"number": "character_string1", "slot": "time2", "courier": "thing9"},  # no thing3
    }
    order = delivery_order(town, shopper)

    notifications.notify(order.pk, "dispatched")

    notification = Notification.objects.get()
    assert (notification.status, notification.attempts) == ("failed", 1)
    assert notification.error.startswith("errcode 47003") and "thing3" in notification.error


def test_a_shopper_without_an_openid_in_this_mini_program_fails_without_a_call(wechat, town, monkeypatch):
    shopper = CustomerFactory(openid=None)
    monkeypatch.setattr(wechat_api, "send_subscribe_message", lambda **kwargs: pytest.fail("WeChat was called"))
    order = delivery_order(town, shopper)

    notifications.notify(order.pk, "dispatched")

    assert Notification.objects.get().status == "failed"


def test_a_kind_without_a_template_is_not_written(wechat, town, shopper, settings):
    settings.WECHAT_TEMPLATE_ORDER_DISPATCHED = ""
    order = delivery_order(town, shopper)

    assert notifications.notify(order.pk, "dispatched") is None
    assert not Notification.objects.exists()


def test_an_unknown_kind_is_a_programming_error(town, shopper):
    order = delivery_order(town, shopper)

    with pytest.raises(ValueError, match="unknown notification kind"):
        notifications.notify(order.pk, "shipped")


# --- The messages' text -------------------------------------------------------------------


def test_ready_for_pickup_names_the_store_the_code_and_the_slot(town, shopper, lost_tasks):
    order = delivery_order(town, shopper, channel="pickup", store=town.near_store)
    Order.objects.filter(pk=order.pk).update(pickup_code="04821337")
    notifications.notify(order.pk, "ready_for_pickup")

    assert Notification.objects.get().data == {
        "character_string1": order.number,
        "thing2": "Near Store",
        "character_string3": "04821337",
        "time4": "2026年11月23日 09:00~12:00",
    }


def test_dispatched_names_the_courier_and_a_failure_its_reason(town, shopper, lost_tasks):
    courier = Courier.objects.create(city=town.city, name="Wang Wei")
    order = delivery_order(town, shopper, shipments=[(town.warehouse, "dispatched")])
    Shipment.objects.filter(order=order).update(courier=courier)
    notifications.notify(order.pk, "dispatched")
    Shipment.objects.filter(order=order).update(status="failed", failure_reason="无人接听门卫拒收" * 3)
    notifications.notify(order.pk, "delivery_failed")

    dispatched, failed = Notification.objects.order_by("pk")
    assert dispatched.data["thing3"] == "Wang Wei"
    assert failed.data["thing2"] == ("无人接听门卫拒收" * 3)[:19] + "…"
    assert len(failed.data["thing2"]) == 20


def test_an_express_slot_is_the_hour_after_payment(town, shopper, lost_tasks):
    order = delivery_order(town, shopper, slot="express")
    paid_at = dt.datetime(2026, 11, 22, 6, 5, tzinfo=dt.UTC)  # 14:05 in Shanghai
    Order.objects.filter(pk=order.pk).update(paid_at=paid_at)
    notifications.notify(order.pk, "paid")

    assert Notification.objects.get().data["time3"] == "2026年11月22日 14:05~15:05"


# --- The sweep ----------------------------------------------------------------------------


def test_the_sweep_sends_a_notification_whose_task_was_lost(wechat, town, shopper, monkeypatch, lost_tasks):
    order = delivery_order(town, shopper, paid=False)  # no "paid" message to announce
    notification_id = notifications.notify(order.pk, "dispatched")
    monkeypatch.undo()  # the broker is back

    assert notifications.redrive() == 0  # too recent: its task may be on its way
    move_clock(monkeypatch, notifications.REDRIVE_AFTER + dt.timedelta(seconds=1))
    assert notifications.redrive() == 1

    assert Notification.objects.get(pk=notification_id).status == "sent"
    assert len(messages_to(shopper)) == 1
    assert notifications.redrive() == 0


def test_the_sweep_leaves_a_notification_another_worker_is_sending(town, shopper, monkeypatch, lost_tasks):
    order = delivery_order(town, shopper, paid=False)  # no "paid" message to announce
    notification_id = notifications.notify(order.pk, "dispatched")
    move_clock(monkeypatch, notifications.REDRIVE_AFTER * 2)
    Notification.objects.filter(pk=notification_id).update(attempted_at=clock.now(), attempts=1)

    assert notifications.redrive() == 0
    move_clock(monkeypatch, notifications.REDRIVE_AFTER * 2 + notifications.LEASE + dt.timedelta(seconds=1))
    assert notifications.redrive() == 1  # that worker died mid-send


def test_the_sweep_gives_up_on_a_notification_whose_last_attempt_died(town, shopper, monkeypatch, lost_tasks):
    order = delivery_order(town, shopper, paid=False)  # no "paid" message to announce
    notification_id = notifications.notify(order.pk, "dispatched")
    Notification.objects.filter(pk=notification_id).update(
        attempts=notifications.MAX_ATTEMPTS, attempted_at=clock.now()
    )
    move_clock(monkeypatch, notifications.LEASE + dt.timedelta(seconds=1))

    notifications.redrive()

    assert Notification.objects.get(pk=notification_id).status == "failed"


def test_the_after_payment_redrive_announces_a_paid_online_order_whose_task_was_lost(
    wechat, town, shopper, monkeypatch
):
    order = delivery_order(town, shopper)  # paid by the transition alone: no after-payment task ran
    old = delivery_order(town, shopper)
    Order.objects.filter(pk=old.pk).update(paid_at=clock.now() - notifications.PAID_NOTICE_WITHIN)
    for lost in (order, old):
        AfterPaymentJob.objects.create(order=lost, created_at=clock.now())
    move_clock(monkeypatch, after_payment_jobs.redrive_after() + dt.timedelta(seconds=1))

    assert after_payment_jobs.redrive() == 2
    assert after_payment_jobs.redrive() == 0

    # The old order's work is done, but a "paid" message a day late would only confuse.
    assert list(Notification.objects.values_list("order_id", "kind", "status")) == [(order.pk, "paid", "sent")]
    assert len(messages_to(shopper)) == 1
    assert AfterPaymentJob.objects.filter(done_at__isnull=False).count() == 2


# --- Production -----------------------------------------------------------------------------


def test_production_refuses_the_sandboxs_template_ids(run_python):  # noqa: F811
    variables = GOOD_PRODUCTION | {"WECHAT_TEMPLATE_ORDER_PAID": "sandbox-tpl-order-paid"}

    result = run_python("import django; django.setup()", **variables)

    assert result.returncode != 0
    assert "WECHAT_TEMPLATE_ORDER_PAID must name the mini-program's own templates" in result.stderr


def test_production_sends_no_message_until_templates_are_configured(run_python):  # noqa: F811
    code = "import django; django.setup(); from django.conf import settings; print(settings.WECHAT_TEMPLATE_ORDER_PAID)"

    result = run_python(code, **GOOD_PRODUCTION)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


# --- Staff ----------------------------------------------------------------------------------


def test_staff_send_a_failed_notification_again_from_the_admin(wechat, town, shopper, settings):
    from django.test import Client

    from miniprogram_api.accounts.models import Customer

    settings.WECHAT_API_BASE_URL, live = "http://127.0.0.1:9", settings.WECHAT_API_BASE_URL
    order = delivery_order(town, shopper, paid=False)
    notification_id = notifications.notify(order.pk, "dispatched")
    assert Notification.objects.get(pk=notification_id).status == "failed"
    settings.WECHAT_API_BASE_URL = live
    staff = Client()
    staff.force_login(Customer.objects.create_superuser("ops", "a-strong-password"))

    response = staff.post(
        "/admin/checkout/notification/", {"action": "send_again", "_selected_action": [notification_id]}
    )

    assert response.status_code == 302
    notification = Notification.objects.get(pk=notification_id)
    assert (notification.status, notification.attempts, notification.error) == ("sent", 1, "")
    assert len(messages_to(shopper)) == 1
    assert staff.get(f"/admin/checkout/notification/{notification_id}/change/").status_code == 200
