"""Word, PDF and HTML files into the plain text the structure parser reads.

The output convention is the one of the .txt corpus: one line per paragraph, a blank line
between blocks, data tables row by row with cells joined by a tab (so the appendix-table parser
reads them), and header/signature layout tables (Quốc hiệu beside the issuer, Nơi nhận beside
the signature) flattened into one line per cell paragraph so `Số: …`, the date line, TM./KT.
and Nơi nhận each stand on their own line. Everything returned is NFC.

Failures are `ParseError`s that name the file: a file that is not what its suffix says, an
encrypted PDF, and a PDF without a text layer (a scan), which must be OCR'd rather than indexed
as an empty document.
"""
from __future__ import annotations

import io
import re
import unicodedata
from collections import Counter
from html.parser import HTMLParser

from .structure import ParseError

# Lines that belong to a header or signature block laid out in two columns.
_LAYOUT_CUE = re.compile(
    r"CỘNG H[ÒO]A XÃ HỘI|Độc lập\s*-\s*Tự do|^Số\s*:|^Nơi nhận|^Kính gửi|^(TM|KT|TL|T/M|K/T)\.?\s|"
    r"ngày\s*\d*\s*tháng\s*\d*\s*năm\s*\d{4}|^(PHÓ )?(CHỦ TỊCH|BÍ THƯ|GIÁM ĐỐC)$",
    re.IGNORECASE,
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\ufeff]")


def _finish(lines: list[str]) -> str:
    """Lines into the returned text: NFC, no control characters, non-breaking spaces as spaces,
    trailing spaces and runs of blank lines collapsed."""
    out: list[str] = []
    for line in lines:
        line = _CONTROL.sub("", line.replace("\u00a0", " ").replace("\u00ad", "")).rstrip()
        if not line.strip() and (not out or not out[-1].strip()):
            continue
        out.append(line)
    while out and not out[-1].strip():
        out.pop()
    return unicodedata.normalize("NFC", "\n".join(out) + "\n") if out else ""


def _is_layout_table(rows: list[list[list[str]]]) -> bool:
    """A borderless table that places header or signature blocks side by side, not data."""
    if not rows or max(len(r) for r in rows) > 2 or len(rows) > 4:
        return False
    first = next((cell[0] for row in rows for cell in row if cell), "")
    if first.strip().upper() in ("STT", "TT", "SỐ TT"):
        return False
    lines = [line for row in rows for cell in row for line in cell]
    return sum(1 for line in lines if _LAYOUT_CUE.search(line.strip())) >= 1


def _render_table(rows: list[list[list[str]]]) -> list[str]:
    """rows → cells → paragraphs of a cell, as lines of text."""
    if _is_layout_table(rows):
        out: list[str] = []
        for row in rows:
            for cell in row:
                out.extend(line for line in cell if line.strip())
                out.append("")
        return out
    out = []
    for row in rows:
        cells = [" ".join(" ".join(line.split()) for line in cell if line.strip()) for cell in row]
        if any(cells):
            out.append("\t".join(cells))
    return out + [""]


# --- DOCX ---------------------------------------------------------------------------------

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def docx_text(data: bytes, name: str) -> str:
    """Paragraphs and tables of the document body in order. Word's automatic numbering is
    rendered as its label ("1.", "a)", "1.2.", bullets as "-") from numbering.xml; text boxes,
    page headers/footers, footnotes and comments are not read."""
    try:
        import docx
        from docx.opc.exceptions import PackageNotFoundError
    except ImportError as exc:  # pragma: no cover - a dependency of the project
        raise ParseError(f"{name}: python-docx is not installed") from exc
    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, KeyError, ValueError, OSError) as exc:
        raise ParseError(f"{name}: not a readable Word .docx file ({type(exc).__name__}: {exc})") from exc
    except Exception as exc:  # zipfile.BadZipFile, lxml XMLSyntaxError…
        raise ParseError(f"{name}: not a readable Word .docx file ({type(exc).__name__}: {exc})") from exc
    numbering = _Numbering(document)
    lines = _docx_blocks(document.element.body, numbering)
    text = _finish(lines)
    if not text.strip():
        raise ParseError(f"{name}: the Word document has no text")
    return text


