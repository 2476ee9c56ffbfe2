"""The `htx` command line contract that other tools depend on."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import CORPUS

HTX = [sys.executable, "-m", "assistant"]


def htx(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    # The developer's own HTX_CHROMA_URL must not send these runs to a server.
    full_env = {k: v for k, v in os.environ.items() if k != "HTX_CHROMA_URL"} | (env or {})
    return subprocess.run([*HTX, *args], capture_output=True, text=True, env=full_env, timeout=300)


def test_ask_json_prints_one_object_with_citations_best_first(built_index):
    result = htx("ask", "Ai phụ trách giải thể HTX ở Vĩnh Linh?", "--json", "--index", str(built_index))
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert set(answer) >= {"question", "answer", "abstained", "citations"}
    assert answer["abstained"] is False
    citations = answer["citations"]
    assert 1 <= len(citations) <= 5
    for c in citations:
        assert set(c) >= {"doc_id", "doc_title", "clause", "clause_label", "text", "score", "url"}
        assert isinstance(c["clause"], list) and c["text"]
        assert c["url"].endswith(f"/documents/{c['doc_id']}#{c['url'].split('#')[1]}")
    scores = [c["score"] for c in citations]
    assert scores == sorted(scores, reverse=True)
    assert any(c["doc_id"] == "vinh-linh-cv-ubnd-nn-2023" and c["clause"] == ["3", "3.2"] for c in citations)


def test_ask_k_and_document_filter(built_index):
    result = htx("ask", "hạn chót báo cáo", "--json", "--k", "2", "--doc", "ha-tinh-kh-ubnd-2022",
                 "--index", str(built_index))
    citations = json.loads(result.stdout)["citations"]
    assert len(citations) == 2
    assert {c["doc_id"] for c in citations} == {"ha-tinh-kh-ubnd-2022"}


def test_a_filter_that_matches_nothing_returns_nothing(built_index):
    result = htx("ask", "hợp tác xã", "--json", "--locality", "Đà Nẵng", "--index", str(built_index))
    assert result.returncode == 0
    assert json.loads(result.stdout)["citations"] == []


def test_empty_question_is_a_clear_usage_error(built_index):
    result = htx("ask", "   ", "--index", str(built_index))
    assert result.returncode == 2
    assert "Câu hỏi trống" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_index_says_how_to_build_it(tmp_path):
    result = htx("ask", "ai phụ trách", "--index", str(tmp_path / "nothing"))
    assert result.returncode == 1
    assert "htx ingest" in result.stderr
    assert "Traceback" not in result.stderr


def test_ingest_names_a_broken_file_skips_it_and_indexes_the_rest(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / "quang-nam-cv-2651-ubnd-ktn-2020.txt", corpus)
    (corpus / "hong.txt").write_bytes(b"\xff\xfe\x00\x00garbage\x00\x01" * 10)
    result = htx("ingest", "--corpus", str(corpus), "--index", str(tmp_path / "idx"))
    assert result.returncode == 1
    assert "hong.txt" in result.stderr
    assert "indexed 1 documents" in result.stdout
    listing = htx("documents", "--index", str(tmp_path / "idx"))
    assert listing.stdout.startswith("quang-nam-cv-2651-ubnd-ktn-2020\tCông văn\t2651/UBND-KTN")
