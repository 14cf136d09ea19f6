"""External refunds after a return: sending, what the provider says (once, however often it
says it), the polling job, provider trouble, and staff's retry; against a fake provider."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from checkout import refunds, returns
from checkout.models import Order, OrderEvent, Refund, Return
from checkout.payments.base import PaymentProviderUnavailable, RefundStatus
from checkout.tasks import poll_refunds
from miniprogram_api.accounts.models import Customer
from miniprogram_api.core import clock
from tests.checkout.returned_orders import FakeProvider, Item, later, line_of, lines, paid_order, refused
from tests.checkout.shop import make_shop
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

AFTER_THE_LEASE = dt.timedelta(minutes=5)


@pytest.fixture
def shop():
    return make_shop()


@pytest.fixture
def providers(monkeypatch):
    fakes = {"wechat_pay": FakeProvider("wechat_pay"), "alipay": FakeProvider("alipay", answer="succeeded")}
    monkeypatch.setattr("checkout.refunds.get_provider", lambda name: fakes[name])
    return fakes


@pytest.fixture
def shopper():
    return CustomerFactory()


def returned(shopper, shop, *, method: str = "wechat_pay", units: int = 1, capture=None) -> Refund:
    """Two milks at 11.90 paid with ``method``; ``units`` of them returned; its refund."""
    order = paid_order(shopper, store=shop.store, items=[Item(shop.milk, 2, 1190)], method=method)
    request = lines((line_of(order, shop.milk), units))
    if capture is None:
        back = returns.create_return(customer_id=shopper.pk, order_id=order.pk, lines=request)
    else:
        with capture(execute=True):
            back = returns.create_return(customer_id=shopper.pk, order_id=order.pk, lines=request)
    return Refund.objects.get(return_request_id=back.pk)


def status(refund: Refund, state: str, *, amount_fen: int | None = None, out_refund_no: str | None = None):
    return RefundStatus(
        out_trade_no=refund.order.number,
        out_refund_no=out_refund_no or refund.out_refund_no,
        state=state,
        amount_fen=refund.amount_fen if amount_fen is None else amount_fen,
        provider_refund_id="50300000000000000000000000001",
        raw={"refund_status": {"succeeded": "SUCCESS", "failed": "ABNORMAL", "processing": "PROCESSING"}[state]},
    )


def states(refund: Refund) -> tuple[str, str]:
    refund.refresh_from_db()
    return refund.state, Return.objects.get(pk=refund.return_request_id).refund_state


def events(refund: Refund, kind: str) -> int:
    return OrderEvent.objects.filter(order_id=refund.order_id, type=kind).count()


# --- What the provider says ------------------------------------------------------------------


def test_a_succeeded_status_completes_the_refund_and_the_return_once(shopper, shop, providers):
    refund = returned(shopper, shop)

    assert refunds.apply_refund_status(provider="wechat_pay", status=status(refund, "succeeded"), source="n") == (
        "succeeded"
    )
    for _ in range(3):  # replayed
        assert (
            refunds.apply_refund_status(provider="wechat_pay", status=status(refund, "succeeded"), source="n")
            == "unchanged"
        )
    # A late "processing" (an older query's answer) does not take it back either.
    assert refunds.apply_refund_status(provider="wechat_pay", status=status(refund, "processing"), source="q") == (
        "unchanged"
    )

    assert states(refund) == ("succeeded", "refunded")
    assert refund.provider_refund_id == "50300000000000000000000000001" and refund.succeeded_at is not None
    assert (events(refund, "refund_succeeded"), events(refund, "return_refunded")) == (1, 1)
    assert Return.objects.get(pk=refund.return_request_id).refunded_at is not None


def test_an_unknown_refund_is_refused_and_changes_nothing(shopper, shop, providers):
    refund = returned(shopper, shop)

    with pytest.raises(refunds.UnknownRefund):
        refunds.apply_refund_status(
            provider="wechat_pay", status=status(refund, "succeeded", out_refund_no="S2026X"), source="n"
        )
    with pytest.raises(refunds.UnknownRefund):  # the right number, the wrong provider
        refunds.apply_refund_status(provider="alipay", status=status(refund, "succeeded"), source="n")

    assert states(refund) == ("pending", "refunding")


def test_a_refund_of_the_wrong_amount_is_refused_recorded_and_changes_nothing(shopper, shop, providers):
    refund = returned(shopper, shop)

    with pytest.raises(refunds.RefundAmountMismatch):
        refunds.apply_refund_status(
            provider="wechat_pay", status=status(refund, "succeeded", amount_fen=refund.amount_fen + 1), source="n"
        )

    assert states(refund) == ("pending", "refunding")
    mismatch = OrderEvent.objects.get(order_id=refund.order_id, type="refund_amount_mismatch")
    assert mismatch.data["provider_amount_fen"] == refund.amount_fen + 1


def test_a_failed_refund_needs_staff_and_a_retry_sends_it_again_under_its_number(
    shopper, shop, providers, django_capture_on_commit_callbacks
):
    refund = returned(shopper, shop, capture=django_capture_on_commit_callbacks)
    assert states(refund) == ("processing", "refunding")

    assert refunds.apply_refund_status(provider="wechat_pay", status=status(refund, "failed"), source="n") == "failed"
    assert states(refund) == ("failed", "needs_attention")
    assert refund.failure_code == "ABNORMAL"

    with django_capture_on_commit_callbacks(execute=True):
        assert refunds.retry_refund(refund_id=refund.pk, staff="boss")

    assert [call["out_refund_no"] for call in providers["wechat_pay"].calls] == [refund.out_refund_no] * 2
    assert states(refund) == ("processing", "refunding")
    refunds.apply_refund_status(provider="wechat_pay", status=status(refund, "succeeded"), source="n")
    assert states(refund) == ("succeeded", "refunded")
    assert not refunds.retry_refund(refund_id=refund.pk, staff="boss")  # nothing left to retry


def test_alipay_refunds_succeed_with_the_call(shopper, shop, providers, django_capture_on_commit_callbacks):
    refund = returned(shopper, shop, method="alipay", capture=django_capture_on_commit_callbacks)

    assert states(refund) == ("succeeded", "refunded")
    (call,) = providers["alipay"].calls
    assert call["notify_url"].endswith("/api/payments/alipay/notify")


# --- Provider trouble and the polling job -------------------------------------------------------


def test_a_provider_that_does_not_answer_leaves_the_refund_for_the_poller(
    shopper, shop, providers, monkeypatch, django_capture_on_commit_callbacks
):
    providers["wechat_pay"].answer = PaymentProviderUnavailable()
    refund = returned(shopper, shop, capture=django_capture_on_commit_callbacks)
    assert states(refund) == ("pending", "refunding")

    assert poll_refunds.delay().get() == 0  # leased by the attempt a moment ago: not due yet
    assert len(providers["wechat_pay"].calls) == 1

    providers["wechat_pay"].answer = "processing"
    monkeypatch.setattr(clock, "now", later(AFTER_THE_LEASE))
    assert poll_refunds.delay().get() == 0  # sent again: processing
    assert states(refund) == ("processing", "refunding")

    monkeypatch.setattr(clock, "now", later(AFTER_THE_LEASE))
    assert poll_refunds.delay().get() == 1  # asked: it succeeded
    assert providers["wechat_pay"].queries == [refund.out_refund_no]
    assert states(refund) == ("succeeded", "refunded")
    assert len(providers["wechat_pay"].calls) == 2


def test_an_alipay_refund_its_query_does_not_know_is_asked_for_again_with_the_same_number(
    shopper, shop, providers, monkeypatch, django_capture_on_commit_callbacks
):
    alipay = providers["alipay"]
    alipay.answer = "processing"  # fund_change N, and the query knew nothing either
    alipay.query_answer = "processing"
    refund = returned(shopper, shop, method="alipay", capture=django_capture_on_commit_callbacks)
    assert states(refund) == ("processing", "refunding")

    alipay.answer = "succeeded"
    monkeypatch.setattr(clock, "now", later(AFTER_THE_LEASE))
    assert poll_refunds.delay().get() == 1

    assert states(refund) == ("succeeded", "refunded")
    assert alipay.queries == [refund.out_refund_no]
    assert [call["out_refund_no"] for call in alipay.calls] == [refund.out_refund_no] * 2


def test_the_poller_leaves_a_refund_just_written_to_its_own_task(shopper, shop, providers):
    refund = returned(shopper, shop)  # its task has not run (no commit in this test)

    assert refunds.poll_refunds() == 0

    assert providers["wechat_pay"].calls == []
    assert states(refund) == ("pending", "refunding")


def test_a_refund_is_sent_by_one_worker_at_a_time(shopper, shop, providers):
    refund = returned(shopper, shop)

    assert refunds.send_refund(refund_id=refund.pk) == "processing"
    assert refunds.send_refund(refund_id=refund.pk) == "not_due"

    assert len(providers["wechat_pay"].calls) == 1


def test_a_refund_the_provider_refuses_needs_staff(shopper, shop, providers, django_capture_on_commit_callbacks):
    providers["wechat_pay"].answer = refused("NOT_ENOUGH")
    refund = returned(shopper, shop, capture=django_capture_on_commit_callbacks)

    assert states(refund) == ("failed", "needs_attention")
    assert refund.failure_code == "NOT_ENOUGH"
    assert events(refund, "refund_failed") == 1


def test_a_processing_refund_the_provider_never_saw_is_sent_again(shopper, shop, providers, monkeypatch):
    refund = returned(shopper, shop)
    Refund.objects.filter(pk=refund.pk).update(state=Refund.State.PROCESSING, last_attempt_at=clock.now())
    providers["wechat_pay"].query_answer = refused("RESOURCE_NOT_EXISTS")
    providers["wechat_pay"].answer = "succeeded"

    monkeypatch.setattr(clock, "now", later(AFTER_THE_LEASE))
    assert refunds.poll_refunds() == 1

    assert [call["out_refund_no"] for call in providers["wechat_pay"].calls] == [refund.out_refund_no]
    assert states(refund) == ("succeeded", "refunded")


def test_the_poller_records_a_wrong_amount_for_staff_and_goes_on(shopper, shop, providers, monkeypatch):
    first = returned(shopper, shop)
    second = returned(CustomerFactory(), shop)
    Refund.objects.update(state=Refund.State.PROCESSING, last_attempt_at=clock.now())
    real_query = providers["wechat_pay"].query_refund

    def query(*, out_trade_no, out_refund_no):
        answer = real_query(out_trade_no=out_trade_no, out_refund_no=out_refund_no)
        if out_refund_no == first.out_refund_no:
            return RefundStatus(**{**vars(answer), "amount_fen": 1})
        return answer

    providers["wechat_pay"].query_refund = query
    monkeypatch.setattr(clock, "now", later(AFTER_THE_LEASE))

    assert refunds.poll_refunds() == 1

    assert states(first) == ("processing", "refunding")
    assert states(second) == ("succeeded", "refunded")
    assert events(first, "refund_amount_mismatch") == 1


# --- Staff ------------------------------------------------------------------------------------


@pytest.fixture
def staff() -> Client:
    Customer.objects.create_superuser("boss", "a-strong-password")
    client = Client()
    client.login(username="boss", password="a-strong-password")
    return client


def test_staff_see_returns_and_refunds_and_mark_goods_received(shopper, shop, providers, staff):
    refund = returned(shopper, shop)
    back = Return.objects.get(pk=refund.return_request_id)

    for url in (
        "/admin/checkout/return/",
        "/admin/checkout/return/?refund_state__exact=refunding",
        f"/admin/checkout/return/{back.pk}/change/",
        "/admin/checkout/refund/",
        "/admin/checkout/refund/?state__exact=pending&tender__exact=wechat_pay",
        f"/admin/checkout/refund/{refund.pk}/change/",
    ):
        assert staff.get(url).status_code == 200, url
    page = staff.get(f"/admin/checkout/return/{back.pk}/change/").content.decode()
    assert refund.out_refund_no in page and shop.milk.sku in page  # the refunds and lines inline

    answer = staff.post(
        "/admin/checkout/return/", {"action": "mark_goods_received", "_selected_action": [back.pk]}, follow=True
    )

    assert answer.status_code == 200
    back.refresh_from_db()
    assert (back.goods_state, back.received_by) == ("received", "boss")
    assert staff.post(f"/admin/checkout/return/{back.pk}/delete/", {"post": "yes"}).status_code == 403


def test_staff_retry_a_failed_refund_from_the_list(shopper, shop, providers, staff, django_capture_on_commit_callbacks):
    providers["wechat_pay"].answer = refused()
    refund = returned(shopper, shop, capture=django_capture_on_commit_callbacks)
    assert states(refund) == ("failed", "needs_attention")
    providers["wechat_pay"].answer = "succeeded"

    with django_capture_on_commit_callbacks(execute=True):
        staff.post("/admin/checkout/refund/", {"action": "retry_selected", "_selected_action": [refund.pk]})

    assert states(refund) == ("succeeded", "refunded")
    assert OrderEvent.objects.get(order_id=refund.order_id, type="refund_retried").data["by"] == "boss"
    assert Order.objects.get(pk=refund.order_id).refunded_fen == 1190
