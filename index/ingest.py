"""`htx ingest`: corpus folders → a new index generation, swapped in only when complete.

Unchanged clauses keep the vectors stored in the current generation (matched by chunk id
and content hash), so re-running ingest after editing one file embeds only what changed.
Which files are documents: those with a suffix the loaders read (`index.loaders.SUPPORTED_SUFFIXES`:
text, Markdown, Word, PDF, HTML) and the office formats they refuse with a message
(.doc, .rtf, .odt…, reported so the operator converts them). Anything else in a corpus folder
(.json/.jsonl data beside the laws, `metadata.yaml` and `<file>.meta.yaml` sidecars, images)
is data, not a document: ignored and not reported as skipped, like README* and hidden files.
A file that cannot be read is reported and skipped; anything else that goes wrong
(embedder failure, Ctrl-C, SIGKILL) leaves the current generation serving untouched, and
the half-written one is deleted now or by the next ingest.

One ingest at a time per index: `<index_dir>/ingest.lock` is held with flock, also in
server mode, where it only serialises ingests started on the same host — locking across
hosts is out of scope (run ingest from one place, e.g. a single CI job).
"""
from __future__ import annotations

import errno
import fcntl
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

from .models import Chunk, Document
from .settings import Settings
from .store import IndexCorrupted, IndexNotFound, IndexStore, IndexWriter, prune_generations

if TYPE_CHECKING:
    from llama_index.core.embeddings import BaseEmbedding

LOCK_FILE = "ingest.lock"
_LOOKUP_BATCH = 256
Progress = Callable[[str], None]


class IngestError(RuntimeError):
    """Ingest stopped before swapping the index; the previous generation still serves."""


class IngestLocked(IngestError):
    pass


@dataclass
class IngestReport:
    documents: int = 0
    chunks: int = 0
    embedded: int = 0                    # chunks embedded in this run
    reused: int = 0                      # chunks whose vectors were copied from the previous generation
    removed_documents: list[str] = field(default_factory=list)   # indexed before, absent now
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (file, reason)
    ignored: list[Path] = field(default_factory=list)    # not document files (data sidecars, README)
    seconds: float = 0.0
    generation: str = ""

    @property
    def ok(self) -> bool:
        """False when any file was skipped: the CLI exits non-zero so CI notices."""
        return not self.skipped

    def summary(self) -> str:
        lines = [
            f"indexed {self.documents} documents, {self.chunks} clauses "
            f"({self.embedded} embedded, {self.reused} reused) in {self.seconds:.1f} s → {self.generation}"
        ]
        if self.removed_documents:
            lines.append(f"removed: {', '.join(self.removed_documents)}")
        lines.extend(f"SKIPPED {path}: {reason}" for path, reason in self.skipped)
        return "\n".join(lines)


def ingest(
    corpus_dirs: Sequence[Path],
    settings: Settings,
    *,
    parse: Callable[[Path], Document] | None = None,
    chunker: Callable[[Document], list[Chunk]] | None = None,
    progress: Progress | None = None,
    embed_model: BaseEmbedding | None = None,
) -> IngestReport:
    """Index every document file of `corpus_dirs` into a new generation and make it current.

    `embed_model` defaults to `load_embedder(settings.embedder)`; pass one already loaded
    to avoid loading it twice."""
    started = time.monotonic()
    say = progress or (lambda message: None)
    if parse is None:
        from .structure import parse_file as parse
    if chunker is None:
        from .chunking import chunk_document as chunker
    report = IngestReport()
    files = _corpus_files(corpus_dirs, report)
    if report.ignored:
        kinds = sorted({p.suffix.lower() or p.name for p in report.ignored})
        say(f"ignored {len(report.ignored)} files that are not documents ({', '.join(kinds)})")

    with ingest_lock(settings.index_dir):
        prune_generations(settings)  # half-written generations of killed ingests
        previous = _previous_generation(settings, say)
        try:
            if embed_model is None:
                from .embedders import load_embedder

                embed_model = load_embedder(settings.embedder)
            indexed: set[str] = set()
            with IndexWriter(settings) as writer:
                vectors = _Vectors(writer, previous, embed_model, settings.embed_batch_size, report, say)
                for path in files:
                    parsed = _read(path, parse, chunker, report)
                    if parsed is None:
                        continue
                    doc, chunks = parsed
                    writer.add_documents([doc])
                    vectors.add(chunks)
                    indexed.add(doc.doc_id)
                    say(f"{path.name}: {len(chunks)} clauses")
                vectors.flush()
                if not indexed:
                    raise IngestError(_nothing_indexed(corpus_dirs, report))
                if previous is not None:
                    report.removed_documents = sorted({m.doc_id for m in previous.documents()} - indexed)
                report.documents = writer.documents_written
                report.chunks = writer.chunks_written
                report.generation = writer.commit()["generation"]
        finally:
            if previous is not None:
                previous.close()
    report.seconds = time.monotonic() - started
    return report


