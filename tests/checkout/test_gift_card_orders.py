"""Buying and topping up gift cards: the order and its payment, the amounts allowed, the cap,
and the card issued or credited once the payment is confirmed (never before, never twice).
The last tests walk buy -> pay -> card over HTTP with the sandbox provider."""

from __future__ import annotations

import pytest
import requests
from django.db import transaction

from checkout import gift_card_orders, settlement
from checkout.gift_card_orders import GiftCardTopUpPending
from checkout.models import Order, OrderEvent, Payment
from checkout.payments.base import TradeStatus
from checkout.scan_and_pay import PaymentMethodUnavailable
from miniprogram_api.core import clock
from promotions import gift_card_ledger as ledger
from promotions import gift_cards
from promotions.gift_cards import (
    GiftCardAmountNotOffered,
    GiftCardAmountNotPositive,
    GiftCardBeingShared,
    GiftCardCapExceeded,
    GiftCardFrozen,
    GiftCardNotFound,
)
from promotions.models import GiftCard, GiftCardShare, GiftCardTransaction
from tests.factories import CustomerFactory, client_for
from tests.promotions.gift_card_setup import default_denominations, hold_on, make_card

FAKE_PARAMS = {"appId": "wx-test", "package": "prepay_id=wx-test"}


@pytest.fixture
def no_provider(monkeypatch):
    """Creating the trade at WeChat Pay or Alipay is the scan & pay code's job, tested there."""
    created = []

    def create_at_provider(payment):
        created.append((payment.provider, payment.out_trade_no, payment.amount_fen))
        Payment.objects.filter(pk=payment.pk).update(client_params=FAKE_PARAMS)
        return FAKE_PARAMS

    monkeypatch.setattr("checkout.scan_and_pay.create_at_provider", create_at_provider)
    return created


@pytest.fixture
def shopper(db):
    default_denominations()
    return CustomerFactory()


def pay(order: Order) -> None:
    """A verified "paid" from the provider, as a notification or a query delivers it."""
    payment = Payment.objects.get(order=order)
    status = TradeStatus(
        out_trade_no=payment.out_trade_no,
        state="paid",
        amount_fen=payment.amount_fen,
        provider_trade_id="4200000000202611220000000001",
        paid_at=clock.now(),
    )
    settlement.apply_trade_status(provider=payment.provider, status=status, source="notification")


def buy(shopper, amount_fen: int, method: str = "wechat_pay") -> Order:
    return gift_card_orders.buy_gift_card(customer_id=shopper.pk, amount_fen=amount_fen, payment_method=method).order


def top_up(shopper, card: GiftCard, amount_fen: int) -> Order:
    return gift_card_orders.top_up_gift_card(
        customer_id=shopper.pk, card_id=card.pk, amount_fen=amount_fen, payment_method="wechat_pay"
    ).order


def ledger_of(card: GiftCard) -> list[tuple[str, int, int | None]]:
    return list(card.transactions.order_by("pk").values_list("kind", "amount_fen", "order_id"))


# --- Buying ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_buying_writes_a_gift_card_order_and_its_payment_but_no_card_yet(shopper, no_provider):
    result = gift_card_orders.buy_gift_card(customer_id=shopper.pk, amount_fen=20_000, payment_method="alipay")

    order = Order.objects.get()
    assert (order.kind, order.channel, order.state, order.store_id, order.payment_method) == (
        "gift_card",
        "online",
        "pending_payment",
        None,
        "alipay",
    )
    assert (order.item_count, order.goods_subtotal_fen, order.discount_fen, order.total_fen) == (0, 20_000, 0, 20_000)
    assert (order.gift_card_fen, order.gift_card_id, order.lines.count()) == (0, None, 0)
    payment = Payment.objects.get()
    assert (payment.order_id, payment.provider, payment.amount_fen, payment.state) == (
        order.pk,
        "alipay",
        20_000,
        "pending",
    )
    assert no_provider == [("alipay", order.number, 20_000)]
    assert result.payment_params == FAKE_PARAMS and result.order.pk == order.pk
    assert not GiftCard.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("amount_fen", [5_000, 100_000, 1_000, 1_234, 99_999])
