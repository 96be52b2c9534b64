"""Throughput of the pure interpretation engine: results per second on one core, one process.

Builds the 18 rules of the default rule set (``reference_ranges/seed/default_ranges.yaml``, read
with PyYAML; no Django) and a synthetic but lab-shaped workload, then times ``interpret()`` alone
with ``time.perf_counter``, best of ``--repeat`` runs. Each run gets a new RuleSet object, so
the engine indexes it afresh and no run profits from the memos of the run before. Scenarios:

* ``results``: 1,000,000 results as 76,924 thirteen-result panels (ARUP Cytokine Panel 13, and
  one panel in twelve an HLH work-up variant with sIL-2R in U/mL, IL-18 and CXCL9);
* ``panels``: 100,000 such panels (1.3 million results), from another seed;
* ``lab-realistic`` (engines with measuring ranges only): the ``results`` panels with the
  assay's LLOQ/ULOQ on every result, dilution factors on high results, and one result in ten
  reported in ng/L, which the engine converts to the rules' pg/mL;
* ``distinct-values``: values log-uniform inside the measuring range with four decimals, so that
  practically none repeats: the engine's speed when its memos cannot help.

Values are log-normal around each analyte's healthy median, with one panel in six from an
inflamed patient, rounded to the lab's one or two decimals; values below the assay's LLOQ are
reported "<LLOQ" and above its ULOQ ">ULOQ" (about one result in six is censored). Patients are
mostly adults; one in 25 is a child and a few specimens are EDTA plasma, which the adult
lithium-heparin intervals do not cover (the engine then explains why no interval applies). The
LLOQ/ULOQ figures are illustrative: the labs do not publish theirs (domain note, section a).
Seeded, so every run interprets the same results.

Two timings per scenario: ``fresh`` builds each panel's Measurements just before its own timed
``interpret()`` call, as the service does (parse, then interpret; the two clock reads per panel
are on the clock too); ``prebuilt`` builds all Measurements first and times one loop over them.

Then ``panels + findings``: the ``panels`` scenario's 100,000 panels, each interpreted and then
judged against the enabled pattern rules (``reference_ranges/seed/pattern_rules.yaml``, read with
PyYAML and built by the engine's own loader, ``load_pattern_rules``, as
``reference_ranges/patterns.py`` does) with a ``PatternContext`` like the one
``panels/interpretation.py`` builds: the panel's measurements, its clinical inputs (none for
most panels; temperature, blood pressure support and oxygen for one in seven, CAR-T monitoring;
the HScore / HLH-2004 facts for the HLH work-ups), no earlier panels. Timed three ways over the
same prebuilt panels: ``interpret`` alone, ``findings`` alone, and ``interpret + findings``.
Each run gets new rule objects (``dataclasses.replace``), so no run profits from the memos of
the run before.

Then ``engine vs plain loop``, the issue's figure (engine, results only): the ``results``
scenario's prebuilt Measurements, each repeat timing, side by side over the same list, (a) the
engine on a new RuleSet (``cold``: its index and memos built as it goes), (b) the engine again on
that same RuleSet (``warm``: every memo filled), and (c) the limit: a plain loop that looks each
result up in a dict ``(analyte, unit) -> (low, high)`` built from the rule set (the adults'
interval where one is partitioned), compares the Decimal value with the two limits and appends a
code. The plain loop gives no reason, no provenance, no interval text; it ignores the comparator
(censored results), the patient's sex, age and specimen, the measuring range and units it could
convert, so it is a limit, not an implementation. Each ratio is plain-loop time / engine time
(= engine results/s / plain results/s), printed as median (min-max) over the repeats.

Everything runs in this one process on one thread: one core. Every figure is per core. The
workload, once built, is frozen out of the cyclic garbage collector (``gc.freeze``), as a
server's long-lived data is after start-up: the collector still runs, on what the engine
allocates, but no longer walks millions of workload objects before every timed run (which made
the bench take about two minutes).

Figures behind design choices in the engine (measured with ``timeit``, best of 5 runs of 200,000
constructions, one core of the 2-core development machine, December 2026):

* ``Interpretation`` built with positional arguments: about 195 ns; with keywords: about
  410 ns (the hot path in ``interpret()`` passes positional arguments);
* the same eight fields as a frozen slotted dataclass: about 1,450 ns, about seven times the
  slotted class ``Interpretation`` is (``reference_ranges/engine/types.py``).

    .venv/bin/python bench/engine.py                      # full run
    .venv/bin/python bench/engine.py --results 200000 --panels 20000 --repeat 1
    PYTHONPATH=/path/to/other/checkout .venv/bin/python bench/engine.py   # another engine
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import math
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    # Appended, not prepended: PYTHONPATH can point the bench at another checkout's engine.
    sys.path.append(str(ROOT))

from reference_ranges import engine  # noqa: E402
from reference_ranges.engine import (  # noqa: E402
    Age,
    AgeUnit,
    Comparator,
    Measurement,
    PatientContext,
    RangeRule,
    RuleSet,
    Sex,
    interpret,
)

try:
    from reference_ranges.engine.patterns import (
        ClinicalValue,
        PatternContext,
        PatternRule,
        evaluate_patterns,
        load_pattern_rules,
    )
except ImportError:  # pragma: no cover - an engine without pattern rules (PYTHONPATH)
    HAS_PATTERNS = False
else:
    HAS_PATTERNS = True

SEED = 2026
RULES_FILE = ROOT / "reference_ranges" / "seed" / "default_ranges.yaml"
PATTERN_RULES_FILE = ROOT / "reference_ranges" / "seed" / "pattern_rules.yaml"
ARUP_PANEL = (
    "SIL2R",
    "IL12P70",
    "IFNG",
    "IL4",
    "IL5",
    "IL10",
    "IL13",
    "IL1B",
    "IL6",
    "IL8",
    "TNFA",
    "IL2",
    "IL17A",
)
HLH_PANEL = ("IL18", "CXCL9", "IL6", "IL10", "IFNG", "TNFA", "IL1B", "IL8", "IL2", "IL4", "IL5")
# analyte -> (unit, median of healthy values, illustrative LLOQ, illustrative ULOQ)
ASSAYS: dict[str, tuple[str, float, str, str]] = {
    "SIL2R": ("pg/mL", 700.0, "50", "50000"),
    "IL12P70": ("pg/mL", 1.5, "0.6", "5000"),
    "IFNG": ("pg/mL", 3.5, "1.0", "5000"),
    "IL4": ("pg/mL", 0.8, "0.5", "5000"),
    "IL5": ("pg/mL", 0.7, "0.5", "5000"),
    "IL10": ("pg/mL", 1.8, "0.5", "5000"),
    "IL13": ("pg/mL", 1.6, "0.8", "5000"),
    "IL1B": ("pg/mL", 2.0, "0.5", "5000"),
    "IL6": ("pg/mL", 1.6, "1.5", "5000"),
    "IL8": ("pg/mL", 4.0, "1.0", "5000"),
    "TNFA": ("pg/mL", 6.0, "0.7", "5000"),
    "IL2": ("pg/mL", 0.7, "0.6", "5000"),
    "IL17A": ("pg/mL", 0.8, "0.5", "5000"),
    "IL18": ("pg/mL", 250.0, "10", "50000"),
    "CXCL9": ("pg/mL", 300.0, "20", "20000"),
    "SIL2R_U": ("U/mL", 500.0, "50", "7500"),
}


# --- rule set ---------------------------------------------------------------------------------


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def load_ruleset() -> RuleSet:
    """The default rule set's 18 rules as engine RangeRules (what the adapter would build)."""
    data = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    rules = []
    for row in data["rules"]:
        specimen_types = row.get("specimen_types")
        rules.append(
            RangeRule(
                key=row["key"],
                analyte=row["analyte"],
                unit=row["unit"],
                low=_decimal(row.get("low")),
                low_inclusive=row.get("low_inclusive", True),
                high=_decimal(row.get("high")),
                high_inclusive=row.get("high_inclusive", True),
                source=" ".join(p for p in (row.get("source", ""), row.get("test_code", "")) if p),
                citation=row.get("citation", ""),
                verified=row.get("verified", True),
                critical_low=_decimal(row.get("critical_low")),
                critical_high=_decimal(row.get("critical_high")),
                sex=Sex(row["sex"]) if row.get("sex") else None,
                age_unit=AgeUnit(row.get("age_unit", "years")),
                min_age=row.get("min_age"),
                max_age=row.get("max_age"),
                specimen_types=frozenset(specimen_types) if specimen_types else None,
            )
        )
    info = data["ruleset"]
    extra: dict[str, Any] = {}
    if "molecular_weights" in {f.name for f in dataclasses.fields(RuleSet)}:
        extra["molecular_weights"] = (("IL1B", Decimal("17.5")),)
    return RuleSet(key=info["key"], version=str(info["version"]), rules=tuple(rules), **extra)


