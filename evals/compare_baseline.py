"""Clause hit@1/hit@5 of htx-assistant against the plain llama-index pipeline a user would build
first (SentenceSplitter(1024) + the same embedder + Chroma), on the same questions.

    python -m evals.compare_baseline [--questions evals/questions.jsonl] [--index DIR] [--json]

A baseline chunk counts as a hit for a gold clause when it covers at least half of that
clause's text in the source: generous to the baseline, whose 1,024-token chunks hold many
clauses at once (and so cannot point a staff member at one).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import chromadb
from llama_index.core import Document as LlamaDocument
from llama_index.core import StorageContext, VectorStoreIndex
from llama_index.core.node_parser import SentenceSplitter
from llama_index.vector_stores.chroma import ChromaVectorStore

from index.embedders import load_embedder
from index.settings import get_settings
from index.structure import parse_file

from .harness import EvalQuestion, load_questions


def baseline_hits(questions: list[EvalQuestion], corpus_dir: Path, embedder_spec: str, k: int = 5) -> dict:
    docs = {p.stem: parse_file(p) for p in sorted(corpus_dir.glob("*.txt"))}
    spans = {(d.doc_id, tuple(s.path)): (s.start, s.end) for d in docs.values() for s in d.sections}
    embed_model = load_embedder(embedder_spec)
    started = time.perf_counter()
    collection = chromadb.EphemeralClient().get_or_create_collection("baseline", metadata={"hnsw:space": "cosine"})
    storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection))
    llama_docs = [LlamaDocument(text=d.source_text, id_=d.doc_id, metadata={"doc_id": d.doc_id}) for d in docs.values()]
    index = VectorStoreIndex.from_documents(llama_docs, storage_context=storage, embed_model=embed_model,
                                            transformations=[SentenceSplitter(chunk_size=1024)])
    index_seconds = time.perf_counter() - started
    retriever = index.as_retriever(similarity_top_k=k)
    ranks = []
    for q in questions:
        if q.out_of_scope:
            continue
        nodes = retriever.retrieve(q.question)
        rank = None
        for r, node in enumerate(nodes, start=1):
            doc_id = node.node.metadata.get("doc_id")
            lo, hi = node.node.start_char_idx or 0, node.node.end_char_idx or 0
            for g in q.gold:
                span = spans.get((g.doc_id, tuple(g.clause)))
                if g.doc_id == doc_id and span and _covers(lo, hi, *span):
                    rank = r
                    break
            if rank:
                break
        ranks.append(rank)
    n = len(ranks) or 1
    return {
        "system": "llama-index baseline (SentenceSplitter 1024 + same embedder + Chroma)",
        "chunks": len(collection.get(include=[])["ids"]),
        "hit@1": round(sum(r == 1 for r in ranks) / n, 4),
        "hit@5": round(sum(r is not None for r in ranks) / n, 4),
        "index_seconds": round(index_seconds, 1),
    }


def _covers(lo: int, hi: int, start: int, end: int) -> bool:
    overlap = max(0, min(hi, end) - max(lo, start))
    return overlap >= 0.5 * max(1, end - start)


def ours(questions: list[EvalQuestion], index_dir: Path | None, k: int = 5) -> dict:
    from assistant.api import Assistant

    assistant = Assistant.open(index_dir=index_dir)
    ranks = []
    for q in questions:
        if q.out_of_scope:
            continue
        hits = assistant.search(q.question, k=k)
        wanted = {(g.doc_id, tuple(g.clause)) for g in q.gold}
        rank = next((r for r, h in enumerate(hits, start=1) if (h.chunk.doc_id, tuple(h.chunk.clause)) in wanted), None)
        ranks.append(rank)
    n = len(ranks) or 1
    return {
        "system": "htx-assistant (section chunks + hybrid retrieval)",
        "chunks": assistant.chunk_count,
        "hit@1": round(sum(r == 1 for r in ranks) / n, 4),
        "hit@5": round(sum(r is not None for r in ranks) / n, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=Path, default=Path("evals/questions.jsonl"))
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--index", type=Path, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    questions = load_questions(args.questions)
    rows = [ours(questions, args.index), baseline_hits(questions, args.corpus, get_settings().embedder)]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return
    print(f"{'system':70} {'chunks':>6} {'hit@1':>6} {'hit@5':>6}")
    for row in rows:
        print(f"{row['system']:70} {row['chunks']:>6} {row['hit@1']:>6.3f} {row['hit@5']:>6.3f}")


if __name__ == "__main__":
    main()
