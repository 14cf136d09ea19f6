"""Coupon offers and claims, the shopper's wallet, the expiry sweep, and why each coupon does
or does not fit a basket."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from checkout.coupon_fit import CouponFit, coupons_for_basket
from checkout.errors import BasketNotFound
from miniprogram_api.core import clock
from promotions import coupons, live_deals, tasks
from promotions.coupons import (
    CouponLimitReached,
    CouponOfferNotLive,
    CouponsSoldOut,
    CouponTemplateNotFound,
    InvalidCouponStatus,
)
from promotions.models import BrandOfTheDay, Coupon, CouponTemplate, FlashSale, FlashSaleItem
from tests.checkout.shop import make_shop
from tests.factories import BasketFactory, BasketLineFactory, BrandFactory, CustomerFactory, ProductFactory
from tests.parallel import run_in_parallel
from tests.promotions.coupon_templates import DAY, held_coupon, offer

pytestmark = pytest.mark.django_db

HOUR = dt.timedelta(hours=1)


# --- Claiming ------------------------------------------------------------------------------


def test_claim_issues_one_coupon_valid_for_its_days_and_counts_it(customer):
    template = offer(valid_days_after_claim=30, total_cap=100)

    coupon = coupons.claim_offer(customer_id=customer.pk, template_id=template.pk)

    stored = Coupon.objects.get()
    assert stored.pk == coupon.pk and stored.customer_id == customer.pk and stored.template_id == template.pk
    assert (stored.status, stored.source, stored.source_id) == ("available", "claim", None)
    assert stored.valid_until - stored.valid_from == dt.timedelta(days=30)
    assert abs(stored.valid_from - clock.now()) < dt.timedelta(minutes=1)
    assert CouponTemplate.objects.get(pk=template.pk).issued_count == 1


def test_claim_of_a_fixed_window_offer_gets_that_window(customer):
    now = clock.now()
    template = offer(valid_days_after_claim=None, valid_from=now + DAY, valid_until=now + 10 * DAY)

    coupon = coupons.claim_offer(customer_id=customer.pk, template_id=template.pk)

    assert (coupon.valid_from, coupon.valid_until) == (now + DAY, now + 10 * DAY)


@pytest.mark.parametrize("template_id", [0, -1, 2**63, 2**70])
def test_claim_of_an_id_that_is_no_offer_is_not_found(customer, template_id):
    with pytest.raises(CouponTemplateNotFound):
        coupons.claim_offer(customer_id=customer.pk, template_id=template_id)


def test_claim_of_unknown_or_unclaimable_template_is_not_found_and_issues_nothing(customer):
    pack_template = offer(claimable=False)

    for template_id in (pack_template.pk, pack_template.pk + 1000):
        with pytest.raises(CouponTemplateNotFound) as refused:
            coupons.claim_offer(customer_id=customer.pk, template_id=template_id)
        assert refused.value.code == "coupon_offer_not_found"

    assert not Coupon.objects.exists()
    assert CouponTemplate.objects.get(pk=pack_template.pk).issued_count == 0


def test_claim_of_a_sold_out_offer_is_refused(customer):
    template = offer(total_cap=1)
    coupons.claim_offer(customer_id=CustomerFactory().pk, template_id=template.pk)

    with pytest.raises(CouponsSoldOut) as refused:
        coupons.claim_offer(customer_id=customer.pk, template_id=template.pk)

    assert refused.value.code == "coupons_sold_out"
    assert not Coupon.objects.filter(customer=customer).exists()
    assert CouponTemplate.objects.get(pk=template.pk).issued_count == 1


def test_claims_past_the_per_shopper_limit_are_refused(customer):
    template = offer(per_customer_limit=2)
    coupons.claim_offer(customer_id=customer.pk, template_id=template.pk)
    coupons.claim_offer(customer_id=customer.pk, template_id=template.pk)

    with pytest.raises(CouponLimitReached) as refused:
        coupons.claim_offer(customer_id=customer.pk, template_id=template.pk)

    assert refused.value.code == "coupon_limit_reached" and refused.value.details["limit"] == 2
    assert Coupon.objects.filter(customer=customer).count() == 2
    assert CouponTemplate.objects.get(pk=template.pk).issued_count == 2
    # Another shopper still may.
    coupons.claim_offer(customer_id=CustomerFactory().pk, template_id=template.pk)


def test_used_and_expired_coupons_count_towards_the_per_shopper_limit(customer):
    template = offer(per_customer_limit=1)
    held_coupon(customer, template, status="expired")

    with pytest.raises(CouponLimitReached):
        coupons.claim_offer(customer_id=customer.pk, template_id=template.pk)


@pytest.mark.parametrize(
    "window",
    [
        {"claim_starts_at": HOUR},  # not started
        {"claim_ends_at": -HOUR},  # ended
        {"claim_ends_at": 0 * HOUR},  # ends exactly now: over
        {"active": False},  # switched off
        {"valid_days_after_claim": None, "valid_from": -2 * DAY, "valid_until": -HOUR},  # past its last day of use
    ],
    ids=["not-started", "ended", "ends-now", "off", "use-over"],
)
def test_claim_outside_the_offer_window_is_refused_as_not_live(customer, monkeypatch, window):
    now = clock.now()
    monkeypatch.setattr(clock, "now", lambda: now)
    fields = {name: now + value if isinstance(value, dt.timedelta) else value for name, value in window.items()}
    template = offer(**fields)

    with pytest.raises(CouponOfferNotLive) as refused:
        coupons.claim_offer(customer_id=customer.pk, template_id=template.pk)

    assert refused.value.code == "coupon_offer_not_live"
    assert not Coupon.objects.exists() and CouponTemplate.objects.get(pk=template.pk).issued_count == 0
    assert coupons.claimable_offers(customer_id=customer.pk) == []


def test_claim_inside_a_window_with_both_ends_works_from_its_first_moment(customer, monkeypatch):
    now = clock.now()
    monkeypatch.setattr(clock, "now", lambda: now)
    template = offer(claim_starts_at=now, claim_ends_at=now + HOUR)

    coupons.claim_offer(customer_id=customer.pk, template_id=template.pk)

    assert Coupon.objects.filter(customer=customer).count() == 1


# --- The offers list -----------------------------------------------------------------------


def test_offers_show_what_is_left_and_what_the_shopper_holds(customer, django_assert_num_queries):
    now = clock.now()
    capped = offer(name="capped", total_cap=10, per_customer_limit=3, claim_ends_at=now + DAY)
    uncapped = offer(name="uncapped", per_customer_limit=1)
    sold_out = offer(name="gone", total_cap=1, claim_ends_at=now + 2 * DAY)
    offer(name="not claimable", claimable=False)
    offer(name="not started", claim_starts_at=now + HOUR)
    coupons.claim_offer(customer_id=customer.pk, template_id=capped.pk)
    coupons.claim_offer(customer_id=CustomerFactory().pk, template_id=capped.pk)
    coupons.claim_offer(customer_id=customer.pk, template_id=uncapped.pk)
    coupons.claim_offer(customer_id=CustomerFactory().pk, template_id=sold_out.pk)

    with django_assert_num_queries(1):
        offers = coupons.claimable_offers(customer_id=customer.pk)

    seen = [(o.template.name, o.remaining, o.held, o.may_still_claim) for o in offers]
    assert seen == [("capped", 8, 1, 2), ("gone", 0, 0, 0), ("uncapped", None, 1, 0)]


def test_offers_list_costs_one_query_however_many_offers(customer, django_assert_num_queries):
    for n in range(15):
        template = offer(name=f"offer {n}", total_cap=50)
        coupons.claim_offer(customer_id=customer.pk, template_id=template.pk)

    with django_assert_num_queries(1):
        offers = coupons.claimable_offers(customer_id=customer.pk)

    assert len(offers) == 15 and all(o.held == 1 and o.remaining == 49 for o in offers)


# --- The wallet ----------------------------------------------------------------------------


def test_wallet_shows_effective_statuses_usable_first(customer):
    now = clock.now()
    soon = held_coupon(customer, valid_until=now + DAY)
    later = held_coupon(customer, valid_until=now + 5 * DAY)
    stale = held_coupon(customer, valid_until=now - HOUR)  # available, but past its end
    swept = held_coupon(customer, status="expired", valid_until=now - 2 * DAY)
    used = held_coupon(customer, status="used", order_id=7)
    locked = held_coupon(customer, status="locked", order_id=8)
    held_coupon(CustomerFactory())  # someone else's

    wallet = list(coupons.my_coupons(customer_id=customer.pk))

    assert [(c.pk, c.effective_status) for c in wallet] == [
        (soon.pk, "available"),
        (later.pk, "available"),
        (locked.pk, "locked"),
        (used.pk, "used"),
        (swept.pk, "expired"),
        (stale.pk, "expired"),
    ]
    assert Coupon.objects.get(pk=stale.pk).status == "available"  # reading changes nothing


@pytest.mark.parametrize(
    ("status", "expected"),
    [("available", ["fresh"]), ("expired", ["stale", "swept"]), ("used", ["used"]), ("locked", [])],
)
def test_wallet_filter_uses_the_effective_status(customer, status, expected):
    now = clock.now()
    names = {}
    names[held_coupon(customer, valid_until=now + DAY).pk] = "fresh"
    names[held_coupon(customer, valid_until=now - DAY).pk] = "stale"
    names[held_coupon(customer, status="expired", valid_until=now - HOUR).pk] = "swept"
    names[held_coupon(customer, status="used", order_id=1).pk] = "used"

    wallet = coupons.my_coupons(customer_id=customer.pk, status=status)

    assert [names[c.pk] for c in wallet] == expected


def test_wallet_refuses_an_unknown_status(customer):
    with pytest.raises(InvalidCouponStatus):
        coupons.my_coupons(customer_id=customer.pk, status="gone")


# --- The expiry sweep ----------------------------------------------------------------------


def test_sweep_expires_only_available_coupons_past_their_end(customer):
    now = clock.now()
    stale = [held_coupon(customer, valid_until=now - HOUR) for _ in range(3)]
    fresh = held_coupon(customer, valid_until=now + HOUR)
    locked = held_coupon(customer, status="locked", order_id=3, valid_until=now - HOUR)
    used = held_coupon(customer, status="used", order_id=4, valid_until=now - HOUR)

    assert coupons.expire_coupons(batch_size=2) == 2
    assert coupons.expire_coupons(batch_size=2) == 1
    assert coupons.expire_coupons(batch_size=2) == 0

    status = dict(Coupon.objects.values_list("pk", "status"))
    assert [status[c.pk] for c in stale] == ["expired"] * 3
    assert (status[fresh.pk], status[locked.pk], status[used.pk]) == ("available", "locked", "used")


def test_sweep_task_works_through_a_backlog_in_batches(customer):
    now = clock.now()
    for _ in range(5):
        held_coupon(customer, valid_until=now - HOUR)

    assert tasks.expire_coupons.delay(2).get() == 2  # the first batch; the rest re-queued

    assert not Coupon.objects.filter(status="available").exists()
    assert Coupon.objects.filter(status="expired").count() == 5


def test_beat_runs_the_sweep(settings):
    assert any(entry["task"] == "promotions.tasks.expire_coupons" for entry in settings.CELERY_BEAT_SCHEDULE.values())


# --- Does a coupon fit this basket? --------------------------------------------------------


@pytest.fixture
def shop():
    return make_shop()


def _basket(customer, shop):
    """5 milk at the store's 11.90 and 2 loaves at 15.00: 59.50 + 30.00 = 89.50."""
    basket = BasketFactory(customer=customer, store=shop.store)
    BasketLineFactory(basket=basket, product=shop.milk, quantity=5)
    BasketLineFactory(basket=basket, product=shop.bread, quantity=2, barcode="")
    return basket


