"""What a question asks, before retrieval: its language, intent, the localities it names, and
the Vietnamese wording that lets it meet the documents.

Officers ask in Vietnamese with diacritics, in Vietnamese typed without them on a phone
("ai phu trach giai the htx o vinh linh"), or in English. The documents are Vietnamese and
full of abbreviations (HTX, KTTT, UBND). `understand` turns any of these into a `Query`
whose `lexical_text` and `dense_text` carry the document's own words: abbreviations spelled
out and, for English, the glossary's Vietnamese terms.

The abbreviation and glossary data live in `assistant/data/*.yaml` so that a domain expert
can review them without reading code.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from types import MappingProxyType

import yaml
from pydantic import BaseModel, Field

from index.normalize import fold, normalize_text, strip_diacritics

__all__ = ["Query", "INTENTS", "understand", "load_abbreviations", "load_glossary"]

INTENTS = ("who", "when", "how_many", "rule", "general")

_DATA_DIR = Path(__file__).resolve().parent / "data"


class Query(BaseModel):
    """A question as the retriever needs it."""

    original: str                          # as typed, after normalize_text
    language: str = "vi"                   # "vi" or "en"
    has_diacritics: bool = False
    intent: str = "general"                # one of INTENTS
    localities: list[str] = Field(default_factory=list)   # canonical names, as given to understand()
    expansions: list[str] = Field(default_factory=list)   # Vietnamese phrases added (abbreviations, glossary)
    lexical_text: str = ""                 # original + expansions, for BM25 (the caller tokenizes)
    dense_text: str = ""                   # for the embedder
    # Numbers of documents the question names ("KH 67", "Kế hoạch 251", "công văn số 2651").
    document_numbers: list[str] = Field(default_factory=list)
    # Types of documents the question names without a number, as the one it is asked about:
    # "kế hoạch của Huyện ủy", "theo công văn", "Vĩnh Linh's plan", "the letter" → "ke hoach", "cong van".
    document_kinds: list[str] = Field(default_factory=list)
    # Asks what a document implements or is based on: answered by its opening (căn cứ) paragraph.
    asks_basis: bool = False
    # Asks who issued a document or when: its opening paragraph names the issuer, and the answer
    # names the document with its issuer and date ("Kế hoạch do ai ban hành?", "Who's behind the letter?").
    asks_issuer: bool = False
    # Asks for a sum of money ("lệ phí … bao nhiêu tiền?", "how much does the fund lend?"): only
    # a clause that states one answers, and the abstainer checks there is one.
    asks_money: bool = False


def understand(question: str, known_localities: Iterable[str] = ()) -> Query:
    """Analyse a question; `known_localities` are the canonical names the index knows
    ("Vĩnh Linh"), matched case-insensitively with or without diacritics."""
    text = normalize_text(question or "").strip()
    if not text:
        return Query(original="")

    localities, locality_spans = _find_localities(text, known_localities)
    abbreviation_hits = _find_abbreviations(text)
    names = locality_spans + [(start, end) for start, end, _ in abbreviation_hits]
    language = _detect_language(text, names)
    if language == "vi" and (spelled := spell_out_shorthand(text)) != text:
        # The words, not the phone's shorthand, are what the cues, the coverage check and
        # both retrievers know: "toi 2030 tong cong dc khoang bn htx" asks how many.
        text = spelled
        localities, locality_spans = _find_localities(text, known_localities)
        abbreviation_hits = _find_abbreviations(text)
    glossary_hits = _find_glossary_terms(text, english_question=language == "en")

    expansions: list[str] = []
    seen: set[str] = set()
    for _, _, phrases in sorted(abbreviation_hits + glossary_hits, key=lambda hit: hit[0]):
        for phrase in phrases:
            key = strip_diacritics(fold(phrase))
            if key in seen or _loose_regex(phrase).search(text):
                continue            # already in the question: adding it again only skews BM25
            seen.add(key)
            expansions.append(phrase)

    has_diacritics = strip_diacritics(text) != text
    # An accented word yields two matching tokens (exact and unaccented); added unaccented,
    # the expansions of an unaccented question weigh no more than the user's own words.
    lexical_expansions = expansions if has_diacritics else [strip_diacritics(e) for e in expansions]
    lexical_text = "\n".join([text, *lexical_expansions])
    dense_text = text
    if language == "en" and expansions:
        # multilingual-e5 embeds mixed text well; the Vietnamese terms pull the English
        # question towards the Vietnamese clauses that use them.
        dense_text = f"{text}\n{', '.join(expansions)}"

    folded = strip_diacritics(fold(text))
    return Query(
        original=text,
        language=language,
        has_diacritics=has_diacritics,
        intent=_detect_intent(text),
        localities=localities,
        expansions=expansions,
        lexical_text=lexical_text,
        dense_text=dense_text,
        document_numbers=_find_document_numbers(text),
        document_kinds=_find_document_kinds(text),
        asks_basis=bool(_BASIS.search(folded)),
        asks_issuer=_asks_issuer(folded),
        asks_money=bool(_MONEY_QUESTION.search(folded)),
    )


# A document named by its type and number; matched on the folded, unaccented question.
_DOCUMENT_NUMBER = re.compile(
    r"\b(?:kh|ke hoach|cv|cong van|van ban|qd|quyet dinh|nq|nghi quyet|nd|nghi dinh|tt|thong tu|luat|plan|"
    r"letter|decision|decree|circular)\s*(?:so\s*|no\.?\s*)?(\d{1,5})(?=\b|[-/])"
    r"|\b(\d{1,5})\s*[-/]\s*(?:kh|ubnd|qd|nq|nd|tt|ctr|kl)\b"
)
_BASIS = re.compile(
    r"\bcan cu\b|\bdua tren\b|\bde thuc hien\b|\bnham (?:trien khai|thuc hien)\b|\bban hanh de\b"
    r"|\bthuc hien (?:nghi quyet|chuong trinh|quyet dinh|ket luan|ke hoach|van ban) nao\b"
    # "thực hiện chương trình hành động số mấy của Tỉnh ủy?": the text it carries out, by number.
    # ("… Nghị quyết 20 khi nào?" asks when a duty is due, not which text.)
    r"|\bthuc hien (?:nghi quyet|chuong trinh hanh dong|ket luan|chi thi)(?: nao\b|(?: \w+){0,2} so (?:may|bao nhieu)\b)"
    r"|\bbased on\b|\bpursuant\b|\blegal basis\b"
    r"|\b(?:implement(?:s|ing)?|carr(?:y|ies|ying) out|giv(?:e|es|ing) effect to) (?:which|what)\b"
    # "which action programme does Hà Tĩnh's plan put into effect?", "… does it also build on?"
    r"|\b(?:which|what)\b.*\b(?:put into effect|builds? on|gives? effect to|implement(?:s|ing)?)"
    r"(?:\s+(?:in|of|for)\s+\w+(?:\s+\w+)?)?\s*[?.!]*\s*$"
    # Asked of a kind of text, the verb need not end the question: "Which provincial party action
    # programme is Kien Giang's plan 251 carrying out, and what date is it?"
    r"|\b(?:which|what)(?: [\w'-]+){0,3} (?:programmes?|programs?|resolutions?|conclusions?|directives?)\b"
    r"(?: [\w'-]+){1,6} (?:carr(?:y|ies|ying) out|implement(?:s|ing)?|put(?:s|ting)? into effect"
    r"|giv(?:e|es|ing) effect to|build(?:s|ing)? on)\b"
)

# "ai ban hành", "do Huyện ủy hay UBND ban hành", "ký ngày nào", "which body issued", "who's
# behind the letter": about the document itself. Not "ai tham mưu ban hành cơ chế, chính sách"
# (a duty), so "ban hành" must end the question or be asked when.
_ISSUER = re.compile(
    r"\bban hanh\s*(?:ngay nao|khi nao|luc nao|bao gio|hom nao|nam nao|vao ngay nao)?"
    r"(?:\s+(?:o|tai|cua)\s+\w+(?:\s+\w+)?)?\s*[?.!]*\s*$"
    r"|\b(?:ngay ban hanh|ngay ky|ky ngay nao|ky (?:khi nao|hom nao)|ai ky)\b"
    r"|\b(?:who|which (?:body|agency|office|authority|organ|level))(?:'s| is| was)?\s+"
    r"(?:issued|signed|put out|is behind|behind)\b"
    r"|\bissued by\b|\bwhen was (?:it|the \w+|this \w+)(?: \w+){0,3} (?:issued|signed)\b"
    r"|\b(?:issue|issuing|signing) date\b"
    r"|\b(?:ke hoach|cong van|van ban|nghi quyet|ket luan)(?: \w+){0,3} (?:ra )?ngay (?:nao|bao nhieu)\b"
)
# A sum of money asked for, on the folded unaccented question. Not "how much of the population"
# or "bao nhiêu HTX được vay vốn" (shares and counts), so a money word or verb must be asked about.
_MONEY_QUESTION = re.compile(
    r"\bbao nhieu (?:tien|dong)\b|\b(?:bao nhieu|may) (?:trieu|ty)\b(?! le)|\b(?:trieu|ty) dong\b"
    # A money word asked how much of ("lệ phí … là bao nhiêu?"), not when it is paid. ("luong"
    # alone may be "lượng": "số lượng HTX bao nhiêu" asks a count.)
    r"|\b(?:le phi|hoc phi|phi dang ky|tien luong|muc luong|muc phat|phu cap|kinh phi|lai suat cho vay)\b"
    r"(?: \w+){0,8} (?:bao nhieu|may)\b"
    r"|\bhow much (?:money|funding|funds?|cash|capital|budget|does|did|do|will|would|can|could|is|are|was|were)\b"
    r"[^?]*\b(?:money|funding|funds?|budget|pay|paid|costs?|charged?|lend|lent|loans?|spend|spent|earn|get|gets"
    r"|receive|received|allocated?|fees?|fines?|worth)\b"
    r"|\b(?:what|which)(?: [\w-]+){0,2} (?:budget|fees?|prices?|salary|salaries|wages?|allowances?|fines?)\b"
    r"|\b(?:maximum|minimum|max|min) (?:loan|amount|wage|salary)\b|\bin (?:vnd|usd|dong)\b"
)

# Duties that end in an issued text: "Phòng nào tham mưu UBND huyện ban hành?".
_DRAFTS = re.compile(r"\b(?:tham muu|chu tri|trinh|de xuat|xay dung|soan thao|advis\w*|draft\w*|propos\w*)\b")

# A document referred to by its type: "theo kế hoạch", "kế hoạch của Huyện ủy", "Vĩnh Linh's
# plan", "the letter"; not a plan a duty is about ("xây dựng kế hoạch phát triển … hàng năm").
_DOCUMENT_KIND = re.compile(
    r"\b(?:theo|trong|tai)\s+(ke hoach|cong van)\b(?!\s+(?:phat trien|hang nam|cu the))"
    r"|\b(ke hoach|cong van)\s+(?:cua|do)\s+(?:ban thuong vu|huyen uy|tinh uy|ubnd|uy ban|so|tinh|huyen)\b"
    # "the district People's Committee letter", "the Huyen uy's Plan 67", "the district PC's dispatch"
    # ("the yearly plan" is what is planned, not a document).
    r"|(?:\bthe|\w's)\s+(?:(?:district|provincial|province|party|people's|committee(?:'s)?|pc(?:'s)?|huyen|uy(?:'s)?"
    r"|ubnd|standing|implementation|official)\s+){0,3}(plan|letter|dispatch)\b"
)
_KIND_NAMES = {"plan": "ke hoach", "letter": "cong van", "dispatch": "cong van"}


def _asks_issuer(folded: str) -> bool:
    return bool(_ISSUER.search(folded)) and not _DRAFTS.search(folded)


def _find_document_kinds(text: str) -> list[str]:
    folded = strip_diacritics(fold(text))
    kinds = [next(g for g in m.groups() if g) for m in _DOCUMENT_KIND.finditer(folded)]
    return list(dict.fromkeys(_KIND_NAMES.get(k, k) for k in kinds))


def _find_document_numbers(text: str) -> list[str]:
    folded = strip_diacritics(fold(text))
    found: list[str] = []
    for m in _DOCUMENT_NUMBER.finditer(folded):
        number = (m.group(1) or m.group(2)).lstrip("0") or "0"
        if number not in found:
            found.append(number)
    return found


# ---------------------------------------------------------------- data files


@cache
def load_abbreviations() -> Mapping[str, tuple[str, ...]]:
    """abbreviation → expansions, reviewed and unreviewed sections joined."""
    return _load_sections("abbreviations.yaml")


@cache
def load_glossary() -> Mapping[str, tuple[str, ...]]:
    """English phrase → Vietnamese phrases, reviewed, laws and unreviewed sections joined."""
    return _load_sections("glossary.yaml")


def _load_sections(name: str) -> Mapping[str, tuple[str, ...]]:
    raw = yaml.safe_load((_DATA_DIR / name).read_text(encoding="utf-8")) or {}
    merged: dict[str, list[str]] = {}
    # Sections say where a wording was checked (corpus/, ../shared/laws, nowhere); all are used.
    for section in ("reviewed", "laws", "unreviewed"):
        for key, values in (raw.get(section) or {}).items():
            bucket = merged.setdefault(normalize_text(str(key)), [])
            for value in values or []:
                value = normalize_text(str(value))
                if value not in bucket:
                    bucket.append(value)
    return MappingProxyType({key: tuple(values) for key, values in merged.items()})


# ---------------------------------------------------------------- matching helpers


def _loose_source(pattern: str) -> str:
    """A regex source in which each letter written with diacritics also matches its bare
    letter: what the user typed either agrees with the diacritics or omits them. "Vĩnh"
    matches "vinh" and "Vĩnh" but not "Vình"; "sở nào" does not match "số nào"."""
    out = []
    for ch in normalize_text(pattern):
        bare = strip_diacritics(ch)
        out.append(f"[{ch}{bare}]" if bare != ch and len(bare) == 1 else ch)
    return "".join(out)


@lru_cache(maxsize=4096)
def _loose_regex(phrase: str) -> re.Pattern[str]:
    parts = re.split(r"(\s+|-)", phrase.strip())
    source = "".join(
        r"\s+" if part.isspace() else r"\s*-\s*" if part == "-" else _loose_source(re.escape(part))
        for part in parts
        if part
    )
    return re.compile(rf"(?<!\w){source}(?!\w)", re.IGNORECASE)


def _overlaps(start: int, end: int, taken: list[tuple[int, int]]) -> bool:
    return any(start < t_end and t_start < end for t_start, t_end in taken)


# A syllable Vietnamese could spell without diacritics: onset, one to three vowels, coda.
_VI_SYLLABLE = re.compile(
    r"(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdghklmnpqrstvx])?[aeiouy]{1,3}(?:ng|nh|ch|[cmnpt])?"
)


def _could_be_vietnamese(word: str) -> bool:
    return _VI_SYLLABLE.fullmatch(strip_diacritics(word).lower()) is not None


# ---------------------------------------------------------------- localities


def _find_localities(text: str, known: Iterable[str]) -> tuple[list[str], list[tuple[int, int]]]:
    names = list(dict.fromkeys(name for name in known if name and name.strip()))
    # Longest first, so "Vĩnh Linh" wins over a shorter "Vinh" inside it.
    names.sort(key=lambda name: len(name), reverse=True)
    taken: list[tuple[int, int]] = []
    found: list[tuple[int, str]] = []
    for name in names:
        for match in _loose_regex(normalize_text(name)).finditer(text):
            if _overlaps(match.start(), match.end(), taken):
                continue
            taken.append(match.span())
            found.append((match.start(), name))
    ordered = list(dict.fromkeys(name for _, name in sorted(found)))
    return ordered, taken


# ---------------------------------------------------------------- abbreviations


@dataclass(frozen=True)
class _Matcher:
    pattern: re.Pattern[str]
    phrases: tuple[str, ...]


@cache
def _abbreviation_matchers() -> tuple[_Matcher, ...]:
    matchers = []
    for abbreviation, expansions in sorted(load_abbreviations().items(), key=lambda kv: -len(kv[0])):
        # "TU" and "HU" are also syllables ("tu" = từ in "tu nam 2023"): capitals only.
        syllable_like = _could_be_vietnamese(abbreviation)
        source = _loose_source(re.escape(abbreviation))
        flags = 0 if syllable_like else re.IGNORECASE
        matchers.append(_Matcher(re.compile(rf"(?<!\w){source}(?!\w)", flags), expansions))
    return tuple(matchers)


def _find_abbreviations(text: str) -> list[tuple[int, int, tuple[str, ...]]]:
    hits: list[tuple[int, int, tuple[str, ...]]] = []
    taken: list[tuple[int, int]] = []
    for matcher in _abbreviation_matchers():
        for match in matcher.pattern.finditer(text):
            if not _overlaps(match.start(), match.end(), taken):
                taken.append(match.span())
                hits.append((match.start(), match.end(), matcher.phrases))
    return hits


# ---------------------------------------------------------------- glossary (English)


def _english_form(text: str) -> str:
    """Spelling variants folded away on both the glossary's and the question's side:
    case, apostrophes ("people's" = "peoples"), hyphens, slashes, British -ise/-isation."""
    text = fold(text).replace("\u2019", "'").replace("\u2018", "'").replace("'", "")
    # "good/fair" is the glossary's "good or fair".
    text = re.sub(r"(?<=[a-z])\s*/\s*(?=[a-z])", " or ", text)
    text = re.sub(r"[-\u2010\u2011\u2013\u2014/]", " ", text)
    return re.sub(r"(?<=\w)is(e|ed|es|ing|ation|ations|ational)\b", r"iz\1", text)


def _english_word_source(word: str) -> str:
    """Plural and verb forms of a glossary word: fund/funds/funded/funding, plan/planning,
    dissolve/dissolved, policy/policies."""
    stem = re.escape(word)
    if not word.isalpha():
        return stem
    if len(word) <= 3:
        return stem + "s?"
    if word.endswith("e"):
        return re.escape(word[:-1]) + "(?:e|es|ed|ing)"
    if word.endswith("y") and word[-2] not in "aeiou":
        return re.escape(word[:-1]) + "(?:y|ies|ied|ying)"
    return stem + rf"(?:s|es|{re.escape(word[-1])}?(?:ed|ing))?"


@cache
def _glossary_matchers() -> tuple[_Matcher, ...]:
    entries = []
    for phrase, translations in load_glossary().items():
        words = _english_form(phrase).split()
        if not words:
            continue
        source = r"\s+".join(_english_word_source(word) for word in words)
        entries.append((len(words), len(phrase), _Matcher(re.compile(rf"(?<!\w){source}(?!\w)"), translations)))
    # Longest phrase first: "department of planning and investment" before "department".
    entries.sort(key=lambda entry: (-entry[0], -entry[1]))
    return tuple(matcher for _, _, matcher in entries)


def _find_glossary_terms(text: str, english_question: bool) -> list[tuple[int, int, tuple[str, ...]]]:
    english = _english_form(text)
    hits: list[tuple[int, int, tuple[str, ...]]] = []
    taken: list[tuple[int, int]] = []
    for matcher in _glossary_matchers():
        for match in matcher.pattern.finditer(english):
            if _overlaps(match.start(), match.end(), taken):
                continue
            # In a Vietnamese question only unmistakably English words count ("deadline"),
            # not those that are also unaccented Vietnamese ("loan" = loạn, "set" = sét).
            if not english_question and any(_could_be_vietnamese(w) for w in match.group().split()):
                continue
            taken.append(match.span())
            hits.append((match.start(), match.end(), matcher.phrases))
    return hits


# ---------------------------------------------------------------- language

# English function words, including those that are also unaccented Vietnamese syllables
# ("the", "to", "in"): they count for English here, and the Vietnamese words around them
# outvote them in "giai the htx".
_ENGLISH_WORDS = frozenset(
    """a an the of in on at to by for with from into under per and or not no is are was were be
    been being do does did has have had can could will would should must may what which who whom
    whose when where why how that this these those there their its it each every many much any all
    more most than""".split()
)


# Chat shorthand of Vietnamese typed on a phone, spelled out (unaccented, as it is typed).
# Not "bh" (bảo hiểm or bao giờ), "dk" (đăng ký or điều kiện), "ng", "vs": each has two readings.
_SHORTHAND = {"bn": "bao nhieu", "dc": "duoc", "đc": "được", "ko": "khong", "k": "khong", "khg": "khong",
              "hok": "khong", "j": "gi", "ntn": "nhu the nao", "bgio": "bao gio", "cx": "cung", "bc": "bao cao"}
# "k" after a figure is a thousand ("50k"), after "điểm" a point of a clause ("điểm k khoản 1");
# "bn ơi" is "bạn ơi".
_SHORTHAND_WORD = re.compile(
    r"(?<![\w.,])(?<!\d )(?<!điểm )(?<!diem )(?:" + "|".join(sorted(map(re.escape, _SHORTHAND), key=len, reverse=True))
    + r")(?!\w)(?!\s+(?:ơi|oi)\b)", re.IGNORECASE)


def spell_out_shorthand(text: str) -> str:
    """`text` with Vietnamese chat shorthand spelled out: "bn" → "bao nhieu", "dc" → "duoc"."""
    return _SHORTHAND_WORD.sub(lambda m: _SHORTHAND[m.group().lower()], text)


def _detect_language(text: str, names: list[tuple[int, int]]) -> str:
    # Place names and abbreviations say nothing about the language of the sentence around them.
    chars = list(text)
    for start, end in names:
        chars[start:end] = " " * (end - start)
    english = vietnamese = 0
    for word in re.findall(r"[^\W\d_]+", "".join(chars)):
        if len(word) > 1 and word.isupper():
            continue                       # acronyms: VAT, USD, SJC
        lower = word.lower()
        if strip_diacritics(lower) != lower:
            vietnamese += 1
        elif lower in _ENGLISH_WORDS or not _could_be_vietnamese(lower):
            english += 1
        else:
            vietnamese += 1
    return "en" if english > vietnamese else "vi"


# ---------------------------------------------------------------- intent

# (intent, strong, regex, loose). Strong cues are the question words themselves ("ai",
# "khi nào", "bao nhiêu", "which law"); weak ones only hint ("phụ trách", "tỷ lệ",
# "hồ sơ"). A strong cue beats any weak one; among cues of one strength the earliest wins,
# since Vietnamese and English both put the question word near what is asked
# ("Ai phải báo cáo khi nào" asks who). `loose` cues also match when typed without
# diacritics; "mấy" is not loose because "may" is too common.
_AGENCY_NOUNS = "cơ quan|đơn vị|phòng|sở|ban|ngành|bộ|tổ chức|bộ phận|đoàn thể|cấp|địa phương"
# These also take one qualifier before "nào": "tổ chức HTX nào", "phòng ban nào".
_AGENCY_HEADS = "cơ quan|đơn vị|phòng|sở|tổ chức|bộ phận"
_ENGLISH_AGENCY_NOUNS = (
    "office|department|agency|organi[sz]ation|body|bodies|unit|committee|authority|authorities|ministry"
    "|newspaper|broadcaster|bank|institution|person|people|level|sector|locality|localities"
)
_CUES: tuple[tuple[str, bool, str, bool], ...] = (
    # who
    ("who", True, r"\bai\b", True),
    ("who", True, rf"\b(?:{_AGENCY_NOUNS}) nào\b", True),
    ("who", True, rf"\b(?:{_AGENCY_HEADS}) [\w&-]+ nào\b", True),
    ("who", True, r"\bwho(?:m|se)?\b", False),
    # "which district office", not "what is the State Bank (asked to do)": a verb between
    # them makes the agency what is asked about.
    ("who", True, rf"\b(?:which|what)(?:\s+(?!(?:is|are|was|were|do|does|did|has|have|should|must|will|can)\b)"
                  rf"[\w'-]+){{0,3}}?\s+(?:{_ENGLISH_AGENCY_NOUNS})s?\b", False),
    ("who", False, r"\b(?:phụ trách|chủ trì|chịu trách nhiệm|trách nhiệm|đảm nhiệm)\b", True),
    ("who", False, r"\b(?:responsible|responsibility|in charge|handles?|lead agency|take the lead|presides?)\b", False),
    # when
    ("when", True, r"\b(?:khi|lúc|ngày|tháng|năm|quý|thời gian|thời điểm|hạn) nào\b", True),
    ("when", True, r"\b(?:bao giờ|hạn chót|thời hạn)\b", True),
    # "gửi huyện hạn mấy", "trước ngày mấy": unlike "mấy" alone, loose enough typed without diacritics.
    ("when", True, r"\b(?:ngày|hạn) mấy\b", True),
    ("when", True, r"\b(?:when|deadline|how long|how soon|how often)\b", False),
    # "bao lâu làm một lần?": how often, the words after "bao lâu" belong to the question word.
    ("when", True, r"\bbao lâu(?:\s+(?:làm|thực hiện|tổ chức|báo cáo|tiến hành))?(?:\s+một lần)?", True),
    ("when", True, r"\b(?:what|which) (?:date|day|year|month|quarter|time)\b", False),
    ("when", False, r"\b(?:trước ngày|chậm nhất|hoàn thành|kịp thời hạn)\b", True),
    ("when", False, r"\b(?:due|no later than|at the latest|timeline|schedule)\b", False),
    # how many
    ("how_many", True, r"\bbao nhiêu\b", True),
    # "mấy quỹ đó" is "those funds": a demonstrative after its noun makes "mấy" no question word.
    ("how_many", True, r"\bmấy\b(?!(?: \w+){1,2} (?:đó|này|ấy|kia)\b)", False),
    # Typed on a phone: "vinh linh thi bn" (bao nhiêu), at the end of the question.
    ("how_many", True, r"\bbn\s*\?*\s*$", False),
    ("how_many", True, r"\bhow (?:many|much)\b", False),
    ("how_many", True,
     r"\b(?:what|which)(?:['’]s)?(?:\s+[\w'-]+){0,2}?\s+(?:percentage|percent|share|proportion|ratio|rate|number|amount|fraction)\b",
     False),
    ("how_many", False, r"\b(?:tỷ lệ|tỉ lệ|phần trăm|chỉ tiêu|số lượng)\b", True),
    ("how_many", False, r"\b(?:targets?|percentage|percent|quota)\b|%", False),
    # rule
    ("rule", True,
     r"\b(?:luật|nghị định|thông tư|điều|khoản|quy định|tiêu chí|nguyên tắc|hướng|nguồn|lĩnh vực"
     r"|chương trình|căn cứ pháp lý|điều kiện|thủ tục|cách) nào\b",
     True),
    ("rule", True,
     r"\b(?:which|what)(?:\s+[\w'-]+){0,2}?\s+(?:laws?|decrees?|circulars?|regulations?|rules?|principles?"
     r"|procedures?|documents?|requirements?|criteria|criterion|polic(?:y|ies)|conditions?)\b",
     False),
    ("rule", True, r"\b(?:legal basis|dossier|documents? (?:are )?(?:needed|required))\b", False),
    ("rule", False,
     r"\b(?:thủ tục|hồ sơ|quy định|điều kiện|quy trình|luật|nghị định|thông tư|làm gì|ra sao"
     r"|như thế nào|thế nào|xử lý sao|làm sao|bằng cách nào)\b",
     True),
    # "… có … không?": only "có" is the cue word; what lies between is the question's topic.
    ("rule", False, r"\b(?:có|được|phải)\b(?=.*\bkhông\s*\?*\s*$)", True),
    ("rule", False,
     r"\b(?:how(?!\s+(?:many|much|long|soon|about)\b)|procedures?|regulations?|law|legal|polic(?:y|ies)"
     r"|requirements?|paperwork|eligib(?:le|ility)|conditions?)\b",
     False),
)


@cache
def _cue_patterns() -> tuple[tuple[str, bool, re.Pattern[str]], ...]:
    return tuple(
        (intent, strong, re.compile(_loose_source(source) if loose else source, re.IGNORECASE))
        for intent, strong, source, loose in _CUES
    )


def _detect_intent(text: str) -> str:
    best: tuple[int, int, str] | None = None      # (weak?, position, intent)
    for intent, strong, pattern in _cue_patterns():
        match = pattern.search(text)
        if match is None:
            continue
        candidate = (0 if strong else 1, match.start(), intent)
        if best is None or candidate < best:
            best = candidate
    return best[2] if best else "general"
