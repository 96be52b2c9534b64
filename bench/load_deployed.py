"""Sustained load on the stack as docker-compose.yml deploys it: the highest rate of panel POSTs
held with no error, its latency, and how long the workers take to render every report.

On this machine, on a scratch database it creates (labpanel_bench_load) and a Redis queue of its
own, it runs the image's ``collectstatic`` and the compose services' commands: ``migrate
--noinput``, ``seed_reference_data``, ``gunicorn labpanel.wsgi:application --workers 2``,
``celery worker --concurrency=2 -Q QUEUE`` and ``celery beat``. The load is open-loop:
requests start at a fixed rate whatever the answers (a bounded pool of client threads sends
them), and each latency counts from the request's scheduled start, so a server falling behind
shows as latency, not as a slower client.

1. Step search (``--step-seconds``, default 30 s): the rate doubles from ``--start-rate`` until a
   step has an error or a p99 over ``--max-p99``; then bisects between the last good and first
   bad rate. A step that clearly fails is cut short.
2. The workers drain the reports of the search; then the best rate is held for ``--duration``
   (default 300 s) and its figures reported.
3. The workers drain again: every panel stored must have its report ready (counted in the
   database), and the time the queue took to drain is reported.

    .venv/bin/python bench/load_deployed.py                               # the full run
    .venv/bin/python bench/load_deployed.py --step-seconds 5 --duration 15 # a quick look
    .venv/bin/python bench/load_deployed.py --rate 12 --duration 60        # hold a given rate

Traffic goes to 127.0.0.1 only. Exit status 0 when the hold had no error and every report was
rendered.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis
from bench_panel import bench_panel

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.launcher import free_port

BASE_DIR = Path(__file__).resolve().parents[1]
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = "labpanel_bench_load"
DATABASE_DSN = f"postgresql://postgres@127.0.0.1:5432/{DATABASE}"


def _panel(run: str, number: int) -> bytes:
    """One full 13-cytokine panel of a new patient (a unique accession and MRN)."""
    return json.dumps(
        bench_panel(
            accession=f"LOAD-{run}-{number}",
            mrn=f"LOAD-{run}-{number}",
            given_name=f"Patient {number}",
            sex="female" if number % 2 else "male",
            clinician="dr.bench",
        )
    ).encode()


# --------------------------------------------------------------------------------------------
# The deployed stack


@dataclass
class Stack:
    port: int
    queue: str
    broker: str
    folder: Path
    env: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def manage(self, *args: str) -> str:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    def start(self, name: str, *args: str) -> None:
        with (self.folder / f"{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", *args],
                cwd=BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def check_running(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                log = (self.folder / f"{name}.log").read_text()[-3000:]
                raise SystemExit(f"{name} exited ({process.returncode}):\n{log}")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def deployed_stack(broker: str) -> Iterator[Stack]:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DATABASE}")
    folder = Path(tempfile.mkdtemp(prefix="labpanel-bench-load-"))
    queue = f"labpanel-bench-load-{uuid.uuid4().hex[:8]}"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "CELERY_", "LABPANEL_", "DATABASE_"))
    }
    # docker-compose.yml's x-app environment, pointed at this machine's services
    env.update(
        DJANGO_SETTINGS_MODULE="labpanel.settings",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        CELERY_BROKER_URL=broker,
        CELERY_TASK_DEFAULT_QUEUE=queue,
        DJANGO_SECRET_KEY=uuid.uuid4().hex + uuid.uuid4().hex,
        DJANGO_ALLOWED_HOSTS="localhost,127.0.0.1",
        LABPANEL_MEDIA_ROOT=str(folder / "media"),
        LABPANEL_VAR_DIR=str(folder / "var"),
        LABPANEL_TIME_ZONE="UTC",
        LABPANEL_LOG_LEVEL="INFO",
    )
    stack = Stack(port=free_port(), queue=queue, broker=broker, folder=folder, env=env)
    try:
        stack.manage("collectstatic", "--noinput")  # as the Dockerfile builds the image
        stack.manage("migrate", "--noinput")
        stack.manage("seed_reference_data")
        web = ["gunicorn", "labpanel.wsgi:application", "--bind", f"127.0.0.1:{stack.port}"]
        stack.start("web", *web, "--workers", "2", "--access-logfile", "-")
        stack.start(
            "worker", "celery", "-A", "labpanel", "worker", "--loglevel=INFO",
            "--concurrency=2", "-Q", queue,
        )  # fmt: skip
        stack.start(
            "beat", "celery", "-A", "labpanel", "beat", "--loglevel=INFO",
            "--schedule", str(folder / "celerybeat-schedule"),
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while True:
            stack.check_running()
            try:
                probe = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=5)
                probe.request("GET", "/healthz", headers={"Host": "127.0.0.1"})
                if probe.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the web service did not become healthy")
            time.sleep(0.3)
        yield stack
    finally:
        stack.stop()
        redis.Redis.from_url(broker).delete(
            queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}"
        )
        shutil.rmtree(folder / "media", ignore_errors=True)
        print(f"logs: {folder}")


# --------------------------------------------------------------------------------------------
# Open-loop load


@dataclass
class Step:
    rate: float
    seconds: float
    latencies: list[float] = field(default_factory=list)
    offsets: list[float] = field(default_factory=list)  # scheduled start, s from the first
    statuses: Counter[str] = field(default_factory=Counter)
    scheduled: int = 0
    cut_short: bool = False

    @property
    def errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status != "201")

    @property
    def stored(self) -> int:
        return self.statuses["201"]

    def percentile(self, fraction: float) -> float:
        if not self.latencies:
            return math.inf
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1)]

    def windows(self, seconds: float) -> list[str]:
        """p50 / p99 / max of the requests scheduled in each ``seconds`` of the step."""
        lines = []
        for start in range(0, math.ceil(self.seconds), round(seconds)):
            part = sorted(
                latency
                for offset, latency in zip(self.offsets, self.latencies, strict=True)
                if start <= offset < start + seconds
            )
            if part:
                p50 = part[math.ceil(0.5 * len(part)) - 1]
                p99 = part[math.ceil(0.99 * len(part)) - 1]
                lines.append(
                    f"  {start:4d}-{start + seconds:<4.0f} s: p50 {p50 * 1000:7.1f} ms, "
                    f"p99 {p99 * 1000:7.1f} ms, max {part[-1] * 1000:7.1f} ms"
                )
        return lines

    def line(self) -> str:
        return (
            f"{self.rate:7.2f}/s for {self.seconds:5.0f} s: {self.scheduled:6d} sent, "
            f"{self.stored:6d} stored, {self.errors:4d} errors, "
            f"p50 {self.percentile(0.5) * 1000:7.1f} ms, p99 {self.percentile(0.99) * 1000:7.1f} "
            f"ms, max {max(self.latencies, default=math.inf) * 1000:7.1f} ms"
            + (" (cut short)" if self.cut_short else "")
            + (f" {dict(self.statuses)}" if self.errors else "")
        )


class Load:
    def __init__(self, port: int, token: str, clients: int) -> None:
        self.port, self.token, self.clients = port, token, clients
        self.run = uuid.uuid4().hex[:6]
        self.numbers = iter(range(1, 10**9))
        self.lock = threading.Lock()
        self.stored = 0  # 201 answers, every step

    def _post(self, body: bytes) -> str:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(
                "POST",
                "/api/v1/panels/",
                body=body,
                headers={
                    "Authorization": f"Token {self.token}",
                    "Content-Type": "application/json",
                    "Host": "127.0.0.1",
                },
            )
            response = connection.getresponse()
            response.read()
            return str(response.status)
        except OSError as error:
            return type(error).__name__
        finally:
            connection.close()

    def step(self, rate: float, seconds: float, *, give_up_after: float | None) -> Step:
        """Start ``rate`` requests a second for ``seconds``; wait for every answer. With
        ``give_up_after``, stop sending once a request failed or took longer than that."""
        step = Step(rate=rate, seconds=seconds)
        stop = threading.Event()

        def one(scheduled_at: float, body: bytes) -> None:
            status = self._post(body)
            latency = time.monotonic() - scheduled_at
            with self.lock:
                step.statuses[status] += 1
                step.latencies.append(latency)
                step.offsets.append(scheduled_at - started)
                self.stored += status == "201"
            if give_up_after is not None and (status != "201" or latency > give_up_after):
                stop.set()

        total = max(1, round(rate * seconds))
        with ThreadPoolExecutor(max_workers=self.clients) as pool:
            started = time.monotonic()
            for index in range(total):
                scheduled_at = started + index / rate
                delay = scheduled_at - time.monotonic()
                if stop.wait(delay) if delay > 0 else stop.is_set():
                    step.cut_short = True
                    break
                pool.submit(one, scheduled_at, _panel(self.run, next(self.numbers)))
                step.scheduled += 1
        return step


def _passes(step: Step, max_p99: float) -> bool:
    return not step.cut_short and step.errors == 0 and step.percentile(0.99) <= max_p99


def _report_counts() -> tuple[int, Counter[str]]:
    with psycopg.connect(DATABASE_DSN) as connection:
        panels = connection.execute("SELECT count(*) FROM panels_panel").fetchone()
        rows = connection.execute(
            "SELECT status, count(*) FROM reports_report GROUP BY status"
        ).fetchall()
    return int(panels[0] if panels else 0), Counter(dict(rows))


def _drain(stack: Stack, what: str, limit: float) -> float:
    """Wait until no report is pending or rendering; the seconds it took."""
    started = time.monotonic()
    while True:
        stack.check_running()
        _, reports = _report_counts()
        if reports["pending"] + reports["rendering"] == 0:
            return time.monotonic() - started
        if time.monotonic() - started > limit:
            raise SystemExit(f"{what}: the workers did not drain in {limit:.0f} s: {reports}")
        time.sleep(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=300, help="hold, seconds")
    parser.add_argument("--step-seconds", type=float, default=30)
    parser.add_argument("--start-rate", type=float, default=2.0, help="requests/s")
    parser.add_argument("--bisections", type=int, default=3)
    parser.add_argument("--max-p99", type=float, default=1.0, help="seconds, for a step to pass")
    parser.add_argument("--clients", type=int, default=32, help="client threads")
    parser.add_argument("--rate", type=float, help="skip the search: hold this rate")
    parser.add_argument(
        "--broker", default=os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
    )
    args = parser.parse_args()

    with deployed_stack(args.broker) as stack:
        stack.manage(
            "shell", "-c",
            "from labpanel.accounts.models import Role; "
            "from tests.factories import make_lab, make_staff; "
            "lab = make_lab(name='Bench Lab'); "
            "make_staff(username='lab.tech', lab=lab, role=Role.TECHNICIAN); "
            "make_staff(username='dr.bench', lab=lab, role=Role.CLINICIAN)",
        )  # fmt: skip
        token = stack.manage("issue_api_token", "lab.tech", "--role", "technician").strip()
        load = Load(stack.port, token, args.clients)
        print(
            f"deployed: gunicorn --workers 2, celery worker --concurrency=2, beat; {os.cpu_count()}"
            f" CPUs; open loop, {args.clients} client threads; a step passes with 0 errors and "
            f"p99 <= {args.max_p99 * 1000:.0f} ms"
        )
        warm = load.step(2, 2, give_up_after=None)  # each gunicorn worker loads its code
        if warm.errors:
            raise SystemExit(f"warm-up failed: {dict(warm.statuses)}")

        best = args.rate
        if best is None:
            give_up = max(5 * args.max_p99, 3.0)
            good, bad = 0.0, math.inf
            rate = args.start_rate
            while True:
                step = load.step(rate, args.step_seconds, give_up_after=give_up)
                passed = _passes(step, args.max_p99)
                print(f"search  {step.line()}  {'pass' if passed else 'FAIL'}", flush=True)
                if passed:
                    good = rate
                else:
                    bad = rate
                    break
                rate *= 2
            if good == 0:
                raise SystemExit("not even the start rate passes; try a lower --start-rate")
            for _ in range(args.bisections):
                rate = round((good + bad) / 2, 2)
                step = load.step(rate, args.step_seconds, give_up_after=give_up)
                passed = _passes(step, args.max_p99)
                print(f"search  {step.line()}  {'pass' if passed else 'FAIL'}", flush=True)
                good, bad = (rate, bad) if passed else (good, rate)
            best = good
            drained = _drain(stack, "after the search", 1800)
            print(f"reports of the search rendered {drained:.0f} s after it", flush=True)

        held = load.step(best, args.duration, give_up_after=None)
        print(f"hold    {held.line()}", flush=True)
        print("\n".join(held.windows(30)), flush=True)
        drain_seconds = _drain(stack, "after the hold", 3600)
        panels, reports = _report_counts()
        print(
            f"\nheld {best:.2f} panels/s for {args.duration:.0f} s: {held.scheduled} POSTs, "
            f"{held.errors} errors, p50 {held.percentile(0.5) * 1000:.1f} ms, "
            f"p99 {held.percentile(0.99) * 1000:.1f} ms, max "
            f"{max(held.latencies, default=math.inf) * 1000:.1f} ms "
            f"({held.scheduled / args.duration:.2f}/s sent, {held.stored} stored)"
        )
        print(
            f"after the hold the workers drained the queue in {drain_seconds:.0f} s; in the "
            f"database: {panels} panels ({load.stored} answered 201 in this run), "
            f"reports {dict(reports)}"
        )
        every_report_ready = (
            panels == load.stored and reports["ready"] == panels and sum(reports.values()) == panels
        )
        print("every report ready" if every_report_ready else "NOT every report ready")
        print(
            f"the hold {'met' if _passes(held, args.max_p99) else 'did NOT meet'} the step "
            f"criterion (0 errors, p99 <= {args.max_p99 * 1000:.0f} ms)"
        )
        return 0 if held.errors == 0 and every_report_ready else 1


if __name__ == "__main__":
    raise SystemExit(main())
