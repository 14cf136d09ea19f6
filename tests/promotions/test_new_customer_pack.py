"""The new-customer pack: 88 RMB of coupons for a shopper's first paid order, granted once."""

from __future__ import annotations

import datetime as dt
import importlib
import logging

import pytest
from django.apps import apps
from django.db import IntegrityError, transaction

from checkout import after_payment, after_payment_jobs, settlement
from checkout.models import Order
from checkout.orders import OrderLineDraft, create_order
from checkout.payments.base import TradeStatus
from miniprogram_api.core import clock
from promotions import packs
from promotions.models import Coupon, CouponPack, CouponTemplate, NewCustomerPackGrant
from tests.factories import CustomerFactory, LocationFactory, ProductFactory
from tests.parallel import run_in_parallel

pytestmark = pytest.mark.django_db

PACK_MIGRATION = importlib.import_module("promotions.migrations.0002_new_customer_pack")


def default_pack() -> CouponPack:
    """The migration's pack. Transactional tests empty the tables after each test, so the
    migration's own code puts it back when a test finds it gone."""
    PACK_MIGRATION.create_pack(apps, None)
    return packs.active_new_customer_pack()


def _order(customer, *, goods_fen: int, discount_fen: int = 0) -> Order:
    """A pending in-store order of one product for ``goods_fen``, ``discount_fen`` off."""
    product = ProductFactory(base_price_fen=goods_fen)
    line = OrderLineDraft(
        product_id=product.pk, sku=product.sku, name=product.name, barcode="", kind="unit", quantity=1,
        weight_g=None, unit_price_fen=goods_fen, line_total_fen=goods_fen, discount_fen=discount_fen,
        age_restricted=False,
    )  # fmt: skip
    return create_order(
        customer_id=customer.pk,
        channel=Order.Channel.IN_STORE,
        store_id=LocationFactory().pk,
        basket_id=None,
        payment_method="wechat_pay",
        lines=[line],
        goods_subtotal_fen=goods_fen,
        discount_fen=discount_fen,
        delivery_fee_fen=0,
        total_fen=goods_fen - discount_fen,
        adjustments=[],
    )


def _pay(order: Order) -> None:
    status = TradeStatus(out_trade_no=order.number, state="paid", amount_fen=order.total_fen)
    settlement.apply_trade_status(provider="wechat_pay", status=status, source="test")


def _pack_coupons(customer) -> list[Coupon]:
    return list(
        Coupon.objects.filter(customer=customer, source=Coupon.Source.NEW_CUSTOMER_PACK)
        .select_related("template")
        .order_by("template__threshold_fen")
    )


# --- The default pack ----------------------------------------------------------------------


def test_the_default_pack_is_four_threshold_coupons_worth_88_rmb():
    pack = default_pack()

    templates = [item.template for item in pack.items.select_related("template").order_by("template__threshold_fen")]

    assert pack.active and pack.min_goods_fen == 5900
    assert [(t.threshold_fen, t.amount_off_fen) for t in templates] == [
        (5900, 1000),
        (9900, 1800),
        (14900, 2500),
        (19900, 3500),
    ]
    assert sum(t.amount_off_fen for t in templates) == 8800
    assert all(t.kind == "amount_off" and t.channels == "both" and t.scope == "everything" for t in templates)
    assert all(t.valid_days_after_claim == 30 and not t.claimable and t.total_cap is None for t in templates)
    assert [item.quantity for item in pack.items.all()] == [1, 1, 1, 1]


# --- Granting ------------------------------------------------------------------------------


