"""Benchmark of the web endpoint over loopback (not a test: numbers depend on the machine).

    python -m evals.bench_web --index .htx/index [--concurrency 32] [--duration 30]

1. Floor: the bare query-embedding time of each question (the embedder alone, in this process),
   measured right before the same question's warm `POST /ask`, one request at a time, to
   `htx serve` running in its own process: /ask p50/p95 against the floor's p50/p95
   (goal: p50 ≤ 2.5×, p95 ≤ 5×).
2. Load: `--concurrency` clients asking without pause for `--duration` seconds; throughput
   and error count (the goal is zero errors).

The last line printed is one JSON object with every number.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from evals.harness import load_questions
from evals.stats import percentile


def summary(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(percentile(values, 0.5) * 1000, 2), "p95_ms": round(percentile(values, 0.95) * 1000, 2),
            "mean_ms": round(statistics.fmean(values) * 1000, 2), "n": len(values)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def paired(url: str, questions: list[str], embedder_spec: str, repeat: int) -> tuple[list[float], list[float]]:
    """Each question's bare embedding time right next to its warm `POST /ask` time, so a machine
    that gets busier or quieter during the run moves both series alike."""
    from index.embedders import load_embedder

    model = load_embedder(embedder_spec)
    floor, asked = [], []
    with httpx.Client(base_url=url, timeout=120) as client:
        for q in questions:  # warm-up pass: first-use costs are not what is measured
            model.get_query_embedding(q)
            client.post("/ask", json={"question": q}).raise_for_status()
        for _ in range(repeat):
            for q in questions:
                started = time.perf_counter()
                model.get_query_embedding(q)
                floor.append(time.perf_counter() - started)
                started = time.perf_counter()
                client.post("/ask", json={"question": q}).raise_for_status()
                asked.append(time.perf_counter() - started)
    return floor, asked


async def load(url: str, questions: list[str], concurrency: int, duration: float) -> dict:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    deadline = time.monotonic() + duration

    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        async def worker(n: int) -> None:
            i = n
            while time.monotonic() < deadline:
                q = questions[i % len(questions)]
                i += concurrency
                started = time.perf_counter()
                try:
                    response = await client.post("/ask", json={"question": q})
                    if response.status_code == 200:
                        latencies.append(time.perf_counter() - started)
                    else:
                        errors[str(response.status_code)] = errors.get(str(response.status_code), 0) + 1
                except httpx.HTTPError as exc:
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1

        started = time.monotonic()
        await asyncio.gather(*(worker(n) for n in range(concurrency)))
        elapsed = time.monotonic() - started
    return {"concurrency": concurrency, "seconds": round(elapsed, 1), "requests": len(latencies),
            "throughput_rps": round(len(latencies) / elapsed, 2), "errors": sum(errors.values()),
            "error_kinds": errors, **({"latency": summary(latencies)} if latencies else {})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=None, help="index directory (default: HTX_INDEX_DIR)")
    parser.add_argument("--questions", type=Path, default=Path("evals/questions.jsonl"))
    parser.add_argument("--repeat", type=int, default=3, help="sequential passes over the questions")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of the load run")
    args = parser.parse_args()

    from index.settings import get_settings

    settings = get_settings()
    index_dir = args.index or settings.index_dir
    questions = [q.question for q in load_questions(args.questions)]

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tempfile.NamedTemporaryFile(prefix="htx-serve-", suffix=".log", delete=False)
    say(f"starting htx serve on {url} (log: {log.name})")
    server = subprocess.Popen([sys.executable, "-m", "assistant", "serve", "--port", str(port), "--index",
                               str(index_dir)], stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(url + "/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"htx serve did not become healthy; see {log.name}")
            time.sleep(0.5)

        say(f"embedding floor and sequential POST /ask: {len(questions)} questions × {args.repeat}")
        load_before = os.getloadavg()[0]
        floor, warm = paired(url, questions, settings.embedder, args.repeat)
        say(f"load: {args.concurrency} clients for {args.duration:.0f} s")
        loaded = asyncio.run(load(url, questions, args.concurrency, args.duration))
    finally:
        server.terminate()
        server.wait(timeout=30)

    floor_s, warm_s = summary(floor), summary(warm)
    result = {
        "questions": len(questions),
        "cpus": os.cpu_count(),
        # Other work on the machine inflates every number; the ratios are what compare.
        "loadavg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "embedding_floor": floor_s,
        "ask_sequential": warm_s,
        "ratio_p50": round(warm_s["p50_ms"] / floor_s["p50_ms"], 2),
        "ratio_p95": round(warm_s["p95_ms"] / floor_s["p95_ms"], 2),
        "goal_met": warm_s["p50_ms"] <= 2.5 * floor_s["p50_ms"] and warm_s["p95_ms"] <= 5 * floor_s["p95_ms"],
        "load": loaded,
    }
    say(f"floor p50 {floor_s['p50_ms']} ms p95 {floor_s['p95_ms']} ms; /ask p50 {warm_s['p50_ms']} ms "
        f"p95 {warm_s['p95_ms']} ms (×{result['ratio_p50']} / ×{result['ratio_p95']}); "
        f"load {loaded['throughput_rps']} req/s, {loaded['errors']} errors")
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
