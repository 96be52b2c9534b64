"""Writes to the catalogue and rule sets: seed loading, imports, drafts, publishing, impact.

The package re-exports every service so callers import from ``reference_ranges.services``.
"""

from reference_ranges.services.impact import (
    ImpactExample,
    ImpactPreview,
    ImpactSide,
    ruleset_impact_preview,
)
from reference_ranges.services.rulesets import (
    RulesetImmutable,
    RulesetImportOutcome,
    RulesetPublishOutcome,
    ruleset_director_check,
    ruleset_document_check,
    ruleset_draft_create_from,
    ruleset_import,
    ruleset_publish,
    ruleset_rule_delete,
    ruleset_rule_update,
)
from reference_ranges.services.seed import (
    SEED_DIR,
    SeedSummary,
    analyte_catalogue_load,
    ruleset_seed_load,
)

__all__ = [
    "SEED_DIR",
    "ImpactExample",
    "ImpactPreview",
    "ImpactSide",
    "RulesetImmutable",
    "RulesetImportOutcome",
    "RulesetPublishOutcome",
    "SeedSummary",
    "analyte_catalogue_load",
    "ruleset_director_check",
    "ruleset_document_check",
    "ruleset_draft_create_from",
    "ruleset_impact_preview",
    "ruleset_import",
    "ruleset_publish",
    "ruleset_rule_delete",
    "ruleset_rule_update",
    "ruleset_seed_load",
]
