"""Shared fixtures: one real index of corpus/ per test session, built with the default embedder."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"
SHARED = REPO.parent / "shared"

# The tests must never reach a model hub; the bundled models are on disk.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def settings_for():
    """Settings pointing at a given index dir, isolated from the developer's environment."""
    from index.settings import Settings

    def make(index_dir: Path, **overrides) -> Settings:
        return Settings(index_dir=index_dir, chroma_url=None, **overrides)

    return make


def built_once(tmp_path_factory, name: str, build) -> Path:
    """`build(folder)` run once per test run, even when `make test` spreads the files over
    pytest-xdist workers (the first to come builds, the others wait for it), then copied to a
    folder of this process's own: what one worker writes there (chats) no other one sees."""
    import fcntl
    import shutil

    own_root = tmp_path_factory.getbasetemp()
    # Workers' base temps are siblings under one run folder; a single process has only its own.
    run_root = own_root.parent if os.environ.get("PYTEST_XDIST_WORKER") else own_root
    built = run_root / f"{name}-built"
    with open(run_root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (built / ".complete").exists():
            shutil.rmtree(built, ignore_errors=True)
            build(built)
            (built / ".complete").touch()
    copy = tmp_path_factory.mktemp(name)
    shutil.copytree(built, copy, dirs_exist_ok=True)
    return copy


@pytest.fixture(scope="session")
def built_index(tmp_path_factory, settings_for) -> Path:
    """The five documents of corpus/ ingested once; tests must not modify this index."""
    from index.ingest import ingest

    def build(index_dir: Path) -> None:
        report = ingest([CORPUS], settings_for(index_dir))
        assert report.ok and report.documents == 5

    return built_once(tmp_path_factory, "index", build)


@pytest.fixture(scope="session")
def assistant(built_index, settings_for):
    from assistant.api import Assistant

    return Assistant.open(settings_for(built_index))


# A corpus of two tiny plans, small enough for the ingest and remove specs to index for real
# (parser, Chroma, default embedder) in a second, and to change file by file.
PLAN = """\
KẾ HOẠCH
Phát triển kinh tế tập thể năm 2024
1. Hỗ trợ thành lập mới hợp tác xã nông nghiệp.
2. Đào tạo cán bộ quản lý hợp tác xã.
3. Kinh phí thực hiện từ ngân sách tỉnh.
"""
LETTER = """\
CÔNG VĂN
Về việc báo cáo tình hình hợp tác xã
1. Các xã báo cáo số lượng hợp tác xã trước ngày 15.
"""


@pytest.fixture
def corpus(tmp_path) -> Path:
    """plan.txt and letter.txt in a folder of this test's own, free to change."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "plan.txt").write_text(PLAN, encoding="utf-8")
    (folder / "letter.txt").write_text(LETTER, encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def embedder():
    # Loading the model is the slow part of a small ingest: once per session.
    from index.embedders import load_embedder

    return load_embedder()


class CountingEmbedder:
    """The real embedder, recording every passage it is asked to embed."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.texts: list[str] = []

    def get_text_embedding_batch(self, texts, **kwargs):
        self.texts.extend(texts)
        return self.inner.get_text_embedding_batch(texts, **kwargs)


@pytest.fixture
def counting(embedder) -> CountingEmbedder:
    return CountingEmbedder(embedder)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_chroma_server(data_dir: Path):
    """A real `chroma run` on a loopback port, yielding its URL; for module-scoped fixtures."""
    import shutil
    import subprocess
    import sys
    import time
    import urllib.request

    binary = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    if not Path(binary).exists():
        pytest.skip("the `chroma` CLI is not installed (it comes with chromadb); server-mode specs skipped")
    port = free_port()
    with open(data_dir / "server.log", "w") as log:
        proc = subprocess.Popen([binary, "run", "--path", str(data_dir / "db"), "--host", "127.0.0.1",
                                 "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"chroma server did not start: {(data_dir / 'server.log').read_text()[-2000:]}")
            time.sleep(0.05)
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
