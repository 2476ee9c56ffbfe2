"""Document metadata from the header and signature block, then overrides.

Vietnamese administrative documents carry their identity in a fixed layout: issuer lines,
the Quốc hiệu, `Số: 67-KH/HU`, "Vĩnh Linh, ngày 31 tháng 01 năm 2023", the document type
and its trích yếu, and at the end TM./KT. lines with the signer. Where the text lacks a fact
(a blank number, the province of a district) `metadata.yaml` beside the corpus supplies it.
"""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from .models import DocumentMeta
from .structure import _DOC_TYPES, ParsedLayout, Paragraph, visible_text

OVERRIDES_FILE = "metadata.yaml"

_NUMBER = re.compile(r"^Số(?: hiệu)?\s*[:.]?\s*(?P<number>.*)$")
_DATE = re.compile(
    r"^(?P<place>[^\d,]{2,40}),\s*ngày\s*(?P<day>\d{1,2})?\s*tháng\s*(?P<month>\d{1,2})?\s*năm\s*(?P<year>\d{4})"
)
_NUMERIC_DATE = re.compile(r"(?P<day>\d{1,2})/(?P<month>\d{1,2})/(?P<year>\d{4})")
_META_LINE = re.compile(r"^(?P<key>Số hiệu|Ngày ban hành|Loại văn bản|Cơ quan ban hành|Người ký)\s*:?\s*(?P<value>.+)$")
_LEGAL_META = re.compile(r"(Số hiệu|Cơ quan ban hành|Ngày ban hành)\s*:\s*([^|]+)")
_NAME = re.compile(r"^[A-ZĐÀ-Ỹ][a-zà-ỹđ]+(?: [A-ZĐÀ-Ỹ][a-zà-ỹđ]+){1,4}$")
_ISSUER_IN_TEXT = re.compile(
    r"(?P<body>Ban Thường vụ (?:Huyện|Tỉnh|Thành) ủy|Ủy ban nhân dân (?:tỉnh|huyện|thành phố|thị xã)"
    r"|UBND (?:tỉnh|huyện|thành phố|thị xã)|Chủ tịch UBND (?:tỉnh|huyện))"
)
_NUMBER_TYPES = {"KH": "Kế hoạch", "QĐ": "Quyết định", "NQ": "Nghị quyết", "CT": "Chỉ thị", "TB": "Thông báo",
                 "BC": "Báo cáo", "TTr": "Tờ trình", "HD": "Hướng dẫn", "CTr": "Chương trình"}


def parse_metadata(doc_id: str, layout: ParsedLayout, source_path: Path | None = None) -> DocumentMeta:
    header = [p.text for p in layout.header]
    meta: dict[str, Any] = {"doc_id": doc_id, "truncated": layout.truncated}
    if source_path is not None:
        meta["source_path"] = str(source_path)
        meta["source_format"] = source_path.suffix.lstrip(".").lower() or "txt"
    published = _published_block(header)

    meta["number"] = _number(header) or published.get("Số hiệu")
    meta["doc_type"] = layout.doc_type_line or published.get("Loại văn bản") or _type_from_title(header) \
        or _type_from_number(meta["number"], header)
    place, issued, issued_text, year = _date(header, published)
    meta.update(issued=issued, issued_text=issued_text, year=year)
    meta["title"] = _title(layout.title_paragraphs, header)
    level, issuer = _issuer(layout, place, published)
    meta.update(level=level, issuer=issuer, locality=place)
    meta["signer_role"], meta["signer"] = _signer(layout.signature)
    meta["signer"] = meta["signer"] or published.get("Người ký")
    meta["recipients"] = _recipients(layout)
    return DocumentMeta(**{k: v for k, v in meta.items() if v is not None})


def apply_overrides(meta: DocumentMeta, overrides: dict[str, Any]) -> DocumentMeta:
    if not overrides:
        return meta
    data = meta.model_dump()
    data.update(overrides)
    if isinstance(data.get("issued"), str):
        data["issued"] = date.fromisoformat(data["issued"])
    if data.get("issued") and not overrides.get("year"):
        data["year"] = data["issued"].year
    return DocumentMeta(**data)


def load_overrides(path: Path) -> dict[str, Any]:
    """Overrides for one file: `metadata.yaml` in its folder (keyed by doc id), then a
    `<file>.meta.yaml` sidecar, the sidecar winning."""
    merged: dict[str, Any] = {}
    shared = path.parent / OVERRIDES_FILE
    if shared.is_file():
        merged.update((yaml.safe_load(shared.read_text(encoding="utf-8")) or {}).get(path.stem) or {})
    sidecar = path.with_name(path.name + ".meta.yaml")
    if sidecar.is_file():
        merged.update(yaml.safe_load(sidecar.read_text(encoding="utf-8")) or {})
    return merged


def _published_block(header: list[str]) -> dict[str, str]:
    """The key/value block that law portals prepend ("Số hiệu 251/KH-UBND", "Người ký …"),
    or the one-line "Số hiệu: … | Cơ quan ban hành: … | Ngày ban hành: …" of the law texts."""
    found: dict[str, str] = {}
    for line in header:
        if "|" in line:
            for key, value in _LEGAL_META.findall(line):
                found.setdefault(key, value.strip())
        elif m := _META_LINE.match(line):
            found.setdefault(m["key"], m["value"].strip())
    return found


