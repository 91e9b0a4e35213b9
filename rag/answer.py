"""Hits → a cited answer made only of source sentences, or an honest "the reviews don't cover this"."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from rag.chunk import sentence_spans
from rag.lexical import expand_query
from rag.models import Answer, Citation, Hit
from rag.retrieve import Filters, Retriever

# Below this cosine similarity between the question and the best chunk, the corpus is taken not to
# address the question. Calibrated on eval/questions.jsonl (see README: "Abstention").
ABSTAIN_BELOW = 0.38

_FOUND = ("summary", "background", "key issues", "learning", "good practice", "other")
_NUMBERS = ["No", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten"]
_WORD = re.compile(r"(?u)\b\w\w+\b")


@dataclass(frozen=True)
class _Candidate:
    hit: Hit
    start: int
    end: int
    text: str


def answer(
    retriever: Retriever,
    question: str,
    k: int = 6,
    filters: Filters | None = None,
    mode: str | None = None,
    abstain_below: float = ABSTAIN_BELOW,
) -> Answer:
    """Compose an answer from the best sentence of each of the top hits, grouped found/recommended."""
    hits, best, _ = retriever.search_scored(question, k=max(k, 8), mode=mode, filters=filters)
    if not hits or best < abstain_below:
        why = "no review matches the filters" if not hits else "none of the indexed reviews appears to address it"
        text = (
            f"The corpus does not answer this question: {why} (closest match {best:.2f}, "
            f"threshold {abstain_below:.2f}). Try other words, or widen the filters."
        )
        return Answer(question, text, (), True)
    picked = _pick_sentences(retriever, question, hits[:k])
    return _compose(question, picked)


def _sentences(retriever: Retriever, hit: Hit) -> list[tuple[int, int]]:
    src = retriever.data.sources[hit.chunk.source]
    spans = sentence_spans(src.text, hit.chunk.start, hit.chunk.end)
    # A very short fragment ("7.", a list number) is joined to the sentence after it.
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and merged[-1][1] - merged[-1][0] < 25:
            merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged


def _pick_sentences(retriever: Retriever, question: str, hits: list[Hit]) -> list[_Candidate]:
    """For each hit, the sentence closest to the question (meaning first, shared words as tie-break)."""
    cands: list[_Candidate] = []
    owners: list[int] = []
    for i, hit in enumerate(hits):
        src = retriever.data.sources[hit.chunk.source]
        for s, e in _sentences(retriever, hit):
            cands.append(_Candidate(hit, s, e, src.text[s:e]))
            owners.append(i)
    if not cands:
        return []
    q_terms = {w.lower() for w in _WORD.findall(expand_query(question))}
    vecs = retriever.embed_queries([question] + [" ".join(c.text.split()) for c in cands])
    sims = vecs[1:] @ vecs[0]
    overlap = np.array([len(q_terms & {w.lower() for w in _WORD.findall(c.text)}) for c in cands], dtype=np.float32)
    score = sims + 0.02 * np.minimum(overlap, 5)
    picked = []
    for i in range(len(hits)):
        rows = [j for j, o in enumerate(owners) if o == i]
        if rows:
            picked.append(cands[max(rows, key=lambda j: score[j])])
    return picked


def _compose(question: str, picked: list[_Candidate]) -> Answer:
    found = [c for c in picked if c.hit.chunk.section in _FOUND]
    recommended = [c for c in picked if c.hit.chunk.section not in _FOUND]
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
        ch = c.hit.chunk
        where = ch.source + (f", p. {ch.page}" if ch.page else "")
        meta = ", ".join(str(x) for x in (ch.title, ch.year, ch.area, ch.section) if x)
        refs.append(f"[{c.n}] {meta} — {where}\n    “{' '.join(c.quote.split())}”")
    notice = f"\n\nNote: {ans.notice}" if ans.notice else ""
    return ans.text + notice + "\n\nSources:\n" + "\n".join(refs)
