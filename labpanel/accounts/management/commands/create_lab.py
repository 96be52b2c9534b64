"""``manage.py create_lab NAME --address ADDRESS``: create a lab, refusing a name in use."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from labpanel.accounts.services import lab_create
from labpanel.exceptions import DomainError


class Command(BaseCommand):
    help = (
        "Create a lab named NAME at --address (printed on its reports). A lab of the same "
        "name (ignoring case) is refused. Then `issue_api_token USERNAME --role ROLE --lab NAME` "
        "places users in it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--address", required=True, help="The lab's postal address")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            lab = lab_create(name=options["name"], address=options["address"])
        except DomainError as error:
            raise CommandError(error.message) from error
        self.stdout.write(f"created lab {lab.pk}: {lab.name}")
