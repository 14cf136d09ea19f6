"""Every movement of gift-card money, each one a ledger row written with the card's change.

Callers lock the cards they touch (``lock_cards``, in id order, so two transactions never
wait on each other in a circle) inside their own ``transaction.atomic()``; the functions
here check what they spend under that lock, move ``balance_fen``/``held_fen`` and append
the ``GiftCardTransaction`` in the same transaction. The CHECK constraints on the card are
the last word: nothing here can take a card below zero or past its cap, however it races.

Spending an order's cards goes hold -> capture (paid) or hold -> release (not paid in
time). A credit that would take a card past its cap (a refund after the shopper topped the
card up, a late top-up) is never lost: what does not fit goes onto a new card for the
shopper, issued in the same transaction (``credit``).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F, Q, Sum

from miniprogram_api.core.errors import Conflict, NotFound, Unprocessable

from .models import GiftCard, GiftCardShare, GiftCardTransaction
from .models.gift_cards import GIFT_CARD_CAP_FEN

Kind = GiftCardTransaction.Kind


class GiftCardNotFound(NotFound):
    code = "gift_card_not_found"
    default_message = "There is no such gift card."


class GiftCardFrozen(Conflict):
    code = "gift_card_frozen"
    default_message = "This gift card is frozen; ask at a service desk."


class GiftCardBeingShared(Conflict):
    """A card offered to a friend cannot be spent until the share is claimed, cancelled or
    expires: otherwise the friend would receive less than the sharer offered."""

    code = "gift_card_being_shared"
    default_message = "This gift card is offered to a friend; cancel the share to use it."


class GiftCardEmpty(Conflict):
    code = "gift_card_empty"
    default_message = "This gift card has nothing left to spend."


class GiftCardCapExceeded(Unprocessable):
    code = "gift_card_cap_exceeded"
    default_message = "A gift card holds at most 1,000 RMB."


@dataclass(frozen=True)
class Credited:
    """Where a credit went: the card asked for, and the new card for what did not fit."""

    card_id: int
    amount_fen: int
    overflow_card_id: int | None = None
    overflow_fen: int = 0


def new_code() -> str:
    """16 random digits: printable on a receipt, unguessable, never logged in full."""
    return f"{secrets.randbelow(10**16):016d}"


def lock_cards(card_ids: Iterable[int]) -> dict[int, GiftCard]:
    """The cards, row-locked in id order; unknown ids are simply absent."""
    _require_transaction()
    ids = sorted({int(cid) for cid in card_ids if 0 < int(cid) < 2**63})
    return {card.pk: card for card in GiftCard.objects.select_for_update().filter(pk__in=ids).order_by("pk")}


def _post(
    card: GiftCard,
    kind: str,
    *,
    amount_fen: int = 0,
    held_delta_fen: int = 0,
    order_id: int | None = None,
    refund_id: int | None = None,
    data: Mapping | None = None,
) -> GiftCardTransaction:
    """Move a locked card's money and append the ledger row, together."""
    card.balance_fen += amount_fen
    card.held_fen += held_delta_fen
    GiftCard.objects.filter(pk=card.pk).update(balance_fen=card.balance_fen, held_fen=card.held_fen)
    return GiftCardTransaction.objects.create(
        card=card,
        kind=kind,
        amount_fen=amount_fen,
        held_delta_fen=held_delta_fen,
        balance_after_fen=card.balance_fen,
        held_after_fen=card.held_fen,
        order_id=order_id,
        refund_id=refund_id,
        customer_id=card.owner_id,
        data=dict(data or {}),
    )


def room_fen(card: GiftCard) -> int:
    """How much more the card may take before reaching its cap."""
    return GIFT_CARD_CAP_FEN - card.balance_fen - card.held_fen


# --- Issuing and crediting -----------------------------------------------------------


def issue(
    *,
    owner_id: int,
    amount_fen: int,
    purchaser_id: int | None = None,
    order_id: int | None = None,
    refund_id: int | None = None,
    data: Mapping | None = None,
) -> GiftCard:
    """A new card holding ``amount_fen`` (1..cap), with its ``issue`` ledger row."""
    _require_transaction()
    if not 0 < amount_fen <= GIFT_CARD_CAP_FEN:
        raise GiftCardCapExceeded(details={"amount_fen": amount_fen, "cap_fen": GIFT_CARD_CAP_FEN})
    card = GiftCard.objects.create(
        code=new_code(),
        owner_id=owner_id,
        purchaser_id=purchaser_id or owner_id,
        initial_fen=amount_fen,
        issued_order_id=order_id if refund_id is None else None,
    )
    _post(card, Kind.ISSUE, amount_fen=amount_fen, order_id=order_id, refund_id=refund_id, data=data)
    return card


