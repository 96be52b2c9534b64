"""Parse a large long-layout Labpanel CSV with ``panels.intake.files.parse_file``, streaming.

Generates a CSV of about ``--megabytes`` MB (default 200) in a temporary folder, parses it from
a file opened in binary mode, and prints rows/s, peak RSS and the progress callbacks seen. No
Django, no database.

    .venv/bin/python bench/parse_large.py                  # ~200 MB, ~1.6 M rows
    .venv/bin/python bench/parse_large.py --rows 130000    # the size of the import benchmark
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from panels.intake.files import parse_file

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=float, default=200.0)
    parser.add_argument("--rows", type=int, default=None, help="result rows instead of a size")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "large.csv"
        started = time.perf_counter()
        rows = generate(path, rows=arguments.rows, megabytes=arguments.megabytes)
        size = path.stat().st_size
        print(
            f"generated {rows:,} rows, {size / 1e6:.1f} MB in {time.perf_counter() - started:.1f} s"
        )
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        calls: list[tuple[int, int]] = []
        started, cpu_started = time.perf_counter(), time.process_time()
        with path.open("rb") as stream:
            parsed = parse_file(stream, on_progress=lambda done, total: calls.append((done, total)))
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        values = sum(len(sample.values) for sample in parsed.samples)
        print(f"format {parsed.format}, {len(parsed.samples):,} samples, {values:,} values")
        print(f"problems: {len(parsed.problems)}")
        print(
            f"parsed in {elapsed:.2f} s: {rows / elapsed:,.0f} rows/s, "
            f"{size / 1e6 / elapsed:.1f} MB/s"
        )
        print(f"CPU time {cpu:.2f} s: {rows / cpu:,.0f} rows/s of CPU")
        print(f"peak RSS: {rss_after / 1024:.0f} MB (before parsing: {rss_before / 1024:.0f} MB)")
        print(f"progress callbacks: {len(calls)}, last {calls[-1] if calls else None}")
        assert values == rows, (values, rows)
        assert calls, "no progress callback"
        assert calls[-1][0] == calls[-1][1] == parsed.rows_total == rows + 1, calls[-1]
        assert len(calls) >= rows // 10_000, len(calls)


if __name__ == "__main__":
    main()
