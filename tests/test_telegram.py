"""The Telegram bot as an officer meets it: the real python-telegram-bot client, talking real
HTTP to a loopback stand-in of the Bot API (tests/botapi_standin.py), over the real index of
corpus/. Each test sends updates the way Telegram would and asserts on what the bot called."""
from __future__ import annotations

import asyncio
import csv
import io
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading

import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from assistant.cli import cli
from assistant.models import Answer, Citation
from bots.feedback import FeedbackStore
from bots.telegram import COMMANDS, build_application, run_bot, webhook_secret
from bots.telegram_callbacks import CALLBACK_LIMIT, chunk_digest, citation_callback
from bots.telegram_format import answer_blocks, answer_keyboard
from bots.telegram_html import split_message, utf16_len
from botapi_standin import BotApiStandin, Call, html_to_text

TOKEN = "123456:TEST-token-must-never-be-logged"
SMALL_TOKEN = "223456:SMALL-limit"
HOOK_TOKEN = "323456:WEBHOOK-mode"
PUBLIC_URL = "https://htx.example.gov.vn"
GROUP = -100500
REFUSED_CHAT = 777000
# Private chats are their user's id; every test speaks as its own user so that rate limits
# and per-user locks of one test never touch another.
ALLOWED = [GROUP] + list(range(1000, 1100))
RATE = 3

WHO_FOUNDS_VI = "Ai phụ trách hướng dẫn thành lập HTX ở Vĩnh Linh?"


def collapse(text: str) -> str:
    return " ".join(text.split())


class RunningBot:
    """`run_bot` — the production entry point — on its own thread and event loop."""

    def __init__(self, api: BotApiStandin, token: str, username: str, app, settings) -> None:
        self.api, self.token, self.app, self.settings = api, token, app, settings
        api.register_bot(token, username)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=self._run, name=f"bot-{username}", daemon=True)

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        run_bot(self.app, self.settings, poll_timeout=1, stop_signals=None)

    def start(self) -> "RunningBot":
        mark = self.api.mark()
        self.thread.start()
        self.api.wait_for("setMyCommands", token=self.token, since=mark)
        return self

    def stop(self) -> None:
        if self.loop is not None and self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(15)
        assert not self.thread.is_alive(), "the bot did not shut down"


def bot_settings(settings_for, index_dir, token, api, **overrides):
    base = settings_for(index_dir)
    return base.model_copy(update={
        "telegram_bot_token": SecretStr(token),
        "telegram_api_base_url": api.base_url,
        "public_url": PUBLIC_URL,
        "telegram_allowed_chats": ",".join(map(str, ALLOWED)),
        "telegram_rate_per_minute": RATE,
        **overrides,
    })


@pytest.fixture(scope="module")
def api():
    standin = BotApiStandin().start()
    yield standin
    standin.stop()


@pytest.fixture(scope="module")
def feedback_dir(tmp_path_factory):
    # Not the shared index: tests must not modify it. `htx feedback --index` reads only this.
    return tmp_path_factory.mktemp("feedback")


@pytest.fixture(scope="module")
def bot(api, assistant, built_index, settings_for, feedback_dir):
    settings = bot_settings(settings_for, built_index, TOKEN, api)
    app = build_application(assistant, settings, feedback=FeedbackStore.for_index(feedback_dir))
    running = RunningBot(api, TOKEN, "htx_test_bot", app, settings).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def small_bot(api, assistant, built_index, settings_for, tmp_path_factory):
    """A second bot, another process in effect: messages capped at 600 characters."""
    settings = bot_settings(settings_for, built_index, SMALL_TOKEN, api, telegram_max_message_chars=600)
    store = FeedbackStore.for_index(tmp_path_factory.mktemp("small-feedback"))
    running = RunningBot(api, SMALL_TOKEN, "htx_small_bot", build_application(assistant, settings, feedback=store),
                         settings).start()
    yield running
    running.stop()


