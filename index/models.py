"""The data types that flow through the pipeline: Document → Section → Chunk.

Everything downstream (retrieval, answers, bots) receives these objects, never
loose dicts. They are pydantic models so they serialize to JSON and into the
vector store's metadata without hand-written converters.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import date

from pydantic import BaseModel, Field

# Labels that are not printed numbering but stand for a part of the document
# that has none: the text before the first numbered part and the closing paragraph.
PREAMBLE = "mở đầu"
CLOSING = "phần kết"
APPENDIX = "Phụ lục"


class DocumentMeta(BaseModel):
    """What a document is: parsed from its header and signature block, then overridden
    by `corpus/metadata.yaml` or a `<file>.meta.yaml` sidecar where the text lacks it."""

    doc_id: str
    doc_type: str | None = None          # Kế hoạch, Công văn, Luật, Nghị định, Thông tư, Quyết định…
    number: str | None = None            # "67-KH/HU", "251/KH-UBND", "17/2023/QH15"
    issuer: str | None = None            # "Ban Thường vụ Huyện ủy Vĩnh Linh"
    locality: str | None = None          # "Vĩnh Linh", "Kiên Giang"; None for national texts
    province: str | None = None          # province of the locality ("Quảng Trị" for Vĩnh Linh)
    level: str | None = None             # "huyện", "tỉnh", "trung ương"
    issued: date | None = None
    issued_text: str | None = None       # the date as printed, e.g. "tháng 02 năm 2023" when the day is blank
    year: int | None = None
    signer: str | None = None
    signer_role: str | None = None       # "PHÓ CHỦ TỊCH", "BÍ THƯ"
    title: str | None = None             # trích yếu
    recipients: list[str] = Field(default_factory=list)   # Nơi nhận / Kính gửi
    truncated: bool = False              # the received text is cut off
    source_path: str | None = None
    source_format: str = "txt"

    def short_name(self) -> str:
        """How an officer names the document: "KH 67-KH/HU (Ban Thường vụ Huyện ủy Vĩnh Linh)"."""
        kind = self.doc_type or "Văn bản"
        ident = f"{kind} số {self.number}" if self.number else kind
        return f"{ident} của {self.issuer}" if self.issuer else ident

    def number_key(self) -> str | None:
        """The number an officer names the document by: "67-KH/HU" → "67", "17/2023/QH15" → "17"."""
        digits = re.match(r"\D*(\d+)", self.number or "")
        return digits.group(1).lstrip("0") if digits else None

    def display_title(self) -> str:
        """The name a citation shows: document type, number and issuer (the trích yếu is `title`)."""
        return self.short_name()


class Section(BaseModel):
    """One node of a document's outline, in document order.

    `path` holds the numbering labels from the top down as printed without trailing
    punctuation (["III", "3"], ["3", "3.2"], ["II", "2", "a"], ["Phụ lục", "2.4"],
    ["Chương V", "Điều 42", "2"]). `text` is the section's own visible text (its heading
    line included, children excluded) with whitespace collapsed; `start`/`end` are the
    character offsets of that text in the source.
    """

    path: list[str]
    kind: str                            # part, section, point, article, clause, table_row, preamble, closing
    title: str = ""                      # the heading line, without its number
    text: str
    start: int
    end: int
    fields: dict[str, str] = Field(default_factory=dict)   # table cells by column name
    # Offsets where a paragraph or bullet of this section begins: where a long section may be split.
    breaks: list[int] = Field(default_factory=list)
    references: list[str] = Field(default_factory=list)    # "khoản 1 Điều 54 Luật Hợp tác xã"


class Document(BaseModel):
    meta: DocumentMeta
    source_text: str                     # the file's text as read (decoded, NFC), offsets point here
    sections: list[Section]

    @property
    def doc_id(self) -> str:
        return self.meta.doc_id

    def content_hash(self) -> str:
        return hashlib.sha256(self.source_text.encode("utf-8")).hexdigest()


class Chunk(BaseModel):
    """The unit that is embedded, retrieved and cited."""

    doc_id: str
    clause: list[str]                    # the section path
    clause_label: str                    # "mục 3.2", "Phụ lục, mục 2.4", "Điều 42 khoản 2"
    anchor: str                          # element id in the document view: "s-3-3.2"
    part: int = 0                        # index of the piece when a long section is split
    text: str                            # verbatim section text (whitespace collapsed)
    start: int
    end: int
    headings: list[str] = Field(default_factory=list)     # ancestor heading lines, top down
    fields: dict[str, str] = Field(default_factory=dict)
    references: list[str] = Field(default_factory=list)
    # Document metadata copied on the chunk so the store can filter on it.
    doc_type: str | None = None
    locality: str | None = None
    issuer: str | None = None
    year: int | None = None

    @property
    def chunk_id(self) -> str:
        return f"{self.doc_id}::{self.anchor}::{self.part}"

    def embedding_text(self) -> str:
        """What the embedder and the lexical index see: heading chain, then the text,
        and for table rows the column names beside their cells."""
        lines = list(self.headings)
        if self.fields:
            lines.extend(f"{name}: {value}" for name, value in self.fields.items() if value)
        else:
            lines.append(self.text)
        return "\n".join(line for line in lines if line)

    def content_hash(self) -> str:
        """Changes when anything that is embedded changes: unchanged chunks keep their vectors."""
        return hashlib.sha256(self.embedding_text().encode("utf-8")).hexdigest()[:32]

    def to_metadata(self) -> dict[str, str | int | float | bool]:
        """Flat metadata for the vector store (Chroma accepts scalars only)."""
        meta: dict[str, str | int | float | bool] = {
            "doc_id": self.doc_id,
            "clause": json.dumps(self.clause, ensure_ascii=False),
            "clause_label": self.clause_label,
            "anchor": self.anchor,
            "part": self.part,
            "start": self.start,
            "end": self.end,
            "headings": json.dumps(self.headings, ensure_ascii=False),
            "fields": json.dumps(self.fields, ensure_ascii=False),
            "references": json.dumps(self.references, ensure_ascii=False),
            "content_hash": self.content_hash(),
        }
        for key in ("doc_type", "locality", "issuer", "year"):
            value = getattr(self, key)
            if value is not None:
                meta[key] = value
        return meta

    @classmethod
    def from_metadata(cls, text: str, meta: dict) -> "Chunk":
        return cls(
            doc_id=meta["doc_id"],
            clause=json.loads(meta["clause"]),
            clause_label=meta["clause_label"],
            anchor=meta["anchor"],
            part=int(meta.get("part", 0)),
            text=text,
            start=int(meta["start"]),
            end=int(meta["end"]),
            headings=json.loads(meta.get("headings", "[]")),
            fields=json.loads(meta.get("fields", "{}")),
            references=json.loads(meta.get("references", "[]")),
            doc_type=meta.get("doc_type"),
            locality=meta.get("locality"),
            issuer=meta.get("issuer"),
            year=meta.get("year"),
        )


def first_chunks_by_clause(chunks: Iterable[Chunk]) -> dict[tuple[str, tuple[str, ...]], Chunk]:
    """(doc_id, clause path) → the first chunk of that clause: what a clause's neighbours (its
    list, its dated group) are looked up by."""
    return {(c.doc_id, tuple(c.clause)): c for c in chunks if c.part == 0}


def enclosing_clauses(chunk: Chunk, first_chunks: Mapping[tuple[str, tuple[str, ...]], Chunk]) -> Iterator[Chunk]:
    """The first chunk of each clause enclosing `chunk`, nearest first ("1.2" → "1"), from
    `first_chunks`, which maps (doc_id, clause path) to the first chunk of each clause."""
    for n in range(len(chunk.clause) - 1, 0, -1):
        parent = first_chunks.get((chunk.doc_id, tuple(chunk.clause[:n])))
        if parent is not None:
            yield parent


def anchor_for(path: list[str]) -> str:
    """A stable, URL-safe element id for a clause path."""
    # Point "đ)" follows "d)" in legal texts: it must not fold to the same id.
    slug = "-".join(re.sub(r"[^0-9A-Za-z.]+", "_", "dd" if label == "đ" else _ascii(label)).strip("_")
                    for label in path)
    return f"s-{slug}" if slug else "s-root"


def _ascii(text: str) -> str:
    import unicodedata

    text = text.replace("Đ", "D").replace("đ", "d")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def clause_label(path: list[str]) -> str:
    """The human label of a clause path, as an officer would say it."""
    if not path:
        return "toàn văn"
    if path[0] == PREAMBLE:
        return "phần mở đầu"
    if path[0] == CLOSING:
        return "phần kết"
    legal = [p for p in path if p.startswith("Điều ")]
    if legal:
        # Legal texts are cited from the article down: Điều 42 khoản 2 điểm c.
        after = path[path.index(legal[0]) + 1:]
        words = [legal[0]]
        if after:
            words.append(f"khoản {after[0]}")
        if len(after) > 1:
            words.append(f"điểm {after[1]}")
        return " ".join(words)
    if path[0] == APPENDIX or path[0].startswith(APPENDIX + " ("):   # "Phụ lục (2)": a second appendix
        rest = path[1:]
        return f"{path[0]}, mục {rest[-1]}" if rest else path[0]
    if path[0].startswith("Chương"):
        return path[0] if len(path) == 1 else clause_label(path[1:])
    # "3" + "3.2" → mục 3.2 (the last label already carries its parents);
    # "III" + "3" → mục III.3; "II" + "2" + "a" → mục II.2.a
    labels: list[str] = []
    for label in path:
        if labels and label.startswith(labels[-1] + "."):
            labels[-1] = label
        else:
            labels.append(label)
    return "mục " + ".".join(labels)
