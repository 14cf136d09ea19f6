"""The coupon endpoints: offers, claiming, my coupons and how each fits a basket."""

from __future__ import annotations

import datetime as dt

import pytest

from miniprogram_api.core import clock
from promotions.models import Coupon, CouponTemplate
from tests.checkout.shop import make_shop
from tests.factories import BasketFactory, BasketLineFactory, CustomerFactory
from tests.promotions.coupon_templates import DAY, held_coupon, offer

pytestmark = pytest.mark.django_db

HOUR = dt.timedelta(hours=1)
COUPON_KEYS = {
    "id", "name", "kind", "threshold_fen", "amount_off_fen", "percent_off", "cap_fen", "channels", "scope",
    "stacks_with_catalogue", "status", "valid_from", "valid_until", "source", "applies", "reason", "discount_fen",
}  # fmt: skip


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"]["code"] == code, body
    return body["error"]


def _unchanged(template: CouponTemplate, issued: int = 0) -> None:
    assert CouponTemplate.objects.get(pk=template.pk).issued_count == issued
    assert Coupon.objects.filter(template=template).count() == issued


# --- Offers --------------------------------------------------------------------------------


def test_offers_list_live_offers_with_what_is_left_for_me(auth_client):
    now = clock.now()
    template = offer(name="满99减18", total_cap=100, per_customer_limit=2, claim_ends_at=now + DAY)
    offer(name="hidden", claimable=False)
    offer(name="later", claim_starts_at=now + HOUR)
    held_coupon(auth_client.customer, template)

    body = auth_client.get("/api/v1/coupon-offers").json()

    assert body["count"] == 1
    [shown] = body["results"]
    assert shown["id"] == template.pk and shown["name"] == "满99减18"
    assert (shown["kind"], shown["threshold_fen"], shown["amount_off_fen"]) == ("amount_off", 9900, 1800)
    assert (shown["remaining"], shown["held"], shown["may_still_claim"]) == (100, 1, 1)
    assert (shown["valid_days_after_claim"], shown["valid_from"], shown["valid_until"]) == (30, None, None)
    assert shown["claim_ends_at"].endswith("+08:00") and shown["per_customer_limit"] == 2


def test_claim_answers_201_with_the_coupon_and_the_offer_counts_it(auth_client):
    template = offer(total_cap=10)

    response = auth_client.post(f"/api/v1/coupon-offers/{template.pk}/claim")

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == COUPON_KEYS
    coupon = Coupon.objects.get()
    assert body["id"] == coupon.pk and coupon.customer_id == auth_client.customer.pk
    assert (body["status"], body["source"], body["name"], body["channels"], body["scope"]) == (
        "available",
        "claim",
        "满99减18",
        "both",
        "everything",
    )
    assert body["valid_until"].endswith("+08:00")
    assert (body["applies"], body["reason"], body["discount_fen"]) == (None, None, None)
    [shown] = auth_client.get("/api/v1/coupon-offers").json()["results"]
    assert (shown["remaining"], shown["held"], shown["may_still_claim"]) == (9, 1, 0)


def test_claim_of_unknown_or_unclaimable_offer_is_404(auth_client):
    hidden = offer(claimable=False)

    for offer_id in (hidden.pk, hidden.pk + 1000, 0, 2**64):
        _error(auth_client.post(f"/api/v1/coupon-offers/{offer_id}/claim"), 404, "coupon_offer_not_found")

    _unchanged(hidden)


def test_claim_outside_the_window_is_422_with_the_window(auth_client):
    template = offer(claim_starts_at=clock.now() + HOUR)

    error = _error(auth_client.post(f"/api/v1/coupon-offers/{template.pk}/claim"), 422, "coupon_offer_not_live")

    assert error["details"]["claim_starts_at"].endswith("+08:00") and error["details"]["claim_ends_at"] is None
    _unchanged(template)


def test_claim_of_a_sold_out_offer_is_409(auth_client):
    template = offer(total_cap=1)
    held = held_coupon(CustomerFactory(), template)
    CouponTemplate.objects.filter(pk=template.pk).update(issued_count=1)

    _error(auth_client.post(f"/api/v1/coupon-offers/{template.pk}/claim"), 409, "coupons_sold_out")

    assert list(Coupon.objects.values_list("pk", flat=True)) == [held.pk]


def test_claim_past_my_limit_is_409_and_issues_nothing(auth_client):
    template = offer(per_customer_limit=1)
    assert auth_client.post(f"/api/v1/coupon-offers/{template.pk}/claim").status_code == 201

    _error(auth_client.post(f"/api/v1/coupon-offers/{template.pk}/claim"), 409, "coupon_limit_reached")

    _unchanged(template, issued=1)


def test_coupon_endpoints_need_a_token(api_client):
    template = offer()

    assert api_client.get("/api/v1/coupon-offers").status_code == 401
    assert api_client.post(f"/api/v1/coupon-offers/{template.pk}/claim").status_code == 401
    assert api_client.get("/api/v1/coupons").status_code == 401
    _unchanged(template)


