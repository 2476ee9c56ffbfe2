"""Optional generation against a loopback OpenAI-compatible stand-in: a fluent answer is
used only when every [n] it writes names a citation; otherwise, and on any error or
timeout, the extractive answer comes back unchanged. The same endpoint may rewrite a chat's
follow-ups; a rewrite that is not one question keeping to the chat, an error or a timeout
leaves the rule-based rewrite in place."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from assistant.llm import check_markers

QUESTION = "Ai phụ trách giải thể HTX ở Vĩnh Linh?"
TIMEOUT_S = 1.5          # for the tests of a model too slow to wait for
PATIENT_S = 30.0         # for the others: the machine's load must not decide what they see


def is_rewrite_request(body: dict) -> bool:
    return "standalone question" in body["messages"][0]["content"]


class StandIn:
    """Scripted /v1/chat/completions: `reply` is the next completion text, `status` its HTTP
    status, `delay` seconds to wait before answering; every request body is kept. Requests to
    rewrite a follow-up get their own script (`script_rewrite`), answers the other one."""

    def __init__(self) -> None:
        self.reply = ""
        self.status = 200
        self.delay = 0.0
        self.rewrite_script = ("", 200, 0.0)
        self.requests: list[dict] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stand_in.requests.append({"path": self.path, "body": body})
                reply, status, delay = (stand_in.rewrite_script if is_rewrite_request(body)
                                        else (stand_in.reply, stand_in.status, stand_in.delay))
                time.sleep(delay)
                if status != 200:
                    payload = {"error": {"message": "scripted failure", "type": "server_error"}}
                else:
                    payload = {
                        "id": "chatcmpl-standin", "object": "chat.completion", "created": int(time.time()),
                        "model": body.get("model", "stand-in"),
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": reply}}],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    }
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
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

    def script_rewrite(self, reply: str = "", status: int = 200, delay: float = 0.0) -> None:
        self.rewrite_script = (reply, status, delay)

    def rewrite_requests(self) -> list[dict]:
        return [r for r in self.requests if is_rewrite_request(r["body"])]


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
                                       llm_timeout_s=PATIENT_S, llm_rewrite_timeout_s=PATIENT_S))


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


def test_a_timeout_falls_back_within_the_configured_time(built_index, settings_for, stand_in, extractive):
    from assistant.api import Assistant

    bot = Assistant.open(settings_for(built_index, llm_base_url=stand_in.url, llm_model="stand-in",
                                      llm_timeout_s=TIMEOUT_S, llm_rewrite_timeout_s=TIMEOUT_S))
    stand_in.script("Phòng Tài chính - Kế hoạch huyện [1].", delay=TIMEOUT_S * 4)
    started = time.perf_counter()
    answer = bot.ask(QUESTION)
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


# --- follow-ups rewritten by the model ----------------------------------------------------

FIRST = "Ai phụ trách giải thể HTX ở Vĩnh Linh?"
FOLLOW = "còn ở Hà Tĩnh thì sao?"
MODEL_REWRITE = "Ở Hà Tĩnh, ai xử lý dứt điểm các hợp tác xã ngừng hoạt động, chờ giải thể?"


def converse(bot, *messages: str):
    chat_id = f"llm-{time.time_ns()}"
    return [bot.ask_in_conversation(chat_id, m) for m in messages]


@pytest.fixture(scope="module")
def rule_rewrite(assistant) -> str:
    """How the rules understand FOLLOW, for comparison."""
    return converse(assistant, FIRST, FOLLOW)[1].understood_as


def test_the_model_rewrites_a_follow_up_from_the_chat_and_the_answer_shows_it(generating_assistant, stand_in,
                                                                             rule_rewrite):
    stand_in.script("")                                   # generation falls back: only rewriting is tested
    stand_in.script_rewrite(MODEL_REWRITE)
    before = len(stand_in.rewrite_requests())
    first, follow = converse(generating_assistant, FIRST, FOLLOW)
    assert first.understood_as is None                    # a first question has nothing to lean on
    assert follow.question == FOLLOW and follow.understood_as == MODEL_REWRITE != rule_rewrite
    assert (follow.citations[0].doc_id, follow.citations[0].clause) == ("ha-tinh-kh-ubnd-2022", ["Phụ lục", "3.1"])
    requests = stand_in.rewrite_requests()[before:]
    assert len(requests) == 1
    prompt = requests[0]["body"]["messages"][-1]["content"]
    assert FIRST in prompt and FOLLOW in prompt


@pytest.mark.parametrize("reply, status", [
    ("", 200),                                                         # nothing
    ("UBND các huyện xử lý dứt điểm.\nNguồn: Phụ lục 3.1", 200),        # an answer, not a question
    ("Ở Kiên Giang, ai xử lý các hợp tác xã chờ giải thể?", 200),      # a place the chat never named
    ("Ai phụ trách giải thể HTX ở Vĩnh Linh?", 200),                   # dropped the place the message names
    (MODEL_REWRITE, 500),                                              # server error
])
def test_a_rewrite_that_does_not_keep_to_the_chat_leaves_the_rules_rewrite(generating_assistant, stand_in,
                                                                           rule_rewrite, reply, status):
    stand_in.script("")
    stand_in.script_rewrite(reply, status=status)
    follow = converse(generating_assistant, FIRST, FOLLOW)[1]
    assert follow.understood_as == rule_rewrite


def test_a_slow_model_leaves_the_rules_rewrite_within_the_rewriting_time(built_index, settings_for, stand_in,
                                                                          rule_rewrite):
    from assistant.api import Assistant

    # Answers may take their 30 s; the rewrite that comes before retrieval has its own, shorter bound.
    bot = Assistant.open(settings_for(built_index, llm_base_url=stand_in.url, llm_model="stand-in",
                                      llm_timeout_s=PATIENT_S, llm_rewrite_timeout_s=TIMEOUT_S))
    stand_in.script("")
    stand_in.script_rewrite(MODEL_REWRITE, delay=TIMEOUT_S * 4)
    chat_id = f"llm-{time.time_ns()}"
    bot.ask_in_conversation(chat_id, FIRST)
    started = time.perf_counter()
    follow = bot.ask_in_conversation(chat_id, FOLLOW)
    assert follow.understood_as == rule_rewrite
    assert time.perf_counter() - started < TIMEOUT_S + 3.0   # not the stand-in's 6 s, nor the answer's 30 s


def test_rewriting_by_the_model_can_be_switched_off(built_index, settings_for, stand_in, rule_rewrite):
    from assistant.api import Assistant

    bot = Assistant.open(settings_for(built_index, llm_base_url=stand_in.url, llm_model="stand-in",
                                      llm_timeout_s=PATIENT_S, llm_rewrite=False))
    stand_in.script("")
    stand_in.script_rewrite(MODEL_REWRITE)
    before = len(stand_in.rewrite_requests())
    follow = converse(bot, FIRST, FOLLOW)[1]
    assert follow.understood_as == rule_rewrite and len(stand_in.rewrite_requests()) == before
