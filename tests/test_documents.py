"""Real-shaped documents (tests/docs): one record per file, page furniture masked, quotes verbatim on their page.

Uses the real PDF worker and parser on the fictional fixtures; expectations come from tests/docs/expected.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from rag import sources
from rag.chunk import chunk_review, sentence_units
from rag.errors import SourceError
from rag.layout import furniture_spans, segments
from rag.metadata import read_cover
from rag.models import Chunk, Review, SourceText
from rag.parse import _headings, parse_source
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


@pytest.mark.parametrize("name", [n for n in FILES if n.endswith(".pdf")])
def test_a_word_broken_across_a_line_is_one_word_again(name: str) -> None:
    """ "practi-" / "tioners" (a printed or a soft hyphen) reads "practitioners"; "multi-" / "agency" keeps its own
    hyphen; the rest of the second line stays on its line."""
    src, _, chunks = parsed(name)
    for wrap in expected(name).get("line_wraps", []):
        page = src.text[src.page_starts[wrap["page"] - 1] :]
        compound = wrap["line_end"] + wrap["next_line"] in wrap["word"]
        whole = wrap["line_end"] + wrap["next_line"] if compound else wrap["line_end"][:-1] + wrap["next_line"]
        assert re.search(rf"(?m)^.*\b{re.escape(whole)}\S*$", page), wrap
        assert f"{wrap['line_end']}\n" not in page
        assert any(whole in c.text for c in chunks), wrap
    assert "\u00ad" not in src.text


def test_line_break_hyphens_in_a_pdf_read_by_the_worker(tmp_path: Path) -> None:
    from pdfgen import text_pdf

    lines = [
        "1.1 The review heard from practi\xad",  # soft hyphen: always one word
        "tioners in every agency.",
        "1.2 Health visitors worked inde-",  # an English word (the model's vocabulary)
        "pendently of the school nurse and her self-",  # not a word joined: a compound, kept
        "harmed teenage sister was not seen.",
        "1.3 The plan relied on the Multi-",
        "Agency Safeguarding Hub and on the gran-",  # the document prints "grandmother" elsewhere
        "dmother; a co-",  # ...and "co-operation" with its hyphen, though "cooperation" is a word
        "operation agreement with the grandmother was signed in 2019-",
        "2020 and a ward-",  # "wardround" is no word: kept as printed
        "round note was kept.",
        "1.4 Co-operation was good.",
    ]
    path = tmp_path / "wraps.pdf"
    path.write_bytes(text_pdf(["\n".join(lines)]))
    text = read_source(path, tmp_path, Settings()).text
    assert text.splitlines() == [
        "1.1 The review heard from practitioners",
        "in every agency.",
        "1.2 Health visitors worked independently",
        "of the school nurse and her self-harmed",
        "teenage sister was not seen.",
        "1.3 The plan relied on the Multi-Agency",
        "Safeguarding Hub and on the grandmother;",
        "a co-operation",
        "agreement with the grandmother was signed in 2019-",
        "2020 and a ward-round",
        "note was kept.",
        "1.4 Co-operation was good.",
    ]


REVIEWS = [n for n in FILES if expected(n)["kind"] == "review"]
BRIEFINGS = [n for n in FILES if expected(n)["kind"] == "briefing"]


@pytest.mark.parametrize("name", FILES)
def test_metadata_from_the_document(name: str) -> None:
    (r,) = parsed(name)[1]
    want = expected(name)
    for field in ("area", "partnership", "type", "child", "author"):
        assert getattr(r, field) == want[field], field
    if name.endswith(".pdf") or name in REVIEWS:
        # Never a date of birth, an incident or the period under review (the fixtures' traps).
        assert (r.year, r.month) == (want["year"], want["month"])
    else:
        assert r.year in (want["year"], None)  # a text version may not carry the briefing's footer date
    assert r.year not in set(want.get("other_years") or []) - {want["year"]}


@pytest.mark.parametrize("name", REVIEWS)
def test_review_titles_are_type_and_child(name: str) -> None:
    assert parsed(name)[1][0].title == expected(name)["title"]


@pytest.mark.parametrize("name", BRIEFINGS)
def test_briefing_titles_are_the_cover_as_printed(name: str) -> None:
    """The banner, then the cover's subtitle lines up to the partnership or the date, joined as one line."""
    title = parsed(name)[1][0].title
    assert title == expected(name)["title"]
    assert expected(name)["child"].split(";")[0] in title


