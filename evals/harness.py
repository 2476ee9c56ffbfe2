"""The evaluation harness behind `htx eval`: clause hit@k, expected-answer rate, abstention.

A question line: {"id", "question", "lang", "intent", "gold": [{"doc_id", "clause"}], "expected": [...]}
or, for questions the corpus cannot answer, {"id", "question", "out_of_scope": true}.
"""
from __future__ import annotations

import json
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from pydantic import BaseModel, Field

from index.normalize import fold


class GoldClause(BaseModel):
    doc_id: str
    clause: list[str]


class EvalQuestion(BaseModel):
    id: str
    question: str
    lang: str = "vi"
    intent: str | None = None
    gold: list[GoldClause] = Field(default_factory=list)
    expected: list[str] = Field(default_factory=list)
    out_of_scope: bool = False


def load_questions(path: Path) -> list[EvalQuestion]:
    with open(path, encoding="utf-8") as fh:
        return [EvalQuestion.model_validate_json(line) for line in fh if line.strip()]


def clause_rank(gold: list[GoldClause], retrieved: list[tuple[str, list[str]]]) -> int | None:
    """1-based rank of the first retrieved (doc_id, clause) that is a gold clause."""
    wanted = {(g.doc_id, tuple(g.clause)) for g in gold}
    for rank, (doc_id, clause) in enumerate(retrieved, start=1):
        if (doc_id, tuple(clause)) in wanted:
            return rank
    return None


def contains_expected(answer_text: str, expected: list[str]) -> bool:
    """Every expected string appears in the answer (case, tone-mark placement and spacing ignored)."""
    haystack = " ".join(fold(answer_text).split())
    return all(" ".join(fold(e).split()) in haystack for e in expected)


@dataclass
class Outcome:
    question: EvalQuestion
    rank: int | None
    abstained: bool
    answer_ok: bool | None
    seconds: float


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    def _in_scope(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.question.out_of_scope]

    def summary(self) -> dict:
        scoped = self._in_scope()
        oos = [o for o in self.outcomes if o.question.out_of_scope]
        abstained = [o for o in self.outcomes if o.abstained]
        n = len(scoped) or 1
        out = {
            "questions": len(self.outcomes),
            "in_scope": len(scoped),
            "out_of_scope": len(oos),
            "hit@1": round(sum(o.rank == 1 for o in scoped) / n, 4),
            "hit@5": round(sum(o.rank is not None and o.rank <= 5 for o in scoped) / n, 4),
            "mrr@5": round(sum(1 / o.rank for o in scoped if o.rank and o.rank <= 5) / n, 4),
            "expected_answer_rate": round(sum(bool(o.answer_ok) for o in scoped) / n, 4),
            "abstention_precision": round(sum(o.question.out_of_scope for o in abstained) / len(abstained), 4)
            if abstained else None,
            "abstention_recall": round(sum(o.abstained for o in oos) / len(oos), 4) if oos else None,
            "false_abstentions": round(sum(o.abstained for o in scoped) / n, 4),
            "latency_p50_ms": round(1000 * statistics.median(o.seconds for o in self.outcomes), 1)
            if self.outcomes else None,
        }
        by_lang: dict[str, list[Outcome]] = defaultdict(list)
        for o in scoped:
            by_lang[o.question.lang].append(o)
        out["hit@1_by_lang"] = {k: round(sum(o.rank == 1 for o in v) / len(v), 4) for k, v in sorted(by_lang.items())}
        return out

    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes
                if (o.question.out_of_scope and not o.abstained)
                or (not o.question.out_of_scope and (o.rank != 1 or not o.answer_ok))]


def run(questions: list[EvalQuestion], ask: Callable[[str], object]) -> Report:
    """`ask` is `Assistant.ask` (or anything returning an object with answer/abstained/citations)."""
    report = Report()
    for q in questions:
        started = time.perf_counter()
        answer = ask(q.question)
        seconds = time.perf_counter() - started
        retrieved = [(c.doc_id, c.clause) for c in answer.citations]
        rank = None if q.out_of_scope else clause_rank(q.gold, retrieved)
        answer_ok = None if q.out_of_scope else (not answer.abstained and contains_expected(answer.answer, q.expected))
        report.outcomes.append(Outcome(q, rank, answer.abstained, answer_ok, seconds))
    return report


