"""Restores Vietnamese diacritics in a question typed without them, from the corpus itself.

"giai the htx o vinh linh" means nothing to the embedder, which was trained on accented text;
"giải thể htx ở vĩnh linh" does. Each unaccented syllable is replaced by the accented form the
corpus uses most often in that context (a bigram model decoded left to right with a Viterbi
pass), so the restoration only ever produces words the documents contain.
"""
from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable

from index.normalize import fold, strip_diacritics

_WORD = re.compile(r"\w+", re.UNICODE)


# Question words officers type that policy documents rarely contain.
QUESTION_WORDS = (
    "ai nào gì đâu ở đâu khi nào bao giờ bao nhiêu mấy hạn chót thời hạn phụ trách chịu trách nhiệm "
    "làm gì thế nào như thế nào có phải không được không cần những gì gồm những gì là gì ở đâu"
)


# How officers chat, which no policy document writes: "còn ở Hà Tĩnh thì sao", "vậy còn quỹ",
# "thì ai làm". Formal text is full of "thị" (thị xã, thị trấn) and "ô" (ô nhiễm) and has
# hardly a "thì sao", so without these the restorer reads "thi sao" as "thị sao". Counted as
# if seen CHAT_WEIGHT times: a prior that the corpus' own bigrams still outvote.
CHAT_PHRASES = (
    "còn ở đâu thì sao. còn ở huyện thì sao. còn ở tỉnh thì sao. thế còn ở xã thì sao. vậy còn ở đó thì sao. "
    "và ở đây thì sao. ở đó thì ai làm. thì ai làm. thì ai chủ trì. thì cơ quan nào. thì khi nào. "
    "vậy thì sao. thế thì sao. còn nữa không. được không. phải không. có không. ở đâu vậy. ai vậy. sao vậy"
)
CHAT_WEIGHT = 5


class AccentRestorer:
    def __init__(self, texts: Iterable[str], places: Iterable[str] = ()) -> None:
        # Questions name a place after "ở"/"tại", which formal text rarely writes before it
        # ("huyện Vĩnh Linh"): one stray "ô Vĩnh" in a scan would otherwise win.
        asked_places = ". ".join(f"ở {place}. tại {place}" for place in places)
        texts = [QUESTION_WORDS, *[CHAT_PHRASES, asked_places] * CHAT_WEIGHT, *texts]
        self.unigrams: Counter[str] = Counter()
        self.bigrams: Counter[tuple[str, str]] = Counter()
        self.forms: dict[str, set[str]] = defaultdict(set)
        for text in texts:
            words = _WORD.findall(fold(text))
            self.unigrams.update(words)
            self.bigrams.update(zip(words, words[1:]))
        # Once per distinct word, not per occurrence: a large index repeats a few thousand words.
        for w in self.unigrams:
            self.forms[strip_diacritics(w)].add(w)
        self._total = sum(self.unigrams.values()) or 1

    def restore(self, text: str) -> str:
        """The text with each unaccented word replaced by its most likely accented form."""
        words = _WORD.findall(fold(text))
        if not words:
            return text
        candidates = [self._candidates(w) for w in words]
        # Viterbi over candidate forms with add-one smoothed bigram probabilities.
        best: list[dict[str, tuple[float, str | None]]] = []
        for i, options in enumerate(candidates):
            column: dict[str, tuple[float, str | None]] = {}
            for form in options:
                emit = math.log((self.unigrams[form] + 1) / self._total)
                if i == 0:
                    column[form] = (emit, None)
                    continue
                column[form] = max(
                    ((score + self._transition(prev, form), prev) for prev, (score, _) in best[-1].items()),
                    key=lambda t: t[0],
                )
            best.append(column)
        form = max(best[-1], key=lambda f: best[-1][f][0])
        out = [form]
        for i in range(len(best) - 1, 0, -1):
            form = best[i][form][1]
            out.append(form)
        return " ".join(reversed(out))

    def _candidates(self, word: str) -> list[str]:
        if strip_diacritics(word) != word:
            return [word]                    # already accented: the user's spelling wins
        forms = self.forms.get(word)
        return sorted(forms) if forms else [word]

    def _transition(self, prev: str, form: str) -> float:
        pair = self.bigrams[(prev, form)]
        return math.log((pair + 0.1) / (self.unigrams[prev] + 0.1 * len(self.unigrams))) + \
            math.log((self.unigrams[form] + 1) / self._total) * 0.5
