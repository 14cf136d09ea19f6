"""``manage.py seed_demo_promotions``: coupon offers, flash sales, Brand of the Day, the
delivery fee, a raffle and the 8.8 festival, placed around today, on the catalogue that
``manage.py seed_demo`` made (run that first; ``make seed`` runs both).

Safe to run again: it creates only what is missing or has ended (see
``promotions.demo_seed``). It refuses to run in production, where demo discounts would be
real money.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from miniprogram_api.core import clock
from promotions import demo_seed


class Command(BaseCommand):
    help = "Load demo promotions around today on the demo catalogue (run seed_demo first); idempotent."

    def add_arguments(self, parser):
        parser.add_argument("--quiet", action="store_true", help="Print nothing unless something fails.")

    def handle(self, *args, quiet: bool = False, **options):
        if settings.PRODUCTION:
            raise CommandError("seed_demo_promotions loads demo discounts; it does not run in production.")
        now = clock.now()
        try:
            report = demo_seed.seed_demo_promotions(now=now)
        except demo_seed.DemoCatalogueMissing as exc:
            raise CommandError(str(exc)) from None
        if quiet or options.get("verbosity", 1) == 0:
            return
        self.stdout.write(f"Demo promotions around {clock.local_date(now).isoformat()} (Asia/Shanghai):")
        for label, tally in report.items():
            self.stdout.write(f"  {label:<14}{tally.created:>7} created {tally.existing:>7} existing")
