"""A topic → every review that addresses it (not top-k), one cited excerpt each, counted by year and area."""

from __future__ import annotations

import hashlib
import os
import re
import threading
import weakref
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rag.lexical import expand_query, stem_tokens_many, topic_core, topic_variants
from rag.models import Hit
from rag.retrieve import Filters, Retriever, clean_query
from rag.themes import (
    Theme,
    evidence_terms,
    find_phrase,
    load_themes,
    phrase_spans,
    phrase_stems,
    question_themes,
    terms,
    theme_by_id,
    tokens,
)
from rag.vocabulary import LAY_TERMS

_WORD = re.compile(r"(?u)\b\w\w+\b")
_GENERIC_SHARE = 0.4  # a word more than this share of reviews contain does not name a question's theme
_MAX_PHRASE_WORDS = 6  # a longer topic is a question: it is matched through its synonyms and themes


@dataclass(frozen=True)
class LedgerEntry:
    review_id: str
    title: str
    year: int | None
    area: str
    type: str | None
    score: float
    hit: Hit
    marks: tuple[tuple[int, int], ...] = ()  # the matched phrases, as offsets in the source text

    def to_dict(self) -> dict[str, Any]:
        d = self.hit.to_dict()
        d.update(
            {
                "review_id": self.review_id,
                "title": self.title,
                "score": round(self.score, 4),
                "marks": [list(m) for m in self.marks],
            }
        )
        return d


@dataclass(frozen=True)
class Ledger:
    topic: str
    entries: tuple[LedgerEntry, ...]
    phrases: tuple[str, ...] = ()  # what was matched: the topic, its synonyms, its themes' names and aliases

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
            "phrases": list(self.phrases),
            "by_year": self.by_year,
            "by_area": self.by_area,
            "entries": [e.to_dict() for e in self.entries],
        }


def topic_phrases(topic: str, themes: tuple[Theme, ...] | None = None) -> tuple[str, ...]:
    """The phrases that show a text addresses the topic: the topic itself (when short enough to be a
    phrase), the other names of any synonym group it mentions, and the name and aliases of every theme
    its wording names (rag/data/themes.toml). Keyword tags are not among them."""
    core = topic_core(clean_query(topic))
    out: dict[str, None] = {}
    if len(phrase_stems(core)) <= _MAX_PHRASE_WORDS:
        out.setdefault(" ".join(core.lower().split()), None)
    for variant in topic_variants(core)[1:]:
        out.setdefault(variant.lower(), None)
    for theme in question_themes(topic) if themes is None else themes:
        for term in evidence_terms(theme):
            out.setdefault(term, None)
    return tuple(p for p in out if phrase_stems(p))


def phrase_rows(retriever: Retriever, phrases: tuple[str, ...], mask: np.ndarray) -> dict[int, list[tuple[int, int]]]:
    """Chunk row → the source spans where one of the phrases occurs in its text (rows `mask` allows)."""
    data = retriever.data
    marks: dict[int, list[tuple[int, int]]] = {}
    for phrase in phrases:
        for row in np.flatnonzero(mask & retriever.mentions(phrase)):
            chunk = data.chunks[row]
            spans = phrase_spans(chunk.text, (phrase,))
            if spans:
                marks.setdefault(int(row), []).extend((chunk.start + s, chunk.start + e) for s, e in spans)
    return marks


def ledger(retriever: Retriever, topic: str, filters: Filters | None = None) -> Ledger:
    """Every review that addresses the topic: one of its chunks contains one of `topic_phrases(topic)` as a
    phrase (in order, at most `PHRASE_GAP` words between two of its words, inflections allowed). Each entry's
    excerpt is its matching chunk closest to the topic, with the matched spans kept as source offsets.
    (README: "The ledger")."""
    topic = clean_query(topic)
    core = topic_core(topic)
    data = retriever.data
    allowed = retriever.mask(filters)
    mask = np.ones(len(data.chunks), dtype=bool) if allowed is None else allowed
    themes = detect_themes(retriever, topic)
    phrases = topic_phrases(topic, themes)
    dense = retriever.dense_scores([core])[0]
    passage = retriever.settings.ledger_passage_cosine
    # The topic's own words (or a synonym) count wherever they are; a theme's alias only in a passage on the topic.
    direct = set(topic_phrases(topic, ()))
    marks = phrase_rows(retriever, tuple(p for p in phrases if p in direct), mask)
    for row, m in phrase_rows(retriever, tuple(p for p in phrases if p not in direct), mask).items():
        if dense[row] >= passage:
            marks.setdefault(row, []).extend(m)
    if not marks and not themes and len(phrase_stems(core)) > _MAX_PHRASE_WORDS:
        # A question in everyday words that names no theme: the passages closest in meaning, unmarked.
        marks = {int(row): [] for row in np.flatnonzero(mask & (dense >= retriever.settings.ledger_cosine))}
    if not marks:
        return Ledger(topic, (), phrases)
    lex = retriever.bm25.scores(expand_query(core))
    lex_max = float(lex.max()) if len(lex) else 0.0
    best: dict[str, tuple[float, int]] = {}
    for row in marks:
        chunk = data.chunks[row]
        score = float(dense[row]) + (0.5 * float(lex[row]) / lex_max if lex_max > 0 else 0.0)
        if chunk.review_id not in best or score > best[chunk.review_id][0]:
            best[chunk.review_id] = (score, row)
    ordered = sorted(best.items(), key=lambda kv: -kv[1][0])
    entries = []
    for rank, (rid, (score, row)) in enumerate(ordered, start=1):
        chunk = data.chunks[row]
        entries.append(
            LedgerEntry(
                rid,
                chunk.title,
                chunk.year,
                chunk.area,
                chunk.type,
                score,
                Hit(chunk, score, rank),
                tuple(sorted(set(marks[row]))),
            )
        )
    return Ledger(topic, tuple(entries), phrases)


