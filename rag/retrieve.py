"""Queries → hits: dense (FAISS), lexical (BM25) or both fused by reciprocal rank, with filters."""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from rag.errors import QueryError
from rag.lexical import Bm25, expand_query, topic_core
from rag.models import SECTION_ALIASES, SECTION_KINDS, Chunk, Hit
from rag.settings import Settings
from rag.store import IndexData, check_model, open_index

MODES = ("dense", "bm25", "hybrid")
MAX_QUERY_CHARS = 2000


@dataclass(frozen=True)
class Filters:
    year_from: int | None = None
    year_to: int | None = None
    area: str | None = None
    type: str | None = None
    keyword: str | None = None
    section: str | None = None

    def active(self) -> bool:
        return any(v is not None for v in self.__dict__.values())

    def match(self, c: Chunk) -> bool:
        if self.year_from is not None and (c.year is None or c.year < self.year_from):
            return False
        if self.year_to is not None and (c.year is None or c.year > self.year_to):
            return False
        if self.area and c.area.lower() != self.area.lower():
            return False
        if self.type and (c.type or "").lower() != self.type.lower():
            return False
        if self.keyword and self.keyword.lower() not in {k.lower() for k in c.keywords}:
            return False
        return not (self.section and c.section != self.section)

    @classmethod
    def parse(cls, raw: dict[str, Any] | None) -> Filters:
        """Validate user-given filters once, at the edge."""
        raw = {k: v for k, v in (raw or {}).items() if v not in (None, "", [])}
        unknown = set(raw) - set(cls.__dataclass_fields__)
        if unknown:
            raise QueryError(f"unknown filter {min(unknown)!r}; use year_from, year_to, area, type, keyword, section")
        out: dict[str, Any] = {}
        for key in ("year_from", "year_to"):
            if key in raw:
                try:
                    out[key] = int(raw[key])
                except (TypeError, ValueError):
                    raise QueryError(f"{key} must be a year such as 2017, not {raw[key]!r}") from None
        if "year_from" in out and "year_to" in out and out["year_from"] > out["year_to"]:
            raise QueryError(f"year range {out['year_from']}–{out['year_to']} is empty; put the earlier year first")
        for key in ("area", "type", "keyword"):
            if key in raw:
                out[key] = str(raw[key]).strip()
        if "section" in raw:
            section = str(raw["section"]).strip().lower()
            section = SECTION_ALIASES.get(section, section)
            if section not in SECTION_KINDS:
                raise QueryError(f"unknown section {raw['section']!r}; choose one of: {', '.join(SECTION_KINDS)}")
            out["section"] = section
        return cls(**out)


def clean_query(query: str) -> str:
    """Validate a user's query: a clear error for empty ones, control characters dropped, length capped."""
    if not isinstance(query, str):
        raise QueryError("the query must be text")
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in query)
    text = " ".join(text.split())
    if not text:
        raise QueryError('the query is empty; type a question, e.g. "what did reviews say about disguised compliance?"')
    return text[:MAX_QUERY_CHARS]


@dataclass(frozen=True)
class Scored:
    """Hits, the best dense score of any chunk the filters allow (the abstention signal), the query vector."""

    hits: list[Hit]
    best: float
    query_vector: np.ndarray
    mentioned: bool = False  # some allowed chunk contains the question's topic words

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter((self.hits, self.best, self.query_vector))


