"""Offering a gift card to a friend, the friend claiming it, cancelling, freezing, and what
each shopper then sees of the card."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.db import transaction

from miniprogram_api.core import clock
from promotions import gift_card_ledger as ledger
from promotions import gift_cards
from promotions.gift_cards import (
    GiftCardAlreadyShared,
    GiftCardBeingShared,
    GiftCardEmpty,
    GiftCardFrozen,
    GiftCardNotFound,
    GiftCardNotShared,
    GiftCardOwnShare,
    GiftCardPaymentPending,
    GiftCardShareCancelled,
    GiftCardShareClaimed,
    GiftCardShareExpired,
    InvalidShareToken,
)
from promotions.models import GiftCard, GiftCardShare, GiftCardTransaction
from tests.factories import CustomerFactory

from .gift_card_setup import hold_on, make_card

pytestmark = pytest.mark.django_db

HOUR = dt.timedelta(hours=1)


@pytest.fixture
def sharer():
    return CustomerFactory()


@pytest.fixture
def friend():
    return CustomerFactory()


@pytest.fixture
def later(monkeypatch):
    """Stop the clock now; ``later(delta)`` moves it forward."""
    start = clock.now()
    monkeypatch.setattr(clock, "now", lambda: start)

    def move(by: dt.timedelta) -> None:
        monkeypatch.setattr(clock, "now", lambda: start + by)

    return move


def _snapshot(card: GiftCard) -> tuple:
    card.refresh_from_db()
    return card.owner_id, card.balance_fen, card.held_fen, card.transactions.count()


# --- Sharing ---------------------------------------------------------------------------------


def test_sharing_gives_a_signed_token_of_which_only_the_hash_is_kept(sharer):
    card = make_card(sharer, 20_000)

    offer = gift_cards.share_card(customer_id=sharer.pk, card_id=card.pk, message="  Happy birthday!  ")

    prefix, share_id, secret = offer.token.split(".")
    share = GiftCardShare.objects.get()
    assert (prefix, int(share_id)) == ("GS1", share.pk)
    assert share.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in share.secret_hash and len(secret) == 43
    assert (share.status, share.sharer_id, share.message) == ("open", sharer.pk, "Happy birthday!")
    assert abs(share.expires_at - (clock.now() + dt.timedelta(hours=24))) < dt.timedelta(seconds=5)
    assert offer.amount_fen == 20_000
    assert offer.title == "送你一张¥200.00礼品卡"
    assert offer.path == f"pages/gift-card/claim?token={offer.token}"


def test_the_share_lifetime_follows_the_setting(sharer, settings):
    settings.GIFT_CARD_SHARE_TTL = dt.timedelta(hours=2)
    card = make_card(sharer)

    offer = gift_cards.share_card(customer_id=sharer.pk, card_id=card.pk)

    assert abs(offer.share.expires_at - (clock.now() + 2 * HOUR)) < dt.timedelta(seconds=5)


def test_a_frozen_card_cannot_be_shared(sharer):
    card = make_card(sharer)
    gift_cards.freeze_card(card_id=card.pk, reason="reported stolen")

    with pytest.raises(GiftCardFrozen):
        gift_cards.share_card(customer_id=sharer.pk, card_id=card.pk)
    assert not GiftCardShare.objects.exists()


def test_a_card_paying_for_a_pending_order_cannot_be_shared(sharer):
    card = make_card(sharer, 20_000)
    hold_on(card, 5_000)

    with pytest.raises(GiftCardPaymentPending) as refused:
        gift_cards.share_card(customer_id=sharer.pk, card_id=card.pk)
    assert refused.value.details["held_fen"] == 5_000
    assert not GiftCardShare.objects.exists()


def test_an_empty_card_cannot_be_shared(sharer):
    card = make_card(sharer, 5_000)
    hold_on(card, 5_000)
    with transaction.atomic():
        ledger.capture_for_order(order_id=900_001)

    with pytest.raises(GiftCardEmpty):
        gift_cards.share_card(customer_id=sharer.pk, card_id=card.pk)


def test_a_card_already_offered_is_not_offered_twice(sharer):
    card = make_card(sharer)
    first = gift_cards.share_card(customer_id=sharer.pk, card_id=card.pk)

    with pytest.raises(GiftCardAlreadyShared) as refused:
        gift_cards.share_card(customer_id=sharer.pk, card_id=card.pk)
    assert refused.value.details["share_id"] == first.share.pk
    assert GiftCardShare.objects.count() == 1


def test_an_expired_share_is_marked_expired_and_the_card_can_be_offered_again(sharer, later):
    card = make_card(sharer)
    first = gift_cards.share_card(customer_id=sharer.pk, card_id=card.pk)
    later(25 * HOUR)

    second = gift_cards.share_card(customer_id=sharer.pk, card_id=card.pk)

    assert GiftCardShare.objects.get(pk=first.share.pk).status == "expired"
    assert GiftCardShare.objects.get(pk=second.share.pk).status == "open"


def test_another_shoppers_card_cannot_be_shared(sharer, friend):
    card = make_card(sharer)

    with pytest.raises(GiftCardNotFound):
        gift_cards.share_card(customer_id=friend.pk, card_id=card.pk)
    with pytest.raises(GiftCardNotFound):
        gift_cards.share_card(customer_id=sharer.pk, card_id=card.pk + 1000)
    assert not GiftCardShare.objects.exists()


def test_an_offered_card_can_be_neither_spent_nor_topped_up(sharer):
    card = make_card(sharer, 20_000)
    gift_cards.share_card(customer_id=sharer.pk, card_id=card.pk)

    with transaction.atomic():
        cards = ledger.lock_cards([card.pk])
        with pytest.raises(GiftCardBeingShared):
            ledger.spend_plan(cards, card_ids=[card.pk], customer_id=sharer.pk, total_fen=1_000, now=clock.now())
        with pytest.raises(GiftCardBeingShared):
            gift_cards.check_top_up(
                cards[card.pk], customer_id=sharer.pk, amount_fen=10_000, pending_top_ups_fen=0, now=clock.now()
            )


# --- Claiming --------------------------------------------------------------------------------


def test_claiming_moves_the_whole_card_to_the_friend(sharer, friend):
    card = make_card(sharer, 20_000)
    offer = gift_cards.share_card(customer_id=sharer.pk, card_id=card.pk)

    claimed = gift_cards.claim_share(customer_id=friend.pk, token=offer.token)

    card.refresh_from_db()
    assert claimed.pk == card.pk
    assert (card.owner_id, card.purchaser_id, card.balance_fen, card.held_fen) == (friend.pk, sharer.pk, 20_000, 0)
    share = GiftCardShare.objects.get()
    assert (share.status, share.claimed_by_id) == ("claimed", friend.pk) and share.closed_at is not None
    transfer = GiftCardTransaction.objects.filter(card=card).last()
    assert (transfer.kind, transfer.amount_fen, transfer.held_delta_fen, transfer.balance_after_fen) == (
        "transfer",
        0,
        0,
        20_000,
    )
    assert transfer.data == {"from_customer_id": sharer.pk, "to_customer_id": friend.pk, "share_id": share.pk}
    assert list(gift_cards.my_cards(customer_id=sharer.pk)) == []
    assert [c.pk for c in gift_cards.my_cards(customer_id=friend.pk)] == [card.pk]
    assert ledger.ledger_problems() == []


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # one character of the secret
        lambda token: token.replace("GS1.", "GS2."),
        lambda token: token + "x",
        lambda token: token[:-1],
        lambda token: token.split(".")[0] + ".0." + token.split(".")[2],
        lambda token: token.split(".")[0] + ".99999999999999999999." + token.split(".")[2],
        lambda token: "",
        lambda token: " " + token,
    ],
)
def test_a_tampered_or_malformed_token_is_refused_and_changes_nothing(sharer, friend, mangle):
    card = make_card(sharer)
    offer = gift_cards.share_card(customer_id=sharer.pk, card_id=card.pk)
    before = _snapshot(card)

    with pytest.raises(InvalidShareToken):
        gift_cards.claim_share(customer_id=friend.pk, token=mangle(offer.token))

    assert _snapshot(card) == before
    assert GiftCardShare.objects.get().status == "open"


def test_a_token_naming_another_share_is_refused(sharer, friend):
    first = gift_cards.share_card(customer_id=sharer.pk, card_id=make_card(sharer).pk)
    second = gift_cards.share_card(customer_id=sharer.pk, card_id=make_card(sharer).pk)
    _, _, secret_of_first = first.token.split(".")

    with pytest.raises(InvalidShareToken):
        gift_cards.claim_share(customer_id=friend.pk, token=f"GS1.{second.share.pk}.{secret_of_first}")
    assert set(GiftCardShare.objects.values_list("status", flat=True)) == {"open"}


def test_a_replayed_claim_is_refused_as_already_claimed(sharer, friend):
    card = make_card(sharer)
    offer = gift_cards.share_card(customer_id=sharer.pk, card_id=card.pk)
    gift_cards.claim_share(customer_id=friend.pk, token=offer.token)
    before = _snapshot(card)

    with pytest.raises(GiftCardShareClaimed):
        gift_cards.claim_share(customer_id=friend.pk, token=offer.token)
    with pytest.raises(GiftCardShareClaimed):
        gift_cards.claim_share(customer_id=CustomerFactory().pk, token=offer.token)

    assert _snapshot(card) == before


def test_the_sharer_cannot_claim_their_own_card(sharer):
    card = make_card(sharer)
    offer = gift_cards.share_card(customer_id=sharer.pk, card_id=card.pk)

    with pytest.raises(GiftCardOwnShare):
        gift_cards.claim_share(customer_id=sharer.pk, token=offer.token)
    assert GiftCardShare.objects.get().status == "open"


def test_an_expired_share_cannot_be_claimed_and_is_marked_expired(sharer, friend, later):
    card = make_card(sharer)
    offer = gift_cards.share_card(customer_id=sharer.pk, card_id=card.pk)
    before = _snapshot(card)
    later(24 * HOUR)

    with pytest.raises(GiftCardShareExpired):
        gift_cards.claim_share(customer_id=friend.pk, token=offer.token)

    assert GiftCardShare.objects.get().status == "expired"
    assert _snapshot(card) == before


def test_a_frozen_card_cannot_be_claimed_until_staff_unfreeze_it(sharer, friend):
    card = make_card(sharer)
    offer = gift_cards.share_card(customer_id=sharer.pk, card_id=card.pk)
    gift_cards.freeze_card(card_id=card.pk, reason="chargeback under review")

    with pytest.raises(GiftCardFrozen):
        gift_cards.claim_share(customer_id=friend.pk, token=offer.token)
    assert GiftCard.objects.get(pk=card.pk).owner_id == sharer.pk

    gift_cards.unfreeze_card(card_id=card.pk)
    gift_cards.claim_share(customer_id=friend.pk, token=offer.token)
    assert GiftCard.objects.get(pk=card.pk).owner_id == friend.pk


# --- Cancelling ------------------------------------------------------------------------------


def test_a_cancelled_share_cannot_be_claimed_and_the_card_is_usable_again(sharer, friend):
    card = make_card(sharer, 20_000)
    offer = gift_cards.share_card(customer_id=sharer.pk, card_id=card.pk)

    gift_cards.cancel_share(customer_id=sharer.pk, card_id=card.pk)

    assert GiftCardShare.objects.get().status == "cancelled"
    with pytest.raises(GiftCardShareCancelled):
        gift_cards.claim_share(customer_id=friend.pk, token=offer.token)
    assert GiftCard.objects.get(pk=card.pk).owner_id == sharer.pk
    with transaction.atomic():
        cards = ledger.lock_cards([card.pk])
        plan = ledger.spend_plan(cards, card_ids=[card.pk], customer_id=sharer.pk, total_fen=1_000, now=clock.now())
    assert plan == {card.pk: 1_000}


def test_cancelling_without_an_open_share_is_refused(sharer, friend, later):
    card = make_card(sharer)
    with pytest.raises(GiftCardNotShared):
        gift_cards.cancel_share(customer_id=sharer.pk, card_id=card.pk)

    gift_cards.share_card(customer_id=sharer.pk, card_id=card.pk)
    with pytest.raises(GiftCardNotFound):
        gift_cards.cancel_share(customer_id=friend.pk, card_id=card.pk)
    later(25 * HOUR)
    with pytest.raises(GiftCardNotShared):
        gift_cards.cancel_share(customer_id=sharer.pk, card_id=card.pk)
    assert GiftCardShare.objects.get().status == "expired"


# --- After a claim ---------------------------------------------------------------------------


def test_the_friend_sees_only_the_ledger_written_since_the_card_became_theirs(sharer, friend):
    card = make_card(sharer, 20_000)
    hold_on(card, 3_000, order_id=700_001)
    with transaction.atomic():
        ledger.capture_for_order(order_id=700_001)
    offer = gift_cards.share_card(customer_id=sharer.pk, card_id=card.pk)
    gift_cards.claim_share(customer_id=friend.pk, token=offer.token)

    history = gift_cards.my_card(customer_id=friend.pk, card_id=card.pk).history

    assert [(row.kind, row.balance_after_fen, row.order_id) for row in history] == [("transfer", 17_000, None)]
    with pytest.raises(GiftCardNotFound):
        gift_cards.my_card(customer_id=sharer.pk, card_id=card.pk)


def test_a_refund_of_the_sharers_order_after_the_claim_goes_to_a_new_card_of_the_sharer(sharer, friend):
    card = make_card(sharer, 20_000)
    hold_on(card, 3_000, order_id=700_002)
    with transaction.atomic():
        ledger.capture_for_order(order_id=700_002)
    gift_cards.claim_share(
        customer_id=friend.pk, token=gift_cards.share_card(customer_id=sharer.pk, card_id=card.pk).token
    )

    with transaction.atomic():
        credited = ledger.credit(
            ledger.lock_cards([card.pk])[card.pk],
            amount_fen=3_000,
            kind="refund",
            customer_id=sharer.pk,
            order_id=700_002,
            refund_id=1,
        )

    assert (credited.amount_fen, credited.overflow_fen) == (0, 3_000)
    assert GiftCard.objects.get(pk=card.pk).balance_fen == 17_000
    new_card = GiftCard.objects.get(pk=credited.overflow_card_id)
    assert (new_card.owner_id, new_card.balance_fen) == (sharer.pk, 3_000)
    assert ledger.ledger_problems() == []


# --- Freezing --------------------------------------------------------------------------------


def test_freezing_records_when_and_why_and_unfreezing_clears_it(sharer):
    card = make_card(sharer)

    assert gift_cards.freeze_card(card_id=card.pk, reason="  reported stolen ") is True
    assert gift_cards.freeze_card(card_id=card.pk, reason="again") is False

    card.refresh_from_db()
    assert (card.status, card.frozen_reason) == ("frozen", "reported stolen") and card.frozen_at is not None
    assert gift_cards.unfreeze_card(card_id=card.pk) is True
    assert gift_cards.unfreeze_card(card_id=card.pk) is False
    card.refresh_from_db()
    assert (card.status, card.frozen_reason, card.frozen_at) == ("active", "", None)
    with pytest.raises(GiftCardNotFound):
        gift_cards.freeze_card(card_id=card.pk + 1000, reason="x")
