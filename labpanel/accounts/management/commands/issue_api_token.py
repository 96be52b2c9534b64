"""``manage.py issue_api_token USERNAME --role ROLE [--scope SCOPE ...]``: print a new API token,
and only that."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from labpanel.accounts.management.arguments import lab_find
from labpanel.accounts.models import Role, TokenScope
from labpanel.accounts.services import (
    api_token_issue,
    lab_for_username,
    staff_member_ensure,
    token_scopes_of,
)
from labpanel.exceptions import DomainError


class Command(BaseCommand):
    help = (
        "Create USERNAME with ROLE in the lab if needed and print a new API token on stdout. "
        "Tokens are stored hashed and always expire: after --expires-days, else after "
        "LABPANEL_TOKEN_TTL_DAYS (default 90). The token carries the --scope(s) named "
        "(repeat it), else every scope the role allows; the scopes go to stderr."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument(
            "--lab", help="Lab name (default: an existing user's own lab, else the only lab)"
        )
        parser.add_argument(
            "--scope",
            action="append",
            dest="scopes",
            choices=TokenScope.values,
            help="A scope the token carries (repeat for several; default: the role's scopes)",
        )
        parser.add_argument(
            "--expires-days",
            type=int,
            default=None,
            help="Days until the token expires (1 or more; default LABPANEL_TOKEN_TTL_DAYS, 90)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            username = options["username"]
            lab = lab_find(options["lab"]) if options["lab"] else lab_for_username(username)
            staff = staff_member_ensure(username=options["username"], role=options["role"], lab=lab)
        except DomainError as error:
            raise CommandError(error.message) from error
        days = options["expires_days"]
        if days is not None and days < 1:
            raise CommandError("--expires-days must be 1 or more: every token expires")
        configured: timedelta = settings.REST_KNOX["TOKEN_TTL"]  # type: ignore[assignment]
        expires_in = timedelta(days=days) if days is not None else configured
        try:
            token = api_token_issue(
                user=staff.user, expires_in=expires_in, scopes=options["scopes"]
            )
        except DomainError as error:
            raise CommandError(error.message) from error
        self.stdout.write(token)
        self.stderr.write(f"scopes: {' '.join(token_scopes_of(token))}")
