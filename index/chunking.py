"""Sections into chunks: one per section, long sections split at paragraph or bullet
boundaries into pieces that keep the same clause path.

Every chunk carries the heading chain above it (document, part, section, and for appendix
rows the task group and column names), so a piece such as "- Chủ trì kiểm tra, rà soát…"
is never separated from the agency it is addressed to.
"""
from __future__ import annotations

from .models import Chunk, Document, Section, anchor_for, clause_label
from .structure import visible_text

# multilingual-e5-small reads 512 tokens, about 2,000 characters of Vietnamese; the heading
# chain takes part of that, and shorter pieces keep a citation focused on one task.
MAX_CHARS = 1200


def chunk_document(doc: Document, max_chars: int = MAX_CHARS) -> list[Chunk]:
    by_path = {tuple(s.path): s for s in doc.sections}
    context = _document_context(doc)
    chunks: list[Chunk] = []
    for index, section in enumerate(doc.sections):
        headings = [context] + [_heading_line(by_path[tuple(section.path[:n])])
                                for n in range(1, len(section.path)) if tuple(section.path[:n]) in by_path]
        if section.kind == "preamble" and doc.meta.title:
            # The opening paragraph is what the trích yếu introduces: "which resolution does it implement?"
            headings.append(doc.meta.title)
        references = section.references
        pieces = None
        children = _introduced_list(doc.sections, index)
        if children:
            end = max(child.end for child in children)
            if len(visible_text(doc.source_text[section.start:end])) <= max_chars:
                # "2. Hồ sơ đăng ký thành lập bao gồm:" says nothing alone: its chunk carries the list.
                pieces = [(section.start, end)]
                references = list(dict.fromkeys(section.references + [r for c in children for r in c.references]))
        for part, (start, end) in enumerate(pieces or _pieces(section, doc.source_text, max_chars)):
            text = visible_text(doc.source_text[start:end])
            if not text:
                continue
            chunk_headings = headings if part == 0 else headings + [_heading_line(section)]
            chunks.append(Chunk(
                doc_id=doc.doc_id,
                clause=section.path,
                clause_label=clause_label(section.path),
                anchor=anchor_for(section.path),
                part=part,
                text=text,
                start=start,
                end=end,
                headings=chunk_headings,
                fields=section.fields if part == 0 else {},
                references=references,
                doc_type=doc.meta.doc_type,
                locality=doc.meta.locality,
                issuer=doc.meta.issuer,
                year=doc.meta.year,
            ))
    return chunks


def _introduced_list(sections: list[Section], index: int) -> list[Section]:
    """The descendants of a section whose own text ends with ":" and introduces a list: points
    ("a)", "đ)"), or the clauses of an article ("Giấy đề nghị … bao gồm nội dung chủ yếu sau đây:").
    Empty when the section introduces nothing. Sections are in document order, so the
    descendants follow it directly."""
    section = sections[index]
    if not section.text.endswith(":") or section.kind in ("table_row", "table_group", "appendix"):
        return []
    depth = len(section.path)
    descendants = []
    for other in sections[index + 1:]:
        if len(other.path) <= depth or other.path[:depth] != section.path:
            break
        descendants.append(other)
    direct = [s for s in descendants if len(s.path) == depth + 1]
    if not direct:
        return []
    if all(s.kind == "point" for s in direct) or (
            section.kind == "article" and all(s.kind == "section" for s in direct)):
        return descendants
    return []


def _document_context(doc: Document) -> str:
    meta = doc.meta
    where = f" ({meta.locality})" if meta.locality and meta.locality not in (meta.issuer or "") else ""
    return f"{meta.short_name()}{where}"


def _heading_line(section: Section) -> str:
    """The heading as printed: its label and title ("3.2. Phòng Tài chính - Kế hoạch huyện:")."""
    if section.kind in ("preamble", "closing"):
        return ""
    if section.kind == "appendix":
        return section.title
    label = section.path[-1]
    title = section.title or section.text[:200]
    if section.kind in ("table_row", "table_group"):
        return f"{label}. {title}"
    return f"{label}. {title}" if not title.startswith(label) else title


def _pieces(section: Section, source: str, max_chars: int) -> list[tuple[int, int]]:
    """Split [start, end) at paragraph/bullet starts so each piece stays under max_chars.
    Table rows are never split: the agency cell must stay with its task."""
    if section.kind in ("table_row", "table_group") or len(section.text) <= max_chars:
        return [(section.start, section.end)]
    cuts = [b for b in section.breaks if section.start < b < section.end]
    pieces: list[tuple[int, int]] = []
    start = section.start
    last_cut = None
    for cut in cuts + [section.end]:
        if cut - start > max_chars and last_cut is not None and last_cut > start:
            pieces.append((start, _rstrip(source, start, last_cut)))
            start = last_cut
        last_cut = cut
    pieces.append((start, section.end))
    return pieces


def _rstrip(source: str, start: int, end: int) -> int:
    while end > start and source[end - 1].isspace():
        end -= 1
    return end