class UnknownDocument(IngestError):
    """`htx remove` was given an id that is not in the index."""


@dataclass
class RemoveReport:
    removed: list[str] = field(default_factory=list)
    removed_chunks: int = 0
    documents: int = 0                   # left in the index
    chunks: int = 0
    generation: str = ""
    seconds: float = 0.0
    # Source files the removed documents would come back from: in the default corpus folders
    # (the next plain `htx ingest` reads them again), and elsewhere where they were read from.
    in_corpus: list[Path] = field(default_factory=list)
    sources_elsewhere: list[Path] = field(default_factory=list)


def remove_documents(
    settings: Settings,
    doc_ids: Sequence[str],
    *,
    corpus_dirs: Sequence[Path] | None = None,
    progress: Progress | None = None,
) -> RemoveReport:
    """Take documents out of the index: a new generation holding every other document, with
    the vectors stored for them (nothing is embedded), swapped in atomically under the ingest
    lock. An id not in the index raises UnknownDocument and changes nothing.

    `corpus_dirs` (default `settings.corpus_dirs`) are checked for the removed documents'
    files, which the next ingest of those folders would index again."""
    started = time.monotonic()
    say = progress or (lambda message: None)
    wanted = list(dict.fromkeys(doc_ids))
    if not wanted:
        raise IngestError("name the id of a document to remove (see `htx documents`)")
    report = RemoveReport(removed=wanted)
    with ingest_lock(settings.index_dir):
        prune_generations(settings)
        store = IndexStore.open(settings, check_embedder=False)
        try:
            metas = {m.doc_id: m for m in store.documents()}
            unknown = [d for d in wanted if d not in metas]
            if unknown:
                raise UnknownDocument(
                    f"not in the index at {settings.chroma_url or settings.index_dir}: {', '.join(unknown)} "
                    f"(`htx documents` lists the {len(metas)} indexed ids); the index is unchanged"
                )
            keep = [d for d in sorted(metas) if d not in wanted]
            if not keep:
                raise IngestError("that would leave the index empty; the index is unchanged "
                                  "(to start over, delete the index directory and run `htx ingest`)")
            # The kept vectors were made by the index's embedder, whatever HTX_EMBEDDER says now.
            writer_settings = settings.model_copy(update={"embedder": store.embedder_id or settings.embedder})
            chunks = store.all_chunks()
            kept = [c for c in chunks if c.doc_id not in wanted]
            report.removed_chunks = len(chunks) - len(kept)
            with IndexWriter(writer_settings) as writer:
                for doc_id in keep:
                    doc = store.document(doc_id)
                    if doc is None:
                        raise IngestError(f"the index has chunks of {doc_id!r} but no document record: "
                                          "rebuild it with `htx ingest`")
                    writer.add_documents([doc])
                for i in range(0, len(kept), _LOOKUP_BATCH):
                    batch = kept[i : i + _LOOKUP_BATCH]
                    stored = store.stored_vectors([c.chunk_id for c in batch])
                    missing = [c.chunk_id for c in batch if c.chunk_id not in stored]
                    if missing:
                        raise IngestError(f"no stored vector for {missing[0]}: rebuild the index with `htx ingest`")
                    writer.add_chunks(batch, [stored[c.chunk_id][1] for c in batch])
                report.documents = writer.documents_written
                report.chunks = writer.chunks_written
                report.generation = writer.commit()["generation"]
                say(f"removed {', '.join(wanted)} ({report.removed_chunks} chunks)")
        finally:
            store.close()
    report.seconds = time.monotonic() - started
    dirs = settings.corpus_dirs if corpus_dirs is None else corpus_dirs
    report.in_corpus = [p for p in _files_named(dirs, wanted)]
    for doc_id in wanted:
        source = metas[doc_id].source_path
        if source and Path(source).is_file() and not any(_same_file(source, p) for p in report.in_corpus):
            report.sources_elsewhere.append(Path(source))
    return report


