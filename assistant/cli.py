"""`htx`: a thin command line over the Python API (assistant.api.Assistant, index.ingest)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from index.settings import Settings, get_settings


def _settings(index_dir: Path | None) -> Settings:
    settings = get_settings()
    return settings.model_copy(update={"index_dir": index_dir}) if index_dir else settings


def _open_assistant(index_dir: Path | None, persist_conversations: bool = True):
    from index.store import StoreError

    from .api import Assistant

    try:
        return Assistant.open(_settings(index_dir), persist_conversations=persist_conversations)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc


index_option = click.option("--index", "index_dir", type=click.Path(path_type=Path), default=None,
                            help="Index directory (default: HTX_INDEX_DIR or .htx/index).")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Hỏi đáp văn bản chính sách hợp tác xã, kèm trích dẫn điều khoản.

    Answers questions about Vietnamese cooperative policy documents with the clause they come from.
    """


@cli.command()
@click.option("--corpus", "corpus_dirs", multiple=True, type=click.Path(path_type=Path, file_okay=False),
              help="A folder of documents; repeat for several (default: corpus/).")
@index_option
def ingest(corpus_dirs: tuple[Path, ...], index_dir: Path | None) -> None:
    """Build or update the index from the corpus folders (incremental, atomic)."""
    from index.ingest import IngestError, ingest as run_ingest

    settings = _settings(index_dir)
    dirs = list(corpus_dirs) or list(settings.corpus_dirs)
    for folder in dirs:
        if not folder.is_dir():
            raise click.ClickException(f"corpus folder not found: {folder}")
    try:
        report = run_ingest(dirs, settings, progress=lambda msg: click.echo(msg, err=True))
    except IngestError as exc:
        raise click.ClickException(str(exc)) from exc
    for path, reason in report.skipped:
        click.echo(f"skipped {path}: {reason}", err=True)
    click.echo(
        f"indexed {report.documents} documents, {report.chunks} chunks "
        f"({report.embedded} embedded, {report.reused} reused, {len(report.removed_documents)} documents removed) "
        f"in {report.seconds:.1f} s"
    )
    if not report.ok:
        sys.exit(1)


@cli.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (the contract other tools use).")
@click.option("--k", type=click.IntRange(1, 20), default=None, help="Number of citations (default 5).")
@click.option("--doc", "doc_ids", multiple=True, help="Only this document id (repeatable).")
@click.option("--locality", "localities", multiple=True, help="Only documents of this locality (repeatable).")
@index_option
def ask(question: str, as_json: bool, k: int | None, doc_ids: tuple[str, ...], localities: tuple[str, ...],
        index_dir: Path | None) -> None:
    """Answer QUESTION with citations."""
    from .api import clean_question
    from .models import Filters, QuestionError

    try:
        # Refused before the index is loaded: fast, and a message instead of a stack trace.
        clean_question(question, _settings(index_dir).max_question_chars)
    except QuestionError as exc:
        raise click.UsageError(str(exc)) from exc
    assistant = _open_assistant(index_dir)
    try:
        answer = assistant.ask(question, k=k, filters=Filters(doc_ids=list(doc_ids), localities=list(localities)))
    except QuestionError as exc:
        raise click.UsageError(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(answer.model_dump(mode="json"), ensure_ascii=False))
        return
    click.echo(answer.answer)
    for n, c in enumerate(answer.citations, start=1):
        click.echo(f"\n[{n}] {c.doc_title}, {c.clause_label} (score {c.score:.3f})")
        click.echo(f"    {c.text[:400]}{'…' if len(c.text) > 400 else ''}")


@cli.command()
@index_option
def documents(index_dir: Path | None) -> None:
    """List the indexed documents."""
    assistant = _open_assistant(index_dir)
    counts: dict[str, int] = {}
    for chunk in assistant.retriever.chunks:
        counts[chunk.doc_id] = counts.get(chunk.doc_id, 0) + 1
    for meta in assistant.documents():
        issued = meta.issued.isoformat() if meta.issued else (meta.issued_text or "")
        click.echo(f"{meta.doc_id}\t{meta.doc_type or ''}\t{meta.number or ''}\t{meta.issuer or ''}\t{issued}\t"
                   f"{counts.get(meta.doc_id, 0)} chunks")


@cli.command()
@click.argument("doc_ids", nargs=-1, required=True, metavar="DOC_ID...")
@index_option
def remove(doc_ids: tuple[str, ...], index_dir: Path | None) -> None:
    """Remove documents from the index (ids as `htx documents` lists them).

    Atomic: a new generation without them replaces the current one; the other documents
    keep their vectors, nothing is re-embedded."""
    from index.ingest import IngestError, remove_documents
    from index.store import StoreError

    settings = _settings(index_dir)
    try:
        report = remove_documents(settings, doc_ids)
    except (IngestError, StoreError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"removed {', '.join(report.removed)} ({report.removed_chunks} chunks); the index now holds "
               f"{report.documents} documents, {report.chunks} chunks")
    for path in report.in_corpus:
        click.echo(f"warning: {path} is still in the corpus folder {path.parent}, which `htx ingest` reads by "
                   f"default: the next ingest will index it again; delete or move the file", err=True)
    for path in report.sources_elsewhere:
        click.echo(f"note: its source file {path} still exists: an ingest with --corpus {path.parent} "
                   f"will index it again", err=True)


