"""Reading a clause the way an officer does: who is assigned, by when, how many.

Pure text functions over the verbatim clause text, shared by the answer composer
(assistant/answer.py) and the task register (assistant/tasks.py). Nothing here invents
wording: every value returned is a span of the clause as printed (whitespace collapsed),
so a direct answer can always be checked against the quote that follows it.

The patterns follow how Vietnamese administrative plans assign work:

- an addressee heading with bullets:    "3.2. Phòng Tài chính - Kế hoạch huyện: - Tham mưu …"
- a subject sentence:                   "Sở Tài chính chủ trì, phối hợp với Liên minh HTX tỉnh … tham mưu …"
- an assignment or a request:           "Giao Phòng NN&PTNT chủ trì …", "Đề nghị UBMTTQVN tỉnh … tăng cường …"
- an appendix table row:                NHIỆM VỤ | PHÂN CÔNG TRÁCH NHIỆM
- deadlines in parentheses or in text:  "(Hoàn thành trong quý III năm 2023)", "trước ngày 15/12 hàng năm"
"""
from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache

from index.models import Chunk
from index.normalize import fold, normalize_text, strip_diacritics, tokenize

from .query import load_abbreviations

__all__ = [
    "Deadline", "best_deadline", "split_bullets", "split_sentences", "find_deadlines", "find_quantities", "target_year",
    "find_legal_references", "agency_at_start", "agencies_in", "is_generic", "split_agencies", "agency_key", "clean_agency",
    "Relevance", "TokenCounts", "strip_number",
]

# ---------------------------------------------------------------- structure of a clause

_UPPER_START = r"(?=[A-ZĐÀ-Ỹ])"
# A bullet starts the clause or follows the end of a sentence, a colon or a closing
# parenthesis. Dashes inside names ("Tài chính - Kế hoạch", "chính trị - xã hội") follow
# a word, never punctuation, so they do not split.
_BULLET = re.compile(r"(?:^|(?<=[.:;)!?…]))\s*[-–•+*]\s+" + _UPPER_START)
_NUMBER_PREFIX = re.compile(r"^\s*(?:\d+(?:\.\d+)*|[IVXLC]+)\s*[.)/-]\s+")


def strip_number(text: str) -> str:
    """"3.2. Phòng Tài chính…" → "Phòng Tài chính…"."""
    return _NUMBER_PREFIX.sub("", text, count=1)


def split_bullets(text: str) -> list[str]:
    """The bullets of a clause ("- …"); text before the first bullet is its own item."""
    parts = [p.strip() for p in _BULLET.split(text)]
    return [p for p in parts if p]


# A sentence ends at ". " or ";" — not inside numbers ("2.1", "3.000") or abbreviations.
_SENTENCE_END = re.compile(r"(?<=[.;!?…])\s+(?=[-–•+*]?\s*\S)|(?<=;)(?=\S)")


def split_sentences(text: str) -> list[str]:
    out: list[str] = []
    for bullet in split_bullets(text):
        out.extend(s.strip() for s in _SENTENCE_END.split(bullet) if s.strip())
    return out


# ---------------------------------------------------------------- deadlines


@dataclass(frozen=True)
class Deadline:
    text: str          # as printed: "hoàn thành trong quý III năm 2023", "trước ngày 15/12 hàng năm"
    kind: str          # "deadline" (a date or period to finish by) or "cadence" (hàng năm, định kỳ…)
    start: int         # offset in the text searched
    # Plans put the deadline of a task in parentheses after it: "(Hoàn thành trong quý III năm 2023)".
    parenthetical: bool = False

    @property
    def explicit(self) -> bool:
        """Stated as the task's schedule, not an adverb in passing ("thường xuyên rà soát")."""
        return (self.kind == "deadline" or self.parenthetical
                or bool(re.match(r"(?:thực hiện|hoàn thành)", self.text, re.I))
                or bool(re.search(r"(?:hàng|hằng)\s+(?:năm|quý|tháng)", self.text, re.I)))

    def rank(self) -> tuple[int, int, int]:
        """Lower is the better statement of when a task is due: a deadline before a cadence,
        a parenthesized or "thực hiện / hoàn thành" phrase before a passing mention."""
        explicit = self.parenthetical or bool(re.match(r"(?:thực hiện|hoàn thành)", self.text, re.I))
        return (0 if self.kind == "deadline" else 1, 0 if explicit else 1, -self.start)


