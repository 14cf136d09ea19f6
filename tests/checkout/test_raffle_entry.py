"""Entering a raffle with an unpaid order: a win re-prices the order before payment and
replaces its payment at the provider (the sandbox here); a loss or a refusal changes
nothing but what it must; a prize worth the whole order pays it at once; and a payment
superseded a moment after the shopper paid it still pays the order, flagged for staff."""

from __future__ import annotations

import datetime as dt

import pytest
import requests
from django.db.models import F
from django.utils import timezone
from rest_framework.test import APIClient

from checkout import raffle_entry, settlement
from checkout.models import Basket, ExitPass, Order, OrderEvent, OrderLine, Payment
from checkout.payments.base import TradeStatus
from miniprogram_api.accounts.tokens import issue_token
from miniprogram_api.core.errors import DomainError
from miniprogram_api.sandbox.models import AlipayTrade, WeChatPayTrade
from promotions.models import RaffleDay, RaffleEntry, RaffleShopperDay
from tests.checkout.shop import APPLE_PLU, MILK_EAN, make_shop, weight_label
from tests.factories import CustomerFactory
from tests.orders import make_order
from tests.promotions.raffle_setup import ALWAYS, NEVER, make_raffle

# 3 milk at this store's 11.90 and 500 g of apples at 19.90/kg (9.95): 45.65 RMB.
MILK_FEN, APPLES_FEN = 3 * 1190, 995
TOTAL_FEN = MILK_FEN + APPLES_FEN


@pytest.fixture
def shop():
    return make_shop()


def checked_out_order(shop, method: str = "wechat_pay") -> Order:
    """A shopper's scan & pay order awaiting payment, checked out through the API, so its
    trade exists at the sandbox provider."""
    customer = CustomerFactory()
    raw, _ = issue_token(customer=customer)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    basket_id = client.post("/api/v1/baskets", {"store_id": shop.store.pk}, format="json").json()["id"]
    client.post(f"/api/v1/baskets/{basket_id}/scan", {"barcode": MILK_EAN, "quantity": 3}, format="json")
    client.post(f"/api/v1/baskets/{basket_id}/scan", {"barcode": weight_label(APPLE_PLU, 500)}, format="json")
    response = client.post(f"/api/v1/baskets/{basket_id}/checkout", {"payment_method": method}, format="json")
    assert response.status_code == 201, response.content
    order = Order.objects.get(pk=response.json()["order"]["id"])
    order.client = client
    return order


def simple_order(shop, customer=None) -> Order:
    """An order awaiting payment, written by the real service but never sent to a provider."""
    customer = customer or CustomerFactory()
    return make_order(
        customer_id=customer.pk, store_id=shop.store.pk, items=[(shop.milk, 3, 1190), (shop.bread, 1, 1500)]
    )


def enter(order: Order, raffle) -> raffle_entry.RaffleResult:
    return raffle_entry.enter_raffle(customer_id=order.customer_id, raffle_id=raffle.pk, order_id=order.pk)


def at_provider(method: str, out_trade_no: str) -> tuple[int, str]:
    """What the sandbox provider holds: (amount in fen, its state)."""
    if method == "wechat_pay":
        trade = WeChatPayTrade.objects.get(out_trade_no=out_trade_no)
        return trade.amount_fen, trade.trade_state
    trade = AlipayTrade.objects.get(out_trade_no=out_trade_no)
    yuan, _, fen = trade.total_amount.partition(".")
    return int(yuan) * 100 + int(fen.ljust(2, "0")), trade.trade_status


def snapshot(order: Order) -> tuple:
    """Everything a refused or losing entry must leave as it was."""
    fresh = Order.objects.get(pk=order.pk)
    return (
        (fresh.state, fresh.discount_fen, fresh.total_fen, fresh.adjustments),
        list(OrderLine.objects.filter(order=order).values_list("pk", "discount_fen")),
        list(Payment.objects.filter(order=order).values_list("out_trade_no", "state", "amount_fen")),
        list(OrderEvent.objects.filter(order=order).values_list("type", flat=True)),
    )


