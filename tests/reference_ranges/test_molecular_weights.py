"""Molecular weights are rule-set data: snapshot at creation, exported, imported, never changed."""

from __future__ import annotations

from decimal import Decimal

import pytest
import yaml

from labpanel.exceptions import InvalidInput
from reference_ranges import adapters
from reference_ranges.models import Analyte, ReferenceRangeSet
from reference_ranges.selectors import ruleset_document_get, ruleset_export
from reference_ranges.services import ruleset_draft_create_from, ruleset_import
from tests.reference_ranges.helpers import document, rule

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded(reference_data: None) -> ReferenceRangeSet:
    return ReferenceRangeSet.objects.get(key="labpanel-default", version="2026.1")


def test_the_seeded_set_holds_the_catalogues_single_verified_weights_only(
    seeded: ReferenceRangeSet,
) -> None:
    # IL-1β 17.5 kDa is the only single verified weight; IL-6 (20-28) and IL-1Ra (22-25) are
    # ranges, never midpoints
    assert seeded.molecular_weights == {"IL1B": "17.5"}
    assert adapters.ruleset_to_engine(seeded).molecular_weights == (("IL1B", Decimal("17.5")),)


def test_a_published_set_keeps_its_weights_when_the_catalogue_changes(
    seeded: ReferenceRangeSet,
) -> None:
    Analyte.objects.filter(code="IL1B").update(molecular_weight_kda=Decimal("17.4"))
    adapters.clear_cache()

    seeded.refresh_from_db()
    assert seeded.molecular_weights == {"IL1B": "17.5"}
    assert adapters.ruleset_to_engine(seeded).molecular_weights == (("IL1B", Decimal("17.5")),)


def test_the_export_carries_the_weights_and_an_import_of_it_keeps_them(
    seeded: ReferenceRangeSet,
) -> None:
    text = ruleset_export(ruleset=seeded, document_format="yaml")
    exported = yaml.safe_load(text)
    assert exported["molecular_weights"] == {"IL1B": "17.5"}

    # the catalogue changed since the export: the imported set keeps the exported weight
    Analyte.objects.filter(code="IL1B").update(molecular_weight_kda=Decimal("17.4"))
    outcome = ruleset_import(document=exported, created_by=None, version="2026.2")

    assert outcome.ruleset.molecular_weights == {"IL1B": "17.5"}
    assert outcome.warnings == [
        {
            "rule": None,
            "field": "ruleset.effective_from",
            "message": "not used: a set takes effect on the day a director publishes it",
        },
        {
            "rule": None,
            "field": "molecular_weights.IL1B",
            "message": "17.5 kDa differs from the catalogue's 17.4 kDa; the set keeps 17.5 kDa",
        },
    ]


def test_a_document_without_weights_takes_the_catalogues_when_stored(
    reference_data: None,
) -> None:
    outcome = ruleset_import(document=document(rule("IL6")), created_by=None)

    assert outcome.ruleset.molecular_weights == {"IL1B": "17.5"}
    assert ruleset_document_get(ruleset=outcome.ruleset)["molecular_weights"] == {"IL1B": "17.5"}


def test_an_empty_mapping_means_the_set_converts_nothing_by_weight(reference_data: None) -> None:
    outcome = ruleset_import(
        document={**document(rule("IL6")), "molecular_weights": {}}, created_by=None
    )

    assert outcome.ruleset.molecular_weights == {}
    assert adapters.ruleset_to_engine(outcome.ruleset).molecular_weights == ()


def test_a_copy_keeps_its_sources_weights(seeded: ReferenceRangeSet) -> None:
    Analyte.objects.filter(code="IL1B").update(molecular_weight_kda=Decimal("17.4"))

    draft = ruleset_draft_create_from(source=seeded, version="2026.2", created_by=None)

    assert draft.molecular_weights == {"IL1B": "17.5"}