_YEARLY = r"(?:hàng|hằng)\s+(?:năm|quý|tháng|tuần)"
_PERIOD = (
    r"(?:quý\s+[IV]+(?:\s*/\s*|\s+năm\s+)\d{4}"
    r"|tháng\s+\d{1,2}(?:\s*/\s*|\s+năm\s+)\d{4}"
    r"|(?:6|sáu)\s+tháng\s+(?:đầu|cuối)\s+năm(?:\s+\d{4})?"
    r"|năm\s+\d{4})"
)
_DAY = r"\d{1,2}(?:\s*/\s*\d{1,2}|\s+tháng\s+\d{1,2})(?:\s*/\s*\d{4}|\s+năm\s+\d{4})?"
_DEADLINE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("deadline", re.compile(rf"hoàn\s+thành(?:\s+trong)*\s+{_PERIOD}", re.IGNORECASE)),
    ("deadline", re.compile(
        rf"(?:trước|chậm\s+nhất(?:\s+(?:vào|là))?|đến|trong)\s+ngày\s+{_DAY}(?:\s+và\s+(?:ngày\s+)?{_DAY})*"
        rf"(?:\s+{_YEARLY})?", re.IGNORECASE)),
    ("deadline", re.compile(rf"(?:trong|trước|đến\s+hết)\s+{_PERIOD}", re.IGNORECASE)),
    ("cadence", re.compile(
        rf"(?:thực\s+hiện\s+)?(?:định\s+kỳ\s*,?\s*)?{_YEARLY}(?:\s*,\s*(?:giai\s+đoạn|nhiệm\s+kỳ[\w\s]*?|từ\s+năm\s+\d{{4}}))*"
        , re.IGNORECASE)),
    ("cadence", re.compile(r"(?:thực\s+hiện\s+)?(?:thường\s+xuyên|định\s+kỳ)", re.IGNORECASE)),
)


def find_deadlines(text: str) -> list[Deadline]:
    """Every deadline or cadence in `text`, in order; overlapping matches keep the first pattern's."""
    found: list[Deadline] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in _DEADLINE_PATTERNS:
        for m in pattern.finditer(text):
            start, end = m.span()
            if any(start < e and s < end for s, e in taken):
                continue
            value = m.group().strip(" ,;.")
            # "trong năm 2030" inside a target ("đến năm 2030 có 85 HTX") is not a deadline;
            # a bare year only counts after "hoàn thành" (the first pattern).
            if kind == "deadline" and re.fullmatch(r"(?:trong|đến\s+hết|trước)\s+năm\s+\d{4}", value, re.I):
                continue
            taken.append((start, end))
            parenthetical = text.rfind("(", 0, start) > text.rfind(")", 0, start)
            found.append(Deadline(value, kind, start, parenthetical))
    found.sort(key=lambda d: d.start)
    return found


def best_deadline(text: str) -> Deadline | None:
    found = find_deadlines(text)
    return min(found, key=Deadline.rank) if found else None


# ---------------------------------------------------------------- numbers and targets

_QUALIFIER = r"(?:tối\s+thiểu|ít\s+nhất|khoảng|trên|dưới|hơn|gần|từ|đạt|chiếm\s+từ|chiếm|tăng|giảm)"
_NUMBER = r"\d+(?:[.,]\d+)*\s*%?"
_QUANTITY = re.compile(
    rf"(?:{_QUALIFIER}\s+)?(?<![\d/.-]){_NUMBER}(?:\s*(?:-|–|đến)\s*{_NUMBER})?(?![\d/-]|\.\d)",
    re.IGNORECASE,
)
# A target stops where the next figure or sentence starts.
_UNIT_END = re.compile(
    r"[;()]|\.(?!\d)|,\s*(?=\d|tối thiểu|ít nhất|khoảng|trên|trong|với|nhằm|để|góp|gắn|đồng thời)"
    r"|\s(?:đến|tới)\s+năm\b|\sngày\s+\d",
    re.IGNORECASE,
)
_YEAR_BEFORE = re.compile(r"(?:năm|giai\s+đoạn|đến|từ|-)\s*$", re.IGNORECASE)


