"""What management commands read the same way from their arguments: a lab by its name, a user
by username. Each lookup raises ``CommandError`` with a readable line when it finds nothing."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.management.base import CommandError

from labpanel.accounts.models import Lab


def lab_find(name: str) -> Lab:
    """The one lab named ``name`` (lab names are not unique: two labs of that name is an error,
    never a guess)."""
    labs = list(Lab.objects.filter(name=name).order_by("pk")[:2])
    if len(labs) != 1:
        raise CommandError(f"{'no' if not labs else 'more than one'} lab named {name!r}")
    return labs[0]


def user_find(username: str) -> User:
    user = User.objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"no user {username!r}")
    return user
