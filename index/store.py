"""The index on disk or in a Chroma server, as immutable *generations*.

A generation is one Chroma collection of chunks (text, vector, flat metadata) plus one of
documents (full source text, metadata and outline), never modified once committed. A
small pointer (the manifest) names the current generation; an ingest writes a whole new
generation and then swaps the pointer in one atomic step, so a reader sees either the old
index or the new one, never a mix, and a crashed ingest leaves the old one serving.

Embedded mode keeps each generation in its own `PersistentClient` directory and the
pointer in `<index_dir>/CURRENT`. Server mode (`HTX_CHROMA_URL`) names collections
`htx-<gen>-chunks` / `htx-<gen>-docs` and keeps the pointer as one record of the
`htx-current` collection, so stateless workers on any host share it.

Chunks are written with chromadb directly rather than through `ChromaVectorStore.add`:
that path stores a `_node_content` copy of every node (measured: 1,151 bytes of metadata
per chunk instead of 291) and overwrites our `doc_id` metadata with the node's
`ref_doc_id` ("None"), which would break filtering by document. `ChromaVectorStore`
reads plain records fine (text + metadata, id = chunk_id), so `vector_store()` is still
the llama-index entry point for dense retrieval.
"""
from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence
from urllib.parse import urlparse

import chromadb
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import NotFoundError
from pydantic import TypeAdapter

from .embedders import embedder_id as embedder_id_of
from .models import Chunk, Document, DocumentMeta, Section
from .settings import Settings

log = logging.getLogger(__name__)

CURRENT_FILE = "CURRENT"
POINTER_COLLECTION = "htx-current"
_POINTER_ID = "current"
_GEN_PREFIX = "gen-"
_PAGE = 1000
_DOC_BATCH = 64   # documents carry their full text: keep the write buffer small
# Chroma refuses records without a vector; document records are never searched by
# similarity, so they all carry this placeholder.
_NO_VECTOR = [0.0]
_SECTIONS = TypeAdapter(list[Section])
_CHROMA_SETTINGS = dict(anonymized_telemetry=False)


class StoreError(RuntimeError):
    """The index cannot be used as configured; the message says what to do."""


class IndexNotFound(StoreError):
    pass


class IndexCorrupted(StoreError):
    pass


class EmbedderMismatch(StoreError):
    pass


class StoreUnavailable(StoreError):
    """The Chroma server cannot be reached."""


def _new_generation() -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    return f"{_GEN_PREFIX}{stamp}-{secrets.token_hex(3)}"


# --------------------------------------------------------------------------- backends


class _Backend:
    """Where generations and the pointer live: the only code that differs between modes.

    `collections(gen, create_for=<embedder id>)` makes a generation's (chunks, docs)
    collections; without `create_for` it opens them and raises LookupError when they are
    missing or unreadable. `pointer_token()` is whatever tells a pointer swap cheaply.
    """

    where: str

    def read_pointer(self) -> dict | None:
        raise NotImplementedError

    def pointer_token(self) -> object:
        raise NotImplementedError

    def write_pointer(self, manifest: dict) -> None:
        raise NotImplementedError

    def collections(self, gen: str, *, create_for: str | None = None) -> tuple[Any, Any]:
        raise NotImplementedError

    def drop(self, gen: str) -> None:
        raise NotImplementedError

    def generations(self) -> set[str]:
        raise NotImplementedError

    def release(self, gen: str) -> None:
        pass

    def close(self) -> None:
        pass

    def max_batch(self) -> int:
        return _PAGE


def _create_collections(client: Any, chunks_name: str, docs_name: str, embedder: str) -> tuple[Any, Any]:
    chunks = client.create_collection(
        chunks_name,
        configuration={"hnsw": {"space": "cosine"}},
        # dim is unknown until the first vectors arrive; commit() records it.
        metadata={"embedder": embedder, "dim": 0},
        embedding_function=None,
    )
    docs = client.create_collection(docs_name, embedding_function=None)
    return chunks, docs


