"""Optional generation: a language model rewrites the answer fluently from the retrieved
clauses only, citing them as [1], [2].

Off unless `HTX_LLM_BASE_URL` names an OpenAI-compatible endpoint (a local Ollama, vLLM,
llama.cpp server…); the model is reached through llama-index's `OpenAILike`. The model
never has the last word on provenance: every [n] it writes must name one of the
citations it was given, and it must cite at least one. On any error, on timeout
(`HTX_LLM_TIMEOUT_S`; rewriting a follow-up, `HTX_LLM_REWRITE_TIMEOUT_S`) or on a marker that does not check out, the extractive answer is
returned unchanged, so a misbehaving model costs fluency, never correctness.
"""
from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from index.settings import Settings

from .models import Answer, Citation

__all__ = ["Generator", "Rewriter", "check_markers", "clean_question_reply", "with_generation"]

log = logging.getLogger(__name__)

# "[1]", "[1, 3]", "[2-3]": every number inside must be a citation.
_MARKER = re.compile(r"\[\s*(\d+(?:\s*[,;–-]\s*\d+)*)\s*\]")
_EXECUTOR = ThreadPoolExecutor(max_workers=4, thread_name_prefix="htx-llm")
_MAX_CLAUSE_CHARS = 2500

_SYSTEM = {
    "vi": (
        "Bạn trả lời câu hỏi của cán bộ về văn bản chính sách hợp tác xã. Chỉ dùng các điều khoản "
        "được đánh số bên dưới, không thêm hiểu biết bên ngoài. Trả lời ngắn gọn bằng tiếng Việt, "
        "nêu thẳng điều được hỏi (cơ quan, thời hạn, chỉ tiêu), và ghi nguồn sau mỗi ý bằng số trong "
        "ngoặc vuông như [1] hoặc [2]. Nếu các điều khoản không trả lời được, hãy nói rõ như vậy."
    ),
    "en": (
        "You answer an official's question about Vietnamese cooperative policy documents. Use only "
        "the numbered clauses below, no outside knowledge. Answer briefly in English, stating exactly "
        "what was asked (agency, deadline, target), and cite the source of every statement with its "
        "number in square brackets, like [1] or [2]. Keep Vietnamese names of agencies as written. "
        "If the clauses do not answer the question, say so."
    ),
}


def check_markers(text: str, n_citations: int) -> list[int] | None:
    """The citation numbers `text` uses, or None when it uses none or one that does not exist."""
    numbers: set[int] = set()
    for group in _MARKER.findall(text):
        for part in re.split(r"\s*[,;]\s*", group):
            if re.search(r"[-–]", part):
                low, high = (int(x) for x in re.split(r"\s*[-–]\s*", part))
                if low > high:
                    return None
                numbers.update(range(low, high + 1))
            else:
                numbers.add(int(part))
    if not numbers or any(not 1 <= k <= n_citations for k in numbers):
        return None
    # Brackets that look like markers but are not numbers ("[a]", "[1a]") cannot be checked either.
    if re.search(r"\[\s*\d+[^\]\d,;\s–-][^\]]*\]", text):
        return None
    return sorted(numbers)


def _client(settings: Settings, timeout: float, temperature: float, max_tokens: int):
    import openai.resources  # noqa: F401
    from llama_index.llms.openai_like import OpenAILike

    # The openai client imports its resource modules on its first request (about 1.5 s here):
    # imported now, as the client is built and before any request's timer starts, they do not
    # eat the first question's timeout.
    return OpenAILike(
        model=settings.llm_model,
        api_base=settings.llm_base_url,
        api_key=settings.llm_api_key,
        is_chat_model=True,
        timeout=timeout,
        max_retries=0,                 # a retry would double the wait before the fallback
        temperature=temperature,
        max_tokens=max_tokens,
    )


def _chat(llm, messages, timeout: float, task: str, fallback: str) -> str | None:
    """The model's reply text, or None (logged) on timeout or any error, so the caller keeps `fallback`."""
    future = _EXECUTOR.submit(llm.chat, messages)
    try:
        response = future.result(timeout=timeout)
    except FutureTimeout:
        future.cancel()
        log.warning("%s timed out after %.1f s; %s kept", task, timeout, fallback)
        return None
    except Exception as exc:               # any transport, HTTP or parsing error
        log.warning("%s failed (%s: %s); %s kept", task, type(exc).__name__, exc, fallback)
        return None
    return response.message.content or ""


@dataclass
class Generated:
    text: str
    cited: list[int]


