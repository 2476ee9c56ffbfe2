"""Optional generation against a loopback OpenAI-compatible stand-in: a fluent answer is
used only when every [n] it writes names a citation; otherwise, and on any error or
timeout, the extractive answer comes back unchanged."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from assistant.llm import check_markers

QUESTION = "Ai phụ trách giải thể HTX ở Vĩnh Linh?"
TIMEOUT_S = 1.5


class StandIn:
    """Scripted /v1/chat/completions: `reply` is the next completion text, `status` its HTTP
    status, `delay` seconds to wait before answering; every request body is kept."""

    def __init__(self) -> None:
        self.reply = ""
        self.status = 200
        self.delay = 0.0
        self.requests: list[dict] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stand_in.requests.append({"path": self.path, "body": body})
                time.sleep(stand_in.delay)
                if stand_in.status != 200:
                    payload = {"error": {"message": "scripted failure", "type": "server_error"}}
                else:
                    payload = {
                        "id": "chatcmpl-standin", "object": "chat.completion", "created": int(time.time()),
                        "model": body.get("model", "stand-in"),
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": stand_in.reply}}],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    }
                data = json.dumps(payload).encode()
                try:
                    self.send_response(stand_in.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass                      # the client gave up (the timeout test)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def script(self, reply: str = "", status: int = 200, delay: float = 0.0) -> None:
        self.reply, self.status, self.delay = reply, status, delay


@pytest.fixture(scope="module")
def stand_in():
    server = StandIn()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture(scope="module")
def generating_assistant(built_index, settings_for, stand_in):
    from assistant.api import Assistant

    return Assistant.open(settings_for(built_index, llm_base_url=stand_in.url, llm_model="stand-in",
                                       llm_timeout_s=TIMEOUT_S))


@pytest.fixture(scope="module")
def extractive(assistant):
    """The answer without generation, for comparison."""
    assert not assistant.settings.llm_base_url
    return assistant.ask(QUESTION)


def test_a_good_answer_with_valid_markers_is_used(generating_assistant, stand_in, extractive):
    stand_in.script("Phòng Tài chính - Kế hoạch huyện Vĩnh Linh chủ trì việc vận động giải thể tự nguyện "
                    "và tham mưu giải thể bắt buộc [1], hoàn thành trong quý III năm 2023 [1].")
    answer = generating_assistant.ask(QUESTION)
    assert answer.answer.startswith("Phòng Tài chính - Kế hoạch huyện Vĩnh Linh chủ trì việc vận động")
    # The cited clause follows, verbatim, so the officer can check the sentence against it.
    assert f"[1] {answer.citations[0].doc_title}, {answer.citations[0].clause_label}:" in answer.answer
    assert answer.citations[0].text in answer.answer
    assert answer.citations == extractive.citations and answer.direct == extractive.direct
    # The model was given the question and the retrieved clauses, numbered as the citations.
    request = stand_in.requests[-1]
    assert request["path"] == "/v1/chat/completions" and request["body"]["model"] == "stand-in"
    prompt = "\n".join(m["content"] for m in request["body"]["messages"] if isinstance(m["content"], str))
    assert QUESTION in prompt
    for n, c in enumerate(answer.citations, start=1):
        assert f"[{n}] {c.doc_title}, {c.clause_label}:" in prompt


@pytest.mark.parametrize("reply", [
    "Phòng Tài chính - Kế hoạch huyện chủ trì [7].",          # there is no citation 7
    "Phòng Tài chính - Kế hoạch huyện chủ trì.",               # cites nothing
    "Phòng Tài chính - Kế hoạch huyện chủ trì [1][0].",
])
def test_an_unverifiable_citation_falls_back_to_the_extractive_answer(generating_assistant, stand_in,
                                                                      extractive, reply):
    stand_in.script(reply)
    answer = generating_assistant.ask(QUESTION)
    assert answer.answer == extractive.answer


def test_a_server_error_falls_back(generating_assistant, stand_in, extractive):
    stand_in.script("Phòng Tài chính - Kế hoạch huyện [1].", status=500)
    before = len(stand_in.requests)
    answer = generating_assistant.ask(QUESTION)
    assert answer.answer == extractive.answer
    assert len(stand_in.requests) == before + 1          # no retry doubling the wait


def test_a_timeout_falls_back_within_the_configured_time(generating_assistant, stand_in, extractive):
    stand_in.script("Phòng Tài chính - Kế hoạch huyện [1].", delay=TIMEOUT_S * 4)
    started = time.perf_counter()
    answer = generating_assistant.ask(QUESTION)
    elapsed = time.perf_counter() - started
    assert answer.answer == extractive.answer
    assert elapsed < TIMEOUT_S + 3.0        # not the stand-in's 6 s


def test_an_abstained_question_never_reaches_the_model(generating_assistant, stand_in):
    stand_in.script("Trời nắng [1].")
    before = len(stand_in.requests)
    answer = generating_assistant.ask("Thời tiết Hà Nội ngày mai thế nào?")
    assert answer.abstained and answer.citations == []
    assert len(stand_in.requests) == before


@pytest.mark.parametrize("text, n, expected", [
    ("A [1]. B [2].", 2, [1, 2]),
    ("A [1, 2].", 2, [1, 2]),
    ("A [1-3].", 3, [1, 2, 3]),
    ("A [1-3].", 2, None),
    ("A [0].", 2, None),
    ("A.", 2, None),
    ("A [1a].", 2, None),
])
def test_marker_check(text, n, expected):
    assert check_markers(text, n) == expected
