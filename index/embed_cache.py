"""An on-disk embedding cache keyed by content: `CachedEmbedding(inner, cache_dir)`.

A passage's vector depends only on the embedder and the exact text it is given, so it is
stored under sha256(embedder id, kind, text) in one SQLite file (`embeddings.sqlite`,
float32 blobs). Re-running a benchmark or re-building an index from scratch then embeds
only passages never seen before:

    from index.embed_cache import CachedEmbedding
    ingest(dirs, settings, embed_model=CachedEmbedding(load_embedder(), ".htx/embed-cache",
                                                       model_id=embedder_id(settings.embedder)))

Queries are not cached by default (`cache_queries=False`): a benchmark's query latency
must include embedding the question. Any number of processes may share one cache file
(SQLite WAL); a vector written twice is the same vector.
"""
from __future__ import annotations

import hashlib
import sqlite3
import threading
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.embeddings import BaseEmbedding
from pydantic import PrivateAttr

CACHE_FILE = "embeddings.sqlite"


def cache_key(model_id: str, kind: str, text: str) -> str:
    return hashlib.sha256(f"{model_id}\x00{kind}\x00{text}".encode("utf-8")).hexdigest()


class EmbeddingCache:
    """key → float32 vector in SQLite. Thread-safe; one connection per instance."""

    def __init__(self, cache_dir: Path | str) -> None:
        path = Path(cache_dir)
        path.mkdir(parents=True, exist_ok=True)
        self.path = path / CACHE_FILE
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, dim INTEGER, vec BLOB)")
        self._lock = threading.Lock()

    def get_many(self, keys: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for i in range(0, len(keys), 500):
                part = keys[i : i + 500]
                marks = ",".join("?" * len(part))
                for key, dim, blob in self._db.execute(
                        f"SELECT key, dim, vec FROM vectors WHERE key IN ({marks})", part):
                    found[key] = np.frombuffer(blob, dtype=np.float32, count=dim)
        return found

    def put_many(self, items: dict[str, Any]) -> None:
        rows = [(k, len(v), np.asarray(v, dtype=np.float32).tobytes()) for k, v in items.items()]
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO vectors (key, dim, vec) VALUES (?, ?, ?)", rows)
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()


class CachedEmbedding(BaseEmbedding):
    """Wraps any llama-index embedder; passage vectors come from the cache when present.

    `hits` / `misses` count passages served from the cache and embedded by `inner`."""

    _inner: Any = PrivateAttr(default=None)
    _cache: Any = PrivateAttr(default=None)
    _model_id: str = PrivateAttr(default="")
    _cache_queries: bool = PrivateAttr(default=False)
    hits: int = 0
    misses: int = 0

    def __init__(self, inner: BaseEmbedding, cache_dir: Path | str | EmbeddingCache, *, model_id: str | None = None,
                 cache_queries: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("model_name", f"cached:{getattr(inner, 'model_name', type(inner).__name__)}")
        kwargs.setdefault("embed_batch_size", getattr(inner, "embed_batch_size", 32))
        super().__init__(**kwargs)
        self._inner = inner
        self._cache = cache_dir if isinstance(cache_dir, EmbeddingCache) else EmbeddingCache(cache_dir)
        self._model_id = model_id or f"{type(inner).__name__}:{getattr(inner, 'model_name', '')}"
        self._cache_queries = cache_queries

    @classmethod
    def class_name(cls) -> str:
        return "CachedEmbedding"

    @property
    def cache(self) -> EmbeddingCache:
        return self._cache

    def _lookup(self, kind: str, texts: list[str], compute) -> list[list[float]]:
        keys = [cache_key(self._model_id, kind, t) for t in texts]
        found = self._cache.get_many(list(dict.fromkeys(keys)))
        missing = list(dict.fromkeys(k for k in keys if k not in found))
        if missing:
            first = {k: t for k, t in zip(reversed(keys), reversed(texts))}
            vectors = compute([first[k] for k in missing])
            if len(vectors) != len(missing):
                raise RuntimeError(f"the embedder returned {len(vectors)} vectors for {len(missing)} passages")
            fresh = {k: np.asarray(v, dtype=np.float32) for k, v in zip(missing, vectors)}
            self._cache.put_many(fresh)
            found.update(fresh)
        computed = set(missing)
        misses = sum(1 for k in keys if k in computed)
        self.misses += misses
        self.hits += len(keys) - misses
        return [found[k].tolist() for k in keys]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._lookup("passage", list(texts), self._inner.get_text_embedding_batch)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embeddings([text])[0]

    def _get_query_embedding(self, query: str) -> list[float]:
        if not self._cache_queries:
            return self._inner.get_query_embedding(query)
        return self._lookup("query", [query], lambda qs: [self._inner.get_query_embedding(q) for q in qs])[0]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)
