"""One contract, two vector indexes: exact (flat) and HNSW give the same ledger, abstention and answers,
and the same search results wherever HNSW's candidates hold them."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from rag.answer import answer
from rag.ledger import ledger
from rag.retrieve import Filters, Retriever
from rag.settings import Settings
from rag.store import open_index, write_generation

QUESTIONS = [
    json.loads(line)
    for line in (Path(__file__).resolve().parent.parent / "eval" / "questions.jsonl").read_text().splitlines()
][:40]


@pytest.fixture(scope="module")
def pair(built_index: Settings, tmp_path_factory: pytest.TempPathFactory) -> tuple[Retriever, Retriever]:
    """The session index as it is (flat), and the same vectors written as an HNSW index (threshold forced low).

    Few candidates, so HNSW's candidate list (4× this) is a small part of the 400-odd chunks."""
    data = open_index(built_index.index)
    dest = tmp_path_factory.mktemp("hnsw") / "index"
    write_generation(
        dest,
        data.manifest.model,
        data.manifest.chunker,
        data.chunks,
        np.array(data.vectors),
        list(data.reviews.values()),
        list(data.sources.values()),
        1,
        np.array(data.sentence_vectors),
        skipped=data.manifest.skipped,
    )
    flat = Retriever(replace(built_index, candidates=20))
    hnsw = Retriever(replace(built_index, index=dest, candidates=20))
    assert flat.data.manifest.faiss_type == "flat" and hnsw.data.manifest.faiss_type == "hnsw"
    return flat, hnsw


def test_ledger_is_the_same_on_both(pair: tuple[Retriever, Retriever]) -> None:
    flat, hnsw = pair
    for topic in ("fathers", "disguised compliance", "was not brought", "neglect", "domestic abuse", "bruising"):
        a, b = ledger(flat, topic), ledger(hnsw, topic)
        assert [e.review_id for e in a.entries] == [e.review_id for e in b.entries], topic
        assert len(a.entries) > 0


def test_abstention_support_and_answers_are_the_same_on_both(pair: tuple[Retriever, Retriever]) -> None:
    flat, hnsw = pair
    for q in QUESTIONS:
        filters = Filters.parse(q["filters"])
        a = flat.search_scored(q["question"], filters=filters)
        b = hnsw.search_scored(q["question"], filters=filters)
        assert a.best == pytest.approx(b.best, abs=1e-6) and a.mentioned == b.mentioned, q["id"]
        assert (
            answer(flat, q["question"], filters=filters).abstained
            == answer(hnsw, q["question"], filters=filters).abstained
        )


@pytest.mark.parametrize("mode", ["dense", "hybrid"])
def test_search_agrees_where_hnsw_candidates_hold_the_answer(pair: tuple[Retriever, Retriever], mode: str) -> None:
    """HNSW is approximate by design: with a deliberately small candidate pool (80 of ~400 chunks) the first
    five reviews must still be nearly the same set as exact search's (the benchmark's recall@10 at 100k
    chunks is the full-scale figure)."""
    flat, hnsw = pair
    overlap = []
    for q in QUESTIONS:
        filters = Filters.parse(q["filters"])
        a = {h.chunk.review_id for h in flat.search(q["question"], k=5, mode=mode, filters=filters)}
        b = {h.chunk.review_id for h in hnsw.search(q["question"], k=5, mode=mode, filters=filters)}
        overlap.append(len(a & b) / max(len(a), 1))
    assert sum(overlap) / len(overlap) >= 0.95, f"mean top-5 overlap {sum(overlap) / len(overlap):.3f}"
    assert sum(o == 1.0 for o in overlap) >= 0.8 * len(QUESTIONS)


def test_a_narrow_filter_on_hnsw_still_finds_the_allowed_chunks(pair: tuple[Retriever, Retriever]) -> None:
    flat, hnsw = pair
    narrow = Filters(year_to=2017, section="recommendations")
    allowed = int(flat.mask(narrow).sum())  # type: ignore[union-attr]
    assert 0 < allowed < 80
    for query in ("fathers", "information sharing between agencies", "training for GPs"):
        a = flat.search(query, k=10, mode="dense", filters=narrow)
        b = hnsw.search(query, k=10, mode="dense", filters=narrow)
        assert [h.chunk.id for h in a] == [h.chunk.id for h in b]
        assert all(narrow.match(h.chunk) for h in b) and len(b) == min(10, allowed)
