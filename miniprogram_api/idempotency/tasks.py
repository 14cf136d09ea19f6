from celery import shared_task

from . import service


@shared_task(name="miniprogram_api.idempotency.tasks.purge_old_records")
def purge_old_records() -> int:
    return service.purge_old_records()
