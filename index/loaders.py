"""Reading corpus files into text. The offsets of every section point into this text.

`read_text(path)` is the one entry point: plain text and Markdown are decoded here (UTF-8,
UTF-16, and the legacy Vietnamese 8-bit encodings Windows-1258 and TCVN3), Word, PDF and
HTML files are turned into text by `formats.py`, one line per paragraph and table rows as
tab-separated lines, so the same structure and header parser reads every format.
Whatever comes back is NFC: a file mixing precomposed and decomposed letters reads the same
as one that does not.
"""
from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from .structure import ParseError

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ""}
DOCX_SUFFIXES = {".docx"}
PDF_SUFFIXES = {".pdf"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | DOCX_SUFFIXES | PDF_SUFFIXES | HTML_SUFFIXES


# --- legacy encodings ---------------------------------------------------------------------

# TCVN 5712:1993 (VN3, the "ABC" fonts .VnTime/.VnArial): bytes 0xA1-0xFE carry the
# precomposed lowercase letters; the VN1 extension adds uppercase letters in 0x80-0x9F and in
# the gaps of the lowercase range. Checked against libiconv's TCVN-5712 table. The five
# combining tone marks sit at 0xB0-0xB4.
_TCVN3_HIGH = (
    # 0x80-0x8F
    "ÀẢÃÁẠẶẬÈẺẼÉẸỆÌỈĨ"
    # 0x90-0x9F
    "ÍỊÒỎÕÓỌỘỜỞỠỚỢÙỦŨ"
    # 0xA0-0xAF
    "\u00a0ĂÂÊÔƠƯĐăâêôơưđẰ"
    # 0xB0-0xBF
    "\u0300\u0309\u0303\u0301\u0323àảãáạẲằẳẵắẴ"
    # 0xC0-0xCF
    "ẮẦẨẪẤỀặầẩẫấậèỂẻẽ"
    # 0xD0-0xDF
    "éẹềểễếệìỉỄẾỒĩíịò"
    # 0xE0-0xEF
    "Ổỏõóọồổỗốộờởỡớợù"
    # 0xF0-0xFF
    "ỖủũúụừửữứựỳỷỹýỵỐ"
)
assert len(_TCVN3_HIGH) == 128
_TCVN3_TABLE = {0x80 + i: ch for i, ch in enumerate(_TCVN3_HIGH)}

# Words that occur in nearly every Vietnamese administrative text: how a decoding is judged.
# Only words with Vietnamese letters count: UTF-8 misread as an 8-bit code page keeps its ASCII words.
_COMMON_WORDS = frozenset(
    "của và các là có được những với này không người năm ngày tháng về để tại từ đến hợp tác xã "
    "thực hiện phát triển định điều khoản số ủy nhân dân tỉnh huyện đã việc đồng nước quản lý".split()
)
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xf4][\x80-\xbf]{1,3}")
_WORD = re.compile(r"[^\W\d_]+")


def decode_tcvn3(data: bytes) -> str:
    """TCVN3 (and its VN1 superset) bytes to NFC text.

    Text typed in the uppercase-only fonts (.VnTimeH) uses the lowercase codes for letters with
    tone marks, so "CỘNG HÒA" arrives as "CộNG HòA": a line whose other letters are all capitals
    is upper-cased (lines with digits, such as "Số: 12/KH-UBND", are left alone)."""
    text = data.decode("latin-1").translate(_TCVN3_TABLE)
    text = unicodedata.normalize("NFC", text)
    return "".join(_fix_tcvn3_caps(line) for line in text.splitlines(keepends=True))


def _fix_tcvn3_caps(line: str) -> str:
    ascii_letters = [c for c in line if "a" <= c.lower() <= "z" and c.isascii()]
    if not ascii_letters or any(c.islower() for c in ascii_letters) or any(c.isdigit() for c in line):
        return line
    words = _WORD.findall(line)
    if not any(sum(1 for c in w if c.isascii() and c.isupper()) >= 2 for w in words):
        return line
    return line.upper()


