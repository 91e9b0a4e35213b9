"""A topic → every review that addresses it (not top-k), one cited excerpt each, counted by year and area."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from rag.lexical import expand_query, topic_core
from rag.models import Hit
from rag.retrieve import Filters, Retriever, clean_query


@dataclass(frozen=True)
class LedgerEntry:
    review_id: str
    title: str
    year: int | None
    area: str
    type: str | None
    score: float
    hit: Hit

    def to_dict(self) -> dict[str, Any]:
        d = self.hit.to_dict()
        d.update({"review_id": self.review_id, "title": self.title, "score": round(self.score, 4)})
        return d


@dataclass(frozen=True)
class Ledger:
    topic: str
    entries: tuple[LedgerEntry, ...]

    @property
    def by_year(self) -> dict[str, int]:
        c = Counter(str(e.year) if e.year else "not stated" for e in self.entries)
        return dict(sorted(c.items()))

    @property
    def by_area(self) -> dict[str, int]:
        c = Counter(e.area for e in self.entries)
        return dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "reviews": len(self.entries),
            "by_year": self.by_year,
            "by_area": self.by_area,
            "entries": [e.to_dict() for e in self.entries],
        }


def ledger(retriever: Retriever, topic: str, filters: Filters | None = None) -> Ledger:
    """Every review that addresses the topic. A review is listed when one of its chunks scores at least
    `settings.ledger_cosine` against the topic (exact, over every chunk, whatever the vector index), or when a
    chunk's text (or its review's title) contains every content word of the topic or of one of its synonyms.
    Calibrated on the topic questions of eval/questions.jsonl (README: "The ledger")."""
    topic = clean_query(topic)
    core = topic_core(topic)
    data = retriever.data
    dense = retriever.dense_scores([core])[0]
    lex = retriever.bm25.scores(expand_query(core))
    allowed = retriever.mask(filters)
    mask = np.ones(len(data.chunks), dtype=bool) if allowed is None else allowed
    mentions = retriever.mentions(core)
    min_cosine = retriever.settings.ledger_cosine
    # A review is on the ledger if any of its chunks is on topic; its excerpt is the chunk whose own
    # text is closest to the topic (BM25 also sees titles and keywords, which are not quotable).
    on_topic = mask & ((dense >= min_cosine) | mentions)
    reviews_on = {data.chunks[row].review_id for row in np.flatnonzero(on_topic)}
    lex_max = float(lex.max()) if len(lex) else 0.0
    best: dict[str, tuple[float, int]] = {}
    for row, chunk in enumerate(data.chunks):
        if not mask[row] or chunk.review_id not in reviews_on:
            continue
        score = float(dense[row]) + (0.5 * float(lex[row]) / lex_max if lex_max > 0 else 0.0)
        if chunk.review_id not in best or score > best[chunk.review_id][0]:
            best[chunk.review_id] = (score, row)
    ordered = sorted(best.items(), key=lambda kv: -kv[1][0])
    entries = []
    for rank, (rid, (score, row)) in enumerate(ordered, start=1):
        chunk = data.chunks[row]
        entries.append(
            LedgerEntry(rid, chunk.title, chunk.year, chunk.area, chunk.type, score, Hit(chunk, score, rank))
        )
    return Ledger(topic, tuple(entries))


def ledger_text(led: Ledger) -> str:
    if not led.entries:
        return f"No review in the index addresses “{led.topic}”."
    lines = [f"{len(led.entries)} reviews address “{led.topic}”.", ""]
    lines.append("By year: " + ", ".join(f"{y}: {n}" for y, n in led.by_year.items()))
    lines.append("By area: " + ", ".join(f"{a}: {n}" for a, n in led.by_area.items()))
    lines.append("")
    for e in led.entries:
        c = e.hit.chunk
        meta = ", ".join(str(x) for x in (e.title, e.year, e.area, c.section) if x)
        text = " ".join(c.text.split())
        text = text if len(text) <= 300 else re.sub(r"\s+\S*$", "", text[:300]) + " …"
        lines.append(f"- {meta} ({e.review_id}; {c.source})\n    “{text}”")
    return "\n".join(lines)
