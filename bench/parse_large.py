"""Parse a large long-layout Labpanel CSV, streamed: rows/s and peak RSS against Python's csv
module reading the same file.

Generates a CSV of about ``--megabytes`` MB (default 200) in a temporary folder, then, for each
of ``--repeat`` rounds (default 3), runs side by side, each in a fresh process (peak RSS is a
process's high-water mark):

* ``csv``: the limit: ``csv.reader`` over the file opened as text, every row read and dropped;
* ``stream``: ``panels.intake.files.parse_stream``, every sample read and dropped (what an
  import's staging does: ``panels.intake.imports.staging.stage_stream``);
* ``whole``: ``parse_file``, every sample held (what the file costs when it is not streamed; the
  fallback for a file whose accessions' rows are apart). ``--no-whole`` leaves it out.

It prints each run, then per mode the median with min–max of rows/s (wall clock, and per
second of the process's CPU: steadier on a loaded machine), peak RSS, and the ratios to the
limit of the same round (rows/s ÷ csv's rows/s; peak RSS ÷ csv's peak RSS). No Django, no
database. Every run checks that it read every value.

    .venv/bin/python bench/parse_large.py                  # ~200 MB, ~1.76 M rows
    .venv/bin/python bench/parse_large.py --rows 130000    # the size of the import benchmark
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

HEADER = (
    "accession,mrn,family_name,given_name,birth_date,sex,specimen_type,collected_at,"
    "ordering_clinician,analyte,value,unit\n"
)
ANALYTES = (
    ("SIL2R", "U/mL"),
    ("IL12P70", "pg/mL"),
    ("IFNG", "pg/mL"),
    ("IL4", "pg/mL"),
    ("IL5", "pg/mL"),
    ("IL10", "pg/mL"),
    ("IL13", "pg/mL"),
    ("IL1B", "pg/mL"),
    ("IL6", "pg/mL"),
    ("IL8", "pg/mL"),
    ("IL17A", "pg/mL"),
    ("TNFA", "pg/mL"),
    ("IL2", "pg/mL"),
)
MODES = ("csv", "stream", "whole")


def _value(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.08:
        return f"<{rng.randint(1, 9)}.{rng.randint(0, 9)}"
    if roll < 0.10:
        return ">5000"
    return f"{rng.randint(0, 2000)}.{rng.randint(0, 99):02d}"


def generate(path: Path, *, rows: int | None, megabytes: float) -> int:
    """Write the CSV; return the number of result rows."""
    rng = random.Random(20261120)
    limit = int(megabytes * 1_000_000)
    written = 0
    size = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER)
        panel = 0
        while (rows is None and size < limit) or (rows is not None and written < rows):
            panel += 1
            patient = (
                f"ACC-{panel:08d},MRN-{panel % 50_000:06d},Family{panel % 997},Given{panel % 89},"
                f"19{50 + panel % 50}-0{1 + panel % 9}-1{panel % 9},"
                f"{'female' if panel % 2 else 'male'},plasma,2026-11-20T08:{panel % 60:02d}:00Z,"
                "dr.house"
            )
            lines = [f"{patient},{code},{_value(rng)},{unit}\n" for code, unit in ANALYTES]
            if rows is not None:
                lines = lines[: rows - written]
            chunk = "".join(lines)
            out.write(chunk)
            size += len(chunk)
            written += len(lines)
    return written


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(mode: str, path: Path) -> dict[str, float]:
    """One run in this process (a fresh one): what it read, its time and its peak RSS."""
    import csv

    sys.path.insert(0, str(ROOT))
    from panels.intake.files import parse_file, parse_stream

    before = _peak_mb()
    calls: list[tuple[int, int]] = []
    started, cpu_started = time.perf_counter(), time.process_time()
    values = samples = problems = 0
    if mode == "csv":
        with path.open(encoding="utf-8", newline="") as text:
            for _ in csv.reader(text):
                values += 1
        values -= 1  # the header
    elif mode == "stream":
        with path.open("rb") as stream:
            streamed = parse_stream(stream, on_progress=lambda d, t: calls.append((d, t)))
            for sample in streamed.samples():
                samples += 1
                values += len(sample.values)
            problems = len(streamed.problems())
    else:
        with path.open("rb") as stream:
            parsed = parse_file(stream, on_progress=lambda d, t: calls.append((d, t)))
        samples = len(parsed.samples)
        values = sum(len(sample.values) for sample in parsed.samples)
        problems = len(parsed.problems)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    if mode != "csv":
        assert calls, "no progress callback"
        assert calls[-1][0] == calls[-1][1], calls[-1]
    return {
        "seconds": elapsed,
        "cpu": cpu,
        "values": values,
        "samples": samples,
        "problems": problems,
        "peak_mb": _peak_mb(),
        "before_mb": before,
    }


def _spawn(mode: str, path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--run", mode, str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def _median(values: list[float], digits: int = 2) -> str:
    low, middle, high = min(values), statistics.median(values), max(values)
    return f"{middle:,.{digits}f} ({low:,.{digits}f}–{high:,.{digits}f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=float, default=200.0)
    parser.add_argument("--rows", type=int, default=None, help="result rows instead of a size")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-whole", action="store_true", help="leave out parse_file (whole)")
    parser.add_argument("--run", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.run:
        print(json.dumps(run_one(arguments.run[0], Path(arguments.run[1]))))
        return
    modes = [mode for mode in MODES if not (arguments.no_whole and mode == "whole")]
    print(f"load average: {os.getloadavg()} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "large.csv"
        started = time.perf_counter()
        rows = generate(path, rows=arguments.rows, megabytes=arguments.megabytes)
        size = path.stat().st_size
        print(
            f"generated {rows:,} rows, {size / 1e6:.1f} MB in {time.perf_counter() - started:.1f} s"
        )
        runs: dict[str, list[dict[str, float]]] = {mode: [] for mode in modes}
        for repetition in range(1, arguments.repeat + 1):
            for mode in modes:
                result = _spawn(mode, path)
                assert result["values"] == rows, (mode, result["values"], rows)
                runs[mode].append(result)
                print(
                    f"#{repetition} {mode:6} {rows / result['seconds']:>10,.0f} rows/s "
                    f"({result['seconds']:.2f} s, CPU {result['cpu']:.2f} s)  "
                    f"peak RSS {result['peak_mb']:.0f} MB (after imports "
                    f"{result['before_mb']:.0f} MB)  samples {result['samples']:,.0f}  "
                    f"problems {result['problems']:.0f}"
                )
        print(f"\nmedian (min–max) over {arguments.repeat} rounds; limit = csv module")
        for mode in modes:
            limits = runs["csv"]
            speed = [rows / run["seconds"] for run in runs[mode]]
            cpu = [rows / run["cpu"] for run in runs[mode]]
            peak = [run["peak_mb"] for run in runs[mode]]
            pairs = list(zip(runs[mode], limits, strict=True))
            speed_ratio = [limit["seconds"] / run["seconds"] for run, limit in pairs]
            cpu_ratio = [limit["cpu"] / run["cpu"] for run, limit in pairs]
            peak_ratio = [run["peak_mb"] / limit["peak_mb"] for run, limit in pairs]
            print(
                f"{mode:6} rows/s {_median(speed, 0)} ratio {_median(speed_ratio)} | "
                f"rows per CPU-s {_median(cpu, 0)} ratio {_median(cpu_ratio)} | "
                f"peak RSS MB {_median(peak, 1)} ratio {_median(peak_ratio)}"
            )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
