"""Django app config for reference_ranges: analyte catalogue and versioned range rule sets."""

from django.apps import AppConfig


class ReferenceRangesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "reference_ranges"
    verbose_name = "Reference ranges"
