"""The panel read and the panels list (issue 14, the read model: ``panels.documents``) beside a
bare Django ``JsonResponse`` of the same size, under the same gunicorn, in the same run.

Load: a fresh PostgreSQL database ``labpanel_bench_readmodel``, the reference data and the demo
lab (``seed_demo``), then ``--panels`` panels of 13 results (``bench/bench_panel.py``'s values:
low, normal, high and censored), ``--per-patient`` per patient (so each later panel shows a
history), submitted through the API in-process by lab.tech (which writes their documents).

Measure: gunicorn as deployed (one sync worker, ``bench.bare_view_settings``: the real settings
and URLs plus ``/bench/bare-json/?size=N``); ``wrk -t1 -c2`` (else two Python threads) loads, each
round, the bare JSON view sized as the read's answer, ``GET /api/v1/panels/{id}/`` (the newest
panel: 13 results and its patient's history) with lab.tech's token, the bare view sized as the
list's answer, and ``GET /api/v1/panels/?limit=50``, ``--duration`` seconds each; ratio = rate /
the bare view's rate of that round. Each round also loads ``/bench/floor-read/{id}/`` (the
least an audited token read of the stored document can do: three raw statements, no DRF;
``bench/bare_view_urls.py``) beside the same bare view. Printed: each round, then the median
ratio (min-max) over ``--rounds`` rounds. Targets: read >= 0.4x, list >= 0.2x. Then, in this
process (Django's test client, no HTTP), the time per read and per list (by offset and by
cursor), from the stored
documents and built from the records (the path of panels without a current document), for
insight.

    .venv/bin/python bench/panel_read.py
    .venv/bin/python bench/panel_read.py --panels 400 --rounds 5 --duration 8
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
from pathlib import Path
from typing import Any

import psycopg

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(BASE_DIR / "bench"), str(BASE_DIR)]

from demo_database import demo_database_create, panels_post  # noqa: E402
from demo_database import environment as demo_environment  # noqa: E402
from review_pages import get, rate_python, rate_wrk  # noqa: E402

DATABASE = "labpanel_bench_readmodel"
DSN = f"postgresql://postgres@127.0.0.1:5432/{DATABASE}"
TARGETS = {"read": 0.4, "list": 0.2}


def environment(media: str) -> dict[str, str]:
    return demo_environment(settings="bench.bare_view_settings", database=DATABASE, media=media)


def load(panels: int, per_patient: int, media: str) -> tuple[int, str]:
    """Load the database; the id of the newest panel and a token of lab.tech."""
    token = demo_database_create(
        settings="bench.bare_view_settings", database=DATABASE, media=media
    )
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    started = time.monotonic()
    panel_id = panels_post(client, panels=panels, per_patient=per_patient, prefix="PR")
    print(f"loaded {panels} panels in {time.monotonic() - started:.1f} s")
    with psycopg.connect(DSN, autocommit=True) as db:
        db.execute("VACUUM ANALYZE")
    return panel_id, token


def in_process(panel_id: int, token: str, repeats: int) -> None:
    """Milliseconds per read and per list in this process, stored and built from the records."""
    from django.test import Client

    from panels.intake import api

    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    urls = {
        "read": f"/api/v1/panels/{panel_id}/",
        "list": "/api/v1/panels/?limit=50",
        "cursor": "/api/v1/panels/?cursor=&limit=50",  # the list's first page by cursor
    }
    following = client.get(urls["cursor"]).json()["next"]
    if following:  # the page after it, past the first page's last panel
        urls["cursor2"] = following.split("testserver", 1)[1]
    print(f"\nin-process ms per request (median of {repeats}):")
    print(f"{'':<6}{'stored':>9}{'built':>9}{'bytes':>9}")
    names = vars(api)  # the view's module: its choice of path, switched for the comparison
    available = names["read_model_available"]
    try:
        for name, url in urls.items():
            figures: dict[str, float] = {}
            size = 0
            for path, switch in (("stored", available), ("built", lambda: False)):
                names["read_model_available"] = switch
                times = []
                for _ in range(repeats):
                    began = time.perf_counter()
                    response = client.get(url)
                    times.append(time.perf_counter() - began)
                    assert response.status_code == 200, response.content
                    size = len(response.content)
                figures[path] = statistics.median(times) * 1000
            print(f"{name:<6}{figures['stored']:>9.2f}{figures['built']:>9.2f}{size:>9,}")
    finally:
        names["read_model_available"] = available


def server_start(port: int, media: str) -> subprocess.Popen[bytes]:
    """gunicorn as deployed (one sync worker) on ``port``, answering /healthz."""
    gunicorn = str(BASE_DIR / ".venv" / "bin" / "gunicorn")
    command = [gunicorn, "labpanel.wsgi:application", "--workers", "1", "--worker-class", "sync"]
    process = subprocess.Popen(
        [*command, "--bind", f"127.0.0.1:{port}", "--chdir", str(BASE_DIR)],
        env={**os.environ, **environment(media)},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if get(port, "/healthz", "")[0] == 200:
                return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("gunicorn did not answer /healthz within 30 s")


def measure(port: int, media: str, panel_id: int, token: str, args: argparse.Namespace) -> None:
    server = server_start(port, media)
    use_wrk = shutil.which("wrk") is not None
    print(f"load from: {'wrk -t1 -c2' if use_wrk else 'Python, 2 threads'}; loadavg {_load()}")
    header = f"Authorization: Token {token}"

    def rate(url: str) -> float:
        if use_wrk:
            return rate_wrk(port, url, header, args.duration)
        return rate_python(port, url, header, args.duration)

    try:
        read, listed = f"/api/v1/panels/{panel_id}/", "/api/v1/panels/?limit=50"
        sizes = {}
        for name, url in (("read", read), ("list", listed)):
            status, body = _get_token(port, url, token)
            assert status == 200, f"{url} answered {status}: {body[:300]}"
            sizes[name] = len(body.encode())
        bare = {name: f"/bench/bare-json/?size={size}" for name, size in sizes.items()}
        for name in sizes:
            bare_size = len(get(port, bare[name], "")[1].encode())
            print(f"{name}: {sizes[name]:,} bytes; its bare JSON view {bare_size:,} bytes")
        for url in (*bare.values(), read, listed):
            _warm(port, url, header, use_wrk)
        floor = f"/bench/floor-read/{panel_id}/"
        _warm(port, floor, header, use_wrk)
        ratios: dict[str, list[float]] = {"read": [], "list": [], "floor": []}
        columns = ("bare/s", "read/s", "ratio", "bare/s", "list/s", "ratio")
        print("\n" + f"{'round':<7}" + "".join(f"{column:>9}" for column in columns))
        for number in range(1, args.rounds + 1):
            figures: dict[str, tuple[float, float]] = {}
            order = ("read", "list") if number % 2 else ("list", "read")
            floors = ratios["floor"]
            for name in order:
                url = read if name == "read" else listed
                limit = rate(bare[name])
                figure = rate(url)
                figures[name] = (limit, figure)
                ratios[name].append(figure / limit)
                if name == "read":
                    floors.append(rate(floor) / limit)
            print(
                f"{number:<7}"
                + "".join(
                    f"{figures[name][0]:>9,.0f}{figures[name][1]:>9,.1f}"
                    f"{figures[name][1] / figures[name][0]:>9.3f}"
                    for name in ("read", "list")
                )
            )
        print()
        floors = ratios.pop("floor")
        print(
            f"floor (/bench/floor-read/: token, stored text, audit INSERT, no DRF): median "
            f"{statistics.median(floors):.3f}x the bare view (min {min(floors):.3f} - max "
            f"{max(floors):.3f}); the read is "
            f"{statistics.median(ratios['read']) / statistics.median(floors):.2f}x its floor"
        )
        for name, found in ratios.items():
            median = statistics.median(found)
            verdict = "holds" if median >= TARGETS[name] else "MISSED"
            print(
                f"{name}: median ratio {median:.3f} (min {min(found):.3f} - max {max(found):.3f}) "
                f"over {len(found)} rounds; target {TARGETS[name]}x: {verdict}"
            )
        print(f"loadavg at the end {_load()}")
    finally:
        server.terminate()
        server.wait(timeout=30)


def _warm(port: int, url: str, header: str, use_wrk: bool) -> Any:
    return rate_wrk(port, url, header, 2) if use_wrk else rate_python(port, url, header, 2)


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _get_token(port: int, url: str, token: str) -> tuple[int, str]:
    from http.client import HTTPConnection

    connection = HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", url, headers={"Authorization": f"Token {token}"})
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def main() -> None:
    global DATABASE, DSN
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--panels", type=int, default=200)
    parser.add_argument("--per-patient", type=int, default=4, help="panels of each patient")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5, help="seconds per URL and round")
    parser.add_argument("--repeats", type=int, default=200, help="in-process requests")
    parser.add_argument("--port", type=int, default=18110)
    parser.add_argument(
        "--database", default=DATABASE, help="the bench database (dropped and created)"
    )
    args = parser.parse_args()
    DATABASE = args.database
    DSN = f"postgresql://postgres@127.0.0.1:5432/{DATABASE}"
    media = tempfile.mkdtemp(prefix="labpanel-bench-readmodel-")
    try:
        panel_id, token = load(args.panels, args.per_patient, media)
        measure(args.port, media, panel_id, token, args)
        in_process(panel_id, token, args.repeats)
    finally:
        shutil.rmtree(media, ignore_errors=True)


if __name__ == "__main__":
    main()
