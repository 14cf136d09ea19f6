"""A promotion's life in the Django admin, in a real browser: staff create a flash sale
(with an item) and a claimable coupon template through the admin's own forms; a shopper
claims the coupon and buys the flash-sale milk with it (through the API, paid in the
sandbox); staff then read the figures: coupons issued and used, units sold and left."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import requests
from django.utils import timezone
from playwright.sync_api import Page, expect

from miniprogram_api.core import clock
from promotions.models import Coupon, CouponTemplate, FlashSale, FlashSaleItem
from tests.checkout.shop import MILK_EAN, ean13, make_shop
from tests.factories import BarcodeFactory, CustomerFactory, ProductFactory, StockFactory, client_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STAFF_PASSWORD = "marketing-demo-password"
WATER_EAN = ean13("697123450002")


@pytest.fixture
def shop():
    shop = make_shop()
    water = ProductFactory(sku="100006", name="Nongfu Spring Water 550ml", base_price_fen=200)
    BarcodeFactory(product=water, code=WATER_EAN)
    StockFactory(location=shop.store, product=water, on_hand=100)
    return shop


@pytest.fixture
def staff():
    user = CustomerFactory(username="marketing", is_staff=True, is_superuser=True)
    user.set_password(STAFF_PASSWORD)
    user.save()
    return user


def _log_in(page: Page, server: str) -> None:
    page.goto(f"{server}/admin/login/?next=/admin/")
    page.fill("#id_username", "marketing")
    page.fill("#id_password", STAFF_PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_be_visible()


def _fill_moment(page: Page, field: str, moment: dt.datetime) -> None:
    """The admin's split date and time inputs, in Shanghai time as staff see them."""
    local = timezone.localtime(moment)
    page.fill(f"#id_{field}_0", local.strftime("%Y-%m-%d"))
    page.fill(f"#id_{field}_1", local.strftime("%H:%M:%S"))


def _create_flash_sale(page: Page, server: str) -> None:
    now = clock.now()
    page.goto(f"{server}/admin/promotions/flashsale/add/")
    page.fill("#id_name", "Milk hour")
    page.select_option("#id_channels", "in_store")
    _fill_moment(page, "starts_at", now - dt.timedelta(hours=1))
    _fill_moment(page, "ends_at", now + dt.timedelta(days=1))
    page.locator("#items-group .add-row a").click()  # "Add another Flash sale item"
    row = page.locator("#items-0")
    row.locator(".select2-selection").click()  # the product autocomplete
    page.locator(".select2-search__field").fill("Bright Fresh")
    page.locator(".select2-results__option", has_text="Bright Fresh Milk").click()
    row.locator("[name=items-0-flash_price_fen]").fill("990")
    row.locator("[name=items-0-quota]").fill("10")
    row.locator("[name=items-0-per_customer_limit]").fill("2")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist .success")).to_contain_text("Milk hour")


def _create_coupon_template(page: Page, server: str) -> None:
    page.goto(f"{server}/admin/promotions/coupontemplate/add/")
    page.fill("#id_name", "满20减5")
    page.select_option("#id_kind", "amount_off")
    page.fill("#id_threshold_fen", "2000")
    page.fill("#id_amount_off_fen", "500")
    page.fill("#id_valid_days_after_claim", "7")
    page.check("#id_claimable")
    page.fill("#id_total_cap", "100")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist .success")).to_contain_text("满20减5")


def _buy_with_the_coupon(server: str, shop) -> dict:
    """Two flash-price milks and a water (2 x 9.90 + 2.00 = 21.80, over the 20.00
    threshold), 5.00 off with the coupon: 16.80, paid with WeChat Pay in the sandbox."""
    shopper = client_for(CustomerFactory())
    offer_id = CouponTemplate.objects.get(name="满20减5").pk
    claimed = shopper.post(f"/api/v1/coupon-offers/{offer_id}/claim")
    assert claimed.status_code == 201, claimed.content
    basket_id = shopper.post("/api/v1/baskets", {"store_id": shop.store.pk}, format="json").json()["id"]
    for barcode, quantity in ((MILK_EAN, 2), (WATER_EAN, 1)):
        scanned = shopper.post(
            f"/api/v1/baskets/{basket_id}/scan", {"barcode": barcode, "quantity": quantity}, format="json"
        )
        assert scanned.status_code == 200, scanned.content
    checkout = shopper.post(
        f"/api/v1/baskets/{basket_id}/checkout",
        {"payment_method": "wechat_pay", "coupon_ids": [claimed.json()["id"]]},
        format="json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )
    assert checkout.status_code == 201, checkout.content
    order = checkout.json()["order"]
    assert requests.post(f"{server}/sandbox/payments/{order['number']}/confirm", timeout=20).json()["notified"]
    return shopper.get(f"/api/v1/orders/{order['id']}").json()


def test_staff_create_a_flash_sale_and_a_coupon_in_the_admin_and_see_a_purchase_in_their_figures(
    server, shop, staff, page: Page
):
    _log_in(page, server)
    _create_flash_sale(page, server)
    _create_coupon_template(page, server)
    item = FlashSaleItem.objects.get(sale__name="Milk hour")
    assert (item.product_id, item.flash_price_fen, item.quota, item.sold) == (shop.milk.pk, 990, 10, 0)
    template = CouponTemplate.objects.get(name="满20减5")
    assert (template.claimable, template.threshold_fen, template.amount_off_fen, template.total_cap) == (
        True,
        2000,
        500,
        100,
    )

    order = _buy_with_the_coupon(server, shop)

    assert (order["state"], order["goods_subtotal_fen"], order["total_fen"]) == ("paid", 2 * 1190 + 200, 1680)
    assert {a["source"] for a in order["adjustments"]} == {"flash_sale", "coupon"}
    assert Coupon.objects.get(template=template).status == Coupon.Status.USED

    page.goto(f"{server}/admin/promotions/flashsale/")
    sale_row = page.locator("#result_list tbody tr", has_text="Milk hour")
    expect(sale_row.locator("td.field-units_sold")).to_have_text("2 / 10")
    page.goto(f"{server}/admin/promotions/flashsale/{FlashSale.objects.get().pk}/change/")
    expect(page.locator("#items-0 td.field-sold")).to_have_text("2")
    expect(page.locator("#items-0 td.field-remaining")).to_have_text("8")

    page.goto(f"{server}/admin/promotions/coupontemplate/")
    template_row = page.locator("#result_list tbody tr", has_text="满20减5")
    expect(template_row.locator("td.field-issued")).to_have_text("1 / 100")
    expect(template_row.locator("td.field-used_count")).to_have_text("1")
    page.goto(f"{server}/admin/promotions/coupontemplate/{template.pk}/change/")
    expect(page.locator(".field-issued_figure .readonly")).to_have_text("1")
    expect(page.locator(".field-used_figure .readonly")).to_have_text("1")
    expect(page.locator(".field-quota_left_figure .readonly")).to_have_text("99")
