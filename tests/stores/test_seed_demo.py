"""``manage.py seed_demo``: the pilot's cities, stores, catalogue, stock, admin and shoppers,
and a second run that changes nothing.

Seeding takes a few seconds, so the module seeds once (twice, to check the rerun) inside
an outer transaction that is rolled back when the module is done; every test reads that
state inside its own savepoint.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from io import StringIO

import pytest
from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.db import transaction
from django.test import Client, override_settings

from miniprogram_api.core import clock
from miniprogram_api.core.money import price_for_weight_fen
from stores import barcodes, demo_data, demo_seed
from stores.models import Barcode, Brand, Category, City, Location, LocationPrice, Product, Stock

PILOT_CITIES = {"beijing", "shanghai", "guangzhou", "shenzhen", "chengdu", "wuhan"}
SNAPSHOT_MODELS = (City, Location, Brand, Category, Product, Barcode, LocationPrice, Stock, get_user_model())


def _snapshot() -> dict[str, list[tuple]]:
    """Every row of every seeded table, every field, in primary-key order."""
    return {model.__name__: list(model.objects.order_by("pk").values_list()) for model in SNAPSHOT_MODELS}


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), pytest.MonkeyPatch.context() as env:
        env.delenv("DEMO_ADMIN_USERNAME", raising=False)
        env.delenv("DEMO_ADMIN_PASSWORD", raising=False)
        with transaction.atomic():
            first_output = StringIO()
            call_command("seed_demo", stdout=first_output)
            first = _snapshot()
            second_output = StringIO()
            call_command("seed_demo", stdout=second_output)
            yield {
                "first": first,
                "second": _snapshot(),
                "first_output": first_output.getvalue(),
                "second_output": second_output.getvalue(),
            }
            transaction.set_rollback(True)


pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("seeded")]


def test_the_six_pilot_cities_have_chinese_names_and_real_centres():
    cities = {city.code: city for city in City.objects.all()}
    assert set(cities) == PILOT_CITIES
    assert cities["beijing"].name_zh == "北京"
    assert cities["shanghai"].name_zh == "上海"
    for city in cities.values():
        assert city.name_zh
        assert Decimal(18) < city.latitude < Decimal(54)  # mainland China
        assert Decimal(73) < city.longitude < Decimal(135)


def test_every_city_has_stores_and_a_warehouse_near_its_centre():
    stores = Location.objects.filter(kind=Location.Kind.STORE)
    warehouses = Location.objects.filter(kind=Location.Kind.WAREHOUSE)
    assert stores.count() >= 30
    assert warehouses.count() >= 6
    for city in City.objects.all():
        assert warehouses.filter(city=city).exists(), city.code
        assert stores.filter(city=city, active=True, scan_and_go_enabled=True).count() >= 5, city.code
    for location in Location.objects.select_related("city"):
        pattern = r"[A-Z]{2}\d{3}" if location.kind == Location.Kind.STORE else r"[A-Z]{2}-WH\d"
        assert re.fullmatch(pattern, location.code)
        assert abs(location.latitude - location.city.latitude) < Decimal("0.5"), location.code
        assert abs(location.longitude - location.city.longitude) < Decimal("0.5"), location.code
        assert "District" in location.address or "Area" in location.address or "Zone" in location.address
    # The deliberate oddities later tests rely on: one closed store, one without scan & go.
    assert list(stores.filter(active=False).values_list("code", flat=True)) == ["BJ008"]
    assert list(stores.filter(active=True, scan_and_go_enabled=False).values_list("code", flat=True)) == ["GZ006"]
    assert stores.filter(has_pickup_station=True).count() >= stores.count() // 2
    assert stores.filter(closes_at__lt=dt.time(7)).exists()  # open past midnight


def test_catalogue_has_two_thousand_products_matching_the_tables():
    specs = {spec.sku: spec for spec in demo_seed.catalogue()}
    products = list(Product.objects.select_related("brand", "category"))
    assert len(products) >= 2000
    assert {product.sku for product in products} == set(specs)
    for product in products:
        spec = specs[product.sku]
        assert (product.name, product.base_price_fen, product.brand.name) == (
            spec.name,
            spec.base_price_fen,
            spec.brand,
        )
        assert product.base_price_fen > 0
        assert product.age_restricted == (product.category.slug in {"beer", "spirits", "wine"})
        assert product.category.parent is not None  # products hang off the leaves
    assert Product.objects.get(name="Yili Pure Milk 250ml x 24").base_price_fen == 6990
    assert Product.objects.get(name="Moutai Feitian 53% Vol 500ml").base_price_fen == 149900
    assert demo_seed.catalogue.__wrapped__() == demo_seed.catalogue()  # same seed, same catalogue


def test_every_barcode_is_a_valid_chinese_ean13_or_an_imported_upca():
    rows = list(Barcode.objects.select_related("product__brand"))
    formats = set()
    for row in rows:
        parsed = barcodes.parse(row.code)
        assert isinstance(parsed, barcodes.ProductCode), row.code
        assert parsed.gtin == row.gtin
        formats.add(parsed.format)
        if parsed.format == "UPC-A":
            assert row.code.startswith("0")
            assert row.product.brand.name in demo_data.IMPORTED_BRANDS
        else:
            assert parsed.format == "EAN-13"
            assert 690 <= int(row.code[:3]) <= 699, row.code
    assert formats == {"EAN-13", "UPC-A"}
    packaged = Product.objects.filter(sold_by_weight=False)
    assert not packaged.filter(barcodes__isnull=True).exists()
    assert Product.objects.filter(pk__in=Barcode.objects.values("product")).count() < len(rows)  # some have two


def test_weighed_fresh_items_scan_back_from_in_store_labels():
    weighed = list(Product.objects.filter(sold_by_weight=True))
    assert len(weighed) >= 40
    assert len({product.plu_code for product in weighed}) == len(weighed)
    assert not Barcode.objects.filter(product__sold_by_weight=True).exists()
    with override_settings(STORE_BARCODE_LAYOUTS=settings.STORE_BARCODE_LAYOUTS_DEFAULT):
        for product in weighed:
            assert re.fullmatch(r"\d{5}", product.plu_code)
            price = price_for_weight_fen(weight_g=350, price_per_kg_fen=product.base_price_fen)
            for label, expected in (
                (_in_store_label("20", product.plu_code, f"{price:05d}"), (price, None)),
                (_in_store_label("22", product.plu_code, f"{price:04d}", verifier=True), (price, None)),
                (_in_store_label("25", product.plu_code, "00350"), (None, 350)),
            ):
                parsed = barcodes.parse(label)
                assert isinstance(parsed, barcodes.VariableMeasureCode), label
                assert parsed.item_code == product.plu_code
                assert (parsed.price_fen, parsed.weight_g) == expected


def _in_store_label(prefix: str, item_code: str, value: str, *, verifier: bool = False) -> str:
    """What a store's scale prints: prefix, item code, [price verifier], value, check digit."""
    body = prefix + item_code + (str(barcodes.price_verifier_digit(value)) if verifier else "") + value
    return body + str(barcodes.gs1_check_digit(body))


