"""Hybrid retrieval: dense vectors in Chroma (through llama-index) fused with a bm25s lexical
index over Vietnamese-normalized text, with locality awareness and metadata filters.

Dense retrieval understands paraphrase and English; the lexical side catches what officers
type on phones without diacritics ("giai the htx") and exact names. Their scores are combined
convexly after normalization (FusionConfig says why that beat reciprocal rank fusion here).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cache

import bm25s
import numpy as np
from llama_index.core import VectorStoreIndex
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.embeddings import BaseEmbedding
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from llama_index.core.vector_stores import FilterOperator, MetadataFilter, MetadataFilters
from llama_index.core.vector_stores.types import BasePydanticVectorStore

import re

from index.models import PREAMBLE, Chunk, DocumentMeta, enclosing_clauses, first_chunks_by_clause
from index.normalize import fold, strip_diacritics, tokenize

from .accents import AccentRestorer
from .extract import TokenCounts, find_deadlines, find_quantities, is_generic, strip_number
from .models import Filters, Hit
from .query import Query, load_abbreviations, understand
from .tasks import assignments, bodies_without_place


class LexicalIndex:
    """bm25s over each chunk's embedding text (heading chain included), tokenized by
    `index.normalize.tokenize` so accents, tone-mark placement and case do not matter.

    A number between two words also yields a slot token ("ít nhất 05 thành viên" →
    "nhat_#_thanh"), and a question's "bao nhiêu"/"mấy" stands for a number, so "phải có ít
    nhất bao nhiêu thành viên?" meets the clause that holds the number, not every clause
    with "ít nhất … thành viên" in it."""

    def __init__(self, chunks: list[Chunk]) -> None:
        self.chunks = chunks
        self._bm25 = bm25s.BM25()
        # Tokenizing every chunk is most of what opening an index costs: the answer kit reads
        # its token statistics from here rather than tokenizing again. Counted on the way, so
        # the plain token lists of a large index are never all held at once.
        document_frequency: Counter[str] = Counter()
        corpus_tokens = []
        for chunk in chunks:
            tokens = tokenize(chunk.embedding_text())
            document_frequency.update(set(tokens))
            corpus_tokens.append(_number_slots(tokens) or ["_"])
        self.token_counts = TokenCounts(document_frequency, len(chunks))
        if chunks:
            self._bm25.index(corpus_tokens, show_progress=False)

    def search(self, text: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        asked = _ASKS_NUMBER.sub(_ASKED_NUMBER, fold(text))
        tokens = _number_slots(tokenize(asked), question=True)
        if not self.chunks or not tokens:
            return []
        scores = self._bm25.get_scores(tokens)
        if allowed is not None:
            scores = np.where(allowed, scores, 0.0)
        top = np.argsort(-scores)[:k]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]


_ASKS_NUMBER = re.compile(r"\b(?:bao nhiêu|bao nhieu|mấy|how many|how much)\b")
# A horizon in a question (unaccented): "đến năm 2030", "by 2030", "giai đoạn 2021-2025"; a
# year that dates something ("Công văn … năm 2023", "ngày 16/6/2022") is none.
_HORIZON = re.compile(r"\b(?:den|by|until|through|giai doan \d{4}\s*-)\s*(?:nam\s*-?\s*)?((?:19|20)\d{2})\b",
                      re.IGNORECASE)
# A year as a clause writes it, "năm-2030" included; not the year of a date ("16/6/2022").
_YEAR = re.compile(r"(?<![\d/.])((?:19|20)\d{2})(?!\d)")
_ASKED_NUMBER = "0000"     # a syllable no clause holds, standing for the number asked


def _number_slots(tokens: list[str], question: bool = False) -> list[str]:
    """`tokens` plus "a_#_b" for every number between syllables a and b (read off the
    consecutive bigrams "a_n", "n_b" that `tokenize` emits). In a question, only the asked
    number makes slots, and the placeholder's own tokens are dropped."""
    out: list[str] = []
    previous: tuple[str, str] | None = None
    for token in tokens:
        left, joint, right = token.partition("_")
        if joint:
            if previous and previous[1] == left and left.isdigit() and (not question or left == _ASKED_NUMBER):
                out.append(f"{previous[0]}_#_{right}")
            previous = (left, right)
        if question and _ASKED_NUMBER in (left, right):
            continue
        out.append(token)
    return out


# Question intents answered by a kind of statement a clause makes or not (_is_answer_kind).
ANSWER_KINDS = ("who", "how_many", "when")