def print_report(report: Report, as_json: bool, echo: Callable[[str], None] = print) -> None:
    summary = report.summary()
    if as_json:
        echo(json.dumps(summary, ensure_ascii=False))
        return
    for key, value in summary.items():
        echo(f"{key:24} {value}")
    failures = report.failures()
    if failures:
        echo(f"\n{len(failures)} questions to look at:")
        for o in failures:
            what = "answered (should abstain)" if o.question.out_of_scope else \
                f"rank {o.rank}, expected {'found' if o.answer_ok else 'missing'}" + (", abstained" if o.abstained else "")
            echo(f"  {o.question.id}: {what} — {o.question.question}")


# --- conversations ------------------------------------------------------------------------

class ConversationTurn(BaseModel):
    question: str
    gold: list[GoldClause] = Field(default_factory=list)
    expected: list[str] = Field(default_factory=list)
    understood: str | None = None
    standalone: bool = False
    kind: str | None = None          # how a later turn leans on the one before: locality, topic, intent …
    out_of_scope: bool = False       # the corpus cannot answer it: the assistant should say so


class EvalConversation(BaseModel):
    id: str
    turns: list[ConversationTurn]


def load_conversations(path: Path) -> list[EvalConversation]:
    with open(path, encoding="utf-8") as fh:
        return [EvalConversation.model_validate_json(line) for line in fh if line.strip()]


def run_conversations(conversations: list[EvalConversation], assistant) -> dict:
    """Clause hit@1 on first turns against follow-up turns, each conversation in a fresh chat.
    A follow-up that should stand alone counts as wrong when it was rewritten anyway."""
    first: list[bool] = []
    follow: list[bool] = []
    expected_ok: list[bool] = []
    standalone_kept: list[bool] = []
    by_kind: dict[str, list[bool]] = {}
    misses: list[str] = []
    refused: list[bool] = []
    for conv in conversations:
        chat = f"eval-{conv.id}-{time.time_ns()}"
        assistant.new_conversation(chat)
        for n, turn in enumerate(conv.turns):
            answer = assistant.ask_in_conversation(chat, turn.question)
            if turn.out_of_scope:
                refused.append(answer.abstained)
                if not answer.abstained:
                    misses.append(f"{conv.id} turn {n + 1}: answered, cites {answer.citations[0].clause_label} — "
                                  f"{turn.question!r} understood as {answer.understood_as!r}")
                continue
            rank = clause_rank(turn.gold, [(c.doc_id, c.clause) for c in answer.citations])
            hit = rank == 1
            if turn.standalone:
                standalone_kept.append(answer.understood_as is None)
            (first if n == 0 else follow).append(hit)
            if n:
                by_kind.setdefault(turn.kind or ("standalone" if turn.standalone else "other"), []).append(hit)
                expected_ok.append(not answer.abstained and contains_expected(answer.answer, turn.expected))
            if not hit:
                misses.append(f"{conv.id} turn {n + 1}: rank {rank} — {turn.question!r}"
                              f" understood as {answer.understood_as!r}")
    rate = lambda xs: round(sum(xs) / len(xs), 4) if xs else None  # noqa: E731
    return {
        "conversations": len(conversations),
        "first_turn_hit@1": rate(first),
        "follow_up_hit@1": rate(follow),
        "gap": round(rate(first) - rate(follow), 4) if first and follow else None,
        "follow_up_hit@1_by_kind": {kind: f"{rate(hits)} of {len(hits)}" for kind, hits in sorted(by_kind.items())},
        "follow_up_expected_answer_rate": rate(expected_ok),
        "standalone_not_rewritten": rate(standalone_kept),
        "out_of_scope_refused": f"{sum(refused)} of {len(refused)}" if refused else None,
        "misses": misses,
    }
