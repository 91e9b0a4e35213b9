"""Choosing what a pack quotes: learning points and recommendations on the topic, and case vignettes."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from rag.chunk import sentence_spans
from rag.ledger import Ledger
from rag.lexical import expand_query
from rag.models import SectionKind
from rag.retrieve import Filters, Retriever

POINT_SECTIONS = (SectionKind.LEARNING, SectionKind.KEY_ISSUES, SectionKind.GOOD_PRACTICE)
# A sentence is a learning point or recommendation on the topic when it names the topic (or a synonym), or
# when its score (cosine to the topic, plus the bonuses below) reaches settings.brief_min_score and is within
# settings.brief_floor of the best sentence's.
LEARNING_BONUS = 0.05  # a "learning" section states learning; "key issues" often states facts of the case
TOPIC_WORD_BONUS = 0.05  # the sentence says the topic (or a synonym) in so many words
MAX_POINTS, MAX_POINTS_PER_REVIEW = 14, 2
MAX_RECOMMENDATIONS = 8
MAX_VIGNETTES = 5
VIGNETTE_WORDS = 90  # summary sentences are added while the vignette is shorter than this
SHORT_SUMMARY_WORDS = 25  # below this, the first sentences of the background follow the summary

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
            for s, e, cos in retriever.sentence_scores(row, topic.vector):
                s, e = _trim(text, s, e)
                if e <= s or not _is_point(text[s:e]):
                    continue
                says_topic = bool(topic.terms.search(text[s:e]))
                score = cos + LEARNING_BONUS * (c.section == SectionKind.LEARNING) + TOPIC_WORD_BONUS * says_topic
                out.append(Candidate(rid, c.section, s, e, text[s:e], score, says_topic))
    settings = retriever.settings
    floor = max(settings.brief_min_score, max((c.score for c in out), default=0.0) - settings.brief_floor)
    return [c for c in out if c.score >= floor or c.says_topic]


def _trim(text: str, s: int, e: int) -> tuple[int, int]:
    """Drop a list number or "include:" lead-in and the trailing ; or , — what is left is still verbatim."""
    m = _LEAD.match(text, s, e)
    if m:
        s = m.end()
    while e > s and text[e - 1] in ";,: \n\t":
        e -= 1
    return s, e


def _is_point(sentence: str) -> bool:
    """A sentence worth quoting: six words or more, mostly words (not a table row or a list of headings)."""
    tokens = sentence.split()
    words = [t for t in tokens if re.search(r"[A-Za-z]{2}", t)]
    return (
        len(words) >= 6
        and len(words) >= 0.8 * len(tokens)
        and sentence.count(">") < 2
        and "](" not in sentence
        and not sentence.rstrip().endswith(":")
    )


def _topic_pattern(topic: str) -> re.Pattern[str]:
    terms = [t.strip() for t in re.split(r"[;()]", expand_query(topic)) if len(t.strip()) > 2]
    return re.compile("|".join(rf"(?<!\w){re.escape(t)}(?!\w)" for t in terms) or r"(?!x)x", re.IGNORECASE)


def _pick(cands: list[Candidate], limit: int, per_review: int) -> list[Candidate]:
    """Best first, at most `per_review` from one review, no sentence twice.

    Chunks do not overlap, but two reviews' entries in one report can share a sentence word for word.
    """
    out: list[Candidate] = []
    per: dict[str, int] = {}
    seen: set[str] = set()
    for c in sorted(cands, key=lambda c: -c.score):
        key = " ".join(c.text.split()).lower()
        if per.get(c.review_id, 0) >= per_review or key in seen:
            continue
        seen.add(key)
        per[c.review_id] = per.get(c.review_id, 0) + 1
        out.append(c)
        if len(out) == limit:
            break
    return out


def vignettes(retriever: Retriever, led: Ledger) -> list[tuple[str, list[Candidate]]]:
    """The closest reviews that have a summary: its first sentences, verbatim (plus background if it is short)."""
    out = []
    for e in led.entries:
        review = retriever.data.reviews[e.review_id]
        text = retriever.data.sources[review.source].text
        picked: list[Candidate] = []
        words = 0
        for kind in ("summary", "background"):
            if kind == "background" and words >= SHORT_SUMMARY_WORDS:
                break
            for sec in (s for s in review.sections if s.kind == kind):
                for s, en in sentence_spans(text, sec.start, sec.end):
                    s, en = _trim(text, s, en)
                    n = len(text[s:en].split())
                    if n < 4 or "](" in text[s:en] or words >= VIGNETTE_WORDS or (words and words + n > VIGNETTE_WORDS):
                        continue
                    picked.append(Candidate(e.review_id, kind, s, en, text[s:en]))
                    words += n
        if picked and any(c.section == "summary" for c in picked):
            where = ", ".join(str(x) for x in (review.area, review.year) if x and str(x) not in review.title)
            out.append((f"{review.title} ({where})" if where else review.title, picked))
        if len(out) == MAX_VIGNETTES:
            break
    return out
