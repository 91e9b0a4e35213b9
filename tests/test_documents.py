"""Real-shaped documents (tests/docs): one record per file, page furniture masked, quotes verbatim on their page.

Uses the real PDF worker and parser on the fictional fixtures; expectations come from tests/docs/expected.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import pytest

from rag.chunk import chunk_review, sentence_units
from rag.errors import SourceError
from rag.layout import furniture_spans, segments
from rag.models import Chunk, Review, SourceText
from rag.parse import parse_source
from rag.settings import Settings
from rag.sources import read_source

DOCS = Path(__file__).resolve().parent / "docs"
EXPECTED = DOCS / "expected"
SCANNED = "westhaven-scr-family-k-executive-summary-scan.pdf"
FILES = sorted(
    p.name for p in DOCS.iterdir() if p.suffix in {".pdf", ".txt", ".md"} and p.parent == DOCS and p.name != SCANNED
)


def flat(text: str) -> str:
    return " ".join(text.split())


def expected(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXPECTED / f"{Path(name).stem}.json").read_text(encoding="utf-8"))
    return data


@functools.cache
def parsed(name: str) -> tuple[SourceText, list[Review], list[Chunk]]:
    src = read_source(DOCS / name, DOCS, Settings())
    reviews = parse_source(src)
    chunks = [c for r in reviews for c in chunk_review(r, src, 200)]
    return src, reviews, chunks


@pytest.mark.parametrize("name", FILES)
def test_one_record_per_file_of_the_right_kind(name: str) -> None:
    _, reviews, _ = parsed(name)
    assert len(reviews) == 1
    assert reviews[0].kind == expected(name)["kind"]
    assert reviews[0].id == Path(name).stem


@pytest.mark.parametrize("name", FILES)
def test_no_furniture_in_any_chunk_or_quote(name: str) -> None:
    src, _, chunks = parsed(name)
    assert chunks
    furniture = [flat(x) for x in expected(name).get("furniture") or []]
    # Contents lines with their page numbers (a wrapped entry's first half is also the heading's text).
    contents = [flat(x) for x in (expected(name).get("contents") or {}).get("lines", []) if re.search(r"\d$", x)]
    for c in chunks:
        assert src.text[c.start : c.end] == c.text
        text = flat(c.text)
        assert not [x for x in furniture + contents if x in text], c.text
        if src.kind == "pdf":
            assert "\uf0b7" not in c.text and "•" not in c.text
        for s, e in src.furniture:
            assert e <= c.start or s >= c.end, f"{c.id} overlaps furniture {src.text[s:e]!r}"
        for s, e in c.sentences:
            assert c.start <= s < e <= c.end


@pytest.mark.parametrize("name", [n for n in FILES if n.endswith(".pdf")])
def test_furniture_is_found_where_the_fixture_puts_it(name: str) -> None:
    src, _, _ = parsed(name)
    masked_text = flat(" ".join(src.text[s:e] for s, e in src.furniture))
    for item in expected(name).get("furniture") or []:
        assert flat(item) in masked_text
    # Body text is not masked: the located facts are all outside the furniture.
    for fact in expected(name).get("facts", []):
        at = flat(src.text).find(flat(fact["starts"]))
        assert at >= 0
        raw = src.text.find(fact["starts"].split()[0] + " " + fact["starts"].split()[1])
        assert not any(s <= raw < e for s, e in src.furniture)


@pytest.mark.parametrize("name", [n for n in FILES if n.endswith(".pdf")])
def test_a_sentence_cut_by_a_page_break_is_quoted_on_each_page(name: str) -> None:
    _, _, chunks = parsed(name)
    for item in expected(name).get("sentences_across_pages", []):
        before = [c for c in chunks if flat(item["ends"]) in flat(c.text)]
        after = [c for c in chunks if flat(item["continues"]) in flat(c.text)]
        assert before and after
        assert {c.page for c in before} == {item["page"]}
        assert {c.page for c in after} == {item["page"] + 1}
        assert not set(before) & set(after)


def test_pdf_and_text_versions_agree_on_the_record() -> None:
    for stem in ("northshire-scr-child-m", "eastmere-rapid-review-learning-brief"):
        records = [parsed(f"{stem}.{ext}")[1][0] for ext in ("pdf", "txt", "md")]
        assert {(r.id, r.kind) for r in records} == {(stem, expected(stem)["kind"])}


def test_scanned_pdf_is_skipped_with_the_reason() -> None:
    with pytest.raises(SourceError, match="no extractable text"):
        read_source(DOCS / SCANNED, DOCS, Settings())


# --- furniture_spans on small inputs ---------------------------------------------------------------


def pages_of(*pages: str) -> tuple[str, tuple[int, ...]]:
    starts, pos = [], 0
    for p in pages:
        starts.append(pos)
        pos += len(p) + 2
    return "\n\n".join(pages), tuple(starts)


def masked_lines(text: str, spans: tuple[tuple[int, int], ...]) -> list[str]:
    return [flat(text[s:e]) for s, e in spans]


@pytest.mark.parametrize("number", ["{n}", "Page {n}", "Page {n} of 3", "- {n} -", "– {n} –"])
def test_page_number_lines(number: str) -> None:
    body = {1: "The family moved twice.", 2: "Agencies did not share what they knew.", 3: "A plan was made."}
    pages = [f"{body[n]}\nThe review looked at {body[4 - n].lower()}\n{number.format(n=n)}" for n in (1, 2, 3)]
    text, starts = pages_of(*pages)
    got = masked_lines(text, furniture_spans(text, starts))
    assert got == [flat(number.format(n=n)) for n in (1, 2, 3)]


def test_running_header_repeated_by_position_not_by_words() -> None:
    words = {1: "The family moved twice.", 2: "Agencies did not share.", 3: "A plan was made."}
    pages = [f"Anyshire SCP – Child Z\n{words[n]}\nNarrative of {words[4 - n].lower()}" for n in (1, 2, 3)]
    text, starts = pages_of(*pages)
    assert masked_lines(text, furniture_spans(text, starts)) == ["Anyshire SCP – Child Z"] * 3


def test_a_repeated_body_sentence_in_a_text_file_is_not_furniture() -> None:
    text = "Learning\nAnyshire SCP – Child Z\nbody\n\nAnyshire SCP – Child Z\n"
    assert furniture_spans(text) == ()


def test_contents_without_leaders_confirmed_by_the_headings() -> None:
    text = (
        "Contents\n1. Introduction\n2. What happened\nAppendix 1: Glossary\n\n"
        "1. Introduction\nThis review was commissioned.\n2. What happened\nThe baby was bruised.\n"
        "Appendix 1: Glossary\nGP: general practitioner.\n"
    )
    spans = furniture_spans(text)
    assert masked_lines(text, spans) == ["Contents 1. Introduction 2. What happened Appendix 1: Glossary"]


def test_segments_leave_out_the_furniture() -> None:
    assert segments(0, 100, ((10, 20), (50, 60))) == [(0, 10), (20, 50), (60, 100)]
    assert segments(15, 55, ((10, 20), (50, 60))) == [(20, 50)]


def test_quotes_leave_out_word_bullets() -> None:
    text = "Key messages\n\uf0b7 See the child as a victim of exploitation, not as a young person making choices."
    (s, e), *_ = sentence_units(text, 13, len(text))
    assert text[s:e].startswith("See the child")
