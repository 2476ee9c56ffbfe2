"""Telegram HTML that is always valid: escaping, and splitting long replies.

Every piece of text that comes from a document or a user goes through `html.escape`; the
only markup is the one the bot writes. Telegram refuses a message over 4,096 characters
and one whose tags do not balance, so a reply is assembled from blocks that are each
complete HTML and cut only between blocks, or, for a block too long on its own, inside
its plain text (at paragraphs, then lines, sentences, words) with the block's tags closed
and reopened around every piece.
"""
from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass

TELEGRAM_LIMIT = 4096
BLOCK_SEPARATOR = "\n\n"
# Quotes longer than this collapse behind "show more" so the source line stays on screen.
EXPANDABLE_QUOTE_CHARS = 700


def esc(text: object) -> str:
    return html.escape(str(text), quote=False)


def utf16_len(text: str) -> int:
    # Telegram counts message length in UTF-16 code units: an emoji counts twice.
    return len(text.encode("utf-16-le")) // 2


def link(url: str, label: str) -> str:
    return f'<a href="{html.escape(url, quote=True)}">{esc(label)}</a>'


@dataclass(frozen=True)
class Block:
    """A paragraph of a reply: plain `text` wrapped in `open`/`close` markup, or, with
    `html` set, a short ready-made fragment (a link, a label line) that is never cut."""

    text: str = ""
    open: str = ""
    close: str = ""
    html: str | None = None
    # A short HTML line kept on the line above the first piece (a quotation's source), so a
    # split never leaves a header at the bottom of one message and its text in the next.
    lead: str = ""

    def pieces(self, limit: int) -> list[str]:
        if self.html is not None:
            if utf16_len(self.html) <= limit:
                return [self.html]
            # Too long to keep whole (a task with a huge summary): its words matter more than its markup.
            return Block(text=html.unescape(re.sub(r"<[^>]+>", "", self.html))).pieces(limit)
        lead = f"{self.lead}\n" if self.lead else ""
        budget = limit - utf16_len(lead) - utf16_len(self.open) - utf16_len(self.close)
        if budget < 20:
            raise ValueError("message limit too small for the markup")
        pieces = [f"{self.open}{esc(part)}{self.close}" for part in _split_plain(self.text.strip(), budget)]
        if pieces:
            pieces[0] = lead + pieces[0]
        return pieces


def raw(fragment: str) -> Block:
    return Block(html=fragment)


def quote_block(text: str, lead: str = "") -> Block:
    tag = "<blockquote expandable>" if len(text) > EXPANDABLE_QUOTE_CHARS else "<blockquote>"
    return Block(text=text, open=tag, close="</blockquote>", lead=lead)


def split_message(blocks: Iterable[Block], limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Pack blocks into as few messages as fit under `limit`, breaking only between blocks
    or, inside an over-long block, between its paragraphs, lines, sentences or words."""
    limit = min(limit, TELEGRAM_LIMIT)
    messages: list[str] = []
    current = ""
    for block in blocks:
        for piece in block.pieces(limit):
            candidate = f"{current}{BLOCK_SEPARATOR}{piece}" if current else piece
            if utf16_len(candidate) <= limit:
                current = candidate
            else:
                messages.append(current)
                current = piece
    if current:
        messages.append(current)
    return messages


_SEPARATORS = ("\n\n", "\n", ". ", "; ", ", ", " ")


def _split_plain(text: str, budget: int, level: int = 0) -> list[str]:
    """Cut plain text into pieces whose escaped form fits `budget`, at the coarsest
    boundary that works; escaping happens after cutting, so no entity is ever split."""
    if utf16_len(esc(text)) <= budget:
        return [text] if text else []
    if level >= len(_SEPARATORS):
        return _hard_cut(text, budget)
    sep = _SEPARATORS[level]
    units = text.split(sep)
    if len(units) == 1:
        return _split_plain(text, budget, level + 1)
    # The separator stays with the unit before it, so joining the pieces gives the text back.
    units = [u + sep for u in units[:-1]] + [units[-1]]
    pieces: list[str] = []
    current = ""
    for unit in units:
        if utf16_len(esc(current + unit)) <= budget:
            current += unit
            continue
        if current:
            pieces.append(current)
        if utf16_len(esc(unit)) <= budget:
            current = unit
        else:
            pieces.extend(_split_plain(unit, budget, level + 1))
            current = ""
    if current:
        pieces.append(current)
    return [p.strip() for p in pieces if p.strip()]


def _hard_cut(text: str, budget: int) -> list[str]:
    pieces, current = [], ""
    for char in text:
        if utf16_len(esc(current + char)) > budget:
            pieces.append(current)
            current = ""
        current += char
    return pieces + ([current] if current else [])
