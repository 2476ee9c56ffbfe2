"""The bot's update handlers besides commands, grouped by concern: the gate (allowed
chats), questions, buttons, and errors. Each is small and async; anything that blocks
(embedding, retrieval, Chroma, SQLite) runs on a worker thread, so one slow question never
stalls other chats, and each user's questions are answered one at a time."""
from __future__ import annotations

import asyncio
import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters, Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop, ContextTypes

from assistant.models import QuestionError

from .telegram_access import addressed_text, command_for_bot
from .telegram_callbacks import CallbackData, parse_callback
from .telegram_format import answer_blocks, answer_keyboard, clause_blocks, words
from .telegram_html import esc
from .telegram_state import (
    EXAMPLES, admitted, language_of, say, send_blocks, state, typing, user_key,
)

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------ the gate


async def gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Runs before every other handler: chats outside HTX_TELEGRAM_ALLOWED_CHATS get a polite
    refusal (in groups only when they address the bot) and nothing else."""
    htx = state(context)
    chat = update.effective_chat
    if not htx.allowed_chats or chat is None or chat.id in htx.allowed_chats:
        return
    log.info("refused update from chat %s", chat.id)
    message = update.effective_message
    if update.callback_query:
        refusal = say("vi", "refused", chat_id=chat.id)
        await update.callback_query.answer(refusal.replace("<code>", "").replace("</code>", ""), show_alert=True)
    elif message is not None and message.text and (
        chat.type == ChatType.PRIVATE
        or command_for_bot(message.text, context.bot.username)
        or addressed_text(message, context.bot.id, context.bot.username) is not None
    ):
        await message.reply_html(say(language_of(message.text), "refused", chat_id=chat.id))
    raise ApplicationHandlerStop


# ------------------------------------------------------------------------ questions


async def question(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    htx = state(context)
    message = update.effective_message
    if message is None or not message.text:
        return
    text = addressed_text(message, context.bot.id, context.bot.username)
    if text is None:
        return
    language = language_of(text)
    if not text.strip():
        await message.reply_html(esc(say(language, "empty_mention", example=EXAMPLES[0])), do_quote=True)
        return
    if not await admitted(update, htx, language):
        return
    async with htx.locks.get(user_key(update)):
        async with typing(message):
            try:
                answer = await asyncio.to_thread(htx.ask, text, message.chat.id)
            except QuestionError as exc:
                await message.reply_html(esc(str(exc)))
                return
            answer_id = await asyncio.to_thread(htx.feedback.record_answer, answer, chat_id=message.chat.id)
        await send_blocks(message, htx, answer_blocks(answer, htx.public_url), answer_keyboard(answer, answer_id))


# ------------------------------------------------------------------------ buttons


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    data = parse_callback(query.data)
    if data is None:
        # A button from an older version of the bot: say nothing rather than guess.
        await query.answer()
        return
    if data.kind == "feedback":
        await vote(update, context, data)
    else:
        await show_clause(update, context, data)


async def show_clause(update: Update, context: ContextTypes.DEFAULT_TYPE, data: CallbackData) -> None:
    htx = state(context)
    query = update.callback_query
    chunk = await asyncio.to_thread(htx.find_chunk, data)
    if chunk is None:
        await query.answer(words(data.language)["clause_gone"], show_alert=True)
        return
    await query.answer()
    citation, verbatim = await asyncio.to_thread(htx.clause_view, chunk)
    chat_id = query.message.chat.id
    reply_to = ReplyParameters(message_id=query.message.message_id, allow_sending_without_reply=True)
    for piece in htx.split(clause_blocks(citation, verbatim, htx.public_url, data.language)):
        await context.bot.send_message(chat_id, piece, reply_parameters=reply_to,
                                       message_thread_id=getattr(query.message, "message_thread_id", None))
        reply_to = None


async def vote(update: Update, context: ContextTypes.DEFAULT_TYPE, data: CallbackData) -> None:
    htx = state(context)
    query = update.callback_query
    language = await asyncio.to_thread(htx.feedback.record_vote, data.answer_id, query.from_user.id, data.vote)
    if language is None:
        await query.answer(say("vi", "vote_unknown"), show_alert=True)
        return
    await query.answer(say(language, "thanks_up" if data.vote > 0 else "thanks_down"))
    message = query.message
    if message is not None and message.chat.type == ChatType.PRIVATE and getattr(message, "reply_markup", None):
        # In a private chat the vote is the user's own, so the buttons can show it.
        await query.edit_message_reply_markup(mark_vote(message.reply_markup, query.data))


def mark_vote(markup: InlineKeyboardMarkup, chosen: str) -> InlineKeyboardMarkup:
    rows = []
    for row in markup.inline_keyboard:
        new_row = []
        for b in row:
            if b.callback_data and str(b.callback_data).startswith("f"):
                label = b.text.rstrip(" ✓")
                b = InlineKeyboardButton(f"{label} ✓" if b.callback_data == chosen else label,
                                         callback_data=b.callback_data)
            new_row.append(b)
        rows.append(new_row)
    return InlineKeyboardMarkup(rows)


# ------------------------------------------------------------------------ errors


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log, tell the user, carry on: one bad update never stops the bot."""
    log.error("update %s failed", getattr(update, "update_id", None), exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    message = update.effective_message
    language = language_of(message.text if message is not None and not update.callback_query else None)
    try:
        await context.bot.send_message(update.effective_chat.id, say(language, "error"))
    except Exception as exc:  # noqa: BLE001 - the apology must not raise in its turn
        log.warning("could not tell chat %s about the failure: %s", update.effective_chat.id, exc)
