"""The read audit's app configuration (label ``audit``)."""

from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "labpanel.audit"
    label = "audit"
    verbose_name = "Read audit"
    default_auto_field = "django.db.models.BigAutoField"