def credit(
    card: GiftCard,
    *,
    amount_fen: int,
    kind: str,
    customer_id: int,
    order_id: int | None = None,
    refund_id: int | None = None,
) -> Credited:
    """Credit a locked ``card`` (a top-up or a refund) up to its cap; what does not fit,
    or all of it when the card now belongs to someone other than ``customer_id`` (the
    shopper whose money it is), goes onto a new card for ``customer_id``."""
    if amount_fen <= 0:
        raise ValueError("a credit is a positive number of fen")
    fits = min(amount_fen, room_fen(card)) if card.owner_id == customer_id else 0
    if fits:
        _post(card, kind, amount_fen=fits, order_id=order_id, refund_id=refund_id)
    overflow = amount_fen - fits
    overflow_card = None
    if overflow:
        overflow_card = issue(
            owner_id=customer_id,
            amount_fen=overflow,
            order_id=order_id,
            refund_id=refund_id,
            data={"overflow_of_card": card.pk, "reason": kind},
        )
    return Credited(
        card_id=card.pk,
        amount_fen=fits,
        overflow_card_id=overflow_card.pk if overflow_card else None,
        overflow_fen=overflow,
    )


# --- Spending on an order ------------------------------------------------------------


def spend_plan(
    cards: Mapping[int, GiftCard], *, card_ids: Sequence[int], customer_id: int, total_fen: int, now: dt.datetime
) -> dict[int, int]:
    """How much each chosen card pays of ``total_fen``, in the order the shopper chose
    them, each up to its balance: cards pay first, the external payment the rest. Every
    chosen card must be the shopper's, active, not offered to a friend and not empty."""
    plan: dict[int, int] = {}
    left = total_fen
    sharing = set(
        GiftCardShare.objects.filter(
            card_id__in=list(cards), status=GiftCardShare.Status.OPEN, expires_at__gt=now
        ).values_list("card_id", flat=True)
    )
    for card_id in dict.fromkeys(card_ids):  # each once, in the shopper's order
        card = cards.get(card_id)
        if card is None or card.owner_id != customer_id:
            raise GiftCardNotFound(details={"gift_card_id": card_id})
        if card.status != GiftCard.Status.ACTIVE:
            raise GiftCardFrozen(details={"gift_card_id": card_id})
        if card_id in sharing:
            raise GiftCardBeingShared(details={"gift_card_id": card_id})
        if card.balance_fen <= 0:
            raise GiftCardEmpty(details={"gift_card_id": card_id})
        take = min(card.balance_fen, left)
        if take:
            plan[card_id] = take
            left -= take
    return plan


def hold(cards: Mapping[int, GiftCard], plan: Mapping[int, int], *, order_id: int) -> None:
    """Set the planned amounts aside for ``order_id`` (cards locked, plan from ``spend_plan``)."""
    for card_id in sorted(plan):
        _post(cards[card_id], Kind.HOLD, amount_fen=-plan[card_id], held_delta_fen=plan[card_id], order_id=order_id)


def held_for_order(order_id: int) -> dict[int, int]:
    """What each card still holds for the order (holds minus captures and releases)."""
    rows = (
        GiftCardTransaction.objects.filter(order_id=order_id, kind__in=(Kind.HOLD, Kind.CAPTURE, Kind.RELEASE))
        .values("card_id")
        .annotate(held=Sum("held_delta_fen"))
    )
    return {row["card_id"]: row["held"] for row in rows if row["held"]}


def captured_for_order(order_id: int) -> dict[int, int]:
    """What each card paid of the order (its captures), by card id."""
    rows = (
        GiftCardTransaction.objects.filter(order_id=order_id, kind=Kind.CAPTURE)
        .values("card_id")
        .annotate(paid=Sum("held_delta_fen"))
    )
    return {row["card_id"]: -row["paid"] for row in rows if row["paid"]}


def capture_for_order(*, order_id: int) -> int:
    """The order was paid: what its cards hold for it is spent. Returns the fen captured."""
    cards = lock_cards(held_for_order(order_id))
    held = held_for_order(order_id)  # again, under the locks: another caller may have moved it
    for card_id, amount in sorted(held.items()):
        _post(cards[card_id], Kind.CAPTURE, held_delta_fen=-amount, order_id=order_id)
    return sum(held.values())