def test_first_paid_order_at_the_threshold_grants_the_pack_once(customer, django_capture_on_commit_callbacks):
    pack = default_pack()
    order = _order(customer, goods_fen=6000, discount_fen=100)  # 59.00 of goods after discounts

    with django_capture_on_commit_callbacks(execute=True):  # the paid-order task runs as in production
        _pay(order)

    grant = NewCustomerPackGrant.objects.get(customer=customer)
    assert (grant.pack_id, grant.order_id) == (pack.pk, order.pk)
    coupons = _pack_coupons(customer)
    assert [c.template.amount_off_fen for c in coupons] == [1000, 1800, 2500, 3500]
    assert sum(c.template.amount_off_fen for c in coupons) == 8800
    assert all(c.status == "available" and c.source_id == grant.pk for c in coupons)
    assert all(c.valid_until - c.valid_from == dt.timedelta(days=30) for c in coupons)
    assert CouponTemplate.objects.filter(pk__in=[c.template_id for c in coupons], issued_count=1).count() == 4

    # The task again (a redelivery) and the step again grant nothing more.
    assert after_payment.grant_new_customer_pack(order_id=order.pk) is False
    assert len(_pack_coupons(customer)) == 4


@pytest.mark.parametrize(
    ("goods_fen", "discount_fen"),
    [(5899, 0), (6000, 101)],
    ids=["goods-below", "below-after-discounts"],
)
def test_first_paid_order_below_the_threshold_grants_nothing(customer, goods_fen, discount_fen):
    default_pack()
    order = _order(customer, goods_fen=goods_fen, discount_fen=discount_fen)
    _pay(order)

    assert after_payment.grant_new_customer_pack(order_id=order.pk) is False

    assert not NewCustomerPackGrant.objects.exists() and not _pack_coupons(customer)


def test_a_second_paid_order_grants_nothing_even_when_the_first_was_small(customer, monkeypatch):
    default_pack()
    now = clock.now()
    first = _order(customer, goods_fen=1000)
    _pay(first)
    assert after_payment.grant_new_customer_pack(order_id=first.pk) is False
    monkeypatch.setattr(clock, "now", lambda: now + dt.timedelta(days=1))
    second = _order(customer, goods_fen=30000)
    _pay(second)

    assert after_payment.grant_new_customer_pack(order_id=second.pk) is False

    assert not NewCustomerPackGrant.objects.exists() and not _pack_coupons(customer)


def test_a_refunded_first_order_was_still_the_first(customer, monkeypatch):
    default_pack()
    now = clock.now()
    first = _order(customer, goods_fen=1000)
    _pay(first)
    Order.objects.filter(pk=first.pk).update(state=Order.State.REFUNDED)
    monkeypatch.setattr(clock, "now", lambda: now + dt.timedelta(hours=1))
    second = _order(customer, goods_fen=30000)
    _pay(second)

    assert after_payment.grant_new_customer_pack(order_id=second.pk) is False
    assert not _pack_coupons(customer)


def test_the_first_order_is_the_first_paid_not_the_first_created(customer, monkeypatch):
    default_pack()
    now = clock.now()
    created_first = _order(customer, goods_fen=10000)
    paid_first = _order(customer, goods_fen=10000)
    _pay(paid_first)
    monkeypatch.setattr(clock, "now", lambda: now + dt.timedelta(minutes=5))
    _pay(created_first)

    assert after_payment.grant_new_customer_pack(order_id=created_first.pk) is False
    assert after_payment.grant_new_customer_pack(order_id=paid_first.pk) is True
    assert NewCustomerPackGrant.objects.get(customer=customer).order_id == paid_first.pk


def test_orders_paid_at_the_same_moment_are_ordered_by_id(customer, monkeypatch):
    default_pack()
    now = clock.now()
    monkeypatch.setattr(clock, "now", lambda: now)
    first, second = _order(customer, goods_fen=10000), _order(customer, goods_fen=10000)
    _pay(second)
    _pay(first)

    assert after_payment.grant_new_customer_pack(order_id=second.pk) is False
    assert after_payment.grant_new_customer_pack(order_id=first.pk) is True


def test_an_unpaid_or_unknown_order_grants_nothing(customer):
    default_pack()
    order = _order(customer, goods_fen=30000)

    assert after_payment.grant_new_customer_pack(order_id=order.pk) is False
    assert after_payment.grant_new_customer_pack(order_id=order.pk + 1000) is False
    assert not NewCustomerPackGrant.objects.exists()


