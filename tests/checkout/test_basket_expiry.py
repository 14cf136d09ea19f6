"""Idle baskets expire: the periodic sweep frees the shopper's one basket per store."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings

from checkout import baskets, tasks
from checkout.models import Basket
from miniprogram_api.core import clock
from tests.checkout.shop import MILK_EAN, make_shop
from tests.factories import BasketFactory, CustomerFactory

pytestmark = pytest.mark.django_db

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 5, 20, 15, 0, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NOW)


@pytest.fixture
def shop():
    return make_shop()


def idle_for(shop, minutes: float, **fields) -> Basket:
    return BasketFactory(store=shop.store, updated_at=NOW - dt.timedelta(minutes=minutes), **fields)


def statuses(*rows: Basket) -> list[str]:
    return [Basket.objects.get(pk=row.pk).status for row in rows]


def test_the_idle_timeout_is_two_hours_by_default():
    assert dt.timedelta(hours=2) == settings.BASKET_IDLE_TIMEOUT


def test_open_baskets_idle_past_the_timeout_expire_and_others_do_not(shop):
    idle = idle_for(shop, 121)
    long_idle = idle_for(shop, 60 * 24 * 3)
    on_the_edge = idle_for(shop, 120)  # exactly the timeout: not yet "older than"
    active = idle_for(shop, 5)

    assert baskets.expire_idle_baskets() == 2

    assert statuses(idle, long_idle, on_the_edge, active) == ["expired", "expired", "open", "open"]


@pytest.mark.parametrize("status", ["frozen", "checked_out", "released", "expired"])
def test_baskets_that_are_not_open_are_left_alone(shop, status):
    """A frozen basket waits on its order's payment timeout, not on this sweep."""
    basket = idle_for(shop, 600, status=status)

    assert baskets.expire_idle_baskets() == 0

    assert statuses(basket) == [status]


def test_running_the_sweep_again_expires_nothing_twice(shop):
    idle_for(shop, 200)

    assert (baskets.expire_idle_baskets(), baskets.expire_idle_baskets()) == (1, 0)


def test_the_sweep_works_through_every_batch(shop):
    idle = [idle_for(shop, 180) for _ in range(7)]
    active = idle_for(shop, 1)

    assert baskets.expire_idle_baskets(batch_size=3) == 7

    assert statuses(*idle) == ["expired"] * 7
    assert statuses(active) == ["open"]


def test_the_timeout_comes_from_settings(shop, settings):
    settings.BASKET_IDLE_TIMEOUT = dt.timedelta(minutes=30)
    basket = idle_for(shop, 31)

    assert baskets.expire_idle_baskets() == 1
    assert statuses(basket) == ["expired"]


def test_a_scan_landing_between_picking_and_expiring_keeps_the_basket_open(shop, monkeypatch):
    """Force the interleaving: the sweep has picked the basket as idle when the shopper's
    scan lands; the sweep's conditional UPDATE then sees the fresh updated_at and skips it."""
    basket = idle_for(shop, 150)
    real_pick = baskets._idle_basket_ids

    def pick_then_scan(**kwargs):
        ids = real_pick(**kwargs)
        if ids:
            baskets.scan(customer_id=basket.customer_id, basket_id=basket.pk, barcode=MILK_EAN)
        return ids

    monkeypatch.setattr(baskets, "_idle_basket_ids", pick_then_scan)

    assert baskets.expire_idle_baskets() == 0

    assert statuses(basket) == ["open"]
    assert basket.lines.get().quantity == 1


def test_an_expired_basket_refuses_scans_and_the_shopper_opens_a_new_one(shop):
    shopper = CustomerFactory()
    old = idle_for(shop, 121, customer=shopper)
    baskets.expire_idle_baskets()

    with pytest.raises(baskets.BasketNotOpen) as refused:
        baskets.scan(customer_id=shopper.pk, basket_id=old.pk, barcode=MILK_EAN)
    opened = baskets.open_basket(customer_id=shopper.pk, store_id=shop.store.pk)

    assert refused.value.details == {"basket_id": old.pk, "status": "expired"}
    assert opened.created is True
    assert opened.basket.basket.id != old.pk


def test_a_basket_expires_two_hours_after_its_last_scan_not_its_opening(shop):
    basket = idle_for(shop, 100)
    baskets.scan(customer_id=basket.customer_id, basket_id=basket.pk, barcode=MILK_EAN)  # at NOW
    later = NOW + dt.timedelta(minutes=119)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(clock, "now", lambda: later)
        assert baskets.expire_idle_baskets() == 0
        patch.setattr(clock, "now", lambda: later + dt.timedelta(minutes=2))
        assert baskets.expire_idle_baskets() == 1


def test_the_celery_task_runs_the_sweep_and_is_scheduled(shop):
    idle_for(shop, 130)

    assert tasks.expire_idle_baskets.delay().get() == 1
    schedule = settings.CELERY_BEAT_SCHEDULE["expire-idle-baskets"]
    assert schedule["task"] == tasks.expire_idle_baskets.name == "checkout.tasks.expire_idle_baskets"
    assert schedule["schedule"] <= dt.timedelta(minutes=10)
