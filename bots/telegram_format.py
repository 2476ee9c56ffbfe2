"""What the Telegram bot shows, as Telegram HTML blocks (bots/telegram_html.py splits
them into messages): answers, their buttons, clauses, the document list and tasks."""
from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import quote

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from assistant.models import Answer, Citation

from .telegram_callbacks import citation_callback, feedback_callback
from .telegram_html import Block, esc, link, quote_block, raw

TEXT = {
    "vi": {
        "answer": "Trả lời",
        "understood": "Hiểu câu hỏi là",
        "source": "Nguồn",
        "issued": "ban hành",
        "open": "Xem văn bản tại điều khoản này",
        "hint": "Bấm 📄 để xem toàn văn điều khoản, 👍/👎 để góp ý câu trả lời.",
        "clause_gone": "Điều khoản này không còn trong cơ sở dữ liệu (văn bản đã được cập nhật). Hãy hỏi lại.",
    },
    "en": {
        "answer": "Answer",
        "understood": "Understood as",
        "source": "Source",
        "issued": "issued",
        "open": "Open the document at this clause",
        "hint": "Tap 📄 for a clause's full text, 👍/👎 to rate this answer.",
        "clause_gone": "This clause is no longer in the index (the documents were updated). Please ask again.",
    },
}


def words(language: str | None) -> dict[str, str]:
    return TEXT["en" if language == "en" else "vi"]


# ------------------------------------------------------------------------ documents and links

_ABBREVIATIONS = {
    "kế hoạch": "KH", "công văn": "CV", "quyết định": "QĐ", "nghị định": "NĐ", "nghị quyết": "NQ",
    "thông tư": "TT", "chỉ thị": "CT", "kết luận": "KL", "chương trình": "CTr", "hướng dẫn": "HD",
}
_ISSUER_SHORT = (
    ("Ủy ban nhân dân", "UBND"), ("Uỷ ban nhân dân", "UBND"), ("Ban Thường vụ", "BTV"),
    ("Ban Chấp hành", "BCH"), ("huyện ", ""), ("tỉnh ", ""), ("thành phố ", "TP "),
)


def short_document_name(citation: Citation) -> str:
    """"CV UBND Vĩnh Linh", "KH 251/KH-UBND": what fits on a button."""
    kind = _ABBREVIATIONS.get((citation.doc_type or "").lower(), citation.doc_type or "VB")
    if citation.number and "…" not in citation.number and "..." not in citation.number:
        return f"{kind} {citation.number}"
    issuer = citation.issuer or citation.doc_id
    for long, short in _ISSUER_SHORT:
        issuer = issuer.replace(long, short)
    return f"{kind} {issuer.strip()}"


def document_link(public_url: str, doc_id: str, anchor: str | None = None) -> str | None:
    if not public_url:
        return None
    url = f"{public_url.rstrip('/')}/documents/{quote(doc_id, safe='')}"
    if anchor:
        url += f"?highlight={quote(anchor, safe='')}#{quote(anchor, safe='')}"
    return url


def format_date(iso: str | None) -> str | None:
    match = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", iso or "")
    if not match:
        return None
    year, month, day = match.groups()
    return f"{day}/{month}/{year}"


def source_line(citation: Citation, language: str) -> str:
    w = words(language)
    parts = [f"{esc(citation.doc_title)}, {esc(citation.clause_label)}"]
    issued = format_date(citation.issued)
    if issued:
        parts.append(f" ({w['issued']} {issued})")
    return f"📄 <b>{w['source']}:</b> " + "".join(parts)


# ------------------------------------------------------------------------ answers

# The composer's quotations (assistant/answer.py): "[2] <document>, <clause>:" then the
# clause between «» (or “” in English). Shown as a header and a blockquote; any other text
# (the direct sentence, an abstention, a generated answer) is shown as written.
_QUOTE_HEAD = re.compile(r"^\[(\d+)\] ([^\n]+):\n([«“])", re.S)
_CLOSING = {"«": "»", "“": "”"}


def _paragraphs(text: str) -> list[str]:
    """Blank-line separated paragraphs, keeping a quotation whole even if the quoted
    clause itself contains blank lines."""
    merged: list[str] = []
    open_quote: str | None = None
    for paragraph in (p.strip() for p in re.split(r"\n\s*\n", text or "")):
        if not paragraph:
            continue
        if open_quote is not None:
            merged[-1] += "\n\n" + paragraph
        else:
            merged.append(paragraph)
            head = _QUOTE_HEAD.match(paragraph)
            open_quote = _CLOSING[head.group(3)] if head else None
        if open_quote is not None and merged[-1].endswith(open_quote):
            open_quote = None
    return merged


def _quotation(paragraph: str, citations: list[Citation], public_url: str) -> list[Block] | None:
    head = _QUOTE_HEAD.match(paragraph)
    if head is None or not paragraph.endswith(_CLOSING[head.group(3)]):
        return None
    number, name = int(head.group(1)), head.group(2)
    title = f"[{number}] {name}"
    cited = citations[number - 1] if 0 < number <= len(citations) else None
    url = document_link(public_url, cited.doc_id, cited.anchor) if cited else None
    header = f"📄 {link(url, title)}" if url else f"📄 <b>{esc(title)}</b>"
    return [quote_block(paragraph[head.end():-1], lead=header)]


def _lead(paragraph: str, direct: str | None) -> Block:
    """The direct sentence, with its answer (agency, deadline, figure) in bold."""
    if direct and direct in paragraph:
        before, _, after = paragraph.partition(direct)
        return raw(f"💡 {esc(before)}<b>{esc(direct)}</b>{esc(after)}")
    return Block(text=paragraph)