@pytest.mark.parametrize(
    "cover,title",
    [
        (
            "Six Step Briefing\nChild Z\nLearning Review\nWestmoor Safeguarding\nChildren Partnership\nMay 2022",
            "Six Step Briefing: Child Z Learning Review",
        ),
        (
            "Learning Brief\nNeglect of older children\nWestmoor Safeguarding Children Partnership\nPublished: 2022",
            "Learning Brief: Neglect of older children",
        ),
        (
            "Practice Briefing: Baby Y\nWestmoor Safeguarding Children Partnership\nJune 2022",
            "Practice Briefing: Baby Y",
        ),
        (
            "7 Minute Briefing\nChild Z\nThis briefing is for everyone who works with families.",
            "7 Minute Briefing: Child Z",
        ),
    ],
)
def test_briefing_title_rule_on_other_covers(cover: str, title: str) -> None:
    assert read_cover(cover, "briefing").title == title


@pytest.mark.parametrize("name", FILES)
def test_headings_found_with_their_paths(name: str) -> None:
    (r,) = parsed(name)[1]
    found = {s.label for s in r.sections} | {p for s in r.sections if s.path for p in s.path.split(" › ")}
    missing = [h["text"] for h in expected(name).get("headings", []) if h["text"] not in found]
    assert not missing
    # Contents lines (with their page numbers) are never headings.
    for line in (expected(name).get("contents") or {}).get("lines", []):
        assert not re.search(r"\d$", line) or flat(line) not in {flat(x) for x in found}


@pytest.mark.parametrize("name", FILES)
def test_every_heading_found_is_a_heading_of_the_document(name: str) -> None:
    """Precision: no table header row or cell, banner line or wrapped body line becomes a section."""
    (r,) = parsed(name)[1]
    want = {flat(h["text"]) for h in expected(name)["headings"]}
    labels = {"Learning", "Recommendations", "Keywords"}  # "Learning: …" lines in the report's summary box
    extra = [s.label for s in r.sections if flat(s.label) not in want | labels and s.label not in ("Cover", "Opening")]
    assert not extra


@pytest.mark.parametrize("name", [n for n in FILES if expected(n).get("tables")])
def test_table_rows_are_not_headings(name: str) -> None:
    (r,) = parsed(name)[1]
    found = [flat(s.label) for s in r.sections] + [flat(p) for s in r.sections if s.path for p in s.path.split(" › ")]
    for table in expected(name)["tables"]:
        assert flat(table["header"]) not in found, table["header"]
        for cell in table["cells"]:
            cell = flat(cell)
            assert not [h for h in found if h == cell or (" " in cell and h.startswith(cell))], cell


def doc_lines(*lines: str) -> str:
    return "\n".join(lines) + "\n"


PROSE = (
    "The review looked at the work of every agency that knew the family in the two years",
    "before the incident, and at how they shared what they knew with each other.",
)


@pytest.mark.parametrize(
    "header,rows,is_table",
    [
        ("Date Agency Event", ("03/02/2020 GP Pregnancy confirmed.", "26/02/2020 Midwifery Booking visit."), True),
        ("When What happened", ("Autumn 2017 Attendance falls.", "May 2018 Registered."), True),
        (
            "Agency Contribution",
            ("Northshire Police Chronology", "Millbrook Surgery Summary", "Riverside School Notes"),
            True,
        ),
        ("Key Practice Episodes", PROSE, False),  # a heading in title case, prose under it
        ("Professional Curiosity", PROSE, False),
        ("What Child T said", ("“Nobody asked me why.”", "He said that one person made a difference."), False),
        ("Practice in the pandemic", ("October 2020 was the month the second lockdown began, when", *PROSE), False),
    ],
)
def test_table_header_rows_told_from_headings_by_their_rows(header: str, rows: tuple[str, ...], is_table: bool) -> None:
    text = doc_lines(
        "1. Introduction", "1.1 The agencies that took part are listed below.", header, *rows, "2. Findings", *PROSE
    )
    titles = [h.title for h in _headings(text)]
    assert (header not in titles) == is_table, titles
    assert titles[0] == "1. Introduction" and titles[-1] == "2. Findings"


def test_a_table_told_by_capitals_ends_at_a_blank_line() -> None:
    text = doc_lines(
        "1. Contacts",
        "The agencies are listed below.",
        "Agency Contact",
        "Northshire Police Public protection unit",
        "Northshire Council Children’s services front door",
        "Eastmere Trust Safeguarding team",
        "",
        "What to do next",
        "If you are worried about a child, talk to your designated lead the same day.",
    )
    assert [h.title for h in _headings(text)] == ["1. Contacts", "What to do next"]


