"""Load run against `htx serve`: concurrent clients on loopback for a bounded time, zero errors
expected, the server's memory sampled throughout. Prints one JSON line.

    python -m evals.load [--index DIR] [--clients 64] [--seconds 60] [--url http://127.0.0.1:PORT]

Without `--url` it starts `htx serve --index DIR` on a free loopback port (building DIR from
corpus/ with `htx ingest` first if it holds no index) and stops it afterwards. With `--url`
the target must be a loopback address (127.0.0.0/8 or ::1); RSS is then read from `--pid`.

Every client loops POST /ask over the questions of evals/questions.jsonl (one GET /health in
ten) until the time is up; each request has a 60 s timeout. An error is any transport
failure or any status other than 200. RSS (VmRSS of the server process) is sampled every
`--sample` seconds; `rss_growth_mb` compares the mean of the last quarter of the samples with
the mean of the first quarter taken after the warm-up (the first 10 s).
"""
from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

from .stats import percentile

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "evals" / "questions.jsonl"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _loopback(url: str) -> bool:
    host = urlparse(url).hostname or ""
    try:
        addrs = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(addrs) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addrs)


def rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def questions() -> list[str]:
    with open(QUESTIONS, encoding="utf-8") as fh:
        return [json.loads(line)["question"] for line in fh if line.strip()]


async def run_load(url: str, pid: int | None, clients: int, seconds: float, sample_every: float) -> dict:
    import httpx

    qs = questions()
    latencies: list[float] = []
    errors: dict[str, int] = {}
    counts = {"ask": 0, "health": 0}
    samples: list[tuple[float, float]] = []
    started = time.monotonic()
    deadline = started + seconds

    async def client(n: int, http: httpx.AsyncClient) -> None:
        i = n
        while time.monotonic() < deadline:
            health = i % 10 == 9
            t0 = time.monotonic()
            try:
                if health:
                    resp = await http.get(f"{url}/health")
                else:
                    resp = await http.post(f"{url}/ask", json={"question": qs[i % len(qs)]})
                if resp.status_code != 200:
                    key = f"HTTP {resp.status_code}"
                    errors[key] = errors.get(key, 0) + 1
                else:
                    if not health:
                        resp.json()["citations"]        # a well-formed answer, not just a 200
                    latencies.append(time.monotonic() - t0)
                    counts["health" if health else "ask"] += 1
            except Exception as exc:    # counted and reported, the run goes on
                key = type(exc).__name__
                errors[key] = errors.get(key, 0) + 1
            i += clients

    async def sampler() -> None:
        while time.monotonic() < deadline:
            if pid is not None:
                value = rss_mb(pid)
                if value is not None:
                    samples.append((round(time.monotonic() - started, 1), round(value, 1)))
            await asyncio.sleep(sample_every)

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        await asyncio.gather(sampler(), *(client(n, http) for n in range(clients)))
    elapsed = time.monotonic() - started
    if pid is not None and (value := rss_mb(pid)) is not None:
        samples.append((round(elapsed, 1), round(value, 1)))

    steady = [v for t, v in samples if t >= min(10.0, seconds / 4)] or [v for _, v in samples]
    quarter = max(1, len(steady) // 4)
    growth = (sum(steady[-quarter:]) / quarter - sum(steady[:quarter]) / quarter) if steady else None
    total = sum(counts.values())
    return {
        "url": url, "clients": clients, "seconds": round(elapsed, 1),
        "requests": total + sum(errors.values()), "ok": total, "asks": counts["ask"], "errors": sum(errors.values()),
        "error_kinds": errors, "requests_per_s": round(total / elapsed, 2),
        "latency_p50_ms": round(1000 * percentile(latencies, 0.5), 1),
        "latency_p95_ms": round(1000 * percentile(latencies, 0.95), 1),
        "latency_p99_ms": round(1000 * percentile(latencies, 0.99), 1),
        "latency_max_ms": round(1000 * max(latencies, default=0.0), 1),
        "rss_samples_mb": samples,
        "rss_start_mb": steady[0] if steady else None, "rss_end_mb": steady[-1] if steady else None,
        "rss_max_mb": max(steady) if steady else None,
        "rss_growth_mb": round(growth, 1) if growth is not None else None,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def _wait_ready(url: str, proc: subprocess.Popen, timeout: float = 300) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"htx serve exited with {proc.returncode} before it was ready")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"htx serve was not ready after {timeout} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=None, help="Index to serve (default: a fresh one of corpus/).")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--sample", type=float, default=3.0, help="Seconds between RSS samples.")
    parser.add_argument("--url", default=None, help="An already running server (loopback only).")
    parser.add_argument("--pid", type=int, default=None, help="Its process id, for RSS (with --url).")
    parser.add_argument("--out", type=Path, default=None, help="Also write the JSON result here.")
    args = parser.parse_args()
    if not 0 < args.seconds <= 600 or not 0 < args.clients <= 256:
        raise SystemExit("a load run is bounded: --seconds in (0, 600], --clients in (0, 256]")

    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    env.pop("HTX_CHROMA_URL", None)
    proc = None
    tmp = None
    try:
        if args.url:
            if not _loopback(args.url):
                raise SystemExit(f"{args.url} is not a loopback address: load runs stay on this machine")
            url, pid = args.url.rstrip("/"), args.pid
        else:
            index = args.index
            if index is None:
                tmp = tempfile.TemporaryDirectory(prefix="htx-load-")
                index = Path(tmp.name) / "index"
            if not (index / "CURRENT").exists():
                print(f"building {index} from corpus/…", file=sys.stderr)
                subprocess.run([sys.executable, "-m", "assistant", "ingest", "--corpus", str(ROOT / "corpus"),
                                "--index", str(index)], env=env, cwd=ROOT, check=True)
            port = _free_port()
            url = f"http://127.0.0.1:{port}"
            log = open(Path(tempfile.gettempdir()) / f"htx-load-serve-{port}.log", "w")
            proc = subprocess.Popen([sys.executable, "-m", "assistant", "serve", "--index", str(index), "--host",
                                     "127.0.0.1", "--port", str(port)], env=env, cwd=ROOT, stdout=log,
                                    stderr=subprocess.STDOUT)
            pid = proc.pid
            _wait_ready(url, proc)
        result = asyncio.run(run_load(url, pid, args.clients, args.seconds, args.sample))
        if proc is not None:
            result["server_alive_after"] = proc.poll() is None
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        if tmp is not None:
            tmp.cleanup()
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
