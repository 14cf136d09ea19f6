"""Idempotency-Key: a retry gets the first answer and no work runs twice; a key reused for
another request, or a request still running, is refused; a claim left by a dead request
does not block its retry forever."""

from __future__ import annotations

import datetime as dt

import pytest

from miniprogram_api.core import clock
from miniprogram_api.idempotency import service
from miniprogram_api.idempotency.models import IdempotencyRecord
from miniprogram_api.idempotency.tasks import purge_old_records

pytestmark = pytest.mark.django_db


def _run(customer, *, key="k", payload=None, calls: list | None = None, status=201):
    calls = calls if calls is not None else []

    def work():
        calls.append(1)
        return status, {"n": len(calls)}

    return service.run_once(customer_id=customer.pk, key=key, scope="POST /x", payload=payload or {"a": 1}, work=work)


def test_a_retry_replays_the_first_answer_without_running_the_work_again(customer):
    calls: list = []
    first = _run(customer, calls=calls)
    again = _run(customer, calls=calls)

    assert (first.status, first.body, first.replayed) == (201, {"n": 1}, False)
    assert (again.status, again.body, again.replayed) == (201, {"n": 1}, True)
    assert len(calls) == 1


def test_the_same_key_for_another_request_is_refused(customer):
    _run(customer)

    with pytest.raises(service.IdempotencyKeyReused):
        _run(customer, payload={"a": 2})


def test_keys_are_scoped_to_the_customer(customer):
    from tests.factories import CustomerFactory

    _run(customer)
    other = _run(CustomerFactory())

    assert other.replayed is False


def test_a_request_still_running_answers_in_progress(customer):
    IdempotencyRecord.objects.create(
        customer=customer, key="k", scope="POST /x", request_hash=service.request_fingerprint({"a": 1})
    )

    with pytest.raises(service.RequestInProgress):
        _run(customer)


def test_a_claim_left_by_a_dead_request_is_taken_over_by_its_retry(customer):
    record = IdempotencyRecord.objects.create(
        customer=customer, key="k", scope="POST /x", request_hash=service.request_fingerprint({"a": 1})
    )
    IdempotencyRecord.objects.filter(pk=record.pk).update(created_at=clock.now() - dt.timedelta(minutes=3))
    calls: list = []

    answer = _run(customer, calls=calls)

    assert (answer.status, answer.replayed, len(calls)) == (201, False, 1)
    assert IdempotencyRecord.objects.get().completed_at is not None


def test_a_failure_the_client_should_retry_releases_the_key(customer):
    calls: list = []
    assert _run(customer, calls=calls, status=503).status == 503

    assert _run(customer, calls=calls).replayed is False
    assert len(calls) == 2


@pytest.mark.parametrize("key", ["", "x" * 129, "ключ", "tab\there"])
def test_malformed_keys_are_refused(customer, key):
    with pytest.raises(service.InvalidIdempotencyKey):
        _run(customer, key=key)
    assert not IdempotencyRecord.objects.exists()


def test_records_older_than_a_day_are_purged(customer):
    _run(customer, key="old")
    _run(customer, key="new")
    IdempotencyRecord.objects.filter(key="old").update(created_at=clock.now() - dt.timedelta(days=2))

    assert purge_old_records.delay().get() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
