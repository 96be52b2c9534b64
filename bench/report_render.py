"""Reports at the speed of reportlab (issue 14), every figure beside its limit in one run.

Three parts, each a median (min–max) over ``--rounds`` rounds that alternate the two sides of
their ratio, so that the machine's load (other processes) weighs on both alike and a burst of
it spoils one round, which the median leaves out:

A. **The realistic bare render against the reference.** The reference is the simplest bare
   reportlab report of the same size (``_reference_pdf``: SimpleDocTemplate, a title, a
   13-row table of plain strings, a line chart, embedded DejaVu Sans); the realistic render is
   ``reports.rendering.render_pdf`` of the eight bench cases' documents (``report_cases.py``).
   Both in this process, fonts loaded; wall ms and CPU ms per report (``time.process_time``,
   less sensitive to the load than wall time). Target: realistic ≤ 2× the reference.
B. **One worker process against the bare render of the same documents.** Each round:

   1. post a batch, the eight cases of ``bench/report_cases.py`` (``--copies`` of each),
      through the JSON API while no worker runs;
   2. start one Celery worker process (``--concurrency 1``, as ``make worker`` but with one
      process) on a private Redis queue, measure its rate from the batch's own
      ``rendered_at`` times (first to last, so start-up is not counted), and stop it;
   3. build the same reports' documents (not timed) and render them with the bare layout
      (``reports.rendering.render_pdf``) in this process: the limit the worker is held to.

   Ratio = worker rate / bare rate (target ≥ 0.8×). Beside it, the CPU ratio: the bare
   render's CPU seconds per report over the worker processes' (read from /proc between the
   batch's first and last report), which the load disturbs less than the rates.
C. **Throughput with 1, 2 and 4 worker processes** (one worker, ``--concurrency`` N) on this
   host, reports/s over a batch of ``--copies`` × 8 × N reports; the machine's core count and
   load average are printed with it.

    .venv/bin/python bench/report_render.py                 # 5 rounds of 8 cases × 5 copies
    .venv/bin/python bench/report_render.py --copies 8 --rounds 3 --png var/cases
    .venv/bin/python bench/report_render.py --rounds 3 --skip-scaling --callgrind

``BENCH_WORKER_ARGS`` adds options to the measured worker's command line, to compare a worker
setting: ``BENCH_WORKER_ARGS=--prefetch-multiplier=4``.

D. (``--callgrind``) **Instructions per report**, realistic and reference, counted by valgrind's
   callgrind over one document per case (each side run with 1 and 3 rounds after a warm-up;
   the difference over 2 rounds): the machine's load does not change them.

The measured batches are the reports made on submission (PRELIMINARY: nobody has verified
them). Afterwards the director verifies and releases the last round's cases (FINAL) and the
amended case is corrected after release (CORRECTED), rendered by a worker but not measured.
``--png DIR`` writes each case's latest report as ``DIR/<case>.pdf`` and
``DIR/<case>-<page>.png`` (pdftoppm) to look at.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(BASE_DIR), str(BASE_DIR / "bench")]

from report_cases import CASES, case_payloads, measuring_ranges_record  # noqa: E402

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = os.environ.get("BENCH_DATABASE", "labpanel_bench_render")
BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/9")


def _configure() -> dict[str, str]:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DATABASE}")
    var_dir = tempfile.mkdtemp(prefix="labpanel-bench-render-")
    env = {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        "CELERY_BROKER_URL": BROKER_URL,
        "CELERY_TASK_DEFAULT_QUEUE": f"labpanel-bench-render-{uuid.uuid4().hex[:8]}",
        "LABPANEL_VAR_DIR": var_dir,
        "LABPANEL_LOG_LEVEL": "WARNING",
        "DJANGO_SECRET_KEY": "bench-render-" + uuid.uuid4().hex,
        "DJANGO_ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
        # the batches are posted faster than the API's default rate per token (600/min): the
        # render is measured here, not the rate limit
        "LABPANEL_API_RATE": "1000000/s",
    }
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labpanel.settings")
    import django

    django.setup()
    from django.core.management import call_command

    for command in ("migrate", "seed_reference_data"):
        call_command(command, verbosity=0)
    call_command("seed_demo", "--force-demo", verbosity=0)  # on PostgreSQL: asked for
    _measuring_ranges()
    return env


def _measuring_ranges() -> None:
    from labpanel.accounts.models import StaffMember

    measuring_ranges_record(StaffMember.objects.get(user__username="lab.tech").lab)


def _post_cases(copies: int) -> dict[str, list[int]]:
    """Post every case ``copies`` times; the panel ids of each case's reported panel."""
    from django.contrib.auth.models import User
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(User.objects.get(username="lab.tech"))
    reported: dict[str, list[int]] = {case.slug: [] for case in CASES}
    for _ in range(copies):
        for case in CASES:
            for payload in case_payloads(case, clinician="dr.house"):
                response = client.post("/api/v1/panels/", payload, format="json")
                if response.status_code != 201:
                    raise SystemExit(f"{case.slug}: {response.status_code} {response.content!r}")
            reported[case.slug].append(response.json()["id"])
    return reported


