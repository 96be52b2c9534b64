"""Findings data: bytes stored per 10,000 panels before and after FindingText, and the time to
work findings out against the time to interpret the same panels' results.

Storage. A fresh database ``labpanel_bench_engine`` is migrated to panels 0017 (findings with
their words on every row), the findings table is copied as it was then (``CREATE TABLE
bench_finding_0017 (LIKE panels_finding INCLUDING ALL)``: columns, indexes, constraints), and
the database is migrated to the end (panels 0018: ``panels_finding`` points at
``panels_findingtext``). Each repeat then works out the findings of ``--panels`` panels with the
engine (the panels of ``bench/engine.py``, another seed per repeat: lab-shaped values, clinical
inputs on one panel in seven, the HLH work-ups with their facts; the enabled pattern rules of
``reference_ranges/seed/pattern_rules.yaml``), turns them into rows as the app stores them
(``panels.interpretation.evidence_json``, ``panels.models.finding_text``) and loads the same
findings into both layouts with COPY: the 0017 table, and the FindingText design (each
distinct text once, every finding pointing at it). The findings' panels are not loaded, so
the foreign keys are not checked during the load (``session_replication_role = replica``);
autovacuum is off for the three tables, so that both layouts are measured alike, right after
the load. Printed: ``pg_total_relation_size`` (heap, TOAST, indexes) of each layout scaled
to 10,000 panels, and the ratio after / before, median (min-max) over the repeats.

Time. Over the same panels, in this process, one core: interpreting their results
(``interpret``) and working their findings out (``evaluate_patterns``), each with new rule
objects (memos empty), then again with the memos filled; the ratio findings / interpret,
median (min-max) over the repeats.

    .venv/bin/python bench/findings_data.py                  # 10,000 panels, 3 repeats
    .venv/bin/python bench/findings_data.py --panels 2000 --repeat 5

Needs PostgreSQL on 127.0.0.1:5432 (user postgres); drops and creates labpanel_bench_engine.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import io
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
for path in (str(ROOT), str(BENCH)):
    if path not in sys.path:
        sys.path.insert(0, path)

import engine as workload  # noqa: E402  (bench/engine.py: the panels and the rules)

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = "labpanel_bench_engine"
DSN = f"postgresql://postgres@127.0.0.1:5432/{DATABASE}"
BEFORE = "bench_finding_0017"
PER = 10_000


def _environment() -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": DSN,
        "DJANGO_SETTINGS_MODULE": "labpanel.settings",
        "DJANGO_DEBUG": "true",
    }


def _manage(*args: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=_environment(),
        check=True,
        capture_output=True,
        text=True,
    )


def prepare_database() -> None:
    """The bench database with the 0017 findings table beside today's tables."""
    with psycopg.connect(ADMIN_DSN, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DATABASE}")
    _manage("migrate", "--noinput", "panels", "0017_identifiers_per_lab")
    with psycopg.connect(DSN, autocommit=True) as connection:
        connection.execute(f"CREATE TABLE {BEFORE} (LIKE panels_finding INCLUDING ALL)")
    _manage("migrate", "--noinput")
    with psycopg.connect(DSN, autocommit=True) as connection:
        for table in (BEFORE, "panels_finding", "panels_findingtext"):
            connection.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")


def _copy_field(value: Any) -> str:
    if value is None:
        return "\\N"
    text = value if isinstance(value, str) else str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _copy_text(rows: Sequence[Sequence[Any]]) -> bytes:
    out = io.StringIO()
    for row in rows:
        out.write("\t".join(_copy_field(value) for value in row))
        out.write("\n")
    return out.getvalue().encode()


@dataclasses.dataclass(frozen=True)
class Sizes:
    before: int
    finding: int
    text: int
    findings: int
    texts: int

    @property
    def after(self) -> int:
        return self.finding + self.text


