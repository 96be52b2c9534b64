"""The idempotency keys' app configuration (label ``idempotency``)."""

from django.apps import AppConfig


class IdempotencyConfig(AppConfig):
    name = "labpanel.idempotency"
    label = "idempotency"
    verbose_name = "Idempotency keys"
    default_auto_field = "django.db.models.BigAutoField"
