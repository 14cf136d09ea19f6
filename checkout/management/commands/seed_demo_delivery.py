"""``manage.py seed_demo_delivery``: demo couriers (after ``seed_demo``)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from checkout.demo_delivery import seed_demo_delivery


class Command(BaseCommand):
    help = "Create demo couriers for every active city."

    def handle(self, *args, **options) -> None:
        if settings.PRODUCTION:
            raise CommandError("Demo data is not for production.")
        counts = seed_demo_delivery()
        self.stdout.write(f"created {counts['couriers']} demo couriers")
