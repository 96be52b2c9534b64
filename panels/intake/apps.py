"""Django app config for panels.intake: no models (they are panels.models); it holds the
``mllp_listener`` command, the import page's templates and the import tasks."""

from django.apps import AppConfig


class IntakeConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "panels.intake"
    label = "intake"