def _release(reported: dict[str, list[int]]) -> None:
    """The lab director verifies and releases each case's panel: its FINAL report follows."""
    from django.contrib.auth.models import User
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(User.objects.get(username="lab.director"))
    for panel_ids in reported.values():
        for panel_id in panel_ids:
            for step in ("verify", "release"):
                response = client.post(f"/api/v1/panels/{panel_id}/{step}/", {}, format="json")
                if response.status_code not in (200, 202):
                    raise SystemExit(
                        f"{step} {panel_id}: {response.status_code} {response.content!r}"
                    )


def _amend(reported: dict[str, list[int]]) -> None:
    from django.contrib.auth.models import User
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(User.objects.get(username="lab.tech"))
    for case in CASES:
        if case.amendment is None:
            continue
        for panel_id in reported[case.slug]:
            url = f"/api/v1/panels/{panel_id}/amendments/"
            response = client.post(url, case.amendment, format="json")
            if response.status_code not in (200, 201):
                raise SystemExit(f"amend {case.slug}: {response.status_code} {response.content!r}")


def _cpu_seconds(root: int) -> float:
    """User + system CPU seconds of process ``root`` and all its descendants (/proc)."""
    family: dict[int, tuple[int, int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        family[int(entry)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    members, grown = {root}, True
    while grown:
        more = {pid for pid, (parent, _) in family.items() if parent in members} - members
        members |= more
        grown = bool(more)
    return sum(family[pid][1] for pid in members if pid in family) / os.sysconf("SC_CLK_TCK")


class _Progress:
    """CPU seconds of the worker processes between the batch's first and last report."""

    def __init__(self) -> None:
        self.first: tuple[int, float] | None = None
        self.last: tuple[int, float] | None = None

    def per_report(self) -> float | None:
        if self.first is None or self.last is None or self.last[0] <= self.first[0]:
            return None
        return (self.last[1] - self.first[1]) / (self.last[0] - self.first[0])


def _wait_rendered(
    expected: int, timeout: float, worker: subprocess.Popen[bytes] | None = None
) -> _Progress:
    from reports.models import Report, ReportStatus

    progress = _Progress()
    before = Report.objects.filter(status=ReportStatus.READY).count()
    deadline = time.monotonic() + timeout
    while True:
        ready = Report.objects.filter(status=ReportStatus.READY).count()
        if worker is not None and ready > before:
            sample = (ready, _cpu_seconds(worker.pid))
            progress.first = progress.first or sample
            progress.last = sample
        if ready >= expected:
            return progress
        failed = Report.objects.filter(status=ReportStatus.FAILED).first()
        if failed is not None:
            raise SystemExit(f"report {failed.pk} failed: {failed.error_message}")
        if time.monotonic() > deadline:
            raise SystemExit("the worker did not render every report in time")
        time.sleep(0.05 if worker is not None else 0.2)


def _worker(env: dict[str, str], concurrency: int = 1) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "celery", "-A", "labpanel", "worker"]
    command += [f"--concurrency={concurrency}", "-Q", env["CELERY_TASK_DEFAULT_QUEUE"]]
    command += ["--loglevel=WARNING", *os.environ.get("BENCH_WORKER_ARGS", "").split()]
    return subprocess.Popen(command, cwd=BASE_DIR, env={**os.environ, **env})


def _worker_rate(report_ids: list[int]) -> float:
    from reports.models import Report

    rendered = Report.objects.filter(pk__in=report_ids).values_list("rendered_at", flat=True)
    times = sorted(moment for moment in rendered if moment is not None)
    return (len(times) - 1) / (times[-1] - times[0]).total_seconds()


class _Bare:
    """The bare layout over the batch's documents: rate, wall and CPU ms per report, per case."""

    def __init__(self, report_ids: list[int]) -> None:
        from reports.document_builder import report_document_build
        from reports.models import Report
        from reports.rendering import render_pdf

        reports = list(
            Report.objects.filter(pk__in=report_ids).select_related("panel").order_by("pk")
        )
        self.documents = [
            report_document_build(report=r, reported_at=r.rendered_at or r.created_at)
            for r in reports
        ]
        render_pdf(self.documents[0])  # fonts loaded once, as in a warm worker
        per_case: dict[str, list[float]] = {}
        started, cpu = time.perf_counter(), time.process_time()
        for report, document in zip(reports, self.documents, strict=True):
            one = time.perf_counter()
            render_pdf(document)
            slug = report.panel.accession.rsplit("-", 2)[0].lower()
            per_case.setdefault(slug, []).append((time.perf_counter() - one) * 1000)
        wall = time.perf_counter() - started
        self.cpu_ms = (time.process_time() - cpu) * 1000 / len(self.documents)
        self.wall_ms = wall * 1000 / len(self.documents)
        self.rate = len(self.documents) / wall
        self.per_case = {slug: statistics.median(ms) for slug, ms in per_case.items()}


# --- The reference: the simplest bare reportlab report of the same size -----------------------

REFERENCE_FONT, REFERENCE_BOLD = "BenchDejaVuSans", "BenchDejaVuSans-Bold"


def _reference_fonts() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    folder = BASE_DIR / "reports" / "rendering" / "fonts"
    for name, filename in (
        (REFERENCE_FONT, "DejaVuSans.ttf"),
        (REFERENCE_BOLD, "DejaVuSans-Bold.ttf"),
    ):
        if name not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(name, str(folder / filename)))


def _reference_pdf(document: Any) -> bytes:
    """One page: a title, the 13 results as a table of plain strings (Analyte, Result, Units,
    Reference interval, Flag), a line chart of the values; DejaVu Sans embedded. Built the
    simplest way reportlab offers (SimpleDocTemplate, Table, a graphics LinePlot)."""
    from io import BytesIO

    from reportlab.graphics.charts.lineplots import LinePlot
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import LETTER
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    rows = [["Analyte", "Result", "Units", "Reference interval", "Flag"]]
    rows += [
        [line.analyte_name, line.value_text, line.unit, line.reference_text, line.flag_text]
        for line in document.results[:13]
    ]
    table = Table(rows, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), REFERENCE_FONT),
                ("FONTNAME", (0, 0), (-1, 0), REFERENCE_BOLD),
                ("FONTSIZE", (0, 0), (-1, -1), 8.5),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
            ]
        )
    )
    values = [float(line.bar.value) if line.bar else 0.0 for line in document.results[:13]]
    chart = Drawing(300, 160)
    plot = LinePlot()
    plot.x, plot.y, plot.width, plot.height = 40, 25, 240, 120
    plot.data = [[(index, value) for index, value in enumerate(values, start=1)]]
    plot.xValueAxis.labels.fontName = plot.yValueAxis.labels.fontName = REFERENCE_FONT
    chart.add(plot)
    title = ParagraphStyle("BenchTitle", fontName=REFERENCE_BOLD, fontSize=14, leading=17)
    buffer = BytesIO()
    SimpleDocTemplate(buffer, pagesize=LETTER, invariant=1, initialFontName=REFERENCE_FONT).build(
        [Paragraph("Cytokine panel report", title), Spacer(1, 8), table, Spacer(1, 12), chart]
    )
    return buffer.getvalue()


