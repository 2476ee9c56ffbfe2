"""What the Telegram handlers share: the bot's state (assistant, settings, feedback store,
access rules) and the helpers every handler uses to reply."""
from __future__ import annotations

import asyncio
import logging
from collections import Counter
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatAction, ChatType
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from assistant.models import Answer, Citation, Hit
from assistant.query import understand
from index.models import Chunk
from index.settings import Settings

from .feedback import FeedbackStore
from .telegram_access import RateLimiter, UserLocks, parse_allowed_chats
from .telegram_callbacks import CallbackData, chunk_digest
from .telegram_format import tidy_verbatim
from .telegram_html import Block, split_message

log = logging.getLogger(__name__)

EXAMPLES = (
    "Ai phụ trách hướng dẫn thành lập HTX ở Vĩnh Linh?",
    "Kiên Giang đặt mục tiêu bao nhiêu hợp tác xã đến năm 2030?",
    "giai the htx o vinh linh",
)
# Re-sent while an answer is being prepared: Telegram shows "typing…" for about 5 seconds.
TYPING_EVERY_S = 4.5

MESSAGES = {
    "vi": {
        "refused": "Xin lỗi, bot này chỉ phục vụ các nhóm và cán bộ đã được cấp quyền. Nếu bạn cần dùng, "
                   "hãy gửi mã cuộc trò chuyện <code>{chat_id}</code> cho quản trị viên.",
        "slow_down": "Bạn hỏi hơi nhanh 🙂 Mỗi người được hỏi {rate} câu mỗi phút để bot phục vụ kịp mọi người. "
                     "Vui lòng đợi khoảng {wait} giây rồi hỏi tiếp.",
        "error": "⚠️ Xin lỗi, đã có lỗi khi xử lý yêu cầu của bạn. Bot vẫn hoạt động, vui lòng thử lại sau ít phút.",
        "empty_mention": "Bạn muốn hỏi gì? Hãy gõ câu hỏi sau tên bot, ví dụ: {example}",
        "thanks_up": "Cảm ơn bạn! Đã ghi nhận 👍",
        "thanks_down": "Cảm ơn bạn! Đã ghi nhận 👎, cán bộ sẽ xem lại câu trả lời này.",
        "vote_unknown": "Không tìm thấy câu trả lời này để ghi nhận góp ý.",
    },
    "en": {
        "refused": "Sorry, this bot only serves authorised groups and officers. If you need access, send the "
                   "chat id <code>{chat_id}</code> to the administrator.",
        "slow_down": "You are asking a little fast 🙂 Each person may ask {rate} questions a minute so the bot can "
                     "serve everyone. Please wait about {wait} seconds.",
        "error": "⚠️ Sorry, something went wrong while handling your request. The bot is still running; "
                 "please try again in a moment.",
        "empty_mention": "What would you like to ask? Type the question after the bot's name, e.g.: {example}",
        "thanks_up": "Thank you! 👍 recorded",
        "thanks_down": "Thank you! 👎 recorded; staff will review this answer.",
        "vote_unknown": "This answer could not be found to record your feedback.",
    },
}


def say(language: str, key: str, **values: Any) -> str:
    return MESSAGES["en" if language == "en" else "vi"][key].format(**values)


def language_of(text: str | None) -> str:
    return understand(text).language if text and text.strip() else "vi"


