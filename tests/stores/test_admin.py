"""Staff can open every stores screen: change lists (with a search and a filter) and forms."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from stores.models import Barcode, Brand, Category, City, Location, LocationPrice, Product, Stock
from tests.factories import (
    BarcodeFactory,
    CategoryFactory,
    CustomerFactory,
    LocationFactory,
    LocationPriceFactory,
    ProductFactory,
    StockFactory,
)

pytestmark = pytest.mark.django_db

STORES_MODELS = [City, Location, Brand, Category, Product, Barcode, LocationPrice, Stock]


@pytest.fixture
def staff_client(client):
    client.force_login(CustomerFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def catalogue():
    store = LocationFactory(code="PSQ", name="People's Square")
    product = ProductFactory(
        sku="100200", name="Fresh Milk", category=CategoryFactory(parent=CategoryFactory(name="Dairy"))
    )
    return {
        City: store.city,
        Location: store,
        Brand: product.brand,
        Category: product.category,
        Product: product,
        Barcode: BarcodeFactory(product=product, code="6901234567892"),
        LocationPrice: LocationPriceFactory(location=store, product=product, price_fen=1190),
        Stock: StockFactory(location=store, product=product, on_hand=10, reserved=2),
    }


def test_every_stores_model_is_registered():
    assert set(apps.get_app_config("stores").get_models()) == set(STORES_MODELS)
    for model in STORES_MODELS:
        model_admin = admin.site._registry[model]
        assert model_admin.list_display != ("__str__",), model
        assert model_admin.search_fields, model
        assert model_admin.list_filter, model


@pytest.mark.parametrize("model", STORES_MODELS, ids=lambda m: m.__name__)
def test_staff_can_open_the_changelist_search_and_the_forms(staff_client, catalogue, model):
    opts = model._meta
    changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    response = staff_client.get(changelist)
    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1

    for query in ("PSQ", "100200", "Fresh", "6901234567892", "nothing-matches-this"):
        assert staff_client.get(changelist, {"q": query}).status_code == 200

    obj = catalogue[model]
    change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    assert staff_client.get(change).status_code == 200
    assert staff_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add")).status_code == 200


def test_product_search_finds_a_product_by_its_printed_barcode(staff_client, catalogue):
    response = staff_client.get(reverse("admin:stores_product_changelist"), {"q": "6901234567892"})
    assert list(response.context["cl"].result_list) == [catalogue[Product]]


def test_custom_filters_work(staff_client, catalogue):
    BarcodeFactory(product=catalogue[Product], code="036000291452")
    by_format = staff_client.get(reverse("admin:stores_barcode_changelist"), {"format": "12"})
    assert [b.code for b in by_format.context["cl"].result_list] == ["036000291452"]
    unused = staff_client.get(reverse("admin:stores_brand_changelist"), {"in_use": "no"})
    assert list(unused.context["cl"].result_list) == []


def test_admin_refuses_a_barcode_with_a_wrong_check_digit(staff_client, catalogue):
    product = catalogue[Product]
    response = staff_client.post(reverse("admin:stores_barcode_add"), {"product": product.pk, "code": "4006381333932"})
    assert response.status_code == 200  # the form again, with the error
    assert "check digit" in response.context["adminform"].form.errors["code"][0]
    assert not Barcode.objects.filter(code="4006381333932").exists()


def test_admin_derives_the_gtin_from_the_printed_code(staff_client, catalogue):
    product = catalogue[Product]
    response = staff_client.post(reverse("admin:stores_barcode_add"), {"product": product.pk, "code": "036000291452"})
    assert response.status_code == 302
    assert Barcode.objects.get(code="036000291452").gtin == "00036000291452"
