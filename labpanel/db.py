"""Abstract model bases and field makers shared by the apps (abstract only: no concrete base
tables)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class TimestampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


def user_reference(help_text: str = "") -> models.ForeignKey[User | None, User | None]:
    """Who did it: an optional reference to a user (empty: a command, a seed or the worker), kept
    while the row exists (``PROTECT``), with no reverse accessor on the user."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=help_text,
    )
