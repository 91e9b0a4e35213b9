"""Choosing what a pack quotes: learning points and recommendations on the topic, and case vignettes."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from rag.chunk import sentence_spans
from rag.ledger import Ledger, LedgerEntry, ledger
from rag.lexical import expand_query
from rag.models import Review, SectionKind
from rag.quotes import is_narrative, item_shown, whole_statements
from rag.retrieve import Filters, Retriever
from rag.story import case_names, goes_on, names_child, tells_case

POINT_SECTIONS = (SectionKind.LEARNING, SectionKind.KEY_ISSUES, SectionKind.GOOD_PRACTICE)
# A sentence is a learning point or recommendation on the topic when it names the topic (or a synonym), or
# when its score (cosine to the topic, plus the bonuses below) reaches settings.brief_min_score and is within
# settings.brief_floor of the best sentence's.
LEARNING_BONUS = 0.05  # a "learning" section states learning; "key issues" often states facts of the case
TOPIC_WORD_BONUS = 0.05  # the sentence says the topic (or a synonym) in so many words
MAX_POINTS, MAX_POINTS_PER_REVIEW = 14, 2
MAX_RECOMMENDATIONS = 8
MAX_VIGNETTES = 5
# A vignette is told in the review's own account of the case: its summary, background, chronology, or the
# key issues a listing entry gives for the case ("Child J lived with his parents for the first weeks of his life").
CASE_SECTIONS = (SectionKind.SUMMARY, SectionKind.BACKGROUND, SectionKind.CHRONOLOGY, SectionKind.KEY_ISSUES)
MIN_VIGNETTE_SENTENCES, MAX_VIGNETTE_SENTENCES = 2, 4
VIGNETTE_WORDS = 90  # sentences after the opening are added while the vignette is shorter than this

# A list number, bullet or "… include:" lead-in at the start of a sentence (matched at the sentence's offset).
_LEAD = re.compile(r"(?:\d{1,2}[.)]\s+|[•>*-]\s+|(?:[\w’' ]{0,30}?\b)?includes?:\s+)+", re.IGNORECASE)


@dataclass(frozen=True)
class Candidate:
    """A sentence (trimmed, still verbatim: `text == source text[start:end]`) the pack may quote."""

    review_id: str
    section: str
    start: int
    end: int
    text: str
    row: int  # the chunk the sentence is in
    score: float = 0.0
    says_topic: bool = False


@dataclass(frozen=True)
class OnTopic:
    """Where to look for a topic's points: the ledger's reviews, their chunk rows, the topic's vector and words."""

    reviews: list[str]  # review ids, in ledger order
    rows: dict[str, list[int]]  # review id → its chunk rows within the filters (every section)
    vector: np.ndarray  # the vector dense retrieval uses for the topic
    terms: re.Pattern[str]  # the topic or one of its synonyms, as whole words


def on_topic(retriever: Retriever, led: Ledger, filters: Filters | None) -> OnTopic:
    # The section filter picks which reviews are on the ledger; within them, every section is read.
    within = replace(filters, section=None) if filters else None
    rows: dict[str, list[int]] = {}
    for row, c in enumerate(retriever.data.chunks):
        if within is None or within.match(c):
            rows.setdefault(c.review_id, []).append(row)
    vector = retriever.embed_queries([expand_query(led.topic)])[0]
    return OnTopic([e.review_id for e in led.entries], rows, vector, _topic_pattern(led.topic))


def learning_points(retriever: Retriever, topic: OnTopic) -> list[Candidate]:
    return _pick(_best_sentences(retriever, topic, POINT_SECTIONS), MAX_POINTS, MAX_POINTS_PER_REVIEW)


def recommendations(retriever: Retriever, topic: OnTopic) -> list[Candidate]:
    return _pick(_best_sentences(retriever, topic, (SectionKind.RECOMMENDATIONS,)), MAX_RECOMMENDATIONS, 1)


def _best_sentences(retriever: Retriever, topic: OnTopic, sections: tuple[str, ...]) -> list[Candidate]:
    """Every sentence of the reviews' chunks in these sections that is on the topic, scored with its stored vector."""
    data = retriever.data
    out: list[Candidate] = []
    for rid in topic.reviews:
        for row in topic.rows.get(rid, []):
            c = data.chunks[row]
            if c.section not in sections:
                continue
            text = data.sources[c.source].text
            names = case_names(data.reviews[rid])
            for _, s, e, cos in whole_statements(text, retriever.sentence_scores(row, topic.vector)):
                if is_narrative(c.section, text[s:e], names):
                    continue  # "Mother and her partner were imprisoned …": the case, not what was learned
                says_topic = bool(topic.terms.search(text[s:e]))
                score = cos + LEARNING_BONUS * (c.section == SectionKind.LEARNING) + TOPIC_WORD_BONUS * says_topic
                out.append(Candidate(rid, c.section, s, e, text[s:e], row, score, says_topic))
    settings = retriever.settings
    floor = max(settings.brief_min_score, max((c.score for c in out), default=0.0) - settings.brief_floor)
    return [c for c in out if c.score >= floor or c.says_topic]


def _trim(text: str, s: int, e: int) -> tuple[int, int]:
    """Drop a list number or "include:" lead-in and the trailing ; or , — what is left is still verbatim."""
    m = _LEAD.match(text, s, e)
    if m:
        s = m.end()
    return item_shown(text, s, e)