class _Embedded(_Backend):
    def __init__(self, index_dir: Path) -> None:
        self.index_dir = Path(index_dir)
        self.where = str(self.index_dir)
        self._clients: dict[str, Any] = {}

    @property
    def _current_path(self) -> Path:
        return self.index_dir / CURRENT_FILE

    def read_pointer(self) -> dict | None:
        try:
            raw = self._current_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        return _parse_manifest(raw, self._current_path)

    def pointer_token(self) -> object:
        # os.replace gives CURRENT a new inode, so a stat tells a swap without reading it.
        try:
            st = self._current_path.stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def write_pointer(self, manifest: dict) -> None:
        self.index_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.index_dir / f".{CURRENT_FILE}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(manifest, fh, ensure_ascii=False, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self._current_path)
        # The rename itself must survive a power cut, not only the file's bytes.
        dir_fd = os.open(self.index_dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def collections(self, gen: str, *, create_for: str | None = None) -> tuple[Any, Any]:
        path = self.index_dir / gen / "chroma"
        if create_for:
            path.mkdir(parents=True)
            return _create_collections(self._open_client(gen, path), "chunks", "docs", create_for)
        if not path.is_dir():
            # PersistentClient would silently create an empty store here.
            raise LookupError(f"{path} does not exist")
        try:
            client = self._open_client(gen, path)
            return (
                client.get_collection("chunks", embedding_function=None),
                client.get_collection("docs", embedding_function=None),
            )
        except Exception as exc:
            # A damaged SQLite file or a missing collection: either way this generation is unusable.
            raise LookupError(f"{type(exc).__name__}: {exc}") from exc

    def _open_client(self, gen: str, path: Path) -> Any:
        client = chromadb.PersistentClient(path=str(path), settings=ChromaSettings(**_CHROMA_SETTINGS))
        self._clients[gen] = client
        return client

    def release(self, gen: str) -> None:
        # Closing flushes and frees the SQLite handles; later readers open their own.
        client = self._clients.pop(gen, None)
        if client is not None:
            client.close()

    def drop(self, gen: str) -> None:
        self.release(gen)
        shutil.rmtree(self.index_dir / gen, ignore_errors=True)

    def generations(self) -> set[str]:
        if not self.index_dir.is_dir():
            return set()
        return {p.name for p in self.index_dir.iterdir() if p.is_dir() and p.name.startswith(_GEN_PREFIX)}

    def close(self) -> None:
        for gen in list(self._clients):
            self.release(gen)


class _Server(_Backend):
    _NAME = re.compile(rf"^htx-({_GEN_PREFIX}.+)-(chunks|docs)$")

    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise StoreError(f"HTX_CHROMA_URL must look like http://host:port, not {url!r}")
        self.where = url
        ssl = parsed.scheme == "https"
        try:
            self._client = chromadb.HttpClient(
                host=parsed.hostname,
                port=parsed.port or (443 if ssl else 8000),
                ssl=ssl,
                settings=ChromaSettings(**_CHROMA_SETTINGS),
            )
        except Exception as exc:
            raise StoreUnavailable(f"cannot reach the Chroma server at {url}: {exc}") from exc
        self._pointer: Any = None

    def _pointer_record(self) -> str | None:
        # The collection handle is kept so that changed() costs a single request.
        for _ in range(2):
            try:
                if self._pointer is None:
                    self._pointer = self._client.get_collection(POINTER_COLLECTION, embedding_function=None)
                docs = self._pointer.get(ids=[_POINTER_ID], include=["documents"])["documents"]
                return docs[0] if docs else None
            except NotFoundError:
                # Absent, or dropped and re-created under a new id since we cached it.
                self._pointer = None
        return None

    def read_pointer(self) -> dict | None:
        raw = self._pointer_record()
        return None if raw is None else _parse_manifest(raw, f"{self.where} ({POINTER_COLLECTION})")

    def pointer_token(self) -> object:
        return self._pointer_record()

    def write_pointer(self, manifest: dict) -> None:
        col = self._client.get_or_create_collection(POINTER_COLLECTION, embedding_function=None)
        # A single-record upsert is atomic in Chroma: workers see the old or the new manifest.
        col.upsert(
            ids=[_POINTER_ID],
            embeddings=[_NO_VECTOR],
            documents=[json.dumps(manifest, ensure_ascii=False)],
            metadatas=[{"generation": manifest["generation"]}],
        )

    def collections(self, gen: str, *, create_for: str | None = None) -> tuple[Any, Any]:
        names = f"htx-{gen}-chunks", f"htx-{gen}-docs"
        if create_for:
            return _create_collections(self._client, *names, create_for)
        try:
            return tuple(self._client.get_collection(n, embedding_function=None) for n in names)  # type: ignore[return-value]
        except NotFoundError as exc:
            raise LookupError(str(exc)) from exc

    def drop(self, gen: str) -> None:
        for kind in ("chunks", "docs"):
            try:
                self._client.delete_collection(f"htx-{gen}-{kind}")
            except NotFoundError:
                pass

    def generations(self) -> set[str]:
        # Paged explicitly: the server may cap an unbounded listing.
        found, offset, page = set(), 0, 100
        while True:
            cols = self._client.list_collections(limit=page, offset=offset)
            found.update(m.group(1) for m in map(self._NAME.match, (c.name for c in cols)) if m)
            if len(cols) < page:
                return found
            offset += page

    def max_batch(self) -> int:
        return min(_PAGE, self._client.get_max_batch_size())

    def close(self) -> None:
        # chromadb keeps every HttpClient's system in a process-wide registry until closed.
        self._client.close()


def _backend(settings: Settings) -> _Backend:
    return _Server(settings.chroma_url) if settings.chroma_url else _Embedded(settings.index_dir)


def _parse_manifest(raw: str, where: object) -> dict:
    try:
        manifest = json.loads(raw)
        if not isinstance(manifest, dict) or not isinstance(manifest.get("generation"), str):
            raise ValueError("no generation named")
    except ValueError as exc:
        raise IndexCorrupted(
            f"the index pointer {where} is unreadable ({exc}) — rebuild the index with `htx ingest`"
        ) from exc
    return manifest


def prune_generations(settings: Settings, *, keep: Iterable[str] = ()) -> list[str]:
    """Delete every generation except the current one, the one it replaced (servers may
    still be reading it) and `keep`. Callers must hold the ingest lock: a generation being
    written by another ingest looks exactly like an abandoned one."""
    backend = _backend(settings)
    try:
        try:
            manifest = backend.read_pointer() or {}
        except IndexCorrupted:
            return []  # which generation is in use is unknown: delete nothing
        protected = {manifest.get("generation"), manifest.get("previous"), *keep}
        doomed = sorted(backend.generations() - protected)
        for gen in doomed:
            backend.drop(gen)
        return doomed
    finally:
        backend.close()


# ------------------------------------------------------------------------------ reader


class IndexStore:
    """Read access to the current generation. A generation never changes once committed,
    so everything read from it may be cached for the life of this object."""

    def __init__(self, backend: _Backend, manifest: dict, token: object, chunks: Any, docs: Any) -> None:
        self._backend = backend
        self._manifest = manifest
        self._token = token
        self._chunks = chunks
        self._docs = docs
        self._documents: list[DocumentMeta] | None = None
        self._vector_store: Any = None
        self.generation: str = manifest["generation"]
        meta = chunks.metadata or {}
        self.embedder_id: str = str(meta.get("embedder", ""))
        self.dim: int = int(meta.get("dim", 0))

    @classmethod
    def open(cls, settings: Settings, *, check_embedder: bool = True) -> "IndexStore":
        backend = _backend(settings)
        try:
            # Token before pointer: a swap in between then shows up in changed(), never lost.
            token = backend.pointer_token()
            manifest = backend.read_pointer()
            if manifest is None:
                raise IndexNotFound(f"no index at {backend.where} — run `htx ingest`")
            gen = manifest["generation"]
            try:
                chunks, docs = backend.collections(gen)
            except LookupError as exc:
                raise IndexCorrupted(
                    f"the index at {backend.where} names generation {gen}, which is missing or broken "
                    f"({exc}) — rebuild it with `htx ingest`"
                ) from exc
            store = cls(backend, manifest, token, chunks, docs)
        except BaseException:
            backend.close()
            raise
        wanted = embedder_id_of(settings.embedder)
        if check_embedder and store.embedder_id != wanted:
            store.close()
            raise EmbedderMismatch(
                f"the index at {backend.where} was built with embedder {store.embedder_id!r}, "
                f"but HTX_EMBEDDER is {wanted!r}: set HTX_EMBEDDER={store.embedder_id} to use it, "
                f"or re-run `htx ingest` to rebuild it with {wanted!r}"
            )
        return store

    def __enter__(self) -> "IndexStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._backend.close()

    @property
    def manifest(self) -> dict:
        return dict(self._manifest)

    def count(self) -> int:
        return self._chunks.count()

    def changed(self) -> bool:
        """True once the pointer names another generation (an ingest finished), so a
        long-running server can reopen. Cheap: a stat, or one tiny get in server mode."""
        try:
            token = self._backend.pointer_token()
            if token == self._token or token is None:
                return False
            manifest = self._backend.read_pointer()
        except Exception as exc:
            # Failing to check must not take serving down: keep the generation we have.
            log.warning("cannot check the index pointer: %s", exc)
            return False
        if manifest is None or manifest["generation"] == self.generation:
            self._token = token
            return False
        return True

    def all_chunks(self) -> list[Chunk]:
        chunks = [
            Chunk.from_metadata(text, meta)
            for _, text, meta in self._pages(self._chunks, include=["documents", "metadatas"])
        ]
        chunks.sort(key=lambda c: (c.doc_id, c.start, c.part))
        return chunks

    def stored_vectors(self, chunk_ids: Sequence[str]) -> dict[str, tuple[str, list[float]]]:
        """chunk_id → (content_hash, embedding) for the ids present; ingest reuses these."""
        found: dict[str, tuple[str, list[float]]] = {}
        step = self._backend.max_batch()
        for i in range(0, len(chunk_ids), step):
            got = self._chunks.get(ids=list(chunk_ids[i : i + step]), include=["metadatas", "embeddings"])
            for cid, meta, vector in zip(got["ids"], got["metadatas"], got["embeddings"]):
                found[cid] = (str((meta or {}).get("content_hash", "")), [float(x) for x in vector])
        return found

    def documents(self) -> list[DocumentMeta]:
        if self._documents is None:
            metas = [
                DocumentMeta.model_validate_json(meta["meta"])
                for _, _, meta in self._pages(self._docs, include=["metadatas"])
            ]
            self._documents = sorted(metas, key=lambda m: m.doc_id)
        return list(self._documents)

    def document(self, doc_id: str) -> Document | None:
        got = self._docs.get(ids=[doc_id], include=["documents", "metadatas"])
        if not got["ids"]:
            return None
        meta = got["metadatas"][0]
        return Document(
            meta=DocumentMeta.model_validate_json(meta["meta"]),
            source_text=got["documents"][0],
            sections=_SECTIONS.validate_json(meta["sections"]),
        )

    def vector_store(self) -> Any:
        """A llama-index `ChromaVectorStore` over the chunks, for
        `VectorStoreIndex.from_vector_store(store.vector_store(), embed_model=...)`."""
        if self._vector_store is None:
            from llama_index.vector_stores.chroma import ChromaVectorStore

            self._vector_store = ChromaVectorStore(chroma_collection=self._chunks)
        return self._vector_store

    def _pages(self, col: Any, include: list[str]) -> Iterator[tuple[str, str | None, dict]]:
        # Offset paging is safe here because a committed generation never changes.
        offset = 0
        while True:
            got = col.get(limit=_PAGE, offset=offset, include=include)
            ids = got["ids"]
            docs = got.get("documents") or [None] * len(ids)
            metas = got.get("metadatas") or [{}] * len(ids)
            yield from zip(ids, docs, metas)
            if len(ids) < _PAGE:
                return
            offset += _PAGE


# ------------------------------------------------------------------------------ writer


class IndexWriter:
    """Builds a new generation beside the current one; `commit()` makes it current,
    `abort()` (or leaving a `with` block by an exception) deletes it.

    Callers should hold the ingest lock (`index.ingest` does): commit() prunes old
    generations, and another writer's unfinished one would be among them."""

    def __init__(self, settings: Settings) -> None:
        self.embedder_id = embedder_id_of(settings.embedder)
        self.generation = _new_generation()
        self._backend = _backend(settings)
        self._settings = settings
        try:
            self._chunks, self._docs = self._backend.collections(self.generation, create_for=self.embedder_id)
        except BaseException:
            self._backend.drop(self.generation)
            self._backend.close()
            raise
        self._chunk_ids: set[str] = set()
        self._doc_ids: set[str] = set()
        self._pending_docs: list[Document] = []
        self._pending_chunks: list[tuple[Chunk, list[float]]] = []
        self._dim = 0
        self._state = "open"

    def __enter__(self) -> "IndexWriter":
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if self._state == "open":
            self.abort()

    @property
    def documents_written(self) -> int:
        return len(self._doc_ids)

    @property
    def chunks_written(self) -> int:
        return len(self._chunk_ids)

    # Records are buffered and written in batches: each Chroma add costs ~50 ms however
    # small, which would dominate a re-ingest that embeds nothing.

    def add_documents(self, docs: Iterable[Document]) -> None:
        self._check_open()
        for doc in docs:
            if doc.doc_id in self._doc_ids:
                raise ValueError(f"document {doc.doc_id!r} was already added to this generation")
            self._doc_ids.add(doc.doc_id)
            self._pending_docs.append(doc)
        if len(self._pending_docs) >= _DOC_BATCH:
            self._flush()

    def add_chunks(self, chunks: Sequence[Chunk], embeddings: Sequence[Sequence[float]]) -> None:
        self._check_open()
        if len(chunks) != len(embeddings):
            raise ValueError(f"{len(chunks)} chunks but {len(embeddings)} embeddings")
        for chunk, vector in zip(chunks, embeddings):
            if chunk.chunk_id in self._chunk_ids:
                raise ValueError(f"chunk {chunk.chunk_id!r} was already added to this generation")
            self._dim = self._dim or len(vector)
            if len(vector) != self._dim:
                raise ValueError(f"chunk {chunk.chunk_id!r} has a {len(vector)}-d vector, expected {self._dim}")
            self._chunk_ids.add(chunk.chunk_id)
            self._pending_chunks.append((chunk, list(vector)))
        if len(self._pending_chunks) >= self._backend.max_batch():
            self._flush()

    def _flush(self) -> None:
        for batch in _batches(self._pending_docs, self._backend.max_batch()):
            self._docs.add(
                ids=[d.doc_id for d in batch],
                documents=[d.source_text for d in batch],
                embeddings=[_NO_VECTOR] * len(batch),
                metadatas=[
                    {
                        "meta": d.meta.model_dump_json(),
                        "sections": _SECTIONS.dump_json(d.sections).decode("utf-8"),
                        "content_hash": d.content_hash(),
                    }
                    for d in batch
                ],
            )
        self._pending_docs = []
        for batch in _batches(self._pending_chunks, self._backend.max_batch()):
            self._chunks.add(
                ids=[c.chunk_id for c, _ in batch],
                documents=[c.text for c, _ in batch],
                embeddings=[v for _, v in batch],
                metadatas=[c.to_metadata() for c, _ in batch],
            )
        self._pending_chunks = []

    def commit(self) -> dict:
        """Make this generation current; returns its manifest."""
        self._check_open()
        self._flush()
        self._chunks.modify(metadata={"embedder": self.embedder_id, "dim": self._dim})
        try:
            previous = (self._backend.read_pointer() or {}).get("generation")
        except IndexCorrupted:
            previous = None
        manifest = {
            "generation": self.generation,
            "previous": previous,
            "embedder": self.embedder_id,
            "dim": self._dim,
            "documents": len(self._doc_ids),
            "chunks": len(self._chunk_ids),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        self._backend.release(self.generation)
        self._backend.write_pointer(manifest)
        self._state = "committed"
        self._backend.close()
        try:
            pruned = prune_generations(self._settings)
        except Exception as exc:
            # The swap is done; the next ingest retries the housekeeping.
            log.warning("could not delete old index generations: %s", exc)
        else:
            if pruned:
                log.info("deleted old index generations: %s", ", ".join(pruned))
        return manifest

    def abort(self) -> None:
        if self._state != "open":
            return
        self._state = "aborted"
        self._backend.drop(self.generation)
        self._backend.close()

    def _check_open(self) -> None:
        if self._state != "open":
            raise RuntimeError(f"generation {self.generation} is already {self._state}")


def _batches(items: Sequence, size: int) -> Iterator[Sequence]:
    for i in range(0, len(items), size):
        yield items[i : i + size]

