"""When to say "the documents do not answer this" instead of quoting the nearest clause.

Retrieval always returns *something*; an officer must never receive a clause about
cooperative funds as the answer to "what is the weather in Hà Nội". Four independent
signals, each measured on evals/questions.jsonl (96 answerable questions, 14 that are not):

1. **Another place.** The question names a province the corpus has no document for
   ("thuế suất … ở Đà Nẵng", "htx o nghe an", "Bình Định province") and no national
   (locality-free) text is among the hits. Local plans of Vĩnh Linh do not answer for
   Nghệ An, however similar the wording. This catches 5 of the 14, including the three
   that are about cooperatives and therefore look in-scope to every other signal.

2. **Vocabulary coverage** — does the corpus speak about this at all?
   Vietnamese: the share of the question's word pairs (BM25 bigram tokens; pairs with a
   question word such as "nào", "gì", "bao nhiêu" left out) that occur anywhere in the
   indexed clauses. Answerable questions: 0.39 at the lowest (q077), most above 0.5;
   unanswerable ones without a foreign place: 0.20 at the highest (oos04 "trận Việt Nam gặp
   Thái Lan"). Threshold 0.25, in the gap and nearer the off-topic side, because a false
   abstention costs an officer more than a far-fetched quote he can see is beside the point.
   English: the share of content words the domain glossary or the corpus knows (English
   questions reach the Vietnamese clauses only through the glossary); chat words such as
   "supposed", "actually", "what's" are not counted, and a plural meets its singular
   ("committees", "co-ops"). Answerable: 0.80 at the lowest (q055, q087); unanswerable
   without a foreign place: 0.43 at the highest (oos06 "personal income tax", which the
   third signal refuses), then 0.20 (oos08 "today's USD to VND exchange rate"). Threshold 0.4.

3. **No sum of money.** A question that asks how much money ("lệ phí … bao nhiêu tiền?",
   "what is the maximum loan …?", `Query.asks_money`) is answered only by a clause that
   states one; the five plans state none, so the nearest clause's target ("từ 02 đến 03 hợp
   tác xã") would otherwise be quoted as the sum. No answerable question of the eval sets
   (questions, conversations, laws) or of ALQAC asks for money; of the out-of-corpus questions
   naming a corpus place (evals/out_of_scope_places.jsonl) it refused 11 of the first 36, which
   it was written against, and 5 of the second 36, which nobody read, that the others let through.

4. **Weak retrieval evidence** — Hit.dense_similarity and Hit.lexical_score: the best
   cosine similarity among the candidates below 0.85 *and* the best BM25 score below 10.
   Answerable questions never have both (lowest similarity 0.845 came with BM25 20.0;
   lowest BM25 7.8 with similarity 0.871); 10 of the 14 unanswerable ones do. The
   similarity scale is that of the bundled multilingual-e5-small, so with another embedder
   this signal is off (`AbstentionConfig.for_embedder`) until someone measures that
   embedder's scale with `htx eval evals/questions.jsonl`; the other two do not depend on it.

Any one signal abstains. The fused `Hit.score` is not used: it is min-max normalized per
question, so the best hit of an off-topic question scores as high as a perfect match.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

from index.models import Chunk, DocumentMeta
from index.normalize import fold, normalize_text, strip_diacritics, tokenize
from index.settings import DEFAULT_EMBEDDER

from .extract import TokenCounts
from .models import Filters, Hit
from .query import Query, load_abbreviations, load_glossary

__all__ = ["AbstentionConfig", "Verdict", "Abstainer", "coverage_message"]

_DATA_DIR = Path(__file__).resolve().parent / "data"

NO_HITS = "no_hits"
OTHER_PLACE = "other_place"
OFF_TOPIC = "off_topic"
WEAK_EVIDENCE = "weak_evidence"
NO_AMOUNT = "no_amount"

# A sum of money as a text states it: "100 triệu đồng", "2,5 tỷ", "50.000 đồng" (not "20 tỷ lệ").
_MONEY_FIGURE = re.compile(r"\d[\d.,]*\s*(?:(?:triệu|tỷ|nghìn|ngàn)\s*)?(?:đồng|vnđ|vnd|usd)\b|\d[\d.,]*\s*(?:triệu|tỷ)\b(?!\s*lệ)")


@dataclass(frozen=True)
class AbstentionConfig:
    min_bigram_coverage_vi: float = 0.25
    min_word_coverage_en: float = 0.4
    # None: the weak-evidence signal is off (another embedder: its similarities are on a
    # scale nobody measured; all-MiniLM-L6-v2 gives 0.66 to a clause that answers).
    weak_similarity: float | None = 0.85
    weak_lexical: float = 10.0

    @classmethod
    def for_embedder(cls, embedder: str) -> "AbstentionConfig":
        return cls() if embedder == DEFAULT_EMBEDDER else cls(weak_similarity=None)


@dataclass
class Verdict:
    abstain: bool
    reason: str | None = None
    places: list[str] = field(default_factory=list)       # foreign places the question names
    coverage: float | None = None
    best_similarity: float | None = None
    best_lexical: float | None = None


# ---------------------------------------------------------------- places


def _loose(text: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", strip_diacritics(fold(text))).split())


@dataclass(frozen=True)
class _Place:
    name: str
    loose: tuple[re.Pattern[str], ...]        # every spelling, on folded unaccented text
    written: tuple[re.Pattern[str], ...]      # strict names: as written, diacritics or capital required


@cache
def _places() -> tuple[_Place, ...]:
    raw = yaml.safe_load((_DATA_DIR / "places.yaml").read_text(encoding="utf-8")) or {}
    strict = {normalize_text(s) for s in raw.get("strict") or []}
    out = []
    for name, aliases in (raw.get("provinces") or {}).items():
        name = normalize_text(str(name))
        spellings = list(dict.fromkeys([name, *(normalize_text(str(a)) for a in aliases or [])]))
        loose = tuple(re.compile(rf"(?<!\w){re.escape(_loose(s))}(?!\w)") for s in spellings if _loose(s))
        written: tuple[re.Pattern[str], ...] = ()
        if name in strict or any(s in strict for s in spellings):
            # "hai phong" may be "hai phòng" (two offices): only the written name counts,
            # with its diacritics (any case) or capitalized without them.
            written = tuple(
                re.compile(rf"(?<!\w)(?:(?i:{words})|{re.escape(strip_diacritics(s))})(?!\w)")
                for s in spellings
                for words in [r"\s+".join(re.escape(w) for w in s.split())]
            )
        out.append(_Place(name, loose, written))
    return tuple(out)


def places_named(question: str) -> list[str]:
    """Provinces the question names, canonical spelling, in the order of the list."""
    loose = _loose(question)
    text = normalize_text(question)
    found = []
    for place in _places():
        if not any(p.search(loose) for p in place.loose):
            continue
        if place.written and not any(p.search(text) for p in place.written):
            continue
        found.append(place.name)
    return found


# ---------------------------------------------------------------- vocabulary coverage

# Syllables that ask rather than say: pairs containing them are not looked up.
_QUESTION_SYLLABLES = frozenset("ai gi nao sao nhieu khong chua".split())
_ENGLISH_STOPWORDS = frozenset(
    """a an the of in on at to by for with from into under per and or not no is are was were be been being do
    does did has have had can could will would should must may might what which who whom whose when where why
    how that this these those there their its it each every many much any all more most than about according
    under our your his her they them she he you we i me my also just only very get got""".split()
)
# Chat words that say nothing of the subject ("who's supposed to …", "what's it meant to …",
# "does it actually say …"): neither known nor unknown to the domain, so they are not counted.
# Found among the English questions of evals/conversations.jsonl and questions.jsonl; unlike
# "passport" or "weather", none of them could tell a question outside the corpus.
ENGLISH_CHAT_WORDS = frozenset(
    """what's who's where's how's it's that's there's supposed meant same other own itself themselves told tell
    tells say says said mention mentions mentioned word worded put want wants make made give gives done thing
    things anything something like too well both single alone kind kinds sort type part gets come become often
    especially actually exactly really seriously thoroughly promptly differently particular together separate
    separately among between within during over across inside anywhere question better ok okay else still
    again then here now""".split()
)
_UNCOUNTED_ENGLISH = _ENGLISH_STOPWORDS | ENGLISH_CHAT_WORDS


def _stems(word: str) -> frozenset[str]:
    """The forms `word` may stand for without its ending: "committees" → committee, committe;
    "organised" → organiz, organize. A question's word is known when one of its forms is a
    glossary word's form, so a plural of a word ending in e meets its singular."""
    word = word.lower().replace("\u2019", "'").removesuffix("'s")
    word = re.sub(r"(?<=\w)is(e|ed|es|ing|ation|ations)$", r"iz\1", word)
    forms = {word}
    for suffix, repl in (("ies", "y"), ("ied", "y"), ("ing", ""), ("ing", "e"), ("ed", ""), ("d", ""),
                         ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 2:
            forms.add(word[: -len(suffix)] + repl)
    return frozenset(forms)


@cache
def _glossary_stems() -> frozenset[str]:
    stems: set[str] = set()
    for phrase in load_glossary():
        for w in re.findall(r"[a-z]+", phrase.lower()):
            if w not in _ENGLISH_STOPWORDS:
                stems.update(_stems(w))
    return frozenset(stems)


# How many of the best clauses may state the sum asked for: the answer cites as many.
_FIGURE_TOP = 5


class Abstainer:
    def __init__(self, chunks: Iterable[Chunk], documents: Mapping[str, DocumentMeta],
                 config: AbstentionConfig | None = None, token_counts: TokenCounts | None = None) -> None:
        self.config = config or AbstentionConfig()
        chunks = list(chunks)
        self._vocabulary = frozenset((token_counts or TokenCounts.of_chunks(chunks)).df)
        localities = {chunk.locality for chunk in chunks if chunk.locality}
        self._abbreviations = frozenset(_loose(a) for a in load_abbreviations())
        for meta in documents.values():
            localities.update(x for x in (meta.locality, meta.province) if x)
        self._known_places = frozenset(_loose(p) for p in localities)
        # A national text (no locality) may answer for any province.
        self._national = frozenset(m.doc_id for m in documents.values() if not m.locality)

    # -- signals

    def foreign_places(self, question: str) -> list[str]:
        named = places_named(question)
        if not named:
            return []
        known = [p for p in named if _loose(p) in self._known_places]
        if known or any(re.search(rf"(?<!\w){re.escape(k)}(?!\w)", _loose(question)) for k in self._known_places):
            return []                 # "Quảng Trị", "Vĩnh Linh": the corpus has these
        return named

    def coverage(self, query: Query) -> float | None:
        if query.language == "en":
            return self._english_coverage(query.original)
        tokens = tokenize(query.original)
        pairs = [t for t in dict.fromkeys(tokens) if "_" in t and not set(t.split("_")) & _QUESTION_SYLLABLES]
        if not pairs:
            pairs = [t for t in dict.fromkeys(tokens) if "_" not in t and t not in _QUESTION_SYLLABLES]
        if not pairs:
            return None
        return sum(t in self._vocabulary for t in pairs) / len(pairs)

    def _english_coverage(self, text: str) -> float | None:
        words = [w for w in re.findall(r"[^\W\d_]+(?:['\u2019]s)?", text) if len(w) >= 3]
        content = [w for w in words if w.lower().replace("\u2019", "'") not in _UNCOUNTED_ENGLISH]
        if not content:
            return None
        glossary = _glossary_stems()

        def known(word: str) -> bool:
            loose = _loose(re.sub(r"['\u2019]s$", "", word))
            return bool(_stems(word) & glossary) or loose in self._vocabulary or loose in self._abbreviations

        return sum(known(w) for w in content) / len(content)

    def grounded(self, topic: Query, hits: list[Hit], top: int = 5, share: float = 0.25) -> bool:
        """Whether what a follow-up adds of its own (`topic`: "đăng ký kết hôn" in "còn đăng ký
        kết hôn thì sao?") is what the best clauses talk about. The chat's place and previous
        question, carried into the rewrite, make any follow-up look covered; its own words must
        be found too: a share of its word pairs in the first clauses (chat phrasing makes many
        pairs that no text holds, hence a low share), or, asked in English, as many of its words
        known to the glossary or the corpus as a question needs."""
        if topic.language == "en":
            coverage = self._english_coverage(topic.original)
            return coverage is None or coverage >= self.config.min_word_coverage_en
        tokens = tokenize(topic.lexical_text or topic.original)
        pairs = [t for t in dict.fromkeys(tokens) if "_" in t and not set(t.split("_")) & _QUESTION_SYLLABLES]
        if not pairs:
            return True
        seen = {t for h in hits[:top] for t in tokenize(h.chunk.embedding_text())}
        return sum(p in seen for p in pairs) / len(pairs) >= share

    # -- the decision

    def decide(self, query: Query, candidates: list[Hit], filters: Filters | None = None) -> Verdict:
        """`candidates`: the retriever's hits for the question, best first (more than the
        citations shown, so the best dense and lexical matches are among them)."""
        cfg = self.config
        if not candidates:
            return Verdict(True, NO_HITS)
        best_sim = max((h.dense_similarity for h in candidates if h.dense_similarity is not None), default=0.0)
        best_lex = max((h.lexical_score for h in candidates if h.lexical_score is not None), default=0.0)
        coverage = self.coverage(query)
        verdict = Verdict(False, coverage=coverage, best_similarity=best_sim, best_lexical=best_lex)

        explicit_place = filters is not None and bool(filters.localities or filters.doc_ids)
        foreign = [] if explicit_place else self.foreign_places(query.original)
        if foreign and not any(h.chunk.doc_id in self._national for h in candidates[:5]):
            verdict.abstain, verdict.reason, verdict.places = True, OTHER_PLACE, foreign
            return verdict
        minimum = cfg.min_word_coverage_en if query.language == "en" else cfg.min_bigram_coverage_vi
        if coverage is not None and coverage < minimum:
            verdict.abstain, verdict.reason = True, OFF_TOPIC
            return verdict
        if query.asks_money and not any(_MONEY_FIGURE.search(fold(h.chunk.text)) for h in candidates[:_FIGURE_TOP]):
            verdict.abstain, verdict.reason = True, NO_AMOUNT
            return verdict
        if query.asks_issuer and (query.localities or query.document_numbers or query.document_kinds):
            # "who issued that one, and when in Kiên Giang?" has few words to match, but names a
            # document the corpus holds, whose header answers.
            return verdict
        if cfg.weak_similarity is not None and best_sim < cfg.weak_similarity and best_lex < cfg.weak_lexical:
            verdict.abstain, verdict.reason = True, WEAK_EVIDENCE
        return verdict


# ---------------------------------------------------------------- what to say


def _date(meta: DocumentMeta) -> str:
    if meta.issued:
        return meta.issued.strftime("%d/%m/%Y")
    return meta.issued_text or (str(meta.year) if meta.year else "")


def _document_line(meta: DocumentMeta) -> str:
    date = _date(meta)
    title = (meta.title or "").strip()
    if len(title) > 110:
        title = title[:110].rsplit(" ", 1)[0] + " …"
    parts = [meta.short_name() + (f" ({date})" if date else "")]
    if title:
        parts.append(title)
    return "- " + ": ".join(parts)


_LIST_AT_MOST = 12


def coverage_message(verdict: Verdict, language: str, documents: list[DocumentMeta],
                     filters: Filters | None = None) -> str:
    """The abstention text: plainly that the corpus does not answer, and what it does cover."""
    en = language == "en"
    lines: list[str] = []
    if verdict.reason == NO_HITS and filters is not None and not filters.is_empty():
        lines.append("No indexed document matches the filters given." if en
                     else "Không có văn bản nào khớp với bộ lọc đã chọn.")
    elif verdict.reason == OTHER_PLACE:
        where = ", ".join(verdict.places)
        lines.append(f"The documents I have do not cover {where}, so I cannot answer this question." if en
                     else f"Kho văn bản không có văn bản nào của {where} nên không trả lời được câu hỏi này.")
    elif verdict.reason == NO_AMOUNT:
        lines.append("The documents I have state no sum of money for this, so I cannot answer it." if en
                     else "Các văn bản hiện có không nêu số tiền nào cho nội dung này nên không trả lời được.")
    else:
        lines.append("The documents I have do not answer this question." if en
                     else "Các văn bản hiện có không trả lời được câu hỏi này.")

    places = []
    for meta in documents:
        place = meta.locality or "toàn quốc"
        if meta.province and meta.province != meta.locality:
            place = f"{place} ({meta.province})"
        if place not in places:
            places.append(place)
    if documents:
        lines.append("")
        lines.append(
            f"They are {len(documents)} documents on cooperatives and the collective economy"
            + (f" of {', '.join(places)}:" if places else ":")
            if en else
            f"Kho gồm {len(documents)} văn bản về kinh tế tập thể, hợp tác xã"
            + (f" của {', '.join(places)}:" if places else ":")
        )
        lines.extend(_document_line(m) for m in documents[:_LIST_AT_MOST])
        if len(documents) > _LIST_AT_MOST:
            more = len(documents) - _LIST_AT_MOST
            lines.append(f"- … and {more} more" if en else f"- … và {more} văn bản khác")
        lines.append("")
        lines.append(
            "Ask about what they assign: who leads a task, deadlines, targets, the rules they cite." if en else
            "Hãy hỏi về nội dung các văn bản này: cơ quan nào chủ trì, thời hạn, chỉ tiêu, căn cứ áp dụng."
        )
    return "\n".join(lines)