def answer_blocks(answer: Answer, public_url: str = "") -> list[Block]:
    w = words(answer.language)
    blocks: list[Block] = []
    if answer.understood_as:
        blocks.append(raw(f"<i>{w['understood']}: {esc(answer.understood_as)}</i>"))
    for n, paragraph in enumerate(_paragraphs(answer.answer)):
        quotation = _quotation(paragraph, answer.citations, public_url)
        if quotation:
            blocks.extend(quotation)
        elif n == 0 and not answer.abstained:
            blocks.append(_lead(paragraph, answer.direct))
        else:
            blocks.append(Block(text=paragraph))
    if answer.abstained or not answer.citations:
        return blocks
    top = answer.citations[0]
    if top.doc_title not in answer.answer:
        # An answer that does not name its source (a generated one): the bot names it.
        blocks.append(quote_block(top.text))
        source = source_line(top, answer.language)
        url = document_link(public_url, top.doc_id, top.anchor)
        if url:
            source += "\n🔗 " + link(url, w["open"])
        blocks.append(raw(source))
    blocks.append(Block(text=w["hint"], open="<i>", close="</i>"))
    return blocks


def answer_keyboard(answer: Answer, answer_id: int | None) -> InlineKeyboardMarkup | None:
    """One button per citation, numbered as the answer numbers its quotations, then 👍/👎
    (on abstentions too: "it should have answered" is feedback worth having)."""
    rows = []
    for n, citation in enumerate(answer.citations, start=1):
        label = f"{n}. 📄 {citation.clause_label} – {short_document_name(citation)}"
        if len(label) > 48:
            label = label[:47] + "…"
        rows.append([InlineKeyboardButton(label, callback_data=citation_callback(citation.chunk_id, answer.language))])
    if answer_id is not None:
        rows.append([
            InlineKeyboardButton("👍", callback_data=feedback_callback(answer_id, +1)),
            InlineKeyboardButton("👎", callback_data=feedback_callback(answer_id, -1)),
        ])
    return InlineKeyboardMarkup(rows) if rows else None


# ------------------------------------------------------------------------ clauses, documents, tasks


def clause_blocks(citation: Citation, verbatim: str, public_url: str, language: str) -> list[Block]:
    """The full text of one clause, as pressed from a citation button."""
    w = words(language)
    head = f"📄 <b>{esc(citation.doc_title)}</b>\n<i>{esc(citation.clause_label)}</i>"
    issued = format_date(citation.issued)
    if issued:
        head += f" · {w['issued']} {issued}"
    blocks = [Block(text=verbatim, open="<blockquote>", close="</blockquote>", lead=head)]
    url = document_link(public_url, citation.doc_id, citation.anchor)
    if url:
        blocks.append(raw("🔗 " + link(url, w["open"])))
    return blocks


def tidy_verbatim(text: str) -> str:
    """Source text as printed, minus trailing spaces and runs of blank lines."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def documents_blocks(metas: Sequence, counts: dict[str, int], public_url: str) -> list[Block]:
    blocks = [raw(f"📚 <b>Các văn bản bot đang nắm ({len(metas)}):</b>")]
    for n, meta in enumerate(metas, start=1):
        issued = meta.issued.strftime("%d/%m/%Y") if meta.issued else (meta.issued_text or "")
        line = f"{n}. <b>{esc(meta.display_title())}</b>"
        if issued:
            line += f" — {esc(issued)}"
        if meta.title:
            line += f"\n<i>{esc(meta.title)}</i>"
        line += f"\n{counts.get(meta.doc_id, 0)} đoạn · mã <code>{esc(meta.doc_id)}</code>"
        url = document_link(public_url, meta.doc_id)
        if url:
            line += " · " + link(url, "xem toàn văn")
        blocks.append(raw(line))
    return blocks


ROLES = {"lead": "chủ trì", "partner": "phối hợp"}


def tasks_blocks(agency: str, tasks: Sequence, titles: dict[str, str], public_url: str,
                 shown: int = 20) -> list[Block]:
    """Tasks from the register (`assistant.tasks.Task`), each with its deadline and source."""
    if not tasks:
        return [raw(f"Không tìm thấy nhiệm vụ nào giao cho <b>{esc(agency)}</b> trong các văn bản. "
                    "Thử tên ngắn hơn, ví dụ: <code>/nhiemvu Phòng Nông nghiệp</code>.")]
    blocks = [raw(f"📋 <b>Nhiệm vụ của {esc(agency)}</b> ({len(tasks)}):")]
    for n, task in enumerate(tasks[:shown], start=1):
        head = f"{n}. <b>{esc(task.agency)}</b>"
        if task.role:
            head += f" ({esc(ROLES.get(task.role, task.role))})"
        lines = [head, esc(task.summary)]
        if task.deadline:
            lines.append(f"⏰ Thời hạn: {esc(task.deadline)}")
        title = getattr(task, "doc_title", None) or titles.get(task.doc_id, task.doc_id)
        source = f"📄 {esc(title)}, {esc(task.clause_label)}"
        url = document_link(public_url, task.doc_id, getattr(task, "anchor", None))
        if url:
            source += " · " + link(url, "xem")
        lines.append(source)
        blocks.append(raw("\n".join(lines)))
    if len(tasks) > shown:
        blocks.append(raw(f"<i>… và {len(tasks) - shown} nhiệm vụ khác. Hãy nêu cụ thể hơn tên cơ quan.</i>"))
    return blocks