def test_each_coupon_says_whether_it_fits_the_basket_and_why_not(customer, shop):
    now = clock.now()
    basket = _basket(customer, shop)
    fits = held_coupon(customer, offer(threshold_fen=5000, amount_off_fen=1000))
    below = held_coupon(customer, offer(threshold_fen=9900, amount_off_fen=1800))
    online_only = held_coupon(customer, offer(threshold_fen=1000, amount_off_fen=500, channels="delivery"))
    expired = held_coupon(customer, offer(threshold_fen=0, amount_off_fen=500), valid_until=now - HOUR)
    not_yet = held_coupon(customer, offer(threshold_fen=0, amount_off_fen=500), valid_from=now + HOUR)
    other_brand = offer(scope="brands", threshold_fen=0, amount_off_fen=500)
    other_brand.brands.add(BrandFactory())
    wrong_scope = held_coupon(customer, other_brand)
    bread_only = offer(kind="percent_off", percent_off=10, cap_fen=500, threshold_fen=0, amount_off_fen=0)
    bread_only.scope = "products"
    bread_only.save()
    bread_only.products.add(shop.bread)
    bread_coupon = held_coupon(customer, bread_only)
    free_delivery = held_coupon(customer, offer(kind="free_delivery", threshold_fen=0, amount_off_fen=0))
    held_coupon(customer, status="used", order_id=1)  # spent: on no basket
    held_coupon(CustomerFactory())  # someone else's

    result = coupons_for_basket(customer_id=customer.pk, basket_id=basket.pk)

    assert result == {
        fits.pk: CouponFit(fits.pk, applies=True, reason=None, discount_fen=1000),
        below.pk: CouponFit(below.pk, applies=False, reason="below_threshold", discount_fen=0),
        online_only.pk: CouponFit(online_only.pk, applies=False, reason="wrong_channel", discount_fen=0),
        expired.pk: CouponFit(expired.pk, applies=False, reason="expired", discount_fen=0),
        not_yet.pk: CouponFit(not_yet.pk, applies=False, reason="not_yet_valid", discount_fen=0),
        wrong_scope.pk: CouponFit(wrong_scope.pk, applies=False, reason="nothing_eligible", discount_fen=0),
        bread_coupon.pk: CouponFit(bread_coupon.pk, applies=True, reason=None, discount_fen=300),  # 10% of 30.00
        free_delivery.pk: CouponFit(free_delivery.pk, applies=False, reason="not_a_delivery_order", discount_fen=0),
    }