def _reference(documents: list[Any]) -> tuple[float, float]:
    """Wall and CPU ms per reference report, one per document of the batch."""
    _reference_fonts()
    _reference_pdf(documents[0])
    started, cpu = time.perf_counter(), time.process_time()
    for document in documents:
        _reference_pdf(document)
    count = len(documents)
    return (
        (time.perf_counter() - started) * 1000 / count,
        (time.process_time() - cpu) * 1000 / count,
    )


def _write_pngs(reported: dict[str, list[int]], folder: Path) -> None:
    from reports.models import Report

    folder.mkdir(parents=True, exist_ok=True)
    for slug, panel_ids in reported.items():
        report = Report.objects.filter(panel_id=panel_ids[0]).order_by("-pk").first()
        assert report is not None
        assert report.pdf
        target = folder / f"{slug}.pdf"
        with report.pdf.open("rb") as source:
            target.write_bytes(source.read())
        if shutil.which("pdftoppm"):
            subprocess.run(
                ["pdftoppm", "-r", "80", "-png", str(target), str(folder / slug)], check=True
            )
    print(f"PDFs and PNGs in {folder}")


def _worker_phase(
    env: dict[str, str], expected: int, timeout: float, concurrency: int = 1
) -> _Progress:
    """One worker (``concurrency`` processes) renders what waits in the queue (``expected``
    reports ready), then stops."""
    worker = _worker(env, concurrency)
    try:
        return _wait_rendered(expected, timeout=timeout, worker=worker)
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def _spread(values: list[float], digits: int = 2) -> str:
    """'median (min–max)'."""
    return (
        f"{statistics.median(values):.{digits}f} "
        f"({min(values):.{digits}f}–{max(values):.{digits}f})"
    )


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{os.cpu_count()} cores, load average {one:.1f} (1 min) {five:.1f} (5 min)"


