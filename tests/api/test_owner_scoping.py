"""Every shopper-owned object is scoped to its owner (OWASP API1, broken object level
authorization): another shopper's id is a 404, never a 403, and changes nothing.

The per-endpoint tests live beside each endpoint; this module keeps the inventory. Its
first test lists the API's routes that take an object id in the path and fails when one
is neither tried here with a stranger's token nor known to be public (stores, products,
coupon offers, raffles), so a new endpoint cannot skip its owner check unnoticed. Ids
sent in a body can pay for an order too: another shopper's coupon or gift card at a
delivery checkout is refused like at a scan & pay one.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from checkout import order_states, pickup_codes
from checkout.models import Address, Basket, BasketLine, CartLine, Order, Payment
from checkout.returns_models import Return
from miniprogram_api.core import clock
from promotions.coupons import issue_coupons
from promotions.models import Coupon, CouponTemplate, GiftCard, GiftCardShare, GiftCardTransaction
from stores.models import Stock
from tests.checkout.delivery_town import address_for, fill_cart, make_town, next_slot
from tests.checkout.online_orders import online_order
from tests.checkout.shop import MILK_EAN, make_shop
from tests.factories import BasketFactory, BasketLineFactory, CustomerFactory, client_for
from tests.orders import make_order
from tests.promotions.gift_card_setup import make_card

pytestmark = pytest.mark.django_db

# Routes whose id names something every shopper may see or use.
PUBLIC_ROUTES = {"store-detail", "store-product-lookup", "product-detail", "coupon-offer-claim", "raffle-enter"}

# route name -> what a stranger tries: (method, path, body, error code); "{name}" in the path
# or a body value stands for the id of the owner's object of that name.
STRANGER_TRIES = {
    "basket-detail": [("get", "/baskets/{basket}", None, "basket_not_found")],
    "basket-scan": [("post", "/baskets/{basket}/scan", {"barcode": MILK_EAN}, "basket_not_found")],
    "basket-line": [
        ("patch", "/baskets/{basket}/lines/{basket_line}", {"quantity": 5}, "basket_not_found"),
        ("delete", "/baskets/{basket}/lines/{basket_line}", None, "basket_not_found"),
    ],
    "basket-checkout": [("post", "/baskets/{basket}/checkout", {"payment_method": "wechat_pay"}, "basket_not_found")],
    "order-detail": [("get", "/orders/{order}", None, "order_not_found")],
    "order-exit-pass": [("get", "/orders/{in_store_order}/exit-pass", None, "order_not_found")],
    "order-exit-pass-png": [("get", "/orders/{in_store_order}/exit-pass.png", None, "order_not_found")],
    "order-pickup-code": [("get", "/orders/{order}/pickup-code", None, "order_not_found")],
    "order-pickup-code-png": [("get", "/orders/{order}/pickup-code.png", None, "order_not_found")],
    "order-returns": [
        ("get", "/orders/{in_store_order}/returns", None, "order_not_found"),
        (
            "post",
            "/orders/{in_store_order}/returns",
            {"lines": [{"line_id": "{order_line}", "quantity": 1}]},
            "order_not_found",
        ),
    ],
    "address-detail": [
        ("get", "/addresses/{address}", None, "address_not_found"),
        ("patch", "/addresses/{address}", {"recipient": "Me"}, "address_not_found"),
        ("delete", "/addresses/{address}", None, "address_not_found"),
    ],
    "cart-line": [
        ("patch", "/cart/lines/{cart_line}", {"quantity": 9}, "cart_line_not_found"),
        ("delete", "/cart/lines/{cart_line}", None, "cart_line_not_found"),
    ],
    "gift-card-detail": [("get", "/gift-cards/{card}", None, "gift_card_not_found")],
    "gift-card-top-up": [
        (
            "post",
            "/gift-cards/{card}/top-up",
            {"amount_fen": 5000, "payment_method": "wechat_pay"},
            "gift_card_not_found",
        )
    ],
    "gift-card-share": [
        ("post", "/gift-cards/{card}/share", {}, "gift_card_not_found"),
        ("delete", "/gift-cards/{card}/share", None, "gift_card_not_found"),
    ],
}


def id_routes(resolver: URLResolver, prefix: str = "") -> dict[str, str]:
    """name -> route of every pattern below ``resolver`` whose path takes an integer id."""
    found = {}
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            found.update(id_routes(pattern, route))
        elif isinstance(pattern, URLPattern) and "<int:" in route:
            found[pattern.name] = route
    return found


def test_every_route_taking_an_object_id_is_tried_by_a_stranger_or_public():
    routes = {name: route for name, route in id_routes(get_resolver()).items() if route.startswith("api/v1/")}

    assert set(routes) - PUBLIC_ROUTES - set(STRANGER_TRIES) == set(), "add the new route to STRANGER_TRIES"
    assert set(STRANGER_TRIES) <= set(routes), "a route tried here no longer exists"


@pytest.fixture
def owned():
    """One of each object a shopper owns, the shopper's own reads of them working."""
    shop, town = make_shop(), make_town()
    owner = CustomerFactory()
    basket = BasketFactory(customer=owner, store=shop.store)
    line = BasketLineFactory(basket=basket, product=shop.milk, quantity=2)
    in_store = make_order(customer_id=owner.pk, store_id=shop.store.pk, items=[(shop.milk, 2, 1190)])
    order_states.transition(
        order_id=in_store.pk, from_state="pending_payment", to_state="paid", event="paid", data={"source": "test"}
    )
    pickup = online_order(
        customer=owner,
        city=town.city,
        product=town.tea,
        channel=Order.Channel.PICKUP,
        store=town.near_store,
        shipments=[(town.near_store, "awaiting_pick")],
    )
    pickup_codes.assign_code(order_id=pickup.pk)
    fill_cart(owner, town.city, {town.milk: 2})
    ids = {
        "basket": basket.pk,
        "basket_line": line.pk,
        "order": pickup.pk,
        "in_store_order": in_store.pk,
        "order_line": in_store.lines.get().pk,
        "address": address_for(owner, town.city).pk,
        "cart_line": CartLine.objects.get(cart__customer=owner).pk,
        "card": make_card(owner, 20_000).pk,
    }
    mine = client_for(owner)
    for tries in STRANGER_TRIES.values():
        for method, path, _, _ in tries:
            if method == "get":
                response = mine.get("/api/v1" + path.format(**ids))
                assert response.status_code == 200, (path, response.content[:200])
    return ids


