"""The OpenAPI schema is what client developers build against: it must stay complete."""

from __future__ import annotations

import pytest
import yaml
from django.core.management import call_command


@pytest.mark.django_db
def test_schema_generates_valid_without_warnings(tmp_path):
    target = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))

    schema = yaml.safe_load(target.read_text())
    paths = schema["paths"]
    assert set(paths) == {
        "/api/v1/auth/wechat-login",
        "/api/v1/auth/logout",
        "/api/v1/me",
        "/api/v1/stores",
        "/api/v1/stores/{store_id}",
        "/api/v1/stores/{store_id}/products/lookup",
        "/api/v1/products",
        "/api/v1/products/{product_id}",
        "/api/v1/baskets",
        "/api/v1/baskets/{basket_id}",
        "/api/v1/baskets/{basket_id}/scan",
        "/api/v1/baskets/{basket_id}/lines/{line_id}",
        "/api/v1/baskets/{basket_id}/checkout",
        "/api/v1/orders",
        "/api/v1/orders/{order_id}",
        "/api/v1/orders/{order_id}/exit-pass",
        "/api/v1/orders/{order_id}/returns",
        "/api/v1/gift-cards",
        "/api/v1/gift-cards/denominations",
        "/api/v1/gift-cards/claim",
        "/api/v1/gift-cards/{card_id}",
        "/api/v1/gift-cards/{card_id}/top-up",
        "/api/v1/gift-cards/{card_id}/share",
        "/api/v1/coupon-offers",
        "/api/v1/coupon-offers/{offer_id}/claim",
        "/api/v1/coupons",
        "/api/v1/raffles",
        "/api/v1/raffles/{raffle_id}/enter",
        "/api/v1/flash-sales",
        "/api/v1/brand-of-the-day",
        "/api/v1/campaigns/scan",
        "/api/v1/addresses",
        "/api/v1/addresses/{address_id}",
        "/api/v1/cart",
        "/api/v1/cart/lines",
        "/api/v1/cart/lines/{line_id}",
        "/api/v1/cart/checkout",
        "/api/v1/delivery/slots",
        "/api/gate/v1/keys",
        "/api/gate/v1/offline-events",
        "/api/v1/orders/{order_id}/exit-pass.png",
        "/api/v1/orders/{order_id}/pickup-code",
        "/api/v1/orders/{order_id}/pickup-code.png",
        "/api/gate/v1/verify",
        "/api/gate/v1/audits/{audit_id}/resolve",
        "/api/couriers/v1/events",
    }
    for path, operations in paths.items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert any(code.startswith("2") for code in responses), f"{method} {path} documents no success"
            if path != "/api/v1/auth/wechat-login":
                assert "401" in responses, f"{method} {path} does not document 401"
