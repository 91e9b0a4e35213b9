"""How hybrid ranks: scores mixed, not ranks; a question's main clause; reviews by their best excerpt plus a share of
their second best (Settings.review_second_weight)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from rag.lexical import expand_query, main_clause
from rag.retrieve import Retriever


def _rows(retriever: Retriever) -> tuple[int, int, int]:
    """Two chunk rows of one review and one row of another."""
    by_review: dict[str, list[int]] = {}
    for i, c in enumerate(retriever.data.chunks):
        by_review.setdefault(c.review_id, []).append(i)
    two = next(rows for rows in by_review.values() if len(rows) >= 2)
    one = next(rows for rows in by_review.values() if rows is not two)
    return two[0], two[1], one[0]


def test_a_review_with_two_passages_outranks_one_with_a_slightly_better_single(retriever) -> None:  # type: ignore[no-untyped-def]
    a0, a1, b0 = _rows(retriever)
    ranked = [(b0, 1.0), (a0, 0.9), (a1, 0.5)]
    chunks = retriever.data.chunks
    weighted = Retriever(replace(retriever.settings, review_second_weight=0.4), retriever.data)
    hits = weighted._diversify(ranked, 10, 2)
    # The review moves up by its second's share (0.9 + 0.4 × 0.5); its excerpts stay together, with their scores.
    assert [h.chunk.id for h in hits] == [chunks[a0].id, chunks[a1].id, chunks[b0].id]
    assert [h.rank for h in hits] == [1, 2, 3] and [h.score for h in hits] == [0.9, 0.5, 1.0]
    # One excerpt a review (search): still the review with two passages first.
    assert [h.chunk.id for h in weighted._diversify(ranked, 10, 1)] == [chunks[a0].id, chunks[b0].id]
    # Its best alone: the order of the excerpts.
    plain = Retriever(replace(retriever.settings, review_second_weight=0.0), retriever.data)
    assert [h.chunk.id for h in plain._diversify(ranked, 10, 1)] == [chunks[b0].id, chunks[a0].id]
    # A shorter list is a prefix of a longer one; a second passage outside the window does not count.
    assert [h.chunk.id for h in weighted._diversify(ranked, 1, 1)] == [chunks[a0].id]
    narrow = Retriever(replace(weighted.settings, review_second_within=2), retriever.data)
    assert [h.chunk.id for h in narrow._diversify(ranked, 10, 1)] == [chunks[b0].id, chunks[a0].id]


def test_hybrid_mixes_scaled_scores_so_a_near_tie_in_dense_goes_to_bm25s_clear_winner(retriever) -> None:  # type: ignore[no-untyped-def]
    a, b, c, d = 0, 1, 2, 3
    qv = retriever.embed_queries(["fathers left out of assessments"])[0]
    dense = [(a, 0.60), (b, 0.59), (c, 0.30)]
    lexical = [(b, 10.0), (a, 1.0), (d, 5.0)]
    fused = dict(Retriever(replace(retriever.settings, dense_share=0.5), retriever.data)._fuse(qv, dense, lexical))
    # Ranks alone would put a first (first in dense, second in BM25); its lead in dense is 0.01, b's in BM25 9.0.
    assert fused[a] == pytest.approx(0.5 * 1.0 + 0.5 * 0.1)
    assert fused[b] == pytest.approx(0.5 * 0.29 / 0.30 + 0.5 * 1.0)
    assert fused[c] == pytest.approx(0.0) and max(fused, key=fused.__getitem__) == b
    # A candidate only BM25 found is scored with its exact dense score, on the same scale.
    exact = float(retriever._dense(qv, np.array([d]))[0])
    assert fused[d] == pytest.approx(0.5 * (exact - 0.30) / 0.30 + 0.5 * 0.5)
    # All dense: the dense order.
    only_dense = Retriever(replace(retriever.settings, dense_share=1.0), retriever.data)._fuse(qv, dense, lexical)
    assert [row for row, _ in only_dense][:3] == [a, b, c]


def test_a_question_of_several_clauses_is_ranked_by_its_main_clause_too() -> None:
    assert main_clause(
        "Mum has been really low since the birth and dad is with the crisis team — what did reviews say?"
    ) == ("Mum has been really low since the birth and dad is with the crisis team")
    # The longest clause, wherever it stands.
    assert main_clause("Dads: what do the reviews say about leaving them out of assessments?") == (
        "what do the reviews say about leaving them out of assessments"
    )
    assert main_clause("Swindon: a baby died next to her mum - what was learned? (safe sleep)") == (
        "a baby died next to her mum (safe sleep)"  # an appended note stays with the clause
    )
    assert main_clause("Which reviews mention a 7-week-old baby?") is None  # one clause; "7-week-old" is one word
    assert main_clause("") is None


def test_the_ranking_vector_leaves_the_questions_own_vector_to_abstention(retriever) -> None:  # type: ignore[no-untyped-def]
    question = "Families with no friends or relatives nearby — why is that a worry?"
    own = retriever.embed_queries([expand_query(question)])[0]
    scored = retriever.search_scored(question)
    assert np.array_equal(scored.query_vector, own)  # abstention and quoting are calibrated on it
    ranking = retriever._ranking_vector(question, own)
    clause = retriever.embed_queries([expand_query("Families with no friends or relatives nearby")])[0]
    assert np.linalg.norm(ranking) == pytest.approx(1.0, abs=1e-5)
    assert float(ranking @ own) == pytest.approx(float(ranking @ clause), abs=1e-5)  # halfway between the two
    assert retriever._ranking_vector("fathers", own) is own


def test_reviews_come_in_the_records_order_with_the_passages_excerpts(retriever) -> None:  # type: ignore[no-untyped-def]
    a0, a1, b0 = _rows(retriever)
    chunks = retriever.data.chunks
    plain = Retriever(replace(retriever.settings, review_second_weight=0.0), retriever.data)
    passages = [(b0, 0.5), (a1, 0.4), (a0, 0.3)]  # which excerpt stands for a review: a1 for review a
    records = [(a0, 0.9), (b0, 0.2)]  # which review comes first: a
    hits = plain._diversify(passages, 10, 1, records=records)
    assert [h.chunk.id for h in hits] == [chunks[a1].id, chunks[b0].id]
    assert [h.score for h in hits] == [0.4, 0.5]  # the passages' scores
    # A review the passages lack is shown by its rows in the records.
    hits = plain._diversify([(b0, 0.5)], 10, 2, records=records)
    assert [h.chunk.id for h in hits] == [chunks[a0].id, chunks[b0].id]
