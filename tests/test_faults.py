"""What an operator sees when things go wrong around `htx ingest`, with the real CLI in
real subprocesses: a SIGKILL mid-way loses nothing, two ingests at once are refused by the
lock, and a damaged index is reported with the command that rebuilds it, never a traceback."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
HTX = [sys.executable, "-m", "assistant"]
QUESTION = "Ai chủ trì hướng dẫn thành lập hợp tác xã?"
SMALL = ["quang-nam-cv-2651-ubnd-ktn-2020.txt", "kien-giang-kh-251-ubnd-2023.txt"]


def htx_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HTX_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONPATH=str(ROOT), **extra)
    return env


def htx(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([*HTX, *map(str, args)], env=htx_env(**env), cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


def generated_plans(folder: Path, files: int, clauses: int = 80) -> None:
    """Plans of `clauses` distinct numbered tasks each: enough passages to keep an ingest busy."""
    for n in range(1, files + 1):
        lines = ["KẾ HOẠCH", f"Phát triển hợp tác xã giai đoạn {2020 + n}"]
        lines += [f"{i}. Xã số {n}-{i} hỗ trợ {i * 7 % 50 + 1} hợp tác xã, kinh phí {i * 13 % 900 + 100} triệu đồng."
                  for i in range(1, clauses + 1)]
        (folder / f"generated-plan-{n}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def generation_dirs(index: Path) -> set[str]:
    return {p.name for p in index.glob("gen-*")}


def answer(index: Path) -> dict:
    done = htx("ask", QUESTION, "--json", "--index", index)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def small_index(tmp_path_factory) -> Path:
    """Two real documents ingested by `htx ingest`; tests work on copies."""
    base = tmp_path_factory.mktemp("faults")
    corpus = base / "corpus"
    corpus.mkdir()
    for name in SMALL:
        shutil.copy(CORPUS / name, corpus)
    done = htx("ingest", "--corpus", corpus, "--index", base / "index")
    assert done.returncode == 0, done.stderr
    return base


@pytest.fixture
def work(small_index, tmp_path) -> Path:
    shutil.copytree(small_index / "corpus", tmp_path / "corpus")
    shutil.copytree(small_index / "index", tmp_path / "index")
    (tmp_path / "index" / "ingest.lock").unlink(missing_ok=True)
    return tmp_path


def start_ingest(corpus: Path, index: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen([*HTX, "ingest", "--corpus", str(corpus), "--index", str(index)], env=htx_env(**env),
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_line(proc: subprocess.Popen, prefix: str, timeout: float = 300) -> str:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        if line.startswith(prefix):
            return line
    proc.kill()
    pytest.fail(f"ingest never printed {prefix!r}; it printed {''.join(seen)[-2000:]!r} (exit {proc.poll()})")


def test_sigkill_mid_ingest_keeps_the_previous_index_serving_and_the_next_ingest_completes(work):
    index, corpus = work / "index", work / "corpus"
    before = answer(index)
    pointer = (index / "CURRENT").read_text()
    [first_generation] = generation_dirs(index)
    generated_plans(corpus, 1, 40)

    proc = start_ingest(corpus, index)
    wait_for_line(proc, "generated-plan-1.txt: 40 clauses")   # mid-way: the new generation is being written
    assert proc.poll() is None, "the ingest finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(30) == -signal.SIGKILL
    proc.stdout.close()
    proc.stderr.close()

    assert (index / "CURRENT").read_text() == pointer
    assert len(generation_dirs(index) - {first_generation}) == 1     # the half-written one, abandoned
    # Still serving the previous generation: its two documents, and answers from them.
    assert sorted(line.split("\t")[0] for line in htx("documents", "--index", index).stdout.splitlines()) == \
        sorted(Path(name).stem for name in SMALL)
    after = answer(index)
    assert after["citations"] and {c["doc_id"] for c in after["citations"]} <= {Path(n).stem for n in SMALL}
    assert [c["chunk_id"] for c in after["citations"]] == [c["chunk_id"] for c in before["citations"]]

    done = htx("ingest", "--corpus", corpus, "--index", index)      # the kernel released the lock
    assert done.returncode == 0, done.stderr
    assert "indexed 3 documents" in done.stdout
    assert (index / "CURRENT").read_text() != pointer
    assert len(generation_dirs(index)) == 2                         # new + previous; the abandoned one deleted
    assert first_generation in generation_dirs(index)
    documents = htx("documents", "--index", index)
    assert "generated-plan-1" in documents.stdout


def test_a_second_ingest_while_one_runs_is_refused_with_a_message(work):
    index, corpus = work / "index", work / "corpus"
    pointer = (index / "CURRENT").read_text()
    generated_plans(corpus, 10)               # 800 passages: minutes of embedding, killed once checked
    first = start_ingest(corpus, index)
    try:
        wait_for_line(first, "generated-plan-1.txt: 80 clauses")
        second = htx("ingest", "--corpus", corpus, "--index", index)
        assert first.poll() is None, "the first ingest ended before the second tried: the lock was not exercised"
    finally:
        first.kill()
        first.wait(30)
        first.stdout.close()
        first.stderr.close()
    assert second.returncode != 0
    assert f"another ingest is running (pid {first.pid})" in second.stderr
    assert "Traceback" not in second.stderr
    assert (index / "CURRENT").read_text() == pointer


def _garbage_current(index: Path) -> None:
    (index / "CURRENT").write_text("\x00\x17garbage{", encoding="utf-8")


def _deleted_generation(index: Path) -> None:
    for gen in generation_dirs(index):
        shutil.rmtree(index / gen)


def _garbage_database(index: Path) -> None:
    for db in index.glob("gen-*/chroma/chroma.sqlite3"):
        db.write_bytes(b"this is not a database" * 100)


def _missing_index(index: Path) -> None:
    shutil.rmtree(index)


@pytest.mark.parametrize("damage", [_garbage_current, _deleted_generation, _garbage_database, _missing_index],
                         ids=["garbage CURRENT", "deleted generation", "garbage database", "no index dir"])
def test_a_damaged_index_is_reported_with_how_to_rebuild_it(work, damage):
    index = work / "index"
    damage(index)
    done = htx("ask", QUESTION, "--index", index)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "htx ingest" in done.stderr, done.stderr
    assert done.stdout == ""
    if damage is not _garbage_database:
        return
    # …and the command it names does rebuild even a store whose database is garbage.
    rebuilt = htx("ingest", "--corpus", work / "corpus", "--index", index)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert answer(index)["citations"]
