"""Where one worker process spends a report (issue 14): the render task split into its phases,
inside a real Celery worker, beside the bare render of the same documents in the same process.

``bench/report_render.py`` (B.) gives the worker's rate as a fraction of the bare render's; this
script says where the difference goes. Each round:

1. posts a batch (the eight cases of ``bench/report_cases.py``, ``--copies`` of each) through
   the JSON API while no worker runs, on ``report_render.py``'s scratch database;
2. starts one Celery worker exactly as ``report_render.py`` does (prefork, ``--concurrency 1``,
   a private Redis queue), but through this script (``--worker``), which wraps the render
   service's steps with timers before the worker starts: the claim and read of the report's
   source (``reports.services._claim_and_read``, one statement), the document build, the
   drawing (``render_pdf``), and the rest of the task (checksum, storage, the READY commit with
   its event), each in wall and CPU milliseconds (``time.process_time``: the process's own CPU;
   the difference is waiting: PostgreSQL, the disk, the scheduler), and Celery's own time
   between one task's end and the next one's start (``task_postrun`` to ``task_prerun``: the
   child hands its result to the pool's parent, which acknowledges the message, fetches the
   next and hands it over);
3. once the batch is rendered, the same child builds the batch's documents again (not timed)
   and draws them with the bare layout: the limit, in the same process, right after.

The first report of each batch is left out of the phases (the child's first task warms up).
Wall time is what the ratio of ``report_render.py`` is made of; the VM's speed drifts within
seconds (the same drawing took 30 to 45 ms a report in one run), so compare the phases of one
round with each other and with the bare render beside them, not across rounds or machines.

    .venv/bin/python bench/worker_phases.py                   # 3 rounds of 8 cases × 20
    .venv/bin/python bench/worker_phases.py --rounds 1 --copies 5
    BENCH_WORKER_ARGS=--prefetch-multiplier=4 .venv/bin/python bench/worker_phases.py

About a minute a round on two cores. The database (``labpanel_bench_render``) is dropped and
created again, as by ``report_render.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(BASE_DIR / "bench"), str(BASE_DIR)]

# the phases of one report, in the order they happen
PHASES = ("claim", "build", "render", "store")


def _worker_main() -> None:
    """The worker process: timers around the render service's steps, then Celery's own main.

    Runs in the pool's child (prefork forks it after this module has patched the service), so
    the timers are the child's own; after ``BENCH_PHASES_COUNT`` tasks the child draws the
    documents bare, writes its figures to ``BENCH_PHASES_OUT`` and stops the worker."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labpanel.settings")
    import django

    django.setup()
    from celery import signals

    import reports.services as services
    from labpanel.celery import app

    count = int(os.environ["BENCH_PHASES_COUNT"])
    out = Path(os.environ["BENCH_PHASES_OUT"])
    sums: dict[str, list[float]] = {}  # phase -> [wall seconds, cpu seconds]
    state: dict[str, Any] = {"done": 0, "report_ids": []}

    def add(phase: str, wall: float, cpu: float) -> None:
        if state["done"] >= 1:  # the first task warms the child up
            total = sums.setdefault(phase, [0.0, 0.0])
            total[0] += wall
            total[1] += cpu

    def timed(phase: str, function: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                add(phase, time.perf_counter() - wall, time.process_time() - cpu)

        return call

    # the service's own names for its steps, as report_render calls them
    steps = {"claim": "_claim_and_read", "build": "report_document_build", "render": "render_pdf"}
    for phase, name in steps.items():
        setattr(services, name, timed(phase, getattr(services, name)))

    @signals.task_prerun.connect
    def _started(**_: Any) -> None:
        now = time.perf_counter()
        if "ended" in state:
            add("celery", now - state["ended"], 0.0)
        state["began"] = (now, time.process_time())

    @signals.task_postrun.connect
    def _ended(args: Any = None, **_: Any) -> None:
        began_wall, began_cpu = state["began"]
        add("task", time.perf_counter() - began_wall, time.process_time() - began_cpu)
        state["done"] += 1
        state["report_ids"].append(args[0])
        state["ended"] = time.perf_counter()
        if state["done"] == count:
            _finish(sums, state["report_ids"][1:], out)

    app.worker_main(
        [
            "worker",
            "--concurrency=1",
            "-Q",
            os.environ["CELERY_TASK_DEFAULT_QUEUE"],
            "--loglevel=WARNING",
            *os.environ.get("BENCH_WORKER_ARGS", "").split(),
        ]
    )


def _finish(sums: dict[str, list[float]], report_ids: list[int], out: Path) -> None:
    """In the worker's child: the bare render of the measured reports' documents, then the
    figures to ``out``, then the whole worker stops."""
    from reports.document_builder import report_document_build
    from reports.models import Report
    from reports.rendering import render_pdf

    reports = Report.objects.filter(pk__in=report_ids).select_related("panel").order_by("pk")
    documents = [
        report_document_build(report=r, reported_at=r.rendered_at or r.created_at) for r in reports
    ]
    wall, cpu = time.perf_counter(), time.process_time()
    for document in documents:
        render_pdf(document)
    figures = {
        "reports": len(report_ids),
        "phases": sums,
        "bare": [time.perf_counter() - wall, time.process_time() - cpu],
    }
    out.write_text(json.dumps(figures))
    # the pool's parent, at once: nothing of the worker is measured after this (the last
    # message may stay unacknowledged on the run's private queue, which nothing reads again)
    os.kill(os.getppid(), 9)
    os._exit(0)


def _round(env: dict[str, str], copies: int) -> dict[str, Any]:
    from report_render import _batch

    _, batch = _batch(copies)
    with tempfile.TemporaryDirectory(prefix="labpanel-bench-phases-") as folder:
        out = Path(folder) / "figures.json"
        worker = subprocess.Popen(
            [sys.executable, __file__, "--worker"],
            cwd=BASE_DIR,
            env={
                **os.environ,
                **env,
                "BENCH_PHASES_COUNT": str(len(batch)),
                "BENCH_PHASES_OUT": str(out),
            },
        )
        deadline = time.monotonic() + 60 + 5 * len(batch)
        try:
            while not out.exists():
                if worker.poll() is not None and not out.exists():
                    raise SystemExit(f"the worker stopped ({worker.returncode}) before the end")
                if time.monotonic() > deadline:
                    raise SystemExit("the worker did not render the batch in time")
                time.sleep(0.2)
            time.sleep(0.2)  # the file is written in one call; let it close
            figures: dict[str, Any] = json.loads(out.read_text())
        finally:
            if worker.poll() is None:
                worker.terminate()
            worker.wait(timeout=30)
    return figures


def _ms(seconds: float, reports: int) -> float:
    return seconds * 1000 / reports


def _print_round(number: int, figures: dict[str, Any]) -> dict[str, float]:
    reports = figures["reports"]
    phases = figures["phases"]
    bare_wall, bare_cpu = (_ms(value, reports) for value in figures["bare"])
    task_wall, task_cpu = (_ms(value, reports) for value in phases["task"])
    celery = _ms(phases["celery"][0], reports)
    inside = {name: [_ms(v, reports) for v in phases[name]] for name in PHASES[:3]}
    store_wall = task_wall - sum(wall for wall, _ in inside.values())
    store_cpu = task_cpu - sum(cpu for _, cpu in inside.values())
    per_report = task_wall + celery
    print(
        f"round {number}: {reports} reports; a report every {per_report:.1f} ms of wall "
        f"(task {task_wall:.1f} + Celery between tasks {celery:.1f}); bare render "
        f"{bare_wall:.1f} ms ({bare_cpu:.1f} CPU): ratio {bare_wall / per_report:.2f}×"
    )
    rows: list[tuple[str, float, float]] = [
        (name, inside[name][0], inside[name][1]) for name in PHASES[:3]
    ]
    rows.append(("store", store_wall, store_cpu))
    for name, wall, cpu in rows:
        print(f"  {name:<8} {wall:6.1f} ms wall, {cpu:6.1f} CPU, {wall - cpu:5.1f} waiting")
    print(f"  {'celery':<8} {celery:6.1f} ms wall (the pool's parent and the broker)")
    return {
        "ratio": bare_wall / per_report,
        "render over bare": inside["render"][0] / bare_wall,
        "waiting": sum(wall - cpu for _, wall, cpu in rows) + celery,
        "celery": celery,
        "claim waiting": inside["claim"][0] - inside["claim"][1],
        "store waiting": store_wall - store_cpu,
        "work besides drawing (CPU)": task_cpu - inside["render"][1],
    }


def main() -> int:
    if sys.argv[1:2] == ["--worker"]:
        _worker_main()
        return 0
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--copies", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()

    from report_render import _configure, _load

    env = _configure()
    worker_args = os.environ.get("BENCH_WORKER_ARGS", "")
    extra = f", {worker_args}" if worker_args else ""
    print(
        f"{arguments.rounds} rounds of {8 * arguments.copies} reports; one worker (prefork, "
        f"1 process{extra}); "
        f"{_load()}"
    )
    summaries = [
        _print_round(number, _round(env, arguments.copies))
        for number in range(1, arguments.rounds + 1)
    ]
    print("median (min–max) over the rounds, ms a report unless a ratio:")
    for key in summaries[0]:
        values = [summary[key] for summary in summaries]
        print(f"  {key:<28} {statistics.median(values):6.2f} ({min(values):.2f}–{max(values):.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
