"""Small helpers shared by tests (not fixtures): the seed sources, and a deterministic fake embedder."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from rag.embed import Embedder
from rag.models import SourceText
from rag.settings import DEFAULT_MODEL

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def seed_sources() -> list[SourceText]:
    return [SourceText(p.name, p.read_text(encoding="utf-8"), "", "txt") for p in sorted(CORPUS.glob("*.txt"))]


# --- a fake embedder, for tests about plumbing (locking, crashes, encodings), never about retrieval -----

# The model name a test's Settings (or `rla --model`) give to get the fake; the index manifest records it,
# so opening that index with the real model fails loudly (IndexMismatch) instead of mixing vectors.
FAKE_MODEL = "test-fake-hashed-words"
# While the file this names exists, the fake's embed_batch waits (after creating `<file>.embedding`):
# a test can so catch an ingest in the middle of its embedding, however fast or loaded the machine is.
HOLD_ENV = "RLA_TEST_FAKE_EMBED_HOLD"
# Modules tests/fake_rla.py imports before it runs the command (comma-separated).
PRELOAD_ENV = "RLA_TEST_FAKE_PRELOAD"

_WORD = re.compile(r"\w+")
_MODEL_TOKEN = re.compile(r"\w+|[^\w\s]")


@dataclass
class HashedWordsEmbedder:
    """Each lower-cased word adds ±1 to one of `dim` dimensions chosen by its BLAKE2 hash; rows are
    L2-normalised. The same text gives the same vector in every process (no model, no torch), and
    texts that share words are close, so dense search still ranks a text with the query's rare word first."""

    name: str = FAKE_MODEL
    dim: int = 384
    max_tokens: int = 256
    weights_sha256: str | None = None  # no weights: ingest makes no ONNX query encoder for it

    def embed_batch(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        _wait_while_held()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
                out[row, h % self.dim] += 1.0 if h >> 63 else -1.0
        out[~out.any(axis=1), 0] = 1.0  # a text without words still gets a unit vector
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def fits(self, text: str) -> bool:
        """A word-piece model's limit, roughly: a token per word or punctuation mark, plus two specials."""
        return len(_MODEL_TOKEN.findall(text)) + 2 <= self.max_tokens


def _wait_while_held() -> None:
    hold = os.environ.get(HOLD_ENV)
    if not hold:
        return
    Path(hold + ".embedding").touch()
    while os.path.exists(hold):
        time.sleep(0.02)


_FAKE = HashedWordsEmbedder()

Loader = Callable[..., Embedder]


def with_fake_embedder(load: Loader) -> Loader:
    """A stand-in for `rag.embed.load_embedder` that gives the fake for FAKE_MODEL and defers to `load`
    for any other model, so installing it changes nothing for tests that use the real one."""

    def load_embedder(model: str = DEFAULT_MODEL, verify: bool = True) -> Embedder:
        return _FAKE if model == FAKE_MODEL else load(model, verify=verify)

    return load_embedder


def load_eval_script(name: str) -> ModuleType:
    """eval/<name>.py (a script, not a package module) imported under its own name."""
    path = Path(__file__).resolve().parent.parent / "eval" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module