@cli.command()
@index_option
def shell(index_dir: Path | None) -> None:
    """Ask questions interactively (empty line or Ctrl-D to quit)."""
    from .models import QuestionError

    assistant = _open_assistant(index_dir)
    click.echo(f"{len(assistant.documents())} văn bản, {assistant.chunk_count} đoạn. Hỏi gì cũng được (Enter để thoát).")
    while True:
        try:
            question = input("\n? ").strip()
        except EOFError:
            break
        if not question:
            break
        try:
            answer = assistant.ask(question)
        except QuestionError as exc:
            click.echo(str(exc))
            continue
        click.echo(answer.answer)
        for n, c in enumerate(answer.citations[:3], start=1):
            click.echo(f"  [{n}] {c.doc_title}, {c.clause_label}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="TCP port.")
@index_option
def serve(host: str, port: int, index_dir: Path | None) -> None:
    """Serve the web page and the JSON API (bots/web.py). Starts even before the first
    `htx ingest`: /health answers 503 until the index exists, then it is loaded."""
    from bots.web import serve as run_server

    run_server(_settings(index_dir), host=host, port=port)


@cli.command()
@index_option
def bot(index_dir: Path | None) -> None:
    """Run the Telegram bot (bots/telegram.py): TELEGRAM_BOT_TOKEN from the environment;
    long polling, or a webhook when HTX_TELEGRAM_WEBHOOK_URL is set."""
    from bots.telegram import MissingToken, build_application, configure_logging, run_bot

    settings = _settings(index_dir)
    try:
        configure_logging(settings)
        app = build_application(_open_assistant(index_dir), settings)
    except (MissingToken, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    run_bot(app, settings)


@cli.command()
@click.option("--csv", "as_csv", is_flag=True, help="Every vote with its question, answer and citations, as CSV.")
@index_option
def feedback(as_csv: bool, index_dir: Path | None) -> None:
    """👍/👎 feedback from the bot (stored under the index directory)."""
    from bots.feedback import FeedbackStore

    path = FeedbackStore.path_for(_settings(index_dir).index_dir)
    if not path.exists():
        raise click.ClickException(f"no feedback yet: {path} does not exist")
    store = FeedbackStore(path)
    if as_csv:
        store.write_csv(sys.stdout)
        return
    counts = store.counts()
    click.echo(f"{counts['answers']} answers, {counts['up']} 👍, {counts['down']} 👎 ({store.path})")
    for row in [r for r in store.voted() if r["vote"] < 0][:20]:
        click.echo(f"👎 {row['voted_at']}  {row['question']}")


@cli.command()
@click.option("--agency", default=None, help="Only this agency, in any spelling (\"Phòng NN&PTNT\", \"tai chinh\").")
@click.option("--locality", default=None, help="Only this locality or its province (\"Vĩnh Linh\", \"Quảng Trị\").")
@click.option("--csv", "as_csv", is_flag=True, help="CSV with a header row, for a spreadsheet.")
@index_option
def tasks(agency: str | None, locality: str | None, as_csv: bool, index_dir: Path | None) -> None:
    """The task register: every task the documents assign — agency, role, deadline, clause."""
    from .tasks import tasks_to_csv

    found = _open_assistant(index_dir).tasks(agency=agency, locality=locality)
    if as_csv:
        click.echo(tasks_to_csv(found), nl=False)
        return
    for t in found:
        role = "chủ trì" if t.role == "lead" else "phối hợp"
        summary = t.summary if len(t.summary) <= 300 else t.summary[:300].rsplit(" ", 1)[0] + " …"
        click.echo(f"{t.agency} ({role}): {summary}")
        click.echo(f"    thời hạn: {t.deadline or '—'} | {t.locality or '—'} | {t.doc_title}, {t.clause_label} | {t.url}")
    click.echo(f"{len(found)} nhiệm vụ" if found else "Không có nhiệm vụ nào khớp bộ lọc.", err=True)


@cli.command(name="eval")
@click.argument("questions_file", metavar="QUESTIONS.jsonl",
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object on the last line.")
@click.option("--conversations", is_flag=True,
              help="The file holds multi-turn conversations (evals/conversations.jsonl): compare clause hit@1 "
                   "of follow-up turns with first turns.")
@index_option
def evaluate(questions_file: Path, as_json: bool, conversations: bool, index_dir: Path | None) -> None:
    """Measure answers on a question set (evals/harness.py): clause hit@1/hit@5, expected
    answers, abstention precision/recall, false abstentions, latency."""
    from evals.harness import load_conversations, load_questions, print_report, run, run_conversations

    if conversations:
        # The eval's chats are not the officers': they stay in memory, the index directory untouched.
        summary = run_conversations(load_conversations(questions_file),
                                    _open_assistant(index_dir, persist_conversations=False))
        misses = summary.pop("misses")
        if as_json:
            click.echo(json.dumps(summary, ensure_ascii=False))
            return
        for key, value in summary.items():
            click.echo(f"{key:32} {value}")
        for miss in misses:
            click.echo(f"  {miss}")
        return
    try:
        questions = load_questions(questions_file)
    except (ValueError, UnicodeDecodeError) as exc:         # pydantic's ValidationError is a ValueError
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise click.ClickException(f"{questions_file}: không đọc được bộ câu hỏi ({first})") from exc
    if not questions:
        raise click.ClickException(f"{questions_file}: không có câu hỏi nào")
    assistant = _open_assistant(index_dir, persist_conversations=False)
    print_report(run(questions, assistant.ask), as_json, echo=click.echo)


def main() -> None:
    cli(prog_name="htx")
