"""Gift cards for tests, made by the real ledger (so their ledger matches from the start)."""

from __future__ import annotations

from django.db import transaction

from promotions import gift_card_ledger as ledger
from promotions.models import GiftCard, GiftCardDenomination

DEFAULT_DENOMINATIONS_FEN = (5_000, 10_000, 20_000, 50_000, 100_000)


def make_card(owner, amount_fen: int = 20_000) -> GiftCard:
    """A card bought by ``owner`` for ``amount_fen``, with its ``issue`` row."""
    with transaction.atomic():
        return ledger.issue(owner_id=owner.pk, purchaser_id=owner.pk, amount_fen=amount_fen)


def hold_on(card: GiftCard, amount_fen: int, *, order_id: int = 900_001) -> None:
    """Set ``amount_fen`` of the card aside for an order awaiting its external payment."""
    with transaction.atomic():
        cards = ledger.lock_cards([card.pk])
        ledger.hold(cards, {card.pk: amount_fen}, order_id=order_id)


def default_denominations() -> None:
    """What migration 0005 installs (a transactional test's flush removes it)."""
    for position, amount_fen in enumerate(DEFAULT_DENOMINATIONS_FEN):
        GiftCardDenomination.objects.update_or_create(amount_fen=amount_fen, defaults={"sort_order": position})
