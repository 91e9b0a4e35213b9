"""Review learning assistant: cited answers from child safeguarding case reviews.

The public API, loaded on first use (so `import rag` stays cheap):

    from rag import Settings, ingest, Retriever, Filters, answer, ledger, build_brief
    settings = Settings.from_env()
    ingest(settings)
    print(answer(Retriever(settings), "what did reviews say about fathers?").text)
"""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {
    "Settings": "rag.settings",
    "ingest": "rag.ingest",
    "Retriever": "rag.retrieve",
    "Filters": "rag.retrieve",
    "answer": "rag.answer",
    "ledger": "rag.ledger",
    "build_brief": "rag.brief",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'rag' has no attribute {name!r}")
    return getattr(importlib.import_module(_PUBLIC[name]), name)
