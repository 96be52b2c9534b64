"""Errors the engine raises: problems in rule data, never in patient data."""


class EngineError(Exception):
    """Base class of engine errors."""


class AmbiguousRules(EngineError):
    """Two or more rules of one rule set match the same measurement and patient."""

    def __init__(self, analyte: str, rule_keys: list[str]) -> None:
        self.analyte = analyte
        self.rule_keys = rule_keys
        super().__init__(
            f"rules {', '.join(rule_keys)} all apply to {analyte}; a rule set must not overlap"
        )


class InvalidRuleSet(EngineError):
    """The rule set's data contradicts itself (e.g. two molecular weights for one analyte)."""
