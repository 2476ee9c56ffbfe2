"""The extractive answer: one direct sentence, then the clause it comes from, verbatim.

Officers do not want five passages; they want "Phòng Tài chính - Kế hoạch huyện" and the
clause that says so. The composer reads the retrieved clause for what the question asks
(`Query.intent`):

- who:      the agency the clause assigns the work to (assistant/tasks.py reads addressee
            headings, appendix PHÂN CÔNG TRÁCH NHIỆM cells, "X chủ trì, phối hợp với Y");
- when:     the deadline or cadence of the bullet the question is about;
- how_many: the figure with its unit, and the year the target is set for;
- rule:     the legal text the clause applies, when the question asks for one;

and writes the sentence in the question's language, naming the document (type and number
or title, issuer, date) and the clause label. Every extracted value is a span of the
quoted clause; nothing is paraphrased. Clauses that score almost as well as the best one
are quoted too, each cited, so both Vĩnh Linh texts answer a question both address.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from index.models import APPENDIX, CLOSING, PREAMBLE, Chunk, DocumentMeta, clause_label
from index.normalize import fold, strip_diacritics, tokenize

from .extract import (
    Deadline,
    Relevance,
    TokenCounts,
    agencies_in,
    agency_key,
    find_deadlines,
    find_legal_references,
    find_quantities,
    split_bullets,
    split_sentences,
    strip_number,
    target_year,
)
from .models import Citation, Hit
from .query import Query
from .tasks import Assignment, assignments

__all__ = ["Composer", "Composed", "source_name", "clause_name"]

# A clause is quoted beside the best one when its fused score is at least this share of
# the best score: then both retrievers rank it about as high, and the question is usually
# one two clauses answer together (both Vĩnh Linh texts, a heading and its sub-clause).
# Measured on evals/questions.jsonl (expected-answer rate / answers quoting >1 clause):
# best clause only 0.917 / 0; 0.95 → 0.958 / 10; 0.9 → 0.958 / 17; 0.8 → 0.990 / 33.
# Below 0.9 the gain comes from quoting neighbours of a wrongly ranked clause, at the cost
# of longer answers for everyone; 0.9 is where combining stops being about the question.
RELATED_SHARE = 0.9
MAX_QUOTES = 3

_DOC_TYPES_EN = {
    "kế hoạch": "Plan", "công văn": "Official Letter", "quyết định": "Decision", "nghị quyết": "Resolution",
    "nghị định": "Decree", "thông tư": "Circular", "luật": "Law", "chỉ thị": "Directive",
    "kết luận": "Conclusion", "chương trình hành động": "Action Programme", "thông báo": "Notice",
    "báo cáo": "Report", "hướng dẫn": "Guidance", "văn bản": "Document",
}

# Questions that ask for a legal text by name ("theo nghị định nào", "which decree").
_LEGAL_KINDS = {            # unaccented question word → how the document type is printed
    "luat": "Luật", "nghi dinh": "Nghị định", "thong tu": "Thông tư", "nghi quyet": "Nghị quyết",
    "quyet dinh": "Quyết định", "ket luan": "Kết luận", "chuong trinh": "Chương trình",
    "law": "Luật", "decree": "Nghị định", "circular": "Thông tư", "resolution": "Nghị quyết",
    "decision": "Quyết định", "conclusion": "Kết luận", "programme": "Chương trình", "program": "Chương trình",
}
_ASKS_LEGAL_TEXT = re.compile(
    r"\b(?:" + "|".join(sorted(_LEGAL_KINDS, key=len, reverse=True)) + r"|van ban|can cu|legal basis|regulation)s?\b"
)
_TARGET_WORDS = re.compile(r"mục tiêu|chỉ tiêu|phấn đấu|đến năm|tối thiểu|ít nhất|đạt|bảo đảm|đảm bảo", re.I)
# Question tokens that frame a target rather than name it ("đến năm 2030").
_FRAMING_TOKEN = re.compile(r"(?:^|_)(?:19|20)\d\d(?:_|$)|^den_nam$|^nam$|^den$")


# ---------------------------------------------------------------- naming documents and clauses


def _has_number(meta: DocumentMeta) -> bool:
    return bool(meta.number and re.search(r"\d", meta.number))


def _short_title(meta: DocumentMeta, words: int = 12) -> str:
    title = (meta.title or "").strip()
    parts = title.split()
    return " ".join(parts[:words]) + (" …" if len(parts) > words else "")


def _date_vi(meta: DocumentMeta) -> str:
    if meta.issued:
        return f"ngày {meta.issued:%d/%m/%Y}"
    return meta.issued_text or (f"năm {meta.year}" if meta.year else "")


def _date_en(meta: DocumentMeta) -> str:
    if meta.issued:
        return f"dated {meta.issued:%d/%m/%Y}"
    month = re.search(r"tháng\s+(\d{1,2})\s+năm\s+(\d{4})", meta.issued_text or "")
    if month:
        return f"dated {int(month.group(1)):02d}/{month.group(2)}"
    return str(meta.year) if meta.year else ""


def source_name(meta: DocumentMeta, language: str = "vi") -> str:
    """"Kế hoạch số 67-KH/HU của Ban Thường vụ Huyện ủy Vĩnh Linh ngày 31/01/2023"; a document
    received without its number is named by its title."""
    kind = meta.doc_type or "Văn bản"
    if language == "en":
        kind_en = _DOC_TYPES_EN.get(kind.lower(), kind)
        ident = f"{kind_en} No. {meta.number}" if _has_number(meta) else f"{kind_en} “{_short_title(meta)}”"
        issuer = f" of {meta.issuer}" if meta.issuer else ""
        date = _date_en(meta)
        return f"{ident}{issuer}" + (f" ({date})" if date else "")
    ident = f"{kind} số {meta.number}" if _has_number(meta) else f"{kind} “{_short_title(meta)}”"
    issuer = f" của {meta.issuer}" if meta.issuer else ""
    date = _date_vi(meta)
    return f"{ident}{issuer}" + (f" {date}" if date.startswith("ngày") else f" ({date})" if date else "")


# The labels index.models.clause_label gives the parts of a text that are not numbered
# sections; taken from it so that the English names cannot drift from its rules.
_UNNUMBERED_EN = {
    clause_label([]): "full text",
    clause_label([PREAMBLE]): "preamble",
    clause_label([CLOSING]): "closing paragraph",
}


def clause_name(chunk: Chunk, language: str = "vi") -> str:
    label = chunk.clause_label
    if language != "en":
        return label
    if label in _UNNUMBERED_EN:
        return _UNNUMBERED_EN[label]
    label = re.sub(r"^Điều (\S+)", r"Article \1", label)
    label = label.replace(" khoản ", ", clause ").replace(" điểm ", ", point ")
    label = label.replace(f"{APPENDIX}, mục ", "Appendix, item ").replace(APPENDIX, "Appendix")
    label = re.sub(r"^mục ", "section ", label)
    return label.replace("Chương", "Chapter")


# ---------------------------------------------------------------- reading one clause


@dataclass
class Reading:
    """What one clause says about the question."""

    kind: str                                  # "who", "when", "how_many", "rule", "issuer" or "general"
    value: str | None = None                   # the direct answer, a span of the clause (issuer: the date)
    leads: list[str] = field(default_factory=list)
    partners: list[str] = field(default_factory=list)
    deadline: Deadline | None = None
    year: str | None = None
    # who: "lead" (the text says chủ trì), "assigned" (the addressee, coordinating with the
    # partners), "responsible" (assigned, no role word) or "named" (mentioned, not assigned).
    role: str = "responsible"
    target: bool = True                        # how_many: a target ("phấn đấu", "đến năm") or just a figure


def _units(text: str) -> list[str]:
    """Bullets, and within long bullets sentences; a trailing "(Hoàn thành …)" stays with
    the sentence it dates."""
    out: list[str] = []
    for bullet in split_bullets(strip_number(text)):
        sentences = split_sentences(bullet) if len(bullet) > 400 else [bullet]
        for sentence in sentences:
            if out and sentence.startswith("(") and len(sentence) < 80:
                out[-1] = f"{out[-1]} {sentence}"
            else:
                out.append(sentence)
    return out


class ClauseReader:
    def __init__(self, relevance: Relevance, title_of: Callable[[Chunk], str | None]) -> None:
        self.relevance = relevance
        self.title_of = title_of

    def read(self, intent: str, chunk: Chunk, question_tokens: list[str], question: str) -> Reading:
        if intent == "who":
            return self._who(chunk, question_tokens, question)
        if intent == "when":
            return self._when(chunk, question_tokens)
        if intent == "how_many":
            return self._how_many(chunk, question_tokens)
        if intent == "rule" and _ASKS_LEGAL_TEXT.search(strip_diacritics(fold(question))):
            return self._rule(chunk, question_tokens, question)
        return Reading(intent)

    def _best(self, tokens: list[str], items: Iterable[tuple[str, object]]) -> object | None:
        best, best_score = None, -1.0
        for text, item in items:
            score = self.relevance.score(tokens, text)
            if score > best_score:
                best, best_score = item, score
        return best

    def _who(self, chunk: Chunk, tokens: list[str], question: str) -> Reading:
        found = [a for a in assignments(chunk, self.title_of(chunk)) if a.leads]
        if found:
            best: Assignment = self._best(tokens, ((a.text, a) for a in found))  # type: ignore[assignment]
            deadline = best.deadline if best.deadline and best.deadline.explicit else None
            if best.assignee and {agency_key(a) for a in best.assignee} != {agency_key(a) for a in best.leads}:
                # "Sở NN&PTNT: - Phối hợp với Sở KH&ĐT tham mưu …": the document gives the work
                # to Sở NN&PTNT, coordinating with Sở KH&ĐT.
                return Reading("who", _join(best.assignee, "vi"), best.assignee, best.leads, deadline,
                               role="assigned")
            role = "lead" if re.search(r"chủ\s+trì", best.text, re.I) else "responsible"
            return Reading("who", _join(best.leads, "vi"), best.leads, best.partners, deadline, role=role)
        # No assignment pattern: the agency named in the sentence the question is about,
        # other than one the question itself names.
        asked = {agency_key(name) for name, _ in agencies_in(question)}
        units = _units(chunk.text)
        unit = self._best(tokens, ((u, u) for u in units))
        for name, _ in agencies_in(unit or ""):
            if agency_key(name) not in asked:
                return Reading("who", name, [name], role="named")
        return Reading("who")

    def _when(self, chunk: Chunk, tokens: list[str]) -> Reading:
        candidates: list[tuple[float, Deadline]] = []
        for unit in _units(chunk.text):
            found = find_deadlines(unit)
            if not found:
                continue
            best = min(found, key=Deadline.rank)
            # A date answers "when" better than a cadence met in passing ("thường xuyên").
            weight = 1.0 if best.kind == "deadline" else 0.6
            candidates.append((self.relevance.score(tokens, unit) * weight + (0.01 if best.kind == "deadline" else 0),
                               best))
        if not candidates:
            for heading in reversed(chunk.headings):
                found = find_deadlines(heading)
                if found:
                    best = min(found, key=Deadline.rank)
                    return Reading("when", best.text, deadline=best)
            return Reading("when")
        best = max(candidates, key=lambda c: c[0])[1]
        return Reading("when", best.text, deadline=best)

    def _how_many(self, chunk: Chunk, tokens: list[str]) -> Reading:
        # "đến năm 2030" frames every target of a clause; it must not decide between them.
        tokens = [t for t in tokens if not _FRAMING_TOKEN.search(t)]
        best: tuple[float, str, str, str] | None = None
        for unit in _units(chunk.text):
            unit_score = self.relevance.score(tokens, unit)
            previous_end = 0
            for phrase, start in find_quantities(unit):
                # The figure's own statement: from the previous sentence break or figure up to
                # this figure, then the figure with its unit ("Tỷ lệ cán bộ … đạt trên 40%").
                before = unit[:start]
                cut = max(previous_end - 1, *(before.rfind(c) for c in ".;:"))
                context = f"{before[cut + 1:]} {phrase}"
                previous_end = start + len(phrase)
                score = self.relevance.score(tokens, context) + 0.1 * unit_score
                if best is None or score > best[0]:
                    best = (score, phrase, unit, context)
        if best is None:
            return Reading("how_many")
        _, phrase, unit, context = best
        year = target_year(context, unit, chunk.text[:60], *reversed(chunk.headings))
        is_target = bool(_TARGET_WORDS.search(unit) or _TARGET_WORDS.search(" ".join(chunk.headings)))
        return Reading("how_many", phrase, year=year, target=is_target)

    def _rule(self, chunk: Chunk, tokens: list[str], question: str) -> Reading:
        folded = strip_diacritics(fold(question))
        kinds = [printed for word, printed in _LEGAL_KINDS.items() if re.search(rf"\b{word}s?\b", folded)]

        def wanted(ref: str) -> bool:
            return not kinds or any(ref.startswith(k) for k in kinds)

        units = [u for u in _units(chunk.text) if any(wanted(r) for r in find_legal_references(u))]
        unit = self._best(tokens, ((u, u) for u in units))
        if not unit:
            return Reading("rule")
        refs = [r for r in find_legal_references(unit) if wanted(r)]
        return Reading("rule", "; ".join(refs[:2]))


# ---------------------------------------------------------------- the answer text


@dataclass
class Composed:
    text: str
    direct: str | None
    quoted: list[int]                 # indexes into the citations that the text quotes


def _join(names: list[str], language: str) -> str:
    if len(names) <= 1:
        return "".join(names)
    last = " and " if language == "en" else " và "
    return ", ".join(names[:-1]) + last + names[-1]


def _when_vi(d: Deadline) -> str:
    return f"thời hạn: {d.text}" if d.kind == "deadline" else d.text


def _lead_vi(r: Reading, where: str) -> str:
    if r.kind == "issuer":
        date = f" {r.value}" if r.value and r.value.startswith("ngày") else f" ({r.value})" if r.value else ""
        return f"Văn bản do {r.leads[0]} ban hành{date}: {where}."
    if r.kind == "who" and r.leads:
        who, partners = _join(r.leads, "vi"), _join(r.partners, "vi")
        if r.role == "named":
            return f"Cơ quan được nêu là {who}, theo {where}."
        if r.role == "assigned":
            s = f"{who} được giao thực hiện, phối hợp với {partners}"
        else:
            s = f"{who} {'chủ trì' if r.role == 'lead' else 'chịu trách nhiệm'} thực hiện"
            s += f", phối hợp với {partners}" if r.partners else ""
        s += f" ({_when_vi(r.deadline)})" if r.deadline else ""
        return f"{s}, theo {where}."
    return _lead_value(r, where, "vi")


def _lead_en(r: Reading, where: str) -> str:
    if r.kind == "issuer":
        return f"It was issued by {r.leads[0]}" + (f" ({r.value})" if r.value else "") + f": {where}."
    if r.kind == "who" and r.leads:
        who, partners = _join(r.leads, "en"), _join(r.partners, "en")
        if r.role == "named":
            return f"The body named is {who}, according to {where}."
        if r.role == "assigned":
            s = f"{who} {'is' if len(r.leads) == 1 else 'are'} assigned this, working with {partners}"
        elif r.role == "lead":
            s = f"{who} {'leads' if len(r.leads) == 1 else 'lead'}"
            s += f", working with {partners}" if r.partners else ""
        else:
            s = f"{who} {'is' if len(r.leads) == 1 else 'are'} responsible"
            s += f", working with {partners}" if r.partners else ""
        if r.deadline:
            s += f" ({'deadline' if r.deadline.kind == 'deadline' else 'schedule'}: “{r.deadline.text}”)"
        return f"{s}, according to {where}."
    return _lead_value(r, where, "en")


# The lead sentence of a when / how_many / rule reading, or of a clause that answers only
# in general, differs between the languages in wording alone: {value} is the span read from
# the clause, {year} the target year phrase (empty when the value already names the year).
_LEAD_PHRASES = {
    "vi": {
        "deadline": "Thời hạn là “{value}”, theo {where}.",
        "schedule": "Việc này thực hiện “{value}”, theo {where}.",
        "target": "Chỉ tiêu{year} là “{value}”, theo {where}.",
        "figure": "Con số được nêu là “{value}”, theo {where}.",
        "year": " đến năm {year}",
        "rule": "Văn bản được áp dụng là {value}, theo {where}.",
        "general": "Nội dung này được quy định tại {where}.",
    },
    "en": {
        "deadline": "The deadline is “{value}”, according to {where}.",
        "schedule": "This is done “{value}”, according to {where}.",
        "target": "The target{year} is “{value}”, according to {where}.",
        "figure": "The figure given is “{value}”, according to {where}.",
        "year": " for {year}",
        "rule": "The text applied is {value}, according to {where}.",
        "general": "This is set out in {where}.",
    },
}


def _lead_value(r: Reading, where: str, language: str) -> str:
    phrases = _LEAD_PHRASES[language]
    if r.kind == "when" and r.deadline:
        phrase = phrases["deadline" if r.deadline.kind == "deadline" else "schedule"]
        return phrase.format(value=r.deadline.text, where=where)
    if r.kind == "how_many" and r.value:
        year = phrases["year"].format(year=r.year) if r.year and r.year not in r.value else ""
        return phrases["target" if r.target else "figure"].format(value=r.value, year=year, where=where)
    if r.kind == "rule" and r.value:
        return phrases["rule"].format(value=r.value, where=where)
    return phrases["general"].format(where=where)


def _also(r: Reading, where: str, language: str) -> str:
    detail = ""
    if r.kind == "who" and r.leads:
        detail = _join(r.leads, language)
    elif r.value:
        detail = f"“{r.value}”"
    if language == "en":
        return f"See also {where}" + (f": {detail}." if detail else ".")
    return f"Nội dung liên quan còn có tại {where}" + (f": {detail}." if detail else ".")


def _direct(r: Reading) -> str | None:
    if r.kind == "issuer":
        return r.leads[0]
    if r.kind == "who" and r.leads:
        s = _join(r.leads, "vi")
        return s + (f" (phối hợp với {_join(r.partners, 'vi')})" if r.partners else "")
    if r.kind == "when" and r.deadline:
        return r.deadline.text
    if r.kind == "how_many" and r.value:
        return r.value + (f" (đến năm {r.year})" if r.year and r.year not in r.value else "")
    if r.kind == "rule" and r.value:
        return r.value
    return None


def quote_of(chunk: Chunk) -> str:
    """The clause as printed; a later piece of a split clause keeps its heading line in
    front, so the quote still shows whom it addresses."""
    if chunk.part > 0 and chunk.headings and chunk.clause and chunk.headings[-1].startswith(chunk.clause[-1]):
        return f"{chunk.headings[-1]} … {chunk.text}"
    return chunk.text


class Composer:
    def __init__(self, chunks: Iterable[Chunk], documents: Mapping[str, DocumentMeta],
                 title_of: Callable[[Chunk], str | None] = lambda chunk: None,
                 token_counts: TokenCounts | None = None) -> None:
        self.documents = documents
        self.reader = ClauseReader(Relevance(token_counts or TokenCounts.of_chunks(chunks)), title_of)

    def _meta(self, doc_id: str) -> DocumentMeta:
        return self.documents.get(doc_id) or DocumentMeta(doc_id=doc_id)

    @staticmethod
    def _issuer(query: Query, meta: DocumentMeta, language: str) -> Reading | None:
        """Who issued the cited document and when, from its header, for a question about that
        document; not for one about a text it cites ("Kết luận 70 ký ngày nào?"), whose own
        issuer the corpus does not hold."""
        asked = strip_diacritics(fold(query.original))
        named_kinds = {k for k in _LEGAL_KINDS if re.search(rf"\b{k}\b", asked)}
        own_kind = strip_diacritics(fold(meta.doc_type or ""))
        if not meta.issuer or any(n != meta.number_key() for n in query.document_numbers) \
                or any(_LEGAL_KINDS[k] != meta.doc_type and k != own_kind for k in named_kinds):
            return None
        date = _date_en(meta) if language == "en" else _date_vi(meta)
        return Reading("issuer", value=date or None, leads=[meta.issuer])

    def supporting(self, hits: list[Hit]) -> list[int]:
        """The best hit, and those scoring nearly as well (at most MAX_QUOTES in all)."""
        if not hits:
            return []
        top = hits[0].score
        chosen = [0]
        for i, hit in enumerate(hits[1:], start=1):
            if len(chosen) >= MAX_QUOTES:
                break
            if top > 0 and hit.score >= RELATED_SHARE * top:
                chosen.append(i)
        return chosen

    def compose(self, query: Query, hits: list[Hit], citations: list[Citation]) -> Composed:
        language = "en" if query.language == "en" else "vi"
        tokens = tokenize(query.lexical_text or query.original)
        chosen = self.supporting(hits)
        readings = [self.reader.read(query.intent, hits[i].chunk, tokens, query.original) for i in chosen]
        if chosen and query.asks_issuer:
            readings[0] = self._issuer(query, self._meta(hits[chosen[0]].chunk.doc_id), language) or readings[0]

        lines: list[str] = []
        # Each source is named with the number of its quote below and of its citation.
        for n, (i, reading) in enumerate(zip(chosen, readings)):
            chunk = hits[i].chunk
            where = f"{source_name(self._meta(chunk.doc_id), language)}, {clause_name(chunk, language)} [{i + 1}]"
            if n == 0:
                lines.append((_lead_en if language == "en" else _lead_vi)(reading, where))
            else:
                lines.append(_also(reading, where, language))

        open_q, close_q = ("“", "”") if language == "en" else ("«", "»")
        for i in chosen:
            chunk = hits[i].chunk
            lines.append("")
            lines.append(f"[{i + 1}] {citations[i].doc_title}, {clause_name(chunk, language)}:")
            lines.append(f"{open_q}{quote_of(chunk)}{close_q}")
        return Composed("\n".join(lines), _direct(readings[0]), chosen)


# ---------------------------------------------------------------- everything ask() needs, per index


class AnswerKit:
    """The composer, the abstention policy, the task register and the optional generator
    for one loaded index; built again when the Assistant reloads a new index."""

    def __init__(self, chunks: list[Chunk], documents: Mapping[str, DocumentMeta],
                 load_document: Callable[[str], object], settings,
                 token_counts: TokenCounts | None = None) -> None:
        """`token_counts`: TokenCounts.of the chunks' tokens when the caller has tokenized
        them already (the lexical index does); otherwise they are tokenized here, once."""
        from .abstain import AbstentionConfig, Abstainer

        self.chunks = chunks
        self.documents = documents
        self.settings = settings
        self._load_document = load_document
        self._titles: dict[tuple[str, tuple[str, ...]], str] | None = None
        self._register = None
        self._generator = None
        token_counts = token_counts or TokenCounts.of_chunks(chunks)
        self.abstainer = Abstainer(chunks, documents, AbstentionConfig.for_embedder(settings.embedder), token_counts)
        self.composer = Composer(chunks, documents, self.title_of, token_counts)

    def titles(self) -> dict[tuple[str, tuple[str, ...]], str]:
        """(doc_id, clause path) → the section's heading line, from the stored outlines."""
        if self._titles is None:
            titles: dict[tuple[str, tuple[str, ...]], str] = {}
            for doc_id in self.documents:
                document = self._load_document(doc_id)
                for section in getattr(document, "sections", None) or []:
                    titles[(doc_id, tuple(section.path))] = section.title
            self._titles = titles
        return self._titles

    def title_of(self, chunk: Chunk) -> str | None:
        return self.titles().get((chunk.doc_id, tuple(chunk.clause)))

    def register(self):
        from .tasks import build_register

        if self._register is None:
            self._register = build_register(self.chunks, self.documents, self.titles(), self.settings.public_url)
        return self._register

    def generator(self):
        """The LLM client when HTX_LLM_BASE_URL is set, else None."""
        if not self.settings.llm_base_url:
            return None
        if self._generator is None:
            from .llm import Generator

            self._generator = Generator(self.settings)
        return self._generator
