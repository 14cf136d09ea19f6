"""Periodic housekeeping for accounts."""

from celery import shared_task

from . import tokens


@shared_task(name="miniprogram_api.accounts.tasks.purge_expired_tokens")
def purge_expired_tokens() -> int:
    return tokens.purge_expired_tokens()