def test_a_weight_the_catalogue_no_longer_gives_cannot_be_copied_into_a_new_set(
    seeded: ReferenceRangeSet,
) -> None:
    # given: the catalogue withdrew IL-1β's weight (found unverified, say)
    Analyte.objects.filter(code="IL1B").update(molecular_weight_kda=None)

    with pytest.raises(InvalidInput) as error:
        ruleset_draft_create_from(source=seeded, version="2026.2", created_by=None)

    assert [detail["field"] for detail in error.value.details] == ["molecular_weights.IL1B"]
    seeded.refresh_from_db()
    assert seeded.molecular_weights == {"IL1B": "17.5"}  # the published set is unchanged


@pytest.mark.parametrize(
    ("_case", "weights", "field", "message"),
    [
        (
            "a range is not a molecular weight",
            {"IL6": "24"},
            "molecular_weights.IL6",
            "the analyte catalogue gives IL6 no single molecular weight; a set cannot give one "
            "(a range of weights, e.g. of a glycosylated protein, is not a molecular weight, "
            "and no midpoint is taken)",
        ),
        (
            "unknown analyte",
            {"IL99": "10"},
            "molecular_weights.IL99",
            "unknown analyte 'IL99'; use a catalogue code",
        ),
        (
            "not positive",
            {"IL1B": "0"},
            "molecular_weights.IL1B",
            'must be a positive decimal number of kDa as a string, e.g. "17.5"',
        ),
        (
            "too precise to store",
            {"IL1B": "17.5001"},
            "molecular_weights.IL1B",
            "at most 5 digits before and 3 after the decimal point",
        ),
        (
            "not a mapping",
            ["IL1B", "17.5"],
            "molecular_weights",
            'must be a mapping of analyte code to kDa, e.g. {IL1B: "17.5"}',
        ),
    ],
)
def test_bad_weights_are_refused_naming_the_field(
    reference_data: None, _case: str, weights: object, field: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as error:
        ruleset_import(
            document={**document(rule("IL6")), "molecular_weights": weights}, created_by=None
        )

    assert error.value.details == [{"rule": None, "field": field, "message": message}]
    assert ReferenceRangeSet.objects.filter(key="test-set").count() == 0


def test_rules_in_units_that_convert_into_each_other_must_not_overlap(
    reference_data: None,
) -> None:
    with pytest.raises(InvalidInput) as error:
        ruleset_import(
            document=document(rule("IL6-PG"), rule("IL6-NG", unit="ng/L", high="3")),
            created_by=None,
        )

    assert error.value.details == [
        {
            "rule": "IL6-NG",
            "field": "partition",
            "message": "overlaps rule IL6-PG for IL6 in pg/mL (any sex, any specimen, ages any "
            "age): ng/L and pg/mL convert into each other, so which rule judged a result would "
            "depend on the unit it was reported in",
        }
    ]


def test_rules_in_a_mass_unit_and_in_u_per_ml_may_share_a_partition(reference_data: None) -> None:
    outcome = ruleset_import(
        document=document(
            rule("SIL2R-PG", analyte="SIL2R", high="1410.4"),
            rule("SIL2R-U", analyte="SIL2R", unit="U/mL", high="838"),
        ),
        created_by=None,
    )

    assert outcome.ruleset.rules.count() == 2


def test_pmol_per_l_rules_overlap_pg_per_ml_ones_only_through_a_molecular_weight(
    reference_data: None,
) -> None:
    rules = (
        rule("IL1B-PG", analyte="IL1B", high="7.4"),
        rule("IL1B-PMOL", analyte="IL1B", unit="pmol/L", high="0.42"),
    )

    with pytest.raises(InvalidInput):
        ruleset_import(document=document(*rules), created_by=None)
    outcome = ruleset_import(
        document={**document(*rules), "molecular_weights": {}}, created_by=None
    )
    assert outcome.ruleset.rules.count() == 2
