"""Where a chat's turns are kept: in memory with a time-out and a size bound, and in SQLite
when a path is given, so a restarted bot remembers its chats (see conversation.py for how
a follow-up is understood from them)."""
from __future__ import annotations

import sqlite3
import threading
import time
from collections import OrderedDict
from pathlib import Path

from pydantic import BaseModel, Field

from .conversation import Turn


class Conversation(BaseModel):
    turns: list[Turn] = Field(default_factory=list)

    @property
    def last(self) -> Turn | None:
        return self.turns[-1] if self.turns else None


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


__all__ = ["Conversation", "ConversationStore"]
