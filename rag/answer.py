"""Hits → a cited answer made only of source sentences, or an honest "the reviews don't cover this"."""

from __future__ import annotations

import threading
import weakref
from collections import Counter, OrderedDict
from collections.abc import Iterable
from dataclasses import replace

from rag.ledger import Coverage, coverage, detect_themes
from rag.models import COUNTED_KINDS, Answer, AnswerCoverage, Citation, Hit, SectionKind, counted_as
from rag.quotes import ASKS_FOR_RECOMMENDATIONS, Bullet, by_theme, learning_rank, select, statements
from rag.retrieve import Filters, Retriever, Scored
from rag.settings import Settings
from rag.themes import Theme, evidence_terms, phrase_spans
from rag.ui_text import count_noun, plural, records_text

CASES_HEADING = "What happened in the cases:"
_NUMBERS = ["No", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten"]


def answer(
    retriever: Retriever,
    question: str,
    k: int = 10,
    filters: Filters | None = None,
    mode: str | None = None,
) -> Answer:
    """An answer of at most k whole statements quoted from the top 2k hits (`rag.quotes`), with its coverage."""
    return answer_from(retriever, question, retrieve_for_answer(retriever, question, k, mode, filters), k, filters)


def retrieve_for_answer(
    retriever: Retriever, question: str, k: int = 10, mode: str | None = None, filters: Filters | None = None
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
    k: int = 10,
    filters: Filters | None = None,
    cov: Coverage | None = None,
) -> Answer:
    """The answer for hits already retrieved (the first k of them), or an abstention (`abstention`).
    `cov` is the question's `coverage`, when the caller has it already."""
    if not scored.hits:
        text = "The corpus does not answer this question: no review matches the filters; widen them or remove some."
        return Answer(question, text, (), True)
    cov = cached_coverage(retriever, question, filters) if cov is None else cov
    refusal = abstention(retriever.settings, scored, cov)
    if refusal is not None:
        if filters is not None and filters.active():  # said only when there are filters to widen
            refusal += "\n\nOnly the records the filters allow were searched: widen or remove them to search more."
        return Answer(question, refusal, (), True)
    themes = detect_themes(retriever, question)
    ans = _compose(retriever, question, scored, k, themes, cov, filters)
    return replace(ans, text=with_notices(notices(retriever, scored, cov, themes), ans.text))


def notices(retriever: Retriever, scored: Scored, cov: Coverage, themes: tuple[Theme, ...]) -> list[str]:
    """What an answer says before anything else (extractive or written by a language model): a topic it names
    that no review addresses, a guessed theme no review addresses, a weak match."""
    about_context = cov.about_context(retriever.settings)
    # A theme no review addresses is said to be addressed by none; a question's own words that no review uses
    # (it names no theme), answered because excerpts match it in meaning ("dogs and babies"), are only a phrase.
    missing = (
        "No review in this collection addresses {}."
        if themes
        else "No review uses the phrase {}; the excerpts below are the closest in meaning."
    )
    out = [missing.format(_quoted((t,))) for t in cov.uncovered if about_context or t not in cov.context]
    # A theme reached by meaning alone is a guess at what the question asks: when no record addresses what it
    # asks, that theme is said to be addressed by no review, as a guess ("young asylum seekers who come here on
    # their own" → unaccompanied asylum-seeking children). A question naming a record asks about that record.
    if not (cov.ledger.entries or scored.named):
        out += [
            f"No review in this collection addresses {_quoted((t,))}, which this question seems to be about; the "
            "excerpts below are the closest in meaning."
            for t in cov.guessed_uncovered
        ]
    # Words no review contains that carry what the question asks, by both measures of `abstention` rule 3,
    # answered because an excerpt comes close in meaning: said first ("What did reviews say about stillbirth?").
    settings = retriever.settings
    if (
        cov.unknown_named
        and not scored.named
        and cov.unknown_share < settings.unknown_share_below
        and cov.unknown_focus >= settings.unknown_focus_min
    ):
        words = "the word" if len(cov.unknown_named) == 1 else "the words"
        out.append(
            f"No review uses {words} {_quoted(cov.unknown_named)}; the excerpts below are the closest in meaning."
        )
    if out and cov.keyworded:
        out.append(_keyword_text(cov))
    if scored.best < settings.weak_below and not (scored.mentioned or scored.named or cov.ledger.entries):
        out.append("The closest excerpts match this question only loosely; the reviews may not address it directly.")
    return out


def with_notices(notes: list[str], text: str) -> str:
    """The notices before any bullet, in the text itself, so that every reader of the answer sees them first."""
    return f"Note: {' '.join(notes)}\n\n{text}" if notes else text


def abstention(settings: Settings, scored: Scored, cov: Coverage) -> str | None:
    """Why the question is not answered (the text to show), or None to answer it (README: "Abstention").

    1. It names topics (themes, or a short topic) and no review addresses any of them, and no excerpt scores
       `settings.answer_above`.
    2. No excerpt scores `settings.abstain_below`, no chunk mentions its topic, and it names no covered theme
       in words the collection uses ("What role did the GP have?" is answered however loosely it matches).
    3. What it asks about lies in words no review contains: without them the question keeps less than
       `settings.unknown_share_below` of its meaning ("…a child with type 1 diabetes who needs insulin"),
       and no excerpt scores `settings.answer_above`; or the question is close in meaning to those words alone
       (`settings.unknown_focus_min`: "Are trampoline parks safe for young children?" is about "trampoline") and
       no excerpt scores `settings.unknown_focus_answer_above`. The everyday words it shares with the collection
       ("school", "foster carers", "young children") do not make it answerable.

    A question that names a record the filters allow ("…what did Merton learn?", `rag.names`) is answered from
    that record's passages, whatever its other words."""
    if scored.named:
        return None
    # (An excerpt scoring `answer_above` covers the question in other words: answered, with the notice.)
    # A service or group no review names ("teacher") is where the question is set, not what it asks about,
    # unless the question is about it (`context_share_min`): it is answered or refused on its other words.
    setting_only = set(cov.uncovered) <= set(cov.context) and not cov.about_context(settings)
    if cov.silent and scored.best < settings.answer_above and not setting_only:
        return _silent_text(cov)
    # A theme reached through everyday wording counts too ("keeps agreeing to everything but nothing changes").
    # A service or group it names ("school", "teenagers") counts only when the question is about it.
    named_covered = bool(
        cov.asked and cov.ledger.entries and (cov.everyday or not cov.unknown) and cov.about_context(settings)
    )
    if scored.best < settings.abstain_below and not scored.mentioned and not named_covered:
        unknown = f"; none mentions {_quoted(cov.unknown_named)}" if cov.unknown_named else ""
        return (
            f"The corpus does not answer this question: no review in this collection appears to address it{unknown} "
            f"(closest match {scored.best:.2f}, threshold {settings.abstain_below:.2f}). Try other words."
        )
    if cov.unknown_share < settings.unknown_share_below and scored.best < settings.answer_above:
        return _absent_text(cov)
    if cov.unknown_focus >= settings.unknown_focus_min and scored.best < settings.unknown_focus_answer_above:
        return _absent_text(cov)
    return None


def _quoted(words: tuple[str, ...]) -> str:
    shown = [f"“{w}”" for w in words[:4]]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]


