"""Follow-up questions in a chat: "còn ở Hà Tĩnh thì sao?", "hạn chót?", "what about the fund?".

Each question is kept with what was understood from it: the intent cue as typed ("Ai phụ
trách"), the topic ("hướng dẫn thành lập HTX") and the locality. A short message that leans on
the previous one replaces only what it names and carries the rest over; a message with its own
topic stands alone and is not rewritten. State lives in memory with a time-out and a size bound,
and in SQLite when a path is given, so a restarted bot remembers its chats.
"""
from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections import OrderedDict
from pathlib import Path

from pydantic import BaseModel, Field

from index.normalize import fold, normalize_text, strip_diacritics

from .query import _cue_patterns, _find_localities, _loose_regex, understand

# Markers that make a message lean on the previous one. Matched on the folded, unaccented text.
_FOLLOW_UP_START = re.compile(
    r"^(?:(?:the|vay|con|va)\s+con|con|va|the|vay|nhung|what about|how about|and(?: in| for| what about)?|also)\b"
)
_FOLLOW_UP_END = re.compile(r"(?:thi sao|the nao|ra sao|nua|sao|thi|then|too)\s*[?.!]*\s*$")
_LOCALITY_PREPOSITIONS = r"(?:ở|tại|của|cho|huyện|tỉnh|in|at|for|of)"
# Words that carry no topic on their own.
_FILLER = set(
    "còn thế vậy và thì sao nào nữa là gì ở tại của cho với huyện tỉnh the a an in at for of and what about "
    "how is are was were do does did be to on by then too also với những các cái đó này ấy nhỉ nhé ạ vậy ơi "
    "phải cần sẽ đã được should must will has have "
    "what's about?".split()
)
_FILLER_FOLDED = {strip_diacritics(fold(w)) for w in _FILLER}


class Turn(BaseModel):
    question: str                 # as typed
    understood: str               # the standalone question that was answered
    cue: str = ""                 # the intent words as typed: "Ai phụ trách", "Who handles"
    topic: str = ""               # "hướng dẫn thành lập HTX"
    locality: str | None = None
    intent: str = "general"
    language: str = "vi"
    doc_ids: list[str] = Field(default_factory=list)   # documents cited in the answer
    at: float = Field(default_factory=time.time)


class Conversation(BaseModel):
    turns: list[Turn] = Field(default_factory=list)

    @property
    def last(self) -> Turn | None:
        return self.turns[-1] if self.turns else None


class Rewrite(BaseModel):
    question: str                 # what to answer
    rewritten: bool               # False when the message stood on its own
    turn: Turn                    # what was understood, to remember after answering


def analyse(message: str, known_localities: list[str]) -> Turn:
    """Split a question into cue, topic and locality."""
    text = normalize_text(message).strip()
    query = understand(text, known_localities)
    localities, spans = _find_localities(text, known_localities)
    cues = _cue_spans(text)
    masked = list(text)
    for start, end in spans + cues:
        masked[start:end] = " " * (end - start)
    topic = _clean_topic("".join(masked))
    cue = text[cues[0][0]:cues[-1][1]] if cues else ""
    return Turn(question=text, understood=text, cue=cue, topic=topic,
                locality=localities[0] if localities else None, intent=query.intent, language=query.language)


def rewrite(message: str, previous: Turn | None, known_localities: list[str]) -> Rewrite:
    """The standalone question a follow-up stands for, carrying over what it does not replace."""
    turn = analyse(message, known_localities)
    if previous is None:
        return Rewrite(question=turn.question, rewritten=False, turn=turn)
    folded = strip_diacritics(fold(turn.question))
    marked = bool(_FOLLOW_UP_START.search(folded) or _FOLLOW_UP_END.search(folded))
    # "hạn chót báo cáo là khi nào?" names a topic too thin to stand without the previous one.
    has_topic = _content_words(turn.topic) > 2 or (_content_words(turn.topic) > 0 and not turn.cue)
    if has_topic and not marked:
        # A question with its own topic stands alone when it says where or which document;
        # otherwise it is asked about the place the chat is about ("mỗi năm phải lập mới bao nhiêu?").
        if turn.locality or not previous.locality or understand(turn.question).document_numbers:
            return Rewrite(question=turn.question, rewritten=False, turn=turn)
        inherited = turn.model_copy(update={"locality": previous.locality})
        inherited.understood = _replace_locality(turn.question, None, previous.locality, turn.language)
        return Rewrite(question=inherited.understood, rewritten=True, turn=inherited)
    if not (has_topic or turn.cue or turn.locality):
        return Rewrite(question=turn.question, rewritten=False, turn=turn)

    locality = turn.locality or previous.locality
    merged = previous.model_copy(update={
        "question": turn.question,
        "topic": turn.topic if has_topic else previous.topic,
        "locality": locality,
        "doc_ids": [],
        "at": turn.at,
    })
    if turn.cue and has_topic:
        # "thế còn ai chủ trì quỹ?": a new question in short; only the locality carries over.
        merged.cue, merged.intent = turn.cue, turn.intent
        understood = render(merged)
    elif turn.cue:
        # "hạn chót là khi nào?", "ai chủ trì?": the fragment asks about the previous topic.
        merged.cue, merged.intent = turn.cue, turn.intent
        where = "" if not locality else (f" in {locality}" if previous.language == "en" else f" ở {locality}")
        understood = f"{_capitalize(previous.topic)}{where}: {turn.question}"
    else:
        understood = previous.understood
        if turn.locality:
            understood = _replace_locality(understood, previous.locality, turn.locality, previous.language)
        if has_topic:
            # "còn quỹ hỗ trợ thì sao?": the same question about another topic. A bare "ai"/"who"
            # took its verb from the old topic, so it gets a neutral one.
            if strip_diacritics(fold(merged.cue)) in ("ai", "who"):
                merged.cue = "Who handles" if merged.language == "en" else "Ai phụ trách"
            understood = render(merged)
    merged.understood = understood
    return Rewrite(question=understood, rewritten=True, turn=merged)


