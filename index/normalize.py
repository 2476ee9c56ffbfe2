"""Vietnamese text normalization and the lexical tokens of the BM25 index.

The same text reaches us in many spellings: NFC or NFD, old (hoà, thuỷ) or new (hòa,
thủy) tone-mark placement, with or without diacritics, in any case. Everything that is
compared lexically goes through this module so a question typed on a phone without
diacritics ("giai the htx") still meets the clause that reads "giải thể HTX".

Standard library only: the indexer, the retriever and the bots all import it.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = ["normalize_text", "fold", "strip_diacritics", "tokenize", "STOPWORDS"]

# The five Vietnamese tone marks as combining characters: grave, acute, tilde, hook, dot below.
_TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")
# Marks that make a different vowel letter (â ă ê ô ơ ư), not a tone.
_QUALITY_MARKS = frozenset("\u0302\u0306\u031b")
_TONE_BEFORE_HIGH = re.compile("[\u0300\u0301\u0303\u0309\u0323](?=[^\x00-\u02ff])")
_VOWELS = frozenset("aăâeêioôơuưy")
_QUALITY_VOWELS = frozenset("ăâêôơư")
_FINAL_CONSONANTS = frozenset({"", "c", "ch", "m", "n", "ng", "nh", "p", "t"})
_VIETNAMESE_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzăâđêôơư")

# Legacy encodings and some keyboards produce the Icelandic eth for Đ; they look identical.
_LOOKALIKES = str.maketrans({"\u00d0": "\u0110", "\u00f0": "\u0111"})

_WORD = re.compile(r"[^\W\d_]+")
_SYLLABLE = re.compile(r"[^\W_]+")


def normalize_text(text: str) -> str:
    """One spelling for the same Vietnamese text: NFC, no control or format characters
    (newline and tab kept), plain spaces, and the tone mark of every syllable on the
    vowel the traditional rule puts it on (hoà → hòa, thuỷ → thủy, Uỷ → Ủy, khoẻ → khỏe).

    Case and punctuation are kept. Idempotent. Not for text whose offsets matter.
    """
    if not text:
        return ""
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_LOOKALIKES)
    # Real text settles in one pass. Marks no Vietnamese syllable has (two tones, a breve and a
    # circumflex on one vowel: found by the fuzz tests) can shift once more when a tone moves,
    # so repeat until nothing changes: normalizing twice must change nothing.
    for _ in range(4):
        settled = _normalize_once(text)
        if settled == text:
            break
        text = settled
    return text


def _normalize_once(text: str) -> str:
    text = _clean_characters(unicodedata.normalize("NFD", text))
    text = unicodedata.normalize("NFC", _marks_in_vietnamese_order(text))
    return unicodedata.normalize("NFC", _WORD.sub(lambda m: _place_tone(m.group()), text))


def fold(text: str) -> str:
    """normalize_text, then casefold: the form two spellings of one word share."""
    return unicodedata.normalize("NFC", normalize_text(text).casefold())


def strip_diacritics(text: str) -> str:
    """Remove every diacritic (đ → d, Đ → D, ư → u, ế → e); case is kept."""
    text = unicodedata.normalize("NFD", text.translate(_LOOKALIKES))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", text.replace("đ", "d").replace("Đ", "D"))


# Very frequent function words only: BM25's IDF already discounts the rest, and every word
# dropped here is lost to phrase bigrams too. English words that are also Vietnamese
# syllables once diacritics are gone ("the" = thể in "giải thể", "to" = tổ in "tổ hợp tác",
# "it" = ít, "do" = đó, "an" = an ninh, "on" = ổn) are deliberately absent, and so are
# the unaccented forms of Vietnamese stopwords that collide with content words
# ("da" = đa, "thi" = thị trấn, "ma" = mã, "co" = cơ quan).
STOPWORDS = frozenset(
    {
        # Vietnamese, with diacritics
        "và", "của", "các", "là", "những", "được", "với", "thì", "mà", "đã", "ở",
        # Vietnamese, as typed without diacritics ("o" for ở costs the unaccented "Vĩnh Ô"
        # its second syllable, but "o vinh linh" is how questions start)
        "va", "cua", "cac", "la", "nhung", "duoc", "voi", "o",
        # English
        "of", "and", "or", "in", "is", "are", "was", "were", "for", "with", "from",
        "what", "which", "this", "that", "does", "did",
    }
)

# Bigrams stop at line and sentence ends: "… xã. Rà soát" is no phrase. A period inside a
# number ("2.1", "3.000") is not a sentence end.
_PHRASE_BREAK = re.compile(r"\n|[.;:!?…](?=\s|$)|[()\[\]{}]")


def tokenize(text: str) -> list[str]:
    """The BM25 tokens of a document or a question (one function for both sides).

    Syllables are runs of letters or digits, after folding; punctuation splits them, so
    "20-NQ/TW" gives "20", "nq", "tw". Each syllable yields itself and, when it differs,
    its loose form: no diacritics, final y spelled i ("tỷ" → "ti"), a two-digit number
    without its leading zero ("02" → "2"). Each also yields the loose bigram with the
    previous syllable of the same phrase ("hop_tac", "tac_xa"), so a question typed
    without diacritics meets the accented phrase. Stopwords are dropped; bigrams join the
    words on either side of them.
    """
    tokens: list[str] = []
    for segment in _PHRASE_BREAK.split(fold(text)):
        previous: str | None = None
        for syllable in _SYLLABLE.findall(segment):
            if syllable in STOPWORDS:
                continue
            loose = _loose_form(syllable)
            tokens.append(syllable)
            if loose != syllable:
                tokens.append(loose)
            if previous is not None:
                tokens.append(f"{previous}_{loose}")
            previous = loose
    return tokens


# A final "y" after a consonant is spelled "i" too (tỷ lệ / tỉ lệ, quy định / qui định,
# kỹ / kĩ); users without diacritics mostly type "ti le". Not "uy" (ủy ≠ ủi).
_FINAL_Y = re.compile(r"^(ngh|ng|nh|ch|gh|kh|ph|qu|th|tr|[bcdhklmnpqrstvx])y$")


@lru_cache(maxsize=65536)
def _loose_form(syllable: str) -> str:
    if len(syllable) == 2 and syllable[0] == "0" and syllable[1].isdigit():
        # Days and months are written both ways ("02/02/2023", "2/2/2023").
        return syllable[1]
    return _FINAL_Y.sub(r"\1i", strip_diacritics(syllable))


def _clean_characters(decomposed: str) -> str:
    # Fast path (most corpus text): isprintable() is False for every category dropped or
    # replaced below except the plain space, which stays a space.
    if decomposed.replace("\n", " ").replace("\t", " ").isprintable():
        return decomposed
    out = []
    for ch in decomposed:
        if ch in "\n\t":
            out.append(ch)
            continue
        category = unicodedata.category(ch)
        if category in ("Cc", "Cf", "Cs", "Co", "Cn"):
            # Zero-width and bidi marks come from copy-paste out of Word and PDFs; they
            # would split or glue words invisibly.
            continue
        if category in ("Zs", "Zl", "Zp"):
            out.append("\n" if category != "Zs" else " ")
            continue
        out.append(ch)
    return "".join(out)


def _marks_in_vietnamese_order(decomposed: str) -> str:
    """Put tone marks after vowel-quality marks on each letter.

    Unicode orders a circumflex and an acute (same combining class) as typed, so "e" +
    acute + circumflex would not compose into "ế"; Vietnamese only has the one letter.
    """
    # Fast path: nothing moves unless a tone mark is directly followed by another combining
    # mark (every combining mark is at U+0300 or above).
    if not any(unicodedata.combining(decomposed[m.end()]) for m in _TONE_BEFORE_HIGH.finditer(decomposed)):
        return decomposed
    out: list[str] = []
    pending_tones: list[str] = []
    for ch in decomposed:
        if unicodedata.combining(ch):
            (pending_tones if ch in _TONE_MARKS else out).append(ch)
            continue
        out.extend(pending_tones)
        pending_tones.clear()
        out.append(ch)
    out.extend(pending_tones)
    return "".join(out)


@lru_cache(maxsize=65536)
def _place_tone(word: str) -> str:
    """Move the tone mark of one syllable to its canonical vowel; anything that is not a
    single well-formed Vietnamese syllable with exactly one tone mark is left alone."""
    letters: list[str] = []      # lower-case letter with its quality mark, tone removed
    upper: list[bool] = []
    tone: str | None = None
    for ch in word:
        decomposed = unicodedata.normalize("NFD", ch)
        tones = [m for m in decomposed[1:] if m in _TONE_MARKS]
        if tones:
            if tone is not None or len(tones) > 1:
                return word
            tone = tones[0]
        base = decomposed[0] + "".join(m for m in decomposed[1:] if m not in _TONE_MARKS)
        letter = unicodedata.normalize("NFC", base).lower()
        if len(letter) != 1 or letter not in _VIETNAMESE_LETTERS:
            return word
        letters.append(letter)
        upper.append(ch.isupper())
    if tone is None:
        return word
    target = _tone_position("".join(letters))
    if target is None:
        return word
    out = []
    for i, letter in enumerate(letters):
        composed = unicodedata.normalize("NFC", letter + tone) if i == target else letter
        out.append(composed.upper() if upper[i] else composed)
    return "".join(out)


def _tone_position(syllable: str) -> int | None:
    """Index of the vowel that carries the tone, by the traditional (and most common in
    official documents) rule: hòa, thủy, khỏe, ủy, but hoàn, thuyết, người, khuỷu."""
    first = next((i for i, ch in enumerate(syllable) if ch in _VOWELS), None)
    if first is None:
        return None
    # "qu" and "gi" before another vowel are the initial consonant, not part of the rhyme:
    # quý, giá, giữ (but gì, gìn, where the i is the vowel).
    if syllable.startswith(("qu", "gi")) and first == 1 and len(syllable) > 2 and syllable[2] in _VOWELS:
        first = 2
    end = first
    while end < len(syllable) and syllable[end] in _VOWELS:
        end += 1
    nucleus = syllable[first:end]
    coda = syllable[end:]
    if coda not in _FINAL_CONSONANTS or len(nucleus) > 3:
        return None
    marked = [i for i, ch in enumerate(nucleus) if ch in _QUALITY_VOWELS]
    if marked:
        offset = marked[-1]                 # người, thuở, tuyến
    elif coda:
        offset = len(nucleus) - 1           # hoàn, toán, huỳnh
    elif len(nucleus) == 3:
        offset = 1                          # ngoài, khuỷu
    else:
        offset = 0                          # hòa, thủy, khỏe, mía, múa, cái
    return first + offset
