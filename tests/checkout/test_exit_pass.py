"""A paid scan & pay order gets its exit pass: a signed token and its QR image, for the
order's owner only, refreshed when it expired unused, with the audit decision kept."""

from __future__ import annotations

import datetime as dt
import io

import pytest
import zxingcpp
from PIL import Image

from checkout import exit_keys, exitpass, settlement
from checkout.models import ExitPass, Order
from checkout.payments.base import TradeStatus
from gate_verifier import token as pass_token
from miniprogram_api.core import clock
from tests.api.test_orders_api import _order
from tests.factories import CustomerFactory, LocationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid_order(auth_client, django_capture_on_commit_callbacks):
    order = _order(auth_client.customer, LocationFactory(), lines=2)
    with django_capture_on_commit_callbacks(execute=True):
        settlement.apply_trade_status(
            provider="wechat_pay",
            status=TradeStatus(out_trade_no=order.number, state="paid", amount_fen=order.total_fen),
            source="test",
        )
    order.refresh_from_db()
    return order


def _claims(token: str) -> pass_token.PassClaims:
    return pass_token.verify(token, exit_keys.public_keys(), now=clock.now().timestamp(), clock_skew_seconds=60)


def test_paying_issues_a_signed_pass_that_describes_the_order(auth_client, paid_order):
    body = auth_client.get(f"/api/v1/orders/{paid_order.pk}/exit-pass").json()

    claims = _claims(body["token"])
    assert (claims.order_id, claims.store_id) == (paid_order.pk, paid_order.store_id)
    assert (claims.item_count, claims.total_fen) == (paid_order.item_count, paid_order.total_fen) == (4, 2002)
    assert body["state"] == "valid" and body["used_at"] is None
    expires_at = dt.datetime.fromisoformat(body["expires_at"])
    assert abs(expires_at - (paid_order.paid_at + dt.timedelta(minutes=30))) < dt.timedelta(seconds=1)
    assert claims.expires_at == int(expires_at.timestamp())
    assert len(body["token"]) < 160  # fits a small QR code
    assert ExitPass.objects.filter(order=paid_order).count() == 1  # issued once, by the after-payment task


def test_the_qr_image_decodes_to_the_exact_token(auth_client, paid_order):
    token = auth_client.get(f"/api/v1/orders/{paid_order.pk}/exit-pass").json()["token"]

    response = auth_client.get(f"/api/v1/orders/{paid_order.pk}/exit-pass.png", HTTP_ACCEPT="image/png")

    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    decoded = zxingcpp.read_barcodes(image)
    assert [(code.format.name, code.text) for code in decoded] == [("QRCode", token)]
    assert decoded[0].ec_level == "M"


def test_another_shoppers_pass_is_not_found(paid_order):
    from rest_framework.test import APIClient

    from miniprogram_api.accounts.tokens import issue_token

    raw, _ = issue_token(customer=CustomerFactory())
    stranger = APIClient()
    stranger.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    for path, accept in (("exit-pass", "application/json"), ("exit-pass.png", "image/png")):
        response = stranger.get(f"/api/v1/orders/{paid_order.pk}/{path}", HTTP_ACCEPT=accept)
        assert response.status_code == 404 and response.json()["error"]["code"] == "order_not_found"


def test_an_unpaid_order_has_no_pass(auth_client):
    order = _order(auth_client.customer, LocationFactory())

    response = auth_client.get(f"/api/v1/orders/{order.pk}/exit-pass")

    assert response.status_code == 409 and response.json()["error"]["code"] == "exit_pass_unavailable"
    assert not ExitPass.objects.exists()


def test_an_expired_unused_pass_is_replaced_by_a_fresh_one_with_the_same_audit(auth_client, paid_order, monkeypatch):
    first = ExitPass.objects.get(order=paid_order)
    ExitPass.objects.filter(pk=first.pk).update(audit=True, audit_reasons=["random_sample"])
    later = clock.now() + dt.timedelta(minutes=31)
    monkeypatch.setattr(clock, "now", lambda: later)

    body = auth_client.get(f"/api/v1/orders/{paid_order.pk}/exit-pass").json()

    fresh = ExitPass.objects.get(order=paid_order, superseded_at__isnull=True)
    assert fresh.pk != first.pk and body["token"] == fresh.token and body["state"] == "valid"
    assert fresh.audit is True and fresh.audit_reasons == ["random_sample"]
    assert _claims(fresh.token).audit is True
    assert ExitPass.objects.get(pk=first.pk).superseded_at == later


def test_a_used_pass_is_not_refreshed(auth_client, paid_order, monkeypatch):
    ExitPass.objects.filter(order=paid_order).update(used_at=clock.now())
    later = clock.now() + dt.timedelta(hours=2)
    monkeypatch.setattr(clock, "now", lambda: later)

    body = auth_client.get(f"/api/v1/orders/{paid_order.pk}/exit-pass").json()

    assert body["state"] == "used"
    assert ExitPass.objects.filter(order=paid_order).count() == 1


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"EXIT_AUDIT_SAMPLE_PER_MILLE": 0}, []),
        ({"EXIT_AUDIT_SAMPLE_PER_MILLE": 1000}, ["random_sample"]),
        ({"EXIT_AUDIT_SAMPLE_PER_MILLE": 0, "EXIT_AUDIT_TOTAL_ABOVE_FEN": 1000}, ["total_above_threshold"]),
        ({"EXIT_AUDIT_SAMPLE_PER_MILLE": 0, "EXIT_AUDIT_WEIGHED_LINES_AT_LEAST": 0}, ["many_weighed_items"]),
    ],
    ids=["nothing", "sampled", "big-total", "weighed"],
)
def test_audit_decision_follows_the_sample_and_the_rules(settings, overrides, expected):
    for name, value in overrides.items():
        setattr(settings, name, value)
    order = Order(total_fen=2002)

    audit, reasons = exitpass.audit_decision(order, [])

    assert reasons == expected and audit is bool(expected)


def test_after_payment_work_lost_with_its_task_is_redriven_once(auth_client, monkeypatch):
    from checkout import after_payment_jobs, tasks
    from stores.models import Stock
    from tests.factories import StockFactory

    monkeypatch.setattr(tasks.order_paid, "delay", lambda *args: None)  # the broker was down at commit
    order = _order(auth_client.customer, LocationFactory(), lines=1)
    line = order.lines.get()
    stock = StockFactory(location_id=order.store_id, product_id=line.product_id, on_hand=10)
    settlement.apply_trade_status(
        provider="wechat_pay",
        status=TradeStatus(out_trade_no=order.number, state="paid", amount_fen=order.total_fen),
        source="test",
    )
    assert not ExitPass.objects.exists()
    later = clock.now() + dt.timedelta(minutes=3)
    monkeypatch.setattr(clock, "now", lambda: later)

    assert after_payment_jobs.redrive() == 1
    assert after_payment_jobs.redrive() == 0

    assert Stock.objects.get(pk=stock.pk).on_hand == 10 - 2
    assert ExitPass.objects.filter(order=order).count() == 1
