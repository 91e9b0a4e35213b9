"""Hits → a cited answer made only of source sentences, or an honest "the reviews don't cover this"."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rag.models import Answer, Citation, Hit, SectionKind
from rag.retrieve import Filters, Retriever, Scored

_NUMBERS = ["No", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten"]


@dataclass(frozen=True)
class _Candidate:
    hit: Hit
    start: int
    end: int
    text: str
    cos: float


def answer(
    retriever: Retriever,
    question: str,
    k: int = 6,
    filters: Filters | None = None,
    mode: str | None = None,
) -> Answer:
    """Compose an answer from the best sentence of each of the top hits, grouped found/recommended."""
    scored = retriever.search_scored(
        question, k=k, mode=mode, filters=filters, per_review=retriever.settings.answer_per_review
    )
    return answer_from(retriever, question, scored, k)


def answer_from(retriever: Retriever, question: str, scored: Scored, k: int = 6) -> Answer:
    """The answer for hits already retrieved (the first k of them), abstaining as `settings` calibrates."""
    abstain_below, weak_below = retriever.settings.abstain_below, retriever.settings.weak_below
    if not scored.hits or (scored.best < abstain_below and not scored.mentioned):
        why = (
            "no review matches the filters" if not scored.hits else "none of the indexed reviews appears to address it"
        )
        text = (
            f"The corpus does not answer this question: {why} (closest match {scored.best:.2f}, "
            f"threshold {abstain_below:.2f}). Try other words, or widen the filters."
        )
        return Answer(question, text, (), True)
    ans = _compose(question, pick_sentences(retriever, scored.hits[:k], scored.query_vector))
    if scored.best < weak_below and not scored.mentioned:
        notice = "the closest excerpts match this question only loosely; the reviews may not address it directly"
        ans = Answer(ans.question, ans.text, ans.citations, False, notice)
    return ans


def pick_sentences(retriever: Retriever, hits: list[Hit], qv: np.ndarray) -> list[_Candidate]:
    """For each hit, its sentence closest in meaning to the question; weak ones are dropped.

    A sentence is kept when it is within `settings.answer_floor` of the best sentence found, so a
    strong answer is not padded with loosely related excerpts.
    """
    picked: list[_Candidate] = []
    for hit in hits:
        row = retriever.row_of[hit.chunk.id]
        s, e, cos = max(retriever.sentence_scores(row, qv), key=lambda t: t[2])
        picked.append(_Candidate(hit, s, e, retriever.data.sources[hit.chunk.source].text[s:e], cos))
    if not picked:
        return []
    top = max(c.cos for c in picked)
    kept = [c for c in picked if c.cos >= top - retriever.settings.answer_floor]
    return kept or picked[:1]


def _compose(question: str, picked: list[_Candidate]) -> Answer:
    recommended = [c for c in picked if c.hit.chunk.section == SectionKind.RECOMMENDATIONS]
    found = [c for c in picked if c not in recommended]
    citations: list[Citation] = []
    lines: list[str] = []
    reviews = len({c.hit.chunk.review_id for c in picked})
    lines.append(f"{_count(reviews)} {'review discusses' if reviews == 1 else 'reviews discuss'} this:")
    for heading, group in (("What the reviews found:", found), ("What the reviews recommended:", recommended)):
        if not group:
            continue
        lines.append("")
        lines.append(heading)
        for c in group:
            n = len(citations) + 1
            citations.append(Citation(n, c.text, c.hit, c.start, c.end))
            lines.append(f"- {' '.join(c.text.split())} [{n}]")
    return Answer(question, "\n".join(lines), tuple(citations), False)


def _count(n: int) -> str:
    return _NUMBERS[n] if n < len(_NUMBERS) else str(n)


def answer_markdown(ans: Answer) -> str:
    """The answer followed by its numbered sources, for the CLI and the web app."""
    if ans.abstained:
        return ans.text
    refs = []
    for c in ans.citations:
        refs.append(f"[{c.n}] {c.hit.chunk.citation_label}\n    “{' '.join(c.quote.split())}”")
    notice = f"\n\nNote: {ans.notice}" if ans.notice else ""
    return ans.text + notice + "\n\nSources:\n" + "\n".join(refs)