class Retriever:
    """Search over one loaded index generation. Loads the embedding model on first dense query."""

    def __init__(self, settings: Settings, data: IndexData | None = None) -> None:
        self.settings = settings
        self.data = data or open_index(settings.index, settings.model)
        self._embedder: Any = None
        self._query_cache: dict[str, np.ndarray] = {}
        self._mentions_cache: dict[str, np.ndarray] = {}

    @cached_property
    def bm25(self) -> Bm25:
        return Bm25(self.data.bm25_dir, len(self.data.chunks))

    @cached_property
    def _postings(self) -> dict[str, np.ndarray]:
        """Stemmed word → rows of the chunks whose title or text has it (not keywords: a tag is not a mention)."""
        from rag.lexical import stem_tokens_many

        rows: dict[str, list[int]] = {}
        for row, terms in enumerate(stem_tokens_many([f"{c.title}\n{c.text}" for c in self.data.chunks])):
            for term in terms:
                rows.setdefault(term, []).append(row)
        return {term: np.array(r, dtype=np.int64) for term, r in rows.items()}

    def mentions(self, topic: str) -> np.ndarray:
        """Chunks whose title or text contains every content word of the topic or of one of its synonyms."""
        from rag.lexical import stem_tokens_many, topic_variants

        if topic not in self._mentions_cache:
            found = np.zeros(len(self.data.chunks), dtype=bool)
            for words in stem_tokens_many(topic_variants(topic)):
                postings = [self._postings.get(w) for w in words]
                if words and all(p is not None for p in postings):
                    found[functools.reduce(_intersect, sorted(postings, key=len))] = True  # type: ignore[arg-type]
            if len(self._mentions_cache) >= 1024:
                self._mentions_cache.pop(next(iter(self._mentions_cache)))
            self._mentions_cache[topic] = found
        return self._mentions_cache[topic]

    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            from rag.embed import load_query_embedder

            check_model(self.data.manifest.model, self.settings.model)
            # The manifest already names the weights' hash; verifying again at every start costs time.
            emb = load_query_embedder(self.settings, self.data.manifest.model)
            check_model(self.data.manifest.model, emb.name, emb.dim)
            self._embedder = emb
        return self._embedder

    def embed_queries(self, queries: list[str]) -> np.ndarray:
        """Query vectors, remembered (the same question is often asked again: modes, pages, the ledger)."""
        missing = [q for q in dict.fromkeys(queries) if q not in self._query_cache]
        if missing:
            for q, v in zip(missing, self.embedder.embed_batch(missing)):
                if len(self._query_cache) >= 2048:
                    self._query_cache.pop(next(iter(self._query_cache)))
                self._query_cache[q] = v
        return (
            np.stack([self._query_cache[q] for q in queries]) if queries else np.zeros((0, self.data.dim), np.float32)
        )

    def search(
        self, query: str, k: int | None = None, mode: str | None = None, filters: Filters | None = None
    ) -> list[Hit]:
        return self.search_many([query], k, mode, filters)[0]

    def search_many(
        self, queries: list[str], k: int | None = None, mode: str | None = None, filters: Filters | None = None
    ) -> list[list[Hit]]:
        return [s.hits for s in self.search_scored_many(queries, k, mode, filters)]

    def search_scored(
        self,
        query: str,
        k: int | None = None,
        mode: str | None = None,
        filters: Filters | None = None,
        per_review: int | None = None,
    ) -> Scored:
        return self.search_scored_many([query], k, mode, filters, per_review)[0]

    def search_scored_many(
        self,
        queries: list[str],
        k: int | None = None,
        mode: str | None = None,
        filters: Filters | None = None,
        per_review: int | None = None,
    ) -> list[Scored]:
        k = self.settings.k if k is None else k
        mode = mode or self.settings.mode
        if mode not in MODES:
            raise QueryError(f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
        if k < 1:
            raise QueryError("k must be at least 1")
        queries = [clean_query(q) for q in queries]
        mask = self._mask(filters)
        qvecs = self.embed_queries([expand_query(q) for q in queries])
        out = []
        for q, qv in zip(queries, qvecs):
            dense = self._dense(qv)
            ranked = self._rank(q, mode, dense if mode != "bm25" else None, mask)
            allowed = dense if mask is None else dense[mask]
            best = float(allowed.max()) if len(allowed) else -1.0
            said = self.mentions(topic_core(q))
            mentioned = bool((said if mask is None else said & mask).any())
            hits = self._diversify(ranked, k, per_review or self.settings.per_review)
            out.append(Scored(hits, best, qv, mentioned))
        return out

    def dense_scores(self, queries: list[str]) -> np.ndarray:
        """Dense score of each query against every chunk, shape (queries, chunks)."""
        qvecs = self.embed_queries([expand_query(q) for q in queries])
        return np.stack([self._dense(qv) for qv in qvecs]) if len(qvecs) else np.zeros((0, len(self.data.chunks)))

    def _dense(self, qv: np.ndarray) -> np.ndarray:
        """Per chunk, the mean of two cosines to the query: the whole chunk's and its best sentence's.

        The chunk vector carries context (review title, section); the sentence vector catches one
        learning point in a list of several. Exact over all chunks for a flat index; for HNSW, over
        the candidates the index returns (the rest score -1).
        """
        data = self.data
        n = len(data.chunks)
        off = self._offsets
        if data.manifest.faiss_type == "flat" or n <= self.settings.candidates:
            chunk_cos = data.vectors @ qv
            best = chunk_cos.copy()
            has = np.flatnonzero(off[1:] > off[:-1])
            if len(has):
                best[has] = np.maximum.reduceat(data.sentence_vectors @ qv, off[has])
            return (chunk_cos + best) / 2
        scores, idx = data.faiss_index.search(qv[None, :], min(n, self.settings.candidates * 4))
        out = np.full(n, -1.0, dtype=np.float32)
        sent = data.sentence_vectors
        for row, cos in zip(idx[0], scores[0]):
            if row < 0:
                continue
            a, b = off[row], off[row + 1]
            out[row] = (cos + (float((sent[a:b] @ qv).max()) if b > a else cos)) / 2
        return out

    @cached_property
    def _offsets(self) -> np.ndarray:
        return self.data.sentence_offsets

    @cached_property
    def row_of(self) -> dict[str, int]:
        return {c.id: i for i, c in enumerate(self.data.chunks)}

    def sentence_scores(self, row: int, qv: np.ndarray) -> list[tuple[int, int, float]]:
        """(start, end, cosine) of each sentence of a chunk; a one-sentence chunk scores its chunk vector."""
        chunk = self.data.chunks[row]
        a, b = self._offsets[row], self._offsets[row + 1]
        if b == a:
            s, e = chunk.sentences[0] if chunk.sentences else (chunk.start, chunk.end)
            return [(s, e, float(self.data.vectors[row] @ qv))]
        cos = self.data.sentence_vectors[a:b] @ qv
        return [(s, e, float(c)) for (s, e), c in zip(chunk.sentences, cos)]

    def _mask(self, filters: Filters | None) -> np.ndarray | None:
        if filters is None or not filters.active():
            return None
        return np.array([filters.match(c) for c in self.data.chunks], dtype=bool)

    def _rank(
        self, query: str, mode: str, dense: np.ndarray | None, mask: np.ndarray | None
    ) -> list[tuple[int, float]]:
        """(chunk row, score) best first, over at most `candidates` rows per retriever."""
        n_cand = self.settings.candidates
        lists: list[list[tuple[int, float]]] = []
        if dense is not None:
            lists.append(_top(dense, n_cand, mask))
        if mode in ("bm25", "hybrid"):
            lex = self.bm25.scores(expand_query(query))
            lists.append([(i, s) for i, s in _top(lex, n_cand, mask) if s > 0])
        if len(lists) == 1:
            return lists[0]
        fused: dict[int, float] = {}
        for weight, ranked in zip((self.settings.dense_weight, 1.0), lists):
            for rank, (row, _) in enumerate(ranked):
                fused[row] = fused.get(row, 0.0) + weight / (self.settings.rrf_k + rank + 1)
        return sorted(fused.items(), key=lambda kv: -kv[1])

    def _diversify(self, ranked: list[tuple[int, float]], k: int, per_review: int) -> list[Hit]:
        """At most `per_review` excerpts from one review in the top k."""
        per: dict[str, int] = {}
        hits: list[Hit] = []
        for row, score in ranked:
            chunk = self.data.chunks[row]
            if per.get(chunk.review_id, 0) >= per_review:
                continue
            per[chunk.review_id] = per.get(chunk.review_id, 0) + 1
            hits.append(Hit(chunk, float(score), len(hits) + 1))
            if len(hits) == k:
                break
        return hits


def _intersect(rows: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Rows in both sorted arrays: each of the (shorter) first looked up in the second by bisection."""
    at = np.minimum(np.searchsorted(other, rows), len(other) - 1)
    return rows[other[at] == rows]


def _top(scores: np.ndarray, n: int, mask: np.ndarray | None) -> list[tuple[int, float]]:
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    n = min(n, len(scores))
    if n == 0:
        return []
    idx = np.argpartition(-scores, n - 1)[:n]
    idx = idx[np.argsort(-scores[idx], kind="stable")]
    return [(int(i), float(scores[i])) for i in idx if np.isfinite(scores[i])]
