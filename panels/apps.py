"""Django app config for panels: labs, staff roles, patients, panels and their results."""

from django.apps import AppConfig


class PanelsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "panels"
