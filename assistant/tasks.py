"""The task register: every piece of work a document assigns, as one record per agency.

Built from what the Assistant already holds (the indexed chunks, the documents' outlines
for section headings, their metadata); nothing is stored separately, so the register is
always the register of the current index.

An officer asks "what does Phòng Nông nghiệp have to do, and by when?" across documents
that spell the office three ways ("Phòng NN&PTNT", "Phòng Nông nghiệp và PTNT", "Phòng
Nông nghiệp và Phát triển nông thôn"). `agency_key` (assistant/extract.py) gives these one
key, so filtering by any spelling finds them all.
"""
from __future__ import annotations

import csv
import io
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from index.models import PREAMBLE, Chunk, DocumentMeta, enclosing_clauses, first_chunks_by_clause
from index.normalize import fold, strip_diacritics

from .extract import (
    CAPITAL_AGENCY,
    AGENCY_HEAD,
    AGENCY_AT_START,
    ACTION_VERB,
    Deadline,
    agency_at_start,
    agency_key,
    best_deadline,
    clean_agency,
    is_generic,
    split_agencies,
    split_bullets,
    split_sentences,
    strip_number,
)

__all__ = ["Task", "Assignment", "assignments", "build_register", "filter_tasks", "tasks_to_csv", "CSV_COLUMNS"]

LEAD = "lead"
PARTNER = "partner"


class Task(BaseModel):
    """One agency's part in one assigned piece of work."""

    agency: str                          # display name shared by every spelling of the agency
    agency_as_written: str               # as this clause prints it
    agency_key: str                      # normalized key (assistant.extract.agency_key)
    role: str                            # "lead" (chủ trì / được giao) or "partner" (phối hợp)
    summary: str                         # the assigned work, as printed
    deadline: str | None = None          # "hoàn thành trong quý III năm 2023", "thực hiện hàng năm"
    deadline_kind: str | None = None     # "deadline" or "cadence"
    coordinates_with: list[str] = Field(default_factory=list)   # the other agencies on this task
    locality: str | None = None
    province: str | None = None
    doc_id: str
    doc_title: str
    clause: list[str]
    clause_label: str
    anchor: str
    url: str


@dataclass
class Assignment:
    """Work a clause gives to named agencies: the bullet or sentences that say so, verbatim."""

    leads: list[str]
    partners: list[str]
    text: str
    deadline: Deadline | None
    source: str                          # "table", "addressee" or "sentence"
    subject: str | None = None           # the agency phrase the text starts with, when it does
    assignee: list[str] = field(default_factory=list)   # the heading's or table cell's agencies
    extra: dict = field(default_factory=dict)

    def agencies(self) -> list[str]:
        return [*self.leads, *self.partners]


# ---------------------------------------------------------------- reading one clause

_BULLET_MARK = re.compile(r"^\s*[-–•+*]\s*")
# "phối hợp (với) <agency>": "phối hợp giữa …" or "phối hợp chặt chẽ trong việc …" name no partner.
_COORDINATE = re.compile(r"(?<!\w)phối\s+hợp(?:\s+chặt\s+chẽ)?(?:\s+với)?\s+(?=" + AGENCY_HEAD + r"(?!\w))",
                         re.IGNORECASE)
_MID_REQUEST = re.compile(r"(?<!\w)(?:giao(?:\s+cho)?|đề\s+nghị|yêu\s+cầu)\s+", re.IGNORECASE)
_ADDRESSEE_MAX_WORDS = 30


def _partners_in(text: str) -> list[str]:
    """Agencies after "phối hợp (với)", up to the verb that starts the work itself."""
    m = _COORDINATE.search(text)
    if not m:
        return []
    rest = text[m.end():]
    ends = [i for i in (rest.find(c) for c in ";:.()") if i >= 0]
    verb = ACTION_VERB.search(rest)
    if verb:
        ends.append(verb.start())
    phrase = rest[: min(ends)] if ends else rest[:200]
    return [a for a in split_agencies(phrase) if not is_generic(a)]


def _subject_of(sentence: str) -> tuple[str, str] | None:
    """The agency a sentence assigns work to: its subject ("Sở Tài chính chủ trì …"), or the
    object of "Giao / Đề nghị / Yêu cầu" anywhere in it."""
    text = strip_number(_BULLET_MARK.sub("", sentence))
    found = agency_at_start(text)
    if found:
        return found
    for m in _MID_REQUEST.finditer(text):
        found = agency_at_start(text[m.end():])
        if found:
            return found
    return None