def _absent_text(cov: Coverage) -> str:
    named = _quoted(cov.unknown_named or cov.unknown)
    lines = [f"No review in this collection addresses {named}: no review contains the words."]
    covered = [a for a in cov.asked if a not in cov.uncovered]
    if covered and cov.ledger.entries:
        lines += ["", "Related themes that are covered (see `rla ledger`):"]
        lines += [f"  {cov.label}: {records_text(e.hit.chunk.kind for e in cov.ledger.entries)}"]
    return "\n".join(lines)


def _silent_text(cov: Coverage) -> str:
    lines = [f"No review in this collection addresses {_quoted(cov.uncovered)}."]
    if cov.keyworded:
        lines.append(_keyword_text(cov))
    if cov.related:
        lines += ["", "Related themes that are covered (see `rla ledger`):"]
        lines += [f"  {name}: {records_text(kinds)}" for name, kinds in cov.related[:5]]
    return "\n".join(lines)


def _keyword_text(cov: Coverage) -> str:
    """The records that carry the topic as a keyword alone, which does not count (README: "The ledger"): named,
    so that the user can check for themselves."""
    n = len(cov.keyworded)
    named = "; ".join(f"{title} (rla show {rid})" for rid, title in cov.keyworded[:5])
    verb = "carries" if n == 1 else "carry"
    return f"{count_noun(n, 'review')} {verb} it as an NSPCC keyword, but the text does not discuss it: {named}."


def cached_coverage(retriever: Retriever, question: str, filters: Filters | None = None) -> Coverage:
    """`rag.ledger.coverage`, remembered per loaded index (the retriever), question and filters: the web app,
    the LLM answer and `rla eval` ask the same question of the same generation again."""
    key = (question, filters if filters is not None and filters.active() else None)
    with _COVERAGE_LOCK:
        memo = _COVERAGE.setdefault(retriever, OrderedDict())
        if key in memo:
            memo.move_to_end(key)
            return memo[key]
    cov = coverage(retriever, question, filters)
    with _COVERAGE_LOCK:
        memo[key] = cov
        while len(memo) > _COVERAGE_SIZE:
            memo.popitem(last=False)
    return cov


_COVERAGE_SIZE = 256
# Keyed weakly by retriever (one per loaded generation), so a generation the web app has left is freed.
_COVERAGE: weakref.WeakKeyDictionary[Retriever, OrderedDict[tuple[str, Filters | None], Coverage]] = (
    weakref.WeakKeyDictionary()
)
_COVERAGE_LOCK = threading.Lock()