def test_without_an_active_pack_nothing_is_granted(customer):
    CouponPack.objects.update(active=False)
    order = _order(customer, goods_fen=30000)
    _pay(order)

    assert after_payment.grant_new_customer_pack(order_id=order.pk) is False
    assert not NewCustomerPackGrant.objects.exists() and not _pack_coupons(customer)


def test_staff_edits_to_the_pack_decide_what_is_granted(customer):
    pack = default_pack()
    pack.min_goods_fen = 20000
    pack.save()

    assert packs.grant_new_customer_pack(customer_id=customer.pk, order_id=1, goods_fen=19999) is False
    pack.items.filter(template__threshold_fen=19900).update(quantity=2)
    assert packs.grant_new_customer_pack(customer_id=customer.pk, order_id=1, goods_fen=20000) is True

    assert sum(c.template.amount_off_fen for c in _pack_coupons(customer)) == 8800 + 3500


def test_a_pack_coupon_run_out_grants_nothing_and_leaves_the_shopper_unmarked(customer, caplog):
    pack = default_pack()
    capped = pack.items.order_by("-template__threshold_fen").first().template
    CouponTemplate.objects.filter(pk=capped.pk).update(total_cap=0)

    with caplog.at_level(logging.ERROR, logger="promotions.packs"):
        assert packs.grant_new_customer_pack(customer_id=customer.pk, order_id=1, goods_fen=30000) is False

    assert "ran out" in caplog.text
    assert not NewCustomerPackGrant.objects.exists() and not _pack_coupons(customer)
    assert CouponTemplate.objects.filter(pk__in=pack.items.values("template_id"), issued_count__gt=0).count() == 0


def test_the_grant_row_itself_refuses_a_second_pack_for_one_shopper(customer):
    pack = default_pack()
    NewCustomerPackGrant.objects.create(customer=customer, pack=pack, order_id=1)
    other_pack = CouponPack.objects.create(name="Another pack", min_goods_fen=0)

    with pytest.raises(IntegrityError), transaction.atomic():
        NewCustomerPackGrant.objects.create(customer=customer, pack=other_pack, order_id=2)

    assert NewCustomerPackGrant.objects.filter(customer=customer).count() == 1


def test_a_lost_paid_order_task_is_redriven_with_the_pack(customer, monkeypatch):
    from checkout import tasks

    default_pack()
    monkeypatch.setattr(tasks.order_paid, "delay", lambda *args: None)  # the broker was down at commit
    order = _order(customer, goods_fen=10000)
    _pay(order)
    later = clock.now() + dt.timedelta(minutes=3)
    monkeypatch.setattr(clock, "now", lambda: later)

    after_payment_jobs.redrive()

    assert NewCustomerPackGrant.objects.get(customer=customer).order_id == order.pk
    assert len(_pack_coupons(customer)) == 4


# --- Concurrency (PostgreSQL) --------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_grants_racing_for_one_shopper_grant_one_pack():
    default_pack()
    shopper = CustomerFactory()

    outcomes = run_in_parallel(
        lambda i: packs.grant_new_customer_pack(customer_id=shopper.pk, order_id=100 + i, goods_fen=30000), 8
    )

    assert outcomes.count(True) == 1
    assert NewCustomerPackGrant.objects.filter(customer=shopper).count() == 1
    assert len(_pack_coupons(shopper)) == 4
    assert sum(c.template.amount_off_fen for c in _pack_coupons(shopper)) == 8800


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_paid_order_steps_racing_for_one_order_grant_one_pack(monkeypatch):
    from checkout import tasks

    default_pack()
    shopper = CustomerFactory()
    order = _order(shopper, goods_fen=10000)
    monkeypatch.setattr(tasks.order_paid, "delay", lambda *args: None)  # the racing steps below are the tasks
    _pay(order)

    outcomes = run_in_parallel(lambda i: after_payment.grant_new_customer_pack(order_id=order.pk), 4)

    assert outcomes.count(True) == 1
    assert len(_pack_coupons(shopper)) == 4