def find_quantities(text: str) -> list[tuple[str, int]]:
    """Figures with their unit as printed: "khoảng 85 - 90 hợp tác xã", "tối thiểu 20% tổ
    hợp tác có đăng ký chứng thực", "20 năm". Years, dates and document numbers are skipped."""
    out: list[tuple[str, int]] = []
    for m in _QUANTITY.finditer(text):
        figure = m.group().strip()
        digits = re.sub(r"\D", "", figure)
        bare_year = re.fullmatch(r"(?:19|20)\d\d", digits) and "%" not in figure
        if bare_year and _YEAR_BEFORE.search(text[max(0, m.start() - 12):m.start()]):
            continue
        rest = text[m.end():m.end() + 120]
        stop = _UNIT_END.search(rest)
        unit = rest[:stop.start()] if stop else rest
        # "lần thứ 5, Ban chấp hành …": a figure followed by punctuation has no unit.
        words = [] if re.match(r"\s*[,;:]", unit) else unit.split()[:14]
        if bare_year and not words:
            continue
        if not words and "%" not in figure:
            continue                     # a bare number with no unit is a label, not a target
        phrase = " ".join([figure, *words]).strip(" ,")
        out.append((phrase, m.start()))
    return out


_TARGET_YEAR = re.compile(r"(?:đến|tới|vào)\s+năm[\s-]*(\d{4})|năm[\s-]+(\d{4})", re.IGNORECASE)


def target_year(*texts: str) -> str | None:
    """The year a target is set for ("Đến năm-2030" → "2030"), from the first text that names one."""
    for text in texts:
        m = _TARGET_YEAR.search(text or "")
        if m:
            return m.group(1) or m.group(2)
    return None


_LEGAL = re.compile(
    r"(?:Luật|Nghị\s+định|Thông\s+tư|Nghị\s+quyết|Quyết\s+định|Kết\s+luận|Chỉ\s+thị|Chương\s+trình\s+hành\s+động"
    r"|Văn\s+bản|Kế\s+hoạch)(?:\s+số)?\s+\d[\w./-]*[\w]"
    r"|Luật\s+Hợp\s+tác\s+xã(?:\s+năm\s+\d{4})?",
)


def find_legal_references(text: str) -> list[str]:
    """Named legal texts as printed: "Nghị định 77/2019/NĐ-CP", "Thông tư số 01/2020/TT-BKHĐT"."""
    return list(dict.fromkeys(m.group().strip() for m in _LEGAL.finditer(text)))


# ---------------------------------------------------------------- agencies

# Words an agency name starts with. Case matters: "Ban Chỉ đạo" is a body, "chỉ đạo" a verb.
AGENCY_HEAD = (
    r"(?:Phòng|Sở|Ban|Ủy\s+ban|Uỷ\s+ban|UBND|UBMTTQVN|UBMTTQ|UBMT|MTTQ|Mặt\s+trận|Liên\s+minh|Liên\s+hiệp|Ngân\s+hàng"
    r"|Đài|Báo|Chi\s+nhánh|Trung\s+tâm|Văn\s+phòng|Hội(?:\s+đồng)?|Quỹ|Kho\s+bạc|Cục|Chi\s+cục|Bộ|Công\s+an"
    r"|Tỉnh\s+đoàn|Huyện\s+đoàn|Thủ\s+trưởng|Chủ\s+tịch|Giám\s+đốc|Cấp\s+ủy|Đảng\s+ủy|Huyện\s+ủy|Tỉnh\s+ủy"
    r"|Thường\s+trực|Đồng\s+chí|Các\s+đồng\s+chí|HĐND|LMHTX|NHNN"
    r"|[Cc]ác\s+(?:[Ss]ở|[Pp]hòng|cơ\s+quan|[Bb]an|ngành|địa\s+phương|cấp|đơn\s+vị|tổ\s+chức|Hội|hội|huyện|xã|HTX"
    r"|hợp\s+tác\s+xã|doanh\s+nghiệp|đoàn\s+thể|đồng\s+chí|cấp\s+ủy|ban\s+ngành))"
)
AGENCY_AT_START = re.compile(rf"^{AGENCY_HEAD}(?!\w)")
# Verbs that end the subject of an assignment sentence. Lower case only: inside names
# these words are capitalized ("Quỹ Hỗ trợ", "Ban Chỉ đạo").
_VERBS = (
    "chủ trì", "phối hợp", "tham mưu", "triển khai", "tập trung", "khẩn trương", "chủ động", "đề cao",
    "tăng cường", "thực hiện", "xây dựng", "hướng dẫn", "nghiên cứu", "theo dõi", "rà soát", "kiểm tra",
    "xác định", "có trách nhiệm", "phải", "cần", "tiếp tục", "đẩy mạnh", "quán triệt", "thường xuyên",
    "làm tốt", "phát huy", "bố trí", "nghiêm túc", "lãnh đạo", "chỉ đạo", "giúp", "tuyên truyền",
    "hỗ trợ", "quản lý", "tổng hợp", "báo cáo", "đôn đốc", "củng cố", "kiện toàn", "tạo điều kiện",
    "thống kê", "kết nối", "giám sát", "đề xuất", "kịp thời", "sớm", "căn cứ", "được", "đào tạo",
    "bồi dưỡng", "tập huấn", "vận động", "nâng cao", "sơ kết", "tổng kết", "đánh giá", "giải quyết", "xử lý",
    "ban hành", "phân bổ", "thẩm định", "tiếp nhận", "trong việc", "trong công tác", "về việc", "để", "nhằm",
)
ACTION_VERB = re.compile(r"(?<!\w)(?:" + "|".join(re.escape(v) for v in sorted(_VERBS, key=len, reverse=True)) + r")(?!\w)")
_REQUEST_PREFIX = re.compile(r"^(?:Giao(?:\s+cho)?|Đề\s+nghị|Yêu\s+cầu|Kính\s+đề\s+nghị)\s+", re.IGNORECASE)