def _docx_blocks(parent, numbering: "_Numbering") -> list[str]:
    lines: list[str] = []
    layout = _TabLayout(lines)
    for child in parent.iterchildren():
        if child.tag == _W + "p":
            text = numbering.label(child) + _paragraph_text(child)
            layout.add(text)
        elif child.tag == _W + "tbl":
            layout.flush()
            lines.extend(_render_table(_docx_table(child, numbering)))
        elif child.tag == _W + "sdt":      # content controls wrap paragraphs and tables
            content = child.find(_W + "sdtContent")
            if content is not None:
                layout.flush()
                lines.extend(_docx_blocks(content, numbering))
    layout.flush()
    return lines


def _docx_table(tbl, numbering: "_Numbering") -> list[list[list[str]]]:
    """Rows of cells in grid columns: a cell spanning several columns is followed by empty cells,
    and a vertically merged cell repeats its text in every row it covers (the agency of each task),
    except in the first column, where an empty cell marks a row continued from the row above."""
    rows: list[list[list[str]]] = []
    above: dict[int, list[str]] = {}
    for tr in tbl.iterchildren(_W + "tr"):
        row: list[list[str]] = []
        for tc in tr.iterchildren(_W + "tc"):
            column = len(row)
            span_el = tc.find(f"{_W}tcPr/{_W}gridSpan")
            span = int(span_el.get(_W + "val", "1")) if span_el is not None else 1
            merge = tc.find(f"{_W}tcPr/{_W}vMerge")
            if merge is not None and merge.get(_W + "val") in (None, "continue"):
                content = list(above.get(column, [])) if column > 0 else []
            else:
                content = [line for line in _docx_blocks(tc, numbering) if line.strip()]
                above[column] = content
            row.append(content)
            row.extend([] for _ in range(span - 1))
        rows.append(row)
    return rows


def _paragraph_text(p) -> str:
    """The visible text of a w:p: runs, hyperlinks, fields' results and tracked insertions,
    without deleted text; tabs kept as tabs, line breaks as newlines."""
    parts: list[str] = []
    for el in p.iter():
        tag = el.tag
        if tag == _W + "t":
            parts.append(el.text or "")
        elif tag == _W + "tab" and el.getparent() is not None and el.getparent().tag == _W + "r":
            parts.append("\t")
        elif tag in (_W + "br", _W + "cr"):
            parts.append("\n")
        elif tag == _W + "noBreakHyphen":
            parts.append("-")
        elif tag == _W + "sym":
            parts.append(" ")
    return "".join(parts)