def release_for_order(*, order_id: int, reason: str = "order_not_paid") -> int:
    """The order will not be paid: what its cards hold goes back to them. Returns the fen."""
    cards = lock_cards(held_for_order(order_id))
    held = held_for_order(order_id)  # again, under the locks: another caller may have moved it
    for card_id, amount in sorted(held.items()):
        _post(
            cards[card_id],
            Kind.RELEASE,
            amount_fen=amount,
            held_delta_fen=-amount,
            order_id=order_id,
            data={"reason": reason},
        )
    return sum(held.values())


def reduce_hold_for_order(*, order_id: int, keep_fen: int) -> int:
    """Keep at most ``keep_fen`` held for the order (its total came down, a raffle prize):
    the excess goes back to the cards, the last chosen first. Returns the fen released."""
    cards = lock_cards(held_for_order(order_id))
    held = held_for_order(order_id)  # again, under the locks
    excess = sum(held.values()) - keep_fen
    if excess <= 0:
        return 0
    released = 0
    for card_id in sorted(held, reverse=True):
        give = min(held[card_id], excess - released)
        if give:
            _post(
                cards[card_id],
                Kind.RELEASE,
                amount_fen=give,
                held_delta_fen=-give,
                order_id=order_id,
                data={"reason": "order_total_reduced"},
            )
            released += give
    return released


def retake_for_order(*, order_id: int, wanted: Mapping[int, int]) -> int:
    """A payment arrived after the order was closed and its holds released: take what the
    cards had paid again and capture it at once, as far as the balances still allow.
    Returns the fen that could not be taken back (staff settle it with the shopper)."""
    cards = lock_cards(wanted)
    missing = 0
    for card_id, amount in sorted(wanted.items()):
        card = cards.get(card_id)
        take = min(amount, card.balance_fen) if card is not None else 0
        if take:
            _post(card, Kind.HOLD, amount_fen=-take, held_delta_fen=take, order_id=order_id, data={"late": True})
            _post(card, Kind.CAPTURE, held_delta_fen=-take, order_id=order_id, data={"late": True})
        missing += amount - take
    return missing


def released_for_order(order_id: int) -> dict[int, int]:
    """What the order's cards had held before it was released (for a late payment)."""
    rows = (
        GiftCardTransaction.objects.filter(order_id=order_id, kind=Kind.HOLD)
        .values("card_id")
        .annotate(held=Sum("held_delta_fen"))
    )
    held = {row["card_id"]: row["held"] for row in rows}
    released = (
        GiftCardTransaction.objects.filter(order_id=order_id, kind=Kind.RELEASE, data__reason="order_total_reduced")
        .values("card_id")
        .annotate(fen=Sum("amount_fen"))
    )
    for row in released:
        held[row["card_id"]] -= row["fen"]
    return {card_id: fen for card_id, fen in held.items() if fen > 0}


# --- Owners ---------------------------------------------------------------------------


def transfer(card: GiftCard, *, to_customer_id: int, share_id: int) -> None:
    """The card (locked) now belongs to ``to_customer_id``; its money moves with it."""
    from_customer_id = card.owner_id
    card.owner_id = to_customer_id
    GiftCard.objects.filter(pk=card.pk).update(owner_id=to_customer_id)
    _post(
        card,
        Kind.TRANSFER,
        data={"from_customer_id": from_customer_id, "to_customer_id": to_customer_id, "share_id": share_id},
    )


# --- The invariant --------------------------------------------------------------------


def ledger_problems(card_ids: Iterable[int] | None = None) -> list[dict]:
    """Cards whose balance or held amount differs from their ledger (should be none)."""
    cards = GiftCard.objects.all() if card_ids is None else GiftCard.objects.filter(pk__in=list(card_ids))
    cards = cards.annotate(
        ledger_balance=Sum("transactions__amount_fen", default=0),
        ledger_held=Sum("transactions__held_delta_fen", default=0),
    ).filter(~Q(balance_fen=F("ledger_balance")) | ~Q(held_fen=F("ledger_held")))
    return [
        {
            "card_id": card.pk,
            "balance_fen": card.balance_fen,
            "ledger_balance_fen": card.ledger_balance,
            "held_fen": card.held_fen,
            "ledger_held_fen": card.ledger_held,
        }
        for card in cards.order_by("pk")
    ]


def _require_transaction() -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("gift-card money moves inside the caller's transaction")
