"""MLLP throughput: N distinct ORU^R01 cytokine panels over ONE connection, one at a time.

Each message carries one patient (a fixed MRN per message), one OBR with a unique accession and
13 OBX (IL-6, IL-10, TNFA, IFNG, IL-2, IL-4, IL-8, IL-1B, IL-12, IL-17A, IL-13, IL-5, GM-CSF) in
NM, SN and ST forms, and a unique MSH-10. Every message is sent after the previous one's ACK has
arrived, so the figures are the listener's latency per message, commit included. Prints
messages/s, p50/p99 ACK latency, and how many AA/AE/AR came back.

    .venv/bin/python bench/mllp_client.py                       # 127.0.0.1:2575, 1000 messages
    .venv/bin/python bench/mllp_client.py --host 10.0.0.5 --port 2575 -n 5000
    .venv/bin/python bench/mllp_client.py --self-test -n 2000   # against an in-process server
                                                                # (parse + ACK, nothing stored)
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from panels.intake.hl7.ack import ack_code_of, build_ack
from panels.intake.hl7.mllp import MllpClient, serve_mllp
from panels.intake.hl7.parse import parse_oru

ANALYTES = [
    ("IL-6", "Interleukin 6", 3.0),
    ("IL-10", "Interleukin 10", 4.0),
    ("TNFA", "Tumour necrosis factor alpha", 6.0),
    ("IFNG", "Interferon gamma", 3.5),
    ("IL-2", "Interleukin 2", 1.2),
    ("IL-4", "Interleukin 4", 1.5),
    ("IL-8", "Interleukin 8", 20.0),
    ("IL-1B", "Interleukin 1 beta", 2.0),
    ("IL-12", "Interleukin 12", 1.0),
    ("IL-17A", "Interleukin 17A", 1.0),
    ("IL-13", "Interleukin 13", 1.5),
    ("IL-5", "Interleukin 5", 1.0),
    ("GM-CSF", "Granulocyte-macrophage colony-stimulating factor", 2.0),
]
LLOQ, ULOQ = "1.5", "5000"


def _value(rng: random.Random, median: float) -> tuple[str, str]:
    """(OBX-2, OBX-5): censored values as SN or ST, the rest as NM with one decimal."""
    value = rng.lognormvariate(0, 1.0) * median
    if value < float(LLOQ):
        return ("SN", f"<^{LLOQ}") if rng.random() < 0.5 else ("ST", f"<{LLOQ}")
    if value > float(ULOQ):
        return "SN", f">^{ULOQ}"
    return "NM", f"{value:.1f}"


def build_message(number: int, run: str, rng: random.Random) -> str:
    control_id = f"B{run}{number:07d}"
    stamp = "20261120083000"
    segments = [
        f"MSH|^~\\&|BENCH|BENCHLAB|LABPANEL|LAB1|{stamp}||ORU^R01^ORU_R01|{control_id}|P|2.5.1",
        f"PID|1||BENCH-MRN-{number % 997:04d}^^^BENCHHOSP^MR||Bench^Patient{number % 997}"
        f"||19800101|{'F' if number % 997 % 2 else 'M'}",
        f"ORC|RE|PL-{run}-{number}|ACC-{run}-{number:07d}",
        f"OBR|1|PL-{run}-{number}|ACC-{run}-{number:07d}|CYTO13^Cytokine panel 13^L|||{stamp}"
        "||||||||SER^Serum|dr.bench",
    ]
    for index, (code, text, median) in enumerate(ANALYTES, start=1):
        value_type, value = _value(rng, median)
        segments.append(
            f"OBX|{index}|{value_type}|{code}^{text}^L||{value}|pg/mL^picogram per millilitre^UCUM"
            "|||||F"
        )
    return "\r".join(segments) + "\r"


def _percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def run(host: str, port: int, count: int, seed: int) -> int:
    rng = random.Random(seed)
    run_id = f"{int(time.time()) % 100000:05d}"
    messages = [build_message(number, run_id, rng) for number in range(count)]
    codes: Counter[str] = Counter()
    latencies: list[float] = []
    with MllpClient(host, port, timeout=60) as client:
        started = time.perf_counter()
        for message in messages:
            sent = time.perf_counter()
            ack = client.send(message)
            latencies.append(time.perf_counter() - sent)
            codes[ack_code_of(ack) or "?"] += 1
        elapsed = time.perf_counter() - started
    latencies.sort()
    print(f"{count} messages over one connection to {host}:{port} in {elapsed:.2f} s")
    print(f"  {count / elapsed:,.0f} messages/s ({13 * count / elapsed:,.0f} results/s)")
    print(
        f"  ACK latency p50 {_percentile(latencies, 0.50) * 1000:.2f} ms, "
        f"p99 {_percentile(latencies, 0.99) * 1000:.2f} ms, "
        f"mean {statistics.fmean(latencies) * 1000:.2f} ms"
    )
    print("  " + ", ".join(f"{code} {codes.get(code, 0)}" for code in ("AA", "AE", "AR")))
    other = sum(n for code, n in codes.items() if code not in ("AA", "AE", "AR"))
    if other:
        print(f"  unreadable ACKs: {other}")
    return 0 if codes.get("AA", 0) == count else 1


async def _parse_and_acknowledge(text: str) -> str:
    parsed = parse_oru(text)
    return build_ack(
        parsed,
        code=parsed.ack_code,
        problems=parsed.problems,
        now=datetime.now(UTC),
        control_id=f"A{parsed.control_id}"[:20],
    )


def _start_self_test_server() -> int:
    """An in-process listener on a free port, in a daemon thread; its port."""
    ready = threading.Event()
    ports: list[int] = []

    def listen(host: str, port: int) -> None:
        ports.append(port)
        ready.set()

    thread = threading.Thread(
        target=lambda: asyncio.run(
            serve_mllp(_parse_and_acknowledge, "127.0.0.1", 0, on_listening=listen)
        ),
        daemon=True,
    )
    thread.start()
    if not ready.wait(10):
        raise SystemExit("the self-test server did not start")
    return ports[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2575)
    parser.add_argument("-n", "--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--self-test", action="store_true", help="start an in-process server (parse + ACK only)"
    )
    arguments = parser.parse_args()
    host, port = arguments.host, arguments.port
    if arguments.self_test:
        host, port = "127.0.0.1", _start_self_test_server()
    return run(host, port, arguments.count, arguments.seed)


if __name__ == "__main__":
    raise SystemExit(main())
