"""The bot's commands: /start, /help, /nguon (the documents), /nhiemvu <cơ quan> (tasks)."""
from __future__ import annotations

import asyncio
from collections import Counter

from telegram import Update
from telegram.ext import ContextTypes

from index.normalize import fold, strip_diacritics

from .telegram_format import documents_blocks, tasks_blocks
from .telegram_html import esc, raw
from .telegram_state import EXAMPLES, admitted, send_blocks, state, user_key


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    htx = state(context)
    metas = await asyncio.to_thread(htx.assistant.documents)
    places = sorted({m.locality or m.province for m in metas if m.locality or m.province})
    lines = [
        "👋 <b>Xin chào!</b> Tôi trả lời câu hỏi về các văn bản chính sách hợp tác xã (HTX), "
        "luôn kèm trích dẫn đúng văn bản và điều khoản.",
        f"Tôi đang nắm <b>{len(metas)} văn bản</b>" + (f" của {esc(', '.join(places))}" if places else "") +
        " (xem /nguon).",
        "<b>Hãy thử hỏi:</b>\n" + "\n".join(f"• {esc(q)}" for q in EXAMPLES),
        "Có thể hỏi bằng tiếng Việt có dấu, không dấu hoặc tiếng Anh. /help để xem hướng dẫn.",
    ]
    await send_blocks(update.effective_message, htx, [raw(line) for line in lines])


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    htx = state(context)
    handle = f"@{esc(context.bot.username)}" if context.bot.username else "tên bot"
    lines = [
        "<b>Cách dùng</b>",
        "• Gõ câu hỏi bất kỳ: tôi trả lời bằng điều khoản trong văn bản, kèm nguồn (văn bản, cơ quan ban hành, "
        "ngày, điều khoản).",
        "• Bấm 📄 dưới câu trả lời để xem toàn văn điều khoản; 👍/👎 để góp ý, cán bộ sẽ xem lại câu trả lời chưa tốt.",
        f"• Trong nhóm: nhắc {handle}, trả lời (reply) tin nhắn của tôi, hoặc dùng lệnh.",
        "<b>Lệnh</b>\n/nguon – các văn bản tôi đang nắm\n/nhiemvu &lt;cơ quan&gt; – nhiệm vụ giao cho một cơ quan, "
        "ví dụ <code>/nhiemvu Phòng Nông nghiệp</code>\n/start – giới thiệu và câu hỏi mẫu\n/moi – câu hỏi mới, bỏ ngữ cảnh các câu trước\n/help – hướng dẫn này",
    ]
    await send_blocks(update.effective_message, htx, [raw(line) for line in lines])


async def new_conversation(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/moi: the next question is read on its own, not as a follow-up."""
    htx = state(context)
    await asyncio.to_thread(htx.new_conversation, update.effective_chat.id)
    await send_blocks(update.effective_message, htx, [raw("Đã bắt đầu câu hỏi mới: câu tiếp theo sẽ không dựa vào các câu trước.")])


async def sources(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    htx = state(context)
    metas = await asyncio.to_thread(htx.assistant.documents)
    counts = await asyncio.to_thread(htx.chunk_counts)
    await send_blocks(update.effective_message, htx, documents_blocks(metas, counts, htx.public_url))


def split_locality(text: str, places: set[str]) -> tuple[str, str | None]:
    """"Phòng Nông nghiệp ở Vĩnh Linh" → ("Phòng Nông nghiệp", "Vĩnh Linh"), typed with or
    without diacritics."""
    loose = strip_diacritics(fold(text))
    if len(loose) != len(text):
        return text, None
    for place in sorted(places, key=len, reverse=True):
        at = loose.find(strip_diacritics(fold(place)))
        if at < 0:
            continue
        rest = f"{text[:at]} {text[at + len(place):]}".split()
        while rest and strip_diacritics(fold(rest[-1])) in ("o", "tai", "cua", "in", "at"):
            rest.pop()
        return " ".join(rest), place
    return text, None


async def tasks_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    htx = state(context)
    message = update.effective_message
    if not hasattr(htx.assistant, "tasks"):
        await message.reply_html("Sổ nhiệm vụ chưa sẵn sàng trên máy chủ này. Hãy hỏi trực tiếp, ví dụ: "
                                 "<i>Phòng Nông nghiệp có nhiệm vụ gì?</i>")
        return
    query = " ".join(context.args or []).strip()
    if not query:
        tasks = await asyncio.to_thread(htx.assistant.tasks)
        agencies = Counter(t.agency for t in tasks).most_common(12)
        listing = "\n".join(f"• {esc(name)} ({count})" for name, count in agencies)
        await message.reply_html("Cú pháp: <code>/nhiemvu &lt;cơ quan&gt;</code>, ví dụ <code>/nhiemvu Phòng Nông "
                                 "nghiệp Vĩnh Linh</code>." + (f"\n\n<b>Các cơ quan có nhiều nhiệm vụ:</b>\n{listing}"
                                                                 if listing else ""))
        return
    if not await admitted(update, htx, "vi"):
        return
    async with htx.locks.get(user_key(update)):
        metas = await asyncio.to_thread(htx.assistant.documents)
        places = {p for m in metas for p in (m.locality, m.province) if p}
        agency, locality = split_locality(query, places)
        tasks = await asyncio.to_thread(htx.assistant.tasks, agency=agency or None, locality=locality)
        titles = {m.doc_id: m.display_title() for m in metas}
        await send_blocks(message, htx, tasks_blocks(query, tasks, titles, htx.public_url))
