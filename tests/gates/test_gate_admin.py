"""Staff register gates (seeing the secret once), switch them off, and read passes and the
gate event log, which nobody can add to, change or delete from."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.test import Client
from django.utils import timezone

from checkout import gates
from checkout.models import ExitPass, Gate, GateEvent
from miniprogram_api.accounts.models import Customer
from tests.factories import LocationFactory
from tests.gates.gate_shop import exit_pass, gate_client, paid_order, scan

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff() -> Client:
    Customer.objects.create_superuser("boss", "a-strong-password")
    client = Client()
    client.login(username="boss", password="a-strong-password")
    return client


@pytest.fixture
def store():
    return LocationFactory(code="PSQ", name="People's Square")


@pytest.fixture
def history(store):
    """An open, a deny, an audit and its resolution: something of everything to list."""
    client, gate = gate_client(store)
    opened = exit_pass(paid_order(store))
    scan(client, opened.token)
    scan(client, "garbage")
    audited = exit_pass(paid_order(store), audit=True)
    audit_id = scan(client, audited.token).json()["audit_id"]
    client.post(f"/api/gate/v1/audits/{audit_id}/resolve", {"outcome": "passed"}, format="json")
    return gate, opened, audited


# --- Gates ----------------------------------------------------------------------------------


def test_staff_register_a_gate_and_see_its_secret_once(staff, store):
    response = staff.post("/admin/checkout/gate/add/", {"store": store.pk, "name": "Exit 1"}, follow=True)

    assert response.status_code == 200
    gate = Gate.objects.get(store=store, name="Exit 1")
    shown = " ".join(str(m) for m in response.context["messages"])
    header = re.search(r"Gate (gk_[0-9a-f]+):([A-Za-z0-9_-]+)", shown)
    assert header and header[1] == gate.key_id
    secret = header[2]
    assert response.content.decode().count(secret) == 1
    assert gate.secret_hash == hashlib.sha256(secret.encode()).hexdigest() != secret
    assert gates.authenticate_gate(key_id=gate.key_id, secret=secret) == gate

    for url in (f"/admin/checkout/gate/{gate.pk}/change/", "/admin/checkout/gate/"):  # never again
        page = staff.get(url).content.decode()
        assert gate.key_id in page and secret not in page and gate.secret_hash not in page


def test_a_duplicate_gate_name_is_a_form_error(staff, store):
    gates.create_gate(store_id=store.pk, name="Exit 1")

    response = staff.post("/admin/checkout/gate/add/", {"store": store.pk, "name": "Exit 1"})

    assert response.status_code == 200  # the form again, with the error
    assert Gate.objects.count() == 1


def test_staff_disable_gates_with_an_action_and_they_are_locked_out(staff, store):
    client, gate = gate_client(store)
    _, other = gate_client(store, "Exit 2")

    response = staff.post(
        "/admin/checkout/gate/", {"action": "disable_selected", "_selected_action": [gate.pk]}, follow=True
    )

    assert response.status_code == 200
    assert "Disabled 1 gate(s)." in response.content.decode()
    assert list(Gate.objects.filter(active=True)) == [other]
    assert scan(client, "anything").json()["error"]["code"] == "gate_disabled"


def test_gate_screens_list_by_store_and_active(staff, store):
    _, gate = gate_client(store)

    for url in (
        "/admin/checkout/gate/",
        f"/admin/checkout/gate/?store__id__exact={store.pk}",
        "/admin/checkout/gate/?active__exact=1",
        f"/admin/checkout/gate/?q={gate.key_id}",
        "/admin/checkout/gate/add/",
        f"/admin/checkout/gate/{gate.pk}/change/",
    ):
        assert staff.get(url).status_code == 200, url
    assert "Exit 1" in staff.get(f"/admin/checkout/gate/?store__id__exact={store.pk}").content.decode()


def test_gates_cannot_be_deleted(staff, store):
    _, gate = gate_client(store)

    assert staff.post(f"/admin/checkout/gate/{gate.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Gate.objects.filter(pk=gate.pk).exists()


# --- Exit passes -------------------------------------------------------------------------------


def test_exit_pass_screens_search_by_order_number_and_filter_used_and_expired(staff, history):
    _, opened, audited = history

    for url in (
        "/admin/checkout/exitpass/",
        "/admin/checkout/exitpass/?used=yes",
        "/admin/checkout/exitpass/?used=no",
        "/admin/checkout/exitpass/?expired=yes",
        "/admin/checkout/exitpass/?expired=no",
        f"/admin/checkout/exitpass/{opened.pk}/change/",
    ):
        assert staff.get(url).status_code == 200, url

    found = staff.get(f"/admin/checkout/exitpass/?q={opened.order.number}").content.decode()
    assert opened.order.number in found and audited.order.number not in found
    assert staff.get("/admin/checkout/exitpass/?expired=yes").context["cl"].result_count == 0
    assert staff.get("/admin/checkout/exitpass/?used=yes").context["cl"].result_count == 2
    assert opened.token not in staff.get(f"/admin/checkout/exitpass/{opened.pk}/change/").content.decode()


def test_exit_passes_are_read_only(staff, history):
    _, opened, _ = history

    assert staff.get("/admin/checkout/exitpass/add/").status_code == 403
    assert staff.post(f"/admin/checkout/exitpass/{opened.pk}/change/", {"audit": "on"}).status_code == 403
    assert staff.post(f"/admin/checkout/exitpass/{opened.pk}/delete/", {"post": "yes"}).status_code == 403
    assert ExitPass.objects.filter(pk=opened.pk, audit=False).exists()


# --- Gate events ---------------------------------------------------------------------------------


def test_gate_event_log_filters_by_store_gate_decision_and_day_and_searches_orders(staff, history, store):
    gate, opened, _ = history
    elsewhere, other_gate = gate_client(LocationFactory(code="XJH"), "Exit 9")
    scan(elsewhere, "garbage")
    event = GateEvent.objects.get(decision="open", resolves__isnull=True)
    day = timezone.localtime(event.occurred_at)  # the admin's date hierarchy is in TIME_ZONE

    for url in (
        "/admin/checkout/gateevent/",
        f"/admin/checkout/gateevent/?gate__store__id__exact={store.pk}",
        f"/admin/checkout/gateevent/?gate__id__exact={gate.pk}",
        "/admin/checkout/gateevent/?decision__exact=deny",
        "/admin/checkout/gateevent/?audit=pending",
        "/admin/checkout/gateevent/?audit=resolved",
        f"/admin/checkout/gateevent/?occurred_at__year={day.year}",
        f"/admin/checkout/gateevent/{event.pk}/change/",
    ):
        assert staff.get(url).status_code == 200, url

    def count(query: str) -> int:
        return staff.get(f"/admin/checkout/gateevent/?{query}").context["cl"].result_count

    assert count("") == 5
    assert count(f"gate__store__id__exact={store.pk}") == 4
    assert count(f"gate__store__id__exact={other_gate.store_id}") == 1
    assert count(f"gate__id__exact={gate.pk}") == 4
    assert count("decision__exact=audit") == 1
    assert count("decision__exact=deny") == 2
    assert count("audit=resolved") == 1 and count("audit=pending") == 0
    assert count(f"q={opened.order.number}") == 1
    assert count(f"occurred_at__year={day.year}&occurred_at__month={day.month}&occurred_at__day={day.day}") == 5


def test_gate_event_log_is_append_only(staff, history):
    event = GateEvent.objects.first()

    assert staff.get("/admin/checkout/gateevent/add/").status_code == 403
    assert staff.post(f"/admin/checkout/gateevent/{event.pk}/change/", {"reason": "ok"}).status_code == 403
    assert staff.post(f"/admin/checkout/gateevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    response = staff.post("/admin/checkout/gateevent/", {"action": "delete_selected", "_selected_action": [event.pk]})
    assert response.status_code in (200, 302, 403)
    assert GateEvent.objects.filter(pk=event.pk).exists()
    assert GateEvent.objects.count() == 4