def clean_agency(name: str) -> str:
    name = normalize_text(name)
    name = _REQUEST_PREFIX.sub("", name.strip())
    name = re.sub(r"\s+", " ", name)
    name = re.sub(r"^(?:và|hoặc)\s+", "", name)
    return name.strip(" ,;:.-–")


def agency_at_start(sentence: str) -> tuple[str, str] | None:
    """The agency phrase a sentence starts with and the rest: ("Sở Tài chính", "chủ trì, …").

    The phrase runs from an agency word to the first verb or colon; a sentence that does
    not start with an agency (after "Giao", "Đề nghị") yields None."""
    text = strip_number(sentence).strip()
    body = _REQUEST_PREFIX.sub("", text)
    if not AGENCY_AT_START.match(body):
        return None
    colon = body.find(":")
    verb = ACTION_VERB.search(body)
    cut = min([i for i in (colon if colon > 0 else None, verb.start() if verb else None) if i is not None],
              default=None)
    if cut is None or cut == 0:
        return None
    rest = body[cut:].lstrip(" :")
    if re.match(r"(?:được|là)\b", rest):
        return None                 # "Giám đốc HTX được đào tạo …": a target, not an assignment
    # "Các địa phương, …, nhất là người đứng đầu xác định …": the qualifier names no body.
    subject = clean_agency(re.sub(r",?\s+(?:nhất\s+là|đặc\s+biệt\s+là|trong\s+đó)\s.*$", "", body[:cut]))
    if not subject or len(subject.split()) > 40:
        return None
    return subject, rest


CAPITAL_AGENCY = re.compile(rf"(?<!\w)(?=[A-ZĐÀ-Ỹ]){AGENCY_HEAD}(?!\w)")


def agencies_in(text: str) -> list[tuple[str, int]]:
    """Capitalized agency names anywhere in a sentence, each up to the next verb or
    punctuation: "tạo điều kiện để Liên minh Hợp tác xã tỉnh làm tốt vai trò" →
    "Liên minh Hợp tác xã tỉnh"."""
    out: list[tuple[str, int]] = []
    for m in CAPITAL_AGENCY.finditer(text):
        if out and m.start() < out[-1][1] + len(out[-1][0]):
            continue
        rest = text[m.start():m.start() + 160]
        ends = [i for i in (rest.find(c, 1) for c in ",;:.()") if i > 0]
        verb = ACTION_VERB.search(rest, m.end() - m.start())
        if verb:
            ends.append(verb.start())
        name = clean_agency(rest[: min(ends)] if ends else rest)
        if name:
            out.append((name, m.start()))
    return out


_SPLIT_AGENCIES = re.compile(r"\s*[,;]\s*|\s+(?:và|cùng)\s+")


