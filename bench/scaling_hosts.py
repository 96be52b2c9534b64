"""Report throughput with 1, 2 and 4 Celery worker processes on one host, then with 1, 2 and 4
"hosts" (Linux network namespaces on this machine, one worker each), and what limits it.

Issue 14 ("Scaling"). Run as root (namespaces, veth pairs). On a fresh PostgreSQL database
(``BENCH_DATABASE``, default ``labpanel_bench_scaling``; broker ``BENCH_BROKER_URL``, default
Redis db 10) it runs ``--rounds`` rounds; each round runs every configuration once, in turn, so
that the machine's load weighs on all of them alike:

1. post a batch of panels through the JSON API (the eight cases of ``bench/report_cases.py``,
   ``--copies`` of each) while no worker consumes their queue: their report tasks wait in it;
2. start the configuration's workers (``--concurrency 1`` each, on an idle queue), wait until
   every one answers a ping, then have them all consume the batch's queue at once
   (``add_consumer``);
3. measure the rate from the batch's own ``rendered_at`` times (first to last: start-up is not
   counted) while sampling, every 0.5 s, the CPU (``/proc``) of the machine, of the workers
   (each process tree), of the PostgreSQL backends serving this database (their pids from
   ``pg_stat_activity``) and of every ``postgres`` process (the server is shared);
4. stop the workers.

A "host" is a network namespace ``lpscal<N>`` joined to the root namespace by a veth pair
(10.250.N.1 in the root namespace, 10.250.N.2 in the namespace: a private range); ``socat`` in
the root namespace forwards 10.250.N.1:18500+10N to PostgreSQL (127.0.0.1:5432) and
10.250.N.1:18501+10N to Redis (127.0.0.1:6379), so the host's worker reaches both only through
its veth. The namespaces, links and socat processes are removed on exit, also on Ctrl-C or
SIGTERM (``--cleanup`` removes leftovers of a killed run).

It prints each run (reports/s; per report, the workers' CPU time and the time they were
ready to run but waited for a CPU (run-queue wait, ``/proc/<pid>/task/*/schedstat``); CPU in
cores of the machine, the workers, this database's backends, all of PostgreSQL) and per
configuration the median with
min–max over the rounds of the rate and of the ratio to linear (rate ÷ (N × the same round's
1-worker rate of the same kind)). Worker logs go to the run's temporary ``LABPANEL_VAR_DIR``.
Every worker process, on one host or in a namespace, shares this machine's CPU cores: the
namespaces simulate the network path of separate hosts, not their CPUs.

    .venv/bin/python bench/scaling_hosts.py                  # 3 rounds, 8 cases × 8 copies
    .venv/bin/python bench/scaling_hosts.py --rounds 5 --copies 12
    .venv/bin/python bench/scaling_hosts.py --cleanup        # remove a killed run's leftovers
"""

from __future__ import annotations

import argparse
import atexit
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(BASE_DIR), str(BASE_DIR / "bench")]

from report_cases import CASES, case_payloads, measuring_ranges_record  # noqa: E402

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = os.environ.get("BENCH_DATABASE", "labpanel_bench_scaling")
BROKER_DB = 10
BROKER_URL = os.environ.get("BENCH_BROKER_URL", f"redis://127.0.0.1:6379/{BROKER_DB}")
NAMESPACE = "lpscal"  # lpscal1 .. lpscal4; veth lpscal<N>a (root) / lpscal<N>b (namespace)
PORT_BASE = 18500
HOSTS = (1, 2, 4)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- namespaces


def _ip(*args: str, check: bool = True) -> None:
    subprocess.run(["ip", *args], check=check, capture_output=True)


