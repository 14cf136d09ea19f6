"""Periodic housekeeping for Idempotency-Key records."""

from celery import shared_task

from . import service


@shared_task(name="miniprogram_api.idempotency.tasks.purge_old_records")
def purge_old_records() -> int:
    """Periodic: delete Idempotency-Key records older than a day. A delete by age: a second
    run, or two at once, finds nothing more to delete."""
    return service.purge_old_records()
