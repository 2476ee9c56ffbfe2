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


@pytest.fixture(scope="session")
def built_index(tmp_path_factory, settings_for) -> Path:
    """The five documents of corpus/ ingested once; tests must not modify this index."""
    from index.ingest import ingest

    index_dir = tmp_path_factory.mktemp("index")
    report = ingest([CORPUS], settings_for(index_dir))
    assert report.ok and report.documents == 5
    return index_dir


@pytest.fixture(scope="session")
def assistant(built_index, settings_for):
    from assistant.api import Assistant

    return Assistant.open(settings_for(built_index))
