"""``POST /api/gate/v1/offline-events``: what gates decided offline, recorded once each,
spending the passes they let through and flagging any pass that let someone out twice."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from rest_framework.test import APIClient

from checkout import exitpass, gate_decisions, gates
from checkout.models import ExitPass, GateEvent, Order
from gate_verifier.offline import OfflineVerifier, load_keys
from miniprogram_api.core import clock
from tests.api.test_orders_api import _order
from tests.factories import CustomerFactory, LocationFactory
from tests.parallel import run_in_parallel

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
UPLOAD = "/api/gate/v1/offline-events"


@pytest.fixture(autouse=True)
def _no_random_audits(settings):
    settings.EXIT_AUDIT_SAMPLE_PER_MILLE = 0


@pytest.fixture
def store():
    return LocationFactory()


def gate_client(store, name: str) -> APIClient:
    gate, secret = gates.create_gate(store_id=store.pk, name=name)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=gates.authorization_header(gate.key_id, secret))
    client.gate = gate
    return client


@pytest.fixture
def gate_a(store):
    return gate_client(store, "Exit A")


@pytest.fixture
def gate_b(store):
    return gate_client(store, "Exit B")


def paid_pass(store, *, audit: bool = False) -> ExitPass:
    order = _order(CustomerFactory(), store, lines=1)
    Order.objects.filter(pk=order.pk).update(state=Order.State.PAID, paid_at=clock.now())
    exit_pass = exitpass.issue_exit_pass(order_id=order.pk)
    if audit:
        ExitPass.objects.filter(pk=exit_pass.pk).update(audit=True)
        exit_pass.refresh_from_db()
    return exit_pass


def event(token: str, decision: str = "open", reason: str = "ok", *, minutes_ago: int = 5) -> dict:
    occurred_at = clock.now().astimezone(SHANGHAI) - dt.timedelta(minutes=minutes_ago)
    return {"token": token, "decision": decision, "reason": reason, "occurred_at": occurred_at.isoformat()}


def upload(client: APIClient, *events: dict):
    return client.post(UPLOAD, {"events": list(events)}, format="json")


@pytest.mark.django_db
def test_offline_decisions_are_recorded_with_the_gates_time_and_spend_the_passes(store, gate_a):
    opened, audited, denied = paid_pass(store), paid_pass(store, audit=True), paid_pass(store)
    events = [
        event(opened.token, minutes_ago=9),
        event(audited.token, "audit", "audit_required", minutes_ago=8),
        event(denied.token, "deny", "wrong_store", minutes_ago=7),
    ]

    response = upload(gate_a, *events)

    assert response.status_code == 200
    assert response.json() == {"recorded": 3, "duplicates": 0, "flagged": []}
    recorded = {e.exit_pass_id: e for e in GateEvent.objects.filter(gate=gate_a.gate)}
    assert all(e.offline for e in recorded.values())
    assert [(recorded[p.pk].decision, recorded[p.pk].reason) for p in (opened, audited, denied)] == [
        ("open", "ok"),
        ("audit", "audit_required"),
        ("deny", "wrong_store"),
    ]
    for exit_pass, sent in zip((opened, audited, denied), events, strict=True):
        assert recorded[exit_pass.pk].occurred_at == dt.datetime.fromisoformat(sent["occurred_at"])
    for exit_pass in (opened, audited):
        exit_pass.refresh_from_db()
        assert exit_pass.used_at == dt.datetime.fromisoformat(events[0 if exit_pass is opened else 1]["occurred_at"])
        assert exit_pass.used_gate_id == gate_a.gate.pk
    denied.refresh_from_db()
    assert denied.used_at is None


@pytest.mark.django_db
def test_a_pass_spent_offline_is_denied_online_afterwards(store, gate_a, gate_b):
    exit_pass = paid_pass(store)
    upload(gate_a, event(exit_pass.token))

    decision = gate_decisions.verify(gate=gate_b.gate, token=exit_pass.token)

    assert (decision.decision, decision.reason, decision.used_gate) == ("deny", "already_used", gate_a.gate)


@pytest.mark.django_db
@pytest.mark.parametrize("token", ["", "EP1.garbage", "hello"])
def test_an_unverifiable_token_is_recorded_without_a_pass_and_with_the_gates_reason(gate_a, token):
    response = upload(gate_a, event(token, "deny", "malformed"))

    assert response.json()["recorded"] == 1
    recorded = GateEvent.objects.get(gate=gate_a.gate)
    assert (recorded.exit_pass, recorded.decision, recorded.reason) == (None, "deny", "malformed")
    assert recorded.offline
    assert recorded.data["token_rejected"] == "malformed"


@pytest.mark.django_db
def test_a_forged_pass_the_gate_opened_for_is_recorded_without_spending_anything(store, gate_a, caplog):
    genuine = paid_pass(store)
    forged = genuine.token[:-6] + ("AAAAAA" if not genuine.token.endswith("AAAAAA") else "BBBBBB")

    with caplog.at_level(logging.WARNING, logger="checkout.gate_offline"):
        response = upload(gate_a, event(forged))

    assert response.json() == {"recorded": 1, "duplicates": 0, "flagged": []}
    recorded = GateEvent.objects.get(gate=gate_a.gate)
    assert recorded.exit_pass is None and recorded.data["token_rejected"] == "bad_signature"
    genuine.refresh_from_db()
    assert genuine.used_at is None
    assert "rejects (bad_signature)" in caplog.text


@pytest.mark.django_db
def test_a_pass_used_online_then_offline_is_flagged(store, gate_a, gate_b, caplog):
    exit_pass = paid_pass(store)
    online = gate_decisions.verify(gate=gate_a.gate, token=exit_pass.token)
    assert online.decision == "open"

    with caplog.at_level(logging.WARNING, logger="checkout.gate_offline"):
        response = upload(gate_b, event(exit_pass.token, minutes_ago=0))

    assert response.status_code == 200
    body = response.json()
    assert body["recorded"] == 1
    [flag] = body["flagged"]
    assert (flag["pass_id"], flag["order_id"], flag["first_gate"], flag["first_gate_id"]) == (
        exit_pass.pk,
        exit_pass.order_id,
        "Exit A",
        gate_a.gate.pk,
    )
    assert dt.datetime.fromisoformat(flag["first_used_at"]) == online.exit_pass.used_at
    offline = GateEvent.objects.get(gate=gate_b.gate)
    assert (offline.decision, offline.reason, offline.exit_pass_id) == ("open", "double_use", exit_pass.pk)
    assert offline.data["gate_reason"] == "ok" and offline.data["double_use"]["first_gate"] == "Exit A"
    exit_pass.refresh_from_db()  # the first use stands
    assert (exit_pass.used_at, exit_pass.used_gate_id) == (online.exit_pass.used_at, gate_a.gate.pk)
    assert f"Exit pass {exit_pass.pk}" in caplog.text and "used again offline" in caplog.text


@pytest.mark.django_db
def test_a_pass_used_offline_at_two_gates_is_flagged_on_the_second_upload(store, gate_a, gate_b):
    exit_pass = paid_pass(store)
    first = upload(gate_a, event(exit_pass.token, minutes_ago=6)).json()

    second = upload(gate_b, event(exit_pass.token, minutes_ago=4)).json()

    assert first["flagged"] == []
    assert [(f["pass_id"], f["first_gate"]) for f in second["flagged"]] == [(exit_pass.pk, "Exit A")]
    reasons = dict(GateEvent.objects.filter(exit_pass=exit_pass).values_list("gate__name", "reason"))
    assert reasons == {"Exit A": "ok", "Exit B": "double_use"}


@pytest.mark.django_db
def test_a_retried_upload_records_nothing_twice_and_answers_the_same(store, gate_a, gate_b):
    exit_pass, reused = paid_pass(store), paid_pass(store)
    gate_decisions.verify(gate=gate_b.gate, token=reused.token)
    batch = [event(exit_pass.token), event(reused.token), event("junk", "deny", "malformed")]

    first = upload(gate_a, *batch).json()
    retry = upload(gate_a, *batch).json()

    assert (first["recorded"], first["duplicates"]) == (3, 0)
    assert (retry["recorded"], retry["duplicates"]) == (0, 3)
    assert retry["flagged"] == first["flagged"] and len(first["flagged"]) == 1
    assert GateEvent.objects.filter(gate=gate_a.gate).count() == 3


@pytest.mark.django_db
def test_the_same_event_twice_in_one_batch_is_recorded_once(store, gate_a):
    exit_pass = paid_pass(store)
    same = event(exit_pass.token)

    body = upload(gate_a, same, same).json()

    assert (body["recorded"], body["duplicates"], body["flagged"]) == (1, 1, [])


@pytest.mark.django_db
def test_the_same_decision_at_another_time_is_a_new_event(gate_a):
    body = upload(gate_a, event("junk", "deny", "malformed", minutes_ago=2), event("junk", "deny", "malformed")).json()

    assert body["recorded"] == 2


@pytest.mark.django_db
def test_what_an_offline_verifier_journals_uploads_as_is(store, gate_a):
    passes = [paid_pass(store) for _ in range(3)]
    keys = load_keys(gate_a.get("/api/gate/v1/keys").content)
    verifier = OfflineVerifier(store.pk, keys)
    for exit_pass in passes:
        verifier.decide(exit_pass.token)
    verifier.decide(passes[0].token)  # a replay at the same gate
    verifier.decide("not a pass")

    body = upload(gate_a, *verifier.pending_events()).json()

    assert (body["recorded"], body["flagged"]) == (5, [])
    verifier.mark_uploaded()
    assert ExitPass.objects.filter(pk__in=[p.pk for p in passes], used_gate=gate_a.gate).count() == 3
    assert sorted(GateEvent.objects.filter(gate=gate_a.gate).values_list("reason", flat=True)) == [
        "already_used",
        "malformed",
        "ok",
        "ok",
        "ok",
    ]


BAD_EVENTS = {
    "unknown decision": {"decision": "maybe"},
    "reason not a code": {"reason": "Not Paid!"},
    "reason too long": {"reason": "x" * 33},
    "time without offset": {"occurred_at": "2026-11-22T10:00:00"},
    "not a time": {"occurred_at": "yesterday"},
    "token not a string": {"token": {"a": 1}},
    "token too long": {"token": "EP1." + "A" * 1100},
    "no token": {"token": None},
}


@pytest.mark.django_db
@pytest.mark.parametrize("change", BAD_EVENTS.values(), ids=BAD_EVENTS.keys())
def test_one_bad_event_refuses_the_whole_upload_and_writes_nothing(store, gate_a, change):
    exit_pass = paid_pass(store)
    bad = {**event("junk", "deny", "malformed"), **change}

    response = upload(gate_a, event(exit_pass.token), bad)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert "events" in response.json()["error"]["details"]
    assert not GateEvent.objects.exists()
    exit_pass.refresh_from_db()
    assert exit_pass.used_at is None


@pytest.mark.django_db
@pytest.mark.parametrize("body", [{}, {"events": "x"}, {"events": {"token": "x"}}, [], {"events": [1, 2]}])
def test_a_malformed_body_is_a_validation_error(gate_a, body):
    response = gate_a.post(UPLOAD, body, format="json")

    assert response.status_code == 400 and response.json()["error"]["code"] == "validation_error"
    assert not GateEvent.objects.exists()


@pytest.mark.django_db
def test_more_than_500_events_are_refused(store, gate_a):
    exit_pass = paid_pass(store)
    events = [event(exit_pass.token)] + [event("junk", "deny", "malformed", minutes_ago=i) for i in range(500)]

    response = upload(gate_a, *events)

    assert response.status_code == 400 and response.json()["error"]["code"] == "validation_error"
    assert not GateEvent.objects.exists()
    assert upload(gate_a, *events[:500]).json()["recorded"] == 500


@pytest.mark.django_db
def test_needs_a_gate_credential(auth_client, gate_a):
    batch = {"events": [event("junk", "deny", "malformed")]}

    assert APIClient().post(UPLOAD, batch, format="json").status_code == 401
    assert auth_client.post(UPLOAD, batch, format="json").status_code == 401
    assert not GateEvent.objects.exists()


def _in_parallel(*uploads) -> list[dict]:
    def run(index: int) -> dict:
        client, events = uploads[index]
        response = upload(client, *events)
        assert response.status_code == 200, response.content
        return response.json()

    return run_in_parallel(run, len(uploads), timeout=60)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_gates_uploading_the_same_passes_at_once_spend_each_pass_once(store, gate_a, gate_b):
    passes = [paid_pass(store) for _ in range(20)]
    # Opposite orders, so a lock taken in upload order would deadlock.
    answers = _in_parallel(
        (gate_a, [event(p.token) for p in passes]), (gate_b, [event(p.token) for p in reversed(passes)])
    )

    assert sum(len(a["flagged"]) for a in answers) == 20
    assert GateEvent.objects.filter(reason="double_use").count() == 20
    assert GateEvent.objects.filter(reason="ok").count() == 20
    assert ExitPass.objects.filter(used_at__isnull=False).count() == 20


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_batch_uploaded_twice_at_once_is_recorded_once(store, gate_a):
    passes = [paid_pass(store) for _ in range(10)]
    batch = [event(p.token) for p in passes]

    answers = _in_parallel((gate_a, batch), (gate_a, batch))

    assert sorted((a["recorded"], a["duplicates"]) for a in answers) == [(0, 10), (10, 0)]
    assert GateEvent.objects.count() == 10
    assert not GateEvent.objects.filter(reason="double_use").exists()


def test_another_stores_gate_cannot_spend_a_pass_by_uploading_it(db, store, gate_a):
    exit_pass = paid_pass(store)
    elsewhere = gate_client(LocationFactory(code="OTHER1"), "Lane 9")

    response = upload(elsewhere, event(exit_pass.token))

    assert response.status_code == 200
    exit_pass.refresh_from_db()
    assert exit_pass.used_at is None  # the shopper can still leave through their own store
    assert GateEvent.objects.get(offline=True).exit_pass is None
