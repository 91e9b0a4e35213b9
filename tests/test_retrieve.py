"""Retrieval on the real index: modes, filters, diversity, synonyms, verbatim hits."""

from __future__ import annotations

import pytest

from rag.errors import QueryError
from rag.lexical import expand_query
from rag.models import Review, Section
from rag.retrieve import Filters


def test_every_hit_is_a_verbatim_span(retriever) -> None:  # type: ignore[no-untyped-def]
    for mode in ("dense", "bm25", "hybrid"):
        hits = retriever.search("information sharing between agencies", k=10, mode=mode)
        assert len(hits) == 10
        assert [h.rank for h in hits] == list(range(1, 11))
        for h in hits:
            src = retriever.data.sources[h.chunk.source]
            assert src.text[h.chunk.start : h.chunk.end] == h.chunk.text


def test_modes_find_the_obvious_review(retriever) -> None:  # type: ignore[no-untyped-def]
    q = "baby co-sleeping on the couch then found in a Moses basket; parents known to police for drugs"
    for mode, k in (("bm25", 5), ("hybrid", 5), ("dense", 10)):
        top = [h.chunk.review_id for h in retriever.search(q, k=k, mode=mode)]
        assert "2017-durham-baby-bailey" in top, (mode, top)


def test_one_excerpt_per_review_by_default_and_configurable(retriever) -> None:  # type: ignore[no-untyped-def]
    hits = retriever.search("fathers", k=10)
    ids = [h.chunk.review_id for h in hits]
    assert len(ids) == len(set(ids))
    scored = retriever.search_scored("Cumbria lessons Child CH placement moves", k=10, per_review=3)
    from collections import Counter

    assert max(Counter(h.chunk.review_id for h in scored.hits).values()) <= 3


def test_filters(retriever) -> None:  # type: ignore[no-untyped-def]
    f = Filters.parse({"year_from": 2018, "year_to": 2018, "section": "recommendations"})
    hits = retriever.search("neglect", k=10, filters=f)
    assert hits and all(h.chunk.year == 2018 and h.chunk.section == "recommendations" for h in hits)
    f = Filters.parse({"area": "croydon"})
    assert {h.chunk.area for h in retriever.search("assessment", filters=f)} == {"Croydon"}
    f = Filters.parse({"keyword": "Disguised compliance"})
    hits = retriever.search("what went wrong", filters=f)
    assert hits and all("disguised compliance" in [k.lower() for k in h.chunk.keywords] for h in hits)
    f = Filters.parse({"type": "child safeguarding practice review"})
    assert {h.chunk.type for h in retriever.search("fathers", filters=f)} == {"child safeguarding practice review"}
    # A filter nothing matches gives no hits rather than unfiltered ones.
    assert retriever.search("fathers", filters=Filters.parse({"area": "Atlantis"})) == []


@pytest.mark.parametrize(
    "raw,message",
    [
        ({"year_from": "twenty"}, "year"),
        ({"year_from": 2019, "year_to": 2017}, "empty"),
        ({"section": "epilogue"}, "section"),
        ({"colour": "red"}, "unknown filter"),
    ],
)
def test_bad_filters_are_refused_clearly(raw: dict, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        Filters.parse(raw)


def test_synonyms_bridge_old_and_new_terms(retriever) -> None:  # type: ignore[no-untyped-def]
    assert "was not brought" in expand_query("children who DNA appointments")
    assert "child safeguarding practice review" in expand_query("serious case review")
    assert "sudden unexpected death in infancy" in expand_query("SUDI")
    assert "father" in expand_query("dad left out")
    # "DNA" alone finds the briefing section on Was Not Brought through the synonym map.
    hits = retriever.search("DNA", k=5, mode="bm25")
    assert any("Was Not Brought" in h.chunk.heading for h in hits)


def test_bad_queries_are_refused_clearly(retriever) -> None:  # type: ignore[no-untyped-def]
    for q in ("", "   ", "\x00\x01"):
        with pytest.raises(QueryError, match="empty"):
            retriever.search(q)
    with pytest.raises(QueryError, match="mode"):
        retriever.search("fathers", mode="fuzzy")
    assert retriever.search("x" * 10_000, k=3)  # long input is capped, not an error


def test_bm25_search_loads_no_encoder(built_index) -> None:  # type: ignore[no-untyped-def]
    from rag.retrieve import Retriever

    fresh = Retriever(built_index)
    hits = fresh.search("was not brought to appointments", k=5, mode="bm25")
    assert hits and fresh._embedder is None  # nothing embedded, no model loaded
    fresh.search("was not brought to appointments", k=5, mode="dense")
    assert fresh._embedder is not None


def test_the_query_cache_survives_many_threads(built_index, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """8 threads of unique queries through a small cache: evictions race, nothing raises, vectors stay right."""
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    from rag.retrieve import Retriever, _Lru

    fresh = Retriever(built_index)
    fresh._query_vectors = _Lru(8)
    queries = [f"neglect and missed appointments, case {i}" for i in range(160)]

    def run(chunk: list[str]) -> np.ndarray:
        return np.stack([fresh.embed_queries([q])[0] for q in chunk])

    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(run, [queries[i::8] for i in range(8)]))
    want = fresh.embedder.embed_batch(queries[0::8])
    assert np.abs(got[0] - want).max() < 1e-5


def _review(year: int | None, area: str, kinds: tuple[str, ...], keywords: tuple[str, ...] = ()) -> Review:
    sections = tuple(Section(kind, kind.title(), 0, 1) for kind in kinds)
    return Review("r", "Child R", year, area, "serious case review", keywords, None, "r.txt", 0, 1, sections)


def test_filters_match_a_review_by_its_fields_and_a_section_of_that_kind() -> None:
    r = _review(2017, "Croydon", ("summary", "recommendations"), ("Neglect",))
    assert Filters().match(r)
    assert Filters.parse({"year_from": "2015", "area": "croydon", "keyword": "neglect"}).match(r)
    assert Filters.parse({"section": "recommendation"}).match(r)
    assert not Filters.parse({"section": "learning"}).match(r)
    assert not Filters.parse({"year_to": "2016"}).match(r)
    assert not Filters.parse({"type": "rapid review"}).match(r)
    assert not Filters.parse({"year_from": "2015"}).match(_review(None, "Croydon", ()))


def test_remembered_stems_survive_another_thread_clearing_them(monkeypatch: pytest.MonkeyPatch) -> None:
    import bm25s

    from rag import lexical

    assert lexical.stem_tokens_many(["mothers"]) == [{"mother"}]  # remembered now
    tokenize = bm25s.tokenize

    def tokenize_then_cleared(*args, **kwargs):  # type: ignore[no-untyped-def]
        out = tokenize(*args, **kwargs)
        lexical._STEMMED.clear()  # as another thread would, over its limit, while this one works
        return out

    monkeypatch.setattr(bm25s, "tokenize", tokenize_then_cleared)
    assert lexical.stem_tokens_many(["mothers", "fathers", "mothers"]) == [{"mother"}, {"father"}, {"mother"}]
