"""Shared by the rule-set commands: the KEY VERSION arguments, an effective day, and errors and
warnings as readable lines."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

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


def ruleset_arguments_add(parser: CommandParser) -> None:
    """The positional KEY VERSION naming one rule set (read back with :func:`ruleset_of`)."""
    parser.add_argument("key")
    parser.add_argument("set_version", metavar="version")


def ruleset_of(options: Mapping[str, Any]) -> ReferenceRangeSet:
    return ruleset_find(options["key"], options["set_version"])


def effective_from_parse(text: str | None) -> date | None:
    """``--effective-from`` as a date (None when not given)."""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise CommandError("--effective-from: use YYYY-MM-DD") from error


@contextmanager
def domain_errors_readable() -> Iterator[None]:
    """A ``DomainError`` raised in the block leaves it as :func:`command_error`."""
    try:
        yield
    except DomainError as error:
        raise command_error(error) from error


def warnings_write(stdout: OutputWrapper, warnings: Iterable[Mapping[str, Any]]) -> None:
    """One line per warning of a rule-set check ("Warning: rule KEY, field: message")."""
    for warning in warnings:
        where = f"rule {warning['rule']}, " if warning["rule"] else ""
        stdout.write(f"Warning: {where}{warning['field']}: {warning['message']}")