def test_a_denomination_or_a_custom_amount_in_range_can_be_bought(shopper, no_provider, amount_fen):
    assert buy(shopper, amount_fen).total_fen == amount_fen


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("amount_fen", "error"),
    [
        (0, GiftCardAmountNotPositive),
        (-5_000, GiftCardAmountNotPositive),
        (999, GiftCardAmountNotOffered),
        (1, GiftCardAmountNotOffered),
        (100_001, GiftCardCapExceeded),
        (10**12, GiftCardCapExceeded),
    ],
)
def test_an_amount_outside_the_rules_is_refused_and_writes_nothing(shopper, no_provider, amount_fen, error):
    with pytest.raises(error):
        buy(shopper, amount_fen)
    assert not Order.objects.exists() and not Payment.objects.exists() and no_provider == []


@pytest.mark.django_db
def test_a_small_denomination_staff_added_may_be_bought_below_the_custom_minimum(shopper, no_provider, settings):
    from promotions.models import GiftCardDenomination

    settings.GIFT_CARD_CUSTOM_MIN_FEN = 2_000
    with pytest.raises(GiftCardAmountNotOffered) as refused:
        buy(shopper, 1_000)
    assert refused.value.details["custom_min_fen"] == 2_000
    GiftCardDenomination.objects.create(amount_fen=1_000)

    assert buy(shopper, 1_000).total_fen == 1_000
    GiftCardDenomination.objects.filter(amount_fen=1_000).update(active=False)
    with pytest.raises(GiftCardAmountNotOffered):
        buy(shopper, 1_000)


@pytest.mark.django_db
def test_a_payment_method_that_is_switched_off_is_refused(shopper, no_provider, settings):
    settings.PAYMENT_METHODS = ["wechat_pay"]
    with pytest.raises(PaymentMethodUnavailable):
        buy(shopper, 5_000, method="alipay")
    assert not Order.objects.exists()


# --- The card is issued when the payment is confirmed ----------------------------------------


@pytest.mark.django_db
def test_the_confirmed_payment_issues_the_card_to_the_buyer(shopper, no_provider):
    order = buy(shopper, 20_000)

    pay(order)

    order.refresh_from_db()
    card = GiftCard.objects.get()
    assert order.state == "paid" and order.gift_card_id == card.pk
    assert (card.owner_id, card.purchaser_id, card.balance_fen, card.held_fen, card.initial_fen, card.status) == (
        shopper.pk,
        shopper.pk,
        20_000,
        0,
        20_000,
        "active",
    )
    assert card.issued_order_id == order.pk and len(card.code) == 16 and card.code.isdigit()
    assert ledger_of(card) == [("issue", 20_000, order.pk)]
    event = OrderEvent.objects.get(order=order, type="gift_card_issued")
    assert event.data == {"gift_card_id": card.pk, "amount_fen": 20_000}


@pytest.mark.django_db
def test_on_paid_twice_issues_one_card(shopper, no_provider):
    order = buy(shopper, 5_000)
    pay(order)

    gift_card_orders.on_paid(order_id=order.pk)
    pay(order)  # a replayed notification

    assert GiftCard.objects.count() == 1
    assert OrderEvent.objects.filter(order=order, type="gift_card_issued").count() == 1
    assert GiftCardTransaction.objects.count() == 1


@pytest.mark.django_db
def test_on_paid_refuses_an_unpaid_order_and_ignores_goods(shopper, no_provider):
    order = buy(shopper, 5_000)

    with pytest.raises(ValueError, match="pending_payment"):
        gift_card_orders.on_paid(order_id=order.pk)
    Order.objects.filter(pk=order.pk).update(kind=Order.Kind.GOODS, state=Order.State.PAID)
    gift_card_orders.on_paid(order_id=order.pk)
    gift_card_orders.on_paid(order_id=order.pk + 1000)

    assert not GiftCard.objects.exists()


@pytest.mark.django_db
def test_an_order_closed_unpaid_issues_no_card(shopper, no_provider):
    order = buy(shopper, 5_000)
    payment = Payment.objects.get(order=order)

    settlement.apply_trade_status(
        provider="wechat_pay", status=TradeStatus(out_trade_no=payment.out_trade_no, state="closed"), source="query"
    )

    assert not GiftCard.objects.exists()