@dataclass
class FusionConfig:
    """How dense and lexical results are combined.

    Measured on evals/questions.jsonl (96 questions, see README): a convex combination of
    min-max normalized dense similarity and max-normalized BM25 beat reciprocal rank fusion
    (hit@1 0.885 against 0.85 at its best k), because RRF throws away how *confident* each
    side is, and on clause-level questions BM25's top hit is usually decisive.

    The list merge and the definition bonus come from the laws (evals/laws_questions.jsonl,
    41 questions over corpus/ + ../shared/laws, 2,848 chunks): clause hit@1 0.488 before,
    0.512 with number slots in LexicalIndex, 0.634 with the merge, 0.659 with the definition
    bonus; evals/questions.jsonl stays at hit@1 0.906, hit@5 1.0 (it has neither lists of
    points nor definitions).
    """

    # Taken from each retriever before fusion. 100 rather than 40: min-max scaling of the dense
    # side over a deeper list spreads its scores wider, and the clause that both sides rank
    # 40-100 is still in play (hit@1 0.906 → 0.917 here, 0.659 → 0.683 on the laws set,
    # ALQAC MRR@10 0.918 → 0.923); latency unchanged within noise.
    candidates: int = 100
    lexical_share: float = 0.7    # weight of BM25 in the combination; dense gets the rest
    # Points of one list among the best `merge_window` hits ask for the list: when at least
    # `merge_min_points` of them are there, the chunk of the clause that introduces them
    # ("2. Hồ sơ đăng ký thành lập bao gồm: a) … g)", chunked together) takes their place.
    merge_window: int = 10
    merge_min_points: int = 2
    # A question whose subject is a term a law defines ("Hợp tác xã phải có ít nhất bao nhiêu
    # thành viên?") is answered by its definition in the "Giải thích từ ngữ" article ("Hợp tác
    # xã là tổ chức … do ít nhất 05 thành viên chính thức …"), which neither side ranks high:
    # the definition is one long sentence about everything the term is.
    definition_bonus: float = 0.3
    # A question that names a locality ranks that locality's documents first: chunks of
    # another named locality drop below them, national texts are left alone.
    other_locality_penalty: float = 0.5
    same_locality_bonus: float = 0.1
    # A question naming a document by number ("KH 67") prefers that document's clauses.
    named_document_bonus: float = 0.15
    # "Which resolution does it implement?" is answered by the opening căn cứ paragraph.
    basis_bonus: float = 0.2
    # A clause of the kind the question asks for: "how many …?" is answered by one that states
    # a figure ("03 liên hiệp hợp tác xã"), "who …?" by one that gives the work to a named
    # body, "by when …?" by one that sets a deadline ("trước ngày 15/12", "hoàn thành trong quý I"),
    # not by one that only talks about the same things. (Adding "when" left questions.jsonl and
    # laws at 0.938 and 0.735 and moved one first turn of a fresh conversation batch to rank 1.)
    intent_bonus: float = 0.1
    intent_window: int = 20
    # A question about a horizon ("đến năm 2030", "by 2030") prefers, among the same leaders, the
    # clauses that name that year: a plan's targets come per horizon (2025, 2030, 2045) in
    # clauses worded alike.
    year_bonus: float = 0.3


