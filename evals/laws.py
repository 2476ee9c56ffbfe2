"""Founders' and officers' questions over the cooperative laws (evals/laws_questions.jsonl),
run against an index that holds them:

    htx ingest --corpus corpus --corpus ../shared/laws --index .htx/laws-index
    htx eval evals/laws_questions.jsonl --index .htx/laws-index        # the summary
    python -m evals.laws --index .htx/laws-index --why                 # the same, and why each miss

The law texts stay in ../shared/laws (never committed); the questions cite them by file stem
and clause path as `index.structure.parse_file` produces it (["Chương IV", "Điều 42", "2"]).
`--why` prints, for every question not answered from its gold clause at rank 1, the top three
citations with their dense and lexical ranks: what to look at before touching the fusion.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from .harness import clause_rank, load_questions, print_report, run

DEFAULT_QUESTIONS = Path(__file__).resolve().parent / "laws_questions.jsonl"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument("--index", type=Path, default=None, help="index directory (default: HTX_INDEX_DIR)")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    parser.add_argument("--why", action="store_true", help="show the top citations of every miss")
    args = parser.parse_args(argv)

    from assistant.api import Assistant

    assistant = Assistant.open(index_dir=args.index)
    questions = load_questions(args.questions)
    report = run(questions, assistant.ask)
    print_report(report, args.json)
    if not args.why:
        return
    for outcome in report.failures():
        q = outcome.question
        hits = assistant.search(q.question, k=5)
        gold = "; ".join(f"{g.doc_id} {g.clause}" for g in q.gold)
        print(f"\n{q.id} ({q.lang}) {q.question}\n  gold: {gold}  rank {outcome.rank}")
        for n, hit in enumerate(hits[:3], start=1):
            c = hit.chunk
            mark = "*" if clause_rank(q.gold, [(c.doc_id, c.clause)]) else " "
            print(f"  {mark}{n}. {c.doc_id} {c.clause_label} [{c.clause}] score {hit.score:.3f} "
                  f"dense#{hit.dense_rank} lexical#{hit.lexical_rank}: {c.text[:90]}")


if __name__ == "__main__":
    main()