def test_a_title_case_heading_over_one_line_paragraphs_stays_a_heading() -> None:
    """Word's plain-text export: one line per paragraph, each opening with a capital, blank lines between."""
    paragraphs = [
        "The health visitor saw the family at home twice in the first year.",
        "No one asked who else lived in the flat or looked after the children.",
        "Practitioners told the review that they took the mother at her word.",
    ]
    text = "\n\n".join(["1. Background", paragraphs[0], "Professional Curiosity", *paragraphs]) + "\n"
    assert [h.title for h in _headings(text)] == ["1. Background", "Professional Curiosity"]


def test_a_wrapped_body_line_after_a_comma_clause_is_not_a_heading() -> None:
    text = doc_lines(
        "1. Background",
        "The serious case review, by Dr Helen",
        "Marsh, was published by Northshire",
        "Safeguarding Children Board in March",
        "2019.",
    )
    assert [h.title for h in _headings(text)] == ["1. Background"]


def test_sections_of_a_long_report_have_real_kinds_and_paths() -> None:
    (r,) = parsed("northshire-scr-child-m.pdf")[1]
    kinds = {s.label: s.kind for s in r.sections}
    assert kinds["1. Introduction"] == "introduction"
    assert kinds["2. Terms of reference and scope"] == "scope"
    assert kinds["5. Key practice episodes"] == "chronology"
    assert kinds["7. Good practice"] == "good practice"
    assert kinds["8. Recommendations"] == "recommendations"
    assert kinds["10. Glossary"] == "appendix"
    finding = next(s for s in r.sections if s.label.startswith("Finding 2:"))
    assert finding.kind == "learning"
    assert finding.path.startswith("6. Analysis and findings › Finding 2: The mother’s apparent co-operation")


@pytest.mark.parametrize("name", [n for n in FILES if any("para" in f for f in expected(n).get("facts", []))])
def test_quotes_name_their_paragraph_and_page(name: str) -> None:
    _, _, chunks = parsed(name)
    for fact in expected(name)["facts"]:
        (c,) = [c for c in chunks if flat(fact["starts"]) in flat(c.text)]
        assert c.para == fact["para"]
        if c.page is not None:
            assert c.page == fact["page"]
            assert f"p. {fact['page']}" in c.citation_label


def test_citation_label_shows_heading_para_and_page() -> None:
    _, _, chunks = parsed("northshire-scr-child-m.pdf")
    c = next(c for c in chunks if c.para == "5.13")
    assert c.citation_label.startswith("Serious Case Review: Child M, 2019, Northshire, Key practice episode 4")
    assert c.citation_label.endswith(f"para 5.13 — northshire-scr-child-m.pdf, p. {c.page}")


def test_markdown_title_is_its_first_heading() -> None:
    (r,) = parsed("northshire-scr-child-m.md")[1]
    assert r.title == "Serious Case Review: Child M"


def test_pdf_and_text_versions_agree_on_the_record() -> None:
    for stem in ("northshire-scr-child-m", "eastmere-rapid-review-learning-brief"):
        records = [parsed(f"{stem}.{ext}")[1][0] for ext in ("pdf", "txt", "md")]
        assert {(r.id, r.kind, r.area, r.type, r.child) for r in records} == {
            (stem, expected(stem)["kind"], expected(stem)["area"], expected(stem)["type"], expected(stem)["child"])
        }


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
    src = SourceText("r.txt", text, "", "txt", furniture=spans)
    (review,) = parse_source(src)
    assert [s.label for s in review.sections] == ["1. Introduction", "2. What happened", "Appendix 1: Glossary"]


def test_segments_leave_out_the_furniture() -> None:
    assert segments(0, 100, ((10, 20), (50, 60))) == [(0, 10), (20, 50), (60, 100)]
    assert segments(15, 55, ((10, 20), (50, 60))) == [(20, 50)]


def test_quotes_leave_out_word_bullets() -> None:
    text = "Key messages\n\uf0b7 See the child as a victim of exploitation, not as a young person making choices."
    (s, e), *_ = sentence_units(text, 13, len(text))
    assert text[s:e].startswith("See the child")


