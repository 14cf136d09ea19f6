"""What an unpaid order holds (its coupons, its flash-sale units), and how payment, a
timeout and a late payment turn the holds into uses or give them back."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction

from miniprogram_api.core import clock
from promotions import holds
from promotions.coupons import issue_coupons
from promotions.models import Coupon, CouponTemplate, FlashSale, FlashSaleItem, FlashSaleReservation
from promotions.pricing import Adjustment, PricedBasket
from tests.factories import CustomerFactory, ProductFactory

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)
ORDER, OTHER_ORDER = 7001, 7002


@pytest.fixture
def now() -> dt.datetime:
    return clock.now()


@pytest.fixture
def shopper():
    return CustomerFactory()


def coupon_for(customer, now: dt.datetime, **terms) -> Coupon:
    template = CouponTemplate.objects.create(
        **{
            "name": "满50减10",
            "kind": CouponTemplate.Kind.AMOUNT_OFF,
            "threshold_fen": 5000,
            "amount_off_fen": 1000,
            "valid_from": now - DAY,
            "valid_until": now + 7 * DAY,
            "per_customer_limit": 5,
            **terms,
        }
    )
    (coupon,) = issue_coupons(template_id=template.pk, customer_id=customer.pk)
    return coupon


def flash_item(now: dt.datetime, *, quota: int = 10, limit: int = 2, sold: int = 0) -> FlashSaleItem:
    sale = FlashSale.objects.create(name="Flash sale", starts_at=now - DAY, ends_at=now + DAY)
    return FlashSaleItem.objects.create(
        sale=sale, product=ProductFactory(), flash_price_fen=500, quota=quota, sold=sold, per_customer_limit=limit
    )


def priced(*, coupons: tuple[Coupon, ...] = (), flash: tuple[tuple[FlashSaleItem, int], ...] = ()) -> PricedBasket:
    """What the engine says an order spends: coupons applied, units at a flash price."""
    adjustments = tuple(
        Adjustment("flash_sale", item.sale_id, key, 100 * units, "Flash sale", units=units, item_id=item.pk)
        for key, (item, units) in enumerate(flash, start=1)
    ) + tuple(Adjustment("coupon", coupon.pk, 1, 1000, "满50减10") for coupon in coupons)
    return PricedBasket(
        lines=(),
        adjustments=adjustments,
        goods_subtotal_fen=10_000,
        discount_fen=0,
        delivery_fee_fen=0,
        total_fen=10_000,
        applied_coupon_ids=tuple(coupon.pk for coupon in coupons),
    )


def hold(customer, basket: PricedBasket, now: dt.datetime, order_id: int = ORDER) -> None:
    with transaction.atomic():
        holds.hold_for_order(order_id=order_id, customer_id=customer.pk, priced=basket, now=now)


def state(coupon: Coupon) -> tuple:
    coupon.refresh_from_db()
    return coupon.status, coupon.order_id


def reservations(**filters) -> list[tuple]:
    return list(
        FlashSaleReservation.objects.filter(**filters).order_by("pk").values_list("order_id", "quantity", "status")
    )


def sold(item: FlashSaleItem) -> int:
    item.refresh_from_db()
    return item.sold


# --- Holding at checkout ------------------------------------------------------------------


def test_checkout_locks_the_applied_coupons_and_takes_the_flash_units(shopper, now):
    coupon, unused = coupon_for(shopper, now), coupon_for(shopper, now)
    item = flash_item(now)

    hold(shopper, priced(coupons=(coupon,), flash=((item, 2),)), now)

    assert state(coupon) == ("locked", ORDER)
    assert state(unused) == ("available", None)
    assert sold(item) == 2
    assert reservations(item=item, customer=shopper) == [(ORDER, 2, "held")]


def test_units_of_one_item_on_two_lines_are_held_together(shopper, now):
    item = flash_item(now, limit=3)

    hold(shopper, priced(flash=((item, 1), (item, 2))), now)

    assert sold(item) == 3 and reservations(item=item) == [(ORDER, 3, "held")]


@pytest.mark.parametrize("case", ["locked_elsewhere", "used", "foreign", "expired", "not_yet_valid"])
def test_a_coupon_that_cannot_be_locked_refuses_the_whole_hold(shopper, now, case):
    good = coupon_for(shopper, now)
    owner = CustomerFactory() if case == "foreign" else shopper
    bad = coupon_for(owner, now, name="满99减20", threshold_fen=9900, amount_off_fen=2000)
    if case in ("locked_elsewhere", "used"):
        Coupon.objects.filter(pk=bad.pk).update(status=case.replace("_elsewhere", ""), order_id=OTHER_ORDER)
    elif case == "expired":
        Coupon.objects.filter(pk=bad.pk).update(valid_until=now)
    elif case == "not_yet_valid":
        Coupon.objects.filter(pk=bad.pk).update(valid_from=now + DAY)
    before = state(bad)
    item = flash_item(now)

    with pytest.raises(holds.CouponUnavailable) as refused:
        hold(shopper, priced(coupons=(good, bad), flash=((item, 1),)), now)

    assert refused.value.details == {"coupon_ids": [bad.pk]}
    assert state(good) == ("available", None)  # rolled back with the rest
    assert state(bad) == before
    assert sold(item) == 0 and reservations() == []


def test_more_units_than_the_quota_has_left_is_sold_out_and_takes_nothing(shopper, now):
    coupon = coupon_for(shopper, now)
    item = flash_item(now, quota=10, sold=9)

    with pytest.raises(holds.FlashSaleSoldOut) as refused:
        hold(shopper, priced(coupons=(coupon,), flash=((item, 2),)), now)

    assert refused.value.code == "flash_sale_sold_out"
    assert refused.value.details == {"item_id": item.pk, "product_id": item.product_id, "remaining": 1}
    assert sold(item) == 9 and reservations() == []
    assert state(coupon) == ("available", None)


def test_units_past_the_shoppers_limit_are_refused_counting_held_and_sold_but_not_released(shopper, now):
    item = flash_item(now, limit=3)
    FlashSaleReservation.objects.create(item=item, customer=shopper, order_id=1, quantity=1, status="held")
    FlashSaleReservation.objects.create(item=item, customer=shopper, order_id=2, quantity=1, status="sold")
    FlashSaleReservation.objects.create(item=item, customer=shopper, order_id=3, quantity=2, status="released")
    FlashSaleReservation.objects.create(item=item, customer=CustomerFactory(), order_id=4, quantity=2, status="held")

    with pytest.raises(holds.FlashSaleLimitReached) as refused:
        hold(shopper, priced(flash=((item, 2),)), now)
    assert refused.value.details["limit"] == 3 and refused.value.details["already"] == 2

    hold(shopper, priced(flash=((item, 1),)), now)
    assert reservations(order_id=ORDER) == [(ORDER, 1, "held")]


def test_an_item_deleted_since_pricing_is_sold_out(shopper, now):
    item = flash_item(now)
    basket = priced(flash=((item, 1),))
    item.sale.delete()

    with pytest.raises(holds.FlashSaleSoldOut):
        hold(shopper, basket, now)


# --- Payment ------------------------------------------------------------------------------


def confirm(now: dt.datetime, order_id: int = ORDER, coupon_ids=()) -> holds.NotRetaken:
    with transaction.atomic():
        return holds.confirm_for_order(order_id=order_id, now=now, coupon_ids=[c.pk for c in coupon_ids])


def release(now: dt.datetime, order_id: int = ORDER) -> None:
    with transaction.atomic():
        holds.release_for_order(order_id=order_id, now=now)


def test_payment_uses_the_coupons_and_sells_the_units_once(shopper, now):
    coupon, item = coupon_for(shopper, now), flash_item(now)
    hold(shopper, priced(coupons=(coupon,), flash=((item, 2),)), now)
    paid_at = now + dt.timedelta(minutes=3)

    assert not confirm(paid_at, coupon_ids=[coupon])
    assert not confirm(paid_at + DAY, coupon_ids=[coupon])  # a second notification changes nothing

    coupon.refresh_from_db()
    assert (coupon.status, coupon.order_id, coupon.used_at) == ("used", ORDER, paid_at)
    assert reservations() == [(ORDER, 2, "sold")] and sold(item) == 2


def test_a_timeout_gives_the_coupon_and_the_units_back_once(shopper, now):
    coupon, item = coupon_for(shopper, now), flash_item(now)
    other = flash_item(now)
    hold(shopper, priced(coupons=(coupon,), flash=((item, 2), (other, 1))), now)
    hold(CustomerFactory(), priced(flash=((item, 1),)), now, order_id=OTHER_ORDER)

    release(now)
    release(now)  # the job runs again: nothing more comes back

    assert state(coupon) == ("available", None)
    assert (sold(item), sold(other)) == (1, 0)
    assert reservations(order_id=ORDER) == [(ORDER, 2, "released"), (ORDER, 1, "released")]
    assert reservations(order_id=OTHER_ORDER) == [(OTHER_ORDER, 1, "held")]


def test_a_coupon_past_its_validity_when_the_order_times_out_comes_back_expired(shopper, now):
    coupon = coupon_for(shopper, now)
    hold(shopper, priced(coupons=(coupon,)), now)

    release(coupon.valid_until)

    assert state(coupon) == ("expired", None)


def test_a_late_payment_takes_back_what_nobody_took_meanwhile(shopper, now):
    coupon, item = coupon_for(shopper, now), flash_item(now, quota=3)
    hold(shopper, priced(coupons=(coupon,), flash=((item, 2),)), now)
    release(now)

    missing = confirm(now + DAY, coupon_ids=[coupon])

    assert not missing
    coupon.refresh_from_db()
    assert (coupon.status, coupon.order_id, coupon.used_at) == ("used", ORDER, now + DAY)
    assert reservations(order_id=ORDER) == [(ORDER, 2, "sold")] and sold(item) == 2


def test_a_late_payment_takes_back_a_coupon_that_expired_meanwhile(shopper, now):
    """The order used it while it was valid; nobody else can use it now."""
    coupon = coupon_for(shopper, now)
    hold(shopper, priced(coupons=(coupon,)), now)
    release(coupon.valid_until)

    assert not confirm(coupon.valid_until + DAY, coupon_ids=[coupon])

    assert state(coupon) == ("used", ORDER)


def test_a_late_payment_leaves_what_others_took_meanwhile_and_says_what(shopper, now):
    coupon, item, spare = coupon_for(shopper, now), flash_item(now, quota=2), flash_item(now, quota=5)
    hold(shopper, priced(coupons=(coupon,), flash=((item, 2), (spare, 1))), now)
    release(now)
    # Meanwhile the shopper put the coupon on a new order and someone bought the flash units.
    hold(shopper, priced(coupons=(coupon,)), now, order_id=OTHER_ORDER)
    hold(CustomerFactory(), priced(flash=((item, 1),)), now, order_id=7003)

    missing = confirm(now + DAY, coupon_ids=[coupon])
    again = confirm(now + DAY, coupon_ids=[coupon])

    assert missing == again == holds.NotRetaken(coupon_ids=(coupon.pk,), flash_units={item.pk: 2})
    assert state(coupon) == ("locked", OTHER_ORDER)
    assert sold(item) == 1 and reservations(order_id=ORDER, item=item) == [(ORDER, 2, "released")]
    assert sold(spare) == 1 and reservations(order_id=ORDER, item=spare) == [(ORDER, 1, "sold")]


def test_a_late_payment_does_not_take_units_past_the_shoppers_limit(shopper, now):
    item = flash_item(now, limit=2)
    hold(shopper, priced(flash=((item, 2),)), now)
    release(now)
    hold(shopper, priced(flash=((item, 1),)), now, order_id=OTHER_ORDER)

    assert confirm(now + DAY).flash_units == {item.pk: 2}
    assert sold(item) == 1


def test_holds_refuse_to_run_outside_a_transaction_of_the_caller(shopper, now, monkeypatch):
    class Outside:
        in_atomic_block = False

    monkeypatch.setattr(transaction, "get_connection", lambda: Outside())

    for call in (
        lambda: holds.hold_for_order(order_id=ORDER, customer_id=shopper.pk, priced=priced(), now=now),
        lambda: holds.confirm_for_order(order_id=ORDER, now=now),
        lambda: holds.release_for_order(order_id=ORDER, now=now),
    ):
        with pytest.raises(RuntimeError):
            call()


# --- Full return ----------------------------------------------------------------------------


def restore(now: dt.datetime, order_id: int = ORDER) -> list[int]:
    with transaction.atomic():
        return holds.restore_coupons_for_order(order_id=order_id, now=now)


def test_a_full_return_gives_back_the_coupons_still_valid_once(shopper, now):
    valid, dying = coupon_for(shopper, now), coupon_for(shopper, now, valid_until=now + dt.timedelta(hours=1))
    other_order = coupon_for(shopper, now)
    item = flash_item(now)
    hold(shopper, priced(coupons=(valid, dying), flash=((item, 1),)), now)
    hold(shopper, priced(coupons=(other_order,)), now, order_id=OTHER_ORDER)
    confirm(now, coupon_ids=[valid, dying])
    confirm(now, order_id=OTHER_ORDER, coupon_ids=[other_order])
    returned_at = now + dt.timedelta(hours=2)

    assert restore(returned_at) == [valid.pk]
    assert restore(returned_at) == []  # a second call restores nothing

    assert state(valid) == ("available", None)
    assert state(dying) == ("used", ORDER)  # expired meanwhile: stays used
    assert state(other_order) == ("used", OTHER_ORDER)
    assert reservations(order_id=ORDER) == [(ORDER, 1, "sold")] and sold(item) == 1
