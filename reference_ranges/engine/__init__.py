"""The interpretation engine: pure Python, no Django, no clock, no settings.

Frozen dataclasses in (:mod:`reference_ranges.engine.types`), frozen dataclasses out. Callers
compute the patient's age with :func:`age_on` from dates they hold, then call :func:`interpret`.
"""

from reference_ranges.engine import types
from reference_ranges.engine.errors import AmbiguousRules, EngineError
from reference_ranges.engine.interpret import format_interval, interpret
from reference_ranges.engine.matching import age_on
from reference_ranges.engine.types import (
    Age,
    AgeUnit,
    Comparator,
    Interpretation,
    InterpretationCode,
    Measurement,
    PatientContext,
    RangeRule,
    RuleSet,
    Sex,
)

__all__ = [
    "Age",
    "AgeUnit",
    "AmbiguousRules",
    "Comparator",
    "EngineError",
    "Interpretation",
    "InterpretationCode",
    "Measurement",
    "PatientContext",
    "RangeRule",
    "RuleSet",
    "Sex",
    "age_on",
    "format_interval",
    "interpret",
    "types",
]
