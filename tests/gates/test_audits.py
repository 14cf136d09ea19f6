"""An audit decision waits for staff: they check the basket and resolve it once, at a
gate of the same store; the verdict is a new event pointing at the audit."""

from __future__ import annotations

import pytest

from checkout.models import GateEvent
from tests.factories import LocationFactory
from tests.gates.gate_shop import exit_pass, gate_client, paid_order, scan

pytestmark = pytest.mark.django_db


@pytest.fixture
def store():
    return LocationFactory(code="PSQ")


@pytest.fixture
def gate(store):
    return gate_client(store)


@pytest.fixture
def audit_id(store, gate) -> int:
    client, _ = gate
    body = scan(client, exit_pass(paid_order(store), audit=True).token).json()
    assert body["decision"] == "audit"
    return body["audit_id"]


def resolve(client, audit_id: int, outcome: str, note: str | None = None):
    payload = {"outcome": outcome} if note is None else {"outcome": outcome, "note": note}
    return client.post(f"/api/gate/v1/audits/{audit_id}/resolve", payload, format="json")


def test_passed_audit_opens_and_is_recorded_as_its_resolution(gate, audit_id):
    client, gate_row = gate

    response = resolve(client, audit_id, "passed", "basket matches the receipt")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["decision"], body["reason"], body["audit_id"]) == ("open", "audit_passed", audit_id)
    assert body["note"] == "basket matches the receipt" and body["message"]
    resolution = GateEvent.objects.get(pk=body["event_id"])
    audit = GateEvent.objects.get(pk=audit_id)
    assert resolution.resolves_id == audit_id and resolution.gate_id == gate_row.pk
    assert resolution.exit_pass_id == audit.exit_pass_id
    assert (resolution.decision, resolution.reason, resolution.data) == (
        "open", "audit_passed", {"note": "basket matches the receipt"}
    )  # fmt: skip
    assert audit.decision == "audit"  # the audit itself is never rewritten


def test_failed_audit_denies(gate, audit_id):
    client, _ = gate

    body = resolve(client, audit_id, "failed", "two unscanned bottles").json()

    assert (body["decision"], body["reason"]) == ("deny", "audit_failed")
    assert GateEvent.objects.get(pk=body["event_id"]).data == {"note": "two unscanned bottles"}


def test_note_is_optional(gate, audit_id):
    client, _ = gate

    assert resolve(client, audit_id, "passed").json()["note"] == ""


def test_resolving_twice_is_409_and_keeps_the_first_verdict(gate, audit_id):
    client, _ = gate
    first = resolve(client, audit_id, "passed").json()

    response = resolve(client, audit_id, "failed")

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "audit_already_resolved"
    assert error["details"]["resolution_id"] == first["event_id"] and error["details"]["decision"] == "open"
    assert GateEvent.objects.filter(resolves_id=audit_id).count() == 1


def test_another_gate_of_the_same_store_may_resolve(store, audit_id):
    other, other_gate = gate_client(store, "Exit 2")

    body = resolve(other, audit_id, "passed").json()

    assert GateEvent.objects.get(pk=body["event_id"]).gate_id == other_gate.pk


def test_another_stores_gate_cannot_see_the_audit(audit_id):
    elsewhere, _ = gate_client(LocationFactory(code="XJH"))

    response = resolve(elsewhere, audit_id, "passed")

    assert response.status_code == 404 and response.json()["error"]["code"] == "audit_not_found"
    assert not GateEvent.objects.filter(resolves_id=audit_id).exists()


def test_unknown_audit_is_404(gate):
    client, _ = gate

    assert resolve(client, 999999, "passed").status_code == 404


def test_an_event_that_is_not_an_audit_cannot_be_resolved(store, gate):
    client, _ = gate
    opened = scan(client, exit_pass(paid_order(store)).token).json()
    denied = scan(client, "garbage").json()

    for event_id in (opened["event_id"], denied["event_id"]):
        response = resolve(client, event_id, "passed")
        assert response.status_code == 404 and response.json()["error"]["code"] == "audit_not_found"


def test_a_resolution_cannot_itself_be_resolved(gate, audit_id):
    client, _ = gate
    resolution = resolve(client, audit_id, "passed").json()["event_id"]

    assert resolve(client, resolution, "failed").status_code == 404


@pytest.mark.parametrize(
    "payload",
    [{}, {"outcome": "maybe"}, {"outcome": None}, {"outcome": "passed", "note": "x" * 501}],
    ids=["missing", "unknown", "null", "note-too-long"],
)
def test_bad_resolution_input_is_400_and_resolves_nothing(gate, audit_id, payload):
    client, _ = gate

    response = client.post(f"/api/gate/v1/audits/{audit_id}/resolve", payload, format="json")

    assert response.status_code == 400 and response.json()["error"]["code"] == "validation_error"
    assert not GateEvent.objects.filter(resolves_id=audit_id).exists()
