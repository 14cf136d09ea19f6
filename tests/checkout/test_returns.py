"""Returns as the service takes them: what comes back, what it is worth, which tender gets
the money, and every return that must be refused with nothing written."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction

from checkout import after_payment, returns
from checkout.after_payment import commit_store_stock
from checkout.models import Order, OrderEvent, Refund, Return
from checkout.orders import OrderNotFound
from miniprogram_api.core import clock
from promotions import gift_card_ledger
from promotions.models import Coupon, GiftCard, GiftCardTransaction
from stores.models import Stock
from tests.checkout.returned_orders import (
    FakeProvider,
    Item,
    card_money,
    line_of,
    lines,
    paid_order,
    pending_order,
    ship_and_deliver,
)
from tests.checkout.shop import make_shop
from tests.factories import CustomerFactory, LocationFactory, ProductFactory, StockFactory
from tests.promotions.coupon_templates import held_coupon

pytestmark = pytest.mark.django_db


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


def three_milks(shopper, shop, **kwargs) -> Order:
    """Three milks at 11.90 with 3.00 of discounts on the line: its net is 32.70."""
    return paid_order(shopper, store=shop.store, items=[Item(shop.milk, 3, 1190, discount_fen=300)], **kwargs)


def give_back(shopper, order: Order, *pairs, reason: str = "") -> Return:
    return returns.create_return(customer_id=shopper.pk, order_id=order.pk, lines=lines(*pairs), reason=reason)


def refunds_of(return_request: Return) -> list[tuple[str, int, str]]:
    return list(
        Refund.objects.filter(return_request=return_request).order_by("pk").values_list("tender", "amount_fen", "state")
    )


# --- What a return is worth -------------------------------------------------------------------


def test_a_partial_return_refunds_the_units_share_after_discounts_to_wechat_pay(
    shopper, shop, providers, django_capture_on_commit_callbacks
):
    order = three_milks(shopper, shop)

    with django_capture_on_commit_callbacks(execute=True):
        back = give_back(shopper, order, (line_of(order, shop.milk), 1), reason="Changed my mind")

    # 3270 net over 3 units: the first is floor(3270 / 3) = 1090.
    assert (back.goods_fen, back.delivery_fee_fen, back.amount_fen, back.full) == (1090, 0, 1090, False)
    assert back.number == f"{order.number}R1"
    assert refunds_of(back) == [("wechat_pay", 1090, "processing")]
    (call,) = providers["wechat_pay"].calls
    assert call["out_refund_no"] == f"{order.number}F1"
    assert (call["out_trade_no"], call["refund_fen"], call["total_fen"]) == (order.number, 1090, 3270)
    assert call["notify_url"].endswith("/api/payments/wechatpay/notify")
    assert call["reason"] == "Changed my mind"
    order.refresh_from_db()
    assert (order.state, order.refunded_fen) == (Order.State.PARTIALLY_REFUNDED, 1090)
    assert OrderEvent.objects.filter(order=order, type="returned", to_state="partially_refunded").count() == 1


def test_returning_every_unit_one_by_one_refunds_exactly_the_lines_net(shopper, shop, providers):
    order = three_milks(shopper, shop)
    milk = line_of(order, shop.milk)

    amounts = [give_back(shopper, order, (milk, 1)).amount_fen for _ in range(3)]

    assert amounts == [1090, 1090, 1090]
    order.refresh_from_db()
    assert (order.state, order.refunded_fen) == (Order.State.REFUNDED, 3270)
    assert [r.full for r in Return.objects.filter(order=order).order_by("pk")] == [False, False, True]


def test_cumulative_rounding_gives_the_odd_fen_to_the_last_unit(shopper, shop, providers):
    # 10.00 net over 3 units: 333, 333, 334 whichever way they come back.
    order = paid_order(shopper, store=shop.store, items=[Item(shop.milk, 3, 400, discount_fen=200)])
    milk = line_of(order, shop.milk)

    first = give_back(shopper, order, (milk, 2))
    last = give_back(shopper, order, (milk, 1))

    assert (first.amount_fen, last.amount_fen) == (666, 334)


def test_a_weighed_line_comes_back_whole(shopper, shop, providers):
    order = paid_order(
        shopper,
        store=shop.store,
        items=[Item(shop.milk, 1, 1190), Item(shop.apples, 1, 995, discount_fen=95, weight_g=500)],
    )

    back = give_back(shopper, order, (line_of(order, shop.apples), 1))

    assert back.amount_fen == 900
    assert Order.objects.get(pk=order.pk).state == Order.State.PARTIALLY_REFUNDED


def test_a_full_return_of_a_delivery_order_refunds_the_fee_and_gives_back_a_valid_coupon(shopper, shop, providers):
    other_orders = held_coupon(shopper, status=Coupon.Status.USED, order_id=999_999)
    order = paid_order(
        shopper,
        store=None,
        channel=Order.Channel.DELIVERY,
        items=[Item(shop.milk, 2, 1290, discount_fen=500), Item(shop.bread, 1, 1500)],
        delivery_fee_fen=800,
    )
    valid = held_coupon(shopper, status=Coupon.Status.USED, order_id=order.pk)
    dead = held_coupon(
        shopper, status=Coupon.Status.USED, order_id=order.pk, valid_until=clock.now() - dt.timedelta(hours=1)
    )
    ship_and_deliver(order, [(shop.store, {shop.milk: 2, shop.bread: 1})])

    first = give_back(shopper, order, (line_of(order, shop.milk), 2))
    assert (first.amount_fen, first.full) == (2080, False)
    assert Coupon.objects.get(pk=valid.pk).status == Coupon.Status.USED

    last = give_back(shopper, order, (line_of(order, shop.bread), 1))

    assert (last.goods_fen, last.delivery_fee_fen, last.amount_fen, last.full) == (1500, 800, 2300, True)
    order.refresh_from_db()
    assert (order.state, order.refunded_fen, order.total_fen) == (Order.State.REFUNDED, 4380, 4380)
    valid.refresh_from_db()
    assert (valid.status, valid.order_id) == (Coupon.Status.AVAILABLE, None)
    assert Coupon.objects.get(pk=dead.pk).status == Coupon.Status.USED  # past its validity: stays used
    assert Coupon.objects.get(pk=other_orders.pk).status == Coupon.Status.USED
    assert OrderEvent.objects.get(order=order, type="coupons_restored").data == {"coupon_ids": [valid.pk]}


# --- Gift cards and the split --------------------------------------------------------------


def test_gift_card_and_wechat_pay_share_the_refund_in_proportion(shopper, shop, providers):
    card = gift_card_ledger_card(shopper, 50_000)
    # 100.00 of goods: the card pays 30.00, WeChat Pay 70.00.
    order = paid_order(shopper, store=shop.store, items=[Item(shop.milk, 4, 2500)], cards={card: 3000})
    assert card_money(card) == (47_000, 0)

    back = give_back(shopper, order, (line_of(order, shop.milk), 1))

    # 25.00 back: the card floor(3000 * 2500 / 10000) = 750, WeChat Pay the rest.
    # The card's part is credited in the return's transaction; WeChat Pay's is sent after it.
    assert refunds_of(back) == [("gift_card", 750, "succeeded"), ("wechat_pay", 1750, "pending")]
    assert card_money(card) == (47_750, 0)
    refund = Refund.objects.get(return_request=back, tender="gift_card")
    assert refund.data == {"card_id": card.pk, "credited_fen": 750, "overflow_card_id": None, "overflow_fen": 0}
    assert GiftCardTransaction.objects.get(card=card, kind="refund").refund_id == refund.pk

    rest = give_back(shopper, order, (line_of(order, shop.milk), 3))

    # The last return empties every tender exactly: 3000 to the card, 7000 to WeChat Pay.
    assert refunds_of(rest) == [("gift_card", 2250, "succeeded"), ("wechat_pay", 5250, "pending")]
    assert card_money(card) == (50_000, 0)
    assert gift_card_ledger.ledger_problems([card.pk]) == []


def test_an_order_paid_by_gift_card_alone_is_refunded_at_once(shopper, shop, providers):
    card = gift_card_ledger_card(shopper, 10_000)
    order = paid_order(shopper, store=shop.store, items=[Item(shop.milk, 2, 1190)], cards={card: 2380})
    assert Order.objects.get(pk=order.pk).gift_card_fen == 2380

    back = give_back(shopper, order, (line_of(order, shop.milk), 1))

    assert refunds_of(back) == [("gift_card", 1190, "succeeded")]
    back.refresh_from_db()
    assert back.refund_state == Return.RefundState.REFUNDED and back.refunded_at is not None
    assert card_money(card) == (10_000 - 2380 + 1190, 0)
    assert providers["wechat_pay"].calls == []


def test_a_refund_past_the_cards_cap_goes_onto_a_new_card_for_the_shopper(shopper, shop, providers):
    card = gift_card_ledger_card(shopper, 10_000)
    order = paid_order(shopper, store=shop.store, items=[Item(shop.milk, 1, 6000)], cards={card: 6000})
    with transaction.atomic():  # topped up to the cap since
        locked = gift_card_ledger.lock_cards([card.pk])[card.pk]
        gift_card_ledger.credit(locked, amount_fen=96_000, kind="top_up", customer_id=shopper.pk)

    back = give_back(shopper, order, (line_of(order, shop.milk), 1))

    assert card_money(card) == (100_000, 0)
    refund = Refund.objects.get(return_request=back)
    overflow = GiftCard.objects.get(pk=refund.data["overflow_card_id"])
    assert (refund.data["credited_fen"], refund.data["overflow_fen"]) == (0, 6000)
    assert (overflow.owner_id, overflow.balance_fen) == (shopper.pk, 6000)
    assert gift_card_ledger.ledger_problems() == []


def test_a_refund_to_a_card_given_to_a_friend_goes_onto_a_new_card_for_the_shopper(shopper, shop, providers):
    friend = CustomerFactory()
    card = gift_card_ledger_card(shopper, 10_000)
    order = paid_order(shopper, store=shop.store, items=[Item(shop.milk, 1, 4000)], cards={card: 4000})
    with transaction.atomic():
        gift_card_ledger.transfer(gift_card_ledger.lock_cards([card.pk])[card.pk], to_customer_id=friend.pk, share_id=1)

    back = give_back(shopper, order, (line_of(order, shop.milk), 1))

    assert card_money(card) == (6000, 0)  # the friend's card is untouched
    refund = Refund.objects.get(return_request=back)
    assert GiftCard.objects.get(pk=refund.data["overflow_card_id"]).owner_id == shopper.pk
    assert refund.state == Refund.State.SUCCEEDED


def gift_card_ledger_card(owner, amount_fen: int) -> GiftCard:
    with transaction.atomic():
        return gift_card_ledger.issue(owner_id=owner.pk, amount_fen=amount_fen)


# --- Returns refused, nothing written ------------------------------------------------------


def assert_nothing_written(order: Order, state: str = Order.State.PAID, refunded_fen: int = 0) -> None:
    order.refresh_from_db()
    assert (order.state, order.refunded_fen) == (state, refunded_fen)
    assert not Refund.objects.filter(order=order, return_request__amount_fen__gt=refunded_fen).exists()
    assert Return.objects.filter(order=order).count() == (1 if refunded_fen else 0)


def test_more_than_was_bought_is_refused_with_what_is_returnable(shopper, shop, providers):
    order = three_milks(shopper, shop)

    with pytest.raises(returns.ReturnQuantityExceeded) as refused:
        give_back(shopper, order, (line_of(order, shop.milk), 4))

    assert refused.value.details == {"line_id": line_of(order, shop.milk).pk, "quantity": 4, "returnable": 3}
    assert_nothing_written(order)


def test_more_than_is_left_after_an_earlier_return_is_refused(shopper, shop, providers):
    order = three_milks(shopper, shop)
    give_back(shopper, order, (line_of(order, shop.milk), 2))

    with pytest.raises(returns.ReturnQuantityExceeded) as refused:
        give_back(shopper, order, (line_of(order, shop.milk), 2))

    assert refused.value.details["returnable"] == 1
    assert_nothing_written(order, Order.State.PARTIALLY_REFUNDED, 2180)


def test_a_weighed_line_cannot_come_back_twice(shopper, shop, providers):
    order = paid_order(
        shopper,
        store=shop.store,
        items=[Item(shop.milk, 1, 1190), Item(shop.apples, 1, 995, weight_g=500)],
    )
    apples = line_of(order, shop.apples)

    with pytest.raises(returns.ReturnQuantityExceeded):
        give_back(shopper, order, (apples, 2))
    give_back(shopper, order, (apples, 1))
    with pytest.raises(returns.ReturnQuantityExceeded):
        give_back(shopper, order, (apples, 1))


def test_another_shoppers_order_is_not_found(shopper, shop, providers):
    order = three_milks(shopper, shop)

    with pytest.raises(OrderNotFound):
        give_back(CustomerFactory(), order, (line_of(order, shop.milk), 1))
    assert_nothing_written(order)


@pytest.mark.parametrize(
    ("requested", "error"),
    [
        ([], returns.InvalidReturnLines),
        ([("milk", 0)], returns.InvalidReturnLines),
        ([("milk", 1), ("milk", 1)], returns.InvalidReturnLines),
        ([("other", 1)], returns.UnknownOrderLine),
    ],
    ids=["no_lines", "quantity_0", "duplicate_line", "another_orders_line"],
)
def test_bad_lines_are_refused(shopper, shop, providers, requested, error):
    order = three_milks(shopper, shop)
    other = three_milks(shopper, shop)
    ids = {"milk": line_of(order, shop.milk).pk, "other": line_of(other, shop.milk).pk}

    with pytest.raises(error):
        returns.create_return(
            customer_id=shopper.pk,
            order_id=order.pk,
            lines=[{"line_id": ids[name], "quantity": quantity} for name, quantity in requested],
        )
    assert_nothing_written(order)


def test_a_gift_card_purchase_is_not_returnable(shopper, providers):
    order = pending_order(
        shopper,
        store=None,
        channel=Order.Channel.ONLINE,
        kind=Order.Kind.GIFT_CARD,
        items=[Item(ProductFactory(), 1, 20_000)],
    )
    Order.objects.filter(pk=order.pk).update(state=Order.State.PAID, paid_at=clock.now())

    with pytest.raises(returns.OrderNotReturnable):
        returns.create_return(customer_id=shopper.pk, order_id=order.pk, lines=lines((order.lines.get(), 1)))
    assert not Return.objects.exists()


def test_an_unpaid_or_fully_returned_order_is_refused(shopper, shop, providers):
    unpaid = pending_order(shopper, store=shop.store, items=[Item(shop.milk, 1, 1190)])
    with pytest.raises(returns.OrderNotPaid):
        give_back(shopper, unpaid, (line_of(unpaid, shop.milk), 1))

    order = three_milks(shopper, shop)
    give_back(shopper, order, (line_of(order, shop.milk), 3))
    with pytest.raises(returns.OrderAlreadyRefunded):
        give_back(shopper, order, (line_of(order, shop.milk), 1))
    assert Return.objects.filter(order=order).count() == 1


def test_a_delivery_order_not_yet_delivered_cannot_be_returned(shopper, shop, providers):
    order = paid_order(shopper, store=None, channel=Order.Channel.DELIVERY, items=[Item(shop.milk, 1, 1290)])

    with pytest.raises(returns.OrderNotDelivered):
        give_back(shopper, order, (line_of(order, shop.milk), 1))
    assert_nothing_written(order)


def test_in_store_returns_close_14_days_after_payment(shopper, shop, providers, monkeypatch):
    order = three_milks(shopper, shop)
    paid_at = order.paid_at

    monkeypatch.setattr(clock, "now", lambda: paid_at + dt.timedelta(days=14, seconds=1))
    with pytest.raises(returns.ReturnWindowClosed) as refused:
        give_back(shopper, order, (line_of(order, shop.milk), 1))
    assert refused.value.details == {"deadline": clock.local_iso(paid_at + dt.timedelta(days=14))}
    assert_nothing_written(order)

    monkeypatch.setattr(clock, "now", lambda: paid_at + dt.timedelta(days=14))
    assert give_back(shopper, order, (line_of(order, shop.milk), 1)).amount_fen == 1090


def test_delivery_returns_close_14_days_after_delivery_not_payment(shopper, shop, providers, monkeypatch):
    order = paid_order(shopper, store=None, channel=Order.Channel.DELIVERY, items=[Item(shop.milk, 2, 1290)])
    delivered_at = order.paid_at + dt.timedelta(days=3)
    ship_and_deliver(order, [(shop.store, {shop.milk: 2})], at=delivered_at)

    monkeypatch.setattr(clock, "now", lambda: order.paid_at + dt.timedelta(days=16))
    assert give_back(shopper, order, (line_of(order, shop.milk), 1)).amount_fen == 1290

    monkeypatch.setattr(clock, "now", lambda: delivered_at + dt.timedelta(days=14, minutes=1))
    with pytest.raises(returns.ReturnWindowClosed):
        give_back(shopper, order, (line_of(order, shop.milk), 1))


# --- The goods come back ---------------------------------------------------------------------


def stock_of(location, product) -> int:
    return location.stock.get(product=product).on_hand


def test_goods_received_at_the_service_desk_go_back_in_stock_once(shopper, shop, providers):
    Stock.objects.filter(location=shop.store, product=shop.apples).update(on_hand=5000)  # grams
    order = paid_order(
        shopper,
        store=shop.store,
        items=[Item(shop.milk, 3, 1190), Item(shop.apples, 1, 995, weight_g=500)],
    )
    assert commit_store_stock(order_id=order.pk)
    assert (stock_of(shop.store, shop.milk), stock_of(shop.store, shop.apples)) == (97, 4500)
    back = give_back(shopper, order, (line_of(order, shop.milk), 2), (line_of(order, shop.apples), 1))
    assert (stock_of(shop.store, shop.milk), stock_of(shop.store, shop.apples)) == (97, 4500)  # not yet

    assert returns.receive_goods(return_id=back.pk, staff="desk-1")
    assert not returns.receive_goods(return_id=back.pk, staff="desk-2")

    assert (stock_of(shop.store, shop.milk), stock_of(shop.store, shop.apples)) == (99, 5000)
    back.refresh_from_db()
    assert (back.goods_state, back.received_by) == (Return.GoodsState.RECEIVED, "desk-1")
    assert OrderEvent.objects.filter(order=order, type="return_received").count() == 1


def test_receiving_a_return_before_the_sale_left_the_stock_commits_the_sale_first(shopper, shop, providers):
    order = three_milks(shopper, shop)  # its after-payment task has not run
    back = give_back(shopper, order, (line_of(order, shop.milk), 1))

    assert returns.receive_goods(return_id=back.pk, staff="desk-1")

    # Three sold, one back: and the late after-payment task takes nothing more.
    assert stock_of(shop.store, shop.milk) == 98
    assert not after_payment.commit_store_stock(order_id=order.pk)
    assert stock_of(shop.store, shop.milk) == 98


def test_delivered_goods_go_back_where_their_shipment_came_from(shopper, shop, providers):
    warehouse = LocationFactory(kind="warehouse")
    StockFactory(location=warehouse, product=shop.milk, on_hand=10)
    order = paid_order(shopper, store=None, channel=Order.Channel.DELIVERY, items=[Item(shop.milk, 5, 1290)])
    # Two milks from the store, three from the warehouse.
    ship_and_deliver(order, [(shop.store, {shop.milk: 2}), (warehouse, {shop.milk: 3})])
    milk = line_of(order, shop.milk)

    first = give_back(shopper, order, (milk, 3))
    second = give_back(shopper, order, (milk, 2))
    returns.receive_goods(return_id=second.pk, staff="warehouse")
    returns.receive_goods(return_id=first.pk, staff="store")

    # The first return's three units are the store's two and one of the warehouse's.
    assert (stock_of(shop.store, shop.milk), stock_of(warehouse, shop.milk)) == (102, 13)
    received = OrderEvent.objects.get(order=order, type="return_received", data__return_id=first.pk)
    assert received.data["stock"] == [
        {"product_id": shop.milk.pk, "location_id": shop.store.pk, "units": 2},
        {"product_id": shop.milk.pk, "location_id": warehouse.pk, "units": 1},
    ]
