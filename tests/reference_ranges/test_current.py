"""The reference data kept in memory per process (``reference_ranges.current``, issue 14): kept
while the database's reference data does not change, read again at the first use after any
write to a table it reads, whoever writes (the ORM here; raw SQL; the triggers of migration
0006 on PostgreSQL, and on the embedded SQLite default in a subprocess)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from labpanel.accounts.models import Lab
from reference_ranges.current import reference_data_current
from reference_ranges.models import (
    Analyte,
    AssayMeasuringRange,
    LabSpecimenSetting,
    PatternRuleSetting,
    ReferenceRangeSet,
    RuleSetStatus,
)
from reference_ranges.patterns import pattern_rules_all
from tests.embedded import embedded_probe

STAMPED_TABLES = importlib.import_module(
    "reference_ranges.migrations.0006_reference_data_stamp"
).TABLES
DAY = date(2026, 11, 20)


def _token() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT token FROM reference_ranges_referencedatastamp WHERE id = 1")
        return str(cursor.fetchone()[0])


@pytest.mark.django_db
@pytest.mark.parametrize("table", STAMPED_TABLES)
def test_any_statement_on_a_table_kept_in_memory_changes_the_stamp(table: str) -> None:
    before = _token()
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET id = id WHERE id < 0")  # noqa: S608 - fixed names
    assert _token() != before


@pytest.mark.django_db
def test_unchanged_reference_data_is_kept_and_costs_one_query(
    reference_data: None, lab: Lab
) -> None:
    first = reference_data_current()
    first.catalogue()
    first.ruleset_active(lab=lab)
    with CaptureQueriesContext(connection) as queries:
        again = reference_data_current()
        again.catalogue()
        again.ruleset_active(lab=lab)
    assert again is first
    assert len(queries) == 1


def _retire_the_active_sets(lab: Lab) -> None:
    ReferenceRangeSet.objects.active().update(
        status=RuleSetStatus.RETIRED, retired_at=timezone.now()
    )


def _alias_il6(lab: Lab) -> None:
    analyte = Analyte.objects.get(code="IL6")
    Analyte.objects.filter(pk=analyte.pk).update(aliases=[*analyte.aliases, "interleukin six"])


def _record_range(lab: Lab) -> None:
    AssayMeasuringRange.objects.create(
        lab=lab,
        analyte=Analyte.objects.get(code="IL6"),
        assay="Test bead assay",
        lloq=Decimal("1.5"),
        uloq=Decimal("5000"),
        unit="pg/mL",
        effective_from=date(2026, 1, 1),
        source="tests",
    )


def _state_edta(lab: Lab) -> None:
    LabSpecimenSetting.objects.update_or_create(
        lab=lab, defaults={"plasma_anticoagulant": "plasma_edta", "changed_at": timezone.now()}
    )


def _switch_every_rule_off(lab: Lab) -> None:
    PatternRuleSetting.objects.bulk_create(
        PatternRuleSetting(
            lab=lab,
            rule_id=rule.id,
            rule_version=rule.version,
            rule_verified=rule.verified,
            enabled=False,
            changed_at=timezone.now(),
        )
        for rule in pattern_rules_all()
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("_case", "write", "read", "after"),
    [
        (
            "rule set retired",
            _retire_the_active_sets,
            lambda r, lab: r.ruleset_active(lab=lab),
            None,
        ),
        (
            "catalogue alias",
            _alias_il6,
            lambda r, lab: getattr(r.catalogue().resolve("interleukin six"), "code", None),
            "IL6",
        ),
        (
            "measuring range",
            _record_range,
            lambda r, lab: sorted(r.measuring_ranges(lab_id=lab.pk, on=DAY)),
            ["IL6"],
        ),
        (
            "plasma anticoagulant",
            _state_edta,
            lambda r, lab: r.plasma_anticoagulant(lab_id=lab.pk),
            "plasma_edta",
        ),
        (
            "pattern rules",
            _switch_every_rule_off,
            lambda r, lab: r.pattern_rules(lab_id=lab.pk),
            (),
        ),
    ],
)
def test_a_write_is_seen_at_the_next_use(
    reference_data: None,
    lab: Lab,
    _case: str,
    write: Callable[[Lab], None],
    read: Callable[[Any, Lab], Any],
    after: Any,
) -> None:
    before = read(reference_data_current(), lab)
    assert before != after
    write(lab)
    assert read(reference_data_current(), lab) == after


SQLITE_PROBE = """
import json
import django
django.setup()
from django.core.management import call_command
from django.db import connection, transaction
call_command("migrate", verbosity=0)
from reference_ranges.current import reference_data_current
from reference_ranges.models import Analyte

def token():
    with connection.cursor() as cursor:
        cursor.execute("SELECT token FROM reference_ranges_referencedatastamp WHERE id = 1")
        return cursor.fetchone()[0]

tokens = [token()]
empty = reference_data_current()
Analyte.objects.create(code="PROBE", short_name="Probe", name="Probe analyte")
tokens.append(token())
loaded = reference_data_current()
codes = [a.code for a in loaded.catalogue().by_key.values()]
Analyte.objects.filter(code="PROBE").update(aliases=["probe two"])
tokens.append(token())
renamed = reference_data_current()
try:
    with transaction.atomic():
        Analyte.objects.filter(code="PROBE").delete()
        tokens.append(token())
        raise RuntimeError("roll back")
except RuntimeError:
    pass
tokens.append(token())
print(json.dumps({
    "vendor": connection.vendor,
    "tokens": tokens,
    "new_copy_after_write": loaded is not empty,
    "probe_loaded": "PROBE" in codes,
    "alias_seen": renamed.catalogue().resolve("probe two") is not None,
    "same_copy_unchanged": reference_data_current() is renamed,
}))
"""


def test_the_embedded_sqlite_default_changes_the_stamp_on_every_write(tmp_path: Path) -> None:
    probe = embedded_probe(SQLITE_PROBE, tmp_path)
    tokens = probe.pop("tokens")
    assert probe == {
        "vendor": "sqlite",
        "new_copy_after_write": True,
        "probe_loaded": True,
        "alias_seen": True,
        "same_copy_unchanged": True,
    }
    # insert, update and delete each set a new token; the rollback restores the one before
    # it, which is still the token of what the database holds
    assert len(set(tokens[:4])) == 4
    assert tokens[4] == tokens[2]