def filled(body, ids: dict[str, int]):
    """``body`` with every "{name}" string replaced by that object's id."""
    if isinstance(body, dict):
        return {key: filled(value, ids) for key, value in body.items()}
    if isinstance(body, list):
        return [filled(value, ids) for value in body]
    if isinstance(body, str) and body.startswith("{") and body.endswith("}"):
        return ids[body[1:-1]]
    return body


def coupon_of(customer) -> Coupon:
    now = clock.now()
    template = CouponTemplate.objects.create(
        name="满0减5",
        kind=CouponTemplate.Kind.AMOUNT_OFF,
        threshold_fen=0,
        amount_off_fen=500,
        valid_from=now - dt.timedelta(days=1),
        valid_until=now + dt.timedelta(days=7),
    )
    (coupon,) = issue_coupons(template_id=template.pk, customer_id=customer.pk)
    return coupon


def everything() -> tuple:
    """What a stranger's requests must leave as it was."""
    return (
        list(Basket.objects.values_list("pk", "status")),
        list(BasketLine.objects.values_list("pk", "quantity")),
        list(Order.objects.values_list("pk", "state", "total_fen")),
        Payment.objects.count(),
        Return.objects.count(),
        list(Address.objects.values_list("pk", "recipient")),
        list(CartLine.objects.values_list("pk", "quantity")),
        list(GiftCard.objects.values_list("pk", "owner_id", "balance_fen", "held_fen", "status")),
        GiftCardTransaction.objects.count(),
        GiftCardShare.objects.count(),
    )


@pytest.mark.parametrize("route", sorted(STRANGER_TRIES))
def test_a_stranger_gets_404_and_changes_nothing(owned, route):
    stranger = client_for(CustomerFactory())
    before = everything()

    for method, path, body, code in STRANGER_TRIES[route]:
        response = getattr(stranger, method)(
            "/api/v1" + path.format(**owned), filled(body, owned), format="json", HTTP_IDEMPOTENCY_KEY=f"k-{method}"
        )

        assert (response.status_code, response.json()["error"]["code"]) == (404, code), (method, path)
    assert everything() == before


def test_another_shoppers_coupon_or_gift_card_cannot_pay_a_delivery_order():
    town = make_town()
    shopper, owner = CustomerFactory(), CustomerFactory()
    home = address_for(shopper, town.city)
    fill_cart(shopper, town.city, {town.rice: 2})
    their_coupon = coupon_of(owner)
    their_card = make_card(owner, 20_000)
    client = client_for(shopper)
    body = {"city": town.city.code, "address_id": home.pk, "slot": next_slot(town.city), "payment_method": "alipay"}

    by_coupon = client.post("/api/v1/cart/checkout", {**body, "coupon_ids": [their_coupon.pk]}, format="json")
    by_card = client.post("/api/v1/cart/checkout", {**body, "gift_card_ids": [their_card.pk]}, format="json")

    assert by_coupon.status_code == 422 and by_coupon.json()["error"]["details"] == {
        str(their_coupon.pk): "not_available"
    }
    assert (by_card.status_code, by_card.json()["error"]["code"]) == (404, "gift_card_not_found")
    assert not Order.objects.exists() and not Payment.objects.exists()
    assert Coupon.objects.get(pk=their_coupon.pk).status == "available"
    assert GiftCard.objects.filter(pk=their_card.pk).values_list("owner_id", "balance_fen", "held_fen").get() == (
        owner.pk,
        20_000,
        0,
    )
    assert not Stock.objects.filter(reserved__gt=0).exists()
    assert CartLine.objects.get(cart__customer=shopper).quantity == 2