# --- Topping up ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_top_up_is_credited_to_the_card_when_paid(shopper, no_provider):
    card = make_card(shopper, 20_000)

    order = top_up(shopper, card, 10_000)
    card.refresh_from_db()
    assert (order.kind, order.gift_card_id, order.total_fen, card.balance_fen) == (
        "gift_card_top_up",
        card.pk,
        10_000,
        20_000,
    )

    pay(order)

    card.refresh_from_db()
    assert card.balance_fen == 30_000
    assert ledger_of(card)[-1] == ("top_up", 10_000, order.pk)
    event = OrderEvent.objects.get(order=order, type="gift_card_topped_up")
    assert event.data == {"gift_card_id": card.pk, "amount_fen": 10_000, "overflow_gift_card_id": None,
                          "overflow_fen": 0}  # fmt: skip
    gift_card_orders.on_paid(order_id=order.pk)
    card.refresh_from_db()
    assert card.balance_fen == 30_000 and GiftCard.objects.count() == 1


@pytest.mark.django_db
def test_a_top_up_past_the_cap_is_refused(shopper, no_provider):
    card = make_card(shopper, 90_000)

    with pytest.raises(GiftCardCapExceeded) as refused:
        top_up(shopper, card, 10_001)

    assert refused.value.details["room_fen"] == 10_000
    assert not Order.objects.exists()
    assert top_up(shopper, card, 10_000).total_fen == 10_000


@pytest.mark.django_db
def test_money_held_and_top_ups_awaiting_payment_count_towards_the_cap(shopper, no_provider):
    card = make_card(shopper, 80_000)
    hold_on(card, 5_000)
    first = top_up(shopper, card, 15_000)

    with pytest.raises(GiftCardCapExceeded) as refused:
        top_up(shopper, card, 5_001)
    details = refused.value.details
    assert (details["balance_fen"], details["held_fen"], details["pending_top_ups_fen"]) == (75_000, 5_000, 15_000)
    assert details["room_fen"] == 5_000
    assert Order.objects.count() == 1

    Order.objects.filter(pk=first.pk).update(state=Order.State.CLOSED)  # not paid in time
    assert top_up(shopper, card, 5_001).total_fen == 5_001


@pytest.mark.django_db
def test_exactly_what_fills_the_card_may_be_topped_up_even_below_the_minimum(shopper, no_provider):
    card = make_card(shopper, 99_500)

    with pytest.raises(GiftCardAmountNotOffered):
        top_up(shopper, card, 400)
    assert top_up(shopper, card, 500).total_fen == 500


@pytest.mark.django_db
@pytest.mark.parametrize("amount_fen", [0, -1_000])
def test_a_zero_or_negative_top_up_is_refused(shopper, no_provider, amount_fen):
    card = make_card(shopper, 10_000)
    with pytest.raises(GiftCardAmountNotPositive):
        top_up(shopper, card, amount_fen)
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_only_ones_own_active_card_not_offered_to_a_friend_can_be_topped_up(shopper, no_provider):
    card = make_card(shopper, 10_000)
    other = CustomerFactory()

    with pytest.raises(GiftCardNotFound):
        top_up(other, card, 5_000)
    with pytest.raises(GiftCardNotFound):
        gift_card_orders.top_up_gift_card(customer_id=shopper.pk, card_id=0, amount_fen=5_000, payment_method="alipay")
    gift_cards.share_card(customer_id=shopper.pk, card_id=card.pk)
    with pytest.raises(GiftCardBeingShared):
        top_up(shopper, card, 5_000)
    gift_cards.cancel_share(customer_id=shopper.pk, card_id=card.pk)
    gift_cards.freeze_card(card_id=card.pk, reason="fraud check")
    with pytest.raises(GiftCardFrozen):
        top_up(shopper, card, 5_000)
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_a_top_up_paid_after_the_card_was_given_away_goes_onto_a_new_card_of_the_payer(shopper, no_provider):
    card = make_card(shopper, 20_000)
    order = top_up(shopper, card, 10_000)
    friend = CustomerFactory()
    gift_cards.claim_share(
        customer_id=friend.pk, token=gift_cards.share_card(customer_id=shopper.pk, card_id=card.pk).token
    )

    pay(order)

    card.refresh_from_db()
    assert (card.owner_id, card.balance_fen) == (friend.pk, 20_000)
    new_card = GiftCard.objects.exclude(pk=card.pk).get()
    assert (new_card.owner_id, new_card.balance_fen, new_card.issued_order_id) == (shopper.pk, 10_000, order.pk)
    event = OrderEvent.objects.get(order=order, type="gift_card_topped_up")
    assert (event.data["amount_fen"], event.data["overflow_fen"], event.data["overflow_gift_card_id"]) == (
        0,
        10_000,
        new_card.pk,
    )
    assert ledger.ledger_problems() == []