def excerpt(text: str, offset: int, marks: tuple[tuple[int, int], ...], width: int = 320) -> str:
    """The passage around the first mark, never cut before it, the marked words between « and »."""
    if not marks:
        s, e = 0, min(len(text), width)
    else:
        first = marks[0][0] - offset
        s = max(0, first - width // 3)
        while s > 0 and not text[s - 1].isspace():
            s -= 1
        e = min(len(text), max(s + width, marks[0][1] - offset))
        while e < len(text) and not text[e].isspace():
            e += 1
    out, pos = [], s
    for ms, me in marks:
        ms, me = ms - offset, me - offset
        if ms < pos or me > e:
            continue
        out += [text[pos:ms], "«", text[ms:me], "»"]
        pos = me
    out.append(text[pos:e])
    body = " ".join("".join(out).split())
    return ("… " if s > 0 else "") + body + (" …" if e < len(text) else "")


def ledger_text(led: Ledger) -> str:
    if not led.entries:
        return f"No review in the index addresses “{led.topic}”."
    lines = [f"{len(led.entries)} reviews address “{led.topic}”.", ""]
    if led.phrases:
        lines.append("Matched as phrases: " + "; ".join(f"“{p}”" for p in led.phrases))
    lines.append("By year: " + ", ".join(f"{y}: {n}" for y, n in led.by_year.items()))
    lines.append("By area: " + ", ".join(f"{a}: {n}" for a, n in led.by_area.items()))
    lines.append("")
    for e in led.entries:
        c = e.hit.chunk
        meta = ", ".join(str(x) for x in (e.title, e.year, e.area, c.section) if x)
        lines.append(f"- {meta} ({e.review_id}; {c.source})\n    “{excerpt(c.text, c.start, e.marks)}”")
    return "\n".join(lines)


@dataclass(frozen=True)
class Coverage:
    """What a question asks about and how much of the collection addresses it."""

    topic: str  # the ledger topic for the full list (`rla ledger "…"`)
    label: str  # what the covered reviews address, in words ("fathers and male carers")
    ledger: Ledger
    asked: tuple[str, ...]  # the themes or phrases the question names
    uncovered: tuple[str, ...]  # those of them no review addresses
    related: tuple[tuple[str, int], ...]  # covered neighbouring themes of uncovered ones: (name, reviews)
    unknown: tuple[str, ...] = ()  # the question's content words that no indexed text contains
    everyday: bool = False  # a theme was reached through everyday wording or meaning, not by its name or alias

    @property
    def silent(self) -> bool:
        """The question names topics and no review addresses any of them."""
        return bool(self.asked) and len(self.uncovered) == len(self.asked)


def coverage(retriever: Retriever, question: str, filters: Filters | None = None) -> Coverage:
    """The question's themes (or its topic, when short and naming none) and which reviews address them.

    A theme the question names by its name or an alias is covered when a review contains that very term
    (or a synonym) as a phrase: "female genital mutilation" is not covered by a review on forced marriage.
    A theme reached through an everyday phrasing is covered when a review contains any of its terms."""
    # Whether a topic is addressed at all is a question about the whole collection, whatever the filters.
    everything = np.ones(len(retriever.data.chunks), dtype=bool)
    themes = detect_themes(retriever, question)
    # One theme: its ledger, so that the count is the one `rla ledger "<theme>"` lists.
    led = ledger(retriever, themes[0].name if len(themes) == 1 else question, filters)
    stems, spans = tokens(question)
    asked: list[str] = []
    uncovered: list[str] = []
    everyday = False
    related: dict[str, int] = {}
    for theme in themes:
        found = {t: find_phrase(stems, spans, phrase_stems(t)) for t in evidence_terms(theme)}
        named = [t for t, at in found.items() if at]
        # Named as the question words it: "FGM", "female genital mutilation".
        label = max((question[s:e] for t in named for s, e in found[t]), key=len) if named else theme.name
        everyday = everyday or not named
        check = tuple(dict.fromkeys(v.lower() for t in named for v in topic_variants(t))) or evidence_terms(theme)
        asked.append(label)
        if not phrase_rows(retriever, check, everything):
            uncovered.append(label)
            for rid in theme.related:
                other = theme_by_id(rid)
                n = len(
                    {
                        retriever.data.chunks[r].review_id
                        for r in phrase_rows(retriever, evidence_terms(other), everything)
                    }
                )
                if n:
                    related[other.name] = n
    core = topic_core(clean_query(question))
    if not themes and 0 < len(phrase_stems(core)) <= _MAX_PHRASE_WORDS:
        asked.append(core)
        if not led.entries:
            uncovered.append(core)
    label = "; ".join(t.name for t in themes) if themes else core
    covered_related = tuple(sorted(related.items(), key=lambda kv: -kv[1]))
    return Coverage(
        led.topic,
        label,
        led,
        tuple(asked),
        tuple(uncovered),
        covered_related,
        unknown_words(retriever, question),
        everyday,
    )


def unknown_words(retriever: Retriever, text: str) -> tuple[str, ...]:
    """The text's content words (as written, each once) that no title or text in the index contains."""
    out: dict[str, None] = {}
    for m in _WORD.finditer(text):
        word = m.group()
        stems = stem_tokens_many([word])[0]
        # An everyday word the vocabulary translates ("mum" → "mother") names nothing new.
        if stems and word.lower() not in LAY_TERMS and not retriever.mentions(word).any():
            out.setdefault(word, None)
    return tuple(out)


@dataclass
class _Memo:
    """What the ledger works out once per loaded index: theme vectors, and the themes of questions asked."""

    theme_vectors: tuple[np.ndarray, np.ndarray] | None = None
    themes: dict[str, tuple[Theme, ...]] = field(default_factory=dict)


# Keyed weakly by retriever, so an index generation the web app has moved on from is freed with its retriever.
_MEMO: weakref.WeakKeyDictionary[Retriever, _Memo] = weakref.WeakKeyDictionary()
_MEMO_LOCK = threading.Lock()


def _memo(retriever: Retriever) -> _Memo:
    with _MEMO_LOCK:
        return _MEMO.setdefault(retriever, _Memo())


def _theme_vectors(retriever: Retriever) -> tuple[np.ndarray, np.ndarray]:
    """One vector per theme description and per everyday phrasing, and the theme index of each row.

    Embedded once per model and vocabulary, then kept in the cache folder (`settings.cache/themes/`)."""
    memo = _memo(retriever)
    if memo.theme_vectors is None:
        texts, owner = [], []
        for i, theme in enumerate(load_themes()):
            for text in (f"{theme.name}: {theme.definition}", *theme.phrasings):
                texts.append(text)
                owner.append(i)
        digest = hashlib.sha256(
            "\n".join([retriever.data.manifest.model.name, str(retriever.data.manifest.model.sha256), *texts]).encode()
        ).hexdigest()[:24]
        path = retriever.settings.cache / "themes" / f"{digest}.npy"
        vectors = None
        try:
            vectors = np.load(path)  # allow_pickle is off by default
            if vectors.shape != (len(texts), retriever.data.dim):
                vectors = None
        except (OSError, ValueError):
            pass
        if vectors is None:
            vectors = retriever.embed_queries(texts)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{os.getpid()}.tmp")
                with open(tmp, "wb") as f:
                    np.save(f, vectors, allow_pickle=False)
                os.replace(tmp, path)
            except OSError:
                pass  # a read-only cache only costs the embedding again next time
        memo.theme_vectors = (vectors, np.asarray(owner))
    return memo.theme_vectors


def _review_share(retriever: Retriever, term: str) -> float:
    """The share of the collection's reviews that contain the term as a phrase."""
    data = retriever.data
    rows = phrase_rows(retriever, (term,), np.ones(len(data.chunks), dtype=bool))
    total = len({c.review_id for c in data.chunks}) or 1
    return len({data.chunks[r].review_id for r in rows}) / total


def detect_themes(retriever: Retriever, question: str) -> tuple[Theme, ...]:
    """The themes a question is about. By wording first: a theme whose name, alias or everyday phrasing
    the question contains as a phrase; when several do, those named only by a word most reviews contain
    ("assessment", "infants") are left out. Else by meaning: the theme whose description or phrasing is
    closest to the question, when at least `settings.theme_cosine`. Remembered per index: answers,
    coverage and the ledger ask about the same question."""
    memo = _memo(retriever).themes
    if question not in memo:
        if len(memo) >= 512:
            memo.clear()
        memo[question] = _detect_themes(retriever, question)
    return memo[question]


def _detect_themes(retriever: Retriever, question: str) -> tuple[Theme, ...]:
    stems, spans = tokens(question)
    named: list[tuple[Theme, list[str]]] = []
    for theme in load_themes():
        hits = [t for t in terms(theme) if find_phrase(stems, spans, phrase_stems(t))]
        if hits:
            named.append((theme, hits))
    if named:
        specific = [
            t
            for t, hits in named
            if any(len(phrase_stems(h)) > 1 or _review_share(retriever, h) <= _GENERIC_SHARE for h in hits)
        ]
        return tuple(specific or [t for t, _ in named])
    vectors, owner = _theme_vectors(retriever)
    qv = retriever.embed_queries([question])[0]
    cos = vectors @ qv
    best = int(np.argmax(cos))
    if float(cos[best]) < retriever.settings.theme_cosine:
        return ()
    return (load_themes()[int(owner[best])],)
