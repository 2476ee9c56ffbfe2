"""The Python API: everything the CLI, the web endpoint and the Telegram bot can do.

    from assistant import Assistant
    bot = Assistant.open()                 # the index named by HTX_INDEX_DIR / HTX_CHROMA_URL
    answer = bot.ask("Ai phụ trách giải thể HTX ở Vĩnh Linh?")
    answer.citations[0].clause_label       # "mục 3.2"
"""
from __future__ import annotations

import re
import threading
import unicodedata
from pathlib import Path

from pydantic import BaseModel, Field

from index.embedders import load_embedder
from index.models import Document, DocumentMeta
from index.normalize import fold, strip_diacritics, tokenize
from index.settings import Settings, get_settings
from index.store import IndexStore

from .abstain import OFF_TOPIC, OTHER_PLACE, WEAK_EVIDENCE, Verdict, coverage_message
from .answer import AnswerKit
from .extract import best_deadline, split_bullets, strip_number
from .llm import Rewriter, with_generation
from .chat_store import ConversationStore
from .conversation import Rewrite, Turn, accept_model_rewrite, points_back
from .conversation import rewrite as rewrite_follow_up
from .models import Answer, Citation, Filters, Hit, QuestionError
from .query import Query
from .retrieval import ANSWER_KINDS, HybridRetriever
from .tasks import Task, enclosing_deadline, filter_tasks, same_body

CONVERSATIONS_FILE = "conversations.sqlite"
# A follow-up's own ranking is fused with its example's (see _with_example) by relative score:
# each score divided by its list's best, then summed. A clear lead in one list (an example that
# matches one clause far better than the next) then outweighs a flat ranking in the other, which
# reciprocal-rank fusion (k=60) could not tell apart: over the 124 conversations of
# evals/conversations.jsonl, follow-ups 0.826 → 0.840, the same for example weights 0.9-1.1
# (0.8 and 1.2: 0.836, 0.831); summing the raw scores, 0.836. It gains six follow-ups and loses
# three, where the example's clear lead was on the wrong clause. Adding the example's fused
# score to the question's inside the retriever's own scoring (weight 0.3-4) was measured worse,
# and a weak example on every other kind of follow-up (0.1-0.3) gained nothing.
EXAMPLE_WEIGHT = 1.0
# "Same thing in Hà Tĩnh, who's on the hook there?" after Quảng Nam asks Báo Quảng Nam and Đài
# PT-TH Quảng Nam to step up propaganda: Hà Tĩnh's row that gives its columns to Báo Hà Tĩnh
# and Đài PT-TH tỉnh is the same duty, though the row beside it shares more of the words. The
# clauses of the example's matches that give work to a counterpart of the example's bodies get
# this much more fused score. Over 976 conversations: follow-ups 1,582 → 1,594 of 1,779 at 0.4,
# none lost (0.2 and 0.7: 1,590).
COUNTERPART_BONUS = 0.4
# The example is a guess from the previous answer; a message with this many words of its own
# (three letters or more: "phòng nào lo hướng dẫn HTX vay vốn quỹ đó?") says what it is about,
# so its example counts for less. Over the 280 conversations and 48 newer ones written blind,
# 3 words and weight 0.5 gain one follow-up in each and lose none; 0.7 gains the newer one only,
# 0.3 loses one of the 280, and 0 loses seven.
OWN_MATTER_WORDS = 3
OWN_MATTER_EXAMPLE_WEIGHT = 0.5
# A short question asked about the chat's place ("báo cáo kết quả qua phòng nào?") most often
# asks further about the clause just shown: that clause is cited first when it ranks among the
# first few. Over the 100 conversations of evals/conversations.jsonl this wins three follow-ups
# and loses two (a new question on the same document, c90, c98) for any window from 2 to 6; at
# 10 a new question's own clause is overridden more often.
SHOWN_CLAUSE_WINDOW = 4
# A bare fragment about the clause just cited ("by when?", Example.about_shown) asks about that
# clause; the question it is rewritten into is a lossy copy of the previous one, whose own best
# match can be a neighbour. The cited clause is put first when it is among this many. Over the
# 376 conversations of three sets: one follow-up gained (c374), none lost, for 3 or 10.
FRAGMENT_SHOWN_WINDOW = 10
# A question of its own about another place that repeats this many of the previous question's
# words is about the same matter there ("quang nam co nhac den vai tro thanh vien htx khong"
# after one on the members' role in Vĩnh Linh), so it is matched by example like "còn ở Quảng
# Nam thì sao?". Over the 124 conversations: 3 or 4 words win two follow-ups (both in batches
# written blind) and lose none; 2 words lose one of them.
SAME_MATTER_WORDS = 3
# A follow-up refused by the checks made for first questions is answered when it has this many
# words of its own (two letters or more: "bố trí từ nguồn nào" typed "bo tri tu nguon nao") and
# they are what the best clauses talk about (Abstainer.grounded).
RESCUE_WORDS = 2
# A follow-up in the chat's place (not "còn ở Hà Tĩnh?") is nearly always about the document
# that answered before: 230 of 235 such turns in evals/conversations.jsonl. Its clauses get this
# much more fused score (a question naming its document gets 0.15, retrieval.FusionConfig).
# 0.1: follow-ups 0.857 → 0.859 over the 232 conversations (one gained, none lost), and two
# gained in 48 newer ones; 0.05 gains one in each; 0.2 loses two of the 232.
SAME_DOCUMENT_BONUS = 0.1
# Of that document, a clause that gives what a who / how-many / when question asks for (a named
# body, a figure, a deadline) gets this much instead: "Vậy mỗi năm phải lập mới mấy HTX?" after
# Kế hoạch 67's 2030 target is answered by the plan's yearly figure, not by the Công văn's
# same figure that matches the words better; "ai lo hướng dẫn thành lập?" after that target
# still goes to the Công văn, whose clause names the office. Over 976 conversations: follow-ups
# 1,572 → 1,582 of 1,779 (16 gained, 6 lost); 0.2 gains 5 net, 0.35 gains 9.
SAME_DOCUMENT_ANSWER_BONUS = 0.25
SAME_DOCUMENT_KINDS = ("intent", "topic", "place", "question")
_COMMON_WORDS = {"the", "and", "for", "who", "what", "which", "with", "that", "this", "are", "does", "have", "has",
                 "how", "its", "their", "they", "any", "anything", "about"}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\ufeff]")