def test_a_coupon_that_does_not_stack_ignores_lines_on_a_catalogue_deal(customer, shop):
    """The milk is on a flash sale, so a non-stacking 满50 coupon sees only the 30.00 of bread."""
    now = clock.now()
    basket = _basket(customer, shop)
    sale = FlashSale.objects.create(name="Flash", starts_at=now - HOUR, ends_at=now + HOUR)
    FlashSaleItem.objects.create(sale=sale, product=shop.milk, flash_price_fen=990, quota=100, per_customer_limit=10)
    stacking = held_coupon(customer, offer(threshold_fen=5000, amount_off_fen=1000))
    exclusive = held_coupon(customer, offer(threshold_fen=5000, amount_off_fen=1000, stacks_with_catalogue=False))

    result = coupons_for_basket(customer_id=customer.pk, basket_id=basket.pk)

    # With the flash price the milk costs 5 x 9.90 = 49.50: 79.50 in all, still above 50.
    assert result[stacking.pk] == CouponFit(stacking.pk, applies=True, reason=None, discount_fen=1000)
    assert result[exclusive.pk] == CouponFit(exclusive.pk, applies=False, reason="below_threshold", discount_fen=0)


def test_another_shoppers_basket_is_not_found(customer, shop):
    foreign = _basket(CustomerFactory(), shop)
    held_coupon(customer)

    for basket_id in (foreign.pk, foreign.pk + 1000, 0, 2**63):
        with pytest.raises(BasketNotFound):
            coupons_for_basket(customer_id=customer.pk, basket_id=basket_id)


