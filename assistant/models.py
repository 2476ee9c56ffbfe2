"""What the assistant returns: an Answer with its Citations (the `htx ask --json` contract)."""
from __future__ import annotations

from pydantic import BaseModel, Field

from index.models import Chunk, DocumentMeta


class QuestionError(ValueError):
    """The question cannot be answered as given (empty, too long…); the message is for the user."""


class Filters(BaseModel):
    """Explicit metadata filters; a filter that matches no document yields no results."""

    doc_ids: list[str] = Field(default_factory=list)
    localities: list[str] = Field(default_factory=list)
    issuers: list[str] = Field(default_factory=list)
    years: list[int] = Field(default_factory=list)
    doc_types: list[str] = Field(default_factory=list)

    def is_empty(self) -> bool:
        return not (self.doc_ids or self.localities or self.issuers or self.years or self.doc_types)


class Hit(BaseModel):
    """One retrieved chunk with its fused score and the ranks that produced it."""

    chunk: Chunk
    score: float
    dense_rank: int | None = None
    lexical_rank: int | None = None
    dense_similarity: float | None = None
    lexical_score: float | None = None


class Citation(BaseModel):
    doc_id: str
    doc_title: str
    clause: list[str]
    clause_label: str
    text: str
    score: float
    url: str
    # Beyond the CLI contract: what a staff member checks the clause against.
    doc_type: str | None = None
    number: str | None = None
    issuer: str | None = None
    issued: str | None = None
    anchor: str
    chunk_id: str

    @classmethod
    def from_hit(cls, hit: Hit, meta: DocumentMeta, base_url: str = "") -> "Citation":
        chunk = hit.chunk
        return cls(
            doc_id=chunk.doc_id,
            doc_title=meta.display_title(),
            clause=chunk.clause,
            clause_label=chunk.clause_label,
            text=chunk.text,
            score=round(hit.score, 6),
            url=f"{base_url.rstrip('/')}/documents/{chunk.doc_id}#{chunk.anchor}",
            doc_type=meta.doc_type,
            number=meta.number,
            issuer=meta.issuer,
            issued=meta.issued.isoformat() if meta.issued else None,
            anchor=chunk.anchor,
            chunk_id=chunk.chunk_id,
        )


class Answer(BaseModel):
    question: str
    answer: str
    abstained: bool
    citations: list[Citation]
    # The one-line direct answer (agency, deadline, target) when one was extracted.
    direct: str | None = None
    intent: str = "general"
    language: str = "vi"
    # How a follow-up was understood in context ("Hiểu câu hỏi là: …"); None when asked as-is.
    understood_as: str | None = None