class Generator:
    def __init__(self, settings: Settings) -> None:
        self.timeout = settings.llm_timeout_s
        self.llm = _client(settings, self.timeout, temperature=0.1, max_tokens=600)

    def _messages(self, question: str, language: str, citations: list[Citation]):
        from llama_index.core.llms import ChatMessage, MessageRole

        clauses = "\n\n".join(
            f"[{n}] {c.doc_title}, {c.clause_label}:\n{c.text[:_MAX_CLAUSE_CHARS]}"
            for n, c in enumerate(citations, start=1)
        )
        label = ("Question", "Clauses") if language == "en" else ("Câu hỏi", "Các điều khoản")
        return [
            ChatMessage(role=MessageRole.SYSTEM, content=_SYSTEM["en" if language == "en" else "vi"]),
            ChatMessage(role=MessageRole.USER, content=f"{label[0]}: {question}\n\n{label[1]}:\n{clauses}"),
        ]

    def write(self, question: str, language: str, citations: list[Citation]) -> Generated | None:
        """The model's answer when it can be checked, else None (the caller keeps its own)."""
        if not citations:
            return None
        reply = _chat(self.llm, self._messages(question, language, citations), self.timeout,
                      "generation", "extractive answer")
        if reply is None:
            return None
        text = reply.strip()
        cited = check_markers(text, len(citations))
        if not text or cited is None:
            log.warning("generated answer cites nothing checkable; extractive answer kept")
            return None
        return Generated(text, cited)


def with_generation(answer: Answer, generator: Generator) -> Answer:
    """The answer rewritten by the model, its cited clauses quoted verbatim below it; the
    extractive `answer` itself when generation does not succeed."""
    if answer.abstained or not answer.citations:
        return answer
    generated = generator.write(answer.question, answer.language, answer.citations)
    if generated is None:
        return answer
    open_q, close_q = ("“", "”") if answer.language == "en" else ("«", "»")
    lines = [generated.text]
    for n in generated.cited:
        c = answer.citations[n - 1]
        lines += ["", f"[{n}] {c.doc_title}, {c.clause_label}:", f"{open_q}{c.text}{close_q}"]
    return answer.model_copy(update={"answer": "\n".join(lines)})


# --- follow-up rewriting ------------------------------------------------------------------

_REWRITE_SYSTEM = (
    "You rewrite the last message of a chat with an assistant about Vietnamese cooperative (HTX) "
    "policy documents into one standalone question that can be answered without the chat. Carry over "
    "from the earlier questions only what the last message leaves out (the topic, the place, the kind "
    "of question: who, when, how many), and let the last message replace what it names. If the last "
    "message already stands on its own, return it unchanged. Keep its language, and if it is "
    "Vietnamese typed without diacritics, keep it without diacritics. Reply with the question only, "
    "on one line, without explanation."
)
# A reply that starts with a label ("Câu hỏi: …", "Standalone question: …") keeps what follows it.
_LABEL = re.compile(r"^\s*(?:câu hỏi(?: độc lập| viết lại)?|standalone question|rewritten question|question)\s*:\s*",
                    re.IGNORECASE)


def clean_question_reply(text: str, message: str, context: str, max_chars: int) -> str | None:
    """The question in a model's reply, or None when the reply is not one question: empty,
    several lines of text, or far longer than the chat it was made from (an answer, not a question)."""
    lines = [line.strip() for line in (text or "").strip().splitlines() if line.strip()]
    if len(lines) != 1:
        return None
    question = _LABEL.sub("", lines[0]).strip().strip("\"'“”«»`").strip()
    if not question or len(question) > max_chars or len(question) > 2 * (len(message) + len(context)) + 40:
        return None
    return question


class Rewriter:
    """Follow-ups rewritten by the model; None whenever it cannot be used, so the caller keeps
    the rule-based rewrite."""

    def __init__(self, settings: Settings) -> None:
        # Its own bound, well below the answer's: the officer is waiting for the rewrite before
        # retrieval has even started, and the rules' rewrite is there at once.
        self.timeout = settings.llm_rewrite_timeout_s
        self.max_chars = settings.max_question_chars
        self.llm = _client(settings, self.timeout, temperature=0.0, max_tokens=200)

    def _messages(self, message: str, earlier: list[tuple[str, str]]):
        from llama_index.core.llms import ChatMessage, MessageRole

        chat = "\n".join(f"{n}. {asked}" + (f" (understood as: {understood})" if understood != asked else "")
                         for n, (asked, understood) in enumerate(earlier, start=1))
        return [
            ChatMessage(role=MessageRole.SYSTEM, content=_REWRITE_SYSTEM),
            ChatMessage(role=MessageRole.USER,
                        content=f"Earlier questions:\n{chat}\n\nLast message: {message}\n\nStandalone question:"),
        ]

    def rewrite(self, message: str, earlier: list[tuple[str, str]]) -> str | None:
        """`earlier`: the chat's previous questions as (asked, understood), oldest first."""
        if not earlier:
            return None
        reply = _chat(self.llm, self._messages(message, earlier), self.timeout, "rewriting", "rule-based rewrite")
        if reply is None:
            return None
        question = clean_question_reply(reply, message, earlier[-1][1], self.max_chars)
        if question is None:
            log.warning("model's rewrite is not one question; rule-based rewrite kept")
        return question