def test_an_empty_wallet_or_basket_fits_nothing(customer, shop):
    basket = BasketFactory(customer=customer, store=shop.store)
    assert coupons_for_basket(customer_id=customer.pk, basket_id=basket.pk) == {}

    coupon = held_coupon(customer, offer(threshold_fen=0))
    result = coupons_for_basket(customer_id=customer.pk, basket_id=basket.pk)
    assert result == {coupon.pk: CouponFit(coupon.pk, applies=False, reason="nothing_eligible", discount_fen=0)}


def _fit_queries(customer, basket) -> int:
    with CaptureQueriesContext(connection) as queries:
        coupons_for_basket(customer_id=customer.pk, basket_id=basket.pk)
    return len(queries)


def _scoped_coupons(customer, shop, brand, n: int) -> None:
    """``n`` coupons, cycling through the four scopes, so every kind of scope is in use."""
    scopes = ["everything", "brands", "categories", "products"]
    for i in range(n):
        template = offer(threshold_fen=i * 500, scope=scopes[i % 4])
        template.brands.add(brand)
        template.categories.add(shop.milk.category)
        template.products.add(shop.milk)
        held_coupon(customer, template)


def test_fitting_costs_the_same_queries_for_one_line_and_few_coupons_as_for_many(
    customer, shop, django_assert_max_num_queries
):
    now = clock.now()
    sale = FlashSale.objects.create(name="Flash", starts_at=now - HOUR, ends_at=now + HOUR)
    FlashSaleItem.objects.create(sale=sale, product=shop.milk, flash_price_fen=990, quota=100)
    brand = BrandFactory()
    BrandOfTheDay.objects.create(date=clock.local_date(now), brand=brand, percent_off=20)
    small = BasketFactory(customer=customer, store=shop.store)
    BasketLineFactory(basket=small, product=shop.milk)
    _scoped_coupons(customer, shop, brand, 4)
    live_deals.live_deals(now=now)  # the index of live deals: rebuilt every few seconds, not per request
    # basket, coupons, one per kind of scope (3), lines, the flash items the index names
    with django_assert_max_num_queries(7):
        few = _fit_queries(customer, small)

    big = BasketFactory(customer=customer, store=shop.store, status="expired")  # one open basket per store
    BasketLineFactory(basket=big, product=shop.milk, quantity=3)
    for n in range(24):
        BasketLineFactory(basket=big, product=ProductFactory(brand=brand) if n % 2 else ProductFactory(), quantity=2)
    _scoped_coupons(customer, shop, brand, 16)
    with django_assert_max_num_queries(7):
        many = _fit_queries(customer, big)

    assert many == few
    fits = coupons_for_basket(customer_id=customer.pk, basket_id=big.pk)
    assert len(fits) == 20 and any(fit.applies for fit in fits.values())