def refused(order: Order, raffle, code: str) -> DomainError:
    before = snapshot(order)
    entries = RaffleEntry.objects.count()
    with pytest.raises(DomainError) as caught:
        enter(order, raffle)
    assert caught.value.code == code
    assert snapshot(order) == before
    assert RaffleEntry.objects.count() == entries
    return caught.value


# --- A win ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("method", ["wechat_pay", "alipay"])
def test_a_win_reprices_the_order_and_replaces_its_payment_which_then_pays_it(server, shop, method):
    order = checked_out_order(shop, method)
    raffle = make_raffle(win_probability_ppm=ALWAYS, prize_fen=1000)

    result = enter(order, raffle)

    assert (result.outcome, result.won, result.prize_fen) == ("won", True, 1000)
    fresh = Order.objects.get(pk=order.pk)
    assert (fresh.state, fresh.goods_subtotal_fen, fresh.discount_fen, fresh.total_fen) == (
        "pending_payment",
        TOTAL_FEN,
        1000,
        TOTAL_FEN - 1000,
    )
    # 1000 over 3570 and 995 by largest remainder: 782.04 and 217.96 -> 782 and 218.
    lines = list(OrderLine.objects.filter(order=order).order_by("pk"))
    assert [line.discount_fen for line in lines] == [782, 218]
    assert sum(line.discount_fen for line in lines) == fresh.discount_fen
    raffle_rows = [a for a in fresh.adjustments if a["source"] == "raffle"]
    assert raffle_rows == [
        {
            "source": "raffle",
            "promotion_id": raffle.pk,
            "line_id": lines[0].pk,
            "amount_fen": 782,
            "label": raffle.name,
        },
        {
            "source": "raffle",
            "promotion_id": raffle.pk,
            "line_id": lines[1].pk,
            "amount_fen": 218,
            "label": raffle.name,
        },
    ]
    old, new = Payment.objects.filter(order=order).order_by("pk")
    assert (old.out_trade_no, old.state, old.amount_fen) == (order.number, "closed", TOTAL_FEN)
    assert (new.out_trade_no, new.state, new.amount_fen) == (f"{order.number}R1", "pending", TOTAL_FEN - 1000)
    assert new.provider == method and new.client_params == result.payment_params and result.payment_params
    # At the provider: the old trade is closed, the new one asks for the new total.
    assert at_provider(method, old.out_trade_no)[1] in {"CLOSED", "TRADE_CLOSED"}
    waiting = "NOTPAY" if method == "wechat_pay" else "WAIT_BUYER_PAY"
    assert at_provider(method, new.out_trade_no) == (TOTAL_FEN - 1000, waiting)
    events = list(OrderEvent.objects.filter(order=order).values_list("type", "data"))
    assert [kind for kind, _ in events] == ["created", "raffle_won", "payment_superseded"]
    assert events[1][1]["prize_fen"] == 1000 and events[1][1]["total_fen"] == TOTAL_FEN - 1000
    assert events[2][1] == {"out_trade_no": old.out_trade_no, "amount_fen": TOTAL_FEN, "by": new.out_trade_no}
    assert result.order.total_fen == TOTAL_FEN - 1000
    assert RaffleDay.objects.get(raffle=raffle).spent_fen == 1000

    # Checking out again (the app was closed) resumes the new payment, not the superseded one.
    again = order.client.post(f"/api/v1/baskets/{order.basket_id}/checkout", {"payment_method": method}, format="json")
    assert again.status_code == 201
    assert again.json()["payment_params"] == result.payment_params
    assert again.json()["order"]["payment"]["out_trade_no"] == new.out_trade_no

    # The shopper pays the new amount; the sandbox notifies; the order is paid.
    assert requests.post(f"{server}/sandbox/payments/{new.out_trade_no}/confirm", timeout=20).json()["notified"]
    fresh.refresh_from_db()
    assert fresh.state == Order.State.PAID
    assert Payment.objects.get(pk=new.pk).state == "paid" and Payment.objects.get(pk=old.pk).state == "closed"
    assert Basket.objects.get(pk=order.basket_id).status == Basket.Status.CHECKED_OUT
    assert ExitPass.objects.get(order=order).total_fen == TOTAL_FEN - 1000
    assert not OrderEvent.objects.filter(order=order, type__in=["paid_superseded_payment", "paid_twice"]).exists()
    # The superseded trade can no longer be paid.
    assert requests.post(f"{server}/sandbox/payments/{old.out_trade_no}/confirm", timeout=20).status_code == 409


