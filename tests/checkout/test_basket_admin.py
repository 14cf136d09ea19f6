"""Staff can find a shopper's basket, read its lines, and expire an abandoned one."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from checkout.models import Basket
from tests.checkout.shop import make_shop
from tests.factories import BasketFactory, BasketLineFactory, CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(CustomerFactory(username="staff", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def basket():
    shop = make_shop()
    basket = BasketFactory(store=shop.store, customer=CustomerFactory(nickname="Li Na"))
    BasketLineFactory(basket=basket, product=shop.milk, quantity=2)
    BasketLineFactory(basket=basket, product=shop.apples, kind="weight_label", weight_g=1234, label_price_fen=2456)
    return basket


def test_staff_can_list_search_filter_and_open_a_basket(staff_client, basket, django_assert_max_num_queries):
    changelist = reverse("admin:checkout_basket_changelist")
    for params in ({}, {"q": "Li Na"}, {"q": "PSQ"}, {"status__exact": "open"}):
        response = staff_client.get(changelist, params)
        assert response.status_code == 200
        assert "Li Na" in response.content.decode()

    BasketLineFactory.create_batch(20, basket=basket)
    with django_assert_max_num_queries(12):  # the lines inline joins its products
        response = staff_client.get(reverse("admin:checkout_basket_change", args=[basket.pk]))
    assert response.status_code == 200
    assert "¥24.56" in response.content.decode()


def test_baskets_are_read_only_for_staff(staff_client, basket):
    model_admin = admin.site._registry[Basket]
    request = staff_client.get("/").wsgi_request
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_delete_permission(request, basket)
    assert staff_client.get(reverse("admin:checkout_basket_add")).status_code == 403


def test_expiring_selected_baskets_leaves_frozen_ones(staff_client, basket):
    frozen = BasketFactory(status="frozen")

    response = staff_client.post(
        reverse("admin:checkout_basket_changelist"),
        {"action": "expire_selected", "_selected_action": [basket.pk, frozen.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert "Expired 1 open basket" in response.content.decode()
    assert list(Basket.objects.order_by("pk").values_list("status", flat=True)) == ["expired", "frozen"]
