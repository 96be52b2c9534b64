"""The rule-set management commands: export, import, publish and preview, via call_command."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
import yaml
from django.core.management import CommandError, call_command

from labpanel.accounts.models import StaffMember
from reference_ranges.models import ReferenceRangeSet, RuleSetStatus
from reference_ranges.selectors import ruleset_document_get
from tests.reference_ranges.helpers import document, rule

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen_clock() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def seeded(reference_data: None) -> ReferenceRangeSet:
    return ReferenceRangeSet.objects.get(key="labpanel-default", version="2026.1")


def run(*args: Any) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_export_writes_the_active_version_as_yaml_or_json(
    seeded: ReferenceRangeSet, tmp_path: Path
) -> None:
    target = tmp_path / "default.json"

    text = run("ruleset_export", "labpanel-default")
    run(
        "ruleset_export",
        "labpanel-default",
        "--version",
        "2026.1",
        "--format",
        "json",
        "-o",
        target,
    )

    assert text.startswith("# Labpanel reference-range set; format: docs/ruleset-format.md\n")
    assert yaml.safe_load(text) == ruleset_document_get(ruleset=seeded)
    assert json.loads(target.read_text()) == ruleset_document_get(ruleset=seeded)


def test_export_of_an_unknown_version_fails(seeded: ReferenceRangeSet) -> None:
    with pytest.raises(CommandError, match="no reference range set labpanel-default version 9"):
        run("ruleset_export", "labpanel-default", "--version", "9")


def test_import_then_publish_then_preview(
    seeded: ReferenceRangeSet, director: StaffMember, tmp_path: Path
) -> None:
    # given: the seeded set with a gap opened between the sIL-2R age bands
    source = ruleset_document_get(ruleset=seeded)
    for item in source["rules"]:
        if item["key"] == "CCHMC-SIL2R-U-3-7Y":
            item["min_age"] = 4
    path = tmp_path / "ranges.yaml"
    path.write_text(yaml.safe_dump(source, allow_unicode=True), encoding="utf-8")

    # when
    imported = run("ruleset_import", str(path), "--version", "2026.2", "--as", "director")
    preview = run("ruleset_preview", "labpanel-default", "2026.2")
    published = run("ruleset_publish", "labpanel-default", "2026.2", "--as", "director")

    # then
    draft = ReferenceRangeSet.objects.get(version="2026.2")
    assert imported.splitlines() == [
        f"Imported draft labpanel-default v2026.2 (id {draft.pk}, 18 rules, installation-wide)",
        "Warning: ruleset.effective_from: not used: a set takes effect on the day a director "
        "publishes it",
        "Warning: rule CCHMC-SIL2R-U-3-7Y, min_age: age gap: no rule covers SIL2R in U/mL for "
        "any sex, plasma/plasma_edta/serum, ages 3 to <4 years (between rules "
        "CCHMC-SIL2R-U-UNDER-3Y and CCHMC-SIL2R-U-3-7Y)",
    ]
    assert preview.splitlines() == [
        "Impact of labpanel-default v2026.2: 0 results in 0 panels examined, 0 unchanged, 0 changed"
    ]
    assert published.splitlines() == [
        f"Published labpanel-default v2026.2 (id {draft.pk}), effective from 2026-12-01",
        f"Retired labpanel-default v2026.1 (id {seeded.pk})",
        "Warning: rule CCHMC-SIL2R-U-3-7Y, min_age: age gap: no rule covers SIL2R in U/mL for "
        "any sex, plasma/plasma_edta/serum, ages 3 to <4 years (between rules "
        "CCHMC-SIL2R-U-UNDER-3Y and CCHMC-SIL2R-U-3-7Y)",
    ]
    draft.refresh_from_db()
    assert (draft.status, draft.published_by, draft.created_by) == (
        RuleSetStatus.ACTIVE,
        director.user,
        director.user,
    )


def test_import_for_a_lab_lists_every_problem(
    seeded: ReferenceRangeSet, lab: Any, tmp_path: Path
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(
        json.dumps(document(rule("A", analyte="IL99"), rule("B", high="1", low="2"))),
        encoding="utf-8",
    )

    with pytest.raises(CommandError) as error:
        run("ruleset_import", str(path), "--lab", "Test Laboratory")

    assert str(error.value).splitlines() == [
        "the reference range set has 3 problems",
        "  rule A, analyte: unknown analyte 'IL99'; use a catalogue code",
        "  rule B, low_inclusive: required: true or false",
        "  rule B, low: low 2 is above high 1",
    ]
    assert ReferenceRangeSet.objects.count() == 1


def test_publish_refuses_a_technician_and_a_future_date(
    seeded: ReferenceRangeSet, technician: StaffMember, director: StaffMember, tmp_path: Path
) -> None:
    path = tmp_path / "set.yaml"
    path.write_text(yaml.safe_dump(document(rule("IL6"))), encoding="utf-8")
    run("ruleset_import", str(path))

    with pytest.raises(CommandError, match="only a lab director may"):
        run("ruleset_publish", "test-set", "1", "--as", "tech")
    with pytest.raises(CommandError, match="a future effective date"):
        run(
            "ruleset_publish", "test-set", "1", "--as", "director", "--effective-from", "2027-01-01"
        )
    assert ReferenceRangeSet.objects.get(key="test-set").status == RuleSetStatus.DRAFT
