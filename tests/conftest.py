"""Shared fixtures: the real corpus, the real bundled model, one real index built per test session;
and, for plumbing tests only, the same small index built with a fake embedder (tests_support)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from tests_support import FAKE_MODEL, with_fake_embedder

from rag.settings import DEFAULT_MODEL, Settings

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
    dest = tmp_path / "index"
    shutil.copytree(built_index.index, dest)
    return replace(built_index, index=dest)


SMALL_FILES = ("nspcc-repository-march-2022.txt", "cumbria-lessons-from-scrs.txt")


def _copy_small_corpus(dest: Path) -> Path:
    dest.mkdir()
    for name in SMALL_FILES:
        shutil.copy(CORPUS / name, dest / name)
    return dest


def _small_index(root: Path, model: str) -> Settings:
    from rag.ingest import ingest

    settings = Settings(corpus=_copy_small_corpus(root / "corpus"), index=root / "index", model=model)
    ingest(settings)
    return settings


def _private_copy(settings: Settings, tmp_path: Path) -> Settings:
    shutil.copytree(settings.corpus, tmp_path / "corpus")
    shutil.copytree(settings.index, tmp_path / "index")
    return replace(settings, corpus=tmp_path / "corpus", index=tmp_path / "index")


@pytest.fixture()
def small_corpus(tmp_path: Path) -> Path:
    """Two real seed files in a private corpus folder (quick to ingest)."""
    return _copy_small_corpus(tmp_path / "corpus")


@pytest.fixture(scope="session")
def small_index(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings whose index holds two seed files only: quick to rewrite (built once; do not modify it)."""
    return _small_index(tmp_path_factory.mktemp("small"), DEFAULT_MODEL)


@pytest.fixture()
def small_copy(small_index: Settings, tmp_path: Path) -> Settings:
    """A private copy of the two-file index and its corpus, for tests that change either."""
    return _private_copy(small_index, tmp_path)


# --- the fake embedder: for tests where the model adds nothing (locking, crashes, encodings, uploads) ---


@pytest.fixture(scope="session")
def fake_model() -> Iterator[str]:
    """The fake embedder's model name, for Settings(model=…); `rag.embed.load_embedder` gives the fake
    for that name from here to the end of the session (any other name still loads the real model).
    Child processes get it through faults.rla(…, fake=True)."""
    import rag.embed

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rag.embed, "load_embedder", with_fake_embedder(rag.embed.load_embedder))
        yield FAKE_MODEL


@pytest.fixture(scope="session")
def fake_small_index(fake_model: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The two-file index of `small_index`, its vectors from the fake embedder (built once; do not modify it)."""
    return _small_index(tmp_path_factory.mktemp("fake-small"), fake_model)


@pytest.fixture()
def fake_small_copy(fake_small_index: Settings, tmp_path: Path) -> Settings:
    """A private copy of the fake-embedder two-file index and its corpus, for tests that change either."""
    return _private_copy(fake_small_index, tmp_path)


# Debian's Chromium, driven by Playwright (its own browser download is not reachable here): one per test module,
# closed with it, so that Playwright's event loop never outlives the browser tests.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("Chromium is not installed (make browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
