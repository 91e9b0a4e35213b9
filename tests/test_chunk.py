"""Chunks: verbatim spans inside one section of one review, within the token budget, never truncated."""

from __future__ import annotations

import base64
import itertools
import random

import pytest
from tests_support import seed_sources

from rag.chunk import chunk_review, count_tokens, embedding_text, sentence_spans
from rag.embed import SentenceTransformerEmbedder, load_embedder
from rag.models import Chunk, Review, Section, SourceText
from rag.parse import parse_source
from rag.settings import Settings


def test_chunks_are_verbatim_and_inside_their_section(retriever) -> None:  # type: ignore[no-untyped-def]
    data = retriever.data
    assert len(data.chunks) > 300
    for c in data.chunks:
        src = data.sources[c.source]
        assert src.text[c.start : c.end] == c.text
        review = data.reviews[c.review_id]
        inside = [s for s in review.sections if s.start <= c.start and c.end <= s.end]
        assert len(inside) == 1, f"{c.id} crosses a section boundary"
        assert inside[0].kind == c.section
        assert (c.title, c.year, c.area, c.type, c.keywords) == (
            review.title,
            review.year,
            review.area,
            review.type,
            review.keywords,
        )


def test_sections_are_fully_covered(retriever) -> None:  # type: ignore[no-untyped-def]
    """Every word of every section lands in some chunk: nothing is dropped between chunks."""
    data = retriever.data
    by_review: dict[str, list] = {}
    for c in data.chunks:
        by_review.setdefault(c.review_id, []).append(c)
    for rid, review in data.reviews.items():
        src = data.sources[review.source]
        for s in review.sections:
            covered = "".join(
                src.text[c.start : c.end]
                for c in sorted(by_review[rid], key=lambda c: c.start)
                if s.start <= c.start < s.end
            )
            assert "".join(src.text[s.start : s.end].split()) == "".join(covered.split()), f"{rid}/{s.label}"


def test_no_chunk_is_truncated_by_the_model(retriever, built_index: Settings) -> None:  # type: ignore[no-untyped-def]
    emb = load_embedder(built_index.model, verify=False)
    for c in retriever.data.chunks:
        review = retriever.data.reviews[c.review_id]
        assert emb.fits(embedding_text(review, c)), c.id
        assert count_tokens(c.text) <= built_index.chunk_tokens, c.id


def test_overlong_sentence_is_split_not_cut() -> None:
    """A single 600-word sentence becomes several chunks that together hold every word."""
    body = " ".join(f"word{i}" for i in range(600)) + "."
    text = "Learning: " + body
    src = SourceText("x.txt", text, "", "txt")
    review = _review(text, [(10, len(text))])
    emb = load_embedder(verify=False)
    chunks = chunk_review(review, src, 120, emb.fits)
    assert len(chunks) >= 5
    assert " ".join(c.text for c in chunks).split() == body.split()
    assert all(emb.fits(embedding_text(review, c)) for c in chunks)


def test_sentence_spans_keep_list_numbers_and_wrapped_lines() -> None:
    text = "Lessons\n  3. On completion. The x\nwraps here.\n  4. To be effective, in June 2015. Next; and\n\nNew"
    got = [text[s:e] for s, e in sentence_spans(text, 0, len(text))]
    assert got == [
        "Lessons",
        "3. On completion.",
        "The x\nwraps here.",
        "4. To be effective, in June 2015.",
        "Next;",
        "and",
        "New",
    ]


def test_chunker_respects_budget_on_every_seed_file() -> None:
    for src in seed_sources():
        for review in parse_source(src):
            for c in chunk_review(review, src, 60):
                assert count_tokens(c.text) <= 60, c.id


# --- the token bound holds for any text, not only for text with spaces ------------------------------

_CJK = "儿童保护实践审查发现，专业人员之间没有共享关于母亲新伴侣的信息。孩子的声音没有被听到；"
_B64 = base64.b64encode(random.Random(12).randbytes(3750)).decode()  # 5,000 characters
_URL = "https://example.org/reviews/" + "/".join(f"part{i:04d}?q={i * 7919 % 10007}&x=y" for i in range(150))
_RARE_CJK = "".join(chr(0x4E00 + i * 7919 % 20992) for i in range(2000))  # many split into byte tokens


