"""The demo pages in a real browser: a shopper logs in, picks a store, scans (typing one
code, clicking the others), pays with WeChat Pay in the sandbox and gets the exit QR; then
staff at the demo gate see that pass open the gate once and be refused the second time."""

from __future__ import annotations

import io
import re

import pytest
import zxingcpp
from django.core.management import call_command
from PIL import Image
from playwright.sync_api import Page, expect

from checkout.models import ExitPass, GateEvent, Order
from stores.models import Stock
from tests.checkout.shop import APPLE_PLU, MILK_EAN, ean13, make_shop, weight_label
from tests.factories import BarcodeFactory, ProductFactory, StockFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WATER_EAN = ean13("697123450002")
APPLES_850G = weight_label(APPLE_PLU, 850)  # what the page offers for a weighed product
# Milk at the store's 11.90, water 2.00, 850 g of apples at 19.90/kg = 16.915 -> 16.92.
TOTAL_FEN = 1190 + 200 + 1692


@pytest.fixture
def shop(settings):
    settings.EXIT_AUDIT_SAMPLE_PER_MILLE = 0  # no random audit: the gate must decide open
    shop = make_shop()
    water = ProductFactory(sku="100006", name="Nongfu Spring Water 550ml", base_price_fen=200)
    BarcodeFactory(product=water, code=WATER_EAN)
    StockFactory(location=shop.store, product=water, on_hand=100)
    shop.water = water
    return shop


def _gate_credential(store_code: str) -> str:
    """What staff paste: the part after "Gate " in the line ``create_gate`` prints."""
    out = io.StringIO()
    call_command("create_gate", store_code, "Lane 1", stdout=out)
    return re.search(r"^Gate (\S+:\S+)$", out.getvalue(), re.MULTILINE).group(1)


def test_a_shopper_pays_in_the_demo_and_the_exit_pass_opens_the_demo_gate_once(server, shop, page: Page):
    page.goto(f"{server}/demo/")
    page.fill("#shopper", "li-na")
    page.click("#login")
    expect(page.locator("#who")).to_contain_text("Logged in as")

    page.locator("#stores li", has_text="PSQ").get_by_role("button", name="People's Square").click()
    products = page.locator("#products li")
    # What the store carries, each with the code a scan would read; never the oil it does not sell.
    expect(products).to_have_count(4)
    expect(page.locator("#products")).not_to_contain_text("Olive Oil")

    page.fill("#barcode", MILK_EAN)
    page.click("#scan")
    expect(page.locator("#basket-lines tr")).to_have_count(1)
    page.get_by_role("button", name=WATER_EAN).click()
    expect(page.locator("#basket-lines tr")).to_have_count(2)
    page.get_by_role("button", name=APPLES_850G).click()
    expect(page.locator("#basket-lines tr")).to_have_count(3)
    expect(page.locator("#total")).to_have_text("¥30.82")
    expect(page.locator("#item-count")).to_have_text("3")

    page.check("input[name=payment_method][value=wechat_pay]")
    page.click("#checkout")
    expect(page.locator("#pay-step")).to_be_visible()
    expect(page.locator("#order-state")).to_have_text("pending payment")
    page.click("#confirm-payment")

    expect(page.locator("#exit-step")).to_be_visible()
    expect(page.locator("#paid")).to_contain_text("is paid: ¥30.82 for 3 items")
    expect(page.locator("#exit-state")).to_have_text("valid")
    order = Order.objects.get()
    assert (order.state, order.total_fen, order.payment_method) == ("paid", TOTAL_FEN, "wechat_pay")
    assert Stock.objects.get(location=shop.store, product=shop.water).on_hand == 99
    token = page.locator("#exit-token").inner_text()
    assert token == ExitPass.objects.get(order=order).token
    qr = page.locator("#exit-qr")
    expect(qr).to_have_js_property("complete", True)
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr.screenshot())))
    assert [code.text for code in decoded] == [token]

    gate = page.context.new_page()
    gate.goto(f"{server}/demo/gate")
    gate.fill("#credential", _gate_credential(shop.store.code))
    gate.fill("#token", token)
    gate.click("#verify")
    expect(gate.locator("#decision-word")).to_have_text("OPEN")
    expect(gate.locator("#decision-reason")).to_have_text("ok")
    expect(gate.locator("#decision-pass")).to_contain_text(f"Order {order.number}: 3 items, ¥30.82")

    gate.click("#verify")
    expect(gate.locator("#history li")).to_have_count(2)
    expect(gate.locator("#decision-word")).to_have_text("DENY")
    expect(gate.locator("#decision-reason")).to_have_text("already_used")
    expect(gate.locator("#decision-used")).to_contain_text("at Lane 1")
    assert list(GateEvent.objects.order_by("pk").values_list("decision", "reason")) == [
        ("open", "ok"),
        ("deny", "already_used"),
    ]
    assert ExitPass.objects.get(order=order).used_at is not None
