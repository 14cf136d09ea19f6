"""``manage.py check_gift_card_ledgers``: every card's balance and held amount against its
ledger. Prints each card that differs and exits 1 if any does (for a monitoring job);
prints how many cards it checked otherwise. A difference means money moved outside
``gift_card_ledger``: freeze the card and investigate, never "fix" the figures by hand.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from promotions.gift_card_ledger import ledger_problems
from promotions.models import GiftCard


class Command(BaseCommand):
    help = "Check that every gift card's balance and held amount equal the sums of its ledger; exit 1 if not."

    def handle(self, *args, **options):
        problems = ledger_problems()
        for problem in problems:
            self.stdout.write(
                "card {card_id}: balance {balance_fen} fen, ledger {ledger_balance_fen} fen; "
                "held {held_fen} fen, ledger {ledger_held_fen} fen".format(**problem)
            )
        if problems:
            raise CommandError(f"{len(problems)} gift card(s) differ from their ledger.", returncode=1)
        self.stdout.write(f"{GiftCard.objects.count()} gift card(s) checked: every one matches its ledger.")
