"""Django app config for accounts: labs, staff roles and the access policy."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "labpanel.accounts"
    label = "accounts"
