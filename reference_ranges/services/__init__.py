"""Writes to the catalogue, rule sets and lab configuration: seed loading, imports, drafts,
publishing, pattern-rule switches and assay measuring ranges. (The impact preview reads stored
panel results, a layer above, and lives in :mod:`panels.ruleset_impact`.)

The package re-exports every service so callers import from ``reference_ranges.services``.
"""

from reference_ranges.services.measuring_ranges import measuring_range_record
from reference_ranges.services.pattern_settings import (
    PatternDefaultsSummary,
    pattern_rule_defaults_sync,
    pattern_rule_setting_change,
)
from reference_ranges.services.rulesets import (
    RulesetImmutable,
    RulesetImportOutcome,
    RulesetPublishOutcome,
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
from reference_ranges.services.specimen_settings import lab_specimen_setting_change

__all__ = [
    "SEED_DIR",
    "PatternDefaultsSummary",
    "RulesetImmutable",
    "RulesetImportOutcome",
    "RulesetPublishOutcome",
    "SeedSummary",
    "analyte_catalogue_load",
    "lab_specimen_setting_change",
    "measuring_range_record",
    "pattern_rule_defaults_sync",
    "pattern_rule_setting_change",
    "ruleset_document_check",
    "ruleset_draft_create_from",
    "ruleset_import",
    "ruleset_publish",
    "ruleset_rule_delete",
    "ruleset_rule_update",
    "ruleset_seed_load",
]