def _topic_pattern(topic: str) -> re.Pattern[str]:
    terms = [t.strip() for t in re.split(r"[;()]", expand_query(topic)) if len(t.strip()) > 2]
    return re.compile("|".join(rf"(?<!\w){re.escape(t)}(?!\w)" for t in terms) or r"(?!x)x", re.IGNORECASE)


def _pick(cands: list[Candidate], limit: int, per_review: int) -> list[Candidate]:
    """Best first, at most `per_review` from one review, no sentence twice, no words quoted twice (a list's item
    and the statement grown over it, as answers choose).

    Chunks do not overlap, but two reviews' entries in one report can share a sentence word for word.
    """
    out: list[Candidate] = []
    per: dict[str, int] = {}
    seen: set[str] = set()
    for c in sorted(cands, key=lambda c: -c.score):
        key = " ".join(c.text.split()).lower()
        if per.get(c.review_id, 0) >= per_review or key in seen:
            continue
        if any(o.review_id == c.review_id and o.start < c.end and c.start < o.end for o in out):
            continue
        seen.add(key)
        per[c.review_id] = per.get(c.review_id, 0) + 1
        out.append(c)
        if len(out) == limit:
            break
    return out


def case_ledger(retriever: Retriever, topic: str, filters: Filters | None) -> dict[str, LedgerEntry]:
    """The reviews whose narrative of the case addresses the topic, by the ledger's own rule run on their summary,
    background and chronology sections: review id → the entry (its matching chunk and marked words)."""
    base = filters or Filters()
    out: dict[str, LedgerEntry] = {}
    for kind in CASE_SECTIONS:
        for e in ledger(retriever, topic, replace(base, section=kind)).entries:
            out.setdefault(e.review_id, e)
    return out


def vignettes(retriever: Retriever, led: Ledger, filters: Filters | None) -> list[tuple[str, list[Candidate]]]:
    """Short case stories, verbatim, from the reviews on the ledger whose account of the case addresses the topic:
    the sentence that opens the case, the one that names the topic, and what follows the opening, 2–4 sentences.
    A review whose summary names the topic comes first (the topic is central to what happened), then background,
    chronology, key issues; the ledger's order (closest first) within each."""
    case = case_ledger(retriever, led.topic, filters)
    tier = {e.review_id: CASE_SECTIONS.index(SectionKind(e.hit.chunk.section)) for e in case.values()}
    out = []
    for e in sorted((e for e in led.entries if e.review_id in case), key=lambda e: tier[e.review_id]):
        review = retriever.data.reviews[e.review_id]
        picked = _vignette(retriever, review, case[e.review_id])
        if picked:
            where = ", ".join(str(x) for x in (review.area, review.year) if x and str(x) not in review.title)
            out.append((f"{review.title} ({where})" if where else review.title, picked))
        if len(out) == MAX_VIGNETTES:
            break
    return out


def _vignette(retriever: Retriever, review: Review, entry: LedgerEntry) -> list[Candidate]:
    text = retriever.data.sources[review.source].text
    names = case_names(review)
    story: list[tuple[int, int]] = []  # the narrative's sentences, in document order
    for sec in review.sections:
        if sec.kind in CASE_SECTIONS:
            for s, e in sentence_spans(text, sec.start, sec.end):
                s, e = _trim(text, s, e)
                if len(text[s:e].split()) >= 4 and "](" not in text[s:e] and tells_case(text[s:e], names):
                    story.append((s, e))
    opening = next((i for i, (s, e) in enumerate(story) if names_child(text[s:e], names)), None)
    marked = next((i for i, (s, e) in enumerate(story) if any(s < me and ms < e for ms, me in entry.marks)), None)
    if opening is None or marked is None:
        return []
    keep = {opening, marked}
    words = sum(len(text[story[i][0] : story[i][1]].split()) for i in keep)
    for i in range(opening + 1, len(story)):
        n = len(text[story[i][0] : story[i][1]].split())
        if len(keep) >= MAX_VIGNETTE_SENTENCES or (len(keep) >= MIN_VIGNETTE_SENTENCES and words + n > VIGNETTE_WORDS):
            break
        if i not in keep:
            keep.add(i)
            words += n
    # A sentence that goes on from the one before ("she also made allegations … against him", "He was assessed
    # …") is told with it, or its "she" and "he" would name whoever the vignette named last.
    for i in sorted(keep, reverse=True):
        j = i
        while j > 0 and j - 1 not in keep and goes_on(text, story[j - 1], story[j]):
            j -= 1
            keep.add(j)
    if len(keep) < MIN_VIGNETTE_SENTENCES:
        return []
    rows = _rows(retriever, review.id)
    return [
        Candidate(review.id, _section_at(review, s), s, e, text[s:e], _row_at(retriever, rows, s))
        for s, e in (story[i] for i in sorted(keep))
    ]


def _section_at(review: Review, offset: int) -> str:
    return next((s.kind for s in review.sections if s.start <= offset < s.end), SectionKind.OTHER)


def _rows(retriever: Retriever, review_id: str) -> list[int]:
    return [row for row, c in enumerate(retriever.data.chunks) if c.review_id == review_id]


def _row_at(retriever: Retriever, rows: list[int], offset: int) -> int:
    """The chunk of the review that holds the offset (the nearest one before it, between chunks)."""
    chunks = retriever.data.chunks
    return max((r for r in rows if chunks[r].start <= offset), key=lambda r: chunks[r].start, default=rows[0])
