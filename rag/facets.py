"""Records counted by facet — theme, year, area, kind, type — under the filters: `rla themes` (and its
theme × year / area / kind tables) and the app's facet counts.

A record counts under a theme when one of its chunks that the filters allow is tagged with the theme."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from rag.models import counted_as

if TYPE_CHECKING:  # `rla --help` imports this module for BY: no numpy, no index code at start-up
    import numpy as np

    from rag.models import Review
    from rag.store import IndexData

BY = ("year", "area", "kind", "type")  # what a theme's count can be split by


def facet_value(review: Review, by: str) -> str:
    """The record's value for a facet, as shown and counted ("year not stated" for a missing year)."""
    if by == "year":
        return str(review.year) if review.year else "year not stated"
    if by == "type":
        return review.type or "type not stated"
    return str(getattr(review, by))


def records_by_theme(data: IndexData, allowed: np.ndarray | None) -> dict[str, set[str]]:
    """Theme id → the ids of the records with an allowed chunk tagged with it."""
    out: dict[str, set[str]] = {}
    for row, chunk in enumerate(data.chunks):
        if allowed is None or allowed[row]:
            for theme_id in chunk.themes:
                out.setdefault(theme_id, set()).add(chunk.review_id)
    return out


def by_counted_kind(data: IndexData, ids: set[str]) -> Counter[str]:
    """Records counted as reviews, briefings and analyses (`rag.models.counted_as`)."""
    return Counter(counted_as(data.reviews[rid].kind) for rid in ids)


def theme_table(data: IndexData, allowed: np.ndarray | None, by: str) -> dict[str, Counter[str]]:
    """Theme id → how many records address it per value of `by` (one of BY): theme × year, × area, …"""
    return {
        theme_id: Counter(facet_value(data.reviews[rid], by) for rid in ids)
        for theme_id, ids in records_by_theme(data, allowed).items()
    }
