"""Gift cards as the shopper and staff see them: which amounts may be bought or topped up,
offering a card to a friend and the friend claiming it, freezing, and reading one's cards.

Money moves only through ``gift_card_ledger``; this module decides whether it may. Every
decision about one card is taken under that card's row lock (``gift_card_ledger.lock_cards``),
so a share, a claim, a top-up and a checkout spending the card never see each other half
done.

A share token is ``GS1.<share id>.<secret>``: only the SHA-256 of the secret is kept, and it
is compared in constant time, so neither a database reader nor a guesser can claim a card.
A share stays ``open`` in its row after ``expires_at`` until something touches it (a new
share of the card, a claim): every reader treats it as expired by its time alone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Prefetch, QuerySet, Subquery

from miniprogram_api.core import clock
from miniprogram_api.core.errors import Conflict, InvalidInput, Unprocessable
from miniprogram_api.core.money import format_yuan
from stores.selectors import MAX_ID

from . import gift_card_ledger as ledger
from .gift_card_ledger import (
    GiftCardBeingShared,
    GiftCardCapExceeded,
    GiftCardEmpty,
    GiftCardFrozen,
    GiftCardNotFound,
)
from .models import GiftCard, GiftCardDenomination, GiftCardShare, GiftCardTransaction
from .models.gift_cards import GIFT_CARD_CAP_FEN

Share = GiftCardShare.Status


class GiftCardAmountNotPositive(InvalidInput):
    code = "gift_card_amount_not_positive"
    default_message = "An amount is a positive whole number of fen."


class GiftCardAmountNotOffered(Unprocessable):
    """Neither an active denomination nor a custom amount in the allowed range; ``details``
    carries what is offered, so the client can show it."""

    code = "gift_card_amount_not_offered"
    default_message = "Choose one of the offered amounts, or a custom amount within the allowed range."


class GiftCardPaymentPending(Conflict):
    """Money held for an order awaiting its external payment: sharing the card now would
    hand the friend a card whose balance is about to change under them."""

    code = "gift_card_payment_pending"
    default_message = "This gift card is paying for an order that awaits payment; try again once it is settled."


class GiftCardAlreadyShared(Conflict):
    code = "gift_card_already_shared"
    default_message = "This gift card is already offered to a friend; cancel that share first."


class GiftCardNotShared(Conflict):
    code = "gift_card_not_shared"
    default_message = "This gift card is not offered to anyone."


class InvalidShareToken(InvalidInput):
    code = "invalid_share_token"
    default_message = "This gift card link is not valid."


class GiftCardShareExpired(Conflict):
    code = "gift_card_share_expired"
    default_message = "This gift card link has expired; ask your friend to share it again."


class GiftCardShareClaimed(Conflict):
    code = "gift_card_share_claimed"
    default_message = "This gift card has already been claimed."


class GiftCardShareCancelled(Conflict):
    code = "gift_card_share_cancelled"
    default_message = "Your friend cancelled this gift card share."


class GiftCardOwnShare(Unprocessable):
    code = "gift_card_own_share"
    default_message = "This is your own gift card: send the link to a friend."


# --- Amounts --------------------------------------------------------------------------


@dataclass(frozen=True)
class AmountRules:
    """What the "buy a gift card" page offers: the active denominations, or any amount in
    ``custom_min_fen`` .. ``custom_max_fen``."""

    denominations: tuple[int, ...]
    custom_min_fen: int
    custom_max_fen: int

    def offers(self, amount_fen: int) -> bool:
        return amount_fen in self.denominations or self.custom_min_fen <= amount_fen <= self.custom_max_fen

    def as_details(self) -> dict:
        return {
            "denominations_fen": list(self.denominations),
            "custom_min_fen": self.custom_min_fen,
            "custom_max_fen": self.custom_max_fen,
        }


def amount_rules() -> AmountRules:
    denominations = GiftCardDenomination.objects.filter(active=True).values_list("amount_fen", flat=True)
    return AmountRules(
        denominations=tuple(denominations),
        custom_min_fen=settings.GIFT_CARD_CUSTOM_MIN_FEN,
        custom_max_fen=GIFT_CARD_CAP_FEN,
    )


def _require_positive(amount_fen: object) -> int:
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        raise GiftCardAmountNotPositive(details={"amount_fen": amount_fen if isinstance(amount_fen, int) else None})
    return amount_fen


def check_purchase_amount(amount_fen: int) -> None:
    """A new card is bought for a denomination or a custom amount up to the cap."""
    _require_positive(amount_fen)
    if amount_fen > GIFT_CARD_CAP_FEN:
        raise GiftCardCapExceeded(details={"amount_fen": amount_fen, "cap_fen": GIFT_CARD_CAP_FEN})
    rules = amount_rules()
    if not rules.offers(amount_fen):
        raise GiftCardAmountNotOffered(details={"amount_fen": amount_fen, **rules.as_details()})


def check_top_up(
    card: GiftCard | None, *, customer_id: int, amount_fen: int, pending_top_ups_fen: int, now: dt.datetime
) -> None:
    """May ``customer_id`` top ``card`` (locked) up by ``amount_fen``? Its own active card,
    not offered to a friend, and the card's balance, what it holds, the top-ups still
    awaiting payment and this one together stay within the cap. The amount follows the
    buying rules, except that exactly what fills the card to its cap is always allowed."""
    if card is None or card.owner_id != customer_id:
        raise GiftCardNotFound()
    _require_positive(amount_fen)
    if card.status != GiftCard.Status.ACTIVE:
        raise GiftCardFrozen(details={"gift_card_id": card.pk})
    if _open_share(card.pk, now) is not None:
        raise GiftCardBeingShared(details={"gift_card_id": card.pk})
    room = GIFT_CARD_CAP_FEN - card.balance_fen - card.held_fen - pending_top_ups_fen
    if amount_fen > room:
        raise GiftCardCapExceeded(
            details={
                "amount_fen": amount_fen,
                "cap_fen": GIFT_CARD_CAP_FEN,
                "balance_fen": card.balance_fen,
                "held_fen": card.held_fen,
                "pending_top_ups_fen": pending_top_ups_fen,
                "room_fen": max(room, 0),
            }
        )
    rules = amount_rules()
    if amount_fen != room and not rules.offers(amount_fen):
        raise GiftCardAmountNotOffered(details={"amount_fen": amount_fen, "room_fen": room, **rules.as_details()})


# --- Sharing --------------------------------------------------------------------------

TOKEN_PREFIX = "GS1"  # noqa: S105 - the token format's name, not a secret
SECRET_BYTES = 32
_TOKEN = re.compile(r"GS1\.([1-9][0-9]{0,18})\.([A-Za-z0-9_-]{43})")


@dataclass(frozen=True)
class ShareOffer:
    """A new share and what the mini-program puts on its WeChat share card. ``token`` is
    shown once: only its hash is kept."""

    share: GiftCardShare
    token: str
    amount_fen: int
    title: str
    path: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _open_share(card_id: int, now: dt.datetime) -> GiftCardShare | None:
    return GiftCardShare.objects.filter(card_id=card_id, status=Share.OPEN, expires_at__gt=now).first()


def _expire_overdue(card_id: int, now: dt.datetime) -> int:
    return GiftCardShare.objects.filter(card_id=card_id, status=Share.OPEN, expires_at__lte=now).update(
        status=Share.EXPIRED, closed_at=now
    )


def _locked_own_card(*, customer_id: int, card_id: int) -> GiftCard:
    card = ledger.lock_cards([card_id]).get(card_id) if 0 < card_id <= MAX_ID else None
    if card is None or card.owner_id != customer_id:
        raise GiftCardNotFound()
    return card


def share_title(amount_fen: int) -> str:
    return f"送你一张{format_yuan(amount_fen)}礼品卡"


def share_card(*, customer_id: int, card_id: int, message: str = "") -> ShareOffer:
    """Offer the whole card to a friend until ``GIFT_CARD_SHARE_TTL`` passes. A frozen or
    empty card, one paying for a pending order, or one already offered cannot be offered;
    while offered, the card cannot be spent or topped up (the friend gets what was shown)."""
    now = clock.now()
    with transaction.atomic():
        card = _locked_own_card(customer_id=customer_id, card_id=card_id)
        if card.status != GiftCard.Status.ACTIVE:
            raise GiftCardFrozen(details={"gift_card_id": card.pk})
        if card.held_fen:
            raise GiftCardPaymentPending(details={"gift_card_id": card.pk, "held_fen": card.held_fen})
        if card.balance_fen <= 0:
            raise GiftCardEmpty(details={"gift_card_id": card.pk})
        _expire_overdue(card.pk, now)
        current = GiftCardShare.objects.filter(card_id=card.pk, status=Share.OPEN).first()
        if current is not None:
            raise GiftCardAlreadyShared(details={"share_id": current.pk, "expires_at": current.expires_at.isoformat()})
        secret = secrets.token_urlsafe(SECRET_BYTES)
        share = GiftCardShare.objects.create(
            card=card,
            sharer_id=customer_id,
            secret_hash=_hash(secret),
            message=message.strip(),
            expires_at=now + settings.GIFT_CARD_SHARE_TTL,
        )
    token = f"{TOKEN_PREFIX}.{share.pk}.{secret}"
    return ShareOffer(
        share=share,
        token=token,
        amount_fen=card.balance_fen,
        title=share_title(card.balance_fen),
        path=f"{settings.GIFT_CARD_CLAIM_PAGE}?token={token}",
    )


def cancel_share(*, customer_id: int, card_id: int) -> GiftCardShare:
    """Withdraw the card's open share; the token stops working at once."""
    now = clock.now()
    with transaction.atomic():
        card = _locked_own_card(customer_id=customer_id, card_id=card_id)
        _expire_overdue(card.pk, now)
        share = GiftCardShare.objects.filter(card_id=card.pk, status=Share.OPEN).first()
        if share is not None:
            GiftCardShare.objects.filter(pk=share.pk).update(status=Share.CANCELLED, closed_at=now)
            share.status, share.closed_at = Share.CANCELLED, now
            return share
    raise GiftCardNotShared(details={"gift_card_id": card.pk})  # after the block: an overdue share stays expired


