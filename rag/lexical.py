"""BM25 over chunks (bm25s, stored as NumPy arrays and JSON), stemming, and query expansion with the vocabulary."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from rag.models import Chunk, Review
from rag.vocabulary import LAY_TERMS, SYNONYMS

_TOKEN = r"(?u)\b\w\w+\b"


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=4096)
def expand_query(query: str) -> str:
    """The query plus the other names of any synonym group it mentions (whole-word, case-insensitive)."""
    low = query.lower().replace("’", "'")
    extra: list[str] = []
    for pattern, professional in _lay_patterns():
        if pattern.search(low) and professional not in low:
            extra.append(professional)
    for group, pattern in zip(SYNONYMS, _synonym_patterns(), strict=True):
        if pattern.search(low + " " + " ".join(extra)):
            extra.extend(t for t in group if t not in low and t not in extra)
    return query if not extra else f"{query} ({'; '.join(extra)})"


@lru_cache(maxsize=1)
def _lay_patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    """Each everyday term as a whole-word pattern, compiled once (a query is new each time; the terms are not)."""
    return tuple((re.compile(rf"(?<!\w){re.escape(lay)}(?!\w)"), pro) for lay, pro in LAY_TERMS.items())


def bm25_document(chunk: Chunk, review: Review | None) -> str:
    """What BM25 indexes for a chunk: the verbatim text plus its review's title and keywords."""
    parts = [chunk.title, " ".join(chunk.keywords), chunk.text]
    if review is not None and review.methodology:
        parts.append(review.methodology)
    return "\n".join(parts)


def tokenize(texts: list[str]) -> Any:
    import bm25s

    return bm25s.tokenize(texts, stopwords="en", stemmer=_stemmer(), token_pattern=_TOKEN, show_progress=False)


def save_bm25(chunks: list[Chunk], reviews: list[Review], folder: Path) -> None:
    import bm25s

    by_id = {r.id: r for r in reviews}
    retriever = bm25s.BM25()
    docs = [bm25_document(c, by_id.get(c.review_id)) for c in chunks] or [""]
    retriever.index(tokenize(docs), show_progress=False)
    retriever.save(str(folder), allow_pickle=False)


def stem_tokens_many(texts: list[str]) -> list[set[str]]:
    """Stemmed content words (stop words dropped) of each text, as BM25 sees them. Remembered per text: an answer
    asks for the same words' stems dozens of times, and bm25s.tokenize costs ~0.2 ms a call even for one word."""
    import bm25s

    # Read once into a local map: another thread may clear the shared one between a check and a read.
    got = {t: _STEMMED.get(t) for t in dict.fromkeys(texts)}
    missing = [t for t, stems in got.items() if stems is None]
    if missing:
        toks = bm25s.tokenize(
            missing, stopwords="en", stemmer=_stemmer(), token_pattern=_TOKEN, return_ids=False, show_progress=False
        )
        fresh = {t: frozenset(tk) for t, tk in zip(missing, toks, strict=True)}
        if len(_STEMMED) > _STEMMED_MAX:
            _STEMMED.clear()
        _STEMMED.update(fresh)
        got.update(fresh)
    return [set(got[t] or ()) for t in texts]


_STEMMED: dict[str, frozenset[str]] = {}  # text → its stems (a dict's get and set are atomic: threads may share it)
_STEMMED_MAX = 50_000


def stem_tokens(text: str) -> set[str]:
    return stem_tokens_many([text])[0]


def stem_words(words: list[str]) -> list[str]:
    """Each word's stem, with the stemmer BM25 uses (stop words kept, order kept)."""
    return list(_stemmer().stemWords(words))


# Question framing that is not part of the topic ("which reviews mention …").
_FRAMING = re.compile(
    r"^(?:(?:which|what|how many|do|did|does|are there|have)\s+(?:any\s+|the\s+|these\s+)?(?:\w+\s+){0,2}?"
    r"(?:reviews?|cases?)\s+(?:\w+\s+){0,2}?"
    r"(?:mention|mentions|discuss|discusses|raise|raises|address|addresses|cover|covers|look at|looked at|talk about"
    r"|say about|said about|about|on|involve|involving)\s+"
    r"|what (?:did|do|does|have) (?:the )?reviews? "
    r"(?:say|said|find|found|learn|learned|recommend|recommended) (?:about|on)\s+"
    r"|(?:any )?learning (?:on|about)\s+"
    r"|what (?:is|are|was|were) (?:the |a |an )?)",
    re.IGNORECASE,
)


def topic_core(text: str) -> str:
    """The topic of a question: "which reviews mention disguised compliance?" → "disguised compliance"."""
    return _FRAMING.sub("", text).rstrip(" ?.") or text


# Where a question's clauses part: a spaced dash, a semicolon, a colon, or a question mark inside it.
_CLAUSE_BREAK = re.compile(r"\s+[—–-]\s+|[?;:]\s+")
_TRAILING_NOTE = re.compile(r"\s*\([^()]*\)\s*$")  # "(theme names)" an answer's retrieval appends


def main_clause(question: str) -> str | None:
    """The longest clause of a question of several ("Mum is low since the birth — what did reviews say?" →
    "Mum is low since the birth"), with any bracketed note at its end kept; None for a question of one clause."""
    note = _TRAILING_NOTE.search(question)
    body, tail = (question[: note.start()], note.group(0)) if note else (question, "")
    clauses = [c.strip(" ?.!,") for c in _CLAUSE_BREAK.split(body.strip())]
    clauses = [c for c in clauses if c]
    if len(clauses) < 2:
        return None
    return max(clauses, key=len) + tail


def topic_variants(topic: str) -> list[str]:
    """The topic, and the topic in each other name of a synonym group it mentions: every name of the group when
    the topic is one of them ("dna" → "was not brought", …); the mention replaced when the topic says more
    ("domestic abuse training" → "dv training", "domestic violence training"), so that a variant is the whole topic
    in other words, never a part of it."""
    low = topic.lower()
    out = [topic]
    for group, pattern in zip(SYNONYMS, _synonym_patterns(), strict=True):
        m = pattern.search(low)
        if m is None:
            continue
        head, tail = low[: m.start()], low[m.end() :]
        out.extend(name if not (head.strip() or tail.strip()) else f"{head}{name}{tail}" for name in group)
    return out


@lru_cache(maxsize=1)
def _synonym_patterns() -> tuple[re.Pattern[str], ...]:
    """One pattern per synonym group: any of its terms as whole words."""
    return tuple(re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, group)) + r")(?!\w)") for group in SYNONYMS)


class Bm25:
    """Loaded BM25 index; `scores` gives a dense score vector over all chunks."""

    def __init__(self, folder: Path, n_chunks: int) -> None:
        import bm25s

        self._r = bm25s.BM25.load(str(folder), allow_pickle=False, load_corpus=False)
        self.n = n_chunks

    def scores(self, query: str) -> np.ndarray:
        import bm25s

        toks = bm25s.tokenize(
            [query], stopwords="en", stemmer=_stemmer(), token_pattern=_TOKEN, return_ids=False, show_progress=False
        )[0]
        if not toks or self.n == 0:
            return np.zeros(self.n, dtype=np.float32)
        return np.asarray(self._r.get_scores(toks), dtype=np.float32)[: self.n]
