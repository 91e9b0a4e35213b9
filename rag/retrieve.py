"""Queries → hits: dense (FAISS), lexical (BM25) or both fused by reciprocal rank, with filters."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from rag.errors import QueryError
from rag.lexical import Bm25, expand_query
from rag.models import Chunk, Hit
from rag.settings import Settings
from rag.store import IndexData, check_model, open_index

MODES = ("dense", "bm25", "hybrid")
SECTIONS = ("summary", "background", "key issues", "learning", "recommendations", "good practice", "other")
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
        if self.section and c.section != self.section:
            return False
        return True

    @classmethod
    def parse(cls, raw: dict[str, Any] | None) -> Filters:
        """Validate user-given filters once, at the edge."""
        raw = {k: v for k, v in (raw or {}).items() if v not in (None, "", [])}
        unknown = set(raw) - set(cls.__dataclass_fields__)
        if unknown:
            raise QueryError(f"unknown filter {sorted(unknown)[0]!r}; use year_from, year_to, area, type, keyword, section")
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
            aliases = {"findings": "learning", "learning points": "learning", "recommendation": "recommendations"}
            section = aliases.get(section, section)
            if section not in SECTIONS:
                raise QueryError(f"unknown section {raw['section']!r}; choose one of: {', '.join(SECTIONS)}")
            out["section"] = section
        return cls(**out)


def clean_query(query: str) -> str:
    """Validate a user's query: a clear error for empty ones, control characters dropped, length capped."""
    if not isinstance(query, str):
        raise QueryError("the query must be text")
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in query)
    text = " ".join(text.split())
    if not text:
        raise QueryError("the query is empty; type a question, e.g. \"what did reviews say about disguised compliance?\"")
    return text[:MAX_QUERY_CHARS]


class Retriever:
    """Search over one loaded index generation. Loads the embedding model on first dense query."""

    def __init__(self, settings: Settings, data: IndexData | None = None) -> None:
        self.settings = settings
        self.data = data or open_index(settings.index, settings.model)
        self._embedder: Any = None

    @cached_property
    def bm25(self) -> Bm25:
        return Bm25(self.data.bm25_dir, len(self.data.chunks))

    @cached_property
    def chunk_terms(self) -> list[set[str]]:
        """Stemmed content words of each chunk as BM25 indexes it (text, title, keywords)."""
        from rag.lexical import bm25_document, stem_tokens_many

        return stem_tokens_many([bm25_document(c, self.data.reviews.get(c.review_id)) for c in self.data.chunks])

    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            from rag.embed import load_embedder

            # The manifest already names the weights' hash; verifying again at every start costs time.
            emb = load_embedder(self.settings.model, verify=False)
            check_model(self.data.manifest, emb.name, emb.dim)
            self._embedder = emb
        return self._embedder

    def embed_queries(self, queries: list[str]) -> np.ndarray:
        return self.embedder.embed_batch(queries)

    def search(self, query: str, k: int | None = None, mode: str | None = None, filters: Filters | None = None) -> list[Hit]:
        return self.search_many([query], k, mode, filters)[0]

    def search_many(
        self, queries: list[str], k: int | None = None, mode: str | None = None, filters: Filters | None = None
    ) -> list[list[Hit]]:
        k = k or self.settings.k
        mode = mode or self.settings.mode
        if mode not in MODES:
            raise QueryError(f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
        if k < 1:
            raise QueryError("k must be at least 1")
        queries = [clean_query(q) for q in queries]
        mask = self._mask(filters)
        dense = self.dense_scores(queries) if mode in ("dense", "hybrid") else None
        out = []
        for i, q in enumerate(queries):
            ranked = self._rank(q, mode, None if dense is None else dense[i], mask)
            out.append(self._diversify(ranked, k))
        return out

    def search_scored(
        self, query: str, k: int | None = None, mode: str | None = None, filters: Filters | None = None
    ) -> tuple[list[Hit], float, np.ndarray]:
        """Hits plus the best cosine similarity of any allowed chunk (the abstention signal) and all cosines."""
        k = k or self.settings.k
        mode = mode or self.settings.mode
        if mode not in MODES:
            raise QueryError(f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
        query = clean_query(query)
        mask = self._mask(filters)
        dense = self.dense_scores([query])[0]
        ranked = self._rank(query, mode, dense if mode != "bm25" else None, mask)
        allowed = dense if mask is None else np.where(mask, dense, -1.0)
        best = float(allowed.max()) if len(allowed) else -1.0
        return self._diversify(ranked, k), best, dense

    def dense_scores(self, queries: list[str]) -> np.ndarray:
        """Cosine similarity of each query to every chunk, shape (queries, chunks)."""
        qv = self.embed_queries([expand_query(q) for q in queries])
        n = len(self.data.chunks)
        if self.data.manifest["faiss"]["type"] == "flat" or n <= self.settings.candidates:
            return qv @ self.data.vectors.T
        # Approximate index: take the top candidates from FAISS, leave the rest at -1.
        scores, idx = self.data.faiss_index.search(qv, min(n, self.settings.candidates * 4))
        out = np.full((len(queries), n), -1.0, dtype=np.float32)
        for row in range(len(queries)):
            valid = idx[row] >= 0
            out[row, idx[row][valid]] = scores[row][valid]
        return out

    def _mask(self, filters: Filters | None) -> np.ndarray | None:
        if filters is None or not filters.active():
            return None
        return np.array([filters.match(c) for c in self.data.chunks], dtype=bool)

    def _rank(self, query: str, mode: str, dense: np.ndarray | None, mask: np.ndarray | None) -> list[tuple[int, float]]:
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
        for ranked in lists:
            for rank, (row, _) in enumerate(ranked):
                fused[row] = fused.get(row, 0.0) + 1.0 / (self.settings.rrf_k + rank + 1)
        return sorted(fused.items(), key=lambda kv: -kv[1])

    def _diversify(self, ranked: list[tuple[int, float]], k: int) -> list[Hit]:
        """At most `per_review` excerpts from one review in the top k."""
        per: dict[str, int] = {}
        hits: list[Hit] = []
        for row, score in ranked:
            chunk = self.data.chunks[row]
            if per.get(chunk.review_id, 0) >= self.settings.per_review:
                continue
            per[chunk.review_id] = per.get(chunk.review_id, 0) + 1
            hits.append(Hit(chunk, float(score), len(hits) + 1))
            if len(hits) == k:
                break
        return hits


def _top(scores: np.ndarray, n: int, mask: np.ndarray | None) -> list[tuple[int, float]]:
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    n = min(n, len(scores))
    if n == 0:
        return []
    idx = np.argpartition(-scores, n - 1)[:n]
    idx = idx[np.argsort(-scores[idx], kind="stable")]
    return [(int(i), float(scores[i])) for i in idx if np.isfinite(scores[i])]