def render(turn: Turn) -> str:
    """A full question from its parts, in the turn's language."""
    cue = turn.cue or ("What about" if turn.language == "en" else "")
    where = ""
    if turn.locality:
        where = f" in {turn.locality}" if turn.language == "en" else f" ở {turn.locality}"
    sentence = " ".join(part for part in (cue, turn.topic) if part) + where
    sentence = re.sub(r"\s+", " ", sentence).strip(" ?")
    return (_capitalize(sentence) + "?") if sentence else turn.question


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


def _replace_locality(question: str, old: str | None, new: str, language: str) -> str:
    if old:
        replaced, n = _loose_regex(old).subn(new, question, count=1)
        if n:
            return replaced
    where = f" in {new}" if language == "en" else f" ở {new}"
    return question.rstrip(" ?") + where + "?"


def _cue_spans(text: str) -> list[tuple[int, int]]:
    """Every intent cue in the question, merged, with the verb that belongs to a cue
    ("Ai phụ trách", "Who handles")."""
    spans = []
    for _, _, pattern in _cue_patterns():
        for m in pattern.finditer(text):
            end = m.end()
            tail = re.match(r"\s+(?:phụ trách|chủ trì|chịu trách nhiệm|phu trach|chu tri|handles?|leads?"
                            r"|is responsible for|là)\b", text[end:], re.IGNORECASE)
            spans.append((m.start(), end + (tail.end() if tail else 0)))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _clean_topic(text: str) -> str:
    words = re.findall(r"[\w&/.-]+", text)
    # Drop markers and fillers at the edges; inside the topic they may matter ("quỹ của HTX").
    while words and strip_diacritics(fold(words[0])) in _FILLER_FOLDED:
        words.pop(0)
    while words and strip_diacritics(fold(words[-1])) in _FILLER_FOLDED:
        words.pop()
    topic = " ".join(words)
    return re.sub(rf"\s+{_LOCALITY_PREPOSITIONS}$", "", topic, flags=re.IGNORECASE).strip()


def _content_words(text: str) -> int:
    return sum(1 for w in re.findall(r"\w+", text) if strip_diacritics(fold(w)) not in _FILLER_FOLDED)


class ConversationStore:
    """Conversations by id (a Telegram chat, a web session): bounded, expiring, optionally persisted."""

    def __init__(self, path: Path | None = None, ttl_s: float = 1800, max_conversations: int = 10_000,
                 max_turns: int = 5) -> None:
        self.ttl_s = ttl_s
        self.max_conversations = max_conversations
        self.max_turns = max_turns
        self._memory: OrderedDict[str, Conversation] = OrderedDict()
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), check_same_thread=False)
            self._db.execute("CREATE TABLE IF NOT EXISTS conversations (id TEXT PRIMARY KEY, data TEXT, at REAL)")
            self._db.commit()

    def get(self, conversation_id: str) -> Conversation:
        with self._lock:
            conv = self._memory.get(conversation_id)
            if conv is None and self._db is not None:
                row = self._db.execute("SELECT data FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
                conv = Conversation.model_validate_json(row[0]) if row else None
            if conv is None or (conv.last and time.time() - conv.last.at > self.ttl_s):
                return Conversation()
            return conv.model_copy(deep=True)

    def add(self, conversation_id: str, turn: Turn) -> None:
        with self._lock:
            conv = self._memory.pop(conversation_id, None) or Conversation()
            conv.turns = (conv.turns + [turn])[-self.max_turns:]
            self._memory[conversation_id] = conv
            while len(self._memory) > self.max_conversations:
                self._memory.popitem(last=False)
            if self._db is not None:
                self._db.execute("INSERT OR REPLACE INTO conversations VALUES (?, ?, ?)",
                                 (conversation_id, conv.model_dump_json(), turn.at))
                self._db.execute("DELETE FROM conversations WHERE at < ?", (time.time() - self.ttl_s,))
                self._db.commit()

    def reset(self, conversation_id: str) -> None:
        """/moi, "Câu hỏi mới": start afresh."""
        with self._lock:
            self._memory.pop(conversation_id, None)
            if self._db is not None:
                self._db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
                self._db.commit()


__all__ = ["Turn", "Conversation", "Rewrite", "ConversationStore", "analyse", "rewrite", "render", "json"]
