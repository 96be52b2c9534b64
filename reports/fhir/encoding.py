"""FHIR JSON as the server writes it: compact, numbers digit for digit (``1.50`` stays
``1.50``). The one writer of the answers (``views.FhirRenderer``) and of the stored resources
(``stored``), so that a resource spliced from its stored text is byte for byte the one built."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson


def _number(value: Any) -> Any:
    """Decimals as JSON numbers, digit for digit."""
    if isinstance(value, Decimal):
        return orjson.Fragment(format(value, "f"))
    raise TypeError(f"{type(value).__name__} is not JSON")


def fhir_dumps(value: Any) -> bytes:
    """``value`` (a resource, a Bundle; ``orjson.Fragment`` for JSON already written) as FHIR
    JSON."""
    return orjson.dumps(value, default=_number)