def clean_question(question: object, max_chars: int) -> str:
    """Normalize a question or refuse it with a message a user can act on."""
    if not isinstance(question, str):
        raise QuestionError("Câu hỏi phải là văn bản. / The question must be text.")
    text = unicodedata.normalize("NFC", _CONTROL.sub(" ", question))
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        raise QuestionError("Câu hỏi trống: hãy nhập nội dung cần hỏi. / The question is empty.")
    if len(text) > max_chars:
        raise QuestionError(
            f"Câu hỏi quá dài ({len(text)} ký tự, tối đa {max_chars}). "
            f"/ The question is too long ({len(text)} characters, at most {max_chars})."
        )
    return text


class Example(BaseModel):
    """A clause to match by example, among one place's documents."""

    text: str
    locality: str | None = None
    # "Bên kế hoạch 67 của Huyện ủy thì …": the same matter, in the other document the message names.
    doc_ids: list[str] = Field(default_factory=list)
    # A when-fragment about a duty whose own clause gives no time: the enclosing clause that does
    # ("1. Tăng cường tuyên truyền … (hoàn thành trong quý I năm 2023)") answers it, cited first.
    dated_by: str | None = None
    # A fragment about the clause the previous answer cited ("hạn chót?"), with no more than a
    # word of its own ("who is the president of France?" has two), not a new question.
    about_shown: bool = False
    weight: float = EXAMPLE_WEIGHT
    # The bodies the example's clause gives the work to, when it comes from another place: a
    # clause there that gives it to their counterparts does the same thing.
    bodies: frozenset[str] = frozenset()