# --- Concurrency (PostgreSQL) --------------------------------------------------------------


def _claim(customer_id: int, template_id: int) -> str:
    try:
        coupons.claim_offer(customer_id=customer_id, template_id=template_id)
    except (CouponsSoldOut, CouponLimitReached) as refused:
        return refused.code
    return "claimed"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_shoppers_racing_for_five_coupons_get_exactly_five():
    template = offer(total_cap=5)
    shoppers = [CustomerFactory().pk for _ in range(20)]

    outcomes = run_in_parallel(lambda i: _claim(shoppers[i], template.pk), 20)

    assert sorted(outcomes).count("claimed") == 5
    assert outcomes.count("coupons_sold_out") == 15
    assert Coupon.objects.filter(template=template).count() == 5
    assert len(set(Coupon.objects.filter(template=template).values_list("customer_id", flat=True))) == 5
    assert CouponTemplate.objects.get(pk=template.pk).issued_count == 5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_shopper_claiming_ten_times_at_once_gets_their_limit_of_two():
    template = offer(per_customer_limit=2)
    shopper = CustomerFactory().pk

    outcomes = run_in_parallel(lambda i: _claim(shopper, template.pk), 10)

    assert outcomes.count("claimed") == 2
    assert outcomes.count("coupon_limit_reached") == 8
    assert Coupon.objects.filter(template=template, customer_id=shopper).count() == 2
    assert CouponTemplate.objects.get(pk=template.pk).issued_count == 2