def _is_specific(agency: str) -> bool:
    return bool(CAPITAL_AGENCY.match(agency)) and not is_generic(agency)


def _addressee(heading: str, body_after: str) -> list[str] | None:
    """The agencies a heading addresses: "Phòng Tài chính - Kế hoạch huyện:" or a bare
    "Sở Kế hoạch và Đầu tư" followed by bullets."""
    heading = strip_number(heading).strip()
    colon = heading.endswith(":")
    name = clean_agency(heading)
    if not AGENCY_AT_START.match(name) or ACTION_VERB.search(name) or len(name.split()) > _ADDRESSEE_MAX_WORDS:
        return None
    if colon or _BULLET_MARK.match(body_after or ""):
        return split_agencies(name)
    return None


def _own_heading(chunk: Chunk, title: str | None, body: str) -> tuple[str, str] | None:
    """(heading line, the rest of the clause) when the clause starts with its own heading.

    Section titles are cut with "…" when long, so a heading ending in a colon is taken
    from the text up to that colon."""
    if chunk.part > 0:
        if chunk.headings and chunk.clause and chunk.headings[-1].startswith(chunk.clause[-1]):
            return chunk.headings[-1], body
        return None
    if not title:
        return None
    shown = title.rstrip(" …").strip()
    if not shown or not body.startswith(shown[: min(len(shown), 40)]):
        return None
    colon = body.find(":")
    if ":" in shown and 0 < colon <= len(shown):
        return body[: colon + 1], body[colon + 1:]
    if not title.rstrip().endswith("…") and body.startswith(shown):
        return shown, body[len(shown):]
    return None


def _item(text: str, addressees: list[str], inherited: Deadline | None, source: str) -> list[Assignment]:
    """The work of one bullet under an addressee (a heading or a table's PHÂN CÔNG TRÁCH
    NHIỆM cell); `Assignment.assignee` keeps the addressee whatever the bullet's wording."""
    text = _BULLET_MARK.sub("", text).strip()
    deadline = _schedule(best_deadline(text), inherited)
    own = _subject_of(text)
    if own and own[1].lower().startswith(("chủ trì", "phối hợp")):
        # "Giao Phòng X chủ trì …" inside a bullet names its own lead.
        leads = split_agencies(own[0])
        return [Assignment(leads, _partners_in(own[1]), text, deadline, source, subject=own[0],
                           extra={"work": own[1]})]
    partners = _partners_in(text)
    if _COORDINATE.match(text):
        named = [p for p in partners if _is_specific(p)]
        if named:
            # "- Phối hợp với Sở Kế hoạch và Đầu tư … tham mưu …": the addressee coordinates
            # with that department. Only this sentence: the bullet's next sentences are the
            # addressee's own work again ("… Tham mưu hỗ trợ … website riêng").
            sentences = split_sentences(text)
            first = sentences[0] if sentences else text
            out = [Assignment(named, list(addressees), first, _schedule(best_deadline(first), deadline), source,
                              assignee=list(addressees))]
            rest = " ".join(sentences[1:]).strip()
            if rest:
                out.append(Assignment(list(addressees), [], rest, _schedule(best_deadline(rest), deadline), source,
                                      assignee=list(addressees)))
            return out
    return [Assignment(list(addressees), [p for p in partners if p not in addressees], text, deadline, source,
                       assignee=list(addressees))]