def ask(api: BotApiStandin, text: str, *, user: int, token: str = TOKEN, chat: int | None = None,
        chat_type: str = "private", reply_to: dict | None = None) -> tuple[dict, list[Call]]:
    """Send `text`; return the user's message and every message of the answer (the last
    one carries the buttons)."""
    chat = user if chat is None else chat
    mark = api.mark()
    message = api.send_text(token, chat_id=chat, user_id=user, text=text, chat_type=chat_type, reply_to=reply_to)
    api.wait_for("sendMessage", token=token, chat_id=chat, since=mark, where=lambda c: "reply_markup" in c.params)
    return message, api.find("sendMessage", token=token, chat_id=chat, since=mark)


def buttons(call: Call) -> list[dict]:
    return [b for row in call.params["reply_markup"]["inline_keyboard"] for b in row]


def shown(calls: list[Call]) -> str:
    return "\n\n".join(html_to_text(c.text) for c in calls)


# ------------------------------------------------------------------------ answers


def test_vietnamese_question_gets_the_clause_its_source_and_a_button_per_citation(api, bot):
    mark = api.mark()
    _, replies = ask(api, WHO_FOUNDS_VI, user=1001)
    answer = replies[-1]
    text = html_to_text(answer.text)
    assert answer.params["parse_mode"] == "HTML"
    assert "Phòng Nông nghiệp và PTNT" in text
    # The clause, verbatim, quoted under the document and clause it comes from, linked.
    assert re.search(r"<blockquote[^>]*>[^<]*hướng dẫn các cá nhân, sáng lập viên trong công tác thành lập hợp tác xã",
                     answer.text)
    assert "Công văn số …/UBND-NN của Ủy ban nhân dân huyện Vĩnh Linh, mục 3.1" in text
    assert f'href="{PUBLIC_URL}/documents/vinh-linh-cv-ubnd-nn-2023?highlight=s-3-3.1#s-3-3.1"' in answer.text
    assert "Bấm 📄 để xem toàn văn điều khoản" in text

    first, *_, up, down = buttons(answer)
    assert "mục 3.1" in first["text"] and "Vĩnh Linh" in first["text"]
    assert first["callback_data"] == "cv:vinh-linh-cv-ubnd-nn-2023::s-3-3.1::0"
    assert (up["text"], down["text"]) == ("👍", "👎")
    assert all(len(b["callback_data"].encode()) <= CALLBACK_LIMIT for b in buttons(answer))

    # The typing indicator shows while the answer is prepared, before it is sent.
    typing = api.find("sendChatAction", token=TOKEN, chat_id=1001, since=mark)
    assert typing and typing[0].params["action"] == "typing" and typing[0].at <= answer.at


def test_english_question_is_answered_in_english_quoting_the_vietnamese_clause(api, bot):
    _, replies = ask(api, "Which office is responsible for dissolving inactive cooperatives in Vinh Linh?", user=1002)
    answer = replies[-1]
    text = html_to_text(answer.text)
    assert re.search(r"<blockquote[^>]*>[^<]*giải thể tự nguyện theo khoản 1 Điều 54 Luật Hợp tác xã", answer.text)
    assert "Công văn số …/UBND-NN của Ủy ban nhân dân huyện Vĩnh Linh" in text
    assert "Tap 📄 for a clause's full text" in text and "Bấm" not in text
    assert buttons(answer)[0]["callback_data"].startswith("ce:vinh-linh-cv-ubnd-nn-2023::s-3-3.2::")


def test_question_typed_without_diacritics_finds_the_same_clause(api, bot):
    _, with_marks = ask(api, "Ai phụ trách giải thể HTX ở Vĩnh Linh?", user=1003)
    _, without = ask(api, "ai phu trach giai the htx o vinh linh", user=1003)
    assert "Công văn số …/UBND-NN của Ủy ban nhân dân huyện Vĩnh Linh, mục 3.2" in shown(without)
    assert buttons(without[-1])[0]["callback_data"] == buttons(with_marks[-1])[0]["callback_data"]