def parse_token(token: str) -> tuple[int, str]:
    """The share id and secret of a well-formed token; anything else is refused."""
    match = _TOKEN.fullmatch(token) if isinstance(token, str) else None
    if match is None or int(match[1]) > MAX_ID:
        raise InvalidShareToken()
    return int(match[1]), match[2]


def claim_share(*, customer_id: int, token: str) -> GiftCard:
    """The friend takes the card: the share moves ``open`` -> ``claimed`` with one
    conditional UPDATE under the card's lock, and the card (its whole balance) becomes
    theirs. Of two friends claiming at once, the second finds it claimed."""
    share_id, secret = parse_token(token)
    share = GiftCardShare.objects.filter(pk=share_id).only("card_id", "secret_hash").first()
    if share is None or not hmac.compare_digest(_hash(secret), share.secret_hash):
        raise InvalidShareToken()
    now = clock.now()
    with transaction.atomic():
        card = ledger.lock_cards([share.card_id])[share.card_id]
        share = GiftCardShare.objects.get(pk=share_id)  # read again under the card's lock
        refusal = _claim_refusal(share, card, customer_id=customer_id, now=now)
        if refusal is None:
            claimed = GiftCardShare.objects.filter(pk=share.pk, status=Share.OPEN, expires_at__gt=now).update(
                status=Share.CLAIMED, claimed_by_id=customer_id, closed_at=now
            )
            if not claimed:  # cannot happen under the lock; the conditional UPDATE is the last word
                raise GiftCardShareClaimed()
            ledger.transfer(card, to_customer_id=customer_id, share_id=share.pk)
            return card
        if isinstance(refusal, GiftCardShareExpired):
            _expire_overdue(card.pk, now)
    raise refusal  # after the block, so an overdue share is marked expired all the same


