"""Webhook delivery keeping up with a burst (issue 15): 200 events written in one transaction
(a 200-panel release, say) fanned out and delivered to a local HTTP receiver, beside the bare
limit: the same number of signed POSTs of the same bodies to the same receiver, from the same
number of threads, without the database.

Load: a fresh PostgreSQL database ``labpanel_bench_webhooks`` (dropped and created again,
migrated), one lab, one subscription to ``http://127.0.0.1:<port>/`` (a ``ThreadingHTTPServer``
answering 200), ``--events`` events of kind ``panel.released``. The broker is Celery's in-memory
transport: the messages the fan-out hands over are not consumed; ``--threads`` threads call the
delivery task's function (``delivery_attempt``) for every delivery, as that many worker
processes would. Runs for a few seconds.

Prints: the fan-out's time, deliveries/s (end to end: fan-out and every attempt recorded), the
bare POSTs/s, their ratio, and whether every event was accepted exactly once by the receiver.

    .venv/bin/python bench/webhooks.py
    .venv/bin/python bench/webhooks.py --events 1000 --threads 4
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(BASE_DIR)]
DATABASE = "labpanel_bench_webhooks"

os.environ.update(
    DJANGO_SETTINGS_MODULE="labpanel.settings",
    DJANGO_SECRET_KEY="bench-webhooks-not-secret",  # noqa: S106 - a scratch database
    DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
    CELERY_BROKER_URL="memory://",
    WEBHOOKS_ALLOW_HTTP_LOOPBACK="true",
    LABPANEL_LOG_LEVEL="WARNING",
)


def receiver_start() -> tuple[ThreadingHTTPServer, Counter[str]]:
    accepted: Counter[str] = Counter()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                accepted[self.headers["Webhook-Id"]] += 1
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, accepted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    subprocess.run(
        ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", DATABASE], check=True
    )
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", DATABASE], check=True)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    call_command("migrate", verbosity=0)
    from django.contrib.auth.models import User

    from labpanel.accounts.models import Lab, Role, StaffMember
    from labpanel.events.models import EventKind
    from labpanel.events.services import EventData, events_record_bulk
    from labpanel.webhooks.models import Delivery, DeliveryAttempt, DeliveryState
    from labpanel.webhooks.services import (
        deliveries_fan_out,
        delivery_attempt,
        event_body,
        subscription_create,
    )
    from labpanel.webhooks.signing import signature

    server, accepted = receiver_start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    lab = Lab.objects.create(name="Bench lab")
    user = User.objects.create_user("bench.engine")
    StaffMember.objects.create(user=user, lab=lab, role=Role.INTEGRATOR)
    created = subscription_create(user=user, url=url, kinds=["panel.released"])

    with transaction.atomic():
        events = events_record_bulk(
            events=[
                EventData(kind=EventKind.PANEL_RELEASED, lab_id=lab.pk, panel_id=i)
                for i in range(args.events)
            ]
        )

    def attempt(delivery_id: int) -> None:
        try:
            delivery_attempt(delivery_id=delivery_id)
        finally:
            connection.close()

    started = time.perf_counter()
    deadline = time.monotonic() + 120
    fanned = 0
    while fanned < args.events:  # the record gives the events once older transactions ended
        fanned += deliveries_fan_out()
        assert time.monotonic() < deadline, "the events never became readable"
    fan_out_s = time.perf_counter() - started
    ids = list(Delivery.objects.order_by("pk").values_list("pk", flat=True))
    with ThreadPoolExecutor(args.threads) as pool:
        list(pool.map(attempt, ids))
    total_s = time.perf_counter() - started

    delivered = Delivery.objects.filter(state=DeliveryState.DELIVERED).count()
    attempts = DeliveryAttempt.objects.count()
    once = set(accepted) == {str(e.uuid) for e in events} and set(accepted.values()) == {1}

    # The limit: the same signed POSTs, same receiver, same threads, no database.
    bodies = [(str(e.uuid), event_body(e)) for e in events]

    def bare(item: tuple[str, bytes]) -> None:
        message_id, body = item
        stamp = int(time.time())
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Webhook-Id": message_id,
                "Webhook-Timestamp": str(stamp),
                "Webhook-Signature": signature(
                    secret=created.secret, message_id=message_id, timestamp=stamp, body=body
                ),
            },
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    bare_started = time.perf_counter()
    with ThreadPoolExecutor(args.threads) as pool:
        list(pool.map(bare, bodies))
    bare_s = time.perf_counter() - bare_started
    server.shutdown()

    rate, bare_rate = args.events / total_s, args.events / bare_s
    print(f"events: {args.events} in one transaction, threads: {args.threads}")
    print(f"fan-out: {fan_out_s * 1000:.0f} ms (incl. waiting for older transactions to end)")
    print(f"delivered: {delivered}/{args.events}, attempts recorded: {attempts}")
    print(f"end to end: {total_s:.2f} s, {rate:.0f} deliveries/s")
    print(
        f"bare signed POSTs: {bare_s:.2f} s, {bare_rate:.0f} POSTs/s; ratio {rate / bare_rate:.2f}x"
    )
    print(f"every event accepted exactly once: {once}")


if __name__ == "__main__":
    main()
