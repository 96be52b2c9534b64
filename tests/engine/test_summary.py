"""Panel summary by family and by inflammatory role. No database."""

from __future__ import annotations

from typing import Any, cast

import pytest

from reference_ranges.engine.summary import (
    FAMILIES,
    ROLES,
    AnalyteFacts,
    GroupSummary,
    summarize,
)
from reference_ranges.engine.types import Interpretation, InterpretationCode

# Catalogue facts as seeded (reference_ranges/seed/analytes.yaml).
FACTS = {
    facts.code: facts
    for facts in (
        AnalyteFacts("IL1B", "IL-1β", "interleukin", "pro"),
        AnalyteFacts("IL6", "IL-6", "interleukin", "dual"),
        AnalyteFacts("IL10", "IL-10", "interleukin", "anti"),
        AnalyteFacts("IFNG", "IFN-γ", "interferon", "pro"),
        AnalyteFacts("TNFA", "TNF-α", "tnf", "pro"),
        AnalyteFacts("IL8", "IL-8", "chemokine", "pro"),
        AnalyteFacts("MCP1", "MCP-1", "chemokine", "pro"),
        AnalyteFacts("GMCSF", "GM-CSF", "colony_stimulating_factor", "pro"),
        AnalyteFacts("SIL2R", "sIL-2R", "soluble_receptor", "marker"),
        AnalyteFacts("SGP130", "sgp130", "soluble_receptor", "anti"),
        AnalyteFacts("FERRITIN", "Ferritin", "acute_phase", "marker"),
        AnalyteFacts("CRP", "CRP", "acute_phase", "marker"),
    )
}

C = InterpretationCode


def i(analyte: str, code: InterpretationCode | None) -> Interpretation:
    return Interpretation(analyte=analyte, code=code, reason="test")


PANEL = [
    i("IL6", C.CRITICAL_HIGH),
    i("IL10", C.HIGH),
    i("IL1B", C.NORMAL),
    i("IFNG", C.OFF_SCALE_HIGH),
    i("TNFA", C.OFF_SCALE_LOW),
    i("IL8", C.LOW),
    i("MCP1", None),
    i("SIL2R", C.HIGH),
    i("CRP", C.CRITICAL_LOW),
]


def test_summary_by_family_in_the_fixed_order_with_only_measured_families() -> None:
    by_family, _ = summarize(PANEL, FACTS)

    assert by_family == (
        GroupSummary("interleukin", "Interleukins", 3, ("IL-6", "IL-10"), (), ()),
        GroupSummary("interferon", "Interferons", 1, ("IFN-γ",), (), ()),
        GroupSummary("tnf", "TNF", 1, (), ("TNF-α",), ()),
        GroupSummary("chemokine", "Chemokines", 2, (), ("IL-8",), ("MCP-1",)),
        GroupSummary("soluble_receptor", "Soluble receptors", 1, ("sIL-2R",), (), ()),
        GroupSummary("acute_phase", "Acute-phase markers", 1, (), ("CRP",), ()),
    )


def test_summary_by_role() -> None:
    _, by_role = summarize(PANEL, FACTS)

    assert by_role == (
        GroupSummary("pro", "Pro-inflammatory", 5, ("IFN-γ",), ("TNF-α", "IL-8"), ("MCP-1",)),
        GroupSummary("anti", "Anti-inflammatory", 1, ("IL-10",), (), ()),
        GroupSummary("dual", "Pro- and anti-inflammatory", 1, ("IL-6",), (), ()),
        GroupSummary("marker", "Markers", 2, ("sIL-2R",), ("CRP",), ()),
    )


def test_group_orders_are_fixed() -> None:
    assert list(FAMILIES) == [
        "interleukin",
        "interferon",
        "tnf",
        "chemokine",
        "colony_stimulating_factor",
        "soluble_receptor",
        "acute_phase",
    ]
    assert list(ROLES) == ["pro", "anti", "dual", "marker"]


def test_colony_stimulating_factors_and_input_order_of_names() -> None:
    by_family, by_role = summarize([i("GMCSF", C.HIGH), i("IL6", C.HIGH), i("IL1B", C.HIGH)], FACTS)

    assert [(g.group, g.elevated) for g in by_family] == [
        ("interleukin", ("IL-6", "IL-1β")),
        ("colony_stimulating_factor", ("GM-CSF",)),
    ]
    assert [(g.group, g.elevated) for g in by_role] == [
        ("pro", ("GM-CSF", "IL-1β")),
        ("dual", ("IL-6",)),
    ]


def test_an_analyte_reported_twice_is_counted_twice_and_named_once() -> None:
    by_family, _ = summarize([i("SIL2R", C.HIGH), i("SIL2R", C.HIGH)], FACTS)

    assert by_family == (
        GroupSummary("soluble_receptor", "Soluble receptors", 2, ("sIL-2R",), (), ()),
    )


def test_unknown_codes_are_neither_elevated_nor_low() -> None:
    indeterminate = Interpretation(analyte="IL6", code=cast(Any, "IND"), reason="test")

    by_family, _ = summarize([indeterminate, i("IL10", C.NORMAL)], FACTS)

    assert by_family == (GroupSummary("interleukin", "Interleukins", 2, (), (), ()),)


def test_analytes_without_facts_are_left_out() -> None:
    by_family, by_role = summarize([i("IL99", C.HIGH)], FACTS)

    assert (by_family, by_role) == ((), ())


def test_empty_panel() -> None:
    assert summarize([], FACTS) == ((), ())


@pytest.mark.parametrize(
    ("family", "role", "message"),
    [("cytokine", "pro", "unknown family"), ("interleukin", "inflammatory", "unknown role")],
)
def test_facts_are_validated(family: str, role: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AnalyteFacts("X", "X", family, role)