def test_a_citation_button_shows_the_clause_verbatim_with_a_link_to_the_document(api, bot, assistant):
    _, replies = ask(api, "Ai phụ trách giải thể HTX ở Vĩnh Linh?", user=1004)
    answer = replies[-1]
    data = buttons(answer)[0]["callback_data"]
    mark = api.mark()
    query_id = api.press(TOKEN, message=answer.result, data=data, user_id=1004)

    api.wait_for("answerCallbackQuery", token=TOKEN, callback_query_id=query_id, since=mark)
    api.wait_for("sendMessage", token=TOKEN, chat_id=1004, since=mark, where=lambda c: "highlight=" in c.text)
    clause = api.find("sendMessage", token=TOKEN, chat_id=1004, since=mark)
    text = shown(clause)
    # Mục 3.2 is long enough to be indexed in two parts; the button shows the whole clause.
    parts = [c for c in assistant.retriever.chunks if c.chunk_id.startswith("vinh-linh-cv-ubnd-nn-2023::s-3-3.2::")]
    assert len(parts) == 2
    for part in parts:
        assert collapse(part.text) in collapse(text)
    assert clause[0].params["reply_parameters"]["message_id"] == answer.result["message_id"]
    assert f'href="{PUBLIC_URL}/documents/vinh-linh-cv-ubnd-nn-2023?highlight=s-3-3.2#s-3-3.2"' in clause[-1].text


def test_citation_buttons_need_no_memory_of_the_answer_so_they_survive_a_restart(api, small_bot, assistant):
    # The small bot never sent these buttons: a press resolves from callback data alone,
    # in both forms (chunk id, and the digest used when an id would not fit in 64 bytes).
    chunk = next(c for c in assistant.retriever.chunks if c.chunk_id == "kien-giang-kh-251-ubnd-2023::s-II-2-a::0")
    long_id = "x" * 70
    assert citation_callback(long_id).startswith("hv:") and len(citation_callback(long_id)) <= CALLBACK_LIMIT
    foreign = {"message_id": 1, "date": 0, "chat": {"id": 1010, "type": "private"}, "text": "…"}
    for data in (citation_callback(chunk.chunk_id), f"hv:{chunk_digest(chunk.chunk_id)}"):
        mark = api.mark()
        api.press(SMALL_TOKEN, message=foreign, data=data, user_id=1010)
        # The clause comes in several messages here (600 characters each); the link ends it.
        api.wait_for("sendMessage", token=SMALL_TOKEN, chat_id=1010, since=mark, where=lambda c: "highlight=" in c.text)
        sent = api.find("sendMessage", token=SMALL_TOKEN, chat_id=1010, since=mark)
        assert "700 hợp tác xã với 100.000 thành viên" in shown(sent)

    mark = api.mark()
    query_id = api.press(SMALL_TOKEN, message=foreign, data="cv:no-such-doc::s-1::0", user_id=1010)
    gone = api.wait_for("answerCallbackQuery", token=SMALL_TOKEN, callback_query_id=query_id, since=mark)[0]
    assert gone.params["show_alert"] and "không còn" in gone.params["text"]


# ------------------------------------------------------------------------ commands


def test_commands_are_registered_and_start_gives_three_example_questions(api, bot):
    registered = api.find("setMyCommands", token=TOKEN)[0].params["commands"]
    assert [c["command"] for c in registered] == ["start", "help", "nguon", "nhiemvu", "moi"] == [c.command for c in COMMANDS]

    mark = api.mark()
    api.send_text(TOKEN, chat_id=1020, user_id=1020, text="/start")
    text = shown(api.wait_for("sendMessage", token=TOKEN, chat_id=1020, since=mark))
    assert "5 văn bản" in text and "Vĩnh Linh" in text and "Kiên Giang" in text
    assert len(re.findall(r"^• ", text, flags=re.M)) == 3

    mark = api.mark()
    api.send_text(TOKEN, chat_id=1020, user_id=1020, text="/help")
    assert "/nhiemvu" in shown(api.wait_for("sendMessage", token=TOKEN, chat_id=1020, since=mark))


def test_nguon_lists_every_document(api, bot, assistant):
    mark = api.mark()
    api.send_text(TOKEN, chat_id=1021, user_id=1021, text="/nguon")
    text = shown(api.wait_for("sendMessage", token=TOKEN, chat_id=1021, since=mark))
    for meta in assistant.documents():
        assert meta.display_title() in text and meta.doc_id in text
    assert "Kế hoạch số 251/KH-UBND của Ủy ban nhân dân tỉnh Kiên Giang" in text