@pytest.mark.django_db
def test_what_no_longer_fits_when_the_top_up_is_paid_goes_onto_a_new_card(shopper, no_provider):
    card = make_card(shopper, 85_000)
    order = top_up(shopper, card, 15_000)
    with transaction.atomic():  # meanwhile a refund of an earlier purchase came back to the card
        ledger.credit(ledger.lock_cards([card.pk])[card.pk], amount_fen=5_000, kind="refund",
                      customer_id=shopper.pk, refund_id=1)  # fmt: skip

    pay(order)

    card.refresh_from_db()
    assert card.balance_fen == 100_000
    assert GiftCard.objects.exclude(pk=card.pk).get().balance_fen == 5_000
    assert GiftCard.objects.filter(owner=shopper).count() == 2
    assert ledger.ledger_problems() == []


@pytest.mark.django_db
def test_a_top_up_paid_while_staff_froze_the_card_still_reaches_it(shopper, no_provider):
    card = make_card(shopper, 10_000)
    order = top_up(shopper, card, 5_000)
    gift_cards.freeze_card(card_id=card.pk, reason="checking")

    pay(order)

    card.refresh_from_db()
    assert (card.status, card.balance_fen) == ("frozen", 15_000)


@pytest.mark.django_db
def test_a_card_with_a_top_up_awaiting_payment_is_not_offered_to_a_friend(shopper, no_provider):
    card = make_card(shopper, 10_000)
    order = top_up(shopper, card, 5_000)

    with pytest.raises(GiftCardTopUpPending) as refused:
        gift_card_orders.share_card(customer_id=shopper.pk, card_id=card.pk)
    assert refused.value.details["pending_top_ups_fen"] == 5_000
    with pytest.raises(GiftCardNotFound):
        gift_card_orders.share_card(customer_id=CustomerFactory().pk, card_id=card.pk)
    assert not GiftCardShare.objects.exists()

    pay(order)
    assert gift_card_orders.share_card(customer_id=shopper.pk, card_id=card.pk).amount_fen == 15_000


# --- Over HTTP, paid at the sandbox ----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("method", ["wechat_pay", "alipay"])
def test_buy_pay_and_top_up_over_http_puts_the_money_on_the_card(server, method):
    default_denominations()
    shopper = CustomerFactory()
    client = client_for(shopper)

    bought = client.post("/api/v1/gift-cards", {"amount_fen": 20_000, "payment_method": method}, format="json")
    assert bought.status_code == 201, bought.content
    assert bought.json()["payment_params"]
    number = bought.json()["order"]["number"]
    assert client.get("/api/v1/gift-cards").json()["results"] == []

    confirmed = requests.post(f"{server}/sandbox/payments/{number}/confirm", timeout=20).json()
    assert confirmed["notified"], confirmed

    order = Order.objects.get(number=number)
    assert order.state == "paid" and order.gift_card_id is not None
    cards = client.get("/api/v1/gift-cards").json()["results"]
    assert [(c["id"], c["balance_fen"], c["initial_fen"], c["status"]) for c in cards] == [
        (order.gift_card_id, 20_000, 20_000, "active")
    ]

    topped = client.post(
        f"/api/v1/gift-cards/{order.gift_card_id}/top-up",
        {"amount_fen": 5_000, "payment_method": method},
        format="json",
    )
    assert topped.status_code == 201, topped.content
    assert requests.post(f"{server}/sandbox/payments/{topped.json()['order']['number']}/confirm", timeout=20).json()[
        "notified"
    ]

    detail = client.get(f"/api/v1/gift-cards/{order.gift_card_id}").json()
    assert detail["balance_fen"] == 25_000
    assert [(row["kind"], row["amount_fen"]) for row in detail["transactions"]] == [
        ("issue", 20_000),
        ("top_up", 5_000),
    ]
    assert ledger.ledger_problems() == []
