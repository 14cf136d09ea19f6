"""``manage.py seed_demo``: the demo cities, stores, catalogue, prices, stock, admin and
shoppers, so a fresh checkout has something to browse, scan and buy.

Safe to run again: it creates only what is missing and changes nothing that exists (see
``stores.demo_seed``). It refuses to run in production, where a superuser with a
well-known password would be a hole, not a demo.
"""

from __future__ import annotations

import functools
import os
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from miniprogram_api.core import clock
from stores import demo_data, demo_seed

DEFAULT_ADMIN_USERNAME = "admin"
DEFAULT_ADMIN_PASSWORD = "admin-demo-password"  # noqa: S105 - the documented local demo login


class Command(BaseCommand):
    help = "Load deterministic demo data (cities, stores, products, stock, admin, shoppers); idempotent."

    def add_arguments(self, parser):
        parser.add_argument("--quiet", action="store_true", help="Print nothing unless something fails.")

    def handle(self, *args, quiet: bool = False, **options):
        if settings.PRODUCTION:
            raise CommandError("seed_demo loads demo data and a demo superuser; it does not run in production.")
        started = time.monotonic()
        today = clock.local_today()
        openid_for = appid = None
        if settings.SANDBOX_ENABLED:
            # Imported here: the sandbox app (and its models) exists only when enabled.
            from miniprogram_api.sandbox.wechat_login import sandbox_openid

            # The customer row carries our app id; the openid is the one the sandbox mints
            # under its own app id (the same one unless deliberately misconfigured).
            appid = settings.WECHAT_APPID
            openid_for = functools.partial(sandbox_openid, getattr(settings, "SANDBOX_WECHAT_APPID", appid))

        report = demo_seed.seed_demo(
            today=today,
            admin_username=os.environ.get("DEMO_ADMIN_USERNAME") or DEFAULT_ADMIN_USERNAME,
            admin_password=os.environ.get("DEMO_ADMIN_PASSWORD") or DEFAULT_ADMIN_PASSWORD,
            shoppers_appid=appid,
            openid_for=openid_for,
        )
        if quiet or options.get("verbosity", 1) == 0:
            return
        elapsed = time.monotonic() - started
        self.stdout.write(
            f"Demo data (seed {demo_data.SEED}; launch dates count back from {today.isoformat()}), {elapsed:.1f} s:"
        )
        for label, outcome in report.items():
            if isinstance(outcome, demo_seed.Tally):
                line = f"{outcome.created:>7} created {outcome.existing:>7} existing"
            else:
                line = f"  {outcome}"
            self.stdout.write(f"  {label:<14}{line}")
        if "shoppers" in report:
            names = ", ".join(shopper for shopper, _ in demo_data.SHOPPERS)
            self.stdout.write(f"  sandbox logins: {names}")
        else:
            self.stdout.write("  shoppers skipped: the sandbox is off")