def test_nhiemvu_lists_the_tasks_of_an_agency_with_deadlines_and_sources(api, bot, assistant):
    if not hasattr(assistant, "tasks"):
        pytest.skip("the task register (Assistant.tasks, assistant/tasks.py) has not landed yet")
    expected = assistant.tasks(agency="Phòng Nông nghiệp", locality="Vĩnh Linh")
    assert expected
    mark = api.mark()
    api.send_text(TOKEN, chat_id=1022, user_id=1022, text="/nhiemvu Phòng Nông nghiệp ở Vĩnh Linh")
    text = shown(api.wait_for("sendMessage", token=TOKEN, chat_id=1022, since=mark))
    assert f"({len(expected)})" in text
    first = expected[0]
    assert collapse(first.summary)[:60] in collapse(text)
    assert first.clause_label in text
    if first.deadline:
        assert f"Thời hạn: {first.deadline}" in text


def test_a_follow_up_is_understood_from_the_previous_question_until_moi(api, bot):
    ask(api, WHO_FOUNDS_VI, user=1051)
    _, replies = ask(api, "còn ở Quảng Nam thì sao?", user=1051)
    text = shown(replies)
    assert "Hiểu câu hỏi là: Ai phụ trách hướng dẫn thành lập HTX ở Quảng Nam?" in text
    assert buttons(replies[-1])[0]["callback_data"].startswith("cv:quang-nam-cv-2651-ubnd-ktn-2020::")

    mark = api.mark()
    api.send_text(TOKEN, chat_id=1051, user_id=1051, text="/moi")
    assert "câu hỏi mới" in shown(api.wait_for("sendMessage", token=TOKEN, chat_id=1051, since=mark))
    _, replies = ask(api, "còn ở Quảng Nam thì sao?", user=1051)
    assert "Hiểu câu hỏi là" not in shown(replies)


# ------------------------------------------------------------------------ who is answered


def test_a_chat_that_is_not_allowed_gets_a_polite_refusal_and_nothing_else(api, bot, feedback_dir):
    before = FeedbackStore.for_index(feedback_dir).counts()["answers"]
    mark = api.mark()
    api.send_text(TOKEN, chat_id=REFUSED_CHAT, user_id=REFUSED_CHAT, text=WHO_FOUNDS_VI)
    refusal = api.wait_for("sendMessage", token=TOKEN, chat_id=REFUSED_CHAT, since=mark)
    assert "chỉ phục vụ" in html_to_text(refusal[0].text) and str(REFUSED_CHAT) in refusal[0].text
    assert "reply_markup" not in refusal[0].params
    assert not api.find("sendChatAction", token=TOKEN, chat_id=REFUSED_CHAT, since=mark)
    assert FeedbackStore.for_index(feedback_dir).counts()["answers"] == before


def test_group_messages_are_answered_only_when_the_bot_is_addressed(api, bot):
    mark = api.mark()
    chatter = api.send_text(TOKEN, chat_id=GROUP, user_id=1030, chat_type="supergroup",
                            text="Ai phụ trách giải thể HTX ở Vĩnh Linh nhỉ mọi người?")
    mentioned, replies = ask(api, "@htx_test_bot Ai phụ trách giải thể HTX ở Vĩnh Linh?", user=1031, chat=GROUP,
                             chat_type="supergroup")
    assert "mục 3.2" in shown(replies)
    # The answer quotes the question it answers; nothing answered the chatter.
    assert replies[0].params["reply_parameters"]["message_id"] == mentioned["message_id"]
    answered = [c.params.get("reply_parameters", {}).get("message_id")
                for c in api.find("sendMessage", token=TOKEN, chat_id=GROUP, since=mark)]
    assert chatter["message_id"] not in answered

    # A reply to the bot's message is addressed to it too, and so is a command.
    _, follow = ask(api, "Còn thành lập HTX thì ai hướng dẫn?", user=1032, chat=GROUP, chat_type="supergroup",
                    reply_to=replies[-1].result)
    assert "Công văn số …/UBND-NN của Ủy ban nhân dân huyện Vĩnh Linh" in shown(follow)
    mark = api.mark()
    api.send_text(TOKEN, chat_id=GROUP, user_id=1033, chat_type="supergroup", text="/nguon@htx_test_bot")
    assert "Kiên Giang" in shown(api.wait_for("sendMessage", token=TOKEN, chat_id=GROUP, since=mark))


