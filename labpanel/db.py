"""Abstract model bases and field makers shared by the apps (abstract only: no concrete base
tables): ``QuickLoadModel``, every model's base, and ``TimestampedModel``."""

from __future__ import annotations

import inspect
from collections.abc import Collection
from functools import cache
from typing import TYPE_CHECKING, Any, Self

from django.conf import settings
from django.db import models
from django.db.models import signals
from django.db.models.base import ModelState
from django.db.models.fields.files import FileDescriptor
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.query_utils import DeferredAttribute

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# The descriptors under a column's attname whose __set__, on a new instance, only stores the
# value in the instance's __dict__ (none, or the foreign key's and the file's).
_PLAIN_DESCRIPTORS = (DeferredAttribute, ForeignKeyDeferredAttribute, FileDescriptor)


@cache
def _attnames(model: type[models.Model]) -> tuple[str, ...] | None:
    """``model``'s concrete columns' attnames in the ORM's order; None when the instance must
    go through ``__init__``: the model defines its own, or a column's descriptor does more than
    store its value."""
    if model.__init__ is not models.Model.__init__:
        return None
    names = []
    for field in model._meta.concrete_fields:
        if type(inspect.getattr_static(model, field.attname, None)) not in _PLAIN_DESCRIPTORS:
            return None
        names.append(field.attname)
    return tuple(names)


@cache
def _loaded(model: type[models.Model], field_names: tuple[str, ...]) -> tuple[str, ...]:
    """The attnames a row of ``field_names`` holds, in the order ``from_db`` receives them (the
    model's, the deferred ones left out)."""
    present = frozenset(field_names)
    return tuple(name for name in _attnames(model) or () if name in present)


def instance_from_db(
    model: type[models.Model], db: str | None, field_names: Collection[str], values: Any
) -> Any:
    """The instance ``Model.from_db`` makes of a row, made without ``Model.__init__``; None
    when it must be made by ``from_db`` (an init signal is connected, the model defines its own
    ``__init__``, or a column's descriptor does more than store its value).

    ``Model.__init__`` sets the columns one ``setattr`` at a time and sends ``pre_init`` and
    ``post_init``: over half of the Python time of a search that reads a few thousand rows
    (bench/fhir_search.py). Made here: each loaded column's value in ``__dict__`` under its
    attname, where the descriptors read it (the deferred ones absent, loaded on first access
    as before), and the state of a saved row of ``db``."""
    if signals.pre_init.receivers or signals.post_init.receivers:
        return None
    names = _attnames(model)
    if names is None:
        return None
    if len(values) != len(names):
        names = _loaded(model, tuple(field_names))
    instance = model.__new__(model)
    instance.__dict__.update(zip(names, values, strict=True))
    state = ModelState()
    state.adding = False
    state.db = db
    instance._state = state
    return instance


class QuickLoadModel(models.Model):
    """The project's models' base: rows read from the database become instances without
    ``Model.__init__`` (``instance_from_db``), the same instances. Django's documented hook for
    "customizing model loading" (``from_db``)."""

    class Meta:
        abstract = True

    @classmethod
    def from_db(
        cls, db: str | None, field_names: Collection[str], values: Collection[Any], **kwargs: Any
    ) -> Self:
        # keyword arguments are a later Django's (6.0: fetch_mode): Django's own code then
        instance = None if kwargs else instance_from_db(cls, db, field_names, values)
        if instance is None:
            return super().from_db(db, field_names, values, **kwargs)
        return instance  # type: ignore[no-any-return]


class TimestampedModel(QuickLoadModel):
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
