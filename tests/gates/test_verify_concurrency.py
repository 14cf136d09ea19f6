"""Twenty gates scanning one pass at the same moment open it exactly once.

Real threads, each with its own database connection and gate credential, through the
HTTP API. The pass is used by one conditional UPDATE (``WHERE used_at IS NULL``): on
PostgreSQL the row lock makes the losers re-check and find it used; on SQLite each write
transaction begins IMMEDIATE, which serialises writers. Both must give the same answers.
"""

from __future__ import annotations

from collections import Counter

import pytest
from rest_framework.test import APIClient

from checkout.models import ExitPass, GateEvent
from tests.factories import LocationFactory
from tests.gates.gate_shop import exit_pass, gate_client, paid_order, scan
from tests.parallel import run_in_parallel

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 20


def gates_of(store, count: int) -> list[APIClient]:
    return [gate_client(store, f"Exit {n}")[0] for n in range(count)]


def test_twenty_gates_scanning_one_pass_at_once_open_it_exactly_once():
    store = LocationFactory()
    issued = exit_pass(paid_order(store))
    clients = gates_of(store, THREADS)

    def scan_once(index: int) -> dict:
        response = scan(clients[index], issued.token)
        assert response.status_code == 200, response.content
        return response.json()

    answers = run_in_parallel(scan_once, THREADS)

    assert Counter((a["decision"], a["reason"]) for a in answers) == {("open", "ok"): 1, ("deny", "already_used"): 19}
    issued.refresh_from_db()
    opened = next(a for a in answers if a["decision"] == "open")
    assert {a["used_gate"]["id"] for a in answers if a["decision"] == "deny"} == {issued.used_gate_id}
    assert GateEvent.objects.get(decision="open").pk == opened["event_id"]
    assert GateEvent.objects.filter(exit_pass=issued).count() == THREADS
    assert GateEvent.objects.get(decision="open").gate_id == issued.used_gate_id


def test_gate_that_loses_the_race_after_reading_the_pass_unused_is_denied_with_the_winner(monkeypatch):
    """The interleaving forced: another gate uses the pass between this gate's read and its
    UPDATE. The UPDATE's condition, not the read, decides."""
    from checkout import gate_decisions

    store = LocationFactory()
    issued = exit_pass(paid_order(store))
    (slow, _), (_, fast_gate) = gate_client(store, "Exit 1"), gate_client(store, "Exit 2")
    read_unused = gate_decisions._refusal

    def refusal_then_lose_the_race(exit_pass_row):
        reason = read_unused(exit_pass_row)
        if reason is None:  # this gate saw it unused; now the other gate gets there first
            ExitPass.objects.filter(pk=exit_pass_row.pk).update(used_at=exit_pass_row.issued_at, used_gate=fast_gate)
        return reason

    monkeypatch.setattr(gate_decisions, "_refusal", refusal_then_lose_the_race)

    body = scan(slow, issued.token).json()

    assert (body["decision"], body["reason"]) == ("deny", "already_used")
    assert body["used_gate"] == {"id": fast_gate.pk, "name": "Exit 2"}
    assert not GateEvent.objects.filter(decision="open").exists()
    assert ExitPass.objects.get(pk=issued.pk).used_gate_id == fast_gate.pk


def test_one_gate_sending_one_audit_pass_twenty_times_at_once_raises_one_audit():
    store = LocationFactory()
    issued = exit_pass(paid_order(store), audit=True)
    client = gates_of(store, 1)[0]

    answers = run_in_parallel(lambda _: scan(client, issued.token).json(), THREADS)

    assert Counter(a["decision"] for a in answers) == {"audit": 1, "deny": 19}
    assert GateEvent.objects.filter(decision="audit").count() == 1
    assert ExitPass.objects.get(pk=issued.pk).used_at is not None


def test_two_staff_resolving_one_audit_at_once_record_one_verdict():
    store = LocationFactory()
    issued = exit_pass(paid_order(store), audit=True)
    clients = gates_of(store, 10)
    audit_id = scan(clients[0], issued.token).json()["audit_id"]

    def resolve(index: int) -> dict:
        response = clients[index].post(f"/api/gate/v1/audits/{audit_id}/resolve", {"outcome": "passed"}, format="json")
        return {"status": response.status_code, "code": response.json().get("error", {}).get("code")}

    answers = run_in_parallel(resolve, 10)

    assert Counter((a["status"], a["code"]) for a in answers) == {(200, None): 1, (409, "audit_already_resolved"): 9}
    assert GateEvent.objects.filter(resolves_id=audit_id).count() == 1