class FollowUp(BaseModel):
    """What a chat knows about a message after the first: how it was read and what the
    previous answer cited."""

    message: str                      # as typed
    rewrite: Rewrite
    after_answer: bool                # the previous message was answered, not refused
    example: Example | None = None    # the previous answer's duty, to match by example
    # Chunk id of the clause just cited, put first when it ranks near the top: for a question
    # about the chat's place, or a bare fragment about that clause (Example.about_shown).
    shown: str | None = None
    document: str | None = None       # doc id of the previous answer, for a follow-up in the same place
    document_named: bool = False      # `document` is another one the message names, not the previous answer's

    def own_words(self) -> str | None:
        """What the message adds of its own ("đăng ký kết hôn"), when it has a word of three
        letters or more; None for a bare fragment ("hạn chót?")."""
        own = self.rewrite.own_topic
        return own if _word_count(own) else None


class Assistant:
    def __init__(self, store: IndexStore, settings: Settings, persist_conversations: bool = True) -> None:
        """`persist_conversations=False` keeps chats in memory only (an evaluation run), so the
        index directory is left as it was."""
        self.settings = settings
        self._lock = threading.Lock()
        self._embed_model = load_embedder(settings.embedder)
        self._llm_rewriter: Rewriter | None = None
        self.conversations = ConversationStore(
            settings.index_dir / CONVERSATIONS_FILE if settings.index_dir and persist_conversations else None,
            ttl_s=settings.conversation_ttl_s,
        )
        self._load(store)

    @classmethod
    def open(cls, settings: Settings | None = None, index_dir: Path | str | None = None,
             persist_conversations: bool = True) -> "Assistant":
        settings = settings or get_settings()
        if index_dir is not None:
            settings = settings.model_copy(update={"index_dir": Path(index_dir)})
        return cls(IndexStore.open(settings), settings, persist_conversations)

    def _load(self, store: IndexStore) -> None:
        chunks = store.all_chunks()
        self.store = store
        self._documents = {m.doc_id: m for m in store.documents()}
        self.retriever = HybridRetriever(store.vector_store(), self._embed_model, chunks, top_k=self.settings.top_k,
                                         documents=list(self._documents.values()))
        # Composer, abstention policy, task register and LLM client of this index (assistant/answer.py).
        self._kit = AnswerKit(chunks, self._documents, store.document, self.settings,
                              token_counts=self.retriever.lexical.token_counts)

    def reload_if_changed(self) -> bool:
        """Pick up a finished ingest without restarting; a failed one changes nothing."""
        if not self.store.changed():
            return False
        with self._lock:
            if self.store.changed():
                old = self.store
                self._load(IndexStore.open(self.settings))
                # Requests already running hold their own references to the old retriever;
                # the store's client is only needed to open it, so it can go now.
                old.close()
        return True

    # --- retrieval and answers -------------------------------------------------------------

    def search(self, question: str, k: int | None = None, filters: Filters | None = None) -> list[Hit]:
        text = clean_question(question, self.settings.max_question_chars)
        return self.retriever.search(text, k or self.settings.top_k, filters)

    def ask(self, question: str, k: int | None = None, filters: Filters | None = None) -> Answer:
        """Retrieve → abstain when the corpus does not answer → compose the extractive answer
        → let the optional LLM rewrite it (kept only when its citations check out)."""
        text = clean_question(question, self.settings.max_question_chars)
        return self._answer(text, k or self.settings.top_k, filters)

    def _answer(self, text: str, k: int, filters: Filters | None, follow_up: FollowUp | None = None) -> Answer:
        kit, retriever = self._kit, self.retriever
        query = retriever.understand(text)
        # Abstention looks at the best dense and lexical matches among all fusion candidates;
        # the fused ranking is deterministic, so the first k of them are the k citations.
        candidates = retriever.search(query, max(k, retriever.config.candidates), filters)
        verdict = kit.abstainer.decide(query, candidates, filters)
        if follow_up is not None:
            self._judge_follow_up(verdict, follow_up, candidates)
        if verdict.abstain:
            return Answer(question=text, answer=coverage_message(verdict, query.language, self.documents(), filters),
                          abstained=True, citations=[], intent=query.intent, language=query.language)
        example = follow_up.example if follow_up else None
        shown = follow_up.shown if follow_up else None
        if query.asks_issuer:
            # Who issued the document, or when: its opening, which the retriever put first, answers.
            example = shown = None
        if follow_up is not None and follow_up.document and not query.asks_issuer:
            candidates = self._prefer_document(candidates, follow_up.document, query,
                                               answers_better=not follow_up.document_named)
        if example is not None:
            candidates = self._with_example(candidates, example, filters)
            if example.dated_by:
                candidates = _first(candidates, self.retriever.chunk(example.dated_by))
        window = FRAGMENT_SHOWN_WINDOW if example is not None and example.about_shown else SHOWN_CLAUSE_WINDOW
        if shown is not None and query.intent in ANSWER_KINDS \
                and not self.retriever.gives_answer_kind(shown, query.intent):
            # "by when should the awareness-raising be done?" after a clause that sets no date:
            # the clause just cited is what is asked about, not where the answer is.
            shown = None
        if shown is not None and shown in [h.chunk.chunk_id for h in candidates[:window]]:
            candidates = _first(candidates, self.retriever.chunk(shown))
        hits = candidates[:k]
        citations = [self.cite(h) for h in hits]
        composed = kit.composer.compose(query, hits, citations)
        answer = Answer(question=text, answer=composed.text, abstained=False, citations=citations,
                        direct=composed.direct, intent=query.intent, language=query.language)
        generator = kit.generator()
        return with_generation(answer, generator) if generator else answer

    def _prefer_document(self, hits: list[Hit], doc_id: str, query: Query, answers_better: bool) -> list[Hit]:
        """`hits` with the clauses of `doc_id` lifted, best first again: by SAME_DOCUMENT_BONUS,
        or with `answers_better`, by SAME_DOCUMENT_ANSWER_BONUS for those that give what the
        question asks for. (A document the message names has its own bonus in the retriever.)"""
        def bonus(hit: Hit) -> float:
            if hit.chunk.doc_id != doc_id:
                return 0.0
            if answers_better and query.intent in ANSWER_KINDS \
                    and self.retriever.gives_answer_kind(hit.chunk.chunk_id, query.intent):
                return SAME_DOCUMENT_ANSWER_BONUS
            return SAME_DOCUMENT_BONUS
        lifted = [h.model_copy(update={"score": h.score + bonus(h)}) for h in hits]
        return sorted(lifted, key=lambda h: -h.score)

    def tasks(self, agency: str | None = None, locality: str | None = None) -> list[Task]:
        """The task register: every assigned task of every document, optionally of one agency
        (any spelling: "Phòng NN&PTNT" = "Phòng Nông nghiệp và Phát triển nông thôn") or locality."""
        return filter_tasks(self._kit.register(), agency=agency, locality=locality)

    def ask_in_conversation(self, conversation_id: str, question: str, k: int | None = None,
                            filters: Filters | None = None) -> Answer:
        """`ask`, where a short follow-up ("còn ở Hà Tĩnh thì sao?") is first rewritten into the
        full question it stands for; `Answer.understood_as` shows the rewrite so it can be corrected."""
        text = clean_question(question, self.settings.max_question_chars)
        earlier = self.conversations.get(conversation_id).turns
        previous = earlier[-1] if earlier else None
        rewrite = self._rewrite(text, earlier)
        moved_to = self._other_document(text, rewrite, previous)
        example = self._example_for(rewrite, previous, moved_to)
        # A fragment whose duty is dated by an enclosing clause is answered from that one instead.
        fragment = example is not None and example.about_shown and not example.dated_by
        shown = previous.chunk_ids[0] if (rewrite.kind == "place" or fragment) and previous and previous.chunk_ids \
            and not moved_to else None
        if moved_to:
            document = moved_to[0] if len(moved_to) == 1 else None
        else:
            document = previous.doc_ids[0] if previous and previous.doc_ids and rewrite.kind in SAME_DOCUMENT_KINDS \
                else None
        follow_up = None if previous is None else FollowUp(
            message=text, rewrite=rewrite, after_answer=bool(previous.chunk_ids), example=example, shown=shown,
            document=document, document_named=bool(moved_to))
        answer = self._answer(rewrite.question, k or self.settings.top_k, filters, follow_up)
        answer.question = text
        if rewrite.rewritten:
            answer.understood_as = rewrite.question
        turn = rewrite.turn
        turn.doc_ids = list(dict.fromkeys(c.doc_id for c in answer.citations))
        turn.chunk_ids = [c.chunk_id for c in answer.citations]
        self.conversations.add(conversation_id, turn)
        return answer

    def _judge_follow_up(self, verdict: Verdict, follow_up: FollowUp, candidates: list[Hit]) -> None:
        """The abstention verdict on a message after the first, revised for what the chat knows.

        A rewrite carries the chat's place and question, and with them their evidence, so
        what the message adds of its own is checked as typed: "còn ở Hà Nội thì sao?" names a
        place the corpus lacks; "còn đăng ký kết hôn thì sao?" a topic the best clauses never
        mention. The other way round, a follow-up's chat wording ("how many new ones per
        year?", "đến 2030 thì tổng cộng khoảng bao nhiêu HTX?") can fail the vocabulary and
        similarity checks made for first questions; when its own words are what the best
        clauses talk about, the chat has shown the corpus answers."""
        abstainer = self._kit.abstainer
        own = follow_up.own_words()

        def grounded() -> bool:
            # Asked only where it decides: most follow-ups are answered without reading it.
            if own is None:
                return False
            # A few words alone ("co-op unions") can pass for either language; the message's decides.
            query = self.retriever.understand(own).model_copy(update={"language": follow_up.rewrite.turn.language})
            return abstainer.grounded(query, candidates)

        if verdict.abstain:
            if verdict.reason not in (OFF_TOPIC, WEAK_EVIDENCE) or not follow_up.after_answer:
                return
            example = follow_up.example
            # "hạn chót vụ này là khi nào?" asks about the clause just cited, which answered;
            # its few words of its own are no sign that the corpus is silent.
            # So does a bare fragment or place that asks the answered question again, anywhere:
            # "con kien giang thi tinh dat bao nhieu" carries the previous question's chat wording
            # ("toi 2030 ca huyen co tong cong"), which the vocabulary check was not made for.
            enough_own_words = _word_count(own, letters=2) >= RESCUE_WORDS
            bare = follow_up.rewrite.kind in ("intent", "locality") and not enough_own_words
            # "còn ở Vĩnh Linh thì phòng nào lo khoản vốn này?": the matter just answered, pointed
            # at in another place of the corpus (a place it lacks is refused below).
            pointed_elsewhere = example is not None and follow_up.rewrite.kind in ("question", "standalone") \
                and points_back(follow_up.message)
            if not ((example is not None and example.about_shown) or bare or pointed_elsewhere
                    or (enough_own_words and grounded())):
                return
            verdict.abstain, verdict.reason = False, None
        if not follow_up.rewrite.rewritten:
            return
        places = abstainer.foreign_places(follow_up.message)
        if places:
            verdict.abstain, verdict.reason, verdict.places = True, OTHER_PLACE, places
        elif follow_up.rewrite.kind == "topic" and own is not None and not grounded():
            # Checking a place kind's or a fragment's own words as well refused more real
            # follow-ups than it caught unanswerable ones (evals/conversations_out_of_scope.jsonl
            # against the conversation sets).
            verdict.abstain, verdict.reason = True, OFF_TOPIC

    def _rewrite(self, text: str, earlier: list[Turn]) -> Rewrite:
        """The rule-based rewrite, or the language model's when one is configured and its
        rewrite keeps to the chat."""
        localities = self.retriever.localities
        rule = rewrite_follow_up(text, earlier[-1] if earlier else None, localities, self.retriever.accents.restore)
        rewriter = self._rewriter()
        if rewriter is None or not earlier:
            return rule
        candidate = rewriter.rewrite(text, [(t.question, t.understood) for t in earlier])
        accepted = candidate and accept_model_rewrite(candidate, text, rule, earlier, localities)
        return accepted or rule

    def _rewriter(self) -> Rewriter | None:
        if not (self.settings.llm_base_url and self.settings.llm_rewrite):
            return None
        if self._llm_rewriter is None:
            self._llm_rewriter = Rewriter(self.settings)
        return self._llm_rewriter

    def _other_document(self, text: str, rewrite: Rewrite, previous: Turn | None) -> list[str]:
        """The documents of the chat's place that the message names, when the previous answer
        came from another one ("Bên kế hoạch 67 của Huyện ủy thì hạn là năm nào?" after the
        Công văn answered); empty otherwise."""
        if previous is None or not previous.doc_ids:
            return []
        named = self.retriever.documents_named(self.retriever.understand(text))
        place = rewrite.turn.locality
        named = {d for d in named if d in self._documents
                 and (place is None or fold(self._documents[d].locality or "") == fold(place))}
        return [] if not named or previous.doc_ids[0] in named else sorted(named)

    def _example_for(self, rewrite: Rewrite, previous: Turn | None, moved_to: list[str]) -> Example | None:
        """The duty that answered the previous question, to be matched by example: "the same
        thing, in another place" is looked for among the new place's documents (or in the other
        document the message names), which word the same duty their own way; a fragment ("hạn
        chót?", "ai chủ trì?") asks about that duty."""
        if previous is None or not previous.chunk_ids:
            return None
        if rewrite.kind not in ("locality", "intent") and not _same_matter_elsewhere(rewrite, previous):
            return None
        if rewrite.kind == "locality" and not rewrite.turn.locality:
            return None
        chunk = self.retriever.chunk(previous.chunk_ids[0])
        if chunk is None:
            return None
        # A clause often lists several duties; the one the previous question was about is the example.
        tokens = tokenize(self.retriever.understand(previous.understood).lexical_text)
        relevance = self._kit.composer.reader.relevance
        duty = max(split_bullets(strip_number(chunk.text)) or [chunk.text], key=lambda b: relevance.score(tokens, b))
        dated_by = self._dating_clause(chunk) if rewrite.kind == "intent" and rewrite.turn.intent == "when" else None
        weight = EXAMPLE_WEIGHT if _word_count(rewrite.own_topic) < OWN_MATTER_WORDS else OWN_MATTER_EXAMPLE_WEIGHT
        if moved_to:
            return Example(text=duty, locality=rewrite.turn.locality, doc_ids=moved_to, weight=weight)
        here, before = rewrite.turn.locality, previous.locality
        elsewhere = bool(here and before and fold(here) != fold(before))
        return Example(text=duty, locality=here, dated_by=dated_by, weight=weight,
                       about_shown=rewrite.kind == "intent" and here == before and _word_count(rewrite.own_topic) < 2,
                       bodies=self.retriever.bodies(chunk) if elsewhere else frozenset())

    def _dating_clause(self, chunk) -> str | None:
        """The chunk id of the nearest enclosing clause that states when, if `chunk` does not:
        a plan's deadline written on a group of tasks covers every task under it."""
        if best_deadline(chunk.text) is not None:
            return None
        found = enclosing_deadline(chunk, self.retriever.first_chunks)
        return found[0].chunk_id if found else None

    def _with_example(self, candidates: list[Hit], example: Example, filters: Filters | None) -> list[Hit]:
        """The question's ranking fused (relative score) with the example's ranking (within the
        example's place); each position keeps the question's score, so the answer's choice of
        supporting clauses sees the same score profile."""
        where = filters or Filters()
        if example.locality:
            where = where.model_copy(update={"localities": [example.locality]})
        if example.doc_ids:
            where = where.model_copy(update={"doc_ids": example.doc_ids})
        by_example = self.retriever.search(example.text, len(candidates), where)
        fused: dict[str, float] = {}
        hits: dict[str, Hit] = {}
        for weight, ranking in ((1.0, candidates), (example.weight, by_example)):
            top = ranking[0].score if ranking and ranking[0].score > 0 else 1.0
            for hit in ranking:
                fused[hit.chunk.chunk_id] = fused.get(hit.chunk.chunk_id, 0.0) + weight * hit.score / top
                hits.setdefault(hit.chunk.chunk_id, hit)
        if example.bodies:
            for cid in fused:
                if any(same_body(a, b) for a in self.retriever.bodies(hits[cid].chunk) for b in example.bodies):
                    fused[cid] += COUNTERPART_BONUS
        order = sorted(fused, key=lambda cid: -fused[cid])[:len(candidates)]
        lead = candidates[0] if candidates else None
        if lead is not None and lead.dense_rank == 1 and lead.lexical_rank == 1:
            # Both retrievers put the question's own best match first: the example, taken from
            # an answer that may itself have been wrong, only orders what follows. (Letting a
            # lead at rank 2 in either list stand as well cost two follow-ups.)
            order = [lead.chunk.chunk_id] + [cid for cid in order if cid != lead.chunk.chunk_id]
        scores = [h.score for h in candidates] + [0.0] * len(order)
        return [hits[cid].model_copy(update={"score": scores[n]}) for n, cid in enumerate(order)]

    def new_conversation(self, conversation_id: str) -> None:
        self.conversations.reset(conversation_id)

    def cite(self, hit: Hit) -> Citation:
        meta = self._documents.get(hit.chunk.doc_id) or DocumentMeta(doc_id=hit.chunk.doc_id)
        return Citation.from_hit(hit, meta, self.settings.public_url)

    # --- the corpus ------------------------------------------------------------------------

    def documents(self) -> list[DocumentMeta]:
        return sorted(self._documents.values(), key=lambda m: m.doc_id)

    def document(self, doc_id: str) -> Document | None:
        return self.store.document(doc_id)

    @property
    def chunk_count(self) -> int:
        return len(self.retriever.chunks)

    @property
    def embedder_id(self) -> str:
        return self.store.embedder_id