def test_every_location_carries_stock_and_warehouses_carry_the_long_tail():
    products = Product.objects.count()
    for location in Location.objects.all():
        carried = Stock.objects.filter(location=location).count()
        share = carried / products
        if location.kind == Location.Kind.STORE:
            assert 0.70 <= share <= 0.85, (location.code, share)
        else:
            assert share >= 0.90, (location.code, share)
    assert not Stock.objects.exclude(reserved=0).exists()
    units = Stock.objects.filter(product__sold_by_weight=False, location__kind=Location.Kind.STORE)
    assert units.filter(on_hand__gt=200).count() == 0
    assert 0 < units.filter(on_hand=0).count() < units.count() * 0.05  # a few sold out
    grams = Stock.objects.filter(product__sold_by_weight=True, location__kind=Location.Kind.STORE)
    assert not grams.filter(on_hand__gt=0, on_hand__lt=5000).exists()
    long_tail = Product.objects.exclude(stock__location__kind=Location.Kind.STORE)
    assert long_tail.count() > 50
    assert not long_tail.filter(stock__isnull=True).exists()  # every product is sold somewhere


def test_a_few_store_prices_override_the_base_price():
    overrides = list(LocationPrice.objects.select_related("product", "location"))
    carried = set(Stock.objects.values_list("location_id", "product_id"))
    assert 0.01 * len(carried) < len(overrides) < 0.05 * len(carried)
    for row in overrides:
        assert row.location.kind == Location.Kind.STORE
        assert row.price_fen > 0
        assert row.price_fen != row.product.base_price_fen
        assert (row.location_id, row.product_id) in carried


def test_some_products_are_new_relative_to_the_day_of_the_seed():
    today = clock.local_today()
    recent = Product.objects.filter(launch_date__gt=today - dt.timedelta(days=settings.NEW_PRODUCT_DAYS))
    assert 50 <= recent.count() <= Product.objects.count() * 0.1
    assert not Product.objects.filter(launch_date__gt=today).exists()


def test_a_second_run_creates_and_changes_nothing(seeded):
    assert seeded["second"] == seeded["first"]
    assert " 0 created" in seeded["second_output"]
    assert re.search(r"products\s+0 created\s+\d+ existing", seeded["second_output"])
    assert re.search(r"stock rows\s+0 created\s+\d+ existing", seeded["second_output"])


def test_demo_admin_logs_in_with_the_default_password():
    admin = authenticate(username="admin", password="admin-demo-password")
    assert admin is not None
    assert admin.is_superuser and admin.is_staff


def test_an_existing_admin_keeps_its_password_unless_it_has_none():
    users = get_user_model().objects
    users.create_user("ops", "their-own-password")
    assert demo_seed.seed_admin(username="ops", password="demo") == "existing, unchanged"
    assert authenticate(username="ops", password="their-own-password") is not None
    users.create_user("ops2", None)
    assert demo_seed.seed_admin(username="ops2", password="demo") == "existing, password set"
    assert authenticate(username="ops2", password="demo") is not None


@pytest.mark.skipif(not settings.SANDBOX_ENABLED, reason="demo shoppers are seeded only with the sandbox on")
def test_a_sandbox_login_as_a_demo_shopper_finds_the_seeded_customer():
    response = Client().post("/sandbox/wechat/login-codes", {"shopper": "li-na"}, content_type="application/json")
    assert response.status_code == 201
    customer = get_user_model().objects.get(wechat_appid=settings.WECHAT_APPID, openid=response.json()["openid"])
    assert customer.nickname == "李娜"
    assert not customer.has_usable_password()
    assert not customer.is_staff
    shoppers = get_user_model().objects.filter(wechat_appid=settings.WECHAT_APPID, openid__isnull=False)
    assert set(shoppers.values_list("nickname", flat=True)) >= {"李娜", "王伟", "张敏"}