@pytest.mark.django_db(transaction=True)
def test_a_prize_worth_more_than_the_order_takes_it_to_zero_and_pays_it_at_once(server, shop):
    order = checked_out_order(shop)
    raffle = make_raffle(win_probability_ppm=ALWAYS, prize_fen=8800, daily_prize_budget_fen=8800)

    result = enter(order, raffle)

    assert (result.outcome, result.prize_fen, result.payment_params) == ("won", TOTAL_FEN, None)
    fresh = Order.objects.get(pk=order.pk)
    assert (fresh.state, fresh.discount_fen, fresh.total_fen) == ("paid", TOTAL_FEN, 0)
    assert fresh.paid_at is not None
    assert [line.discount_fen for line in OrderLine.objects.filter(order=order).order_by("pk")] == [
        MILK_FEN,
        APPLES_FEN,
    ]
    # No new payment; the old one is closed here and at the provider.
    assert list(Payment.objects.filter(order=order).values_list("out_trade_no", "state")) == [(order.number, "closed")]
    assert at_provider("wechat_pay", order.number)[1] == "CLOSED"
    paid = OrderEvent.objects.get(order=order, type="paid")
    assert (paid.from_state, paid.to_state, paid.data["source"]) == ("pending_payment", "paid", "raffle_prize")
    # The after-payment task ran as for any paid order: stock taken, exit pass ready.
    assert OrderEvent.objects.filter(order=order, type="stock_committed").count() == 1
    assert ExitPass.objects.get(order=order).total_fen == 0
    assert Basket.objects.get(pk=order.basket_id).status == Basket.Status.CHECKED_OUT
    # Only what the order could take was spent from the day's budget.
    assert RaffleDay.objects.get(raffle=raffle).spent_fen == TOTAL_FEN
    assert result.order.state == "paid"


# --- A superseded payment that was paid after all --------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_superseded_payment_paid_just_before_the_win_still_pays_the_order_and_is_flagged(server, shop):
    order = checked_out_order(shop)
    # The shopper confirmed the old prepay on the phone a moment before; no notification yet.
    WeChatPayTrade.objects.filter(out_trade_no=order.number).update(
        trade_state="SUCCESS", transaction_id="4200001234202608080000000001", success_time=timezone.now()
    )
    raffle = make_raffle(win_probability_ppm=ALWAYS, prize_fen=1000)

    result = enter(order, raffle)

    # Closing the old trade fails (paid): asked, the provider says paid, and that pays the order.
    assert result.won and result.payment_params is None
    fresh = Order.objects.get(pk=order.pk)
    assert (fresh.state, fresh.total_fen) == ("paid", TOTAL_FEN - 1000)
    old, new = Payment.objects.filter(order=order).order_by("pk")
    assert (old.state, new.state) == ("paid", "closed")
    assert not WeChatPayTrade.objects.filter(out_trade_no=new.out_trade_no).exists()  # never created there
    flag = OrderEvent.objects.get(order=order, type="paid_superseded_payment")
    assert flag.data == {
        "out_trade_no": order.number,
        "amount_fen": TOTAL_FEN,
        "order_total_fen": TOTAL_FEN - 1000,
        "overpaid_fen": 1000,
        "closed_payments": [new.out_trade_no],
    }
    assert OrderEvent.objects.get(order=order, type="paid").data["source"] == "superseded_close"
    assert result.order.state == "paid"