# --- My coupons ----------------------------------------------------------------------------


def test_my_coupons_show_only_mine_with_their_effective_status(auth_client):
    now = clock.now()
    mine = held_coupon(auth_client.customer, valid_until=now + DAY)
    stale = held_coupon(auth_client.customer, valid_until=now - HOUR)
    used = held_coupon(auth_client.customer, status="used", order_id=5)
    held_coupon(CustomerFactory())

    body = auth_client.get("/api/v1/coupons").json()

    assert [(c["id"], c["status"]) for c in body["results"]] == [
        (mine.pk, "available"),
        (used.pk, "used"),
        (stale.pk, "expired"),
    ]
    assert all(set(c) == COUPON_KEYS and c["applies"] is None for c in body["results"])


@pytest.mark.parametrize(("status", "count"), [("available", 1), ("expired", 2), ("used", 1), ("locked", 0)])
def test_my_coupons_filter_by_status(auth_client, status, count):
    now = clock.now()
    held_coupon(auth_client.customer, valid_until=now + DAY)
    held_coupon(auth_client.customer, valid_until=now - HOUR)
    held_coupon(auth_client.customer, status="expired", valid_until=now - DAY)
    held_coupon(auth_client.customer, status="used", order_id=5)

    results = auth_client.get("/api/v1/coupons", {"status": status}).json()["results"]

    assert len(results) == count and {c["status"] for c in results} <= {status}


@pytest.mark.parametrize(
    "query",
    [{"status": "spent"}, {"basket_id": "abc"}, {"basket_id": "0"}, {"basket_id": "-3"}, {"basket_id": str(2**63)}],
)
def test_bad_query_parameters_are_400(auth_client, query):
    _error(auth_client.get("/api/v1/coupons", query), 400, "validation_error")


@pytest.fixture
def shop():
    return make_shop()


def test_with_a_basket_each_coupon_says_whether_it_applies(auth_client, shop):
    """5 milk at 11.90: 59.50 of goods."""
    basket = BasketFactory(customer=auth_client.customer, store=shop.store)
    BasketLineFactory(basket=basket, product=shop.milk, quantity=5)
    fits = held_coupon(auth_client.customer, offer(threshold_fen=5900, amount_off_fen=1000))
    below = held_coupon(auth_client.customer, offer(threshold_fen=9900, amount_off_fen=1800))
    online = held_coupon(auth_client.customer, offer(threshold_fen=0, channels="delivery"))
    expired = held_coupon(auth_client.customer, offer(threshold_fen=0), valid_until=clock.now() - HOUR)
    used = held_coupon(auth_client.customer, status="used", order_id=3)

    results = auth_client.get("/api/v1/coupons", {"basket_id": basket.pk}).json()["results"]

    seen = {c["id"]: (c["applies"], c["reason"], c["discount_fen"]) for c in results}
    assert seen == {
        fits.pk: (True, None, 1000),
        below.pk: (False, "below_threshold", 0),
        online.pk: (False, "wrong_channel", 0),
        expired.pk: (False, "expired", 0),
        used.pk: (False, "not_available", 0),
    }


def test_a_swept_expired_coupon_says_expired_against_a_basket(auth_client, shop):
    basket = BasketFactory(customer=auth_client.customer, store=shop.store)
    swept = held_coupon(auth_client.customer, status="expired", valid_until=clock.now() - DAY)

    [shown] = auth_client.get("/api/v1/coupons", {"basket_id": basket.pk}).json()["results"]

    assert (shown["id"], shown["status"], shown["applies"], shown["reason"]) == (swept.pk, "expired", False, "expired")


def test_another_shoppers_basket_is_404(auth_client, shop):
    foreign = BasketFactory(customer=CustomerFactory(), store=shop.store)
    held_coupon(auth_client.customer)

    for basket_id in (foreign.pk, foreign.pk + 1000):
        _error(auth_client.get("/api/v1/coupons", {"basket_id": basket_id}), 404, "basket_not_found")


def test_listing_against_a_basket_costs_the_same_queries_for_few_and_many(
    auth_client, shop, django_assert_max_num_queries
):
    basket = BasketFactory(customer=auth_client.customer, store=shop.store)
    BasketLineFactory(basket=basket, product=shop.milk, quantity=5)
    held_coupon(auth_client.customer, offer(threshold_fen=0))
    # token, basket, coupons to fit, lines, flash items, Brand of the Day, count, page
    with django_assert_max_num_queries(8):
        assert len(auth_client.get("/api/v1/coupons", {"basket_id": basket.pk}).json()["results"]) == 1

    for n in range(15):
        held_coupon(auth_client.customer, offer(threshold_fen=n * 100))
    with django_assert_max_num_queries(8):
        assert len(auth_client.get("/api/v1/coupons", {"basket_id": basket.pk}).json()["results"]) == 16