class HybridRetriever(BaseRetriever):
    """A llama-index retriever; `search` is the typed entry point the assistant uses."""

    def __init__(
        self,
        vector_store: BasePydanticVectorStore,
        embed_model: BaseEmbedding,
        chunks: list[Chunk],
        top_k: int = 5,
        config: FusionConfig | None = None,
        documents: list[DocumentMeta] | None = None,
    ) -> None:
        super().__init__()
        self.embed_model = embed_model
        self.top_k = top_k
        self.config = config or FusionConfig()
        self.chunks = chunks
        self._by_id = {c.chunk_id: i for i, c in enumerate(chunks)}
        self.first_chunks = first_chunks_by_clause(chunks)
        self.lexical = LexicalIndex(chunks)
        self._covering = _covering_chunks(chunks, self.first_chunks, self._by_id)
        self._definitions = _defined_terms(chunks)
        self._bare_headings = _bare_headings(chunks)
        self._answer_kinds: dict[tuple[int, str], bool] = {}
        self._bodies: dict[str, frozenset[str]] = {}
        self._vector_index = VectorStoreIndex.from_vector_store(vector_store, embed_model=embed_model)
        self.localities = sorted({c.locality for c in chunks if c.locality})
        self.accents = AccentRestorer((c.embedding_text() for c in chunks), self.localities)
        self._docs_by_number: dict[str, set[str]] = {}
        self._docs_by_kind: dict[str, set[str]] = {}
        for meta in documents or []:
            if number := meta.number_key():
                self._docs_by_number.setdefault(number, set()).add(meta.doc_id)
            if meta.doc_type:
                self._docs_by_kind.setdefault(strip_diacritics(fold(meta.doc_type)), set()).add(meta.doc_id)

    # llama-index interface
    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return [
            NodeWithScore(node=TextNode(id_=h.chunk.chunk_id, text=h.chunk.text, metadata=h.chunk.to_metadata()),
                          score=h.score)
            for h in self.search(query_bundle.query_str, self.top_k)
        ]

    def documents_named(self, query: Query) -> set[str]:
        """Ids of the documents `query` names: by number ("KH 67") and by type ("kế hoạch của
        Huyện ủy Vĩnh Linh": of the place's documents, its plan; the place is the caller's),
        the numbered ones of the type named when the question names both."""
        by_number = set().union(*(self._docs_by_number.get(n, set()) for n in query.document_numbers))
        by_kind = set().union(*(self._docs_by_kind.get(kind, set()) for kind in query.document_kinds))
        if by_number and by_kind and not by_number & by_kind:
            # "công văn của UBND huyện Vĩnh Linh triển khai Kế hoạch 67": the number is the
            # document implemented; the letter is the one asked about.
            return by_kind
        return (by_number & by_kind) or by_number or by_kind

    def chunk(self, chunk_id: str) -> Chunk | None:
        idx = self._by_id.get(chunk_id)
        return None if idx is None else self.chunks[idx]

    def understand(self, question: str) -> Query:
        return understand(question, self.localities)

    def search(self, question: str | Query, k: int | None = None, filters: Filters | None = None) -> list[Hit]:
        query = question if isinstance(question, Query) else self.understand(question)
        k = k or self.top_k
        filters = filters or Filters()
        allowed = self._allowed(filters)
        if allowed is not None and not allowed.any():
            return []      # a filter that matches nothing returns nothing, never everything
        n = max(self.config.candidates, k)
        doc_ids = None if allowed is None else sorted({self.chunks[i].doc_id for i in np.flatnonzero(allowed)})
        dense_text = query.dense_text
        if query.language == "vi" and not query.has_diacritics:
            dense_text = self.accents.restore(dense_text)
        dense = self._dense(dense_text, n, doc_ids)
        lexical = self.lexical.search(query.lexical_text, n, allowed)
        return self._fuse(dense, lexical, query, k, allowed)

    def _dense(self, text: str, n: int, doc_ids: list[str] | None) -> list[tuple[int, float]]:
        embedding = self.embed_model.get_query_embedding(text)
        # Every filter is a property of documents, so it reaches Chroma as the allowed doc ids.
        store_filters = None if doc_ids is None else MetadataFilters(
            filters=[MetadataFilter(key="doc_id", value=doc_ids, operator=FilterOperator.IN)])
        retriever = self._vector_index.as_retriever(similarity_top_k=n, filters=store_filters)
        results = []
        for node in retriever.retrieve(QueryBundle(query_str=text, embedding=embedding)):
            idx = self._by_id.get(node.node.node_id)
            if idx is not None:
                results.append((idx, float(node.score or 0.0)))
        return results

    def _allowed(self, filters: Filters) -> np.ndarray | None:
        if filters.is_empty():
            return None
        return np.array([_matches(c, filters) for c in self.chunks], dtype=bool)

    def _fuse(self, dense: list[tuple[int, float]], lexical: list[tuple[int, float]], query: Query, k: int,
              allowed: np.ndarray | None = None) -> list[Hit]:
        cfg = self.config
        scores: dict[int, float] = {}
        hits: dict[int, Hit] = {}
        # A bare heading ("1. Mục tiêu tổng quát") is no answer to cite: its clauses below carry it.
        dense = [(i, s) for i, s in dense if i not in self._bare_headings]
        lexical = [(i, s) for i, s in lexical if i not in self._bare_headings]
        if dense:
            low, high = min(s for _, s in dense), max(s for _, s in dense)
            for rank, (idx, sim) in enumerate(dense, start=1):
                scores[idx] = (1 - cfg.lexical_share) * (sim - low) / (high - low or 1.0)
                hits[idx] = Hit(chunk=self.chunks[idx], score=0.0, dense_rank=rank, dense_similarity=sim)
        if lexical:
            top = lexical[0][1]
            for rank, (idx, bm25) in enumerate(lexical, start=1):
                scores[idx] = scores.get(idx, 0.0) + cfg.lexical_share * bm25 / top
                hit = hits.setdefault(idx, Hit(chunk=self.chunks[idx], score=0.0))
                hit.lexical_rank = rank
                hit.lexical_score = bm25
        if query.localities:
            wanted = {fold(x) for x in query.localities}
            for idx in scores:
                locality = self.chunks[idx].locality
                if locality is None:
                    continue
                if fold(locality) in wanted:
                    scores[idx] += cfg.same_locality_bonus
                else:
                    scores[idx] *= cfg.other_locality_penalty
        named = self.documents_named(query)
        for idx in scores:
            chunk = self.chunks[idx]
            if chunk.doc_id in named:
                scores[idx] += cfg.named_document_bonus
            if query.asks_basis and chunk.clause == [PREAMBLE]:
                scores[idx] += cfg.basis_bonus
        # Only the leaders can be lifted past each other; reading every candidate would cost
        # more than the search itself on a large index. (Lifting some of them keeps the same
        # leaders, so both priors read one list.)
        leaders = sorted(scores, key=lambda i: -scores[i])[:cfg.intent_window]
        if query.intent in ANSWER_KINDS:
            for idx in leaders:
                if self._is_answer_kind(idx, query.intent):
                    scores[idx] += cfg.intent_bonus
        years = set(_HORIZON.findall(strip_diacritics(query.original)))
        if years and cfg.year_bonus:
            for idx in leaders:
                if years & set(_YEAR.findall(self.chunks[idx].text)):
                    scores[idx] += cfg.year_bonus
        for idx in self._definitions_of(query.original):
            if allowed is None or allowed[idx]:
                scores[idx] = scores.get(idx, 0.0) + cfg.definition_bonus
                hits.setdefault(idx, Hit(chunk=self.chunks[idx], score=0.0))
        if cfg.merge_window:
            self._merge_points(scores, hits)
        if query.asks_issuer and scores:
            self._opening_first(scores, hits, allowed)
        ranked = sorted(scores, key=lambda i: (-scores[i], i))[:k]
        out = []
        for idx in ranked:
            hit = hits[idx]
            hit.score = scores[idx]
            out.append(hit)
        return out


    def _opening_first(self, scores: dict[int, float], hits: dict[int, Hit], allowed: np.ndarray | None) -> None:
        """Who issued a document, or when, is told by its header: the opening paragraph of the
        best match's document is cited first (the answer names the issuer and date beside it)."""
        best = max(scores, key=lambda i: (scores[i], -i))
        chunk = self.first_chunks.get((self.chunks[best].doc_id, (PREAMBLE,)))
        idx = None if chunk is None else self._by_id[chunk.chunk_id]
        if idx is None or idx == best or (allowed is not None and not allowed[idx]):
            return
        scores[idx] = scores[best] + 1e-6
        hits.setdefault(idx, Hit(chunk=chunk, score=0.0))

    def bodies(self, chunk: Chunk) -> frozenset[str]:
        """The named bodies the clause gives work to, without their place (tasks.bodies_without_place)."""
        if chunk.chunk_id not in self._bodies:
            self._bodies[chunk.chunk_id] = bodies_without_place(chunk, self.localities)
        return self._bodies[chunk.chunk_id]

    def gives_answer_kind(self, chunk_id: str, intent: str) -> bool:
        """Whether the clause gives what a question of `intent` (one of ANSWER_KINDS) asks for:
        a figure, a named body, a deadline."""
        idx = self._by_id.get(chunk_id)
        return idx is not None and self._is_answer_kind(idx, intent)

    def _is_answer_kind(self, idx: int, intent: str) -> bool:
        # Read on demand and kept, as the task register's reading of a clause is not cheap.
        key = (idx, intent)
        if key not in self._answer_kinds:
            chunk = self.chunks[idx]
            if intent == "how_many":
                self._answer_kinds[key] = bool(find_quantities(chunk.text))
            elif intent == "when":
                self._answer_kinds[key] = any(d.kind == "deadline" for d in find_deadlines(chunk.text))
            else:
                self._answer_kinds[key] = any(
                    not all(is_generic(lead) for lead in a.leads) for a in assignments(chunk) if a.leads)
        return self._answer_kinds[key]

    def _definitions_of(self, question: str) -> list[int]:
        """The definition chunks of the longest defined term the question starts with (its
        subject), a leading abbreviation spelled out ("htx …" → "hợp tác xã …")."""
        if not self._definitions or not question:
            return []
        words = question.split()
        spelled = _abbreviations().get(words[0].upper().strip("?,.:"))
        subject = _loose(" ".join(([spelled[0]] if spelled else words[:1]) + words[1:]))
        terms = [t for t in self._definitions if subject == t or subject.startswith(t + " ")]
        return self._definitions[max(terms, key=len)] if terms else []

    def _merge_points(self, scores: dict[int, float], hits: dict[int, Hit]) -> None:
        """Replace points of one list found together near the top by the chunk of the clause
        that carries the whole list, at the best point's score (repeated, so clauses of an
        article chunked whole give way to the article in turn)."""
        cfg = self.config
        while True:
            top = sorted(scores, key=lambda i: (-scores[i], i))[: cfg.merge_window]
            groups: dict[int, list[int]] = {}
            for idx in top:
                parent = self._covering.get(idx)
                if parent is not None:
                    groups.setdefault(parent, []).append(idx)
            # One list at a time, best first: a merged clause may itself be a point of an article.
            parent, points = next(((p, pts) for p, pts in groups.items() if len(pts) >= cfg.merge_min_points),
                                  (None, []))
            if parent is None:
                return
            best = max(scores[p] for p in points)
            scores[parent] = max(scores.get(parent, best), best)
            hits.setdefault(parent, Hit(chunk=self.chunks[parent], score=0.0))
            for idx in [i for i in scores if self._covering.get(i) == parent]:
                del scores[idx]


