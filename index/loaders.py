"""Reading corpus files into text. The offsets of every section point into this text."""
from __future__ import annotations

import unicodedata
from pathlib import Path

from .structure import ParseError

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ""}


def decode(data: bytes, name: str = "") -> str:
    """Bytes to NFC text: UTF-8 (with or without BOM) or UTF-16 with a BOM; anything else is an error
    rather than mojibake in the index."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ParseError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    if "\x00" in text:
        raise ParseError(f"{name}: binary content, not a text document")
    return unicodedata.normalize("NFC", text)


def read_text(path: Path) -> str:
    if path.suffix.lower() not in TEXT_SUFFIXES:
        raise ParseError(f"{path.name}: unsupported file type {path.suffix!r}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ParseError(f"{path.name}: cannot read ({exc.strerror})") from exc
    return decode(data, path.name)