def vietnamese_score(text: str) -> float:
    """Share of the words of `text` that are common Vietnamese words (0 for foreign or mojibake)."""
    words = _WORD.findall(text[:200_000].lower())
    if not words:
        return 0.0
    return sum(1 for w in words if w in _COMMON_WORDS) / len(words)


def decode(data: bytes, name: str = "", declared: str | None = None) -> str:
    """Bytes to NFC text.

    UTF-8 (with or without BOM) is tried first and strictly; then UTF-16 (with a BOM, or
    without one when every other byte of ASCII text is zero); then `declared` (an HTML
    charset); then the legacy 8-bit encodings Windows-1258 (cp1258, which writes tone marks as
    combining characters) and TCVN3, kept only when the result reads as Vietnamese. Anything else
    is an error rather than mojibake in the index."""
    if data.startswith(b"\xef\xbb\xbf"):
        text = _strict(data, "utf-8-sig", name)
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = _strict(data, "utf-16", name)
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            text = _decode_other(data, name, declared, exc)
    if "\x00" in text:
        raise ParseError(f"{name}: binary content, not a text document")
    return unicodedata.normalize("NFC", text)


def _strict(data: bytes, encoding: str, name: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ParseError(f"{name}: invalid {encoding} text ({exc.reason} at byte {exc.start})") from exc


def _decode_other(data: bytes, name: str, declared: str | None, utf8_error: UnicodeDecodeError) -> str:
    sample = data[:4000]
    if len(sample) >= 4 and sample[1::2].count(0) > 0.4 * len(sample) / 2:
        return _strict(data, "utf-16-le", name)
    if len(sample) >= 4 and sample[0::2].count(0) > 0.4 * len(sample) / 2:
        return _strict(data, "utf-16-be", name)
    valid = len(_UTF8_SEQUENCE.findall(data[:200_000]))
    invalid = data[:200_000].decode("utf-8", errors="replace").count("\ufffd")
    if valid >= 20 and invalid * 20 < valid:
        raise ParseError(f"{name}: damaged UTF-8 text ({utf8_error.reason} at byte {utf8_error.start})") from utf8_error
    candidates: list[tuple[float, str, str]] = []
    if declared and declared.lower().replace("_", "-") not in ("utf-8", "utf8"):
        try:
            text = unicodedata.normalize("NFC", data.decode(declared))
            candidates.append((vietnamese_score(text) + 0.01, declared, text))
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        text = unicodedata.normalize("NFC", data.decode("cp1258"))
        candidates.append((vietnamese_score(text), "cp1258", text))
    except UnicodeDecodeError:
        pass
    text = decode_tcvn3(data)
    candidates.append((vietnamese_score(text), "tcvn3", text))
    score, _, text = max(candidates, key=lambda c: c[0])
    if score < 0.08:
        raise ParseError(
            f"{name}: not UTF-8 text ({utf8_error.reason} at byte {utf8_error.start}), and not recognisably "
            "Windows-1258 or TCVN3 Vietnamese either: convert it to UTF-8"
        ) from utf8_error
    return text


def read_text(path: Path) -> str:
    """The text of one corpus file, whatever its format: what `Document.source_text` holds."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".doc", ".rtf"):
        raise ParseError(f"{path.name}: unsupported file type {path.suffix!r} (old Word format): save it as .docx")
    if suffix not in SUPPORTED_SUFFIXES:
        raise ParseError(f"{path.name}: unsupported file type {path.suffix!r}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ParseError(f"{path.name}: cannot read ({exc.strerror})") from exc
    if suffix in TEXT_SUFFIXES:
        return decode(data, path.name)
    from . import formats

    if suffix in DOCX_SUFFIXES:
        return formats.docx_text(data, path.name)
    if suffix in PDF_SUFFIXES:
        return formats.pdf_text(data, path.name)
    return formats.html_text(data, path.name)
