"""The web endpoint as its clients see it: real uvicorn on a loopback port, real httpx, the
real index of corpus/. Every bad input gets a readable JSON `detail`; the API answers
exactly what `htx ask --json` prints."""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from html.parser import HTMLParser

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bots.web import BackgroundServer, create_app
from conftest import CORPUS
from index.models import anchor_for

QUESTION = "Ai phụ trách giải thể HTX ở Vĩnh Linh?"
API_KEY = "khoa-thu-nghiem-123"


@pytest.fixture(scope="module")
def server(assistant):
    with BackgroundServer(create_app(assistant)) as srv:
        yield srv


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server.url, timeout=120) as c:
        yield c


@pytest.fixture(scope="module")
def locked_server(assistant, built_index, settings_for):
    """The same index behind HTX_API_KEY."""
    with BackgroundServer(create_app(assistant, settings=settings_for(built_index, api_key=API_KEY))) as srv:
        yield srv


def ask(client: httpx.Client, body: object, **kwargs) -> httpx.Response:
    return client.post("/ask", json=body, **kwargs)


def htx(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HTX_")}
    return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True, env=env,
                          timeout=600)


class Elements(HTMLParser):
    """Every element's tag and attributes, to check ids and classes without a browser."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    @classmethod
    def of(cls, html: str) -> list[tuple[str, dict[str, str]]]:
        parser = cls()
        parser.feed(html)
        return parser.elements


def metric(client: httpx.Client, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


# ------------------------------------------------------------------------------ answers


def test_health_reports_the_loaded_index(client, assistant):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() | {"generation": None} == {
        "status": "ok", "documents": 5, "chunks": assistant.chunk_count, "embedder": assistant.embedder_id,
        "generation": None,
    }


def test_ask_answers_exactly_what_htx_ask_json_prints(client, built_index):
    cli = htx("ask", QUESTION, "--json", "--index", str(built_index))
    assert cli.returncode == 0, cli.stderr
    response = ask(client, {"question": QUESTION})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == json.loads(cli.stdout)
    assert response.json()["citations"][0]["url"].startswith("/documents/")


def test_k_and_filters_narrow_the_citations(client):
    body = {"question": "hạn chót báo cáo", "k": 2, "filters": {"doc_ids": ["ha-tinh-kh-ubnd-2022"]}}
    citations = ask(client, body).json()["citations"]
    assert len(citations) == 2
    assert {c["doc_id"] for c in citations} == {"ha-tinh-kh-ubnd-2022"}


def test_a_filter_that_matches_nothing_is_an_abstention_not_an_error(client):
    response = ask(client, {"question": "hợp tác xã", "filters": {"localities": ["Đà Nẵng"]}})
    assert response.status_code == 200
    assert response.json()["abstained"] is True and response.json()["citations"] == []


# ------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "body, words",
    [
        ({"question": "   "}, "Câu hỏi trống"),
        ({"question": "x" * 2001}, "Câu hỏi quá dài"),
        ({"question": 42}, "'question' phải là chuỗi"),
        ({"question": ["Ai", "phụ trách"]}, "'question' phải là chuỗi"),
        ({}, "Thiếu trường 'question'"),
        ({"question": QUESTION, "k": 0}, "'k' phải là số nguyên từ 1 đến 20"),
        ({"question": QUESTION, "k": 21}, "'k' phải là số nguyên từ 1 đến 20"),
        ({"question": QUESTION, "k": "5"}, "'k' phải là số nguyên từ 1 đến 20"),
        ({"question": QUESTION, "k": 2.5}, "'k' phải là số nguyên từ 1 đến 20"),
        ({"question": QUESTION, "k": True}, "'k' phải là số nguyên từ 1 đến 20"),
        ({"question": QUESTION, "qestion": "typo"}, "Trường 'qestion' không được hỗ trợ"),
        ([QUESTION], "đối tượng JSON"),
        ("Ai phụ trách?", "đối tượng JSON"),
    ],
)
def test_invalid_fields_are_422_with_a_readable_detail(client, body, words):
    response = ask(client, body)
    assert response.status_code == 422
    assert words in response.json()["detail"]
    assert all(set(e) == {"field", "message"} for e in response.json()["errors"])


@pytest.mark.parametrize(
    "content, words",
    [
        (b'{"question": "Ai ph\xe1\xbb\xa5 tr\xc3', "UTF-8"),                   # cut inside a character
        (b'{"question": "Ai ph\xff tr\xe1ch?"}', "UTF-8"),                       # Windows-1258 bytes
        (b'{"question": "Ai phu trach?"', "JSON không hợp lệ"),
        (b'{question: "Ai phu trach?"}', "JSON không hợp lệ"),
        (b"", "Thiếu nội dung"),
        (b"   ", "Thiếu nội dung"),
    ],
)
def test_undecodable_bodies_are_400_with_a_readable_detail(client, content, words):
    response = client.post("/ask", content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert words in response.json()["detail"]


def test_a_body_that_is_not_json_is_415(client):
    response = client.post("/ask", content="question=Ai", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 415
    assert "application/json" in response.json()["detail"]


def test_an_oversized_body_is_refused_before_it_is_parsed(client, assistant):
    limit = assistant.settings.max_body_bytes
    # Not even valid JSON: a 400 would mean it had been read and parsed.
    response = client.post("/ask", content=b"{" * (limit + 1), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert f"tối đa {limit} byte" in response.json()["detail"]
    # Exactly at the limit the body is read (and found to be bad JSON).
    assert client.post("/ask", content=b"{" * limit, headers={"Content-Type": "application/json"}).status_code == 400


def test_a_streamed_body_is_cut_off_at_the_limit(client, assistant):
    limit = assistant.settings.max_body_bytes

    def chunks():  # no Content-Length: chunked transfer encoding
        yield b'{"question": "'
        for _ in range(limit // 1000 + 2):
            yield b"a" * 1000
        yield b'"}'

    response = client.post("/ask", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert "quá lớn" in response.json()["detail"]


def test_a_huge_content_length_is_answered_without_waiting_for_the_body(server):
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000000000\r\n\r\n")
        head = sock.recv(4096).decode("latin-1")
    assert head.startswith("HTTP/1.1 413")


def test_a_fine_question_still_works_after_the_refusals(client):
    assert ask(client, {"question": QUESTION, "k": 1}).status_code == 200


# ------------------------------------------------------------------------------ documents


def test_a_follow_up_in_a_conversation_is_understood_from_the_previous_question(client):
    chat = f"web-test-{time.time_ns()}"
    first = ask(client, {"question": "Ai phụ trách hướng dẫn thành lập HTX ở Vĩnh Linh?", "conversation_id": chat}).json()
    assert first["understood_as"] is None
    follow = ask(client, {"question": "còn ở Quảng Nam thì sao?", "conversation_id": chat}).json()
    assert follow["question"] == "còn ở Quảng Nam thì sao?"
    assert follow["understood_as"] == "Ai phụ trách hướng dẫn thành lập HTX ở Quảng Nam?"
    assert follow["citations"][0]["doc_id"] == "quang-nam-cv-2651-ubnd-ktn-2020"
    # Another conversation, or the same one started afresh, does not see that context.
    other = ask(client, {"question": "còn ở Quảng Nam thì sao?", "conversation_id": chat + "-other"}).json()
    assert other["understood_as"] is None
    fresh = ask(client, {"question": "còn ở Quảng Nam thì sao?", "conversation_id": chat,
                         "new_conversation": True}).json()
    assert fresh["understood_as"] is None


def test_documents_lists_the_corpus_with_metadata(client):
    items = client.get("/documents").json()
    assert [d["doc_id"] for d in items] == sorted(p.stem for p in CORPUS.glob("*.txt"))
    kh67 = next(d for d in items if d["doc_id"] == "vinh-linh-kh-67-hu-2023")
    assert kh67["number"] == "67-KH/HU" and kh67["issued"] == "2023-01-31"
    assert kh67["url"] == "/documents/vinh-linh-kh-67-hu-2023"


def test_unknown_document_is_404_for_browsers_and_clients(client):
    response = client.get("/documents/khong-co-van-ban-nay", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert "khong-co-van-ban-nay" in response.json()["detail"]
    assert client.get("/documents/khong-co-van-ban-nay.json").status_code == 404
    page = client.get("/documents/khong-co-van-ban-nay", headers={"Accept": "text/html"})
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html") and "Không tìm thấy văn bản" in page.text


def test_document_json_has_metadata_sections_and_their_anchors(client, assistant):
    doc = assistant.document("vinh-linh-cv-ubnd-nn-2023")
    for response in (client.get(f"/documents/{doc.doc_id}"), client.get(f"/documents/{doc.doc_id}.json"),
                     client.get(f"/documents/{doc.doc_id}", headers={"Accept": "application/json"})):
        assert response.status_code == 200
        body = response.json()
        assert body["meta"]["doc_id"] == doc.doc_id
        assert body["source_text"] == doc.source_text
        assert [s["anchor"] for s in body["sections"]] == [anchor_for(s.path) for s in doc.sections]
        assert body["sections"][0]["clause_label"]


def test_document_page_has_every_clause_as_an_anchor_and_marks_the_cited_one(client, assistant):
    doc = assistant.document("vinh-linh-cv-ubnd-nn-2023")
    response = client.get(f"/documents/{doc.doc_id}?highlight=s-3-3.2",
                          headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    elements = Elements.of(response.text)
    ids = [a["id"] for _, a in elements if "id" in a]
    anchors = [anchor_for(s.path) for s in doc.sections]
    assert [i for i in ids if i.startswith("s-")] == anchors
    marked = [a["id"] for tag, a in elements if "hl" in a.get("class", "").split()]
    assert marked == ["s-3-3.2"]
    outline = [a["href"] for tag, a in elements if tag == "a" and a.get("href", "").startswith("#")]
    assert outline == [f"#{x}" for x in anchors]
    assert '<html lang="vi">' in response.text and '<meta charset="utf-8">' in response.text
    # The whole text is there, from the letterhead to the signature.
    assert "Nguyễn Anh Tuấn" in response.text and "Kính gửi" in response.text
    for section in doc.sections:
        assert section.text.split()[0] in response.text


def test_every_citation_link_lands_on_an_element_of_its_document(client):
    for question in (QUESTION, "Kiên Giang đặt mục tiêu bao nhiêu hợp tác xã đến năm 2030?",
                     "Ở Hà Tĩnh, cơ quan nào quản lý Quỹ hỗ trợ phát triển hợp tác xã?"):
        for citation in ask(client, {"question": question}).json()["citations"]:
            path, anchor = citation["url"].split("#")
            page = client.get(f"{path}?highlight={anchor}", headers={"Accept": "text/html"})
            assert page.status_code == 200
            assert f'id="{anchor}"' in page.text
            assert [a["id"] for _, a in Elements.of(page.text) if "hl" in a.get("class", "").split()] == [anchor]


def test_an_unknown_highlight_marks_nothing(client):
    page = client.get("/documents/vinh-linh-cv-ubnd-nn-2023?highlight=%22%3E%3Cscript%3E",
                      headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "<script>" not in page.text.replace('<script src="/static/doc.js" defer></script>', "")
    assert not [a for _, a in Elements.of(page.text) if "hl" in a.get("class", "").split()]


# ------------------------------------------------------------------------------ the page


def test_the_page_is_vietnamese_self_contained_and_loads_only_its_own_assets(client):
    response = client.get("/", headers={"Accept": "text/html"})
    assert response.status_code == 200
    html = response.text
    assert '<html lang="vi">' in html and '<meta charset="utf-8">' in html
    assert 'name="viewport"' in html
    assert "Câu hỏi mẫu" in html and html.count('class="example"') >= 3
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assets = [a.get("src") or a.get("href") for tag, a in Elements.of(html) if tag in ("script", "link")]
    assert assets and all(a.startswith("/static/") for a in assets)
    for asset in assets:
        assert client.get(asset).status_code == 200
    script = client.get("/static/app.js").text
    # Data from the server goes in as text, never parsed as markup.
    assert not re.search(r"\.(inner|outer)HTML\s*[+]?=|insertAdjacentHTML|document\.write", script)
    assert "textContent" in script


def test_openapi_documents_the_endpoints_and_the_ask_body(client):
    spec = client.get("/openapi.json").json()
    assert {"/ask", "/health", "/documents", "/documents/{doc_id}", "/documents/{doc_id}.json", "/tasks",
            "/metrics"} <= set(spec["paths"])
    schemas = spec["components"]["schemas"]

    def resolve(schema: dict) -> dict:
        return schemas[schema["$ref"].rsplit("/", 1)[1]] if "$ref" in schema else schema

    body = resolve(spec["paths"]["/ask"]["post"]["requestBody"]["content"]["application/json"]["schema"])
    assert body["required"] == ["question"]
    k = next(s for s in body["properties"]["k"]["anyOf"] if s.get("type") == "integer")
    assert (k["minimum"], k["maximum"]) == (1, 20)
    assert "localities" in resolve(next(s for s in body["properties"]["filters"]["anyOf"] if "$ref" in s))["properties"]
    assert "text/html" in spec["paths"]["/documents/{doc_id}"]["get"]["responses"]["200"]["content"]
    assert client.get("/docs").status_code == 200


# ------------------------------------------------------------------------------ tasks


def test_tasks_are_the_register_filtered_by_agency_and_locality(client, assistant):
    if not hasattr(assistant, "tasks"):
        pytest.skip("Assistant.tasks (assistant/tasks.py, the task register) has not landed yet")
    everything = client.get("/tasks")
    assert everything.status_code == 200
    assert everything.json() == [t.model_dump(mode="json") for t in assistant.tasks()]
    assert everything.json(), "the corpus assigns tasks to agencies"
    local = client.get("/tasks", params={"locality": "Vĩnh Linh"}).json()
    assert local == [t.model_dump(mode="json") for t in assistant.tasks(locality="Vĩnh Linh")]
    assert 0 < len(local) < len(everything.json())
    agency = client.get("/tasks", params={"agency": "Phòng Nông nghiệp"}).json()
    assert agency == [t.model_dump(mode="json") for t in assistant.tasks(agency="Phòng Nông nghiệp")]


# ------------------------------------------------------------------------------ metrics


def _metric_counts(client) -> dict[str, float]:
    return {
        "ok": metric(client, "htx_http_requests_total", endpoint="/ask", method="POST", status="200"),
        "bad": metric(client, "htx_http_requests_total", endpoint="/ask", method="POST", status="400"),
        "timed": metric(client, "htx_http_request_duration_seconds_count", endpoint="/ask"),
        "questions": metric(client, "htx_questions_total"),
        "abstained": metric(client, "htx_abstentions_total"),
        "client_errors": metric(client, "htx_http_errors_total", endpoint="/ask", kind="client"),
        "doc": metric(client, "htx_http_requests_total", endpoint="/documents/{doc_id}", method="GET", status="404"),
    }


def test_metrics_count_requests_latency_abstentions_and_errors(client):
    before = _metric_counts(client)
    ask(client, {"question": QUESTION})
    ask(client, {"question": "hợp tác xã", "filters": {"doc_ids": ["khong-co"]}})
    client.post("/ask", content=b"{", headers={"Content-Type": "application/json"})
    client.get("/documents/khong-co")
    client.get("/documents/khong-co-nua")
    after = _metric_counts(client)
    assert {k: after[k] - before[k] for k in before} == {
        "ok": 2, "bad": 1, "timed": 3, "questions": 2, "abstained": 1, "client_errors": 1, "doc": 2,
    }
    text = client.get("/metrics").text
    assert 'htx_http_request_duration_seconds_bucket{endpoint="/ask",le="0.5"}' in text
    assert "htx_index_loaded 1.0" in text
    # Documents are labelled by route, so the label set stays bounded.
    assert "khong-co" not in text


def test_the_event_loop_stays_free_while_questions_are_answered(client, server):
    done: list[float] = []

    def one():
        with httpx.Client(base_url=server.url, timeout=120) as c:
            assert ask(c, {"question": QUESTION}).status_code == 200
        done.append(time.monotonic())

    threads = [threading.Thread(target=one) for _ in range(6)]
    for t in threads:
        t.start()
    time.sleep(0.05)
    assert client.get("/metrics").status_code == 200
    assert client.get("/health").status_code == 200
    answered_meanwhile = time.monotonic()
    for t in threads:
        t.join()
    # Six embeddings one after another take far longer than two small requests.
    assert answered_meanwhile < max(done)


# ------------------------------------------------------------------------------ API key


def test_without_a_key_configured_everything_is_open(client):
    assert client.get("/").status_code == 200
    assert client.get("/metrics").status_code == 200
    assert client.get("/login", follow_redirects=False).status_code == 303


def test_with_a_key_only_health_is_open(locked_server):
    with httpx.Client(base_url=locked_server.url, timeout=120) as c:
        assert c.get("/health").status_code == 200
        for method, path in (("POST", "/ask"), ("GET", "/documents"), ("GET", "/documents/vinh-linh-cv-ubnd-nn-2023"),
                             ("GET", "/tasks"), ("GET", "/metrics"), ("GET", "/openapi.json"), ("GET", "/")):
            response = c.request(method, path, json={"question": QUESTION} if method == "POST" else None)
            assert response.status_code == 401, path
            assert "X-API-Key" in response.json()["detail"]
        assert ask(c, {"question": QUESTION}, headers={"X-API-Key": "sai"}).status_code == 401
        assert ask(c, {"question": QUESTION}, headers={"X-API-Key": API_KEY}).status_code == 200
        assert c.get("/metrics", headers={"X-API-Key": API_KEY}).status_code == 200


def test_a_browser_is_sent_to_the_login_form_and_kept_logged_in_by_an_httponly_cookie(locked_server):
    html = {"Accept": "text/html"}
    with httpx.Client(base_url=locked_server.url, timeout=120) as c:
        page = c.get("/documents/vinh-linh-cv-ubnd-nn-2023?highlight=s-3-3.2", headers=html)
        assert page.status_code == 303
        assert page.headers["location"] == "/login?next=%2Fdocuments%2Fvinh-linh-cv-ubnd-nn-2023%3Fhighlight%3Ds-3-3.2"
        form = c.get(page.headers["location"], headers=html)
        assert form.status_code == 200 and 'name="key"' in form.text and 'lang="vi"' in form.text

        wrong = c.post("/login", data={"key": "sai", "next": "/"})
        assert wrong.status_code == 401 and "Khóa truy cập không đúng" in wrong.text
        assert not c.cookies

        target = "/documents/vinh-linh-cv-ubnd-nn-2023?highlight=s-3-3.2"
        right = c.post("/login", data={"key": API_KEY, "next": target})
        assert right.status_code == 303 and right.headers["location"] == target
        cookie = right.headers["set-cookie"]
        assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
        assert API_KEY not in cookie

        assert c.get(target, headers=html).status_code == 200
        assert c.get("/", headers=html).status_code == 200
        assert ask(c, {"question": QUESTION}).status_code == 200

        c.post("/logout")
        assert ask(c, {"question": QUESTION}).status_code == 401


def test_login_never_redirects_off_site(locked_server):
    with httpx.Client(base_url=locked_server.url, timeout=120) as c:
        for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
            response = c.post("/login", data={"key": API_KEY, "next": target})
            assert response.headers["location"] == "/", target


# ------------------------------------------------------------------------------ no index yet


@pytest.mark.slow
def test_starts_without_an_index_and_serves_it_once_htx_ingest_has_built_it(tmp_path, settings_for):
    index_dir = tmp_path / "later"
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / "quang-nam-cv-2651-ubnd-ktn-2020.txt", corpus)
    with BackgroundServer(create_app(settings_for(index_dir))) as srv, \
            httpx.Client(base_url=srv.url, timeout=120) as c:
        health = c.get("/health")
        assert health.status_code == 503
        assert "htx ingest" in health.json()["detail"]
        unavailable = ask(c, {"question": QUESTION})
        assert unavailable.status_code == 503 and "chỉ mục" in unavailable.json()["detail"]
        assert c.get("/").status_code == 200  # the page itself is up

        built = htx("ingest", "--corpus", str(corpus), "--index", str(index_dir))
        assert built.returncode == 0, built.stderr
        assert wait_for(lambda: c.get("/health"), lambda r: r.status_code == 200).json()["documents"] == 1
        assert ask(c, {"question": "Quảng Nam giao ai tham mưu?"}).json()["citations"][0]["doc_id"] == \
            "quang-nam-cv-2651-ubnd-ktn-2020"

        # A later ingest is picked up without a restart; markup in a document stays text.
        (corpus / "them-van-ban.txt").write_text(
            "KẾ HOẠCH\nThử nghiệm <script>alert(1)</script> & hiển thị\n"
            "1. Hỗ trợ thành lập mới hợp tác xã <b>nông nghiệp</b>.\n", encoding="utf-8")
        built = htx("ingest", "--corpus", str(corpus), "--index", str(index_dir))
        assert built.returncode == 0, built.stderr
        assert wait_for(lambda: c.get("/health"), lambda r: r.json().get("documents") == 2).status_code == 200
        page = c.get("/documents/them-van-ban", headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert "<script>alert" not in page.text and "<b>nông" not in page.text
        assert "alert(1)" in page.text and "&amp; hiển thị" in page.text


def wait_for(call, ok, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while True:
        result = call()
        if ok(result) or time.monotonic() > deadline:
            return result
        time.sleep(0.25)
