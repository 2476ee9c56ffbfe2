"""Callback data of the inline buttons (Telegram allows 64 bytes).

A button must still work after the bot restarts or the index is rebuilt, so its data
carries no in-memory state, only what can be resolved against the current index:

    c<lang>:<chunk_id>   citation, when it fits ("cv:vinh-linh-cv-ubnd-nn-2023::s-3-3.2::0")
    h<lang>:<digest>     citation otherwise: 16 url-safe base64 characters of
                         blake2b(chunk_id, 12 bytes), found again by hashing the index's chunk ids
    f<+|->:<answer_id>   👍 / 👎 on the answer stored under that id in the feedback database

<lang> is "v" or "e", the language of the question, so the clause view speaks it too.
"""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

CALLBACK_LIMIT = 64


def chunk_digest(chunk_id: str) -> str:
    digest = hashlib.blake2b(chunk_id.encode("utf-8"), digest_size=12).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")


def citation_callback(chunk_id: str, language: str = "vi") -> str:
    lang = "e" if language == "en" else "v"
    data = f"c{lang}:{chunk_id}"
    if len(data.encode("utf-8")) <= CALLBACK_LIMIT:
        return data
    return f"h{lang}:{chunk_digest(chunk_id)}"


def feedback_callback(answer_id: int, vote: int) -> str:
    return f"f{'+' if vote > 0 else '-'}:{answer_id}"


@dataclass(frozen=True)
class CallbackData:
    kind: str          # "citation" or "feedback"
    language: str = "vi"
    chunk_id: str | None = None
    digest: str | None = None
    answer_id: int | None = None
    vote: int = 0


def parse_callback(data: str | None) -> CallbackData | None:
    if not data or len(data) < 3 or data[2] != ":":
        return None
    head, body = data[:2], data[3:]
    if head[0] in "ch" and head[1] in "ve":
        language = "en" if head[1] == "e" else "vi"
        if head[0] == "c":
            return CallbackData("citation", language, chunk_id=body)
        return CallbackData("citation", language, digest=body)
    if head[0] == "f" and head[1] in "+-" and body.isdigit():
        return CallbackData("feedback", answer_id=int(body), vote=1 if head[1] == "+" else -1)
    return None
