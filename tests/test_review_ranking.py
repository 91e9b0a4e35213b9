"""Reviews ranked by their best excerpt plus a share of their second best (Settings.review_second_weight)."""

from __future__ import annotations

from dataclasses import replace

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
    # The review's best excerpt moves up by its second's share (0.9 + 0.4 × 0.5); the second keeps its own score.
    assert [h.chunk.id for h in hits] == [chunks[a0].id, chunks[b0].id, chunks[a1].id]
    assert [h.rank for h in hits] == [1, 2, 3] and [h.score for h in hits] == [0.9, 1.0, 0.5]
    # One excerpt a review (search): still the review with two passages first.
    assert [h.chunk.id for h in weighted._diversify(ranked, 10, 1)] == [chunks[a0].id, chunks[b0].id]
    # Its best alone: the order of the excerpts.
    plain = Retriever(replace(retriever.settings, review_second_weight=0.0), retriever.data)
    assert [h.chunk.id for h in plain._diversify(ranked, 10, 1)] == [chunks[b0].id, chunks[a0].id]
    # A shorter list is a prefix of a longer one; a second passage outside the window does not count.
    assert [h.chunk.id for h in weighted._diversify(ranked, 1, 1)] == [chunks[a0].id]
    narrow = Retriever(replace(weighted.settings, review_second_within=2), retriever.data)
    assert [h.chunk.id for h in narrow._diversify(ranked, 10, 1)] == [chunks[b0].id, chunks[a0].id]