def _number(header: list[str]) -> str | None:
    for line in header:
        m = _NUMBER.match(line)
        if not m or line.startswith("Số hiệu"):
            continue
        number = re.sub(r"\s+", "", m["number"])
        if not number:
            continue
        # A blank number is printed as "Số: /UBND-NN": keep the visible part, mark the gap.
        return "…" + number if number.startswith("/") else number
    return None


def _type_from_title(header: list[str]) -> str | None:
    for line in header[:2]:
        m = re.match(r"^(Kế hoạch|Công văn|Quyết định|Nghị quyết|Nghị định|Thông tư|Luật|Chỉ thị)\b", line)
        if m:
            return m.group(1)
    return None


def _type_from_number(number: str | None, header: list[str]) -> str | None:
    if number:
        code = number.split("/")[-1].split("-")[0]
        if code in _NUMBER_TYPES:
            return _NUMBER_TYPES[code]
    if any(line.startswith(("V/v", "V/V")) for line in header):
        return "Công văn"    # only công văn carry a "V/v" trích yếu under the number
    return None


def _date(header: list[str], published: dict[str, str]) -> tuple[str | None, date | None, str | None, int | None]:
    for line in header:
        m = _DATE.match(line)
        if not m:
            continue
        place = m["place"].strip()
        year = int(m["year"])
        if m["day"] and m["month"]:
            issued = _safe_date(year, int(m["month"]), int(m["day"]))
            return place, issued, None, year
        printed = f"tháng {m['month']} năm {year}" if m["month"] else f"năm {year}"
        return place, None, printed, year
    value = published.get("Ngày ban hành")
    if value and (m := _NUMERIC_DATE.search(value)):
        issued = _safe_date(int(m["year"]), int(m["month"]), int(m["day"]))
        return None, issued, None, int(m["year"])
    return None, None, None, None


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _title(title_paras: list[Paragraph], header: list[str]) -> str | None:
    text = " ".join(p.text for p in title_paras).strip()
    if not text:
        return header[0] if header and len(header[0]) > 20 and not _NUMBER.match(header[0]) else None
    text = re.sub(r"^V/[vV]\s*", "", text)
    if text.isupper():
        text = text.capitalize()
    return text[:1].upper() + text[1:]


def _issuer(layout: ParsedLayout, place: str | None, published: dict[str, str]) -> tuple[str | None, str | None]:
    """Who issued it, from the sentence that says so ("Ban Thường vụ Huyện ủy Vĩnh Linh xây dựng
    Kế hoạch…", "UBND huyện yêu cầu…"), else from the issuer lines of the header."""
    preamble = [s.text for s in layout.sections if s.kind == "preamble"]
    for text in preamble[:1] + [p.text for p in layout.header]:
        hits = list(_ISSUER_IN_TEXT.finditer(text))
        if not hits:
            continue
        body = hits[-1]["body"].replace("Chủ tịch ", "").replace("UBND", "Ủy ban nhân dân")
        level = "huyện" if "huyện" in body.lower() else "tỉnh"
        if place and place not in body:
            body = f"{body} {place}"
        return level, body
    header_upper = [p.text for p in layout.header if p.text.isupper() and "CỘNG HÒA" not in p.text]
    if header_upper:
        name = " ".join(header_upper[:2])
        if "NHÂN DÂN" in name or "ỦY" in name:
            body = name.title().replace("Nhân Dân", "nhân dân").replace("Ủy Ban", "Ủy ban")
            return ("tỉnh" if "TỈNH" in name else "huyện" if "HUYỆN" in name else None), body
    if "Cơ quan ban hành" in published:
        value = published["Cơ quan ban hành"]
        level = "trung ương" if value in ("Quốc hội", "Chính phủ", "Thủ tướng Chính phủ") or value.startswith("Bộ") \
            else "tỉnh" if value.lower().startswith("tỉnh") else None
        return level, value
    return None, None


def _signer(signature: list[Paragraph]) -> tuple[str | None, str | None]:
    role = name = None
    for para in signature:
        text = visible_text(para.text)
        if re.match(r"^(KT\.\s*|TM\.\s*|T/M\s*|Q\.\s*)?(PHÓ )?(CHỦ TỊCH|BÍ THƯ|GIÁM ĐỐC|BỘ TRƯỞNG|THỦ TƯỚNG)$", text):
            role = re.sub(r"^(KT\.\s*|TM\.\s*|T/M\s*|Q\.\s*)", "", text)
        elif _NAME.match(text):
            name = text
    return role, name


def _recipients(layout: ParsedLayout) -> list[str]:
    out, collecting = [], False
    for para in list(layout.header) + list(layout.signature):
        text = para.text
        if re.match(r"^(Kính gửi|Nơi nhận)", text, re.IGNORECASE):
            collecting = True
            continue
        if collecting and text.startswith("-"):
            out.append(text.lstrip("- ").rstrip(";,."))
        elif collecting:
            collecting = False
    return out


__all__ = ["parse_metadata", "apply_overrides", "load_overrides", "OVERRIDES_FILE", "_DOC_TYPES"]
