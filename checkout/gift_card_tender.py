"""Gift cards as a tender at checkout (scan & pay and delivery alike).

The cards pay first, in the order the shopper chose them, each up to its balance; WeChat
Pay or Alipay pays the rest (``Order.gift_card_fen`` is the cards' part, the payment's
amount the rest). Their part is held on them in the transaction that writes the order,
captured when the order is paid and released if it is not paid in time
(``promotions.gift_card_ledger``).

Lock order, the same everywhere an order takes and gives back what it holds: the basket
or cart, stock and slots, then the gift cards (id order), then coupons and flash-sale
items. Checkout plans the cards under their locks before the order exists (the payment's
amount depends on it) and holds them once it does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from miniprogram_api.core.errors import Conflict, Unprocessable
from promotions import gift_card_ledger
from promotions.models import GiftCard, GiftCardTransaction

MAX_CARDS = 10


class TooManyGiftCards(Unprocessable):
    code = "too_many_gift_cards"
    default_message = f"Pay with at most {MAX_CARDS} gift cards at once."


class AwaitingOtherGiftCards(Conflict):
    """A retry must ask for what the pending order holds, as with coupons."""

    code = "order_awaiting_other_gift_cards"
    default_message = "This checkout is already being paid with other gift cards."


@dataclass(frozen=True)
class CardSpend:
    cards: dict[int, GiftCard]
    plan: dict[int, int]

    @property
    def total_fen(self) -> int:
        return sum(self.plan.values())


NO_CARDS = CardSpend(cards={}, plan={})


def plan_cards(*, customer_id: int, card_ids: Sequence[int], total_fen: int, now: dt.datetime) -> CardSpend:
    """Lock the chosen cards and work out what each pays of ``total_fen``; raises if one
    is not the shopper's, frozen, offered to a friend or empty (nothing is written)."""
    if not card_ids:
        return NO_CARDS
    if len(set(card_ids)) > MAX_CARDS:
        raise TooManyGiftCards(details={"max": MAX_CARDS})
    cards = gift_card_ledger.lock_cards(card_ids)
    plan = gift_card_ledger.spend_plan(
        cards, card_ids=list(card_ids), customer_id=customer_id, total_fen=total_fen, now=now
    )
    return CardSpend(cards=cards, plan=plan)


def hold_cards(spend: CardSpend, *, order_id: int) -> None:
    gift_card_ledger.hold(spend.cards, spend.plan, order_id=order_id)


def card_ids_of(order_id: int) -> list[int]:
    """The cards an order was checked out with (those it holds or held)."""
    return sorted(
        set(
            GiftCardTransaction.objects.filter(order_id=order_id, kind=GiftCardTransaction.Kind.HOLD).values_list(
                "card_id", flat=True
            )
        )
    )


def check_retry(*, order_id: int, gift_card_fen: int, total_fen: int, card_ids: Sequence[int]) -> None:
    """A retry resumes the pending order only if it asks for the same cards. Cards the
    order did not need (the others covered it) may be named again or not."""
    held = card_ids_of(order_id)
    asked = sorted(set(card_ids))
    if held == asked or (set(held) < set(asked) and gift_card_fen == total_fen):
        return
    raise AwaitingOtherGiftCards(details={"order_id": order_id, "gift_card_ids": held})