def split_agencies(phrase: str) -> list[str]:
    """"Đài Phát thanh - Truyền hình tỉnh, Báo Hà Tĩnh" → two agencies; a comma not followed
    by an agency word continues the previous one ("Các sở, ban, ngành", "UBND các huyện,
    thị xã, thành phố")."""
    pieces = _SPLIT_AGENCIES.split(phrase.strip())
    seps = _SPLIT_AGENCIES.findall(phrase.strip())
    out: list[str] = []
    for i, piece in enumerate(pieces):
        piece = piece.strip()
        if not piece:
            continue
        joiner = seps[i - 1] if i > 0 and i - 1 < len(seps) else ", "
        # A lone "Ban" in "các Sở, Ban, ngành" lists kinds of body, it starts no new one.
        starts_agency = bool(AGENCY_AT_START.match(piece)) and len(piece.split()) > 1
        # "Văn phòng HĐND và UBND huyện" is one office.
        keeps_together = bool(out) and out[-1].startswith("Văn phòng") and "và" in joiner
        if out and (not starts_agency or keeps_together):
            out[-1] = f"{out[-1]}{joiner if 'và' in joiner or 'cùng' in joiner else ', '}{piece}"
        else:
            out.append(piece)
    return [clean_agency(a) for a in out if clean_agency(a)]


def is_generic(agency: str) -> bool:
    """"các đơn vị liên quan": a courtesy, not an assignment to a named body."""
    key = strip_diacritics(fold(agency))
    return "lien quan" in key or key in {"cac dia phuong", "cac don vi", "cac nganh"}


@cache
def _abbreviation_table() -> tuple[tuple[re.Pattern[str], str], ...]:
    """Abbreviations with exactly one expansion, as whole tokens, longest first."""
    table = []
    for abbreviation, expansions in sorted(load_abbreviations().items(), key=lambda kv: -len(kv[0])):
        if len(expansions) != 1:
            continue              # "TT" is thông tư or thường trực: ambiguous in a name
        pattern = re.compile(rf"(?<![\w&-]){re.escape(abbreviation)}(?![\w&-])")
        table.append((pattern, expansions[0]))
    return tuple(table)


def expand_abbreviations(name: str) -> str:
    text = normalize_text(name)
    for pattern, expansion in _abbreviation_table():
        text = pattern.sub(expansion, text)
    return text


# District offices are always the district's ("Phòng Tài chính - Kế hoạch huyện" is the
# same office as "Phòng Tài chính - Kế hoạch"); provincial departments likewise ("Sở … tỉnh").
_LEVEL_SUFFIX = (("phong ", " huyen"), ("so ", " tinh"))


def agency_key(name: str) -> str:
    """One key for every spelling of an agency: abbreviations spelled out (abbreviations.yaml),
    case, diacritics, dashes and the redundant level word ignored. "Phòng NN&PTNT",
    "Phòng Nông nghiệp và PTNT huyện" and "Phòng Nông nghiệp và Phát triển nông thôn" share
    the key "phong nong nghiep va phat trien nong thon"."""
    text = strip_diacritics(fold(expand_abbreviations(clean_agency(name))))
    text = re.sub(r"[^\w]+", " ", text).strip()
    for head, suffix in _LEVEL_SUFFIX:
        if text.startswith(head) and text.endswith(suffix) and len(text.split()) > 3:
            text = text[: -len(suffix)]
    return text


# ---------------------------------------------------------------- relevance of a span to a question


@dataclass(frozen=True)
class TokenCounts:
    """In how many chunks of an index each lexical token occurs. Tokenizing every chunk is
    most of the time it takes to open an index, so it is done once and the composer's
    Relevance (idf) and the abstainer's vocabulary both read these counts."""

    df: Mapping[str, int]
    chunks: int

    @classmethod
    def of(cls, token_lists: Iterable[Iterable[str]]) -> TokenCounts:
        """From each chunk's tokenize(embedding_text()), e.g. the lists the lexical index has
        already made (before it adds its number slots)."""
        df: Counter[str] = Counter()
        n = 0
        for tokens in token_lists:
            n += 1
            df.update(set(tokens))
        return cls(df, n)

    @classmethod
    def of_chunks(cls, chunks: Iterable[Chunk]) -> TokenCounts:
        return cls.of(tokenize(chunk.embedding_text()) for chunk in chunks)


class Relevance:
    """IDF-weighted overlap between a question's tokens and a span of text: which bullet,
    sentence or figure of a retrieved clause the question is about."""

    def __init__(self, counts: TokenCounts) -> None:
        self._df = counts.df
        self._n = max(counts.chunks, 1)

    def idf(self, token: str) -> float:
        return math.log((self._n + 1) / (self._df.get(token, 0) + 0.5))

    def score(self, question_tokens: Iterable[str], text: str) -> float:
        wanted = set(question_tokens)
        have = set(tokenize(text))
        return sum(self.idf(t) for t in wanted & have)