def test_rate_limit_answers_with_a_friendly_message_once(api, bot):
    mark = api.mark()
    questions = ["Ai phụ trách giải thể HTX ở Vĩnh Linh?", "Kiên Giang có bao nhiêu hợp tác xã?",
                 "Quỹ hỗ trợ phát triển HTX ở Hà Tĩnh?", "Quảng Nam giao nhiệm vụ gì?", "Vĩnh Linh làm gì?"]
    for question in questions:
        api.send_text(TOKEN, chat_id=1040, user_id=1040, text=question)
    api.wait_for("sendMessage", token=TOKEN, chat_id=1040, since=mark, count=RATE,
                 where=lambda c: "reply_markup" in c.params)
    notices = api.wait_for("sendMessage", token=TOKEN, chat_id=1040, since=mark,
                           where=lambda c: "đợi khoảng" in c.text)
    assert len(notices) == 1 and f"{RATE} câu mỗi phút" in notices[0].text
    answers = api.find("sendMessage", token=TOKEN, chat_id=1040, since=mark, where=lambda c: "reply_markup" in c.params)
    assert len(answers) == RATE
    # Another officer is not slowed down by the first one's burst.
    _, other = ask(api, "Ai phụ trách giải thể HTX ở Vĩnh Linh?", user=1041)
    assert "mục 3.2" in shown(other)


def test_one_question_at_a_time_per_user(api, bot):
    mark = api.mark()
    api.send_text(TOKEN, chat_id=1045, user_id=1045, text="Ai phụ trách giải thể HTX ở Vĩnh Linh?")
    api.send_text(TOKEN, chat_id=1045, user_id=1045, text="Kiên Giang có bao nhiêu hợp tác xã?")
    api.wait_for("sendMessage", token=TOKEN, chat_id=1045, since=mark, count=2, where=lambda c: "reply_markup" in c.params)
    sequence = [c.method for c in api.find(token=TOKEN, chat_id=1045, since=mark)
                if c.method in ("sendChatAction", "sendMessage")]
    # The second question starts (typing) only once the first is answered.
    assert sequence == ["sendChatAction", "sendMessage", "sendChatAction", "sendMessage"]


# ------------------------------------------------------------------------ long replies


def test_splitter_cuts_long_replies_at_paragraphs_with_balanced_tags():
    paragraph = "Điều {n}. Hợp tác xã <loại A> & tổ hợp tác được hỗ trợ; " + "nội dung hỗ trợ chi tiết " * 20
    long_clause = "\n\n".join(paragraph.format(n=n) for n in range(1, 40))
    title = "Kế hoạch số 1/KH-UBND của Ủy ban nhân dân tỉnh X"
    citation = Citation(doc_id="d", doc_title=title, clause=["1"], clause_label="mục 1", text=long_clause,
                        score=1.0, url="", anchor="s-1", chunk_id="d::s-1::0", issued="2023-05-12")
    # As assistant/answer.py composes it: the direct sentence, then each cited clause quoted.
    composed = f"Phòng Nông nghiệp & PTNT chủ trì, theo {title}, mục 1.\n\n[1] {title}, mục 1:\n«{long_clause}»"
    answer = Answer(question="q", answer=composed, abstained=False, citations=[citation],
                    direct="Phòng Nông nghiệp & PTNT")
    messages = split_message(answer_blocks(answer, PUBLIC_URL), 4096)

    assert len(messages) >= 4
    for message in messages:
        assert utf16_len(message) <= 4096
        html_to_text(message)          # raises on an unbalanced or unknown tag
    text = "".join(html_to_text(m) for m in messages)
    for n in range(1, 40):
        assert text.count(f"Điều {n}. Hợp tác xã <loại A> & tổ hợp tác") == 1
    # The quotation is cut between the clause's paragraphs, each piece quoted again, and
    # its source line stays with the first piece.
    quoted = [q for m in messages for q in re.findall(r"<blockquote[^>]*>(.*?)</blockquote>", m, flags=re.S)]
    assert len(quoted) >= 4 and all(q.startswith("Điều ") for q in quoted)
    assert re.search(r"\[1\] Kế hoạch số 1/KH-UBND[^\n]*</a>\n<blockquote", messages[0] + messages[1])
    assert "<b>Phòng Nông nghiệp &amp; PTNT</b>" in messages[0]