def answer_coverage(cov: Coverage, hits: Iterable[Hit]) -> AnswerCoverage:
    """The records the answer quotes (the hits it cites) that the ledger lists, and all those the ledger lists,
    by kind."""
    listed = {e.review_id: counted_as(e.hit.chunk.kind) for e in cov.ledger.entries}
    quoted = {h.chunk.review_id: counted_as(h.chunk.kind) for h in hits}
    total = Counter(listed.values())
    shown = Counter(kind for rid, kind in quoted.items() if rid in listed)
    order = [k for k in COUNTED_KINDS if k in total] + sorted(set(total) - set(COUNTED_KINDS))
    return AnswerCoverage(
        cov.topic,
        cov.label,
        tuple((k, shown[k]) for k in order if shown[k]),
        tuple((k, total[k]) for k in order),
        sum(rid not in listed for rid in quoted),
    )


def _joined(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def coverage_line(cov: AnswerCoverage) -> str:
    """ "Showing 6 of the 35 reviews that address fathers and male carers; also 1 analysis (full list:
    rla ledger "fathers and male carers"):" — counts by kind from the ledger."""
    quoted = sum(n for _, n in cov.shown) + cov.other
    total = dict(cov.total)
    if not total:  # no record addresses the topic in its words: the excerpts only come closest in meaning
        return f"The closest excerpts, from {_count(quoted).lower()} {plural('review', quoted)}:"
    shown = dict(cov.shown)
    pointer = f'(full list: rla ledger "{cov.topic}")'
    also = [count_noun(n, k) for k, n in cov.total if not shown.get(k)]
    if not shown:
        n = sum(total.values())
        return (
            f"Showing {quoted} {plural('review', quoted)}; {_joined(also)} in the collection "
            f"{'addresses' if n == 1 else 'address'} {cov.label} by name {pointer}:"
        )
    kinds = [k for k, _ in cov.total if shown.get(k)]
    parts = [f"{shown[k]} of the {total[k]} {plural(k, total[k])}" for k in kinds]
    parts[1:] = [f"the {plural(k, 1)}" if total[k] == 1 else p for k, p in zip(kinds[1:], parts[1:], strict=True)]
    if total[kinds[0]] == 1:
        parts[0] = f"1 of 1 {plural(kinds[0], 1)}"
    verb = "address" if sum(total[k] for k in kinds) > 1 else "addresses"
    line = f"Showing {_joined(parts)} that {verb} {cov.label}"
    if cov.other:
        line += f", and {cov.other} more that {'matches' if cov.other == 1 else 'match'} the question in other words"
    if also:
        line += f"; also {_joined(also)}"
    return f"{line} {pointer}:"


def answer_passages(retriever: Retriever, scored: Scored, filters: Filters | None, n: int) -> list[Hit]:
    """What an answer is made from (extractive or by a language model): the retrieved hits, or, for a question
    naming records ("what did Merton learn?"), their own passages alone (at most n)."""
    named = retriever.record_passages(scored.named, scored.query_vector, filters, n) if scored.named else []
    return named or scored.hits[:n]


def _compose(
    retriever: Retriever,
    question: str,
    scored: Scored,
    k: int,
    themes: tuple[Theme, ...],
    cov: Coverage,
    filters: Filters | None = None,
) -> Answer:
    """Whole statements from the hits (rag.quotes), at most k bullets, near-duplicates merged; under theme
    headings when they span several themes, else grouped found / recommended / what happened in the cases;
    learning first."""
    recommend = bool(ASKS_FOR_RECOMMENDATIONS.search(question))
    cands = statements(
        retriever, answer_passages(retriever, scored, filters, 2 * k), scored.query_vector, themes, recommend
    )
    bullets = select(retriever, cands, k, scored.named)
    groups = by_theme(retriever, bullets, themes)
    answer_cov = answer_coverage(cov, (c.hit for b in bullets for c in (b.main, *b.also)))
    lines = [coverage_line(answer_cov)]
    sections: list[tuple[str, Theme | None, list[Bullet]]]
    if len(groups) == 1:
        recommended = [b for b in bullets if b.main.hit.chunk.section == SectionKind.RECOMMENDATIONS]
        # The facts of a case are not findings: they are told apart, last.
        cases = [b for b in bullets if b.main.narrative and b not in recommended]
        found = sorted((b for b in bullets if b not in recommended and b not in cases), key=learning_rank)
        sections = [("What the reviews found:", None, found), ("What the reviews recommended:", None, recommended)]
        if recommend:
            sections.reverse()
        sections.append((CASES_HEADING, None, cases))
    else:
        sections = [(f"{t.name[:1].upper()}{t.name[1:]}:" if t else "Other points:", t, g) for t, g in groups]
    citations: list[Citation] = []
    for heading, theme, group in sections:
        if not group:
            continue
        lines += ["", heading]
        name = theme.name if theme else None
        for b in group:
            n = len(citations) + 1
            citations.append(Citation(n, b.main.text, b.main.hit, b.main.start, b.main.end, theme=name))
            for a in b.also:
                citations.append(Citation(len(citations) + 1, a.text, a.hit, a.start, a.end, n, name))
            also = f"; also {', '.join(f'[{m}]' for m in range(n + 1, len(citations) + 1))}" if b.also else ""
            lines.append(f"- {' '.join(b.main.text.split())} [{n}]{also}")
    return Answer(question, "\n".join(lines), tuple(citations), False, coverage=answer_cov)


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
