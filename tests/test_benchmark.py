"""`python -m evals.retrieval`: the BEIR-style benchmark runs the project's own pipeline over
any corpus/queries pair and reports what staff compare systems by."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from evals.retrieval import article_document
from index.chunking import chunk_document

ROOT = Path(__file__).resolve().parent.parent

ARTICLES = [
    {"id": "Luật Hợp tác xã#4", "law_id": "Luật Hợp tác xã", "article_id": "4", "title": "Giải thích từ ngữ",
     "text": "Giải thích từ ngữ\n\nTrong Luật này, các từ ngữ dưới đây được hiểu như sau:\n\n"
             "1. Hợp tác xã là tổ chức có tư cách pháp nhân do ít nhất 05 thành viên chính thức tự nguyện thành lập.\n\n"
             "2. Liên hiệp hợp tác xã là tổ chức do ít nhất 03 hợp tác xã là thành viên chính thức thành lập."},
    {"id": "Luật Hợp tác xã#42", "law_id": "Luật Hợp tác xã", "article_id": "42", "title": "Đăng ký thành lập hợp tác xã",
     "text": "Đăng ký thành lập hợp tác xã\n\n1. Hợp tác xã đăng ký tại cơ quan đăng ký kinh doanh cấp huyện.\n\n"
             "2. Hồ sơ đăng ký gồm giấy đề nghị, điều lệ, phương án sản xuất kinh doanh và danh sách thành viên."},
    {"id": "Luật Hợp tác xã#60", "law_id": "Luật Hợp tác xã", "article_id": "60", "title": "Giải thể hợp tác xã",
     "text": "Giải thể hợp tác xã\n\n1. Hợp tác xã giải thể tự nguyện theo nghị quyết của Đại hội thành viên.\n\n"
             "2. Hợp tác xã bị buộc giải thể khi không hoạt động trong thời hạn 12 tháng liên tục."},
    {"id": "Hiến pháp#33", "law_id": "Hiến pháp", "article_id": "33",
     "title": "Mọi người có quyền tự do kinh doanh trong những ngành nghề mà pháp luật không cấm.",
     "text": "Mọi người có quyền tự do kinh doanh trong những ngành nghề mà pháp luật không cấm."},
    {"id": "Luật Du lịch#3", "law_id": "Luật Du lịch", "article_id": "3", "title": "Khu du lịch",
     "text": "Khu du lịch\n\nKhu du lịch là khu vực có ưu thế về tài nguyên du lịch tự nhiên được quy hoạch đầu tư phát triển."},
]
QUERIES = [
    {"qid": "q1", "question": "Hợp tác xã phải có ít nhất bao nhiêu thành viên chính thức?",
     "relevant": ["Luật Hợp tác xã#4"], "question_type": "Tự luận"},
    {"qid": "q2", "question": "Hồ sơ đăng ký thành lập hợp tác xã gồm những gì?",
     "relevant": ["Luật Hợp tác xã#42"], "question_type": "Tự luận"},
    {"qid": "q3", "question": "Hợp tác xã không hoạt động 12 tháng liên tục thì bị buộc giải thể, đúng hay sai?",
     "relevant": ["Luật Hợp tác xã#60"], "question_type": "Đúng/Sai"},
    {"qid": "q4", "question": "Mọi người có quyền tự do kinh doanh ngành nghề pháp luật không cấm, đúng hay sai?",
     "relevant": ["Hiến pháp#33"], "question_type": "Đúng/Sai"},
]


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _run(tmp_path: Path, *extra: str) -> dict:
    corpus = _write_jsonl(tmp_path / "corpus.jsonl", ARTICLES)
    queries = _write_jsonl(tmp_path / "queries.jsonl", QUERIES)
    done = subprocess.run(
        [sys.executable, "-m", "evals.retrieval", "--corpus", str(corpus), "--queries", str(queries),
         "--json", "--cache", str(tmp_path / "cache"), "--context-field", "law_id", *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_benchmark_reports_every_system_and_a_rerun_embeds_nothing(tmp_path):
    first = _run(tmp_path)
    assert set(first["systems"]) == {"ours", "bm25", "dense"}
    ours = first["systems"]["ours"]
    for metric in ("recall@1", "recall@5", "recall@10", "mrr@10", "query_p50_ms"):
        assert metric in ours
    assert set(ours["by_type"]) == {"Tự luận", "Đúng/Sai"}
    assert first["index_seconds"] > 0 and first["passages_embedded_now"] > 0
    # Questions phrased from their articles are found: the pipeline really ran end to end.
    assert ours["recall@5"] == 1.0

    again = _run(tmp_path)
    assert again["passages_embedded_now"] == 0
    assert again["passages_from_cache"] == first["chunks"]
    assert again["systems"]["ours"]["recall@5"] == 1.0


def test_the_article_layout_heads_every_clause_with_its_article():
    doc = article_document("r1", ARTICLES[1], "law_id")
    clauses = [c for c in chunk_document(doc) if len(c.clause) > 1]
    assert [c.clause for c in clauses] == [["Điều 42", "1"], ["Điều 42", "2"]]
    for chunk in clauses:
        assert "Điều 42. Đăng ký thành lập hợp tác xã" in chunk.headings
        assert chunk.headings[0] == "Luật Hợp tác xã"
    # The title is the heading, not repeated as body text.
    assert "Đăng ký thành lập hợp tác xã" not in " ".join(c.text for c in clauses)


def test_an_untitled_article_keeps_its_first_sentence_as_content():
    # The set repeats the Hiến pháp's first sentence as a "title"; it is what the article says.
    doc = article_document("r3", ARTICLES[3], "law_id")
    text = " ".join(c.embedding_text() for c in chunk_document(doc))
    assert "quyền tự do kinh doanh" in text
