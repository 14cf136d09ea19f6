"""``POST /api/couriers/v1/events``: signed by the courier provider (HMAC-SHA256 of
"<timestamp>.<body>"), fresh within 5 minutes, each event applied once, one error shape
for whatever is refused, and nothing written by a refused request."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from rest_framework.test import APIClient

from checkout import fulfilment
from checkout.models import CourierEvent, Order, OrderEvent, Shipment
from miniprogram_api.core import clock
from tests.checkout.delivery_town import make_town, shanghai
from tests.checkout.fulfilment_orders import (
    COURIER_EVENTS_URL,
    courier_in,
    event_body,
    paid_order,
    post_event,
    signed_headers,
)
from tests.factories import CustomerFactory, client_for

pytestmark = pytest.mark.django_db

NOW = shanghai(2026, 11, 22, 15, 0)
DELIVERED_AT = shanghai(2026, 11, 22, 14, 40)


@pytest.fixture
def shipment(monkeypatch) -> Shipment:
    """An express shipment out with a courier, and the clock at 15:00 that day."""
    monkeypatch.setattr(clock, "now", lambda: NOW)
    town = make_town()
    courier_in(town.city)
    order = paid_order(
        CustomerFactory(), town, sends=[(town.near_store, {town.tea: 1})], slot_date=NOW.date(), slot="express"
    )
    assert fulfilment.dispatch_due_shipments(now=NOW) == 1
    return Shipment.objects.get(order=order)


def delivered(shipment: Shipment, event_id: str = "evt-1", **fields) -> bytes:
    return event_body(
        event_id=event_id,
        tracking_no=fields.pop("tracking_no", shipment.tracking_no),
        kind=fields.pop("kind", "delivered"),
        occurred_at=DELIVERED_AT,
        **fields,
    )


def assert_refused(response, status: int, code: str, shipment: Shipment) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code, body
    assert not CourierEvent.objects.exists()
    assert Shipment.objects.get(pk=shipment.pk).status == "dispatched"
    return body["error"]


# --- Accepted -----------------------------------------------------------------------------


def test_a_signed_delivered_event_delivers_the_shipment_and_the_order(shipment):
    response = post_event(APIClient(), delivered(shipment))

    assert response.status_code == 200, response.content
    assert response.json() == {"event_id": "evt-1", "outcome": "applied", "shipment_status": "delivered"}
    shipment.refresh_from_db()
    assert (shipment.status, shipment.delivered_at) == ("delivered", DELIVERED_AT)
    assert Order.objects.get(pk=shipment.order_id).delivered_at == DELIVERED_AT
    event = CourierEvent.objects.get()
    assert (event.event_id, event.kind, event.occurred_at, event.shipment_id) == (
        "evt-1",
        "delivered",
        DELIVERED_AT,
        shipment.pk,
    )


def test_a_failed_event_carries_its_reason(shipment):
    body = event_body(
        event_id="evt-f",
        tracking_no=shipment.tracking_no,
        kind="failed",
        occurred_at=DELIVERED_AT,
        data={"reason": "Recipient refused"},
    )

    response = post_event(APIClient(), body)

    assert response.json()["shipment_status"] == "picking"
    assert Shipment.objects.get(pk=shipment.pk).failure_reason == "Recipient refused"
    assert CourierEvent.objects.get().payload == {"reason": "Recipient refused"}


def test_a_redelivered_event_is_a_200_that_changes_nothing(shipment):
    body = event_body(event_id="evt-9", tracking_no=shipment.tracking_no, kind="failed", occurred_at=DELIVERED_AT)
    first = post_event(APIClient(), body)
    retry_events = OrderEvent.objects.filter(type="shipment_delivery_retry").count()

    again = post_event(APIClient(), body)

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == {"event_id": "evt-9", "outcome": "duplicate", "shipment_status": "picking"}
    assert CourierEvent.objects.count() == 1
    assert OrderEvent.objects.filter(type="shipment_delivery_retry").count() == retry_events == 1


def test_an_event_for_a_cancelled_shipment_is_recorded_and_ignored(shipment):
    Shipment.objects.filter(pk=shipment.pk).update(status=Shipment.Status.CANCELLED)

    response = post_event(APIClient(), delivered(shipment))

    assert response.status_code == 200
    assert response.json() == {"event_id": "evt-1", "outcome": "ignored", "shipment_status": "cancelled"}
    assert CourierEvent.objects.count() == 1
    assert Order.objects.get(pk=shipment.order_id).delivered_at is None


@pytest.mark.parametrize("age", [300, -300], ids=["5-minutes-old", "5-minutes-ahead"])
def test_a_signature_up_to_5_minutes_off_is_accepted(shipment, age):
    body = delivered(shipment)

    response = post_event(APIClient(), body, **signed_headers(body, timestamp=int(NOW.timestamp()) - age))

    assert response.status_code == 200, response.content


# --- Refused ------------------------------------------------------------------------------


def test_an_unsigned_request_is_401(shipment):
    response = APIClient().post(COURIER_EVENTS_URL, data=delivered(shipment), content_type="application/json")

    assert_refused(response, 401, "courier_not_authenticated", shipment)
    assert response["WWW-Authenticate"] == 'CourierSignature realm="couriers"'


def test_a_signature_with_another_secret_is_401(shipment):
    body = delivered(shipment)

    response = post_event(APIClient(), body, **signed_headers(body, secret="not-the-shared-secret"))

    assert_refused(response, 401, "invalid_courier_signature", shipment)


def test_a_body_changed_after_signing_is_401(shipment):
    headers = signed_headers(delivered(shipment, tracking_no="LC000000000000"))

    response = post_event(APIClient(), delivered(shipment), **headers)

    assert_refused(response, 401, "invalid_courier_signature", shipment)


def test_a_signature_for_another_timestamp_is_401(shipment):
    body = delivered(shipment)
    headers = signed_headers(body)
    headers["HTTP_X_COURIER_TIMESTAMP"] = str(int(NOW.timestamp()) + 1)

    response = post_event(APIClient(), body, **headers)

    assert_refused(response, 401, "invalid_courier_signature", shipment)


@pytest.mark.parametrize("age", [301, -301, 86_400], ids=["5-minutes-1-second-old", "ahead", "a-day-old"])
def test_a_replayed_request_signed_more_than_5_minutes_ago_is_401(shipment, age):
    body = delivered(shipment)

    response = post_event(APIClient(), body, **signed_headers(body, timestamp=int(NOW.timestamp()) - age))

    assert_refused(response, 401, "stale_courier_signature", shipment)


@pytest.mark.parametrize(
    ("timestamp", "signature"),
    [("yesterday", None), ("-5", None), ("1e9", None), (None, "zz"), (None, "é" * 64), (None, "")],
    ids=["word-timestamp", "negative-timestamp", "float-timestamp", "short-signature", "non-ascii", "empty"],
)
def test_malformed_signature_headers_are_401_not_500(shipment, timestamp, signature):
    body = delivered(shipment)
    headers = signed_headers(body)
    if timestamp is not None:
        headers["HTTP_X_COURIER_TIMESTAMP"] = timestamp
    if signature is not None:
        headers["HTTP_X_COURIER_SIGNATURE"] = signature

    response = post_event(APIClient(), body, **headers)

    assert response.status_code == 401, response.content
    assert response.json()["error"]["code"] in {"invalid_courier_signature", "courier_not_authenticated"}
    assert not CourierEvent.objects.exists()


def test_a_shoppers_token_is_no_signature(shipment):
    client = client_for(CustomerFactory())

    response = client.post(COURIER_EVENTS_URL, data=delivered(shipment), content_type="application/json")

    assert_refused(response, 401, "courier_not_authenticated", shipment)


def test_an_unknown_tracking_number_is_404(shipment):
    response = post_event(APIClient(), delivered(shipment, tracking_no="LC999999999999"))

    error = assert_refused(response, 404, "unknown_tracking_no", shipment)
    assert error["details"] == {"tracking_no": "LC999999999999"}


@pytest.mark.parametrize(
    "body",
    [
        {"tracking_no": "T", "kind": "delivered", "occurred_at": "2026-11-22T14:40:00+08:00"},
        {"event_id": "e", "kind": "delivered", "occurred_at": "2026-11-22T14:40:00+08:00"},
        {"event_id": "e", "tracking_no": "T", "kind": "lost", "occurred_at": "2026-11-22T14:40:00+08:00"},
        {"event_id": "e", "tracking_no": "T", "kind": "delivered", "occurred_at": "yesterday"},
        {"event_id": "e", "tracking_no": "T", "kind": "delivered"},
        {"event_id": "e" * 65, "tracking_no": "T", "kind": "delivered", "occurred_at": "2026-11-22T14:40:00+08:00"},
        {"event_id": "e", "tracking_no": "T", "kind": "delivered", "occurred_at": "2026-11-22T14:40:00", "data": []},
        [],
        "delivered",
    ],
    ids=[
        "no-event-id",
        "no-tracking-no",
        "unknown-kind",
        "bad-time",
        "no-time",
        "event-id-too-long",
        "data-not-an-object",
        "array",
        "string",
    ],
)
def test_a_bad_body_is_400_and_records_nothing(shipment, body):
    raw = json.dumps(body).encode()

    response = post_event(APIClient(), raw)

    assert_refused(response, 400, "validation_error", shipment)


@pytest.mark.parametrize(
    "data",
    [{"reason": "lost\0"}, {"\0": "lost"}, {"reasons": [{"text": "\ud800"}]}],
    ids=["nul-in-a-value", "nul-in-a-key", "unpaired-surrogate"],
)
def test_data_with_text_postgresql_cannot_store_is_400(shipment, data):
    """A NUL or an unpaired surrogate anywhere in ``data`` (kept as jsonb) was a 500 on PostgreSQL."""
    response = post_event(APIClient(), delivered(shipment, kind="failed", data=data))

    error = assert_refused(response, 400, "validation_error", shipment)
    assert set(error["details"]) == {"data"}


def test_malformed_json_is_400(shipment):
    raw = b'{"event_id": "e1", "tracking_no": '

    response = post_event(APIClient(), raw)

    assert_refused(response, 400, "malformed_request", shipment)


def test_get_is_not_allowed(shipment):
    response = APIClient().get(COURIER_EVENTS_URL, **signed_headers(b""))

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_the_clock_moves_the_replay_window(shipment, monkeypatch):
    """The window is measured against the project clock, as every business time is."""
    body = delivered(shipment)
    headers = signed_headers(body)
    monkeypatch.setattr(clock, "now", lambda: NOW + dt.timedelta(minutes=6))

    response = post_event(APIClient(), body, **headers)

    assert_refused(response, 401, "stale_courier_signature", shipment)
