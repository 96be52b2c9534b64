"""Labpanel project package: settings, URL routing, Celery app."""

from labpanel.celery import app as celery_app

__all__ = ("celery_app",)
