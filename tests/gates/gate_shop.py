"""A store with paid scan & pay orders, their exit passes, and gates with real credentials.

Shared by the gate tests so each reads as "pay, scan at the gate" rather than as twenty
lines of setup. Passes are issued by the real service (``issue_exit_pass``); whether one
needs an audit is pinned per pass through the audit settings, never left to the dice.
"""

from __future__ import annotations

from django.test import override_settings
from rest_framework.test import APIClient

from checkout import gates, order_states
from checkout.exitpass import issue_exit_pass
from checkout.models import ExitPass, Gate, Order
from stores.models import Location
from tests.factories import CustomerFactory, ProductFactory
from tests.orders import make_order

VERIFY_URL = "/api/gate/v1/verify"


def paid_order(store: Location, *, age_restricted: bool = False) -> Order:
    """Two milks at 11.90 (and a beer at 6.50 if ``age_restricted``), paid."""
    items = [(ProductFactory(name="Bright Fresh Milk 950ml"), 2, 1190)]
    if age_restricted:
        items.append((ProductFactory(name="Tsingtao Beer 500ml", age_restricted=True), 1, 650))
    order = make_order(customer_id=CustomerFactory().pk, store_id=store.pk, items=items)
    assert order_states.transition(order_id=order.pk, from_state="pending_payment", to_state="paid", event="paid")
    order.refresh_from_db()
    return order


def exit_pass(order: Order, *, audit: bool = False) -> ExitPass:
    """The order's pass, issued by the service; audited (random sample) or not, as asked."""
    with override_settings(EXIT_AUDIT_SAMPLE_PER_MILLE=1000 if audit else 0, EXIT_AUDIT_AGE_RESTRICTED=False):
        issued = issue_exit_pass(order_id=order.pk)
    assert issued.audit is audit
    return issued


def gate_client(store: Location, name: str = "Exit 1") -> tuple[APIClient, Gate]:
    """A registered gate and an API client sending its credential."""
    gate, secret = gates.create_gate(store_id=store.pk, name=name)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=gates.authorization_header(gate.key_id, secret))
    return client, gate


def scan(client: APIClient, token: str):
    return client.post(VERIFY_URL, {"token": token}, format="json")