def test_an_answer_the_documents_do_not_give_has_no_citation_buttons_but_can_be_rated():
    # Whether to abstain is the assistant's call (assistant/abstain.py); showing it is the bot's.
    answer = Answer(question="Thời tiết hôm nay thế nào?", abstained=True, citations=[],
                    answer="Các văn bản hiện có không trả lời được câu hỏi này.\n\nHãy hỏi về <cơ quan> & thời hạn.")
    messages = split_message(answer_blocks(answer, PUBLIC_URL))
    assert [html_to_text(m) for m in messages] == [
        "Các văn bản hiện có không trả lời được câu hỏi này.\n\nHãy hỏi về <cơ quan> & thời hạn."]
    assert [[b.text for b in row] for row in answer_keyboard(answer, 7).inline_keyboard] == [["👍", "👎"]]


def test_a_reply_over_the_limit_arrives_as_several_valid_messages_buttons_on_the_last(api, small_bot):
    _, replies = ask(api, "Ai phụ trách hướng dẫn thành lập HTX ở Vĩnh Linh?", user=1050, token=SMALL_TOKEN)
    assert len(replies) >= 3
    assert all(utf16_len(c.text) <= 600 and not isinstance(c.result, Exception) for c in replies)
    assert ["reply_markup" in c.params for c in replies] == [False] * (len(replies) - 1) + [True]
    text = collapse(shown(replies))
    assert "hướng dẫn các cá nhân, sáng lập viên trong công tác thành lập hợp tác xã đúng quy định" in text
    assert "mục 3.1" in text


# ------------------------------------------------------------------------ feedback


def test_feedback_is_stored_with_the_answer_and_exported_as_csv(api, bot, feedback_dir):
    question = "Kiên Giang đặt mục tiêu bao nhiêu hợp tác xã đến năm 2030?"
    _, replies = ask(api, question, user=1060)
    answer = replies[-1]
    *_, up, down = buttons(answer)
    mark = api.mark()
    api.press(TOKEN, message=answer.result, data=down["callback_data"], user_id=1060)
    thanks = api.wait_for("answerCallbackQuery", token=TOKEN, since=mark)[0]
    assert "👎" in thanks.params["text"]
    edited = api.wait_for("editMessageReplyMarkup", token=TOKEN, chat_id=1060, since=mark)[0]
    assert [b["text"] for b in buttons(edited)][-2:] == ["👍", "👎 ✓"]

    result = CliRunner().invoke(cli, ["feedback", "--csv", "--index", str(feedback_dir)])
    assert result.exit_code == 0, result.output
    rows = [r for r in csv.DictReader(io.StringIO(result.output)) if r["question"] == question]
    assert len(rows) == 1
    row = rows[0]
    assert row["vote"] == "down" and row["chat_id"] == "1060"
    assert "700 hợp tác xã với 100.000 thành viên" in row["answer"]
    assert "Kế hoạch số 251/KH-UBND của Ủy ban nhân dân tỉnh Kiên Giang, mục II.2.a" in row["citations"]

    # Changing one's mind replaces the vote rather than adding one.
    mark = api.mark()
    api.press(TOKEN, message=answer.result, data=up["callback_data"], user_id=1060)
    api.wait_for("answerCallbackQuery", token=TOKEN, since=mark)
    votes = [r for r in FeedbackStore.for_index(feedback_dir).voted() if r["question"] == question]
    assert [v["vote"] for v in votes] == [1]