# "7.Hợp tác xã là tổ chức …": a term and its definition, one clause of a "Giải thích từ ngữ" article.
_DEFINITION = re.compile(r"^\d+\.\s*(?P<term>[^.;:,()]{2,80}?) là ")


def _loose(text: str) -> str:
    return " ".join(strip_diacritics(fold(text)).split())


@cache
def _abbreviations() -> dict[str, tuple[str, ...]]:
    return {key.upper(): value for key, value in load_abbreviations().items()}


def _defined_terms(chunks: list[Chunk]) -> dict[str, list[int]]:
    """Defined term (folded, without diacritics) → indexes of the chunks defining it."""
    terms: dict[str, list[int]] = {}
    # Thousands of chunks share a few hundred headings.
    is_glossary = cache(lambda heading: "giai thich tu ngu" in _loose(heading))
    for i, chunk in enumerate(chunks):
        if chunk.part == 0 and any(is_glossary(h) for h in chunk.headings):
            match = _DEFINITION.match(chunk.text)
            if match:
                terms.setdefault(_loose(match.group("term")), []).append(i)
    return terms


def _covering_chunks(chunks: list[Chunk], first_chunks: dict[tuple[str, tuple[str, ...]], Chunk],
                     by_id: dict[str, int]) -> dict[int, int]:
    """chunk index → index of the chunk of its nearest enclosing clause whose text contains
    it: a clause that introduces a list is chunked with its points (index.chunking)."""
    covering: dict[int, int] = {}
    for i, chunk in enumerate(chunks):
        for parent in enclosing_clauses(chunk, first_chunks):
            if parent.start <= chunk.start and chunk.end <= parent.end:
                covering[i] = by_id[parent.chunk_id]
                break
    return covering