def _word_count(text: str | None, letters: int = 3) -> int:
    """How many words of at least `letters` letters `text` has."""
    return sum(len(w) >= letters for w in (text or "").split())


def _same_matter_elsewhere(rewrite: Rewrite, previous: Turn) -> bool:
    here, before = rewrite.turn.locality, previous.locality
    if rewrite.kind not in ("standalone", "question") or not (here and before) or fold(here) == fold(before):
        return False
    if points_back(rewrite.question):
        return True                # "Ở Hà Tĩnh thì quỹ này do ai quản lý?", "còn ở ha tinh ai quan ly quy do"
    shared = _words(rewrite.question) & _words(previous.understood) - _words(here) - _words(before)
    return len(shared) >= SAME_MATTER_WORDS


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"\w+", strip_diacritics(fold(text))) if len(w) > 2 and w not in _COMMON_WORDS}


def _first(hits: list[Hit], chunk) -> list[Hit]:
    """`chunk` moved (or added) to the top of `hits`; each position keeps its score."""
    rest = [h for h in hits if h.chunk.chunk_id != chunk.chunk_id]
    top = next((h for h in hits if h.chunk.chunk_id == chunk.chunk_id), None) or Hit(chunk=chunk, score=0.0)
    order = [top] + rest[:len(hits) - 1]
    return [h.model_copy(update={"score": old.score}) for h, old in zip(order, hits)]