def test_a_users_markdown_keeps_its_structure() -> None:
    text = (
        "# Child Q review\n\nNorthshire Safeguarding Children Partnership, published June 2022.\n\n"
        "## What happened\n\nChild Q was seen by three agencies in a month.\n\n"
        "Learning: agencies did not share what they knew about the household.\n\n"
        "Recommendations:\n\n- The partnership should audit information sharing.\n\n"
        "Keywords: neglect; information sharing\n"
    )
    (r,) = parse_source(SourceText("notes/child-q.md", text, "", "md"))
    assert (r.title, r.area, r.kind, r.year, r.month) == ("Child Q review", "Northshire", "review", 2022, "June")
    assert r.keywords == ("neglect", "information sharing")
    kinds = {s.kind: text[s.start : s.end] for s in r.sections}
    assert kinds["learning"].startswith("agencies did not share")
    assert kinds["recommendations"] == "- The partnership should audit information sharing."
    assert "audit" not in kinds.get("learning", "")


def test_label_lines_in_a_text_report_are_sections() -> None:
    (r,) = parsed("northshire-scr-child-m.txt")[1]
    glance = [s for s in r.sections if s.path.startswith("Review at a glance ›")]
    assert [s.kind for s in glance] == ["learning", "recommendations"]
    assert "hidden men" in r.keywords and "domestic abuse" in r.keywords


# --- bad input: large text files are parsed under the PDF limits -------------------------------------


def heading_lines(n: int) -> str:
    return "\n".join(["Practice Matters Here", "Some body text follows here."][i % 2] for i in range(n))


def test_a_large_text_is_parsed_in_the_worker_with_the_same_result() -> None:
    text = heading_lines(30_000)
    src = SourceText("big.txt", text, "0" * 64, "txt")
    assert text.count("\n") > sources.IN_PROCESS_LINES
    assert sources.parse_limited(src, Settings()) == parse_source(src)


def test_a_text_too_slow_to_parse_is_skipped_with_the_reason() -> None:
    src = SourceText("huge.txt", heading_lines(400_000), "0" * 64, "txt")
    settings = dataclasses.replace(Settings(), pdf_timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"huge\.txt: parsing 400,000 lines took longer than 0\.5 s; split the file"):
        sources.parse_limited(src, settings)
    assert time.monotonic() - started < 10


def test_parsing_is_linear() -> None:
    timings = {}
    for n in (20_000, 80_000):
        src = SourceText("x.txt", heading_lines(n), "", "txt")
        started = time.process_time()  # CPU time: the parser's own growth, not the waiting on a shared machine
        parse_source(src)
        timings[n] = time.process_time() - started
    assert timings[80_000] < 8 * timings[20_000] + 0.5  # quadratic would be 16×


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract-ocr not installed")
def test_scanned_page_is_read_by_ocr_and_marked() -> None:
    src = read_source(DOCS / SCANNED, DOCS, Settings())
    assert src.ocr_pages == (1,)
    (r,) = parse_source(src)
    want = expected(SCANNED)
    assert (r.kind, r.area, r.type, r.child, r.author, r.year, r.month) == (
        want["kind"],
        want["area"],
        want["type"],
        want["child"],
        want["author"],
        want["year"],
        want["month"],
    )
    labels = {s.label for s in r.sections}
    assert set(want["headings"]) <= labels


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract-ocr not installed")
def test_ocr_has_its_own_time_per_scanned_page() -> None:
    # Reading the text layer fits in 5 s; OCR of the page takes longer (5–19 s here), and is given 60 s a page.
    settings = dataclasses.replace(Settings(), pdf_timeout_s=5.0, ocr_page_timeout_s=60.0)
    assert read_source(DOCS / SCANNED, DOCS, settings).ocr_pages == (1,)


def test_an_ocr_timeout_names_ocr_and_the_setting_to_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    import rag.sources

    def slow(args: list[str], stdin: bytes | None, settings: Settings, seconds: float | None = None) -> dict:
        if args[0] == "--ocr":
            raise TimeoutError
        return {"pages": [""], "scanned": [0]}

    monkeypatch.setattr(rag.sources, "_run_worker", slow)
    monkeypatch.setattr(rag.sources.shutil, "which", lambda name: "/usr/bin/" + name)
    with pytest.raises(SourceError, match=r"OCR of 1 scanned page timed out after 90 s; raise ocr_page_timeout_s") as e:
        read_source(DOCS / SCANNED, DOCS, Settings())
    assert e.value.lasting


def test_scanned_pdf_without_tesseract_is_skipped_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SourceError, match="scanned pages, no text layer: install tesseract-ocr"):
        read_source(DOCS / SCANNED, DOCS, Settings())
