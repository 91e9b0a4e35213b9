"""`rla` with the fake embedder installed, for tests that run ingests in child processes.

    python tests/fake_rla.py --model test-fake-hashed-words [GLOBAL OPTIONS] COMMAND …

(faults.rla_command(fake=True) builds that line.) Nothing test-only ships in rag/: this wraps the
real command line, and any other --model still loads the real model.
"""

from __future__ import annotations

import importlib
import os
import sys

from tests_support import PRELOAD_ENV, with_fake_embedder

import rag.embed
from rag.cli import main

if __name__ == "__main__":
    # Modules to import before the command runs (comma-separated): the real model's import brings in
    # scipy, which bm25s needs too, so without the model bm25s's first import falls inside the write of
    # a generation; a test that times that write (kill -9 at random moments) loads it here instead.
    for module in filter(None, os.environ.get(PRELOAD_ENV, "").split(",")):
        importlib.import_module(module)
    rag.embed.load_embedder = with_fake_embedder(rag.embed.load_embedder)  # type: ignore[assignment]
    sys.exit(main())
