"""The Django project and the HTTP edge of the mini-program backend."""

from .celery import app as celery_app

__all__ = ("celery_app",)