def _matches(chunk: Chunk, filters: Filters) -> bool:
    def one_of(value: str | None, wanted: list[str]) -> bool:
        if not wanted:
            return True
        if value is None:
            return False
        folded = strip_diacritics(fold(value))
        return any(strip_diacritics(fold(w)) in folded for w in wanted)

    return (
        (not filters.doc_ids or chunk.doc_id in filters.doc_ids)
        and one_of(chunk.locality, filters.localities)
        and one_of(chunk.issuer, filters.issuers)
        and one_of(chunk.doc_type, filters.doc_types)
        and (not filters.years or chunk.year in filters.years)
    )


def _bare_headings(chunks: list[Chunk]) -> set[int]:
    """Chunks whose whole text is a heading printed above other chunks ("1. Mục tiêu tổng
    quát", "Điều 9. Quyền của hợp tác xã"): the clauses under it say what it heads. A lead-in
    ("2. Các trường hợp sau đây được coi là gây nhầm lẫn …:") states the rule its list completes,
    so it stays."""
    printed = {(c.doc_id, _heading_title(h)) for c in chunks for h in c.headings[1:]}
    return {i for i, c in enumerate(chunks)
            if c.part == 0 and not c.text.rstrip().endswith(":") and (c.doc_id, _heading_title(c.text)) in printed}


def _heading_title(text: str) -> str:
    """A heading without its number, as printed in the text ("II- MỤC TIÊU") and in the heading
    chain below it ("II. MỤC TIÊU", "III (2). TỔ CHỨC THỰC HIỆN" for a document's second III)."""
    return strip_number(re.sub(r"^([IVXLC\d.]+)\s*\(\d+\)", r"\1", " ".join(text.split())))