def _batch(copies: int) -> tuple[dict[str, list[int]], list[int]]:
    from reports.models import Report

    before = set(Report.objects.values_list("pk", flat=True))
    reported = _post_cases(copies)
    return reported, sorted(set(Report.objects.values_list("pk", flat=True)) - before)


def _scaling(env: dict[str, str], copies: int, rounds: int) -> None:
    from reports.models import Report

    rates: dict[int, list[float]] = {1: [], 2: [], 4: []}
    for _ in range(rounds):
        for processes in rates:
            _, batch = _batch(copies * processes)
            timeout = 60 + 5 * len(batch)
            _worker_phase(env, Report.objects.count(), timeout=timeout, concurrency=processes)
            rates[processes].append(_worker_rate(batch))
    one = statistics.median(rates[1])
    print(f"C. worker processes on this host ({_load()}), reports/s:")
    for processes, values in rates.items():
        linear = statistics.median(values) / (one * processes)
        print(
            f"   {processes} process{'es' if processes > 1 else ''}: {_spread(values, 1)} "
            f"reports/s; {linear:.2f}× linear"
        )


# --- Instruction counts: the load does not change them -------------------------------------


def _render_many(pickled: Path, side: str, count: int) -> None:
    """Run inside valgrind: load the documents, render one of each (fonts, caches), then
    ``count`` rounds of them with ``side`` ("realistic" or "reference")."""
    import pickle

    from reports.rendering import render_pdf

    documents = pickle.loads(pickled.read_bytes())  # noqa: S301  # written by this script
    _reference_fonts()
    render = render_pdf if side == "realistic" else _reference_pdf
    for document in documents:
        render(document)
    for _ in range(count):
        for document in documents:
            render(document)


def _instructions(pickled: Path, side: str, count: int) -> int:
    """Instructions callgrind counts for ``_render_many(pickled, side, count)``."""
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    command += [sys.executable, __file__, "--render-many", str(pickled), side, str(count)]
    completed = subprocess.run(command, capture_output=True, text=True, check=True, cwd=BASE_DIR)
    for line in completed.stderr.splitlines():
        if "Collected :" in line:
            return int(line.rsplit(":", 1)[1])
    raise SystemExit("callgrind printed no instruction count")


def _callgrind(documents: list[Any]) -> None:
    """Instructions per report, realistic and reference, over the same documents: each side
    counted with 1 and 3 rounds, the difference over 2 rounds (start-up and warm-up cancel)."""
    import pickle

    if shutil.which("valgrind") is None:
        print("D. instruction counts: valgrind is not installed")
        return
    with tempfile.NamedTemporaryFile(suffix=".pickle") as handle:
        handle.write(pickle.dumps(documents))
        handle.flush()
        per_report: dict[str, float] = {}
        for side in ("reference", "realistic"):
            low = _instructions(Path(handle.name), side, 1)
            high = _instructions(Path(handle.name), side, 3)
            per_report[side] = (high - low) / (2 * len(documents))
    print(
        f"D. instructions per report (callgrind, {len(documents)} documents): realistic "
        f"{per_report['realistic'] / 1e6:.1f} M, reference {per_report['reference'] / 1e6:.1f} M, "
        f"ratio {per_report['realistic'] / per_report['reference']:.2f}× (target ≤ 2×)"
    )


