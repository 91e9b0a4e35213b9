"""Which chunks mention a topic: stemmed-word postings over chunk titles and texts, built at ingest.

A chunk mentions a topic when its title or text contains every content word of the topic (or of one of
its synonyms). Keywords are left out on purpose: a tag is not a mention. The postings are written with
each index generation (NumPy + JSON, no pickle), so the first query of a large index stems nothing.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import numpy as np

from rag.lexical import stem_tokens_many, topic_variants
from rag.models import Chunk


def mention_text(chunk: Chunk) -> str:
    return f"{chunk.title}\n{chunk.text}"


def save_mentions(chunks: list[Chunk], folder: Path) -> None:
    """Term-major postings: rows[indptr[t]:indptr[t+1]] are the sorted chunk rows that contain term t."""
    folder.mkdir(parents=True, exist_ok=True)
    term_ids: dict[str, int] = {}
    pairs_t: list[int] = []
    pairs_r: list[int] = []
    for row, terms in enumerate(stem_tokens_many([mention_text(c) for c in chunks])):
        for term in terms:
            pairs_t.append(term_ids.setdefault(term, len(term_ids)))
            pairs_r.append(row)
    t = np.asarray(pairs_t, dtype=np.int64)
    r = np.asarray(pairs_r, dtype=np.int32)
    order = np.argsort(t, kind="stable")  # rows stay ascending within a term
    counts = np.bincount(t, minlength=len(term_ids))
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    np.save(folder / "indptr.npy", indptr, allow_pickle=False)
    np.save(folder / "rows.npy", r[order], allow_pickle=False)
    (folder / "terms.json").write_text(json.dumps(list(term_ids), ensure_ascii=False), encoding="utf-8")


class Mentions:
    """Loaded postings; `of(topic)` marks the chunks that mention it."""

    def __init__(self, folder: Path, n_chunks: int) -> None:
        terms = json.loads((folder / "terms.json").read_text(encoding="utf-8"))
        self._ids = {t: i for i, t in enumerate(terms)}
        self._indptr = np.load(folder / "indptr.npy")  # allow_pickle is off by default
        self._rows = np.load(folder / "rows.npy")
        self.n = n_chunks
        if len(self._indptr) != len(terms) + 1 or (len(self._rows) and int(self._rows.max()) >= n_chunks):
            raise ValueError("mention postings do not match the chunks")
        # A cache of this instance's own (lru_cache on the method would keep every loaded generation alive).
        self.of = functools.lru_cache(maxsize=1024)(self._of)

    def _postings(self, term: str) -> np.ndarray | None:
        """The rows with the stem, or with its acronym twin: the stemmer keeps the "s" of a word without a vowel,
        so "GPs" and "GP" are two stems ("gps", "gp") where rag.themes reads one word."""
        found = [
            self._rows[self._indptr[i] : self._indptr[i + 1]] for i in map(self._ids.get, _twins(term)) if i is not None
        ]
        return None if not found else found[0] if len(found) == 1 else np.union1d(*found)

    def _of(self, topic: str) -> np.ndarray:
        """Boolean mask over chunks: those whose title or text has every content word of the topic or a synonym."""
        found = np.zeros(self.n, dtype=bool)
        for words in stem_tokens_many(topic_variants(topic)):
            postings = [self._postings(w) for w in words]
            if words and all(p is not None for p in postings):
                found[functools.reduce(_intersect, sorted(postings, key=len))] = True  # type: ignore[arg-type]
        found.flags.writeable = False  # shared between callers through the cache
        return found


_CONSONANTS = re.compile(r"[b-df-hj-np-tv-xz]{2,6}")


def _twins(stem: str) -> tuple[str, ...]:
    """The stem, and for a word without a vowel its plural or singular: "gp" and "gps", "scrs" and "scr"."""
    if not _CONSONANTS.fullmatch(stem):
        return (stem,)
    return (stem, stem[:-1]) if stem.endswith("s") and len(stem) > 2 else (stem, stem + "s")


def _intersect(rows: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Rows in both sorted arrays: each of the (shorter) first looked up in the second by bisection."""
    at = np.minimum(np.searchsorted(other, rows), len(other) - 1)
    return rows[other[at] == rows]
