"""Hits → a cited answer made only of source sentences, or an honest "the reviews don't cover this"."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from rag.ledger import Coverage, coverage, detect_themes
from rag.models import Answer, Citation, Hit, SectionKind
from rag.retrieve import Filters, Retriever, Scored
from rag.settings import Settings
from rag.themes import evidence_terms, phrase_spans

_ASKS_FOR_LEARNING = re.compile(
    r"\b(?:say|says|said|learn\w*|lessons?|recommend\w*|found|find\w*|warn\w*|highlight\w*|identif\w*|draw)\b",
    re.IGNORECASE,
)
_NARRATIVE = frozenset({SectionKind.BACKGROUND, SectionKind.SUMMARY, SectionKind.METHODOLOGY, SectionKind.OTHER})
_WORDS = re.compile(r"(?u)\b\w+\b")
_MIN_WORDS = 6  # a shorter quote is a fragment of a list, not a statement
# "Learning includes:", "Key issues:", "Recommendations include the need to:" — a label, not part of the point.
_LEAD_IN = re.compile(r"\s*(?:[^\s.;:]+\s+){0,5}?(?:[^\s.;:]+):\s+", re.IGNORECASE)
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
    return answer_from(retriever, question, retrieve_for_answer(retriever, question, k, mode, filters), k, filters)


def retrieve_for_answer(
    retriever: Retriever, question: str, k: int = 6, mode: str | None = None, filters: Filters | None = None
) -> Scored:
    """The one retrieval behind an answer (extractive, LLM, and as the evaluation scores it): 2k hits, so that
    learning can come before case narrative. A question in everyday words is searched with the names of the
    themes it is about, which the reviews use."""
    themes = detect_themes(retriever, question)
    unnamed = [t.name for t in themes if not phrase_spans(question, evidence_terms(t))]
    query = f"{question} ({'; '.join(unnamed)})" if unnamed else question
    return retriever.search_scored(
        query, k=2 * k, mode=mode, filters=filters, per_review=retriever.settings.answer_per_review
    )


def answer_from(
    retriever: Retriever,
    question: str,
    scored: Scored,
    k: int = 6,
    filters: Filters | None = None,
    cov: Coverage | None = None,
) -> Answer:
    """The answer for hits already retrieved (the first k of them), or an abstention (`abstention`).
    `cov` is the question's `coverage`, when the caller has it already."""
    if not scored.hits:
        text = "The corpus does not answer this question: no review matches the filters; widen them or remove some."
        return Answer(question, text, (), True)
    cov = coverage(retriever, question, filters) if cov is None else cov
    refusal = abstention(retriever.settings, scored, cov)
    if refusal is not None:
        return Answer(question, refusal, (), True)
    hits = learning_first(question, scored.hits[: 2 * k], k)
    ans = _compose(question, pick_sentences(retriever, hits, scored.query_vector), cov)
    notices = [f"No review in this collection addresses {t}." for t in cov.uncovered]
    if scored.best < retriever.settings.weak_below and not scored.mentioned and not cov.ledger.entries:
        notices.append(
            "The closest excerpts match this question only loosely; the reviews may not address it directly."
        )
    if notices:  # before any bullet, in the text itself, so that every reader of the answer sees it first
        ans = Answer(ans.question, f"Note: {' '.join(notices)}\n\n{ans.text}", ans.citations, False)
    return ans


def abstention(settings: Settings, scored: Scored, cov: Coverage) -> str | None:
    """Why the question is not answered (the text to show), or None to answer it (README: "Abstention").

    1. It names topics (themes, or a short topic) and no review addresses any of them, and no excerpt scores
       `settings.answer_above`.
    2. No excerpt scores `settings.abstain_below`, no chunk mentions its topic, and it names no covered theme
       in words the collection uses ("What role did the GP have?" is answered however loosely it matches).
    3. What it asks about lies in words no review contains: without them the question keeps less than
       `settings.unknown_share_below` of its meaning ("…a child with type 1 diabetes who needs insulin"),
       and no excerpt scores `settings.answer_above`. The everyday words it shares with the collection
       ("school", "foster carers") do not make it answerable."""
    # (An excerpt scoring `answer_above` covers the question in other words: answered, with the notice.)
    if cov.silent and scored.best < settings.answer_above:
        return _silent_text(cov)
    # A theme reached through everyday wording counts too ("keeps agreeing to everything but nothing changes").
    # A service or group it names ("school", "teenagers") counts only when the question is about it.
    named_covered = bool(
        cov.asked
        and cov.ledger.entries
        and (cov.everyday or not cov.unknown)
        and cov.context_share >= settings.context_share_min
    )
    if scored.best < settings.abstain_below and not scored.mentioned and not named_covered:
        unknown = f"; none mentions {_quoted(cov.unknown)}" if cov.unknown else ""
        return (
            f"The corpus does not answer this question: no review in this collection appears to address it{unknown} "
            f"(closest match {scored.best:.2f}, threshold {settings.abstain_below:.2f}). Try other words, or widen "
            "the filters."
        )
    if cov.unknown_share < settings.unknown_share_below and scored.best < settings.answer_above:
        return _absent_text(cov)
    return None


