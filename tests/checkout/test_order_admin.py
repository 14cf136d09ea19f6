"""Staff can open every order and payment screen, and see the event log, but change nothing."""

from __future__ import annotations

import pytest
from django.test import Client

from checkout import order_states
from checkout.models import Order, Payment
from miniprogram_api.accounts.models import Customer
from tests.api.test_orders_api import _order
from tests.factories import CustomerFactory, LocationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff() -> Client:
    Customer.objects.create_superuser("boss", "a-strong-password")
    client = Client()
    client.login(username="boss", password="a-strong-password")
    return client


def test_order_and_payment_screens_open_and_show_the_event_log(staff):
    order = _order(CustomerFactory(), LocationFactory())
    order_states.transition(
        order_id=order.pk, from_state="pending_payment", to_state="paid", event="paid", data={"source": "test"}
    )
    payment = Payment.objects.get(order=order)

    for url in (
        "/admin/checkout/order/",
        f"/admin/checkout/order/?q={order.number}",
        "/admin/checkout/order/?state__exact=paid",
        f"/admin/checkout/order/{order.pk}/change/",
        "/admin/checkout/payment/",
        f"/admin/checkout/payment/{payment.pk}/change/",
    ):
        assert staff.get(url).status_code == 200, url

    page = staff.get(f"/admin/checkout/order/{order.pk}/change/").content.decode()
    assert "pending_payment" in page and "paid" in page  # the event log inline


def test_staff_cannot_add_or_delete_orders(staff):
    order = _order(CustomerFactory(), LocationFactory())

    assert staff.get("/admin/checkout/order/add/").status_code == 403
    assert staff.post(f"/admin/checkout/order/{order.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Order.objects.filter(pk=order.pk).exists()
