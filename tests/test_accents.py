"""Questions typed without diacritics get them back from the corpus' own words, so the
embedder reads what the officer meant (and "Hiểu câu hỏi là: …" reads like Vietnamese)."""
from __future__ import annotations

from pathlib import Path

import pytest

from assistant.accents import AccentRestorer
from index.chunking import chunk_document
from index.structure import parse_file

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


@pytest.fixture(scope="module")
def restorer() -> AccentRestorer:
    documents = [parse_file(path) for path in sorted(CORPUS.glob("*.txt"))]
    chunks = [c for doc in documents for c in chunk_document(doc)]
    places = sorted({c.locality for c in chunks if c.locality})
    return AccentRestorer((c.embedding_text() for c in chunks), places)


@pytest.mark.parametrize("typed, meant", [
    ("ai phu trach giai the htx o vinh linh", "ai phụ trách giải thể htx ở vĩnh linh"),
    ("con o ha tinh thi sao", "còn ở hà tĩnh thì sao"),
    ("vay con quy ho tro htx thi ai lam", "vậy còn quỹ hỗ trợ htx thì ai làm"),
    ("han chot la khi nao", "hạn chót là khi nào"),
])
def test_an_officers_unaccented_question_reads_as_meant(restorer, typed, meant):
    assert restorer.restore(typed) == meant


def test_the_documents_own_words_still_win_over_chat_phrasing(restorer):
    # "thi" is "thì" in a chat, but "thị trấn" is what the letters write.
    assert restorer.restore("uy ban nhan dan cac xa thi tran") == "ủy ban nhân dân các xã thị trấn"


def test_accented_words_are_kept_as_typed_and_unknown_words_left_alone(restorer):
    assert restorer.restore("còn o zalo thi sao") == "còn ở zalo thì sao"
