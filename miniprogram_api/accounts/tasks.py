"""Periodic housekeeping for accounts."""

from celery import shared_task

from . import tokens


@shared_task(name="miniprogram_api.accounts.tasks.purge_expired_tokens")
def purge_expired_tokens() -> int:
    """Periodic: delete tokens expired or revoked a week ago. A delete by age: a second run,
    or two at once, finds nothing more to delete."""
    return tokens.purge_expired_tokens()