class _TabLayout:
    """Header and signature blocks laid out with tabs ("Số: 12/KH-UBND<tab>Vĩnh Linh, ngày…",
    "Nơi nhận:<tab>TM. ỦY BAN NHÂN DÂN"): the left column is emitted before the right one, each
    part on its own line. Any other tab inside a paragraph becomes a space."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.left: list[str] = []
        self.right: list[str] = []

    def add(self, text: str) -> None:
        for line in text.split("\n"):
            self._add_line(line)

    def _add_line(self, line: str) -> None:
        if "\t" in line:
            left, _, right = line.strip(" ").partition("\t")
            left, right = left.strip(), " ".join(right.replace("\t", " ").split())
            if right and (_LAYOUT_CUE.search(left) or _LAYOUT_CUE.search(right) or self.right
                          or (not left and self.left)):
                self.left.append(left)
                self.right.append(right)
                return
            line = " ".join(p for p in (left, right) if p)
        elif self.right and (line.strip().startswith("-") or not line.strip()):
            self.left.append(line.strip())
            return
        self.flush()
        self.lines.append(line)

    def flush(self) -> None:
        if not self.right:
            return
        self.lines.extend(line for line in self.left if line)
        self.lines.append("")
        self.lines.extend(line for line in self.right if line)
        self.lines.append("")
        self.left, self.right = [], []


def _roman(n: int) -> str:
    out = ""
    for value, numeral in ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
                           (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while n >= value:
            out += numeral
            n -= value
    return out


def _letters(n: int) -> str:
    n = max(n, 1)
    return chr(ord("a") + (n - 1) % 26) * ((n - 1) // 26 + 1)


def _format_number(n: int, fmt: str) -> str:
    if fmt == "lowerLetter":
        return _letters(n)
    if fmt == "upperLetter":
        return _letters(n).upper()
    if fmt == "lowerRoman":
        return _roman(n).lower()
    if fmt == "upperRoman":
        return _roman(n)
    if fmt == "decimalZero":
        return f"{n:02d}"
    if fmt == "none":
        return ""
    return str(n)


class _Numbering:
    """Word's list numbering: numId/ilvl of a paragraph (direct or through its style) → the label
    Word prints, counting per abstract list like Word does."""

    def __init__(self, document) -> None:
        self.nums: dict[str, tuple[str, dict[int, int]]] = {}      # numId → (abstractNumId, start overrides)
        self.levels: dict[tuple[str, int], dict] = {}              # (abstractNumId, ilvl) → level definition
        self.counters: dict[str, dict[int, int]] = {}
        self.started: set[str] = set()
        self.style_num: dict[str, tuple[str | None, int]] = {}
        try:
            part = document.part.numbering_part
        except (NotImplementedError, KeyError, AttributeError):
            part = None
        if part is not None:
            root = part.element
            for absnum in root.iterchildren(_W + "abstractNum"):
                aid = absnum.get(_W + "abstractNumId")
                for lvl in absnum.iterchildren(_W + "lvl"):
                    self.levels[(aid, int(lvl.get(_W + "ilvl", "0")))] = self._level(lvl)
            for num in root.iterchildren(_W + "num"):
                ref = num.find(_W + "abstractNumId")
                if ref is None:
                    continue
                overrides = {}
                for override in num.iterchildren(_W + "lvlOverride"):
                    start = override.find(_W + "startOverride")
                    if start is not None:
                        overrides[int(override.get(_W + "ilvl", "0"))] = int(start.get(_W + "val", "1"))
                self.nums[num.get(_W + "numId")] = (ref.get(_W + "val"), overrides)
        try:
            styles = document.styles.element
        except (NotImplementedError, KeyError, AttributeError):
            styles = None
        if styles is not None:
            for style in styles.iterchildren(_W + "style"):
                numpr = style.find(f"{_W}pPr/{_W}numPr")
                if numpr is not None:
                    self.style_num[style.get(_W + "styleId")] = self._numpr(numpr)

    @staticmethod
    def _level(lvl) -> dict:
        def val(tag: str, default: str) -> str:
            el = lvl.find(_W + tag)
            return el.get(_W + "val", default) if el is not None else default

        return {"start": int(val("start", "1")), "fmt": val("numFmt", "decimal"), "text": val("lvlText", ""),
                "legal": lvl.find(_W + "isLgl") is not None}

    @staticmethod
    def _numpr(numpr) -> tuple[str | None, int]:
        num_id = numpr.find(_W + "numId")
        ilvl = numpr.find(_W + "ilvl")
        return (num_id.get(_W + "val") if num_id is not None else None,
                int(ilvl.get(_W + "val", "0")) if ilvl is not None else 0)

    def label(self, p) -> str:
        if not self.nums:
            return ""
        ppr = p.find(_W + "pPr")
        if ppr is None:
            return ""
        num_id, ilvl = None, 0
        style = ppr.find(_W + "pStyle")
        if style is not None and style.get(_W + "val") in self.style_num:
            num_id, ilvl = self.style_num[style.get(_W + "val")]
        numpr = ppr.find(_W + "numPr")
        if numpr is not None:
            direct_id, direct_lvl = self._numpr(numpr)
            num_id = direct_id or num_id
            ilvl = direct_lvl if numpr.find(_W + "ilvl") is not None else ilvl
        if not num_id or num_id == "0" or num_id not in self.nums:
            return ""
        aid, overrides = self.nums[num_id]
        level = self.levels.get((aid, ilvl))
        if level is None:
            return ""
        counters = self.counters.setdefault(aid, {})
        if num_id not in self.started:
            self.started.add(num_id)
            for lvl, start in overrides.items():
                counters[lvl] = start - 1
        counters[ilvl] = counters.get(ilvl, level["start"] - 1) + 1
        for deeper in [k for k in counters if k > ilvl]:
            del counters[deeper]
        if level["fmt"] == "bullet":
            return "- "
        label = level["text"]
        for k in range(ilvl + 1):
            lvl_def = self.levels.get((aid, k), {"fmt": "decimal", "start": 1})
            value = counters.get(k, lvl_def["start"])
            fmt = "decimal" if level["legal"] and k < ilvl else lvl_def["fmt"]
            label = label.replace(f"%{k + 1}", _format_number(value, fmt))
        return f"{label} " if label else ""


# --- PDF ----------------------------------------------------------------------------------

_PAGE_NUMBER = re.compile(r"^(?:[-–—]\s*)?(?:Trang\s+|Page\s+)?\d{1,4}(?:\s*(?:/|of|trên)\s*\d{1,4})?(?:\s*[-–—])?$",
                          re.IGNORECASE)
_HYPHENATED = re.compile(r"(?<=[^\W\d_])-$")
_MIN_TEXT_PER_PAGE = 20


def pdf_text(data: bytes, name: str) -> str:
    """The text layer of a PDF, page by page in the order pypdf reads the content stream.

    Lines repeated at the top or bottom of most pages (running headers and footers) and bare
    page numbers are dropped; a word hyphenated at a line end is re-joined (the hyphen kept when
    the first part is a whole Vietnamese syllable, as in "kinh tế-xã hội"); other line ends are
    left for the paragraph assembler. A PDF whose pages carry no text is a scan: ParseError."""
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError as exc:  # pragma: no cover - a dependency of the project
        raise ParseError(f"{name}: pypdf is not installed") from exc
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ParseError(f"{name}: the PDF is encrypted with a password")
        pages = [page.extract_text() or "" for page in reader.pages]
    except ParseError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ParseError(f"{name}: not a readable PDF ({type(exc).__name__}: {exc})") from exc
    except Exception as exc:  # pypdf raises assorted errors on damaged files
        raise ParseError(f"{name}: not a readable PDF ({type(exc).__name__}: {exc})") from exc
    if not pages:
        raise ParseError(f"{name}: the PDF has no pages")
    # justified lines come out with runs of spaces: offsets point into this text, so collapse them
    page_lines = [[" ".join(unicodedata.normalize("NFC", line).split()) for line in page.splitlines()]
                  for page in pages]
    page_lines = [[line for line in lines if line] for lines in page_lines]
    if not any(len("".join(lines).replace(" ", "")) >= _MIN_TEXT_PER_PAGE for lines in page_lines):
        raise ParseError(f"{name}: the PDF has no text layer (scanned PDF?) — run OCR first")
    page_lines = _drop_running_lines(page_lines)
    lines = _dehyphenate([line for lines in page_lines for line in lines])
    return _finish(lines)


def _running_key(line: str) -> str:
    return re.sub(r"\d+", "#", " ".join(line.split()).lower())


def _drop_running_lines(pages: list[list[str]], edge: int = 3) -> list[list[str]]:
    """Drop page numbers and lines that recur at the same edge of most pages."""
    repeated: set[str] = set()
    if len(pages) >= 2:
        counts: Counter[str] = Counter()
        for lines in pages:
            counts.update({_running_key(line) for line in lines[:edge] + lines[-edge:]})
        need = max(2, -(-len(pages) * 6 // 10))
        repeated = {key for key, n in counts.items() if n >= need}
    out = []
    for lines in pages:
        keep = []
        for i, line in enumerate(lines):
            at_edge = i < edge or i >= len(lines) - edge
            if at_edge and (_PAGE_NUMBER.match(line) or _running_key(line) in repeated):
                continue
            keep.append(line)
        out.append(keep)
    return out


def _dehyphenate(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        if out and _HYPHENATED.search(out[-1]) and line[:1].islower():
            prev = out[-1][:-1]
            fragment = prev.split()[-1] if prev.split() else ""
            keep_hyphen = any(not c.isascii() for c in fragment)
            out[-1] = prev + ("-" if keep_hyphen else "") + line
            continue
        out.append(line)
    return out


# --- HTML ---------------------------------------------------------------------------------

_SKIP = {"script", "style", "nav", "header", "footer", "noscript", "template", "head", "aside", "form",
         "button", "select", "svg", "iframe", "object", "menu"}
_BLOCK = {"p", "div", "section", "article", "main", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li",
          "dl", "dt", "dd", "blockquote", "pre", "address", "figure", "figcaption", "hr", "center", "body",
          "caption", "fieldset", "details", "summary", "table"}
_VOID = {"br", "hr", "img", "meta", "link", "input", "area", "base", "col", "embed", "param", "source",
         "track", "wbr"}
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w-]+)""", re.IGNORECASE)


