"""``manage.py create_gate STORE_CODE NAME``: register an exit gate and print its credential.

The secret is printed once and stored only as its SHA-256: copy the ``Authorization``
line into the gate's configuration now, or register the gate again.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from checkout import gates
from stores.models import Location


class Command(BaseCommand):
    help = "Register an exit gate at a store and print its credential (shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("store_code", help="The store's code, e.g. PSQ.")
        parser.add_argument("name", help="The gate's name, unique within the store, e.g. 'Exit 1'.")

    def handle(self, *args, store_code: str, name: str, **options):
        name = name.strip()
        if not name or len(name) > 64:
            raise CommandError("The gate's name must be 1 to 64 characters.")
        store = Location.objects.filter(code=store_code, kind=Location.Kind.STORE).first()
        if store is None:
            raise CommandError(f"There is no store with code {store_code!r}.")
        try:
            gate, secret = gates.create_gate(store_id=store.pk, name=name)
        except gates.GateNameTaken:
            raise CommandError(f"Store {store.code} already has a gate named {name!r}.") from None
        self.stdout.write(f"Registered gate {gate.name!r} at {store.code} ({store.name}), key id {gate.key_id}.")
        self.stdout.write("The secret is shown only now. Put this header in the gate's configuration:")
        self.stdout.write(gates.authorization_header(gate.key_id, secret))
