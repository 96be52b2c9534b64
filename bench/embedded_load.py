"""The stack `make run` starts, under load, on the embedded SQLite default and on PostgreSQL.

For each database the launcher starts in a fresh var/ folder (gunicorn 2 workers, a Celery
worker with concurrency 2 and -B) with `manage.py mllp_listener` beside it; 8 API clients post
500 panels in all (13 analytes each, one request at a time per client) while one MLLP
connection sends ORU messages one after another, and every report is followed until it is
drawn. Prints panels/s, p50/p99 POST latency, 5xx, AE and reports ready for each database.
PostgreSQL runs on a scratch database created and dropped here; the broker is the launcher's
choice (Redis on 127.0.0.1 when it answers) with a queue of this run's own.

    .venv/bin/python bench/embedded_load.py
    .venv/bin/python bench/embedded_load.py --clients 8 --panels 500 --messages 300
    .venv/bin/python bench/embedded_load.py --only sqlite --broker filesystem://

Figures behind settings in ``labpanel/settings.py`` (as recorded when each was chosen):

* the embedded file-system queue polls every 0.1 s: at kombu's default 1 s, rendering was held
  to about 2 reports/s (800 reports drawn 388 s after the load instead of 35 s; ``--broker``);
* persistent database connections: a new connection per request made a database-backed
  endpoint cost about 3.5 times as much.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.load import LoadResult, launched_stack, percentile, run_load

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = "labpanel_bench_embedded"


def _recreate(database: str, *, drop_only: bool = False) -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        if not drop_only:
            connection.execute(f"CREATE DATABASE {database}")


def _one(name: str, database_url: str | None, args: argparse.Namespace) -> LoadResult:
    run = uuid.uuid4().hex[:6]
    with (
        tempfile.TemporaryDirectory(prefix=f"labpanel-bench-{name}-") as folder,
        launched_stack(
            Path(folder),
            queue=f"labpanel-bench-{run}",
            database_url=database_url,
            broker_url=args.broker,
        ) as stack,
    ):
        result = run_load(
            stack,
            run=run,
            clients=args.clients,
            panels=args.panels,
            messages=args.messages,
            render_cap_seconds=args.render_cap,
        )
        if result.post_errors or result.ack_errors:
            print(f"[{name}] first errors:", *result.post_errors, *result.ack_errors, sep="\n  ")
        locked = sum(
            log.read_text(errors="replace").count("database is locked")
            for log in (stack.launcher_log, stack.listener_log)
        )
    print(f"[{name}] {result.summary()}; 'database is locked' in logs: {locked}", flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--panels", type=int, default=500)
    parser.add_argument("--messages", type=int, default=300, help="ORU messages over MLLP")
    parser.add_argument("--render-cap", type=float, default=900.0, help="seconds, at most")
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument(
        "--broker", help="e.g. filesystem:// (default: the launcher's choice, Redis if it answers)"
    )
    args = parser.parse_args()
    results: dict[str, LoadResult] = {}
    if args.only != "postgresql":
        results["SQLite (embedded)"] = _one("sqlite", None, args)
    if args.only != "sqlite":
        _recreate(DATABASE)
        try:
            url = f"postgres://postgres@127.0.0.1:5432/{DATABASE}"
            results["PostgreSQL"] = _one("postgresql", url, args)
        finally:
            _recreate(DATABASE, drop_only=True)
    print(f"\n{args.clients} clients x {args.panels} panels, {args.messages} ORU over MLLP at once")
    header = f"{'database':<18} {'panels/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'5xx':>4}"
    print(f"{header} {'AA':>4} {'AE':>4} {'ready':>6} {'of':>5} {'drawn in s':>10}")
    ok = True
    for name, result in results.items():
        expected = args.panels + args.messages
        ready = result.reports.get("ready", 0)
        print(
            f"{name:<18} {result.panels / result.elapsed:>8.1f} "
            f"{percentile(result.latencies, 0.5) * 1000:>7.0f} "
            f"{percentile(result.latencies, 0.99) * 1000:>7.0f} {result.server_errors:>4} "
            f"{result.ack_codes.get('AA', 0):>4} {result.ack_codes.get('AE', 0):>4} "
            f"{ready:>6} {expected:>5} {result.render_wait:>10.1f}"
        )
        ok = ok and result.server_errors == 0 and ready == expected
        ok = ok and result.ack_codes.get("AA", 0) == args.messages
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