def assignments(chunk: Chunk, title: str | None = None, group_deadline: Deadline | None = None) -> list[Assignment]:
    """The work `chunk` assigns. `title` is the heading line of its section (Section.title),
    which tells an addressee heading ("Sở Kế hoạch và Đầu tư") from the first bullet;
    `group_deadline` is the deadline of the enclosing clause (`enclosing_deadline`), for tasks
    that state none of their own."""
    if chunk.clause[:1] == [PREAMBLE]:
        return []                   # căn cứ paragraphs cite other texts, they assign nothing
    inherited = None
    for heading in reversed(chunk.headings):
        inherited = best_deadline(heading)
        if inherited:
            break
    inherited = inherited or group_deadline

    cell = (chunk.fields.get("PHÂN CÔNG TRÁCH NHIỆM") or "").strip()
    if cell:
        agencies = split_agencies(cell)
        work = chunk.fields.get("NHIỆM VỤ") or strip_number(chunk.text)
        return [a for b in split_bullets(strip_number(work)) for a in _item(b, agencies, inherited, "table")]

    body = strip_number(chunk.text)
    own = _own_heading(chunk, title, body)
    if own:
        heading, rest = own
        inherited = _schedule(best_deadline(heading), inherited)
        agencies = _addressee(heading, rest.lstrip())
        if agencies:
            items = split_bullets(rest)
            return [a for i in items if i.strip(" -") for a in _item(i, agencies, inherited, "addressee")]
    pieces = split_bullets(body)
    if pieces and not _BULLET_MARK.match(body):
        # A topic heading's own deadline covers the bullets under it:
        # "1. Tăng cường tuyên truyền … (hoàn thành trong quý I/2023) - Các cấp ủy …".
        inherited = _schedule(best_deadline(pieces[0]), inherited)

    out: list[Assignment] = []
    for sentence in split_sentences(body):
        sentence = _BULLET_MARK.sub("", sentence)
        subject = _subject_of(sentence)
        if subject:
            leads = split_agencies(subject[0])
            partners = _partners_in(subject[1]) if subject[1].lower().startswith("chủ trì") else []
            out.append(Assignment(leads, partners, sentence, None, "sentence", subject=subject[0],
                                  extra={"work": subject[1]}))
        elif out and not re.match(r"(?:Trên đây|Trong quá trình)", sentence):
            out[-1].text = f"{out[-1].text} {sentence}"       # the same agency's work continues
            out[-1].extra["work"] = f"{out[-1].extra.get('work', '')} {sentence}"
    for a in out:
        a.deadline = _schedule(best_deadline(a.text), inherited)
    return out


_LEVEL_WORD = re.compile(r" (?:tinh|huyen|thanh pho|thi xa) ")


def bodies_without_place(chunk: Chunk, places: Iterable[str]) -> frozenset[str]:
    """The named bodies `chunk` gives work to, keyed without their place, so that one place's
    body meets its counterpart in another: "Báo Quảng Nam" and "Báo Hà Tĩnh" are both "bao",
    "Đài Phát thanh - Truyền hình Quảng Nam" and "Đài Phát thanh - Truyền hình tỉnh" both
    "dai phat thanh truyen hinh". Bodies addressed as a group ("Các sở, ban, ngành", "UBND các
    huyện") are left out: every place has them."""
    folded = [strip_diacritics(fold(p)) for p in places]
    keys = set()
    for assignment in assignments(chunk):
        for lead in assignment.leads:
            key = f" {agency_key(lead)} "
            for place in folded:
                key = key.replace(f" {place} ", " ")
            key = _LEVEL_WORD.sub(" ", key).strip()
            if key and not key.startswith("cac ") and " cac " not in key:
                keys.add(key)
    return frozenset(keys)


def same_body(a: str, b: str) -> bool:
    """Whether two keys of `bodies_without_place` name one body; a name read from a sentence can
    carry the verb after it ("so ke hoach va dau tu chu tri")."""
    return a == b or a.startswith(b + " ") or b.startswith(a + " ")


def _schedule(own: Deadline | None, inherited: Deadline | None) -> Deadline | None:
    """A task's own deadline, unless it is an adverb in passing ("thường xuyên rà soát" says
    how, not by when) and the group it belongs to states a schedule."""
    return own if own and (own.explicit or not inherited) else inherited or own


def enclosing_deadline(chunk: Chunk, first_chunks: Mapping[tuple[str, tuple[str, ...]], Chunk]
                       ) -> tuple[Chunk, Deadline] | None:
    """The nearest enclosing clause that states when, with its deadline: a plan dates a group of
    tasks once, on the clause above them ("1. Tăng cường tuyên truyền … (hoàn thành trong quý I
    năm 2023)" covers 1.1 and 1.2), and the heading chain a chunk carries is cut too short to
    keep it. `first_chunks` maps (doc_id, clause path) to the first chunk of each clause."""
    for parent in enclosing_clauses(chunk, first_chunks):
        if parent.start <= chunk.start < parent.end:
            continue            # a list chunked with its clause: its dates are the items' own
        deadline = best_deadline(parent.text)
        if deadline is not None and deadline.explicit:
            return parent, deadline
    return None


# ---------------------------------------------------------------- the register

_ABBREVIATION_TOKEN = re.compile(r"\b[A-ZĐ]{2,}(?:&[A-ZĐ]+)?\b")


def _summary(a: Assignment) -> str:
    """The work as printed, whole (a cut bullet can lose the very point: "… giải thể bắt buộc"),
    without the agency phrase it starts with: "Sở Tài chính chủ trì, …" → "Chủ trì, …"."""
    text = (a.extra.get("work") or a.text).strip(" :,")
    return text[:1].upper() + text[1:]


