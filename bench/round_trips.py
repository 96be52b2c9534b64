"""What one round trip to Redis and to PostgreSQL costs on this machine, back to back and after
the client has computed for a while, as a request or a report task does between its statements.

Every issue-14 ratio sets a path that talks to PostgreSQL and Redis beside a limit that does not
(a bare view, a bare render, a bare loop), so what a round trip costs here weighs on all of
them. On a VM whose idle cores sleep, a server process that waited idle is woken late, and the
longer it waited the later: this script shows by how much.

For each gap (milliseconds of busy loop in this process before each call), ``--calls`` calls of
Redis ``PING`` and of PostgreSQL ``SELECT 1`` (autocommit, one connection each: Redis
127.0.0.1:6379 db 7, PostgreSQL as ``postgres`` on 127.0.0.1:5432), the median microseconds of
each. Light: a few seconds; nothing is written.

    .venv/bin/python bench/round_trips.py
    .venv/bin/python bench/round_trips.py --calls 1000 --gaps 0 1 5 20
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import psycopg
import redis


def _busy(milliseconds: float) -> None:
    end = time.perf_counter() + milliseconds / 1000
    while time.perf_counter() < end:
        pass


def median_microseconds(call: Callable[[], object], gap_ms: float, calls: int) -> float:
    """The median time of ``call`` when the client computed ``gap_ms`` before each."""
    times = []
    for _ in range(calls):
        _busy(gap_ms)
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1e6)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--calls", type=int, default=300, help="calls per gap and server")
    parser.add_argument("--gaps", type=float, nargs="+", default=[0, 0.5, 1, 2, 5, 20, 0])
    args = parser.parse_args()
    cache = redis.Redis(host="127.0.0.1", port=6379, db=7)
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as pg:

        def select_one() -> object:
            return pg.execute("SELECT 1").fetchone()

        print(f"load average {os.getloadavg()[0]:.2f}; median of {args.calls} calls each")
        print(f"{'gap ms':>7} {'Redis PING µs':>14} {'PostgreSQL SELECT 1 µs':>23}")
        for gap in args.gaps:
            ping = median_microseconds(cache.ping, gap, args.calls)
            select = median_microseconds(select_one, gap, args.calls)
            print(f"{gap:>7g} {ping:>14.0f} {select:>23.0f}")


if __name__ == "__main__":
    main()
