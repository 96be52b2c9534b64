"""One serializer instance per thread for output shapes that depend on the object alone.

``SomeOutput(obj).data`` builds the serializer's fields anew for every object: a
``ModelSerializer`` introspects its model's fields and deep-copies its declared ones, and every
nested ``many=True`` serializer does it again. For a panel's stored document that was most of
its cost: 1.26 → 0.37 ms a panel with the document's and its findings' serializers kept (200 of
``bench/intake.py``'s panels; the output is the same). An
instance built once and asked ``to_representation(obj)`` gives the same dict: DRF's fields
keep no state of the object they wrote.

Only for serializers whose output depends on nothing but the object: no ``context`` (no
request, no user), no ``self.instance``. The instance is kept per thread (a serializer is not
documented as safe to share between threads), per class."""

from __future__ import annotations

import threading
from typing import Any, TypeVar

from rest_framework import serializers

S = TypeVar("S", bound=serializers.BaseSerializer[Any])

_kept = threading.local()


def reused(serializer_class: type[S]) -> S:
    """This thread's instance of ``serializer_class``, built without an object or context."""
    instances: dict[type[Any], Any] | None = getattr(_kept, "instances", None)
    if instances is None:
        instances = _kept.instances = {}
    instance = instances.get(serializer_class)
    if instance is None:
        instance = instances[serializer_class] = serializer_class()
    return instance
