"""Shared by the rule-set commands: finding sets and users, and errors as readable lines."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser

from labpanel.exceptions import DomainError
from reference_ranges.models import ReferenceRangeSet
from reference_ranges.selectors import ruleset_get_by_version


class VersionOptionCommand(BaseCommand):
    """A command whose ``--version`` names a rule-set version, not Django's own version."""

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)


def command_error(error: DomainError) -> CommandError:
    """The error with one line per detail ("rule KEY, field: message")."""
    lines = [error.message]
    for item in error.details if isinstance(error.details, list) else [error.details]:
        if isinstance(item, dict) and "message" in item:
            where = ", ".join(
                str(part)
                for part in (
                    f"rule {item['rule']}" if item.get("rule") else None,
                    item.get("field"),
                )
                if part
            )
            lines.append(f"  {where}: {item['message']}" if where else f"  {item['message']}")
        else:
            lines.append(f"  {item}")
    return CommandError("\n".join(lines))


def ruleset_find(key: str, version: str) -> ReferenceRangeSet:
    ruleset = ruleset_get_by_version(key=key, version=version)
    if ruleset is None:
        raise CommandError(f"no reference range set {key} version {version}")
    return ruleset


def user_find(username: str) -> User:
    user = User.objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"no user {username!r}")
    return user
