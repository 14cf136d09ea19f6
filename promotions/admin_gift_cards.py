"""Staff screens for gift cards: each card with its ledger, the shares, and the amounts sold.

Nothing here moves money: a card's balance and held amount change only through
``gift_card_ledger`` (buying, spending, refunds), so every field of a card, its ledger and
its shares is read-only. What staff may do is freeze a card (it can then not be spent,
shared, claimed or topped up) and unfreeze it; both are recorded on the card
(``frozen_at``, ``frozen_reason``) and in the admin's history.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm

from miniprogram_api.core import clock
from miniprogram_api.core.money import format_yuan

from . import gift_cards
from .admin_base import ReadOnlyAdmin, ReadOnlyInline
from .models import GiftCard, GiftCardDenomination, GiftCardShare, GiftCardTransaction


class GiftCardTransactionInline(ReadOnlyInline):
    model = GiftCardTransaction
    verbose_name = "ledger row"
    verbose_name_plural = "ledger (append-only)"
    fields = ("created_at", "kind", "amount", "held_delta", "balance_after", "held_after", "order_id", "refund_id",
              "customer_id", "data")  # fmt: skip
    readonly_fields = fields
    ordering = ("pk",)

    @admin.display(description="balance change")
    def amount(self, row: GiftCardTransaction) -> str:
        return format_yuan(row.amount_fen)

    @admin.display(description="held change")
    def held_delta(self, row: GiftCardTransaction) -> str:
        return format_yuan(row.held_delta_fen)

    @admin.display(description="balance after")
    def balance_after(self, row: GiftCardTransaction) -> str:
        return format_yuan(row.balance_after_fen)

    @admin.display(description="held after")
    def held_after(self, row: GiftCardTransaction) -> str:
        return format_yuan(row.held_after_fen)


class GiftCardShareInline(ReadOnlyInline):
    model = GiftCardShare
    fields = ("id", "sharer", "status", "created_at", "expires_at", "claimed_by", "closed_at", "message")
    readonly_fields = fields
    ordering = ("-pk",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("sharer", "claimed_by")


class FreezeActionForm(ActionForm):
    reason = forms.CharField(required=False, max_length=200, label="Reason (to freeze)")


@admin.register(GiftCard)
class GiftCardAdmin(admin.ModelAdmin):
    list_display = ("masked", "owner", "balance", "held", "status", "initial", "created_at", "frozen_at")
    list_filter = ("status",)
    list_select_related = ("owner",)
    search_fields = ("=code", "code__endswith", "owner__username", "owner__nickname", "=owner__phone")
    search_help_text = "The full code or its last digits, or the owner's username, nickname or phone."
    date_hierarchy = "created_at"
    inlines = (GiftCardTransactionInline, GiftCardShareInline)
    actions = ("freeze_selected", "unfreeze_selected")
    action_form = FreezeActionForm
    fields = ("code", "owner", "purchaser", "status", "balance", "held", "initial", "issued_order_id", "created_at",
              "frozen_at", "frozen_reason")  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """Read-only page: no save buttons (freezing is a list action)."""
        extra_context = {**(extra_context or {}), "show_save": False, "show_save_and_continue": False,
                         "show_save_and_add_another": False}  # fmt: skip
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change) -> None:
        """Every field is read-only: a forged POST saves nothing."""

    @admin.display(description="code", ordering="code")
    def masked(self, card: GiftCard) -> str:
        return card.masked_code

    @admin.display(description="balance", ordering="balance_fen")
    def balance(self, card: GiftCard) -> str:
        return format_yuan(card.balance_fen)

    @admin.display(description="held", ordering="held_fen")
    def held(self, card: GiftCard) -> str:
        return format_yuan(card.held_fen)

    @admin.display(description="bought for", ordering="initial_fen")
    def initial(self, card: GiftCard) -> str:
        return format_yuan(card.initial_fen)

    @admin.action(description="Freeze selected gift cards (give the reason)", permissions=["change"])
    def freeze_selected(self, request, queryset) -> None:
        reason = request.POST.get("reason", "").strip()
        if not reason:
            self.message_user(request, "Nothing frozen: give a reason.", messages.ERROR)
            return
        frozen = []
        for card in queryset.order_by("pk"):
            if gift_cards.freeze_card(card_id=card.pk, reason=reason):
                self.log_change(request, card, f"Frozen at {clock.now():%Y-%m-%d %H:%M}: {reason}")
                frozen.append(card.masked_code)
        self.message_user(request, f"Froze {len(frozen)} gift card(s): {', '.join(frozen) or '-'}.", messages.SUCCESS)

    @admin.action(description="Unfreeze selected gift cards", permissions=["change"])
    def unfreeze_selected(self, request, queryset) -> None:
        unfrozen = []
        for card in queryset.order_by("pk"):
            if gift_cards.unfreeze_card(card_id=card.pk):
                self.log_change(request, card, f"Unfrozen (was frozen: {card.frozen_reason})")
                unfrozen.append(card.masked_code)
        self.message_user(
            request, f"Unfroze {len(unfrozen)} gift card(s): {', '.join(unfrozen) or '-'}.", messages.SUCCESS
        )


@admin.register(GiftCardShare)
class GiftCardShareAdmin(ReadOnlyAdmin):
    list_display = ("id", "card", "sharer", "shown_status", "created_at", "expires_at", "claimed_by", "closed_at")
    list_filter = ("status",)
    list_select_related = ("card", "sharer", "claimed_by")
    search_fields = ("=card__code", "sharer__username", "claimed_by__username")
    fields = ("card", "sharer", "status", "message", "created_at", "expires_at", "claimed_by", "closed_at")

    @admin.display(description="status", ordering="status")
    def shown_status(self, share: GiftCardShare) -> str:
        """An open share past its time is expired, before anything marks it so."""
        if share.status == GiftCardShare.Status.OPEN and share.expires_at <= clock.now():
            return GiftCardShare.Status.EXPIRED.label
        return share.get_status_display()


@admin.register(GiftCardDenomination)
class GiftCardDenominationAdmin(admin.ModelAdmin):
    """The amounts offered on the "buy a gift card" page (a custom amount is possible too)."""

    list_display = ("amount_fen", "shown", "active", "sort_order")
    list_editable = ("active", "sort_order")
    ordering = ("sort_order", "amount_fen")

    @admin.display(description="amount")
    def shown(self, denomination: GiftCardDenomination) -> str:
        return format_yuan(denomination.amount_fen)
