"""Django app config for events: the append-only record of domain events (the outbox)."""

from django.apps import AppConfig


class EventsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "labpanel.events"
    label = "events"
    verbose_name = "Domain events"
