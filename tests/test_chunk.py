"""Chunks: verbatim spans inside one section of one review, within the token budget, never truncated."""

from __future__ import annotations

from tests_support import seed_sources

from rag.chunk import chunk_review, count_tokens, embedding_text, sentence_spans
from rag.embed import load_embedder
from rag.models import Review, Section, SourceText
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
    tok = emb._tokenizer
    for c in retriever.data.chunks:
        review = retriever.data.reviews[c.review_id]
        n = len(tok(embedding_text(review, c), add_special_tokens=True, truncation=False)["input_ids"])
        assert n <= emb.max_tokens, f"{c.id}: {n} model tokens > {emb.max_tokens}"
        assert count_tokens(c.text) <= built_index.chunk_tokens or " " not in c.text.strip()


def test_overlong_sentence_is_split_not_cut() -> None:
    """A single 600-word sentence becomes several chunks that together hold every word."""
    body = " ".join(f"word{i}" for i in range(600)) + "."
    text = "Learning: " + body
    src = SourceText("x.txt", text, "", "txt")
    review = Review(
        "x",
        "X",
        None,
        "Anonymous",
        None,
        (),
        None,
        "x.txt",
        0,
        len(text),
        (Section("learning", "Learning", 10, len(text)),),
    )
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
                assert count_tokens(c.text) <= 60 or len(c.text.split()) == 1
