"""Fulfilment with a real Celery worker and beat, on the real broker (Redis when REDIS_URL
is set, the filesystem broker of the local run otherwise), against the test database.

The worker runs in its own process on the real clock, so nothing there can be patched:
the shipment is made due for real (a city cut-off already passed today, a slot starting in
a few minutes), and beat's short schedules do the rest.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import requests
from django.utils import timezone
from rest_framework.test import APIClient

from checkout.models import Order, OrderEvent, Shipment
from checkout.tasks import dispatch_due_shipments
from miniprogram_api.celery import app as celery_app
from miniprogram_api.core import clock
from stores.models import Stock
from tests.celery_worker_process import WorkerProcess, queue_for_this_run
from tests.checkout.delivery_town import address_for, checkout, fill_cart, make_town
from tests.checkout.fulfilment_orders import courier_in, event_body, paid_order, post_event
from tests.factories import CustomerFactory, client_for

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def start_worker(transactional_db, tmp_path):
    started: list[WorkerProcess] = []

    def start(*, beat: bool) -> WorkerProcess:
        worker = WorkerProcess(
            queue=queue_for_this_run(),
            beat_schedule=tmp_path / "beat-schedule" if beat else None,
            env={"PICK_LISTS_EVERY_SECONDS": "1", "DISPATCH_EVERY_SECONDS": "1"},
        )
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def make_due_now(order: Order) -> None:
    """The city's cut-off has passed today and the order's slot starts in five minutes:
    due for its pick list, and within the dispatch lead time."""
    start = timezone.localtime(clock.now() + dt.timedelta(minutes=5))
    window = f"{start:%H:%M}-{start + dt.timedelta(hours=3):%H:%M}"
    order.city.delivery_cutoff = dt.time(0, 0)
    order.city.save(update_fields=["delivery_cutoff"])
    Order.objects.filter(pk=order.pk).update(slot_date=start.date(), slot=window)
    Shipment.objects.filter(order=order).update(slot_date=start.date(), slot=window)


def test_beat_and_a_worker_dispatch_a_paid_order_and_the_courier_webhook_delivers_it(server, start_worker):
    town = make_town()
    courier_in(town.city)
    shopper = CustomerFactory()
    fill_cart(shopper, town.city, {town.tea: 2, town.milk: 1})
    response = checkout(client_for(shopper), town.city, address=address_for(shopper, town.city))
    assert response.status_code == 201, response.content
    order = Order.objects.get(pk=response.json()["order"]["id"])
    assert requests.post(f"{server}/sandbox/payments/{order.number}/confirm", timeout=20).json()["notified"]
    assert Shipment.objects.get(order=order).status == "awaiting_pick"
    make_due_now(order)

    worker = start_worker(beat=True)
    worker.wait_until(
        lambda: Shipment.objects.get(order=order).status == "dispatched", what="beat to pick and dispatch"
    )

    shipment = Shipment.objects.get(order=order)
    assert (shipment.attempts, shipment.pick_list.location_id) == (1, town.near_store.pk)
    assert shipment.tracking_no.startswith("LC")
    assert Stock.objects.get(location=town.near_store, product=town.tea).on_hand == 48

    body = event_body(
        event_id=f"evt-{uuid.uuid4().hex}", tracking_no=shipment.tracking_no, kind="delivered", occurred_at=clock.now()
    )
    delivered = post_event(APIClient(), body)

    assert delivered.status_code == 200, delivered.content
    assert delivered.json()["shipment_status"] == "delivered"
    order.refresh_from_db()
    assert order.delivered_at is not None
    assert Shipment.objects.get(order=order).attempts == 1
    assert OrderEvent.objects.filter(order=order, type="shipment_dispatched").count() == 1


def test_the_dispatch_task_delivered_twice_dispatches_once(start_worker):
    town = make_town()
    courier_in(town.city)
    order = paid_order(
        CustomerFactory(),
        town,
        sends=[(town.near_store, {town.milk: 3})],
        slot_date=clock.local_today(),
        slot="express",  # due at once
    )
    worker = start_worker(beat=False)
    task_id = str(uuid.uuid4())

    # The same message twice, as a broker redelivers it after a worker lost it unacked.
    celery_app.conf.task_always_eager = False
    try:
        for _ in range(2):
            dispatch_due_shipments.apply_async(task_id=task_id, queue=worker.queue)
    finally:
        celery_app.conf.task_always_eager = True
    worker.wait_until(
        lambda: len(worker.results_of("checkout.tasks.dispatch_due_shipments", task_id)) == 2,
        what="both deliveries of the task to run",
    )

    assert sorted(worker.results_of("checkout.tasks.dispatch_due_shipments", task_id)) == ["0", "1"]
    shipment = Shipment.objects.get(order=order)
    assert (shipment.status, shipment.attempts) == ("dispatched", 1)
    assert OrderEvent.objects.filter(order=order, type="shipment_dispatched").count() == 1
    stock = Stock.objects.get(location=town.near_store, product=town.milk)
    assert (stock.on_hand, stock.reserved) == (47, 0)
