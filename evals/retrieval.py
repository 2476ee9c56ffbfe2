"""Retrieval quality on a public BEIR-style set, through the project's own pipeline.

    python -m evals.retrieval --corpus CORPUS.jsonl --queries QUERIES.jsonl [--k 10] [--json]
        [--cache DIR] [--system ours|bm25|dense|all] [--layout article|parse|single] [--context-field law_id]
        [--with-choices] [--depth N] [--fusion lexical_share=0.6 ...] [--out FILE]

Corpus lines `{"id", "title", "text"}`, query lines `{"qid", "question", "relevant": [ids]}`;
other fields are ignored except `question_type` (the per-type breakdown), `choices` with
`--with-choices` (a multiple-choice stem is asked together with its options), and the field named
by `--context-field` (e.g. ALQAC's `law_id`, which a real index would carry as the document
name in every chunk's heading chain).

Every record becomes one project Document written to a temporary corpus folder and indexed
by `index.ingest.ingest` (real chunker, real Chroma store, real embedder behind an on-disk
content-hash cache, so a re-run embeds nothing). Layouts:
- `article` (default): the record read as the article it was cut from, "Điều N. <title>" over
  its text, through `index.structure.parse_text` as a law is when the product ingests one:
  clauses `1.` and points `a)` become sections and every clause chunk carries the article's
  title in its heading chain;
- `parse`: the record's text parsed as it stands (the title becomes an opening paragraph of
  its own, and a Hiến pháp article's first sentence, which the set also gives as its title,
  is taken for a document title and left out);
- `single`: one section per record, long records split by the chunker at paragraph breaks.
On ALQAC, MRR@10 of ours with 100 fusion candidates: article 0.922, parse 0.911; with 40: article
0.918, parse 0.910, single 0.885 (evals/results/alqac.json).
A record's chunks carry its id as their doc_id, and a record's rank is that of its best chunk.

Systems, all over the same index: `ours` = `Assistant.search` (hybrid fusion, the product
path); `bm25` = the project's bm25s lexical index alone; `dense` = the Chroma dense retriever
alone (multilingual-e5-small). Query latency includes embedding the question.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, fields as dc_fields
from pathlib import Path
from typing import Callable

from index.embed_cache import CachedEmbedding
from index.embedders import embedder_id, load_embedder
from index.models import Document, DocumentMeta, Section
from index.settings import Settings, get_settings
from index.structure import ParseError, parse_text, visible_text

from .stats import percentile

SYSTEMS = ("ours", "bm25", "dense")
DEFAULT_CACHE = Path(".htx/embed-cache")


# ------------------------------------------------------------------------ corpus → documents


def load_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def record_source(rec: dict) -> str:
    """Title and text as one readable text; ALQAC texts already open with their title."""
    title = (rec.get("title") or "").strip()
    text = (rec.get("text") or "").strip()
    if title and not text.startswith(title):
        return f"{title}\n{text}"
    return text or title


def _context(rec: dict, field: str | None) -> str | None:
    value = rec.get(field) if field else None
    return str(value).strip() or None if value else None


def single_section_document(doc_id: str, rec: dict, context_field: str | None) -> Document:
    """The whole record as one section; paragraph starts are where the chunker may split it."""
    source = record_source(rec)
    lead = len(source) - len(source.lstrip())
    breaks = [lead] + [m.end() for m in re.finditer(r"\n\s*(?=\S)", source)]
    article = str(rec.get("article_id") or "").strip()
    label = f"Điều {article}" if article else "1"
    section = Section(path=[label], kind="article", title=(rec.get("title") or "")[:240],
                      text=visible_text(source), start=lead, end=len(source.rstrip()), breaks=breaks)
    return Document(meta=_meta(doc_id, rec, context_field), source_text=source, sections=[section])


def parsed_document(doc_id: str, rec: dict, context_field: str | None) -> Document:
    """The record's text through the project's structure parser; a record it cannot outline
    (no content found) falls back to one section."""
    return _parse_record(doc_id, record_source(rec), rec, context_field)


def _parse_record(doc_id: str, source: str, rec: dict, context_field: str | None) -> Document:
    try:
        doc = parse_text(doc_id, source)
    except ParseError:
        return single_section_document(doc_id, rec, context_field)
    # The parser would guess document metadata from a header a record does not have.
    return doc.model_copy(update={"meta": _meta(doc_id, rec, context_field)})


def _meta(doc_id: str, rec: dict, context_field: str | None) -> DocumentMeta:
    # DocumentMeta.short_name() heads every chunk: the law's name when known.
    return DocumentMeta(doc_id=doc_id, doc_type=_context(rec, context_field), title=None)


def article_document(doc_id: str, rec: dict, context_field: str | None) -> Document:
    """The record as the article it was cut from: "Điều N. <title>" over its clauses, the way
    `index.structure` reads a whole law, so every clause chunk carries its article's title in
    its heading chain (as it does when the product ingests ../shared/laws). A "title" that is
    a sentence (ends with a full stop, or is clause 1 — the Hiến pháp's articles have no
    titles and the set repeats their first sentence as one) stays in the body."""
    title = " ".join((rec.get("title") or "").split())
    text = (rec.get("text") or "").strip()
    article = str(rec.get("article_id") or "").strip() or doc_id
    is_heading = title and not title.endswith(".") and not re.match(r"\d+\.", title)
    body = text
    if is_heading and " ".join(text[: len(title) + 40].split()).startswith(title):
        # The set's text opens with the title again: drop that line, it is the heading now.
        first_break = text.find("\n")
        body = text[first_break + 1:].lstrip() if first_break >= 0 else ""
    source = f"Điều {article}. {title if is_heading else ''}".rstrip() + "\n" + body
    return _parse_record(doc_id, source, rec, context_field)


LAYOUTS: dict[str, Callable[[str, dict, str | None], Document]] = {
    "single": single_section_document,
    "parse": parsed_document,
    "article": article_document,
}


# ------------------------------------------------------------------------------- indexing


def build_index(records: list[dict], workdir: Path, layout: str, context_field: str | None, cache_dir: Path,
                embedder_spec: str, log: Callable[[str], None]) -> tuple[Settings, dict]:
    """Ingest the records with `index.ingest.ingest` into `workdir/index`; returns the
    settings to open it and what the ingest did."""
    from index.ingest import ingest

    corpus = workdir / "corpus"
    corpus.mkdir(parents=True)
    stems = [f"r{i:06d}" for i in range(len(records))]
    by_stem = dict(zip(stems, records))
    for stem in stems:
        # The file is what ingest enumerates; the Document comes from the record itself.
        (corpus / f"{stem}.txt").write_text("", encoding="utf-8")
    make = LAYOUTS[layout]
    settings = Settings(_env_file=None, index_dir=workdir / "index", chroma_url=None, embedder=embedder_spec)
    embed = CachedEmbedding(load_embedder(embedder_spec), cache_dir, model_id=embedder_id(embedder_spec))
    last = [0.0]

    def progress(message: str) -> None:
        if message.startswith("embedded") and time.monotonic() - last[0] > 15:
            last[0] = time.monotonic()
            log(f"  {message} ({embed.hits} from cache, {embed.misses} embedded now)")

    started = time.perf_counter()
    report = ingest([corpus], settings, parse=lambda path: make(path.stem, by_stem[path.stem], context_field),
                    embed_model=embed, progress=progress)
    seconds = time.perf_counter() - started
    if not report.ok:
        raise SystemExit(f"ingest skipped records: {report.skipped[:3]}")
    info = {"documents": report.documents, "chunks": report.chunks, "index_seconds": round(seconds, 1),
            "passages_embedded_now": embed.misses, "passages_from_cache": embed.hits}
    embed.cache.close()
    return settings, info


# -------------------------------------------------------------------------------- ranking


class Ranker:
    """Ranks record ids for a question with one of the systems."""

    def __init__(self, assistant, stem_to_id: dict[str, str], k: int, chunks_per_record: int = 4) -> None:
        self.assistant = assistant
        self.retriever = assistant.retriever
        self.ids = stem_to_id
        self.k = k
        # A record may own several chunks (a parsed article: one per clause): take enough
        # chunks to fill k distinct records.
        self.chunk_k = max(chunks_per_record * k, self.retriever.config.candidates)

    def rank(self, system: str, question: str) -> list[str]:
        chunks = self.retriever.chunks
        if system == "ours":
            indices = [self.retriever._by_id[h.chunk.chunk_id] for h in self.assistant.search(question, k=self.chunk_k)]
        elif system == "bm25":
            indices = [i for i, _ in self.retriever.lexical.search(question, self.chunk_k)]
        elif system == "dense":
            indices = [i for i, _ in self.retriever._dense(question, self.chunk_k, None)]
        else:
            raise ValueError(system)
        out: list[str] = []
        for i in indices:
            rid = self.ids[chunks[i].doc_id]
            if rid not in out:
                out.append(rid)
            if len(out) == self.k:
                break
        return out


def score(queries: list[dict], ranked: dict[str, list[str]], k: int) -> dict:
    def metrics(subset: list[dict]) -> dict:
        n = len(subset) or 1
        row: dict[str, float] = {"n": len(subset)}
        for cut in sorted({1, 5, k}):
            row[f"recall@{cut}"] = round(sum(
                len(set(ranked[q["qid"]][:cut]) & set(q["relevant"])) / len(q["relevant"]) for q in subset) / n, 4)
        rr = []
        for q in subset:
            rank = next((r for r, rid in enumerate(ranked[q["qid"]][:k], start=1) if rid in q["relevant"]), None)
            rr.append(1 / rank if rank else 0.0)
        row[f"mrr@{k}"] = round(sum(rr) / n, 4)
        return row

    result = metrics(queries)
    types = sorted({q.get("question_type") for q in queries if q.get("question_type")})
    if types:
        result["by_type"] = {t: metrics([q for q in queries if q.get("question_type") == t]) for t in types}
    return result


def run_systems(ranker: Ranker, queries: list[dict], systems: list[str], k: int) -> dict:
    results = {}
    for system in systems:
        ranked, times = {}, []
        for q in queries:
            t0 = time.perf_counter()
            ranked[q["qid"]] = ranker.rank(system, q["question"])
            times.append(time.perf_counter() - t0)
        row = score(queries, ranked, k)
        row["query_p50_ms"] = round(1000 * percentile(times, 0.5), 1)
        row["query_p95_ms"] = round(1000 * percentile(times, 0.95), 1)
        results[system] = row
    return results


def parse_fusion(items: list[str]):
    from assistant.retrieval import FusionConfig

    known = {f.name: f.type for f in dc_fields(FusionConfig)}
    values = {}
    for item in items:
        name, _, raw = item.partition("=")
        if name not in known:
            raise SystemExit(f"--fusion: unknown FusionConfig field {name!r} (known: {', '.join(known)})")
        values[name] = int(raw) if name == "candidates" else float(raw)
    return FusionConfig(**values)


# ----------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--queries", type=Path, required=True)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--json", action="store_true", help="End with one JSON line of results.")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help=f"Embedding cache (default {DEFAULT_CACHE}).")
    parser.add_argument("--system", choices=[*SYSTEMS, "all"], default="all")
    parser.add_argument("--layout", choices=sorted(LAYOUTS), default="article",
                        help="article (default): each record as its 'Điều N. title' article over its clauses, "
                             "measured best on ALQAC; parse: the record's text parsed as it is; single: one section per record.")
    parser.add_argument("--context-field", default=None,
                        help="Corpus field naming the document a record belongs to (e.g. law_id).")
    parser.add_argument("--fusion", action="append", default=[], metavar="FIELD=VALUE",
                        help="Override a FusionConfig field for `ours` (repeatable).")
    parser.add_argument("--with-choices", action="store_true",
                        help="Append a multiple-choice query's `choices` to its question (the question as posed).")
    parser.add_argument("--depth", type=int, default=4, metavar="N",
                        help="Chunks retrieved per record wanted (k·N chunks, deduplicated to k records).")
    parser.add_argument("--limit", type=int, default=None, help="Only the first N queries (a quick look).")
    parser.add_argument("--out", type=Path, default=None, help="Also write the JSON result to this file.")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr if args.json else sys.stdout, flush=True)

    records = load_jsonl(args.corpus)
    queries = load_jsonl(args.queries)[: args.limit]
    if args.with_choices:
        for q in queries:
            if isinstance(q.get("choices"), dict) and q["choices"]:
                q["question"] = "\n".join([q["question"], *map(str, q["choices"].values())])
    ids = {str(r["id"]) for r in records}
    unknown = sorted({rid for q in queries for rid in q["relevant"] if rid not in ids})
    if unknown:
        log(f"warning: {len(unknown)} relevant ids are not in the corpus (e.g. {unknown[0]!r})")
    systems = list(SYSTEMS) if args.system == "all" else [args.system]
    spec = get_settings().embedder

    with tempfile.TemporaryDirectory(prefix="htx-beir-") as tmp:
        log(f"indexing {len(records)} records ({args.layout} layout) with {spec}…")
        settings, info = build_index(records, Path(tmp), args.layout, args.context_field, args.cache, spec, log)
        log(f"  {info['chunks']} chunks in {info['index_seconds']} s "
            f"({info['passages_embedded_now']} embedded now, {info['passages_from_cache']} from cache)")
        from assistant.api import Assistant

        assistant = Assistant.open(settings)
        try:
            if args.fusion:
                assistant.retriever.config = parse_fusion(args.fusion)
            stem_to_id = {f"r{i:06d}": str(r["id"]) for i, r in enumerate(records)}
            ranker = Ranker(assistant, stem_to_id, args.k, args.depth)
            results = run_systems(ranker, queries, systems, args.k)
            fusion = asdict(assistant.retriever.config)
        finally:
            assistant.store.close()

    out = {
        "corpus": str(args.corpus), "queries": len(queries), "k": args.k, "layout": args.layout,
        "context_field": args.context_field, "with_choices": args.with_choices, "depth": args.depth, "embedder": embedder_id(spec), "fusion": fusion, **info,
        "systems": results,
    }
    _print_table(out, log)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    return out


def _print_table(out: dict, log: Callable[[str], None]) -> None:
    k = out["k"]
    cols = ["recall@1", "recall@5", f"recall@{k}", f"mrr@{k}"]
    log(f"\n{out['queries']} queries, {out['documents']} records → {out['chunks']} chunks, "
        f"index {out['index_seconds']} s")
    log(f"{'system':8} {'type':14} {'n':>4} " + " ".join(f"{c:>9}" for c in cols) + f" {'p50 ms':>8}")
    for system, row in out["systems"].items():
        log(f"{system:8} {'all':14} {row['n']:>4} " + " ".join(f"{row[c]:>9.3f}" for c in cols)
            + f" {row['query_p50_ms']:>8.1f}")
        for qtype, sub in row.get("by_type", {}).items():
            log(f"{'':8} {qtype:14} {sub['n']:>4} " + " ".join(f"{sub[c]:>9.3f}" for c in cols))


if __name__ == "__main__":
    main()
