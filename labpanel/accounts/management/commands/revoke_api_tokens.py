"""``manage.py revoke_api_tokens USERNAME``: revoke every API token of a user."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from labpanel.accounts.services import api_tokens_revoke


class Command(BaseCommand):
    help = "Revoke (delete) every API token of USERNAME."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user {options['username']!r}")
        count = api_tokens_revoke(user=user)
        self.stdout.write(f"revoked {count} token(s)")