@pytest.mark.django_db(transaction=True)
def test_a_superseded_payment_reported_paid_later_pays_the_order_and_a_second_payment_is_flagged(server, shop):
    order = checked_out_order(shop)
    enter(order, make_raffle(win_probability_ppm=ALWAYS, prize_fen=1000))
    old, new = Payment.objects.filter(order=order).order_by("pk")

    # The provider's notification for the old prepay (paid before its close reached it).
    settled = settlement.apply_trade_status(
        provider="wechat_pay",
        status=TradeStatus(out_trade_no=old.out_trade_no, state="paid", amount_fen=TOTAL_FEN, provider_trade_id="42"),
        source="notification",
    )

    assert settled.outcome == "paid"
    assert Order.objects.get(pk=order.pk).state == Order.State.PAID
    assert Payment.objects.get(pk=old.pk).state == "paid" and Payment.objects.get(pk=new.pk).state == "closed"
    flag = OrderEvent.objects.get(order=order, type="paid_superseded_payment")
    assert flag.data["overpaid_fen"] == 1000 and flag.data["closed_payments"] == [new.out_trade_no]
    assert OrderEvent.objects.filter(order=order, type="stock_committed").count() == 1

    # The shopper pays the new prepay too: kept as paid, flagged in full for a refund.
    again = settlement.apply_trade_status(
        provider="wechat_pay",
        status=TradeStatus(out_trade_no=new.out_trade_no, state="paid", amount_fen=TOTAL_FEN - 1000),
        source="notification",
    )

    assert again.outcome == "paid"
    twice = OrderEvent.objects.get(order=order, type="paid_twice")
    assert twice.data["out_trade_no"] == new.out_trade_no and twice.data["overpaid_fen"] == TOTAL_FEN - 1000
    assert OrderEvent.objects.filter(order=order, type="paid").count() == 1
    assert OrderEvent.objects.filter(order=order, type="stock_committed").count() == 1


# --- A loss, and refusals ---------------------------------------------------------------------


@pytest.mark.django_db
def test_a_loss_changes_nothing_on_the_order_but_is_recorded(shop):
    order = simple_order(shop)
    raffle = make_raffle(win_probability_ppm=NEVER)
    before = snapshot(order)

    result = enter(order, raffle)

    assert (result.outcome, result.won, result.prize_fen, result.payment_params) == ("lost", False, 0, None)
    assert snapshot(order) == before
    entry = RaffleEntry.objects.get(pk=result.entry_id)
    assert (entry.order_id, entry.customer_id, entry.outcome, entry.won) == (order.pk, order.customer_id, "lost", False)
    assert RaffleShopperDay.objects.get(raffle=raffle, customer_id=order.customer_id).entries == 1
    assert not RaffleDay.objects.exists()


@pytest.mark.django_db
def test_a_win_when_the_days_budget_is_spent_changes_nothing_but_is_recorded(shop):
    raffle = make_raffle(win_probability_ppm=ALWAYS, prize_fen=1000, daily_prize_budget_fen=2000)
    RaffleDay.objects.create(raffle=raffle, date=timezone.localdate(), budget_fen=2000, spent_fen=1500)
    order = simple_order(shop)
    before = snapshot(order)

    result = enter(order, raffle)

    assert (result.outcome, result.won, result.prize_fen, result.payment_params) == ("budget_exhausted", False, 0, None)
    assert snapshot(order) == before
    assert RaffleEntry.objects.get(pk=result.entry_id).outcome == "budget_exhausted"
    assert RaffleDay.objects.get(raffle=raffle).spent_fen == 1500


