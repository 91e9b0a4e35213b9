"""Shared fixtures: the real corpus, the real bundled model, one real index built per test session."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"

# The ONNX query encoder that ingest exports goes to a cache folder of this session, not the user's.
os.environ.setdefault("RLA_CACHE", tempfile.mkdtemp(prefix="rla-test-cache-"))


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    return CORPUS


@pytest.fixture(scope="session")
def built_index(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings whose index holds the whole bundled corpus (built once; do not modify it)."""
    from rag.ingest import ingest

    settings = Settings(corpus=CORPUS, index=tmp_path_factory.mktemp("index") / "index")
    ingest(settings)
    return settings


@pytest.fixture(scope="session")
def retriever(built_index: Settings):  # type: ignore[no-untyped-def]
    from rag.retrieve import Retriever

    return Retriever(built_index)


@pytest.fixture()
def index_copy(built_index: Settings, tmp_path: Path) -> Settings:
    """A private copy of the session index, for tests that change or damage it."""
    from dataclasses import replace

    dest = tmp_path / "index"
    shutil.copytree(built_index.index, dest)
    return replace(built_index, index=dest)


@pytest.fixture()
def small_corpus(tmp_path: Path) -> Path:
    """Two real seed files in a private corpus folder (quick to ingest)."""
    dest = tmp_path / "corpus"
    dest.mkdir()
    for name in ("nspcc-repository-march-2022.txt", "cumbria-lessons-from-scrs.txt"):
        shutil.copy(CORPUS / name, dest / name)
    return dest


@pytest.fixture(scope="session")
def small_index(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings whose index holds two seed files only: quick to rewrite (built once; do not modify it)."""
    from rag.ingest import ingest

    root = tmp_path_factory.mktemp("small")
    corpus = root / "corpus"
    corpus.mkdir()
    for name in ("nspcc-repository-march-2022.txt", "cumbria-lessons-from-scrs.txt"):
        shutil.copy(CORPUS / name, corpus / name)
    settings = Settings(corpus=corpus, index=root / "index")
    ingest(settings)
    return settings


@pytest.fixture()
def small_copy(small_index: Settings, tmp_path: Path) -> Settings:
    """A private copy of the two-file index and its corpus, for tests that change either."""
    from dataclasses import replace

    shutil.copytree(small_index.corpus, tmp_path / "corpus")
    shutil.copytree(small_index.index, tmp_path / "index")
    return replace(small_index, corpus=tmp_path / "corpus", index=tmp_path / "index")