class _Table:
    def __init__(self) -> None:
        self.rows: list[list[list[str]]] = []

    def new_row(self) -> None:
        self.rows.append([])

    def new_cell(self) -> None:
        if not self.rows:
            self.new_row()
        self.rows[-1].append([""])

    def write(self, text: str) -> None:
        if not self.rows or not self.rows[-1]:
            self.new_cell()
        self.rows[-1][-1][-1] += text

    def newline(self) -> None:
        if self.rows and self.rows[-1] and self.rows[-1][-1][-1].strip():
            self.rows[-1][-1].append("")


class _HTMLText(HTMLParser):
    """Collects the visible text of a page: one line per block element, tables through
    `_render_table`, list items with their bullet or number. Text inside <main> or <article> is
    also collected apart, so that the page's chrome can be left out when the page has them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.all: list[str] = [""]
        self.main: list[str] = [""]
        self.main_depth = 0
        self.skip: list[str] = []
        self.tables: list[_Table] = []
        self.lists: list[list] = []          # [tag, next number, type]
        self.pre = 0
        self.marker = ""                     # a list item's bullet or number, written before its text

    # output
    def _targets(self) -> list[list[str]]:
        return [self.all, self.main] if self.main_depth else [self.all]

    def _newline(self, blank: bool = False) -> None:
        if self.tables:
            # In a cell a paragraph break is a line break: _render_table drops blank lines there.
            self.tables[-1].newline()
            return
        for out in self._targets():
            if out[-1].strip():
                out.append("")
            if blank and (len(out) < 2 or out[-2].strip()):
                out.append("")

    def _blank(self) -> None:
        self._newline(blank=True)

    def _write(self, text: str) -> None:
        if self.tables:
            self.tables[-1].write(text)
            return
        for out in self._targets():
            out[-1] += text

    # parser events
    def handle_starttag(self, tag: str, attrs) -> None:
        if self.skip:
            if tag not in _VOID:
                self.skip.append(tag)
            return
        if tag in _SKIP:
            self.skip.append(tag)
            return
        if tag in ("main", "article"):
            self.main_depth += 1
        if tag == "table":
            self._newline()
            self.tables.append(_Table())
            return
        if self.tables:
            if tag == "tr":
                self.tables[-1].new_row()
                return
            if tag in ("td", "th"):
                self.tables[-1].new_cell()
                return
        if tag == "br":
            self._newline()
        elif tag in ("ul", "ol"):
            attributes = dict(attrs)
            start = attributes.get("start") or "1"
            self.lists.append([tag, int(start) if start.isdigit() else 1, attributes.get("type") or "1"])
            self._newline()
        elif tag == "li":
            self._newline()
            if self.lists:
                kind, number, style = self.lists[-1]
                self.lists[-1][1] += 1
                if kind == "ul":
                    self.marker = "- "
                else:
                    fmt = {"a": "lowerLetter", "A": "upperLetter", "i": "lowerRoman", "I": "upperRoman"}.get(style)
                    self.marker = f"{_format_number(number, fmt or 'decimal')}{')' if style == 'a' else '.'} "
        elif tag in _BLOCK:
            if tag == "pre":
                self.pre += 1
            self._blank() if tag in ("p", "h1", "h2", "h3", "h4", "h5", "h6") else self._newline()

    def handle_startendtag(self, tag: str, attrs) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.skip:
            if tag == self.skip[-1]:
                self.skip.pop()
            elif tag in self.skip:           # unclosed tags inside the skipped element
                while self.skip and self.skip.pop() != tag:
                    pass
            return
        if tag == "table" and self.tables:
            rows = self.tables.pop().rows
            lines = _render_table(rows)
            if self.tables:                  # a table inside a cell: its rows as cell text
                for line in lines:
                    self.tables[-1].write(" ".join(line.split("\t")))
                    self.tables[-1].newline()
            else:
                for out in self._targets():
                    if out[-1].strip():
                        out.append("")
                    out[-1:] = lines + [""]
        elif tag in ("main", "article") and self.main_depth:
            self.main_depth -= 1
            self._newline()
        elif tag in ("ul", "ol") and self.lists:
            self.lists.pop()
            self._newline()
        elif tag in ("td", "th", "tr") and self.tables:
            return
        elif tag in _BLOCK:
            if tag == "pre" and self.pre:
                self.pre -= 1
            self._blank() if tag in ("p", "h1", "h2", "h3", "h4", "h5", "h6") else self._newline()

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.pre and not self.tables:
            for i, part in enumerate(data.split("\n")):
                if i:
                    self._newline()
                self._write(part)
            return
        text = re.sub(r"[ \t\r\n\f]+", " ", data)
        if not text.strip():
            if text and not self._at_line_start():
                self._write(" ")
            return
        if self._at_line_start():
            text = self.marker + text.lstrip()
            self.marker = ""
        self._write(text)

    def _at_line_start(self) -> bool:
        if self.tables:
            table = self.tables[-1]
            return not (table.rows and table.rows[-1] and table.rows[-1][-1][-1])
        return not self.all[-1]


def html_text(data: bytes, name: str) -> str:
    """The main text of a saved web page: scripts, styles, navigation, header and footer
    dropped; the text of <main>/<article> preferred when the page has some (200 characters or more)."""
    from .loaders import decode

    m = _CHARSET.search(data[:4096])
    text = decode(data, name, declared=m.group(1).decode("ascii") if m else None)
    if "<" not in text or not re.search(r"<\s*(html|body|p|div|table|h\d|br|span)\b", text, re.IGNORECASE):
        raise ParseError(f"{name}: not an HTML page")
    parser = _HTMLText()
    try:
        parser.feed(text)
        parser.close()
    except Exception as exc:  # html.parser is lenient; this is a safety net
        raise ParseError(f"{name}: cannot parse HTML ({exc})") from exc
    main = _finish(parser.main)
    result = main if len(main.strip()) >= 200 else _finish(parser.all)
    if not result.strip():
        raise ParseError(f"{name}: the page has no text")
    return result
