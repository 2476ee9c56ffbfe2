"""Who the bot answers, when, and how often: allowed chats, being addressed in a group, the
per-user question rate and one question at a time per user."""
from __future__ import annotations

import asyncio
import time
import weakref
from collections import deque

from telegram import Message, MessageEntity
from telegram.constants import ChatType


def parse_allowed_chats(raw: str) -> frozenset[int]:
    """`HTX_TELEGRAM_ALLOWED_CHATS` ("123, -100456") → chat ids; empty means every chat."""
    ids = set()
    for item in raw.replace(";", ",").split(","):
        item = item.strip()
        if not item:
            continue
        try:
            ids.add(int(item))
        except ValueError:
            raise ValueError(f"HTX_TELEGRAM_ALLOWED_CHATS: {item!r} is not a chat id (a whole number)") from None
    return frozenset(ids)


def addressed_text(message: Message, bot_id: int, bot_username: str | None) -> str | None:
    """The question in `message`, or None when it is group chatter not meant for the bot.

    In a private chat every message is a question. In a group, only a message that mentions
    the bot, replies to one of its messages, or is a command (handled elsewhere) is; the
    mention itself is taken out of the question.
    """
    text = message.text or ""
    if message.chat.type == ChatType.PRIVATE:
        return text
    reply = message.reply_to_message
    replied_to_bot = bool(reply and reply.from_user and reply.from_user.id == bot_id)
    mentioned = False
    handle = f"@{bot_username}".lower() if bot_username else None
    for entity, value in message.parse_entities([MessageEntity.MENTION, MessageEntity.TEXT_MENTION]).items():
        if entity.type == MessageEntity.MENTION and handle and value.lower() == handle:
            mentioned = True
            text = text.replace(value, " ")
        elif entity.type == MessageEntity.TEXT_MENTION and entity.user and entity.user.id == bot_id:
            mentioned = True
    if not (mentioned or replied_to_bot):
        return None
    return " ".join(text.split())


def command_for_bot(text: str | None, bot_username: str | None) -> bool:
    """"/nguon" or "/nguon@this_bot", not "/start@another_bot" typed in a shared group."""
    first = (text or "").split(maxsplit=1)[0] if (text or "").strip() else ""
    if not first.startswith("/"):
        return False
    _, _, target = first.partition("@")
    return not target or (bot_username is not None and target.lower() == bot_username.lower())


class RateLimiter:
    """At most `per_minute` questions per user in any 60-second window.

    When a user goes over, `check` says how long to wait; `should_warn` lets the friendly
    notice go out once per window instead of answering a burst with a burst.
    """

    def __init__(self, per_minute: int, window: float = 60.0) -> None:
        self.per_minute = per_minute
        self.window = window
        self._seen: dict[int, deque[float]] = {}
        self._warned_until: dict[int, float] = {}

    def check(self, user_id: int, now: float | None = None) -> float:
        """0 when the question may go ahead (and counts it); else seconds until it may."""
        if self.per_minute <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        seen = self._seen.setdefault(user_id, deque())
        while seen and now - seen[0] >= self.window:
            seen.popleft()
        if len(seen) < self.per_minute:
            seen.append(now)
            return 0.0
        return max(1.0, self.window - (now - seen[0]))

    def should_warn(self, user_id: int, wait: float, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        if self._warned_until.get(user_id, 0.0) > now:
            return False
        self._warned_until[user_id] = now + wait
        return True


class UserLocks:
    """One asyncio.Lock per user while anyone holds or awaits it: a second question waits
    for the first answer instead of racing it, and idle users cost nothing."""

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()

    def get(self, user_id: int) -> asyncio.Lock:
        lock = self._locks.get(user_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[user_id] = lock
        return lock