def _claim_refusal(share: GiftCardShare, card: GiftCard, *, customer_id: int, now: dt.datetime) -> Exception | None:
    if share.sharer_id == customer_id:
        return GiftCardOwnShare()
    if share.status == Share.CLAIMED:
        return GiftCardShareClaimed()
    if share.status == Share.CANCELLED:
        return GiftCardShareCancelled()
    if share.status == Share.EXPIRED or share.expires_at <= now:
        return GiftCardShareExpired(details={"expired_at": share.expires_at.isoformat()})
    if card.status != GiftCard.Status.ACTIVE:
        return GiftCardFrozen()
    if card.owner_id != share.sharer_id or card.held_fen:
        return GiftCardShareCancelled()  # the card changed hands or is paying for an order
    return None


# --- Staff ----------------------------------------------------------------------------


def freeze_card(*, card_id: int, reason: str) -> bool:
    """Stop a card from being spent, shared, claimed or topped up (refunds still reach it);
    False if it was frozen already. An open share stays open: it can be claimed once the
    card is unfrozen, if it has not expired by then."""
    with transaction.atomic():
        card = ledger.lock_cards([card_id]).get(card_id)
        if card is None:
            raise GiftCardNotFound()
        if card.status == GiftCard.Status.FROZEN:
            return False
        GiftCard.objects.filter(pk=card.pk).update(
            status=GiftCard.Status.FROZEN, frozen_at=clock.now(), frozen_reason=reason.strip()[:200]
        )
    return True