def main() -> int:
    if sys.argv[1:2] == ["--render-many"]:
        _render_many(Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
        return 0
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--copies", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--png", type=Path, default=None)
    parser.add_argument("--skip-scaling", action="store_true")
    parser.add_argument("--callgrind", action="store_true", help="also count instructions (D.)")
    arguments = parser.parse_args()

    env = _configure()
    from reports.models import Report

    batch_size = len(CASES) * arguments.copies
    print(
        f"{arguments.rounds} rounds of {batch_size} reports ({len(CASES)} cases × "
        f"{arguments.copies}); worker: 1 process, end to end; bare: render_pdf, same documents; "
        f"{_load()}"
    )
    worker_ratios: list[float] = []
    cpu_ratios: list[float] = []
    render_ratios: list[float] = []
    render_cpu_ratios: list[float] = []
    realistic: list[float] = []
    realistic_cpu: list[float] = []
    reference: list[float] = []
    reference_cpu: list[float] = []
    reported: dict[str, list[int]] = {}
    bare: _Bare | None = None
    for round_number in range(1, arguments.rounds + 1):
        reported, batch = _batch(arguments.copies)
        progress = _worker_phase(env, Report.objects.count(), timeout=60 + 5 * len(batch))
        worker_rate = _worker_rate(batch)
        bare = _Bare(batch)
        reference_ms, reference_cpu_ms = _reference(bare.documents)
        worker_ratios.append(worker_rate / bare.rate)
        worker_cpu = progress.per_report()
        if worker_cpu:
            cpu_ratios.append(bare.cpu_ms / 1000 / worker_cpu)
        realistic.append(bare.wall_ms)
        realistic_cpu.append(bare.cpu_ms)
        reference.append(reference_ms)
        reference_cpu.append(reference_cpu_ms)
        render_ratios.append(bare.wall_ms / reference_ms)
        render_cpu_ratios.append(bare.cpu_ms / reference_cpu_ms)
        cpu_text = f"{worker_cpu * 1000:.0f} ms CPU/report" if worker_cpu else "CPU not sampled"
        print(
            f"round {round_number}: worker {worker_rate:5.1f} reports/s ({cpu_text}), bare "
            f"{bare.rate:5.1f} reports/s ({bare.cpu_ms:.0f} ms CPU), ratio "
            f"{worker_ratios[-1]:.2f}×; realistic {bare.wall_ms:.1f} ms vs reference "
            f"{reference_ms:.1f} ms: {render_ratios[-1]:.2f}×"
        )
    print(
        f"A. realistic bare render {_spread(realistic, 1)} ms (CPU {_spread(realistic_cpu, 1)}); "
        f"reference {_spread(reference, 1)} ms (CPU {_spread(reference_cpu, 1)}); ratio "
        f"{_spread(render_ratios)}×, CPU {_spread(render_cpu_ratios)}× (target ≤ 2×)"
    )
    cpu_ratio = f", CPU {_spread(cpu_ratios)}×" if cpu_ratios else ""
    print(
        f"B. one worker process / bare render of the same documents: "
        f"{_spread(worker_ratios)}×{cpu_ratio} (target ≥ 0.8×)"
    )
    if bare is not None:
        print(
            "   bare render, median ms per case (last round): "
            + ", ".join(f"{k} {v:.0f}" for k, v in bare.per_case.items())
        )
    if arguments.callgrind and bare is not None:
        # one document per case: the eight cases once each
        seen: dict[str, Any] = {}
        for document in bare.documents:
            seen.setdefault(document.accession.rsplit("-", 2)[0], document)
        _callgrind(list(seen.values()))
    if not arguments.skip_scaling:
        _scaling(env, arguments.copies, arguments.rounds)
    _release(reported)
    _worker_phase(env, Report.objects.count(), timeout=120)
    _amend(reported)
    _worker_phase(env, Report.objects.count(), timeout=120)
    if arguments.png is not None:
        _write_pngs(reported, arguments.png)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
