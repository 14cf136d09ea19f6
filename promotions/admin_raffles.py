"""Staff screens for raffles and their draws.

Draws are written only by the entry service (under the day's budget lock), so entries and
the per-day budget rows are read-only; what staff need at a glance is how many entered,
how many won and how much of today's prize budget is left.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import F, IntegerField, OuterRef, Subquery, Sum

from miniprogram_api.core import clock
from miniprogram_api.core.money import format_yuan

from .admin_base import ReadOnlyAdmin, ReadOnlyInline, SwitchableAdmin, count_of
from .admin_filters import STATUS_LABELS, LiveStatusFilter, status_of
from .models import Raffle, RaffleDay, RaffleEntry


def budget_left_today_fen(raffle: Raffle) -> int:
    """Today's row (budget - spent) when a draw has opened one, else the full daily budget.
    Reads the ``today_left_fen`` annotation of ``RaffleAdmin.get_queryset``."""
    left = raffle.today_left_fen
    return raffle.daily_prize_budget_fen if left is None else left


class RaffleDayInline(ReadOnlyInline):
    model = RaffleDay
    fields = ("date", "budget", "spent", "left")
    readonly_fields = fields
    ordering = ("-date",)

    @admin.display(description="budget")
    def budget(self, day: RaffleDay) -> str:
        return format_yuan(day.budget_fen)

    @admin.display(description="given away")
    def spent(self, day: RaffleDay) -> str:
        return format_yuan(day.spent_fen)

    @admin.display(description="left")
    def left(self, day: RaffleDay) -> str:
        return format_yuan(day.budget_fen - day.spent_fen)


@admin.register(Raffle)
class RaffleAdmin(SwitchableAdmin):
    list_display = ("name", "status", "starts_at", "ends_at", "chance", "prize", "daily_budget", "entry_count",
                    "winner_count", "budget_left_today", "active")  # fmt: skip
    list_filter = (LiveStatusFilter, "active")
    search_fields = ("name",)
    date_hierarchy = "starts_at"
    fieldsets = (
        (None, {"fields": ("name", "active", "starts_at", "ends_at")}),
        (
            "Rules",
            {
                "fields": ("win_probability_ppm", "prize_fen", "daily_prize_budget_fen", "daily_entries_per_customer"),
                "description": "Amounts in fen (100 fen = ¥1); the chance in parts per million (100000 = 10%).",
            },
        ),
        ("Figures", {"fields": ("entry_count", "winner_count", "budget_left_today", "prize_given")}),
    )
    readonly_fields = ("entry_count", "winner_count", "budget_left_today", "prize_given")
    inlines = (RaffleDayInline,)

    def get_queryset(self, request):
        today = RaffleDay.objects.filter(raffle=OuterRef("pk"), date=clock.local_today())
        return (
            super()
            .get_queryset(request)
            .annotate(
                entries_count=count_of(RaffleEntry.objects.all(), "raffle"),
                winners_count=count_of(RaffleEntry.objects.filter(won=True), "raffle"),
                today_left_fen=Subquery(
                    today.annotate(left=F("budget_fen") - F("spent_fen")).values("left"), output_field=IntegerField()
                ),
            )
        )

    @admin.display(description="status")
    def status(self, raffle: Raffle) -> str:
        return STATUS_LABELS[status_of(raffle, clock.now())]

    @admin.display(description="chance", ordering="win_probability_ppm")
    def chance(self, raffle: Raffle) -> str:
        return f"{raffle.win_probability_ppm / 10_000:g}%"

    @admin.display(description="prize", ordering="prize_fen")
    def prize(self, raffle: Raffle) -> str:
        return format_yuan(raffle.prize_fen)

    @admin.display(description="daily budget", ordering="daily_prize_budget_fen")
    def daily_budget(self, raffle: Raffle) -> str:
        return format_yuan(raffle.daily_prize_budget_fen)

    @admin.display(description="entries", ordering="entries_count")
    def entry_count(self, raffle: Raffle) -> int | str:
        return raffle.entries_count if raffle.pk else "-"

    @admin.display(description="winners", ordering="winners_count")
    def winner_count(self, raffle: Raffle) -> int | str:
        return raffle.winners_count if raffle.pk else "-"

    @admin.display(description="budget left today")
    def budget_left_today(self, raffle: Raffle) -> str:
        return format_yuan(budget_left_today_fen(raffle)) if raffle.pk else "-"

    @admin.display(description="given away in all")
    def prize_given(self, raffle: Raffle) -> str:
        if not raffle.pk:
            return "-"
        return format_yuan(raffle.days.aggregate(fen=Sum("spent_fen", default=0))["fen"])


@admin.register(RaffleEntry)
class RaffleEntryAdmin(ReadOnlyAdmin):
    list_display = ("id", "raffle", "customer", "order_id", "date", "outcome", "prize", "created_at")
    list_filter = ("outcome", "won", ("raffle", admin.RelatedOnlyFieldListFilter), "date")
    list_select_related = ("raffle", "customer")
    search_fields = ("customer__username", "customer__nickname", "customer__phone")
    raw_id_fields = ("customer",)
    date_hierarchy = "date"
    fields = ("raffle", "customer", "order_id", "date", "won", "outcome", "prize_fen", "created_at")
    readonly_fields = fields

    @admin.display(description="prize", ordering="prize_fen")
    def prize(self, entry: RaffleEntry) -> str:
        return format_yuan(entry.prize_fen) if entry.won else ""