# ------------------------------------------------------------------------ failures and secrets


def test_a_failing_handler_tells_the_user_and_the_bot_keeps_answering(api, bot):
    # Telegram refuses the answer (as it does a message it cannot parse): the handler raises.
    api.fail_next("sendMessage", when=lambda p: p.get("chat_id") == 1070 and "reply_markup" in p)
    mark = api.mark()
    api.send_text(TOKEN, chat_id=1070, user_id=1070, text=WHO_FOUNDS_VI)
    apology = api.wait_for("sendMessage", token=TOKEN, chat_id=1070, since=mark,
                           where=lambda c: not isinstance(c.result, Exception))[0]
    assert "đã có lỗi" in apology.text
    _, replies = ask(api, WHO_FOUNDS_VI, user=1070)
    assert "mục 3.1" in shown(replies)


def test_a_question_the_assistant_refuses_gets_its_reason(api, bot):
    mark = api.mark()
    api.send_text(TOKEN, chat_id=1075, user_id=1075, text="hợp tác xã " * 250)
    reply = api.wait_for("sendMessage", token=TOKEN, chat_id=1075, since=mark)[0]
    assert "Câu hỏi quá dài" in reply.text and "reply_markup" not in reply.params


def test_the_token_never_reaches_the_logs(api, bot, caplog):
    caplog.set_level(logging.DEBUG)
    ask(api, WHO_FOUNDS_VI, user=1080)
    assert caplog.records, "nothing was logged, so nothing was checked"
    assert not [r for r in caplog.records if TOKEN in r.getMessage() or TOKEN.split(":")[1] in r.getMessage()]


# ------------------------------------------------------------------------ webhook mode


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_webhook_mode_registers_its_url_with_a_secret_and_answers_what_telegram_delivers(
        api, assistant, built_index, settings_for, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/hook"
    settings = bot_settings(settings_for, built_index, HOOK_TOKEN, api, telegram_webhook_url=url,
                            telegram_webhook_listen="127.0.0.1", telegram_webhook_port=port)
    app = build_application(assistant, settings, feedback=FeedbackStore(tmp_path / "fb.sqlite3"))
    running = RunningBot(api, HOOK_TOKEN, "htx_hook_bot", app, settings).start()
    try:
        hook = api.wait_for("setWebhook", token=HOOK_TOKEN)[0]
        assert hook.params["url"] == url
        assert hook.params["secret_token"] == webhook_secret(settings) and HOOK_TOKEN not in webhook_secret(settings)
        _, replies = ask(api, "giai the htx o vinh linh", user=1090, token=HOOK_TOKEN)
        assert "mục 3.2" in shown(replies)
        assert not api.find("getUpdates", token=HOOK_TOKEN)

        import httpx

        forged = httpx.post(url, json={"update_id": 1, "message": {}}, headers={"X-Telegram-Bot-Api-Secret-Token": "x"})
        assert forged.status_code == 403
    finally:
        running.stop()


# ------------------------------------------------------------------------ the command


def test_htx_bot_runs_from_the_environment_and_stops_cleanly_on_sigterm(api, built_index, tmp_path):
    token = "423456:CLI-token-must-never-be-logged"
    api.register_bot(token, "htx_cli_bot")
    index_dir = tmp_path / "index"
    shutil.copytree(built_index, index_dir)   # the bot writes its feedback database there
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HTX_", "TELEGRAM_"))}
    env |= {"TELEGRAM_BOT_TOKEN": token, "TELEGRAM_API_BASE_URL": api.base_url,
            "HTX_TELEGRAM_ALLOWED_CHATS": "1100"}
    mark = api.mark()
    process = subprocess.Popen([sys.executable, "-m", "assistant", "bot", "--index", str(index_dir)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        api.wait_for("setMyCommands", token=token, since=mark, timeout=120)
        _, replies = ask(api, "ai phu trach giai the htx o vinh linh", user=1100, token=token)
        assert "mục 3.2" in shown(replies)
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "long polling" in output
    assert token not in output and token.split(":")[1] not in output
    assert (index_dir / "feedback.sqlite3").exists()