def _display_names(written: Iterable[str]) -> dict[str, str]:
    """agency key → the spelling shown: the fewest abbreviations, then the most frequent."""
    by_key: dict[str, Counter[str]] = defaultdict(Counter)
    for name in written:
        by_key[agency_key(name)][name] += 1
    return {
        key: min(names, key=lambda n: (len(_ABBREVIATION_TOKEN.findall(n)), -names[n], len(n)))
        for key, names in by_key.items()
    }


def build_register(
    chunks: Iterable[Chunk],
    documents: Mapping[str, DocumentMeta],
    titles: Mapping[tuple[str, tuple[str, ...]], str] | None = None,
    base_url: str = "",
) -> list[Task]:
    """Every task of every document, in document order. `titles` maps (doc_id, clause path)
    to the section's heading line."""
    titles = titles or {}
    chunks = sorted(chunks, key=lambda c: (c.doc_id, c.start, c.part))
    first_chunks = first_chunks_by_clause(chunks)
    raw: list[tuple[Chunk, Assignment]] = []
    for chunk in chunks:
        if is_normative(documents.get(chunk.doc_id)):
            continue
        group = enclosing_deadline(chunk, first_chunks)
        for a in assignments(chunk, titles.get((chunk.doc_id, tuple(chunk.clause))), group[1] if group else None):
            if a.agencies():
                raw.append((chunk, a))
    display = _display_names(name for _, a in raw for name in a.agencies())

    tasks: list[Task] = []
    seen: set[tuple] = set()
    for chunk, a in raw:
        meta = documents.get(chunk.doc_id) or DocumentMeta(doc_id=chunk.doc_id)
        summary = _summary(a)
        for role, names in ((LEAD, a.leads), (PARTNER, a.partners)):
            for name in names:
                key = agency_key(name)
                ident = (key, role, chunk.doc_id, tuple(chunk.clause), summary)
                if not key or ident in seen:
                    continue
                seen.add(ident)
                tasks.append(Task(
                    agency=display.get(key, name),
                    agency_as_written=name,
                    agency_key=key,
                    role=role,
                    summary=summary,
                    deadline=a.deadline.text if a.deadline else None,
                    deadline_kind=a.deadline.kind if a.deadline else None,
                    coordinates_with=[n for n in a.agencies() if agency_key(n) != key],
                    locality=chunk.locality or meta.locality,
                    province=meta.province,
                    doc_id=chunk.doc_id,
                    doc_title=meta.display_title(),
                    clause=chunk.clause,
                    clause_label=chunk.clause_label,
                    anchor=chunk.anchor,
                    url=f"{base_url.rstrip('/')}/documents/{chunk.doc_id}#{chunk.anchor}",
                ))
    return tasks


# Laws, decrees and circulars lay down rules for roles ("Hội đồng quản trị là cơ quan …",
# "Chi nhánh là đơn vị phụ thuộc …"), not work given to an agency by a date; read as
# assignments they filled the register with roles and half sentences. The register is that
# of plans, letters and decisions.
_NORMATIVE = re.compile(r"^(?:hien phap|bo luat|luat|phap lenh|nghi dinh|thong tu)\b")


def is_normative(meta: DocumentMeta | None) -> bool:
    return bool(meta and meta.doc_type and _NORMATIVE.match(_loose(meta.doc_type)))


def _loose(text: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", strip_diacritics(fold(text))).split())


def filter_tasks(tasks: Iterable[Task], agency: str | None = None, locality: str | None = None) -> list[Task]:
    """Tasks of an agency (any spelling, abbreviated or not, with or without diacritics;
    a part of the name is enough: "tài chính") and/or of a locality or its province."""
    out = list(tasks)
    if agency and agency.strip():
        wanted = agency_key(agency)
        words = wanted.split()
        out = [t for t in out if wanted in t.agency_key or all(w in t.agency_key.split() for w in words)]
    if locality and locality.strip():
        wanted = _loose(locality)
        out = [t for t in out if any(wanted and wanted in _loose(v) for v in (t.locality, t.province) if v)]
    return out


CSV_COLUMNS = ("agency", "role", "summary", "deadline", "locality", "doc_id", "clause_label", "clause", "url",
               "agency_as_written", "coordinates_with")


def tasks_to_csv(tasks: Iterable[Task]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for t in tasks:
        writer.writerow([
            t.agency, t.role, t.summary, t.deadline or "", t.locality or "", t.doc_id, t.clause_label,
            " > ".join(t.clause), t.url, t.agency_as_written, "; ".join(t.coordinates_with),
        ])
    return buffer.getvalue()
