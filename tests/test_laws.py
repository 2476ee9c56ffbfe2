"""The cooperative laws as a founder meets them: a laws folder as received (each law as `.txt`
beside its `.json`/`.jsonl` data and a README) is ingested as one document per law, and the
founders' questions are answered from the right Điều with its khoản, cited as an officer
would cite it ("Điều 42 khoản 2"). Uses ../shared/laws (never committed); skipped without it.

To keep the test short (embedding dominates), only part of each law is indexed: the Luật Hợp
tác xã's Điều 1–8 (scope, the definitions) and Điều 38–50 (founding, registration) under
their chapter headings, with NĐ 77/2019 on tổ hợp tác up to Điều 12 (definitions, members,
founding) as a second law with its own "thành viên" clauses: 282 clauses. The full set
(17 documents, 2,848 chunks) is measured by `python -m evals.laws` over
evals/laws_questions.jsonl."""
from __future__ import annotations

import re
import shutil

import pytest

from conftest import SHARED

LAWS = SHARED / "laws"
LUAT = "luat-hop-tac-xa-17-2023-QH15"
ND77 = "nghi-dinh-77-2019-ND-CP"

pytestmark = pytest.mark.skipif(
    not (LAWS / f"{LUAT}.txt").is_file() or not (LAWS / f"{ND77}.txt").is_file(),
    reason=f"the law texts are not in {LAWS} (they are kept outside the repository)",
)


def articles(path, keep: set[int]) -> str:
    """The law's header (title and metadata lines), its chapter headings and the articles in `keep`."""
    header, *parts = re.split(r"(?m)^(?=Chương [IVXLC]+\b|Điều \d+\.)", path.read_text(encoding="utf-8"))
    return header + "".join(p for p in parts
                            if p.startswith("Chương") or int(re.match(r"Điều (\d+)", p).group(1)) in keep)


@pytest.fixture(scope="module")
def laws_index(tmp_path_factory, settings_for):
    """The two laws as they sit in ../shared/laws: text, data sidecars, folder README."""
    from index.ingest import ingest

    folder = tmp_path_factory.mktemp("laws")
    for stem in (LUAT, ND77):
        shutil.copy(LAWS / f"{stem}.json", folder)
    (folder / f"{ND77}.txt").write_text(articles(LAWS / f"{ND77}.txt", set(range(1, 13))), encoding="utf-8")
    (folder / f"{LUAT}.txt").write_text(articles(LAWS / f"{LUAT}.txt", set(range(1, 9)) | set(range(38, 51))),
                                        encoding="utf-8")
    shutil.copy(LAWS / "htx_phapdien_articles.jsonl", folder)
    shutil.copy(LAWS / "README.md", folder)
    index_dir = tmp_path_factory.mktemp("laws-index")
    report = ingest([folder], settings_for(index_dir))
    return report, index_dir


@pytest.fixture(scope="module")
def laws_assistant(laws_index, settings_for):
    from assistant.api import Assistant

    return Assistant.open(settings_for(laws_index[1]))


def test_one_document_per_law_and_the_data_files_beside_them_are_not_documents(laws_index):
    report, _ = laws_index
    assert report.ok, report.summary()          # nothing "skipped": sidecars are not broken documents
    assert report.documents == 2
    assert sorted(p.name for p in report.ignored) == sorted(
        [f"{LUAT}.json", f"{ND77}.json", "htx_phapdien_articles.jsonl", "README.md"])


@pytest.mark.parametrize("question, clause, label, words", [
    ("Hồ sơ đăng ký thành lập hợp tác xã gồm những gì?",
     ["Chương IV", "Điều 42", "2"], "Điều 42 khoản 2", ["Giấy đề nghị đăng ký thành lập", "Điều lệ"]),
    ("Hợp tác xã phải có ít nhất bao nhiêu thành viên?",
     ["Chương I", "Điều 4", "7"], "Điều 4 khoản 7", ["ít nhất 05 thành viên chính thức"]),
    ("What documents are needed to register a cooperative?",
     ["Chương IV", "Điều 42", "2"], "Điều 42 khoản 2", ["Giấy đề nghị đăng ký thành lập"]),
])
def test_founders_questions_are_answered_from_the_right_article_and_clause(laws_assistant, question, clause,
                                                                           label, words):
    answer = laws_assistant.ask(question)
    top = answer.citations[0]
    assert (top.doc_id, top.clause) == (LUAT, clause), [(c.doc_id, c.clause_label) for c in answer.citations]
    assert top.clause_label == label
    assert "17/2023/QH15" in top.doc_title
    for word in words:
        assert word in answer.answer
