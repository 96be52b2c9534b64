"""Seed data: the catalogue and the default rule set load idempotently and exactly as published."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from labpanel.exceptions import Conflict
from reference_ranges.models import Analyte, ReferenceRangeRule, ReferenceRangeSet, RuleSetStatus
from reference_ranges.services import SEED_DIR, analyte_catalogue_load, ruleset_seed_load

pytestmark = pytest.mark.django_db


def test_loading_the_seed_again_changes_nothing(reference_data: None) -> None:
    before = list(ReferenceRangeRule.objects.values())

    assert analyte_catalogue_load() == (0, 0)
    assert ruleset_seed_load() == ("labpanel-default v2026.1", False)
    assert list(ReferenceRangeRule.objects.values()) == before


def test_default_set_is_active_and_holds_arup_and_cchmc_rules(reference_data: None) -> None:
    ruleset = ReferenceRangeSet.objects.get(key="labpanel-default")

    assert ruleset.status == RuleSetStatus.ACTIVE
    assert ruleset.published_at is not None
    keys = set(ruleset.rules.values_list("key", flat=True))
    assert {key for key in keys if key.startswith("ARUP-3002601-")} == {
        f"ARUP-3002601-{code}"
        for code in (
            "SIL2R", "IL12P70", "IFNG", "IL4", "IL5", "IL10", "IL13",
            "IL1B", "IL6", "IL8", "TNFA", "IL2", "IL17A",
        )
    }  # fmt: skip
    assert {key for key in keys if key.startswith("CCHMC-")} == {
        "CCHMC-IL18",
        "CCHMC-CXCL9",
        "CCHMC-SIL2R-U-UNDER-3Y",
        "CCHMC-SIL2R-U-3-7Y",
        "CCHMC-SIL2R-U-8Y-PLUS",
    }


@pytest.mark.parametrize(
    ("key", "low", "low_inclusive", "high", "high_inclusive", "unit", "ages"),
    [
        ("ARUP-3002601-IL1B", None, True, Decimal("7.4"), True, "pg/mL", (18, None)),
        (
            "ARUP-3002601-SIL2R",
            Decimal("266.5"),
            True,
            Decimal("1410.4"),
            True,
            "pg/mL",
            (18, None),
        ),
        ("CCHMC-SIL2R-U-UNDER-3Y", Decimal(398), True, Decimal(1940), True, "U/mL", (None, 3)),
        ("CCHMC-SIL2R-U-3-7Y", Decimal(144), True, Decimal(1329), True, "U/mL", (3, 8)),
        ("CCHMC-SIL2R-U-8Y-PLUS", Decimal(137), True, Decimal(838), True, "U/mL", (8, None)),
        ("CCHMC-IL18", None, True, Decimal(477), True, "pg/mL", (None, None)),
        ("CCHMC-CXCL9", None, True, Decimal(647), True, "pg/mL", (None, None)),
    ],
)
def test_bounds_are_stored_exactly_as_published(
    reference_data: None,
    key: str,
    low: Decimal | None,
    low_inclusive: bool,
    high: Decimal,
    high_inclusive: bool,
    unit: str,
    ages: tuple[int | None, int | None],
) -> None:
    rule = ReferenceRangeRule.objects.get(key=key)

    assert (rule.low, rule.low_inclusive, rule.high, rule.high_inclusive, rule.unit) == (
        low,
        low_inclusive,
        high,
        high_inclusive,
        unit,
    )
    assert (rule.min_age, rule.max_age) == ages
    assert rule.source
    assert rule.citation
    assert rule.verified is True


def test_every_analyte_names_its_family_role_and_units(reference_data: None) -> None:
    analytes = {analyte.code: analyte for analyte in Analyte.objects.all()}

    assert len(analytes) == 26
    assert analytes["IL1B"].short_name == "IL-1β"
    assert analytes["IFNG"].short_name == "IFN-γ"
    assert analytes["TNFA"].short_name == "TNF-α"
    assert analytes["SIL2R"].allowed_units == ["pg/mL", "ng/L", "ng/mL", "U/mL"]
    assert analytes["IL6"].allowed_units == ["pg/mL", "ng/L", "ng/mL"]
    assert analytes["IL1B"].allowed_units == ["pg/mL", "ng/L", "ng/mL", "pmol/L"]
    assert analytes["FERRITIN"].allowed_units == ["ng/mL", "µg/L", "ug/L"]
    assert analytes["CRP"].allowed_units == ["mg/L", "mg/dL"]
    assert analytes["IL6"].loinc == "26881-3"
    assert analytes["IL6"].inflammatory_role == "dual"
    assert analytes["IL8"].family == "chemokine"
    assert (analytes["IFNG"].loinc, analytes["IFNG"].loinc_verified) == ("27415-9", False)
    assert analytes["IL4"].role_verified is False
    assert analytes["CRP"].family == "acute_phase"


def test_a_changed_published_set_is_refused_not_updated(
    reference_data: None, tmp_path: Path
) -> None:
    document = yaml.safe_load((SEED_DIR / "default_ranges.yaml").read_text())
    document["rules"][8]["high"] = "2.6"  # ARUP IL-6
    changed = tmp_path / "ranges.yaml"
    changed.write_text(yaml.safe_dump(document, allow_unicode=True))

    with pytest.raises(Conflict) as error:
        ruleset_seed_load(path=changed)

    assert error.value.details == ["ARUP-3002601-IL6"]
    assert ReferenceRangeRule.objects.get(key="ARUP-3002601-IL6").high == Decimal("2.5")
