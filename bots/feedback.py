"""👍 / 👎 on answers, in SQLite under the index directory, for staff to review bad answers.

Every answer the bot sends is stored (question, answer, citations) before its buttons go
out, so a vote pressed days later, after any number of restarts, still knows what it was
about: the button carries only the answer's row id. One vote per user per answer; pressing
the other button changes it.

`htx feedback --csv` exports the voted answers; `htx feedback` prints a summary.
"""
from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

from assistant.models import Answer

FILENAME = "feedback.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    channel TEXT NOT NULL,
    chat_id INTEGER,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    direct TEXT,
    abstained INTEGER NOT NULL,
    language TEXT,
    citations TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS votes (
    answer_id INTEGER NOT NULL REFERENCES answers(id),
    user_id INTEGER NOT NULL,
    vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
    voted_at TEXT NOT NULL,
    PRIMARY KEY (answer_id, user_id)
);
"""

CSV_COLUMNS = ["voted_at", "vote", "answer_id", "asked_at", "chat_id", "question", "direct", "answer",
               "abstained", "language", "citations", "chunk_ids"]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class FeedbackStore:
    """Short-lived connections, one per call: callers run on worker threads, and SQLite
    connections must not cross threads."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(_SCHEMA)

    @staticmethod
    def path_for(index_dir: Path) -> Path:
        return Path(index_dir) / FILENAME

    @classmethod
    def for_index(cls, index_dir: Path) -> "FeedbackStore":
        return cls(cls.path_for(index_dir))

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=10)) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.row_factory = sqlite3.Row
            with db:
                yield db

    def record_answer(self, answer: Answer, *, chat_id: int | None = None, channel: str = "telegram") -> int:
        citations = [
            {"doc_id": c.doc_id, "doc_title": c.doc_title, "clause_label": c.clause_label,
             "chunk_id": c.chunk_id, "score": c.score}
            for c in answer.citations
        ]
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO answers (created_at, channel, chat_id, question, answer, direct, abstained, language,"
                " citations) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (_now(), channel, chat_id, answer.question, answer.answer, answer.direct, int(answer.abstained),
                 answer.language, json.dumps(citations, ensure_ascii=False)),
            )
            return int(cursor.lastrowid)

    def record_vote(self, answer_id: int, user_id: int, vote: int) -> str | None:
        """The language of the answer voted on, or None when it is unknown (a button from
        another database), so the thanks can be said in the language of the question."""
        with self._connect() as db:
            row = db.execute("SELECT language FROM answers WHERE id = ?", (answer_id,)).fetchone()
            if row is None:
                return None
            db.execute(
                "INSERT INTO votes (answer_id, user_id, vote, voted_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (answer_id, user_id) DO UPDATE SET vote = excluded.vote, voted_at = excluded.voted_at",
                (answer_id, user_id, 1 if vote > 0 else -1, _now()),
            )
            return row["language"] or "vi"

    def voted(self) -> list[dict]:
        """Every vote with the answer it is about, newest first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT v.voted_at, v.vote, a.id AS answer_id, a.created_at AS asked_at, a.chat_id, a.question,"
                " a.direct, a.answer, a.abstained, a.language, a.citations"
                " FROM votes v JOIN answers a ON a.id = v.answer_id ORDER BY v.voted_at DESC, a.id DESC"
            ).fetchall()
        return [dict(row) for row in rows]

    def counts(self) -> dict[str, int]:
        with self._connect() as db:
            answers = db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
            up = db.execute("SELECT COUNT(*) FROM votes WHERE vote = 1").fetchone()[0]
            down = db.execute("SELECT COUNT(*) FROM votes WHERE vote = -1").fetchone()[0]
        return {"answers": answers, "up": up, "down": down}

    def write_csv(self, out: IO[str]) -> int:
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        rows = self.voted()
        for row in rows:
            citations = json.loads(row.pop("citations") or "[]")
            writer.writerow({
                **row,
                "vote": "up" if row["vote"] > 0 else "down",
                "abstained": bool(row["abstained"]),
                "citations": " | ".join(f"{c['doc_title']}, {c['clause_label']}" for c in citations),
                "chunk_ids": " ".join(c["chunk_id"] for c in citations),
            })
        return len(rows)
