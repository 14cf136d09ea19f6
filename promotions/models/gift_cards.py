"""Gift cards: stored value a shopper buys, tops up, shares with a friend and spends.

A card's money lives in two columns: ``balance_fen`` (spendable now) and ``held_fen``
(set aside for an order whose external payment is still pending). Every change of
either is one append-only ``GiftCardTransaction`` written in the same transaction, whose
``amount_fen`` and ``held_delta_fen`` are the changes; so at every commit

    balance_fen == sum(amount_fen)   and   held_fen == sum(held_delta_fen)

over the card's ledger (``promotions.gift_cards.ledger_problems`` checks it, and the
``check_gift_card_ledgers`` command checks every card). The 100,000 fen cap on what a card
holds is a CHECK constraint, so no code path, however it races, can exceed it.

Orders live in ``checkout``, above this app: ledger rows name them by plain id.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

# What one card may hold, spendable and held together: 1,000 RMB.
GIFT_CARD_CAP_FEN = 100_000


class GiftCardDenomination(models.Model):
    """An amount the mini-program offers on its "buy a gift card" page."""

    amount_fen = models.PositiveIntegerField(unique=True)
    active = models.BooleanField(default=True)
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "amount_fen"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_fen__gte=1) & Q(amount_fen__lte=GIFT_CARD_CAP_FEN),
                name="gift_card_denomination_within_cap",
            )
        ]

    def __str__(self) -> str:
        return f"{self.amount_fen / 100:.2f} RMB"


class GiftCard(models.Model):
    """One virtual card. ``code`` is what staff and the shopper see (never logged in full);
    ``owner`` changes when a friend claims a share. A frozen card cannot be spent, shared
    or topped up; money still comes back to it on a refund."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        FROZEN = "frozen", "Frozen by staff"

    code = models.CharField(max_length=20, unique=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="gift_cards")
    purchaser = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    balance_fen = models.IntegerField(default=0, help_text="Spendable now.")
    held_fen = models.IntegerField(default=0, help_text="Set aside for orders awaiting their external payment.")
    initial_fen = models.PositiveIntegerField(help_text="What the card was bought (or issued) for.")
    issued_order_id = models.BigIntegerField(
        null=True, blank=True, help_text="The gift-card order that bought it (empty for refund cards)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    frozen_at = models.DateTimeField(null=True, blank=True)
    frozen_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["owner", "-created_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(balance_fen__gte=0), name="gift_card_balance_not_negative"),
            models.CheckConstraint(condition=Q(held_fen__gte=0), name="gift_card_held_not_negative"),
            models.CheckConstraint(
                condition=Q(balance_fen__lte=GIFT_CARD_CAP_FEN - F("held_fen")),
                name="gift_card_within_cap",
            ),
            models.UniqueConstraint(
                fields=["issued_order_id"], condition=Q(issued_order_id__isnull=False), name="gift_card_one_per_order"
            ),
        ]

    def __str__(self) -> str:
        return f"Gift card …{self.code[-4:]}"

    @property
    def masked_code(self) -> str:
        return "•" * max(len(self.code) - 4, 0) + self.code[-4:]


class GiftCardTransaction(models.Model):
    """Append-only: one row per change of a card's money or owner."""

    class Kind(models.TextChoices):
        ISSUE = "issue", "Issue"
        TOP_UP = "top_up", "Top-up"
        HOLD = "hold", "Hold for an order"
        CAPTURE = "capture", "Capture (order paid)"
        RELEASE = "release", "Release (order not paid)"
        REFUND = "refund", "Refund (return)"
        TRANSFER = "transfer", "Transfer to a friend"

    card = models.ForeignKey(GiftCard, on_delete=models.PROTECT, related_name="transactions")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    amount_fen = models.IntegerField(help_text="Change of the spendable balance.")
    held_delta_fen = models.IntegerField(default=0, help_text="Change of the held amount.")
    balance_after_fen = models.IntegerField()
    held_after_fen = models.IntegerField()
    order_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    refund_id = models.BigIntegerField(null=True, blank=True)
    customer_id = models.BigIntegerField(null=True, blank=True, help_text="Who the card belonged to after this.")
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            # A refund credits a card once however often it is driven.
            models.UniqueConstraint(
                fields=["card", "refund_id"], condition=Q(refund_id__isnull=False), name="gift_card_refund_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount_fen:+} / held {self.held_delta_fen:+}"


class GiftCardShare(models.Model):
    """A card offered to a friend through a WeChat share card. The token the sharer sends
    carries the share id and a secret of which only the SHA-256 is kept; claiming moves
    ``open`` to ``claimed`` with one conditional UPDATE, so two friends cannot both win."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLAIMED = "claimed", "Claimed"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired unclaimed"

    card = models.ForeignKey(GiftCard, on_delete=models.PROTECT, related_name="shares")
    sharer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    secret_hash = models.CharField(max_length=64)
    message = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["card"], condition=Q(status="open"), name="gift_card_share_one_open_per_card"
            )
        ]

    def __str__(self) -> str:
        return f"Share of {self.card_id} ({self.status})"