@dataclass
class BotState:
    """What every handler shares, kept in `application.bot_data["htx"]`."""

    assistant: Any                      # assistant.api.Assistant
    settings: Settings
    feedback: FeedbackStore
    allowed_chats: frozenset[int] = frozenset()
    rate: RateLimiter = field(default_factory=lambda: RateLimiter(10))
    locks: UserLocks = field(default_factory=UserLocks)
    # digest → chunk for `h` buttons, rebuilt when a reload replaces the chunk list.
    _digests: tuple[int, dict[str, Chunk]] | None = field(default=None, init=False, repr=False)

    @classmethod
    def create(cls, assistant: Any, settings: Settings, feedback: FeedbackStore | None = None) -> "BotState":
        return cls(
            assistant=assistant,
            settings=settings,
            feedback=feedback or FeedbackStore.for_index(settings.index_dir),
            allowed_chats=parse_allowed_chats(settings.telegram_allowed_chats),
            rate=RateLimiter(settings.telegram_rate_per_minute),
        )

    @property
    def public_url(self) -> str:
        return self.settings.public_url

    def split(self, blocks: list[Block]) -> list[str]:
        return split_message(blocks, self.settings.telegram_max_message_chars)

    # --- blocking work: called through asyncio.to_thread ---------------------------------

    def ask(self, question: str, chat_id: int) -> Answer:
        """The one place a chat's question reaches the assistant: in the chat's conversation, so
        "còn ở Hà Tĩnh thì sao?" is understood from the question before it."""
        self.assistant.reload_if_changed()
        return self.assistant.ask_in_conversation(conversation_key(chat_id), question)

    def new_conversation(self, chat_id: int) -> None:
        self.assistant.new_conversation(conversation_key(chat_id))

    def find_chunk(self, data: CallbackData) -> Chunk | None:
        self.assistant.reload_if_changed()
        chunks = self.assistant.retriever.chunks
        if data.chunk_id is not None:
            return next((c for c in chunks if c.chunk_id == data.chunk_id), None)
        if self._digests is None or self._digests[0] != id(chunks):
            self._digests = (id(chunks), {chunk_digest(c.chunk_id): c for c in chunks})
        return self._digests[1].get(data.digest or "")

    def clause_view(self, chunk: Chunk) -> tuple[Citation, str]:
        """The clause a chunk belongs to, as printed: every part of a split section, with
        the source's own line breaks (chunk text has whitespace collapsed)."""
        parts = [c for c in self.assistant.retriever.chunks if c.doc_id == chunk.doc_id and c.anchor == chunk.anchor]
        parts = sorted(parts or [chunk], key=lambda c: c.part)
        citation = self.assistant.cite(Hit(chunk=parts[0], score=0.0))
        document = self.assistant.document(chunk.doc_id)
        start, end = min(c.start for c in parts), max(c.end for c in parts)
        if document is not None and 0 <= start < end <= len(document.source_text):
            return citation, tidy_verbatim(document.source_text[start:end])
        return citation, "\n\n".join(c.text for c in parts)

    def chunk_counts(self) -> dict[str, int]:
        return dict(Counter(c.doc_id for c in self.assistant.retriever.chunks))


def conversation_key(chat_id: int) -> str:
    # One conversation per chat: in a group, officers follow up on each other's questions.
    return f"telegram:{chat_id}"


def state(context: ContextTypes.DEFAULT_TYPE) -> BotState:
    return context.application.bot_data["htx"]


async def send_blocks(message: Message, htx: BotState, blocks: list[Block],
                      keyboard: InlineKeyboardMarkup | None = None) -> list[Message]:
    """Send a reply in as many messages as it takes; the buttons go under the last one.
    In groups the first message quotes the question so the thread stays readable."""
    pieces = htx.split(blocks)
    sent = []
    quote = message.chat.type != ChatType.PRIVATE
    for n, piece in enumerate(pieces):
        sent.append(await message.reply_html(
            piece,
            do_quote=quote and n == 0,
            reply_markup=keyboard if n == len(pieces) - 1 else None,
        ))
    return sent


@asynccontextmanager
async def typing(message: Message):
    async def send() -> None:
        try:
            await message.chat.send_action(ChatAction.TYPING, message_thread_id=message.message_thread_id)
        except TelegramError as exc:
            # The indicator is a courtesy: failing to show it must not cost the answer.
            log.debug("typing indicator failed: %s", exc)

    async def keep_typing() -> None:
        while True:
            await asyncio.sleep(TYPING_EVERY_S)
            await send()

    await send()
    task = asyncio.create_task(keep_typing())
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


async def admitted(update: Update, htx: BotState, language: str) -> bool:
    """Counts a question against the user's rate; tells them (once per window) when over."""
    key = user_key(update)
    wait = htx.rate.check(key)
    if not wait:
        return True
    if htx.rate.should_warn(key, wait):
        await update.effective_message.reply_html(
            say(language, "slow_down", rate=htx.rate.per_minute, wait=int(wait + 0.999)))
    return False


def user_key(update: Update) -> int:
    return update.effective_user.id if update.effective_user else update.effective_chat.id