@pytest.mark.django_db
def test_an_entry_over_the_daily_limit_is_refused(shop):
    customer = CustomerFactory()
    raffle = make_raffle(win_probability_ppm=NEVER, daily_entries_per_customer=2)
    first, second, third = (simple_order(shop, customer) for _ in range(3))
    enter(first, raffle)
    enter(second, raffle)

    error = refused(third, raffle, "raffle_entry_limit_reached")

    assert error.details == {"daily_entries_per_customer": 2}
    assert RaffleShopperDay.objects.get(raffle=raffle, customer=customer).entries == 2


@pytest.mark.django_db
@pytest.mark.parametrize("state", ["paid", "closed", "cancelled", "overdue"])
def test_an_order_that_cannot_be_paid_now_cannot_enter(shop, state):
    order = simple_order(shop)
    if state == "overdue":
        Order.objects.filter(pk=order.pk).update(payment_deadline=timezone.now() - dt.timedelta(seconds=1))
    else:
        Order.objects.filter(pk=order.pk).update(state=state)
    raffle = make_raffle(win_probability_ppm=ALWAYS)

    error = refused(order, raffle, "order_not_payable")

    assert error.details["state"] == ("pending_payment" if state == "overdue" else state)
    assert not RaffleShopperDay.objects.exists() and not RaffleDay.objects.exists()


@pytest.mark.django_db
def test_another_shoppers_order_is_not_found(shop):
    order = simple_order(shop)
    raffle = make_raffle(win_probability_ppm=ALWAYS)
    stranger = CustomerFactory()
    before = snapshot(order)

    with pytest.raises(DomainError) as caught:
        raffle_entry.enter_raffle(customer_id=stranger.pk, raffle_id=raffle.pk, order_id=order.pk)

    assert caught.value.code == "order_not_found"
    assert snapshot(order) == before
    assert not RaffleEntry.objects.exists() and not RaffleShopperDay.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("order_id", [0, -1, 2**63, 10**6])
def test_an_unknown_order_is_not_found(shop, order_id):
    raffle = make_raffle()
    with pytest.raises(DomainError) as caught:
        raffle_entry.enter_raffle(customer_id=CustomerFactory().pk, raffle_id=raffle.pk, order_id=order_id)
    assert caught.value.code == "order_not_found"
    assert not RaffleEntry.objects.exists()


@pytest.mark.django_db
def test_a_raffle_outside_its_window_is_refused(shop):
    now = timezone.now()
    ended = make_raffle(starts_at=now - dt.timedelta(days=2), ends_at=now - dt.timedelta(days=1))
    upcoming = make_raffle(starts_at=now + dt.timedelta(days=1), ends_at=now + dt.timedelta(days=2))
    order = simple_order(shop)

    refused(order, ended, "raffle_not_live")
    refused(order, upcoming, "raffle_not_live")
    assert not RaffleShopperDay.objects.exists()


@pytest.mark.django_db
def test_an_unknown_or_switched_off_raffle_is_not_found(shop):
    order = simple_order(shop)
    off = make_raffle(active=False, win_probability_ppm=ALWAYS)

    refused(order, off, "raffle_not_found")
    off.pk += 1000
    refused(order, off, "raffle_not_found")


@pytest.mark.django_db
def test_a_second_entry_with_the_same_order_is_refused(shop):
    order = simple_order(shop)
    raffle = make_raffle(win_probability_ppm=NEVER, daily_entries_per_customer=5)
    enter(order, raffle)

    refused(order, raffle, "raffle_already_entered")

    assert RaffleEntry.objects.filter(raffle=raffle, order_id=order.pk).count() == 1
    assert RaffleShopperDay.objects.get(raffle=raffle).entries == 1


@pytest.mark.django_db
def test_an_order_with_nothing_left_to_take_off_is_refused(shop):
    order = simple_order(shop)
    subtotal = order.goods_subtotal_fen
    OrderLine.objects.filter(order=order).update(discount_fen=F("line_total_fen"))
    Order.objects.filter(pk=order.pk).update(discount_fen=subtotal, total_fen=0)

    refused(order, make_raffle(win_probability_ppm=ALWAYS), "order_nothing_to_discount")