def load_and_measure(panels: int, seed: int) -> Sizes:
    """The findings of ``panels`` panels loaded into both layouts; their sizes."""
    from panels.interpretation import evidence_json
    from panels.models import finding_text
    from reference_ranges.engine.patterns import evaluate_patterns

    specs = workload.build_panels(panels, seed=seed)
    contexts = workload.pattern_contexts(specs, seed=seed + 1)
    rules = workload.load_pattern_rules_enabled()
    evaluated_at = "2026-12-06T09:00:00+00:00"
    before_rows: list[tuple[Any, ...]] = []
    after_rows: list[tuple[Any, ...]] = []
    texts: dict[Any, tuple[Any, ...]] = {}
    row_id = 0
    for panel_id, context in enumerate(contexts, start=1):
        for position, finding in enumerate(evaluate_patterns(rules, context), start=1):
            row_id += 1
            evidence = json.dumps(evidence_json(finding))
            missing = json.dumps(list(finding.missing_inputs))
            score = None if finding.score is None else format(finding.score, "f")
            verified = "t" if finding.verified else "f"
            before_rows.append(
                (
                    row_id,
                    position,
                    finding.rule_id,
                    finding.rule_version,
                    finding.name,
                    finding.status.value,
                    finding.statement,
                    evidence,
                    missing,
                    score,
                    finding.citation,
                    verified,
                    finding.verification_note,
                    evaluated_at,
                    panel_id,
                    None,
                )
            )
            text = finding_text(
                rule_id=finding.rule_id,
                rule_version=finding.rule_version,
                name=finding.name,
                statement=finding.statement,
                citation=finding.citation,
                verified=finding.verified,
                verification_note=finding.verification_note,
            )
            texts[text.pk] = (
                text.pk,
                text.rule_id,
                text.rule_version,
                text.name,
                text.statement,
                text.citation,
                verified,
                text.verification_note,
            )
            after_rows.append(
                (
                    row_id,
                    position,
                    finding.rule_id,
                    finding.rule_version,
                    finding.status.value,
                    evidence,
                    missing,
                    score,
                    evaluated_at,
                    panel_id,
                    None,
                    text.pk,
                )
            )
    with psycopg.connect(DSN, autocommit=True) as connection:
        connection.execute(f"TRUNCATE {BEFORE}, panels_finding, panels_findingtext")
        connection.execute("SET session_replication_role = replica")
        loads = (
            (
                BEFORE,
                "id, position, rule_id, rule_version, name, status, statement, evidence, "
                "missing_inputs, score, citation, verified, verification_note, evaluated_at, "
                "panel_id, superseded_at",
                before_rows,
            ),
            (
                "panels_findingtext",
                "id, rule_id, rule_version, name, statement, citation, verified, verification_note",
                list(texts.values()),
            ),
            (
                "panels_finding",
                "id, position, rule_id, rule_version, status, evidence, missing_inputs, score, "
                "evaluated_at, panel_id, superseded_at, text_id",
                after_rows,
            ),
        )
        for table, columns, rows in loads:
            with connection.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                copy.write(_copy_text(rows))
        sizes = [
            connection.execute("SELECT pg_total_relation_size(%s)", (table,)).fetchone()[0]  # type: ignore[index]
            for table in (BEFORE, "panels_finding", "panels_findingtext")
        ]
    return Sizes(sizes[0], sizes[1], sizes[2], len(before_rows), len(texts))


def _median_range(values: Sequence[float], fmt: str = "{:.2f}") -> str:
    return (
        f"{fmt.format(statistics.median(values))} "
        f"({fmt.format(min(values))}-{fmt.format(max(values))})"
    )


def time_findings(panels: int, seed: int) -> tuple[float, float, float, float]:
    """Seconds to interpret the panels' results and to work their findings out, each cold
    (new rule objects) and warm (the same objects again)."""
    from reference_ranges.engine import interpret
    from reference_ranges.engine.patterns import evaluate_patterns

    specs = workload.build_panels(panels, seed=seed)
    built = workload.prebuild(specs)
    contexts = workload.pattern_contexts(specs, seed=seed + 1)
    ruleset = workload.load_ruleset()
    rules = workload.load_pattern_rules_enabled()
    gc.collect()
    gc.freeze()
    fresh_ruleset = dataclasses.replace(ruleset)
    fresh_rules = workload._fresh_rules(rules)
    clock = time.perf_counter
    figures = []
    for _ in ("cold", "warm"):
        gc.collect()
        start = clock()
        for measurements, patient in built:
            interpret(measurements, patient, fresh_ruleset)
        interpreting = clock() - start
        gc.collect()
        start = clock()
        for context in contexts:
            evaluate_patterns(fresh_rules, context)
        figures += [interpreting, clock() - start]
    gc.unfreeze()
    return figures[0], figures[1], figures[2], figures[3]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panels", type=int, default=PER)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    repeat = max(args.repeat, 3)
    print(f"load average at start {workload._load()}; {os.cpu_count()} CPUs, loaded machine")
    prepare_database()
    os.environ.update(_environment())
    import django

    django.setup()
    scale = PER / args.panels
    ratios: list[float] = []
    befores: list[float] = []
    afters: list[float] = []
    print(f"\nstorage: findings of {args.panels:,} panels per repeat, scaled to {PER:,} panels")
    for run in range(repeat):
        sizes = load_and_measure(args.panels, seed=workload.SEED + 10 * run)
        befores.append(sizes.before * scale / 1e6)
        afters.append(sizes.after * scale / 1e6)
        ratios.append(sizes.after / sizes.before)
        print(
            f"  repeat {run + 1}: {sizes.findings:,} findings, {sizes.texts} distinct texts; "
            f"0017 layout {sizes.before * scale / 1e6:.2f} MB, FindingText layout "
            f"{sizes.after * scale / 1e6:.2f} MB (findings {sizes.finding * scale / 1e6:.2f} + "
            f"texts {sizes.text * scale / 1e6:.3f}) per {PER:,} panels",
            flush=True,
        )
    print(f"  before (panels 0017): {_median_range(befores)} MB per {PER:,} panels")
    print(f"  after  (FindingText): {_median_range(afters)} MB per {PER:,} panels")
    print(f"  ratio after / before: {_median_range(ratios)}")

    print(f"\ntime: {args.panels:,} panels, one core (load average {workload._load()})")
    cold: list[float] = []
    warm: list[float] = []
    for run in range(repeat):
        interpret_cold, findings_cold, interpret_warm, findings_warm = time_findings(
            args.panels, seed=workload.SEED + 10 * run
        )
        cold.append(findings_cold / interpret_cold)
        warm.append(findings_warm / interpret_warm)
        print(
            f"  repeat {run + 1}: interpret {interpret_cold:.3f} s cold / {interpret_warm:.3f} s "
            f"warm; findings {findings_cold:.3f} s cold / {findings_warm:.3f} s warm",
            flush=True,
        )
    print(f"  findings / interpret, cold memos: {_median_range(cold)}")
    print(f"  findings / interpret, warm memos: {_median_range(warm)}")
    print(f"\nload average at end {workload._load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