def _files_named(corpus_dirs: Sequence[Path], doc_ids: Sequence[str]) -> list[Path]:
    """The document files in `corpus_dirs` whose stem (the document id) is one of `doc_ids`."""
    found = []
    for folder in map(Path, corpus_dirs):
        if folder.is_dir():
            found.extend(p for p in sorted(folder.iterdir()) if p.stem in doc_ids and _is_document(p))
    return found


def _same_file(a: str | Path, b: str | Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


@contextmanager
def ingest_lock(index_dir: Path) -> Iterator[None]:
    """Hold `<index_dir>/ingest.lock`, or raise IngestLocked at once. The kernel drops an
    flock when its process dies, so a killed ingest never leaves a stale lock behind."""
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(index_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
            raise IngestLocked(f"another ingest is running (pid {holder}) on {index_dir}") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode("ascii"))
        yield
    finally:
        os.close(fd)


def _corpus_files(corpus_dirs: Sequence[Path], report: IngestReport) -> list[Path]:
    """Document files, in a stable order; a second file with an already seen stem is
    reported, since the stem is the document id that citations link to."""
    files: list[Path] = []
    seen: dict[str, Path] = {}
    for folder in map(Path, corpus_dirs):
        if not folder.is_dir():
            raise IngestError(f"corpus folder not found: {folder}")
        for path in sorted(folder.iterdir()):
            if not path.is_file() or path.name.startswith("."):
                continue
            if not _is_document(path):
                report.ignored.append(path)
                continue
            if path.stem in seen:
                report.skipped.append((path, f"duplicate document id {path.stem!r}: already read from {seen[path.stem]}"))
                continue
            seen[path.stem] = path
            files.append(path)
    return files


# Document formats the loaders refuse with a message worth reading ("save it as .docx"):
# such a file is reported as skipped, never silently ignored.
_UNREADABLE_DOCUMENT_SUFFIXES = frozenset({".doc", ".rtf", ".odt", ".wpd", ".xls", ".xlsx", ".ods", ".ppt", ".pptx"})


def _is_document(path: Path) -> bool:
    """A file ingest reads (or reports as unreadable); see the module docstring."""
    from .loaders import SUPPORTED_SUFFIXES

    name = path.name
    suffix = path.suffix.lower()
    return (
        path.is_file()
        and not name.startswith(".")
        and not name.upper().startswith("README")    # a folder's README describes it, it is not a document
        and (suffix in SUPPORTED_SUFFIXES or suffix in _UNREADABLE_DOCUMENT_SUFFIXES)
    )


def _read(
    path: Path,
    parse: Callable[[Path], Document],
    chunker: Callable[[Document], list[Chunk]],
    report: IngestReport,
) -> tuple[Document, list[Chunk]] | None:
    """Parse and chunk one file; on any failure record why and return None."""
    try:
        doc = parse(path)
        chunks = chunker(doc)
    except Exception as exc:
        report.skipped.append((path, f"{type(exc).__name__}: {exc}"))
        return None
    problem = _check(path, doc, chunks)
    if problem:
        report.skipped.append((path, problem))
        return None
    return doc, chunks


def _check(path: Path, doc: Document, chunks: list[Chunk]) -> str | None:
    # Caught here, per file, instead of failing the whole generation inside Chroma.
    if doc.doc_id != path.stem:
        return f"parsed as document {doc.doc_id!r}, but the document id must be the file stem {path.stem!r}"
    ids = [c.chunk_id for c in chunks]
    if len(set(ids)) != len(ids):
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        return f"clauses share an id (anchor/part): {', '.join(dupes[:3])}"
    strays = {c.doc_id for c in chunks} - {doc.doc_id}
    if strays:
        return f"chunks name another document: {', '.join(sorted(strays))}"
    return None


def _previous_generation(settings: Settings, say: Progress) -> IndexStore | None:
    """The generation whose vectors may be reused, if any."""
    try:
        store = IndexStore.open(settings, check_embedder=False)
    except IndexNotFound:
        return None
    except IndexCorrupted as exc:
        say(f"rebuilding from scratch: {exc}")
        return None
    return store


class _Vectors:
    """Gives each chunk a vector — the stored one when unchanged, else a fresh embedding —
    and writes it to the new generation. Chunks are looked up in the previous generation
    and embedded in batches, since a per-file round trip would dominate a re-ingest."""

    def __init__(
        self,
        writer: IndexWriter,
        previous: IndexStore | None,
        embed_model: BaseEmbedding,
        batch_size: int,
        report: IngestReport,
        say: Progress,
    ) -> None:
        self._writer = writer
        self._previous = previous
        if previous is not None and previous.embedder_id != writer.embedder_id:
            say(f"the index was built with {previous.embedder_id}; re-embedding everything with {writer.embedder_id}")
            self._previous = None
        self._embed_model = embed_model
        self._batch_size = max(1, batch_size)
        self._unchecked: list[Chunk] = []     # not yet looked up in the previous generation
        self._to_embed: list[Chunk] = []
        self._report = report
        self._say = say

    def add(self, chunks: list[Chunk]) -> None:
        self._unchecked.extend(chunks)
        if len(self._unchecked) >= _LOOKUP_BATCH:
            self._reuse_stored()
        while len(self._to_embed) >= self._batch_size:
            self._embed(self._to_embed[: self._batch_size])
            del self._to_embed[: self._batch_size]

    def flush(self) -> None:
        self._reuse_stored()
        if self._to_embed:
            self._embed(self._to_embed)
            self._to_embed = []

    def _reuse_stored(self) -> None:
        chunks, self._unchecked = self._unchecked, []
        if self._previous is None or not chunks:
            self._to_embed.extend(chunks)
            return
        stored = self._previous.stored_vectors([c.chunk_id for c in chunks])
        reuse = [c for c in chunks if stored.get(c.chunk_id, ("",))[0] == c.content_hash()]
        if reuse:
            self._writer.add_chunks(reuse, [stored[c.chunk_id][1] for c in reuse])
            self._report.reused += len(reuse)
        reused_ids = {c.chunk_id for c in reuse}
        self._to_embed.extend(c for c in chunks if c.chunk_id not in reused_ids)

    def _embed(self, batch: list[Chunk]) -> None:
        vectors = self._embed_model.get_text_embedding_batch([c.embedding_text() for c in batch])
        if len(vectors) != len(batch):
            raise IngestError(f"the embedder returned {len(vectors)} vectors for {len(batch)} passages")
        self._writer.add_chunks(batch, vectors)
        self._report.embedded += len(batch)
        self._say(f"embedded {self._report.embedded} clauses")


def _nothing_indexed(corpus_dirs: Sequence[Path], report: IngestReport) -> str:
    where = ", ".join(str(d) for d in corpus_dirs)
    if not report.skipped:
        return f"no document files in {where}; the index is unchanged"
    reasons = "; ".join(f"{p.name}: {r}" for p, r in report.skipped)
    return f"no document in {where} could be indexed ({reasons}); the index is unchanged"