def unfreeze_card(*, card_id: int) -> bool:
    """The card is usable again; False if it was not frozen."""
    with transaction.atomic():
        card = ledger.lock_cards([card_id]).get(card_id)
        if card is None:
            raise GiftCardNotFound()
        if card.status != GiftCard.Status.FROZEN:
            return False
        GiftCard.objects.filter(pk=card.pk).update(status=GiftCard.Status.ACTIVE, frozen_at=None, frozen_reason="")
    return True


# --- Reading --------------------------------------------------------------------------


def _with_sharing(cards: QuerySet[GiftCard], now: dt.datetime) -> QuerySet[GiftCard]:
    """Each card's open, unexpired share (``share_id``, ``share_expires_at``; None if not
    offered), in the same query."""
    open_share = GiftCardShare.objects.filter(card=OuterRef("pk"), status=Share.OPEN, expires_at__gt=now)
    return cards.annotate(
        share_id=Subquery(open_share.values("pk")[:1]),
        share_expires_at=Subquery(open_share.values("expires_at")[:1]),
    )


def my_cards(*, customer_id: int) -> QuerySet[GiftCard]:
    """The shopper's cards, newest first, empty and frozen ones included."""
    return _with_sharing(GiftCard.objects.filter(owner_id=customer_id), clock.now()).order_by("-created_at", "-pk")


def my_card(*, customer_id: int, card_id: int) -> GiftCard:
    """One of the shopper's cards with its ledger as ``history``: the rows written while
    it was theirs, so a friend who claimed a card does not see the sharer's spending."""
    rows = GiftCardTransaction.objects.filter(customer_id=customer_id).order_by("pk")
    card = (
        _with_sharing(GiftCard.objects.filter(owner_id=customer_id, pk=card_id), clock.now())
        .prefetch_related(Prefetch("transactions", queryset=rows, to_attr="history"))
        .first()
        if 0 < card_id <= MAX_ID
        else None
    )
    if card is None:
        raise GiftCardNotFound()
    return card


def card_summary(*, customer_id: int, card_id: int) -> GiftCard:
    """The shopper's card as lists show it (after a claim or a share)."""
    card = _with_sharing(GiftCard.objects.filter(owner_id=customer_id, pk=card_id), clock.now()).first()
    if card is None:
        raise GiftCardNotFound()
    return card
