"""Small helpers shared by tests (not fixtures)."""

from __future__ import annotations

from pathlib import Path

from rag.models import SourceText

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def seed_sources() -> list[SourceText]:
    return [SourceText(p.name, p.read_text(encoding="utf-8"), "", "txt") for p in sorted(CORPUS.glob("*.txt"))]
