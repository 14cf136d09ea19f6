"""The exit gate after a return at the service desk: a pass of a refunded order no longer
opens; one of a partially refunded order gets its shopper out after staff check the basket."""

from __future__ import annotations

import pytest
from django.utils import timezone

from checkout import returns
from checkout.models import ExitPass, GateEvent
from tests.checkout.returned_orders import FakeProvider, Item, line_of, lines, paid_order
from tests.checkout.shop import make_shop
from tests.factories import CustomerFactory, client_for
from tests.gates.gate_shop import exit_pass, gate_client, scan

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    return make_shop()


@pytest.fixture(autouse=True)
def providers(monkeypatch):
    fake = FakeProvider("wechat_pay")
    monkeypatch.setattr("checkout.refunds.get_provider", lambda name: fake)
    return fake


def test_the_pass_of_a_refunded_order_is_denied(shop):
    shopper = CustomerFactory()
    order = paid_order(shopper, store=shop.store, items=[Item(shop.milk, 2, 1190)])
    issued = exit_pass(order)
    client, _ = gate_client(shop.store)
    returns.create_return(customer_id=shopper.pk, order_id=order.pk, lines=lines((line_of(order, shop.milk), 2)))

    body = scan(client, issued.token).json()

    assert (body["decision"], body["reason"]) == ("deny", "order_refunded")
    issued.refresh_from_db()
    assert issued.used_at is None


def test_the_pass_of_a_partially_refunded_order_calls_staff_to_check_what_is_left(shop):
    shopper = CustomerFactory()
    order = paid_order(shopper, store=shop.store, items=[Item(shop.milk, 2, 1190), Item(shop.bread, 1, 1500)])
    issued = exit_pass(order)  # not sampled for an audit
    client, _ = gate_client(shop.store)
    returns.create_return(customer_id=shopper.pk, order_id=order.pk, lines=lines((line_of(order, shop.bread), 1)))

    body = scan(client, issued.token).json()

    assert (body["decision"], body["reason"]) == ("audit", "audit_partially_refunded")
    audit = GateEvent.objects.get(pk=body["audit_id"])
    assert audit.data == {"audit_reasons": ["partially_refunded"]}
    assert ExitPass.objects.get(pk=issued.pk).used_at is not None  # spent, as any audit is
    resolved = client.post(f"/api/gate/v1/audits/{audit.pk}/resolve", {"outcome": "passed"}, format="json")
    assert resolved.status_code in (200, 201) and resolved.json()["decision"] == "open"


def test_a_sampled_pass_keeps_its_own_audit_reasons_after_a_partial_return(shop):
    shopper = CustomerFactory()
    order = paid_order(shopper, store=shop.store, items=[Item(shop.milk, 2, 1190)])
    issued = exit_pass(order, audit=True)
    client, _ = gate_client(shop.store)
    returns.create_return(customer_id=shopper.pk, order_id=order.pk, lines=lines((line_of(order, shop.milk), 1)))

    body = scan(client, issued.token).json()

    assert body["reason"] == "audit_partially_refunded"
    assert GateEvent.objects.get(pk=body["audit_id"]).data == {"audit_reasons": ["random_sample", "partially_refunded"]}


def test_a_partly_returned_order_still_gets_a_pass_and_a_refunded_one_none(shop):
    shopper = CustomerFactory()
    order = paid_order(shopper, store=shop.store, items=[Item(shop.milk, 2, 1190), Item(shop.bread, 1, 1500)])
    client = client_for(shopper)
    returns.create_return(customer_id=shopper.pk, order_id=order.pk, lines=lines((line_of(order, shop.bread), 1)))

    kept = client.get(f"/api/v1/orders/{order.pk}/exit-pass")
    assert kept.status_code == 200, kept.content

    returns.create_return(customer_id=shopper.pk, order_id=order.pk, lines=lines((line_of(order, shop.milk), 2)))
    ExitPass.objects.filter(order=order).update(superseded_at=timezone.now())  # as if it had expired and gone

    gone = client.get(f"/api/v1/orders/{order.pk}/exit-pass")
    assert gone.status_code == 409
    assert gone.json()["error"]["details"]["state"] == "refunded"