@dataclass
class Hosts:
    """The simulated hosts: namespaces, veth pairs and the socat forwarders."""

    count: int
    forwarders: list[subprocess.Popen[bytes]] = field(default_factory=list)
    made: list[int] = field(default_factory=list)

    @staticmethod
    def address(index: int) -> str:
        return f"10.250.{index}.1"

    @staticmethod
    def ports(index: int) -> tuple[int, int]:
        return PORT_BASE + 10 * index, PORT_BASE + 10 * index + 1

    def up(self) -> None:
        for index in range(1, self.count + 1):
            name = f"{NAMESPACE}{index}"
            outer, inner = f"{name}a", f"{name}b"
            _ip("netns", "add", name)
            self.made.append(index)
            _ip("link", "add", outer, "type", "veth", "peer", "name", inner)
            _ip("link", "set", inner, "netns", name)
            _ip("addr", "add", f"{self.address(index)}/30", "dev", outer)
            _ip("link", "set", outer, "up")
            _ip("netns", "exec", name, "ip", "addr", "add", f"10.250.{index}.2/30", "dev", inner)
            _ip("netns", "exec", name, "ip", "link", "set", inner, "up")
            _ip("netns", "exec", name, "ip", "link", "set", "lo", "up")
            postgres, redis = self.ports(index)
            for port, target in ((postgres, "127.0.0.1:5432"), (redis, "127.0.0.1:6379")):
                self.forwarders.append(
                    subprocess.Popen(
                        [
                            "socat",
                            f"TCP-LISTEN:{port},bind={self.address(index)},fork,reuseaddr",
                            f"TCP:{target}",
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
        time.sleep(0.5)  # socat listening

    def down(self) -> None:
        for forwarder in self.forwarders:
            if forwarder.poll() is None:
                forwarder.terminate()
        for forwarder in self.forwarders:
            try:
                forwarder.wait(timeout=5)
            except subprocess.TimeoutExpired:
                forwarder.kill()
        self.forwarders.clear()
        for index in self.made:
            _ip("link", "del", f"{NAMESPACE}{index}a", check=False)
            _ip("netns", "del", f"{NAMESPACE}{index}", check=False)
        self.made.clear()


def cleanup_leftovers() -> None:
    """Remove the namespaces and links a killed run of this script left behind."""
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for line in listed.splitlines():
        name = line.split()[0] if line.split() else ""
        if name.startswith(NAMESPACE) and name[len(NAMESPACE) :].isdigit():
            _ip("link", "del", f"{name}a", check=False)
            _ip("netns", "del", name, check=False)
            print(f"removed namespace {name}")


# ---------------------------------------------------------------- CPU sampling


def _jiffies(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return int(fields[11]) + int(fields[12])  # utime + stime


def _run_queue_wait(pid: int) -> int | None:
    """Nanoseconds the threads of ``pid`` have waited on a run queue: ready, with no CPU."""
    total = 0
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{task}/schedstat") as stat:
                    total += int(stat.read().split()[1])
            except (FileNotFoundError, ProcessLookupError):
                continue
    except (FileNotFoundError, ProcessLookupError):
        return None
    return total


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command name) of every process."""
    table: dict[int, tuple[int, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                text = stat.read()
        except (FileNotFoundError, ProcessLookupError):
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        table[int(entry)] = (int(text.rsplit(")", 1)[1].split()[1]), name)
    return table


def _machine() -> tuple[int, int]:
    with open("/proc/stat") as stat:
        values = [int(value) for value in stat.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class Sampler:
    """CPU time of groups of processes over a window, in cores (CPU seconds per second)."""

    def __init__(self, worker_pids: list[int]) -> None:
        self.worker_pids = worker_pids
        self.last: dict[str, dict[int, int]] = {"workers": {}, "backends": {}, "postgres": {}}
        self.used = dict.fromkeys(self.last, 0)
        self.waits: dict[int, int] = {}
        self.waited = 0  # ns the workers were ready to run but had no CPU
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.connection = psycopg.connect(
            f"postgresql://postgres@127.0.0.1:5432/{DATABASE}", autocommit=True
        )

    def _groups(self) -> dict[str, list[int]]:
        table = _processes()
        children: dict[int, list[int]] = {}
        for pid, (parent, _) in table.items():
            children.setdefault(parent, []).append(pid)
        workers: list[int] = []
        stack = list(self.worker_pids)
        while stack:
            pid = stack.pop()
            workers.append(pid)
            stack.extend(children.get(pid, []))
        backends = [
            row[0]
            for row in self.connection.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (DATABASE,),
            )
        ]
        postgres = [pid for pid, (_, name) in table.items() if name == "postgres"]
        return {"workers": workers, "backends": backends, "postgres": postgres}

    def _sample(self) -> None:
        for group, pids in self._groups().items():
            now = {pid: ticks for pid in pids if (ticks := _jiffies(pid)) is not None}
            before = self.last[group]
            self.used[group] += sum(ticks - before.get(pid, ticks) for pid, ticks in now.items())
            self.last[group] = now
            if group == "workers":
                waits = {pid: wait for pid in pids if (wait := _run_queue_wait(pid)) is not None}
                self.waited += sum(wait - self.waits.get(pid, wait) for pid, wait in waits.items())
                self.waits = waits

    def _run(self) -> None:
        while not self.stop.wait(0.5):
            self._sample()

    def start(self) -> None:
        self._sample()
        self.used = dict.fromkeys(self.last, 0)
        self.waited = 0
        self.machine = _machine()
        self.started = time.monotonic()
        self.thread.start()

    def finish(self) -> dict[str, float]:
        self.stop.set()
        self.thread.join()
        self._sample()
        elapsed = time.monotonic() - self.started
        busy, total = _machine()
        cpus = os.cpu_count() or 1
        cores = {group: ticks / CLOCK_TICKS / elapsed for group, ticks in self.used.items()}
        cores["machine"] = (busy - self.machine[0]) / max(total - self.machine[1], 1) * cpus
        cores["waiting"] = self.waited / 1e9 / elapsed  # workers ready to run, without a CPU
        self.connection.close()
        return cores


# ---------------------------------------------------------------- the database and the batch


def _configure() -> dict[str, str]:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DATABASE}")
    var_dir = tempfile.mkdtemp(prefix="labpanel-bench-scaling-")
    env = {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        "CELERY_BROKER_URL": BROKER_URL,
        "CELERY_TASK_DEFAULT_QUEUE": f"labpanel-bench-scaling-{uuid.uuid4().hex[:8]}",
        "LABPANEL_VAR_DIR": var_dir,
        "LABPANEL_LOG_LEVEL": "WARNING",
        "DJANGO_SECRET_KEY": "bench-scaling-" + uuid.uuid4().hex,
        "DJANGO_ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
    }
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labpanel.settings")
    import django

    django.setup()
    from django.core.management import call_command

    for command in ("migrate", "seed_reference_data"):
        call_command(command, verbosity=0)
    call_command("seed_demo", "--force-demo", verbosity=0)
    from labpanel.accounts.models import StaffMember

    measuring_ranges_record(StaffMember.objects.get(user__username="lab.tech").lab)
    return env


def _post_batch(copies: int) -> list[int]:
    """Post every case ``copies`` times; the ids of the reports this made (pending, queued)."""
    from django.contrib.auth.models import User
    from rest_framework.test import APIClient

    from reports.models import Report

    before = set(Report.objects.values_list("pk", flat=True))
    client = APIClient()
    client.force_authenticate(User.objects.get(username="lab.tech"))
    for _ in range(copies):
        for case in CASES:
            for payload in case_payloads(case, clinician="dr.house"):
                response = client.post("/api/v1/panels/", payload, format="json")
                if response.status_code != 201:
                    raise SystemExit(f"{case.slug}: {response.status_code} {response.content!r}")
    return sorted(set(Report.objects.values_list("pk", flat=True)) - before)


def _wait_rendered(report_ids: list[int], timeout: float) -> None:
    from reports.models import Report, ReportStatus

    deadline = time.monotonic() + timeout
    batch = Report.objects.filter(pk__in=report_ids)
    while batch.filter(status=ReportStatus.READY).count() < len(report_ids):
        failed = batch.filter(status=ReportStatus.FAILED).first()
        if failed is not None:
            raise SystemExit(f"report {failed.pk} failed: {failed.error_message}")
        if time.monotonic() > deadline:
            raise SystemExit("the workers did not render every report in time")
        time.sleep(0.2)


def _rate(report_ids: list[int]) -> float:
    from reports.models import Report

    rendered = Report.objects.filter(pk__in=report_ids).values_list("rendered_at", flat=True)
    times = sorted(moment for moment in rendered if moment is not None)
    return (len(times) - 1) / (times[-1] - times[0]).total_seconds()


# ---------------------------------------------------------------- workers


@dataclass
class Run:
    kind: str  # "local" or "hosts"
    count: int
    reports: int
    rate: float
    cores: dict[str, float]


def _workers(
    env: dict[str, str], kind: str, count: int, idle_queue: str, tag: str
) -> tuple[list[subprocess.Popen[bytes]], list[str]]:
    processes: list[subprocess.Popen[bytes]] = []
    names: list[str] = []
    for index in range(1, count + 1):
        name = f"scal{kind}{index}-{tag}@bench"
        command = [sys.executable, "-m", "celery", "-A", "labpanel", "worker"]
        command += ["--concurrency=1", "-Q", idle_queue, "-n", name, "--loglevel=WARNING"]
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        worker_env = {**os.environ, **env}
        if kind == "hosts":
            address = Hosts.address(index)
            postgres, redis = Hosts.ports(index)
            worker_env["DATABASE_URL"] = f"postgres://postgres@{address}:{postgres}/{DATABASE}"
            worker_env["CELERY_BROKER_URL"] = f"redis://{address}:{redis}/{BROKER_DB}"
            command = ["ip", "netns", "exec", f"{NAMESPACE}{index}", *command]
        log = open(Path(env["LABPANEL_VAR_DIR"]) / f"worker-{kind}-{index}.log", "ab")  # noqa: SIM115
        processes.append(
            subprocess.Popen(
                command, cwd=BASE_DIR, env=worker_env, stdout=subprocess.DEVNULL, stderr=log
            )
        )
        log.close()
        names.append(name)
    return processes, names


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def _one_run(env: dict[str, str], kind: str, count: int, copies: int) -> Run:
    from labpanel.celery import app

    report_ids = _post_batch(copies)  # queued on env's default queue; nobody consumes it yet
    queue = env["CELERY_TASK_DEFAULT_QUEUE"]
    tag = uuid.uuid4().hex[:6]
    processes, names = _workers(env, kind, count, f"{queue}-idle-{tag}", tag)
    try:
        deadline = time.monotonic() + 120
        while len(app.control.ping(destination=names, timeout=1.0) or []) < count:
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise SystemExit(
                    f"{kind} × {count}: the workers did not start (logs in "
                    f"{env['LABPANEL_VAR_DIR']})"
                )
        sampler = Sampler([process.pid for process in processes])
        sampler.start()
        app.control.add_consumer(queue, destination=names, reply=True, timeout=5.0)
        _wait_rendered(report_ids, timeout=60 + 5 * len(report_ids))
        cores = sampler.finish()
        app.control.cancel_consumer(queue, destination=names, reply=True, timeout=5.0)
    finally:
        _stop(processes)
    return Run(kind, count, len(report_ids), _rate(report_ids), cores)


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--copies", type=int, default=8, help="copies of the 8 cases per run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cleanup", action="store_true", help="remove leftovers, then exit")
    arguments = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: network namespaces and veth pairs")
    cleanup_leftovers()
    if arguments.cleanup:
        return 0
    hosts = Hosts(max(HOSTS))
    atexit.register(hosts.down)

    def _terminate(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    env = _configure()
    hosts.up()
    configurations = [("local", n) for n in HOSTS] + [("hosts", n) for n in HOSTS]
    print(
        f"load average {os.getloadavg()} on {os.cpu_count()} CPUs; {arguments.rounds} rounds; "
        f"each run: {len(CASES)} cases × {arguments.copies} posted, then rendered"
    )
    print("CPU in cores: machine (all processes, other users' too), the workers, this database's")
    print("backends, every postgres process of the (shared) server")
    runs: list[list[Run]] = []
    try:
        for round_number in range(1, arguments.rounds + 1):
            this_round: list[Run] = []
            for kind, count in configurations:
                run = _one_run(env, kind, count, arguments.copies)
                this_round.append(run)
                base = next(r for r in this_round if r.kind == kind and r.count == 1)
                c = run.cores
                print(
                    f"round {round_number} {kind:5} × {count}: {run.reports} reports, "
                    f"{run.rate:5.2f} reports/s, {run.rate / (count * base.rate):.2f} of linear, "
                    f"{1000 * c['workers'] / run.rate:.0f} ms worker CPU and "
                    f"{1000 * c['waiting'] / run.rate:.0f} ms waiting for a CPU per report | "
                    "CPU machine "
                    f"{c['machine']:.2f}, workers {c['workers']:.2f}, backends "
                    f"{c['backends']:.3f}, postgres {c['postgres']:.3f}",
                    flush=True,
                )
            runs.append(this_round)
    finally:
        hosts.down()
    print(f"\nmedian (min–max) over {len(runs)} rounds; load average {os.getloadavg()}")
    for kind, count in configurations:
        picked = [
            (run, next(r for r in rounds if r.kind == kind and r.count == 1))
            for rounds in runs
            for run in rounds
            if run.kind == kind and run.count == count
        ]
        rates = [run.rate for run, _ in picked]
        linear = [run.rate / (count * base.rate) for run, base in picked]
        cpu_ms = [1000 * run.cores["workers"] / run.rate for run, _ in picked]
        wait_ms = [1000 * run.cores["waiting"] / run.rate for run, _ in picked]

        def cores(group: str, picked: list[tuple[Run, Run]] = picked) -> str:
            return _median([run.cores[group] for run, _ in picked])

        print(
            f"{kind:5} × {count}: {_median(rates)} reports/s, {_median(linear)} of linear, "
            f"{_median(cpu_ms)} ms worker CPU and {_median(wait_ms)} ms waiting for a CPU per "
            "report | "
            f"cores: machine {cores('machine')}, workers {cores('workers')}, "
            f"backends {cores('backends')}, postgres {cores('postgres')}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
