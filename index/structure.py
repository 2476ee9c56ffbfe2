"""Builds a document's outline from its text as received.

Real documents mix conventions: Roman parts written `I-`, `II.` or `#### **I. ...**`,
numbered sections `1.` / `1.1.`, points `a)`, dash bullets, legal Chương/Mục/Điều/khoản/điểm,
a tab-separated appendix table with HTML tags, lines hard-wrapped at 80 characters and page
breaks in the middle of a sentence. The parser works on *paragraphs* (physical lines re-joined
where a line break does not end a thought), classifies each as header, structural heading,
body or signature, and keeps for every section the offsets of its text in the source so a
citation can always be checked against the original.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from .models import APPENDIX, CLOSING, PREAMBLE, Section
from .references import find_references

_TAG = re.compile(r"<[^>]+>")
_MD_HEADING = re.compile(r"(?m)^[ \t]*#{1,6}[ \t]*")
_EMPHASIS = re.compile(r"\*+")
_SPACE = re.compile(r"\s+")


def visible_text(raw: str) -> str:
    """What a reader sees of a span: markup (HTML tags, Markdown heading marks and emphasis)
    removed, entities decoded, whitespace collapsed. Chunk texts are exactly this of their span."""
    text = _MD_HEADING.sub("", raw)
    text = _TAG.sub(" ", text)
    text = html.unescape(text)
    text = _EMPHASIS.sub("", text)
    return _SPACE.sub(" ", text).strip()


# --- paragraph assembly -------------------------------------------------------------------

@dataclass
class Paragraph:
    start: int
    end: int
    text: str                      # visible text
    raw_first_line: str            # for table rows and Markdown cues
    line_starts: list[int] = field(default_factory=list)


_ROMAN = re.compile(r"^(?P<label>[IVXL]{1,5})\s*[-.–:]\s*(?P<title>\S.*)$")
_NUMBERED = re.compile(r"^(?P<label>\d{1,2}(?:\.\d{1,2}){0,3})\.(?!\d)\s*(?P<title>.*)$")
_POINT = re.compile(r"^(?P<label>[a-zđ])\)\s*(?P<title>\S.*)$")
_BULLET = re.compile(r"^[-–•+*]\s")
_CHAPTER = re.compile(r"^Chương\s+(?P<label>[IVXLC]+|\d+)\b[.:]?\s*(?P<title>.*)$")
_LEGAL_SECTION = re.compile(r"^Mục\s+(?P<label>\d+)\b[.:]?\s*(?P<title>.*)$")
_PART = re.compile(r"^Phần\s+(?P<label>thứ\s+\S+|[IVXLC]+|\d+)\b[.:]?\s*(?P<title>.*)$", re.IGNORECASE)
_ARTICLE = re.compile(r"^Điều\s+(?P<label>\d+[a-z]?)\s*[.:]\s*(?P<title>.*)$")
_TERMINAL = (".", ":", ";", "!", "?", "…", ")", "”", '"')


def _is_structural(text: str) -> bool:
    return bool(
        _NUMBERED.match(text) or _POINT.match(text) or _BULLET.match(text) or _ARTICLE.match(text)
        or _CHAPTER.match(text) or (_ROMAN.match(text) and _mostly_upper(_ROMAN.match(text)["title"]))
    )


def _mostly_upper(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(c.isupper() for c in letters) >= 0.7 * len(letters)


def _lines(source: str) -> list[tuple[int, int, str]]:
    out, pos = [], 0
    for line in source.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        out.append((pos, pos + len(body), body))
        pos += len(line)
    return out


def _wrap_width(lines: list[tuple[int, int, str]]) -> int | None:
    """The column at which a hard-wrapped file breaks its lines, or None when lines are free."""
    lengths = [len(raw.strip()) for _, _, raw in lines if raw.strip()]
    if len(lengths) < 20:
        return None
    wrapped = [n for n in lengths if 60 <= n <= 100]
    if len(wrapped) < 0.4 * len(lengths):
        return None
    wrapped.sort()
    return wrapped[len(wrapped) // 2]


def paragraphs(source: str) -> list[Paragraph]:
    """Physical lines re-joined into paragraphs.

    A line continues the previous paragraph when it starts in lower case (a page break cut
    the sentence) or, in a hard-wrapped file, when the previous line ran to the wrap column
    without ending a sentence. Structural markers always start a new paragraph.
    """
    lines = _lines(source)
    width = _wrap_width(lines)
    out: list[Paragraph] = []
    for start, end, raw in lines:
        text = visible_text(raw)
        if not text:
            continue
        lead = len(raw) - len(raw.lstrip())
        start += lead
        end = start + len(raw.strip())
        if out and "\t" not in raw and "\t" not in out[-1].raw_first_line and _continues(out[-1], text, width):
            prev = out[-1]
            prev.end = end
            prev.text = f"{prev.text} {text}"
            prev.line_starts.append(start)
            continue
        out.append(Paragraph(start, end, text, raw, [start]))
    return out


def _continues(prev: Paragraph, text: str, width: int | None) -> bool:
    if _is_structural(text) or _is_header_or_signature_cue(text):
        return False
    first = text[0]
    if first.islower() or (first.isdigit() and not _NUMBERED.match(text)):
        return not _is_header_or_signature_cue(prev.text)
    if width is None:
        return False
    last_line = prev.text[-(width + 10):]
    return not prev.text.endswith(_TERMINAL) and len(last_line) >= 0.6 * width


# --- header, signature and appendix cues --------------------------------------------------

_DOC_TYPES = {
    "KẾ HOẠCH": "Kế hoạch", "CÔNG VĂN": "Công văn", "QUYẾT ĐỊNH": "Quyết định", "NGHỊ QUYẾT": "Nghị quyết",
    "CHỈ THỊ": "Chỉ thị", "THÔNG BÁO": "Thông báo", "BÁO CÁO": "Báo cáo", "TỜ TRÌNH": "Tờ trình",
    "CHƯƠNG TRÌNH": "Chương trình", "HƯỚNG DẪN": "Hướng dẫn", "LUẬT": "Luật", "NGHỊ ĐỊNH": "Nghị định",
    "THÔNG TƯ": "Thông tư", "KẾT LUẬN": "Kết luận",
}
_NATIONAL_MOTTO = re.compile(r"CỘNG HÒA XÃ HỘI|CỘNG HOÀ XÃ HỘI|Độc lập\s*-\s*Tự do|^[-_*=\s]+$", re.IGNORECASE)
_NUMBER_LINE = re.compile(r"^Số(?: hiệu)?\s*[:.]?\s*(?P<number>[^|]*?)\s*$")
_DATE_LINE = re.compile(r"^(?P<place>[^\d,]{2,40}),\s*ngày\b.*\bnăm\s+\d{4}")
_META_BLOCK = re.compile(
    r"^(Số hiệu|Ngày ban hành|Ngày có hiệu lực|Loại văn bản|Cơ quan ban hành|Người ký|Lĩnh vực|Nguồn|Tình trạng)\b"
)
_RECIPIENTS = re.compile(r"^(Kính gửi|Nơi nhận)\s*:?", re.IGNORECASE)
_SIGNATURE = re.compile(r"^(TM\.|T/M|KT\.|K/T|TL\.|Q\.\s|CHỦ TỊCH|PHÓ CHỦ TỊCH|BÍ THƯ|PHÓ BÍ THƯ|GIÁM ĐỐC)")
_APPENDIX = re.compile(r"^PHỤ LỤC\b")
_TRUNCATED = re.compile(r"^\[\s*(\.\.\.|…)\s*\]$")
_CLOSING = re.compile(r"^(Trên đây|Trong quá trình|Yêu cầu (Thủ trưởng|các|Giám đốc)|Nhận được|Quá trình thực hiện)")


def _is_header_or_signature_cue(text: str) -> bool:
    return bool(
        _RECIPIENTS.match(text) or _SIGNATURE.match(text) or _APPENDIX.match(text)
        or _NUMBER_LINE.match(text) or _DATE_LINE.match(text) or _TRUNCATED.match(text)
    )


# --- outline ------------------------------------------------------------------------------

# Rank of each kind of heading: a new heading closes every open heading of equal or lower rank.
_RANK = {"part": 1, "chapter": 2, "legal_section": 3, "roman": 4, "article": 5, "numbered": 10, "point": 20}


@dataclass
class _Open:
    rank: int
    label: str
    heading: str
    section: Section | None


class _Outline:
    def __init__(self, source: str) -> None:
        self.source = source
        self.sections: list[Section] = []
        self.stack: list[_Open] = []
        self.current: Section | None = None
        self.seen: dict[tuple[str, ...], int] = {}

    def path(self) -> list[str]:
        return [o.label for o in self.stack]

    def open(self, rank: int, label: str, kind: str, para: Paragraph, title: str) -> None:
        while self.stack and self.stack[-1].rank >= rank:
            self.stack.pop()
        # A heading printed twice (e.g. "III-" for both parts of KH 67): keep it apart.
        label = _unique(self, tuple(self.path()), label)
        section = self._new(self.path() + [label], kind, para, title)
        self.stack.append(_Open(rank, label, para.text, section))

    def _new(self, path: list[str], kind: str, para: Paragraph, title: str) -> Section:
        section = Section(path=path, kind=kind, title=title, text="", start=para.start, end=para.end,
                          breaks=list(para.line_starts[:1]))
        self.sections.append(section)
        self.current = section
        return section

    def top_level(self, label: str, kind: str, para: Paragraph) -> None:
        self.stack.clear()
        # A second closing paragraph after more sections ("Trên đây là …" twice): kept apart,
        # as a heading printed twice is, so that every clause path names one clause.
        self._new([_unique(self, (), label)], kind, para, "")

    def extend(self, para: Paragraph) -> None:
        if self.current is None:
            self.top_level(PREAMBLE, "preamble", para)
            return
        self.current.end = para.end
        self.current.breaks.append(para.start)


def _heading_match(text: str, legal: bool) -> tuple[str, str, str] | None:
    """(kind, label, title) when the paragraph opens a section."""
    for kind, pattern in (("part", _PART), ("chapter", _CHAPTER), ("article", _ARTICLE)):
        m = pattern.match(text)
        if m and (kind != "part" or legal):
            prefix = {"part": "Phần", "chapter": "Chương", "article": "Điều"}[kind]
            return kind, f"{prefix} {m['label']}", m["title"].strip()
    m = _LEGAL_SECTION.match(text)
    if m and legal:
        return "legal_section", f"Mục {m['label']}", m["title"].strip()
    m = _ROMAN.match(text)
    if m and _mostly_upper(m["title"]):
        return "roman", m["label"], m["title"].strip()
    m = _NUMBERED.match(text)
    if m:
        return "numbered", m["label"], m["title"].strip()
    m = _POINT.match(text)
    if m:
        return "point", m["label"], m["title"].strip()
    return None


_KIND_NAMES = {"roman": "part", "numbered": "section", "point": "point", "article": "article",
               "chapter": "chapter", "legal_section": "legal_section", "part": "part"}


@dataclass
class ParsedLayout:
    """The outline plus what the header and signature said, for the metadata parser."""

    sections: list[Section]
    header: list[Paragraph]
    signature: list[Paragraph]
    truncated: bool
    title_paragraphs: list[Paragraph]
    doc_type_line: str | None


def parse_structure(source: str) -> ParsedLayout:
    paras = paragraphs(source)
    legal = any(_ARTICLE.match(p.text) for p in paras)
    body_start, title_paras, doc_type_line = _find_body_start(paras, legal)
    header = paras[:body_start]
    outline = _Outline(source)
    signature: list[Paragraph] = []
    truncated = False
    state = "body"
    i = body_start
    while i < len(paras):
        para = paras[i]
        text = para.text
        if _TRUNCATED.match(text):
            truncated = True
            i += 1
            continue
        if _APPENDIX.match(text):
            i = _parse_appendix(paras, i, outline)
            state = "after_appendix"
            continue
        if state != "body":
            signature.append(para)
            i += 1
            continue
        if _RECIPIENTS.match(text) and text.lower().startswith("nơi nhận") or _SIGNATURE.match(text):
            state = "signature"
            signature.append(para)
            i += 1
            continue
        match = _heading_match(text, legal)
        if match:
            kind, label, title = match
            rank = _RANK[kind]
            if kind == "numbered":
                rank += label.count(".")
            outline.open(rank, label, _KIND_NAMES[kind], para, _short_title(title))
        elif _CLOSING.match(text) and outline.stack:
            outline.top_level(CLOSING, "closing", para)
        else:
            outline.extend(para)
        i += 1
    sections = [_finish(s, source) for s in outline.sections]
    return ParsedLayout([s for s in sections if s.text], header, signature, truncated, title_paras, doc_type_line)


def _short_title(title: str, limit: int = 240) -> str:
    if len(title) <= limit:
        return title
    cut = title[:limit].rsplit(" ", 1)[0]
    return cut + " …"


def _finish(section: Section, source: str) -> Section:
    section.text = visible_text(source[section.start:section.end])
    section.breaks = sorted(set(b for b in section.breaks if section.start <= b < section.end))
    section.references = find_references(section.text)
    return section


def _find_body_start(paras: list[Paragraph], legal: bool) -> tuple[int, list[Paragraph], str | None]:
    """Index of the first content paragraph; the header before it is metadata, not content."""
    doc_type_line = None
    title: list[Paragraph] = []
    last_header = -1
    i = 0
    while i < len(paras):
        text = paras[i].text
        if legal and (_ARTICLE.match(text) or _CHAPTER.match(text) or (_PART.match(text))):
            break
        upper = text.upper() == text and any(c.isalpha() for c in text)
        if text.startswith("V/v") or text.startswith("V/V"):
            title = [paras[i]]
            j = i + 1
            while j < len(paras) and not (_DATE_LINE.match(paras[j].text) or _RECIPIENTS.match(paras[j].text)
                                          or _is_structural(paras[j].text)) and len(paras[j].text) < 200 \
                    and not paras[j].text.startswith(("Thực hiện", "Căn cứ", "Để ")):
                title.append(paras[j])
                j += 1
            last_header = j - 1
            i = j
            continue
        if upper and text.strip(" *#") in _DOC_TYPES:
            doc_type_line = _DOC_TYPES[text.strip(" *#")]
            last_header = i
            if i + 1 < len(paras) and not _is_structural(paras[i + 1].text):
                title = [paras[i + 1]]
                last_header = i + 1
                # an all-caps trích yếu may run over a second line
                if i + 2 < len(paras) and paras[i + 1].text.isupper() and paras[i + 2].text.isupper() \
                        and not _is_structural(paras[i + 2].text):
                    title.append(paras[i + 2])
                    last_header = i + 2
            i = last_header + 1
            continue
        if _RECIPIENTS.match(text) and text.lower().startswith("kính gửi"):
            j = i + 1
            while j < len(paras) and _BULLET.match(paras[j].text):
                j += 1
            last_header = j - 1
            i = j
            continue
        if (_NATIONAL_MOTTO.search(text) or _NUMBER_LINE.match(text) or _DATE_LINE.match(text)
                or _META_BLOCK.match(text) or (upper and len(text) < 60) or i == 0 and len(paras) > 1
                and not _is_structural(text) and _looks_like_title_line(text)):
            last_header = i
            i += 1
            continue
        if last_header >= 0 or _is_structural(text) or len(text) > 100:
            break
        i += 1
    return max(last_header + 1, 0), title, doc_type_line


def _looks_like_title_line(text: str) -> bool:
    """A first line that names the document ("Kế hoạch 251/KH-UBND năm 2023 về …", "Luật Hợp tác xã")."""
    return bool(re.match(r"^(Kế hoạch|Công văn|Quyết định|Nghị quyết|Nghị định|Thông tư|Luật|Chỉ thị)\b", text))


# --- appendix table -----------------------------------------------------------------------

def _parse_appendix(paras: list[Paragraph], i: int, outline: _Outline) -> int:
    """The appendix: a title, then either a tab-separated table (STT | NHIỆM VỤ | PHÂN CÔNG TRÁCH
    NHIỆM), each row one section carrying its group heading and column names, or numbered text."""
    outline.stack.clear()
    # A document may carry several appendices, and a table may repeat a row number: each
    # must keep its own clause path, or their chunks would share an id and ingest refuse the file.
    top = _unique(outline, (), APPENDIX)
    appendix = outline._new([top], "appendix", paras[i], "")
    i += 1
    columns: list[str] | None = None
    group_heading = ""
    while i < len(paras):
        para = paras[i]
        raw = para.raw_first_line
        if columns is None:
            if "\t" in raw and raw.split("\t")[0].strip().upper() == "STT":
                columns = [visible_text(c) for c in raw.split("\t")]
                i += 1
                continue
            if "\t" in raw or _is_structural(para.text) or not (para.text.isupper() or para.text.startswith("(")):
                break
            appendix.end = para.end
            i += 1
            continue
        if "\t" not in raw:
            break
        cells = [visible_text(c) for c in raw.split("\t")]
        label = cells[0].rstrip(".")
        if not label:
            # a row continued after a page break: its cells extend the previous row's cells
            if outline.current is not None and outline.current.kind.startswith("table"):
                _extend_row(outline.current, columns, cells, para)
            i += 1
            continue
        row = {name: cells[k] for k, name in enumerate(columns) if 0 < k < len(cells) and cells[k]}
        is_group = "." not in label and not row.get(columns[-1])
        section = outline._new([top, _unique(outline, (top,), label)], "table_group" if is_group else "table_row", para,
                               _short_title(row.get(columns[1], "") if len(columns) > 1 else ""))
        if is_group:
            group_heading = para.text
        elif group_heading:
            section.fields["Nhóm nhiệm vụ"] = group_heading
        section.fields.update(row)
        i += 1
    appendix.title = visible_text(" ".join(p.text for p in paras if appendix.start <= p.start < appendix.end))
    outline.current = None
    return i


def _unique(outline: _Outline, parent: tuple[str, ...], label: str) -> str:
    """`label`, or `label (n)` when the n-th section of that path under `parent`."""
    key = parent + (label,)
    outline.seen[key] = outline.seen.get(key, 0) + 1
    return label if outline.seen[key] == 1 else f"{label} ({outline.seen[key]})"


def _extend_row(section: Section, columns: list[str], cells: list[str], para: Paragraph) -> None:
    section.end = para.end
    section.breaks.append(para.start)
    for k, value in enumerate(cells):
        if k == 0 or not value or k >= len(columns):
            continue
        name = columns[k]
        section.fields[name] = f"{section.fields.get(name, '')} {value}".strip()


# --- whole files --------------------------------------------------------------------------

class ParseError(ValueError):
    """A file that cannot be read as a document; ingest names it and skips it."""


def parse_text(doc_id: str, source: str, source_path=None, overrides: dict | None = None):
    """A Document from text already decoded (offsets point into `source`)."""
    from .metadata import apply_overrides, parse_metadata
    from .models import Document

    layout = parse_structure(source)
    if not layout.sections:
        raise ParseError(f"{doc_id}: no content found (empty or only a header)")
    meta = apply_overrides(parse_metadata(doc_id, layout, source_path), overrides or {})
    return Document(meta=meta, source_text=source, sections=layout.sections)


def parse_file(path):
    """Read, decode and parse one corpus file. The file stem is the document id."""
    from pathlib import Path

    from .loaders import read_text
    from .metadata import load_overrides

    path = Path(path)
    source = read_text(path)
    return parse_text(path.stem, source, path, load_overrides(path))
