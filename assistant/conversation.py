"""Follow-up questions in a chat: "còn ở Hà Tĩnh thì sao?", "hạn chót?", "what about the fund?".

Each question is kept with what was understood from it: the intent cue as typed ("Ai phụ
trách"), the topic ("hướng dẫn thành lập HTX") and the locality. A short message that leans on
the previous one replaces only what it names and carries the rest over; a message with its own
topic stands alone and is not rewritten. The turns themselves are kept by chat_store.py.
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable

from pydantic import BaseModel, Field

from index.normalize import fold, normalize_text, strip_diacritics

from .abstain import ENGLISH_CHAT_WORDS
from .query import _DOCUMENT_NUMBER, _cue_patterns, _find_localities, _loose_regex, understand

# Markers that make a message lean on the previous one. Matched on the folded, unaccented text.
_FOLLOW_UP_START = re.compile(
    r"^(?:(?:the|vay|con|va)\s+con|con|va|the|vay|nhung|what about|how about|and(?: in| for| what about)?|also"
    r"|(?:and )?(?:the )?same(?: (?:q|question|thing|again))? (?:for|in|at))\b"
)
# "… thì sao?", "does Hà Tĩnh's plan say the same?", "ở Hà Tĩnh cũng vậy à?"
_FOLLOW_UP_END = re.compile(
    r"(?:thi sao|the nao|ra sao|nua|sao|thi|then|too|as well|also|(?:say|do|does|the) the same|the same|likewise"
    r"|tuong tu|cung vay|cung the|giong vay)\s*(?:a|ko|khong|not)?\s*[?.!]*\s*$"
)
# An acknowledgement before the message ("ok, and …", "got it. who's …", "Ừ, còn …") says the
# previous answer was read; the message starts after it ("it" in "got it" points at nothing).
# Matched on the folded, unaccented text, whose length is the message's.
_ACKNOWLEDGEMENT = re.compile(
    r"^\s*(?:ok(?:ay|e)?|got it|thanks?|thank you|i see|alright|understood|noted|cam on|u|vang|da|roi"
    # "à, thế …", "oh, and …"
    r"|a|ah|oh|o|uh|hmm)"
    r"(?:\s*[,.!:;]+\s*|\s+(?=(?:and|con|va|the|vay|nhung|what|who|whose|which|how)\b))"
)
# Words that open a new matter: what follows is a question of its own, asked in the chat's
# place, whatever its pronouns ("different thing: when co-ops widen their membership, what
# should that depend on?", "hỏi thêm: quỹ hỗ trợ do ai quản lý?").
_NEW_MATTER = re.compile(
    r"^(?:(?:a |one )?(?:different|other|another|separate|new|unrelated) (?:thing|question|matter|topic)"
    r"|unrelated|separately|one more thing|on another note|by the way|btw"
    r"|(?:hoi )?(?:chuyen|cau|viec|van de) khac|hoi them|hoi them cau nua|ngoai ra|mot cau khac)\s*[:,.;!-]*\s+"
)
_LOCALITY_PREPOSITIONS = r"(?:ở|tại|bên|của|cho|huyện|tỉnh|in|at|for|of)"
# A document named by kind alone ("what about Vĩnh Linh's plan?") is no topic of its own.
_DOCUMENT_NOUNS = re.compile(r"\b(?:ke hoach|cong van|van ban|plans?|letters?|documents?)\b")
# Question words: what a pronoun after them points at is not what they introduce.
_QUESTION_WORDS = {"who", "whom", "whose", "what", "which", "where", "when", "why", "how", "ai", "gi", "nao", "dau",
                   "sao", "bao"}
# Nouns that, pointed at with "này/đó/vậy", stand for the whole previous question: "việc này",
# "con số đó", "vụ này". Matched unaccented, where "nay"/"do" alone are too common to count.
# (Of them, a section or a figure is not the matter itself: see _MATTER_POINTED.)
_PLAIN_MATTER_WORDS = r"kieu|viec|vu|cai|dieu|diem|van de|noi dung|chuyen|khoan"
_SAME_NOUN_WORDS = rf"{_PLAIN_MATTER_WORDS}|muc|con so|so lieu|chi tieu|ty le"
_SAME_NOUNS = rf"(?:{_SAME_NOUN_WORDS})"
# Nouns for one matter the previous answer was about: "quỹ đó", "mô hình này". With its own
# words, a question pointing at one is still a question of its own ("phòng nào lo hướng dẫn HTX
# vay vốn quỹ đó?").
_MATTER_NOUNS = (rf"(?:{_SAME_NOUN_WORDS}|quy|nhiem vu|chinh sach|ke hoach|van ban|muc tieu|bao cao|mo hinh|yeu cau"
                 # the agency the previous answer named: "sở đó", "phòng này", "cơ quan đó"
                 r"|so|phong|co quan|don vi|nganh)")
# Words that say only "a figure": "đặt con số", "chỉ tiêu", "the target".
_FIGURE_WORDS = re.compile(
    r"\b(?:con số|chỉ tiêu|mục tiêu|số lượng|tỷ lệ|tỉ lệ|đặt ra|đặt|phấn đấu|con so|chi tieu|muc tieu|so luong|ty le"
    r"|ti le|dat ra|dat|phan dau|targets?|figures?|goals?|numbers?|sets?|aims?)\b")
# The matter itself pointed at: "quỹ đó", "vụ này". Not an office or a document ("phòng đó", "kế
# hoạch này"), nor a figure: who must reach "chỉ tiêu đó" is a clause of its own.
_MATTER_POINTED = rf"({_PLAIN_MATTER_WORDS}|quy|nhiem vu|chinh sach|mo hinh|yeu cau) (?:nay|do|ay)"
# "that fund", "this department": the English of _MATTER_NOUNS with a demonstrative.
_ENGLISH_POINTED = (r"\b(?:this|that|these|those|the same)(?: whole| entire)? (?:fund|task|duty|dut(?:y|ies)"
                    r"|polic(?:y|ies)|report|model|target|work|job|requirement|point|item|matter|department|office"
                    r"|agency|body|unit)s?\b"
                    # "those communes", "these unions": a plural demonstrative points back whatever its noun.
                    r"|\b(?:these|those) (?!(?:days|who|which|that)\b)[a-z]{3,}")
# "họ" typed without diacritics: only before a verb, since "ho" is also hỗ (trợ), hộ, hồ (sơ).
_THEY_PLAIN = r"\bho (?:phai|lam|can|se|duoc|co|da|lo|chiu|dat)\b"
# A bare classifier counts what was just named ("mỗi năm lập mới mấy cái?"); "làm vậy" is doing
# what was just named. Neither stands for words of the message itself.
_COUNTS_BACK = r"\b(?:may|bao nhieu) cai\b|\blam (?:nhu )?(?:vay|the)\b"
# Words that point back at what was just discussed: "who has to make sure of that?", "what
# does it treat as …?", "nhóm nhiệm vụ này phải xong khi nào?". Matched on the folded text.
_REFERS_BACK = re.compile(
    r"\b(?:it|its|them|they|their|ones)\b|\b(?:that|this)\s*[?.!]*\s*$"
    # "who's in charge of that at district level?": before a preposition, no determiner.
    r"|\b(?:that|this)\s+(?=(?:at|in|on|for|by|to|from|within|under|over|there|here)\b)"
    # "and by when is that supposed to be done?": a question's verb before it makes it the subject.
    r"|\b(?:is|was|are|were|does|did|will|would|should|can|could|has|must)\s+(?:that|this)\b(?!\s+(?:the|a|an)\b)"
    # "họ" is "they".
    rf"|\bhọ\b|{_THEY_PLAIN}"
    r"|\b(?:này|đó|ấy)\b"
    rf"|\b{_MATTER_NOUNS} (?:nay|do|ay)\b|{_ENGLISH_POINTED}"
    rf"|{_COUNTS_BACK}"
)
# A message that opens with a preposition and a question word finishes the previous question:
# "to which production standards?", "with whom?", "under what rules?".
_CONTINUES = re.compile(r"^\s*(?:to|for|with|by|from|under|through|via|against|according to)\s+(?:which|what|whom)\b")
# "ở huyện đó", "bên đó", "tỉnh này": the chat's place again, not the matter asked about.
_THE_PLACE_AGAIN = re.compile(
    r"\b(?:(?:ở|tại|bên|o|tai|ben)\s+(?:(?:huyện|tỉnh|xã|địa phương|địa bàn|huyen|tinh|xa|dia phuong|dia ban)\s+)?"
    r"|(?:huyện|tỉnh|địa phương|địa bàn|huyen|tinh|dia phuong|dia ban)\s+)(?:này|đó|ấy|nay|do|ay)\b")
# A pronoun that says or mentions, or that a question is asked under, stands for the document,
# not for what was asked about: "does it say anything to the districts about cutting red tape?"
# is a question of its own about it.
_THIS_DOCUMENT = r"(?:kế hoạch|văn bản|công văn|ke hoach|van ban|cong van)\s+(?:này|đó|ấy|nay|do|ay)"
_DOCUMENT_SPEAKS = re.compile(
    r"\b(?:it|they)\s+(?:says?|mentions?|talks?|covers?|lists?|includes?|requires?|asks?)\b"
    # "under that one, when do departments have to send in their yearly results?"
    rf"|\b(?:under|according to|theo)\s+(?:it|that|this|that one|this one|the same one|{_THIS_DOCUMENT})\b"
    rf"|\b(?:nó|no|{_THIS_DOCUMENT})\s+(?:có\s+|co\s+)?(?:nói|nhắc|đề cập|nêu|noi|nhac|de cap|neu)\b"
)
# A demonstrative that points at what was just discussed ("quỹ này", "that fund"): a question of
# its own about another place with one asks about the same matter there.
_POINTS_BACK = re.compile(
    r"\b(?:này|đó|ấy)\b"
    rf"|\b{_MATTER_NOUNS} (?:nay|do|ay)\b"
    rf"|{_ENGLISH_POINTED}"
)
# Words that say "the same as before": with another place named, the message asks the previous
# question there ("Bên Vĩnh Linh việc này do đơn vị nào đảm nhận?", "vinh linh co dat yeu cau
# tuong tu ko", "Is there something like that in Hà Tĩnh's plan?", "Vĩnh Linh have anything on that?",
# "same thing in Ha Tinh - who's on the hook there?").
_LIKE_BEFORE = re.compile(
    r"\b(?:tuong tu|nhu vay|nhu the|giong (?:vay|the|nhu)|co khac|khac (?:khong|gi)"
    rf"|{_SAME_NOUNS} (?:nay|do|vay)"
    r"|like (?:that|this)|similar|the same|same (?:q|question|thing)|differently|that one|equivalent|counterpart"
    # "how does Vinh Linh compare on that?", "how does that compare with Vinh Linh's target?"
    r"|compar(?:e|es|ed|ing)|(?:so sanh|khac) (?:voi|the nao|ra sao)"
    r"|(?:anything|something) (?:on|about|like) (?:that|this|it)"
    r"|(?:word|put|say|phrase|treat|handle|cover)s? (?:it|that|this))\b"
)
# A question word of no intent of its own ("what should …", "… là gì?") still makes a question.
# So does one after the thing it asks about: "and the Department of Home Affairs, what's its job?".
_OWN_QUESTION = re.compile(r"^(?:what|how|which|where|why)\b|[,;:–—-]\s*(?:what|who|whose|which|how|when|where)\b"
                           r"|\b(?:gi|dau)\s*\?*$")
# What puts a question under a document: "theo Kế hoạch 67", "under Plan 67", "Vĩnh Linh's Plan 67".
_SOURCE_LEAD = re.compile(r"(?:\b(?:theo|under|according to|in|tai)|['’]s)\s+(?:[\w-]+\s+){0,2}$")
# Words before a phrase that stands in for one of the previous question's: "and at provincial level?".
_CONTRAST_LEADS = r"(?:ở|tại|cho|với|về|trong|in|at|for|on|by|to|of|the)"
# The verb that belongs to a who-cue: "Ai phụ trách", "Who handles".
_WHO_VERB = re.compile(r"(?:phụ trách|chủ trì|chịu trách nhiệm|phu trach|chu tri|handles?|leads?|is responsible for)",
                       re.IGNORECASE)
# Words that carry no topic on their own, by language: "to" is English filler but, typed
# without diacritics, Vietnamese "tổ" ("to chuc" = tổ chức), so the lists stay apart.
_FILLER_VI = set(
    "còn thế vậy và thì sao nào nữa là gì ở tại bên của cho với huyện tỉnh những các cái đó này ấy nhỉ nhé ạ ơi "
    "phải cần sẽ đã được không ko họ".split()
)
_FILLER_EN = set(
    "the a an in at for of and what about how is are was were do does did be to on by then too also "
    "should must will has have what's about? district province city over".split()
)
# Unaccented, some Vietnamese fillers are content words too: the (thể), do, da (đa), can (cán), tai (tài),
# ho (hỗ).
_FILLER_VI_PLAIN = {strip_diacritics(w) for w in _FILLER_VI} - {"the", "do", "da", "can", "tai", "ho"}


class Turn(BaseModel):
    question: str                 # as typed
    understood: str               # the standalone question that was answered
    cue: str = ""                 # the intent words as typed: "Ai phụ trách", "Who handles"
    topic: str = ""               # "hướng dẫn thành lập HTX"
    locality: str | None = None
    intent: str = "general"
    language: str = "vi"
    doc_ids: list[str] = Field(default_factory=list)     # documents cited in the answer
    chunk_ids: list[str] = Field(default_factory=list)   # clauses cited in the answer, best first
    at: float = Field(default_factory=time.time)

    @property
    def plain(self) -> bool:
        """Vietnamese typed without diacritics ("ai phu trach giai the htx")."""
        return self.language == "vi" and strip_diacritics(self.understood) == self.understood


# How a message relates to the previous one.
KINDS = (
    "standalone",   # asked as typed
    "place",        # its own question, asked about the chat's place ("mỗi năm lập mới bao nhiêu?")
    "question",     # its own question after a marker ("thế còn ai chủ trì quỹ?")
    "intent",       # a new question word about the previous topic ("hạn chót?", "ai chủ trì?")
    "topic",        # the previous question about a new topic ("còn quỹ hỗ trợ thì sao?")
    "locality",     # the previous question in another place ("còn ở Hà Tĩnh thì sao?")
)


class Rewrite(BaseModel):
    question: str                 # what to answer
    rewritten: bool               # False when the message stood on its own
    turn: Turn                    # what was understood, to remember after answering
    kind: str = "standalone"      # one of KINDS
    # What the message adds of its own, without cue, markers, places or documents: "đăng ký kết
    # hôn" in "còn đăng ký kết hôn thì sao?"; empty for a bare fragment ("hạn chót?").
    own_topic: str = ""


def analyse(message: str, known_localities: list[str]) -> Turn:
    """Split a question into cue, topic and locality."""
    query = understand(normalize_text(message).strip(), known_localities)
    text = query.original          # chat shorthand spelled out: "thi bn" → "thi bao nhieu"
    localities, spans = _find_localities(text, known_localities)
    # "and in Vĩnh Linh's Plan 67?" names a place and a document, no topic.
    spans = [(start, end + len(m.group())) if (m := re.match(r"(?:\s+(?:district|province))?['’]s\b", text[end:]))
             else (start, end) for start, end in spans]
    cue_span, question_words = _cues(text)
    masked = list(text)
    for start, end in spans + question_words + _marker_spans(text):
        masked[start:end] = " " * (end - start)
    plain = query.language == "vi" and not query.has_diacritics
    topic = _clean_topic("".join(masked), _fillers(query.language, plain))
    cue = text[cue_span[0]:cue_span[1]] if cue_span else ""
    return Turn(question=text, understood=text, cue=cue, topic=topic,
                locality=localities[0] if localities else None, intent=query.intent, language=query.language)


def rewrite(message: str, previous: Turn | None, known_localities: list[str],
            restore: Callable[[str], str] | None = None) -> Rewrite:
    said = _without_acknowledgement(message) if previous is not None else message
    turn = analyse(said, known_localities)
    if said != message:
        # "ok and co-op unions?": the whole message, with more words, tells its language better.
        turn.language = understand(normalize_text(message)).language
    result = _rewrite(turn, previous, known_localities, restore)
    fillers = _fillers(turn.language, turn.plain)
    result.own_topic = " ".join(w for w in re.findall(r"[\w'’-]+", _without_documents(turn.topic))
                                if fold(w) not in fillers)
    return result


def _rewrite(turn: Turn, previous: Turn | None, known_localities: list[str],
             restore: Callable[[str], str] | None = None) -> Rewrite:
    """The standalone question a follow-up stands for, carrying over what it does not replace.

    The question keeps the user's style: the retriever restores diacritics only in a question
    that has none at all, so a place name is written without them in a question typed without
    them. Where words of an unaccented turn meet words of an accented one, `restore` (the
    retriever's `AccentRestorer`) gives the unaccented ones diacritics; without it the accented
    ones lose theirs."""
    if previous is None:
        return Rewrite(question=turn.question, rewritten=False, turn=turn)
    new_matter = _NEW_MATTER.match(strip_diacritics(fold(turn.question)))
    if new_matter:
        return _new_matter(turn.question[new_matter.end():], previous, known_localities)
    folded = strip_diacritics(fold(turn.question))
    marked = bool(_FOLLOW_UP_START.search(folded) or _FOLLOW_UP_END.search(folded))
    fillers = _fillers(turn.language, turn.plain)
    # "hạn chót báo cáo là khi nào?" names a topic too thin to stand without the previous one.
    # "and in Vĩnh Linh's Plan 67?" names a document, which is no topic of its own.
    topic = _without_documents(turn.topic)
    if turn.intent == previous.intent == "how_many":
        # "Còn Kiên Giang đặt con số bao nhiêu?": after a figure was asked for, words that only say
        # "a figure" name no matter of their own.
        topic = _FIGURE_WORDS.sub(" ", fold(topic))
    content = _content_words(topic, fillers)
    # "Also, who manages the fund in Hà Tĩnh?": a question word and a topic of two words or more,
    # in a new place, ask a question of their own ("còn ở Quảng Nam thì giao ai?" does not).
    elsewhere = bool(turn.locality and previous and previous.locality and fold(turn.locality) != fold(previous.locality))
    has_topic = content > 2 or (content > 0 and not turn.cue) or (elsewhere and content > 1)
    # Only words that say so: "their" in "In Hà Tĩnh, who helps cooperatives register their
    # members?" belongs to a question of its own.
    if elsewhere and _LIKE_BEFORE.search(folded):
        return _in_another_place(turn, previous, turn.locality)
    said_own_matter = has_topic
    refers_back = has_topic and not turn.locality and _refers_back(turn.question)
    if has_topic and elsewhere and _place_then_question(turn.question, turn.locality):
        # "bên Hà Tĩnh thì sao, cũng sở đó à?": the same matter, in the place named first.
        refers_back = True
    if refers_back:
        # "who has to make sure of that?": words of its own, about the previous topic.
        has_topic = False
    if has_topic and not marked:
        # A question with its own topic stands alone when it says where or which document;
        # otherwise it is asked about the place the chat is about ("mỗi năm phải lập mới bao nhiêu?").
        if turn.locality or not previous.locality or understand(turn.question).document_numbers:
            return Rewrite(question=turn.question, rewritten=False, turn=turn)
        return _rewritten(turn.model_copy(update={"locality": previous.locality}), "place", _with_document(
            _replace_locality(turn.question, None, previous.locality, turn.language, turn.plain), previous, turn))
    if not (has_topic or turn.cue or turn.locality or refers_back):
        return Rewrite(question=turn.question, rewritten=False, turn=turn)

    locality = turn.locality or previous.locality
    merged = previous.model_copy(update={
        "question": turn.question,
        "topic": turn.topic if has_topic else previous.topic,
        "locality": locality,
        "doc_ids": [],
        "chunk_ids": [],
        "at": turn.at,
    })
    if has_topic and (turn.cue or _OWN_QUESTION.search(strip_diacritics(fold(_without_markers(turn.question))))):
        # "thế còn Kiên Giang, mục tiêu có mấy liên hiệp HTX?", "and what should the collective
        # economy become?": a question of its own after a marker keeps its own wording; only
        # the marker goes and the place carries over.
        merged.cue, merged.intent, merged.language = turn.cue, turn.intent, turn.language
        own = _without_markers(turn.question)
        if not turn.locality and locality:
            own = _replace_locality(own, None, locality, turn.language, turn.plain)
        return _rewritten(merged, "question", _with_document(own, previous, turn))
    # "what about Vinh Linh district's target?" after a target in Kiên Giang: the same question there.
    same_question_elsewhere = elsewhere and not said_own_matter and turn.intent == previous.intent
    if not (turn.cue or has_topic or refers_back) or same_question_elsewhere:
        return _in_another_place(turn, previous, locality)

    # The rest joins words of both turns, so both are brought to one style first.
    style = _Style(turn, previous, restore)
    swapped = None if turn.cue or refers_back or turn.locality else _swap_contrast(previous.understood, turn)
    if swapped:
        # "and at provincial level?" after "… at district level?": the previous question
        # again, about the other level (year, office, …).
        old_phrase, new_phrase = swapped
        new_phrase = style.of_turn(new_phrase)
        merged.topic = previous.topic.replace(old_phrase, new_phrase)
        return _rewritten(merged, "topic", style.of_previous(previous.understood).replace(
            style.of_previous(old_phrase), new_phrase, 1))
    if turn.cue or refers_back:
        # "hạn chót là khi nào?", "ai chủ trì?": the fragment asks about the previous topic.
        merged.cue, merged.intent = turn.cue, turn.intent
        where = _where(locality, previous.language, style.plain) if locality else ""
        topic = style.of_previous(previous.topic)
        if locality != previous.locality:
            # "vinh linh thi bn" after Kiên Giang's Plan 251: that number means nothing there.
            topic = _without_document_numbers(topic)
        fragment = _without_markers(turn.question)
        if turn.locality:
            # "Bên Vĩnh Linh họ đặt bao nhiêu phần trăm?": the place is said once, in `where`.
            fragment = _without_markers(_without_place(fragment, turn.locality))
            # "kien giang thi sao, ho dat muc bn": what asks starts after the place's "thì sao,".
            fragment = re.sub(r"^(?:(?:thì|thi) sao|thì|thi|then)?\s*[,:;–—-]\s*", "", fragment, flags=re.IGNORECASE)
        fragment = style.of_turn(fragment)
        return _rewritten(merged, "intent", f"{_capitalize(topic)}{where}: {fragment}")
    # "còn quỹ hỗ trợ thì sao?": the same kind of question about another topic. A bare
    # "ai"/"phòng nào"/"who" took its verb from the old topic, so it gets a neutral one.
    if merged.intent == "who" and not _WHO_VERB.search(merged.cue):
        merged.cue += " handles" if merged.language == "en" else " phụ trách"
    merged.cue, merged.topic = style.of_previous(merged.cue), style.of_turn(merged.topic)
    return _rewritten(merged, "topic", render(merged, style.plain))


def accept_model_rewrite(candidate: str, message: str, rule: Rewrite, earlier: list[Turn],
                         known_localities: list[str]) -> Rewrite | None:
    """A language model's rewrite of `message`, when it keeps to the chat: every place the
    message names is still in it, and it names no place the chat never mentioned. None
    otherwise, and the rule-based `rule` stands."""
    named = set(_find_localities(message, known_localities)[0])
    mentioned = named | {place for t in earlier for place in _find_localities(t.understood, known_localities)[0]}
    places = set(_find_localities(candidate, known_localities)[0])
    if not named <= places or not places <= mentioned:
        return None
    turn = analyse(candidate, known_localities)
    turn.question = normalize_text(message).strip()
    if fold(candidate).strip(" ?") == fold(turn.question).strip(" ?"):
        return Rewrite(question=turn.question, rewritten=False, turn=turn)
    # The rules still say how the message relates to the previous one ("the same, elsewhere").
    return Rewrite(question=candidate, rewritten=True, turn=turn, kind=rule.kind if rule.rewritten else "question")


class _Style:
    """Diacritics for a question made of two turns' words: with them when either turn has
    them and they can be restored, else without."""

    def __init__(self, turn: Turn, previous: Turn, restore: Callable[[str], str] | None) -> None:
        mixed = turn.plain != previous.plain and "en" not in (turn.language, previous.language)
        self.turn_plain, self.previous_plain = turn.plain, previous.plain
        self.restore = restore
        self.plain = (turn.plain and previous.plain) or (mixed and restore is None)

    def _to(self, text: str, plain_now: bool) -> str:
        if self.plain:
            return strip_diacritics(text)
        return _restore_words(text, self.restore) if plain_now and self.restore else text

    def of_turn(self, text: str) -> str:
        return self._to(text, self.turn_plain)

    def of_previous(self, text: str) -> str:
        return self._to(text, self.previous_plain)


def _new_matter(question: str, previous: Turn, known_localities: list[str]) -> Rewrite:
    """"different thing: …": the question as typed, in the chat's place and document unless it
    names its own."""
    turn = analyse(question, known_localities)
    if turn.locality or not previous.locality or understand(turn.question).document_numbers:
        return Rewrite(question=turn.question, rewritten=False, turn=turn)
    turn.locality = previous.locality
    return _rewritten(turn, "question", _with_document(
        _replace_locality(turn.question, None, previous.locality, turn.language, turn.plain), previous, turn))


def _in_another_place(turn: Turn, previous: Turn, locality: str | None) -> Rewrite:
    """"còn ở Hà Tĩnh thì sao?": the previous question, asked about another place (and in
    another document, when one is named: "and in Vĩnh Linh's Plan 67?")."""
    merged = previous.model_copy(update={"question": turn.question, "locality": locality, "doc_ids": [],
                                         "chunk_ids": [], "at": turn.at})
    question = _replace_locality(previous.understood, previous.locality, locality, previous.language, previous.plain)
    numbers = understand(turn.question).document_numbers
    if not numbers and locality != previous.locality:
        # The previous place's plan number means nothing in another place.
        question, merged.topic = _without_document_numbers(question), _without_document_numbers(merged.topic)
    return _rewritten(merged, "locality", _replace_documents(question, numbers))


def _rewritten(turn: Turn, kind: str, understood: str) -> Rewrite:
    turn.understood = understood
    return Rewrite(question=understood, rewritten=True, turn=turn, kind=kind)


def render(turn: Turn, plain: bool = False) -> str:
    """A full question from its parts, in the turn's language (and style)."""
    cue = turn.cue or ("What about" if turn.language == "en" else "")
    where = _where(turn.locality, turn.language, plain) if turn.locality else ""
    sentence = " ".join(part for part in (cue, turn.topic) if part) + where
    sentence = re.sub(r"\s+", " ", sentence).strip(" ?")
    return (_capitalize(sentence) + "?") if sentence else turn.question


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


def _where(locality: str, language: str, plain: bool) -> str:
    if language == "en":
        return f" in {locality}"
    return f" o {strip_diacritics(locality)}" if plain else f" ở {locality}"


def _replace_locality(question: str, old: str | None, new: str, language: str, plain: bool = False) -> str:
    name = strip_diacritics(new) if plain else new
    if old:
        replaced, n = _loose_regex(old).subn(name, question, count=1)
        if n:
            return replaced
    return question.rstrip(" ?") + _where(new, language, plain) + "?"


def _without_place(text: str, locality: str) -> str:
    """`text` without where it names `locality` ("bên Vĩnh Linh", "over in Ha Tinh's")."""
    plain = strip_diacritics(fold(text))
    if len(plain) != len(text):
        return text
    lead, place = strip_diacritics(_LOCALITY_PREPOSITIONS), _loose_regex(strip_diacritics(locality)).pattern
    found = re.search(rf"(?:\b(?:over\s+)?{lead}\s+)*{place}(?:['’]s)?[,:;]?", plain, re.IGNORECASE)
    return text[:found.start()] + " " + text[found.end():] if found else text


def _restore_words(text: str, restore: Callable[[str], str]) -> str:
    """`text` with its unaccented words given the corpus's diacritics; case and punctuation kept."""
    words = list(re.finditer(r"\w+", text))
    restored = restore(text).split()
    if len(restored) != len(words):
        return text
    out, last = [], 0
    for match, new in zip(words, restored):
        old = match.group()
        if strip_diacritics(old) != old or strip_diacritics(new).casefold() != old.casefold():
            new = old                          # accented already, or not a restoration of it
        elif old.isupper() and len(old) > 1:
            new = new.upper()
        elif old[:1].isupper():
            new = _capitalize(new)
        out += [text[last:match.start()], new]
        last = match.end()
    return "".join(out) + text[last:]


def _without_documents(text: str) -> str:
    """`text` without the documents it names ("Plan 67", "Kế hoạch 67-KH/HU", "the plan")."""
    for start, end in reversed(_document_names(text)):
        text = text[:start] + " " + text[end:]
    plain = strip_diacritics(fold(text))
    if len(plain) == len(text):
        for m in reversed(list(_DOCUMENT_NOUNS.finditer(plain))):
            text = text[:m.start()] + " " + text[m.end():]
    return text


def _document_names(text: str, source_only: bool = False) -> list[tuple[int, int]]:
    """Where `text` names a document, with its sign ("Plan 67-KH/HU", "Kế hoạch 251"); with
    `source_only`, those it is asked under ("theo …", "under …", "according to …", "X's …")."""
    folded = strip_diacritics(fold(text))
    if len(folded) != len(text):
        return []
    return [(m.start(), _sign_end(folded, m)) for m in _DOCUMENT_NUMBER.finditer(folded)
            if not source_only or _SOURCE_LEAD.search(folded[max(0, m.start() - 30):m.start()])]


def _with_document(question: str, previous: Turn, turn: Turn) -> str:
    """`question` asked of the document the previous question named ("Plan 67-KH/HU"), when
    it names none itself and stays in the same place."""
    if turn.locality not in (None, previous.locality) or _document_names(turn.question) \
            or understand(turn.question).document_kinds:
        return question
    # Only the document the question was asked under: "Nghị quyết 20" in "tuyên truyền Nghị
    # quyết 20" is what it is about, not where the answer is.
    named = _document_names(previous.understood, source_only=True)
    if len(named) != 1:
        return question
    lead = "under" if turn.language == "en" else "theo"
    document = previous.understood[named[0][0]:named[0][1]]
    document = strip_diacritics(document) if turn.plain else document
    return f"{question.rstrip(' ?')} {lead} {document}?"


def _without_document_numbers(text: str) -> str:
    """`text` with the numbers of the documents it names left out: "Under Vĩnh Linh's Plan"."""
    folded = strip_diacritics(fold(text))
    if len(folded) != len(text):
        return text
    for m in reversed(list(_DOCUMENT_NUMBER.finditer(folded))):
        start = m.start(1) if m.group(1) else m.start(2)
        text = text[:start].rstrip() + text[_sign_end(folded, m):]
    return text


def _sign_end(folded: str, match: re.Match) -> int:
    """Where a document's number ends with its sign: "67-KH/HU", not "67"."""
    return match.end() + len(re.match(r"(?:[-/][a-z]+)*", folded[match.end():]).group())


def _replace_documents(question: str, numbers: list[str]) -> str:
    """`question` with the number of the document it names swapped for the one named now."""
    folded = strip_diacritics(fold(question))
    if len(numbers) != 1 or len(folded) != len(question):
        return question
    for m in reversed(list(_DOCUMENT_NUMBER.finditer(folded))):
        group = 1 if m.group(1) else 2
        question = question[:m.start(group)] + numbers[0] + question[m.end(group):]
    return question


def _swap_contrast(question: str, turn: Turn) -> tuple[str, str] | None:
    """The phrase of `question` that the follow-up's own phrase stands in for, and that phrase:
    "cấp tỉnh" for "cấp huyện", "provincial level" for "district level" (the same head word,
    first in Vietnamese and last in English, with new modifiers), "2030" for "2025". None
    unless exactly one phrase of the question fits."""
    phrase = re.sub(rf"^(?:{_CONTRAST_LEADS}\s+)+", "", _without_markers(turn.question).rstrip("?").strip(),
                    flags=re.IGNORECASE)
    words = list(re.finditer(r"\w+", phrase))
    if not 1 <= len(words) <= 3 or phrase[words[-1].end():].strip():
        return None
    key = [strip_diacritics(fold(w.group())) for w in words]
    head = -1 if turn.language == "en" else 0
    asked = list(re.finditer(r"\w+", question))
    known = {strip_diacritics(fold(w.group())) for w in asked}
    spots = []
    for i in range(len(asked) - len(key) + 1):
        window = asked[i:i + len(key)]
        old = [strip_diacritics(fold(w.group())) for w in window]
        if old == key:
            return None                        # the phrase is in the question already
        if len(key) == 1:
            fits = key[0].isdigit() and old[0].isdigit() and len(key[0]) == len(old[0])
        else:
            fits = old[head] == key[head] and all(k not in known for k, o in zip(key, old) if k != o)
        if fits:
            spots.append(question[window[0].start():window[-1].end()])
    return (spots[0], phrase[words[0].start():]) if len(spots) == 1 else None


def _without_acknowledgement(message: str) -> str:
    folded = strip_diacritics(fold(message))
    found = _ACKNOWLEDGEMENT.match(folded) if len(folded) == len(message) else None
    rest = message[found.end():] if found else message
    return rest if rest.strip() else message


def points_back(text: str) -> bool:
    """Whether `text` points at what was just discussed with a demonstrative ("quỹ này")."""
    folded = fold(text)
    return bool(_POINTS_BACK.search(folded) or _POINTS_BACK.search(strip_diacritics(folded)))


def _refers_back(text: str) -> bool:
    if _CONTINUES.match(strip_diacritics(fold(_without_markers(text)))):
        return True
    folded = _DOCUMENT_SPEAKS.sub(lambda m: "_" * len(m.group()), fold(text))
    folded = _THE_PLACE_AGAIN.sub(lambda m: "_" * len(m.group()), folded)
    plain = strip_diacritics(folded)
    pointer = _REFERS_BACK.search(folded) or _REFERS_BACK.search(plain)
    if pointer is None:
        return False
    if re.fullmatch(_COUNTS_BACK, strip_diacritics(pointer.group())):
        return True
    # "what about the Standing Board members — what are they responsible for?": the pronoun
    # points at what the marker introduced, not back at the previous question.
    # A possessive belongs to what the question itself names before it: "when do departments and
    # districts have to send in their yearly results?"
    marker = _FOLLOW_UP_START.search(plain)
    possessive = pointer.group() in ("their", "its")
    start = marker.end() if marker else (0 if possessive else None)
    introduced = plain[start:pointer.start()] if start is not None and len(plain) == len(folded) else ""
    # A matter with a demonstrative is one said before ("thế khi quản lý mấy quỹ đó thì họ phối
    # hợp với ai?"), unless the message named it first ("còn quỹ hỗ trợ, ai quản lý quỹ đó?").
    # An office or a document pointed at ("phòng đó", "kế hoạch này") is no matter asked about.
    matter = re.search(rf"\b{_MATTER_POINTED}$", plain[:pointer.end()]) if introduced else None
    if matter and not re.search(rf"\b{matter.group(1)}\b", plain[start:matter.start()]):
        return True
    # "and what exactly are they meant to set up?": a chat word introduces nothing.
    return not any(w not in _FILLER_EN and w not in _FILLER_VI_PLAIN and w not in _QUESTION_WORDS
                   and w not in ENGLISH_CHAT_WORDS for w in re.findall(r"\w\w+", introduced))


# What may come before and after a place named first: "what about (down in) Vinh Linh district,",
# "còn bên Kiên Giang thì sao,".
_PLACE_LEADS = {"and", "but", "so", "ok", "okay", "what", "about", "how", "con", "the", "va", "vay", "nhung", "ben",
                "o", "tai", "in", "over", "down", "at", "for", "huyen", "tinh"}
_PLACE_THEN = re.compile(r"^(?:\s*(?:district|province|huyen|tinh|thi sao|thi|then|['’]s))*\s*[,:;–—-]\s*\w")


def _place_then_question(text: str, locality: str) -> bool:
    """Whether `text` names `locality` first, alone, and then asks (after a comma or dash)."""
    folded = fold(text)
    plain = strip_diacritics(folded)
    found = _loose_regex(strip_diacritics(locality)).search(plain)
    if found is None or len(plain) != len(folded):
        return False
    lead = re.findall(r"\w+", plain[:found.start()])
    then = _PLACE_THEN.match(plain[found.end():])
    if not (len(lead) <= 4 and all(w in _PLACE_LEADS for w in lead) and then):
        return False
    # Only what points back is about the same matter: "…, which system must co-ops be registered on?"
    # is a question of its own.
    asked = folded[found.end() + then.end() - 1:]
    return bool(re.search(rf"\b(?:that|this|those|these|đó|này|ấy|họ)\b|{_THEY_PLAIN}", asked))


def _marker_spans(text: str) -> list[tuple[int, int]]:
    """Where "còn … thì sao" and its kin sit in `text`; folding keeps the length, so the
    spans found on the folded text are spans of `text`."""
    folded = strip_diacritics(fold(text))
    if len(folded) != len(text):
        return []
    return [m.span() for m in (_FOLLOW_UP_START.search(folded), _FOLLOW_UP_END.search(folded)) if m]


def _without_markers(text: str) -> str:
    for start, end in sorted(_marker_spans(text), reverse=True):
        text = text[:start] + text[end:]
    return re.sub(r"\s+", " ", text).strip(" ,?.!") + "?"


def _cues(text: str) -> tuple[tuple[int, int] | None, list[tuple[int, int]]]:
    """The intent cue with the verb that belongs to it ("Ai phụ trách", "Who handles"), and
    every run of cues holding a question word. The cue is the first such run, else the first
    run. Other cue words ("chủ trì" in "Phòng nào ở Vĩnh Linh chủ trì tham mưu …") belong to
    the topic; other question words ("khi nào" after "hạn chót") do not."""
    spans = []
    for _, strong, pattern in _cue_patterns():
        for m in pattern.finditer(text):
            # "Who's behind …": the contraction belongs to the question word.
            end = m.end() + len(re.match(r"(?:['’](?:s|re)\b)?", text[m.end():]).group())
            tail = re.match(rf"\s+(?:{_WHO_VERB.pattern}|là)\b", text[end:], re.IGNORECASE)
            spans.append((m.start(), end + (tail.end() if tail else 0), strong))
    spans.sort()
    runs: list[list] = []
    for start, end, strong in spans:
        if runs and start <= runs[-1][1] + 1:
            runs[-1][1] = max(end, runs[-1][1])
            runs[-1][2] = runs[-1][2] or strong
        else:
            runs.append([start, end, strong])
    if not runs:
        return None, []
    main = next((run for run in runs if run[2]), runs[0])
    return (main[0], main[1]), [(start, end) for start, end, strong in runs if strong or start == main[0]]


def _fillers(language: str, plain: bool) -> set[str]:
    if language == "en":
        return _FILLER_EN
    return _FILLER_VI_PLAIN if plain else {fold(w) for w in _FILLER_VI}


def _clean_topic(text: str, fillers: set[str]) -> str:
    words = re.findall(r"[\w&/.-]+(?:['’]\w+)*", text)
    # Drop fillers at the edges; inside the topic they may matter ("quỹ của HTX").
    while words and fold(words[0]) in fillers:
        words.pop(0)
    # "cấp tỉnh", "cấp huyện": a level, not the place word left from "ở huyện Vĩnh Linh".
    while words and fold(words[-1]) in fillers and not (len(words) > 1 and strip_diacritics(fold(words[-2])) == "cap"):
        words.pop()
    topic = " ".join(words)
    return re.sub(rf"(?<!cấp)(?<!cap)\s+{_LOCALITY_PREPOSITIONS}$", "", topic, flags=re.IGNORECASE).strip()


def _content_words(text: str, fillers: set[str]) -> int:
    return sum(1 for w in re.findall(r"\w+", text) if fold(w) not in fillers)


__all__ = ["KINDS", "Turn", "Rewrite", "accept_model_rewrite", "analyse", "points_back", "rewrite", "render"]