def load_pattern_rules_enabled() -> tuple[PatternRule, ...]:
    """The shipped pattern rules that are enabled, built as ``reference_ranges/patterns.py``
    builds them (the engine's loader over the parsed document), without Django."""
    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    document = yaml.load(PATTERN_RULES_FILE.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506
    return tuple(rule for rule in load_pattern_rules(document) if rule.enabled)


# --- workload ---------------------------------------------------------------------------------

MEASUREMENT_FIELDS = {f.name for f in dataclasses.fields(Measurement)}
HAS_MEASURING_RANGE = {"lloq", "uloq", "dilution_factor"} <= MEASUREMENT_FIELDS

# One result as the lab sends it: (analyte, value, comparator, unit, lloq, uloq, dilution).
ResultSpec = tuple[str, Decimal, Comparator, str, Decimal | None, Decimal | None, Decimal | None]
Panel = tuple[list[ResultSpec], PatientContext]


def _patient(rng: random.Random, specimen: str) -> PatientContext:
    roll = rng.random()
    years = rng.randint(1, 17) if roll < 0.04 else rng.randint(18, 90)
    days = years * 365 + years // 4 + rng.randint(0, 364)
    sex_roll = rng.random()
    sex = Sex.UNKNOWN if sex_roll < 0.02 else (Sex.FEMALE if sex_roll < 0.51 else Sex.MALE)
    return PatientContext(sex=sex, age=Age(days=days, years=years), specimen_type=specimen)


def _value(rng: random.Random, median: float, inflamed: bool, places: int) -> Decimal:
    value = math.exp(rng.gauss(math.log(median), 0.9))
    if inflamed:
        value *= math.exp(rng.gauss(2.5, 1.5))
    return round(Decimal(repr(value)), places)


def _result(
    rng: random.Random,
    analyte: str,
    assay: str,
    inflamed: bool,
    places: int,
    *,
    realistic: bool,
    distinct: bool,
) -> ResultSpec:
    unit, median, lloq_text, uloq_text = ASSAYS[assay]
    lloq, uloq = Decimal(lloq_text), Decimal(uloq_text)
    if distinct:
        # Log-uniform inside the measuring range, four decimals: practically no value repeats.
        value = round(Decimal(repr(math.exp(rng.uniform(math.log(lloq), math.log(uloq))))), 4)
    else:
        value = _value(rng, median, inflamed, places)
    comparator = Comparator.EQ
    dilution: Decimal | None = None
    if value < lloq:
        comparator, value = Comparator.LT, lloq
    elif value > uloq:
        if realistic and rng.random() < 0.5:
            dilution = Decimal(10)  # re-assayed on a 1:10 dilution; value already multiplied
        else:
            comparator, value = Comparator.GT, uloq
    if realistic and dilution is None and value > uloq / 2 and comparator is Comparator.EQ:
        dilution = Decimal(2) if rng.random() < 0.2 else None
    if realistic and unit == "pg/mL" and rng.random() < 0.1:
        unit = "ng/L"  # the same quantity as pg/mL: converted, and the conversion shown
    if realistic:
        return (analyte, value, comparator, unit, lloq, uloq, dilution)
    return (analyte, value, comparator, unit, None, None, None)


def measurements(specs: Sequence[ResultSpec]) -> list[Measurement]:
    """The panel's results as engine Measurements (the lab's LLOQ/ULOQ where it sends them)."""
    if HAS_MEASURING_RANGE:
        return [Measurement(*spec) for spec in specs]
    return [Measurement(*spec[:4]) for spec in specs]


def build_panels(
    count: int, *, seed: int, realistic: bool = False, distinct: bool = False
) -> list[Panel]:
    rng = random.Random(seed)
    panels: list[Panel] = []
    for _ in range(count):
        inflamed = rng.random() < 1 / 6
        places = 1 if rng.random() < 0.6 else 2
        if rng.random() < 0.08:
            specimen = "plasma"
            items = [("SIL2R", "SIL2R_U"), *((a, a) for a in HLH_PANEL)]
            items.append(("IL17A", "IL17A"))
        else:
            specimen = "plasma_heparin" if rng.random() < 0.7 else "plasma"
            if rng.random() < 0.03:
                specimen = "plasma_edta"  # not a specimen the ARUP intervals admit
            items = [(a, a) for a in ARUP_PANEL]
        results = [
            _result(rng, analyte, assay, inflamed, places, realistic=realistic, distinct=distinct)
            for analyte, assay in items
        ]
        panels.append((results, _patient(rng, specimen)))
    return panels


OXYGEN_DEVICES: tuple[str, ...] = ("none", "none", "none", "low_flow_nasal_cannula")
OXYGEN_DEVICES += ("high_flow_nasal_cannula", "facemask", "cpap", "mechanical_ventilation")


def _tenths(rng: random.Random, low: float, high: float) -> Decimal:
    return round(Decimal(repr(rng.uniform(low, high))), 1)


def clinical_inputs(rng: random.Random, hlh_workup: bool) -> dict[str, Decimal | bool | str]:
    """The clinical facts sent with a panel, as the API validates them (numbers as Decimal).

    Most panels come without any. One in seven is CAR-T monitoring (the ASTCT grading inputs);
    an HLH work-up panel carries the HScore and HLH-2004 facts half of the time.
    """
    values: dict[str, Decimal | bool | str] = {}
    if hlh_workup and rng.random() < 0.5:
        values.update(
            temperature_c=_tenths(rng, 36.5, 40.5),
            known_immunosuppression=rng.random() < 0.3,
            organomegaly=rng.choice(("none", "hepatomegaly_or_splenomegaly", "both")),
            cytopenic_lineages=Decimal(rng.randint(0, 3)),
            triglycerides_mmol_l=_tenths(rng, 0.8, 6.0),
            fibrinogen_g_l=_tenths(rng, 0.8, 5.0),
            ast_iu_l=Decimal(rng.randint(12, 400)),
            marrow_hemophagocytosis=rng.random() < 0.3,
            splenomegaly=rng.random() < 0.4,
            cytopenias_2_of_3_lineages=rng.random() < 0.5,
        )
    elif rng.random() < 1 / 7:
        device = rng.choice(OXYGEN_DEVICES)
        values.update(
            temperature_c=_tenths(rng, 36.2, 40.5),
            fever_attributable_to_other_cause=rng.random() < 0.05,
            antipyretic_or_anticytokine_given=rng.random() < 0.3,
            hypotension=rng.random() < 0.2,
            vasopressors_excluding_vasopressin=Decimal(rng.choice((0, 0, 0, 0, 1, 2))),
            vasopressin=rng.random() < 0.03,
            oxygen_device=device,
        )
        if device.endswith("nasal_cannula"):
            values["oxygen_flow_l_min"] = Decimal(rng.randint(1, 40))
    return values


def pattern_contexts(panels: Sequence[Panel], *, seed: int) -> list[PatternContext]:
    """Each panel's PatternContext, as panels/interpretation.py builds it (no earlier panels)."""
    rng = random.Random(seed)
    contexts = []
    for specs, patient in panels:
        clinical = clinical_inputs(rng, hlh_workup=specs[0][3] == "U/mL")
        contexts.append(
            PatternContext(
                measurements=tuple(measurements(specs)),
                clinical={name: ClinicalValue(name=name, value=v) for name, v in clinical.items()},
                history=(),
                baseline=None,
                age_years=None if patient.age is None else patient.age.years,
            )
        )
    return contexts


# --- timing -----------------------------------------------------------------------------------


def _fresh(panels: Sequence[Panel], ruleset: RuleSet) -> tuple[float, int]:
    """Each panel's Measurements are built just before its own timed interpret() call, as in
    the service (parse, then interpret): only the engine is on the clock."""
    clock = time.perf_counter
    seconds = 0.0
    count = 0
    for specs, patient in panels:
        panel = measurements(specs)
        start = clock()
        results = interpret(panel, patient, ruleset)
        seconds += clock() - start
        count += len(results)
    return seconds, count


Built = list[tuple[list[Measurement], PatientContext]]


def prebuild(panels: Sequence[Panel]) -> Built:
    """All Measurements built first (once per scenario: they are immutable, and the engine's
    memos belong to the rule set, never to a Measurement)."""
    return [(measurements(specs), patient) for specs, patient in panels]


def _prebuilt(built: Built, ruleset: RuleSet) -> tuple[float, int]:
    """One timed loop over prebuilt Measurements (a million objects: they are no longer in the
    CPU cache when interpreted)."""
    start = time.perf_counter()
    count = 0
    for panel, patient in built:
        count += len(interpret(panel, patient, ruleset))
    return time.perf_counter() - start, count


def _findings_only(
    contexts: Sequence[PatternContext], rules: Sequence[PatternRule]
) -> tuple[float, int]:
    start = time.perf_counter()
    count = 0
    for context in contexts:
        count += len(evaluate_patterns(rules, context))
    return time.perf_counter() - start, count


def _with_findings(
    built: Built,
    contexts: Sequence[PatternContext],
    ruleset: RuleSet,
    rules: Sequence[PatternRule],
) -> tuple[float, int, int]:
    """Per panel, as the service does: interpret its results, then evaluate the pattern rules."""
    start = time.perf_counter()
    count = findings = 0
    for (panel, patient), context in zip(built, contexts, strict=True):
        count += len(interpret(panel, patient, ruleset))
        findings += len(evaluate_patterns(rules, context))
    return time.perf_counter() - start, count, findings


def plain_table(ruleset: RuleSet) -> dict[tuple[str, str], tuple[Decimal | None, Decimal | None]]:
    """The limit's lookup table: (analyte, unit) -> (low, high), the adults' interval where the
    rule set partitions one (the last rule of a pair wins: the seed lists adults last)."""
    return {(rule.analyte, rule.unit): (rule.low, rule.high) for rule in ruleset.rules}


def _plain_loop(built: Built, ruleset: RuleSet) -> tuple[float, int]:
    """The limit: a dict lookup and Decimal comparisons per result, nothing else."""
    start = time.perf_counter()
    table = plain_table(ruleset)
    get = table.get
    count = 0
    for panel, _patient in built:
        codes: list[str | None] = []
        append = codes.append
        for measurement in panel:
            limits = get((measurement.analyte, measurement.unit))
            if limits is None:
                append(None)
                continue
            low, high = limits
            value = measurement.value
            if high is not None and value > high:
                append("H")
            elif low is not None and value < low:
                append("L")
            else:
                append("N")
        count += len(codes)
    return time.perf_counter() - start, count


def _ratio_text(ratios: Sequence[float]) -> str:
    return f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"


def engine_vs_plain(built: Built, ruleset: RuleSet, repeat: int) -> None:
    """Engine cold and warm against the plain loop, side by side in each repeat."""
    print(
        f"\nengine vs plain loop ({sum(len(panel) for panel, _ in built):,} results, "
        f"{repeat} repeats, load average {_load()})"
    )
    cold: list[float] = []
    warm: list[float] = []
    rows: dict[str, list[float]] = {"plain loop": [], "engine cold": [], "engine warm": []}
    for _ in range(repeat):
        fresh_ruleset = dataclasses.replace(ruleset)
        gc.collect()
        plain_seconds, plain_count = _plain_loop(built, fresh_ruleset)
        gc.collect()
        cold_seconds, cold_count = _prebuilt(built, fresh_ruleset)
        gc.collect()
        warm_seconds, warm_count = _prebuilt(built, fresh_ruleset)
        if not plain_count == cold_count == warm_count:  # pragma: no cover - a dropped result
            raise AssertionError((plain_count, cold_count, warm_count))
        rows["plain loop"].append(plain_seconds)
        rows["engine cold"].append(cold_seconds)
        rows["engine warm"].append(warm_seconds)
        cold.append(plain_seconds / cold_seconds)
        warm.append(plain_seconds / warm_seconds)
    results = sum(len(panel) for panel, _ in built)
    for mode, runs in rows.items():
        print(
            f"  {mode:<12} median {statistics.median(runs):.3f} s "
            f"({min(runs):.3f}-{max(runs):.3f}), {results / statistics.median(runs):,.0f} results/s"
        )
    print(f"  ratio engine/plain, cold: {_ratio_text(cold)}")
    print(f"  ratio engine/plain, warm: {_ratio_text(warm)}  (target >= 0.7x)", flush=True)


@dataclasses.dataclass(frozen=True)
class Timing:
    """Engine seconds of each repeat of one scenario and mode, and the work done per repeat."""

    scenario: str
    mode: str
    panels: int
    results: int
    seconds: tuple[float, ...]

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def _repeat(
    repeat: int, ruleset: RuleSet, work: Callable[[RuleSet], tuple[float, int]]
) -> tuple[tuple[float, ...], int]:
    """Engine seconds of each run, each with a new RuleSet object (so its memos start empty)."""
    seconds: list[float] = []
    count = 0
    for _ in range(repeat):
        fresh_ruleset = dataclasses.replace(ruleset)
        gc.collect()
        elapsed, count = work(fresh_ruleset)
        seconds.append(elapsed)
    return tuple(seconds), count


def _fresh_rules(rules: Sequence[PatternRule]) -> tuple[PatternRule, ...]:
    """New rule objects, equal to the old: the engine's per-rule memos start empty."""
    return tuple(dataclasses.replace(rule) for rule in rules)


def _describe(panels: Sequence[Panel]) -> str:
    results = [spec for specs, _ in panels for spec in specs]
    censored = sum(spec[2] is not Comparator.EQ for spec in results)
    distinct = len({(spec[0], spec[2], str(spec[1]), spec[3]) for spec in results})
    return f"{censored / len(results):.0%} censored, {distinct:,} distinct values"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _print_row(timing: Timing) -> None:
    print(
        f"{timing.scenario:<17} {timing.mode:<20} {timing.panels:>9,} {timing.results:>10,} "
        f"{timing.best:>7.2f} {timing.median:>7.2f} {timing.results / timing.best:>12,.0f} "
        f"{timing.results / timing.median:>12,.0f} {timing.panels / timing.best:>10,.0f} "
        f"{timing.panels / timing.median:>10,.0f}",
        flush=True,
    )


HEADER = (
    f"{'scenario':<17} {'mode':<20} {'panels':>9} {'results':>10} {'best s':>7} {'med. s':>7} "
    f"{'results/s':>12} {'results/s':>12} {'panels/s':>10} {'panels/s':>10}\n"
    f"{'':<17} {'':<20} {'':>9} {'':>10} {'':>7} {'':>7} "
    f"{'(best)':>12} {'(median)':>12} {'(best)':>10} {'(median)':>10}"
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=int, default=1_000_000)
    parser.add_argument("--panels", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--only-ratio", action="store_true", help="only the engine vs plain loop figures"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()

    ruleset = load_ruleset()
    pattern_rules = load_pattern_rules_enabled() if HAS_PATTERNS else ()
    print(
        f"engine {Path(engine.__file__).parent} | Python {platform.python_version()} "
        f"({platform.python_implementation()}) | {_cpu_model()} | {os.cpu_count()} CPUs on the "
        f"machine, 1 core used (one process, one thread): every figure is per core\n"
        f"{len(ruleset.rules)} range rules | {len(pattern_rules)} enabled pattern rules "
        f"({', '.join(rule.id for rule in pattern_rules)}) | {args.repeat} runs each; "
        f"load average at start {_load()}"
    )
    result_panels = -(-args.results // 13)
    panels_panels = build_panels(args.panels, seed=SEED + 1)
    scenarios: list[tuple[str, list[Panel]]] = [
        ("results", build_panels(result_panels, seed=SEED)),
        ("panels", panels_panels),
    ]
    if HAS_MEASURING_RANGE:
        scenarios.append(("lab-realistic", build_panels(result_panels, seed=SEED, realistic=True)))
    scenarios.append(("distinct-values", build_panels(result_panels, seed=SEED, distinct=True)))
    for name, panels in scenarios:
        print(f"  {name}: {len(panels):,} panels ({_describe(panels)})")
    _freeze()
    if pattern_rules:
        print(
            f"  panels + findings: the {len(panels_panels):,} panels above with clinical inputs "
            "on one in seven (CAR-T) and half the HLH work-ups, no earlier panels"
        )
    built = prebuild(scenarios[0][1])
    _freeze()
    engine_vs_plain(built, ruleset, max(args.repeat, 3))
    del built
    if args.only_ratio:
        return 0
    print()
    print(HEADER, flush=True)
    timings: list[Timing] = []
    for name, panels in scenarios:
        seconds, count = _repeat(args.repeat, ruleset, partial(_fresh, panels))
        timings.append(Timing(name, "fresh", len(panels), count, seconds))
        _print_row(timings[-1])
        built = prebuild(panels)
        _freeze()
        seconds, count = _repeat(args.repeat, ruleset, partial(_prebuilt, built))
        timings.append(Timing(name, "prebuilt", len(panels), count, seconds))
        _print_row(timings[-1])
        del built
    if pattern_rules:
        built = prebuild(panels_panels)
        contexts = pattern_contexts(panels_panels, seed=SEED + 2)
        _freeze()
        name = "panels+findings"
        rows: dict[str, list[float]] = {"interpret": [], "findings": [], "interpret + findings": []}
        count = findings = 0
        for _ in range(args.repeat):
            gc.collect()
            elapsed, count = _prebuilt(built, dataclasses.replace(ruleset))
            rows["interpret"].append(elapsed)
            gc.collect()
            elapsed, findings = _findings_only(contexts, _fresh_rules(pattern_rules))
            rows["findings"].append(elapsed)
            gc.collect()
            elapsed, count, findings = _with_findings(
                built, contexts, dataclasses.replace(ruleset), _fresh_rules(pattern_rules)
            )
            rows["interpret + findings"].append(elapsed)
        for mode, runs in rows.items():
            timings.append(Timing(name, mode, len(built), count, tuple(runs)))
            _print_row(timings[-1])
        print(
            f"\n{findings:,} findings per run ({findings / len(built):.0f} per panel); "
            "results/s on the findings rows counts the panels' results, as the other rows do"
        )
    print(
        f"1 core; engine time only (building Measurements and contexts is off the clock); "
        f"load average at end {_load()}; whole bench {time.perf_counter() - started:.0f} s"
    )
    return 0


def _freeze() -> None:
    """Leave the workload built so far out of the collector's walks (see the module header)."""
    gc.collect()
    gc.freeze()


def _load() -> str:
    try:
        return " ".join(f"{figure:.2f}" for figure in os.getloadavg())
    except OSError:  # pragma: no cover - platforms without a load average
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