def _quoted(words: tuple[str, ...]) -> str:
    shown = [f"“{w}”" for w in words[:4]]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]


def _absent_text(cov: Coverage) -> str:
    lines = [f"No review in this collection addresses {_quoted(cov.unknown)}: no review contains the words."]
    covered = [a for a in cov.asked if a not in cov.uncovered]
    if covered and cov.ledger.entries:
        lines += ["", "Related themes that are covered (see `rla ledger`):"]
        lines += [f"  {cov.label}: {len(cov.ledger.entries)} review{'s' if len(cov.ledger.entries) != 1 else ''}"]
    return "\n".join(lines)


def _silent_text(cov: Coverage) -> str:
    lines = [f"No review in this collection addresses {', '.join(cov.uncovered)}."]
    if cov.related:
        lines += ["", "Related themes that are covered (see `rla ledger`):"]
        lines += [f"  {name}: {n} review{'s' if n != 1 else ''}" for name, n in cov.related[:5]]
    return "\n".join(lines)


def learning_first(question: str, hits: list[Hit], k: int) -> list[Hit]:
    """The k hits to quote. A question about what reviews said, learned or recommended quotes learning,
    findings and recommendations first, then key issues, then case narrative (background, case summaries)."""
    if not _ASKS_FOR_LEARNING.search(question):
        return hits[:k]
    rank: dict[str, int] = {SectionKind.KEY_ISSUES: 1, **dict.fromkeys(_NARRATIVE, 2)}
    return sorted(hits, key=lambda h: rank.get(h.chunk.section, 0))[:k]  # stable: retrieval order within a rank


def pick_sentences(retriever: Retriever, hits: list[Hit], qv: np.ndarray) -> list[_Candidate]:
    """For each hit, its sentence closest in meaning to the question, as a whole statement; weak ones dropped.

    A fragment ("parental mental health problems;") gives way to the chunk's next closest sentence that
    states something, and a label lead-in ("Learning includes:") is left out of the quote, which stays
    a verbatim slice of the source. A sentence is kept when it is within `settings.answer_floor` of the
    best sentence found, so a strong answer is not padded with loosely related excerpts.
    """
    picked: list[_Candidate] = []
    for hit in hits:
        row = retriever.row_of[hit.chunk.id]
        text = retriever.data.sources[hit.chunk.source].text
        ranked = sorted(retriever.sentence_scores(row, qv), key=lambda t: -t[2])
        spans = [_statement(text, s, e) for s, e, _ in ranked]
        best = next((i for i, (s, e) in enumerate(spans) if len(_WORDS.findall(text[s:e])) >= _MIN_WORDS), 0)
        (s, e), cos = spans[best], ranked[best][2]
        picked.append(_Candidate(hit, s, e, text[s:e], cos))
    if not picked:
        return []
    top = max(c.cos for c in picked)
    kept = [c for c in picked if c.cos >= top - retriever.settings.answer_floor]
    return kept or picked[:1]


def _statement(text: str, start: int, end: int) -> tuple[int, int]:
    """The span without a short label lead-in ("Learning includes: …", "Key issues:") when a statement follows."""
    m = _LEAD_IN.match(text, start, end)
    if m and len(_WORDS.findall(text[m.end() : end])) >= _MIN_WORDS:
        return m.end(), end
    return start, end


def _coverage_line(cited: int, cov: Coverage) -> str:
    """ "Showing 6 of the 35 reviews that address fathers (full list: rla ledger "fathers")." """
    total = len(cov.ledger.entries)
    if not total:
        return f"{_count(cited)} {'review discusses' if cited == 1 else 'reviews discuss'} this:"
    pointer = f'(full list: rla ledger "{cov.topic}")'
    if total >= cited:
        return f"Showing {cited} of the {total} reviews that address {cov.label} {pointer}:"
    return f"Showing {cited} reviews; {total} in the collection address {cov.label} by name {pointer}:"


def _compose(question: str, picked: list[_Candidate], cov: Coverage) -> Answer:
    recommended = [c for c in picked if c.hit.chunk.section == SectionKind.RECOMMENDATIONS]
    found = [c for c in picked if c not in recommended]
    citations: list[Citation] = []
    lines: list[str] = []
    reviews = len({c.hit.chunk.review_id for c in picked})
    lines.append(_coverage_line(reviews, cov))
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
