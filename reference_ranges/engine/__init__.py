"""The interpretation engine: pure Python, no Django, no clock, no settings.

Frozen dataclasses in (:mod:`reference_ranges.engine.types`), frozen dataclasses out. Callers
compute the patient's age with :func:`age_on` from dates they hold, then call :func:`interpret`.
"""

from reference_ranges.engine import types, units
from reference_ranges.engine.errors import AmbiguousRules, EngineError, InvalidRuleSet
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
from reference_ranges.engine.units import Conversion, convert

__all__ = [
    "Age",
    "AgeUnit",
    "AmbiguousRules",
    "Comparator",
    "Conversion",
    "EngineError",
    "Interpretation",
    "InterpretationCode",
    "InvalidRuleSet",
    "Measurement",
    "PatientContext",
    "RangeRule",
    "RuleSet",
    "Sex",
    "age_on",
    "convert",
    "format_interval",
    "interpret",
    "types",
    "units",
]
