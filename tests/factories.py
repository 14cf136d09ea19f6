"""factory-boy factories for the models tests need most."""

from __future__ import annotations

import datetime as dt

import factory
from django.conf import settings

from miniprogram_api.accounts.models import Customer
from stores import models as stores


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    username = factory.Sequence(lambda n: f"wx:test:shopper{n}")
    nickname = factory.Sequence(lambda n: f"Shopper {n}")
    wechat_appid = factory.LazyFunction(lambda: settings.WECHAT_APPID)
    openid = factory.Sequence(lambda n: f"o-test-{n:06d}")
    password = factory.django.Password(None)


class CityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = stores.City
        django_get_or_create = ("code",)

    code = "shanghai"
    name = "Shanghai"
    name_zh = "上海"
    latitude = "31.230400"
    longitude = "121.473700"


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = stores.Location

    code = factory.Sequence(lambda n: f"SH{n:03d}")
    name = factory.Sequence(lambda n: f"Test Store {n}")
    kind = stores.Location.Kind.STORE
    city = factory.SubFactory(CityFactory)
    address = "1 Test Road"
    latitude = "31.230400"
    longitude = "121.473700"
    opens_at = dt.time(7, 0)
    closes_at = dt.time(22, 0)
    scan_and_go_enabled = True
    has_pickup_station = True


class BrandFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = stores.Brand

    name = factory.Sequence(lambda n: f"Brand {n}")


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = stores.Category

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = stores.Product

    sku = factory.Sequence(lambda n: f"SKU{n:06d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    brand = factory.SubFactory(BrandFactory)
    category = factory.SubFactory(CategoryFactory)
    base_price_fen = 990


class BarcodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = stores.Barcode

    product = factory.SubFactory(ProductFactory)
    code = "6901234567892"
    gtin = factory.LazyAttribute(lambda o: o.code.zfill(14))


class StockFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = stores.Stock

    location = factory.SubFactory(LocationFactory)
    product = factory.SubFactory(ProductFactory)
    on_hand = 50
    reserved = 0


class LocationPriceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = stores.LocationPrice

    location = factory.SubFactory(LocationFactory)
    product = factory.SubFactory(ProductFactory)
    price_fen = 890


def _now():
    """The project clock, so tests that move time move baskets' ``updated_at`` too (imported
    here because this block is appended below the module's imports)."""
    from miniprogram_api.core import clock

    return clock.now()


class BasketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "checkout.Basket"

    customer = factory.SubFactory(CustomerFactory)
    store = factory.SubFactory(LocationFactory)
    status = "open"
    updated_at = factory.LazyFunction(_now)


class BasketLineFactory(factory.django.DjangoModelFactory):
    """A unit line by default; pass ``kind``, ``weight_g`` and ``label_price_fen`` for labels."""

    class Meta:
        model = "checkout.BasketLine"

    basket = factory.SubFactory(BasketFactory)
    product = factory.SubFactory(ProductFactory)
    kind = "unit"
    barcode = "6901234567892"
    quantity = 1


def client_for(customer: Customer):
    """An API client logged in as ``customer`` with a fresh bearer token."""
    from rest_framework.test import APIClient

    from miniprogram_api.accounts.tokens import issue_token

    raw, _ = issue_token(customer=customer)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client