def _review(text: str, sections: list[tuple[int, int]]) -> Review:
    return Review(
        "x",
        "Child X: serious case review",
        2020,
        "Anonymous",
        None,
        (),
        None,
        "x.txt",
        0,
        len(text),
        tuple(Section("learning", f"Learning {i}", s, e) for i, (s, e) in enumerate(sections)),
    )


def _check_chunks(text: str, sections: list[tuple[int, int]], emb: SentenceTransformerEmbedder) -> list[Chunk]:
    """Chunk `text` and assert the contract: ≤ 120 cl100k tokens, verbatim, in order, covering every
    non-space character of each section, none truncated by the model."""
    review = _review(text, sections)
    chunks = chunk_review(review, SourceText("x.txt", text, "", "txt"), 120, emb.fits)
    for c in chunks:
        assert c.text == text[c.start : c.end] and c.text.strip() == c.text, c.id
        assert count_tokens(c.text) <= 120, (c.id, count_tokens(c.text))
        assert emb.fits(embedding_text(review, c)), c.id
    for s, e in sections:
        inside = [c for c in chunks if s <= c.start and c.end <= e]
        assert all(a.end <= b.start for a, b in itertools.pairwise(inside)), "chunks overlap or are out of order"
        assert "".join("".join(c.text.split()) for c in inside) == "".join(text[s:e].split())
    assert len(chunks) == sum(1 for c in chunks for s, e in sections if s <= c.start and c.end <= e)
    return chunks


@pytest.fixture(scope="module")
def model() -> SentenceTransformerEmbedder:
    return load_embedder(verify=False)


@pytest.mark.parametrize(
    "run",
    [pytest.param("a" * 5000, id="aaaa"), pytest.param(_B64, id="base64"), pytest.param(_RARE_CJK, id="rare-cjk")],
)
def test_a_run_without_spaces_is_cut_at_token_boundaries(run: str, model: SentenceTransformerEmbedder) -> None:
    text = "Learning: " + run
    assert count_tokens(run) > 600  # far over the bound: one chunk would hold it all before the fix
    chunks = _check_chunks(text, [(10, len(text))], model)
    assert len(chunks) >= count_tokens(run) // 120


def test_a_long_url_inside_a_sentence(model: SentenceTransformerEmbedder) -> None:
    assert len(_URL) >= 3000
    text = f"Learning: The review was published at {_URL} and the family moved twice. Nobody asked the father."
    chunks = _check_chunks(text, [(10, len(text))], model)
    # The words before the URL stay whole; the URL's tail shares a chunk with the words after it.
    assert chunks[0].text.startswith("The review was published at")
    assert chunks[-1].text.endswith("and the family moved twice. Nobody asked the father.")


def test_cjk_text_without_spaces(model: SentenceTransformerEmbedder) -> None:
    body = (_CJK * 60)[:2000]
    text = "Learning: " + body
    chunks = _check_chunks(text, [(10, len(text))], model)
    assert len(chunks) >= count_tokens(body) // 120 >= 10


def test_mixed_text_keeps_sections_apart(model: SentenceTransformerEmbedder) -> None:
    normal = "The health visitor did not ask about the new partner. The school recorded bruising twice. "
    first = normal * 3 + _B64[:3000] + " " + normal + (_CJK * 20)[:800] + "。" + normal
    second = "Recommendations: " + "b" * 4000 + " and then " + _URL[:1500] + ". " + normal * 2
    text = f"Learning: {first}\n\n{second}"
    sections = [(10, 10 + len(first)), (12 + len(first), len(text))]
    chunks = _check_chunks(text, sections, model)
    # The plain sentences at the start are packed as any plain text is (whole sentences).
    assert chunks[0].text.startswith(normal.strip()) and chunks[0].text.count(".") >= 3
