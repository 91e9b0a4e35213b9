"""The parser on the real seed corpus: golden records per file, plus the fields a reader would check."""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

import pytest

from rag.models import Review, SourceText
from rag.parse import parse_source

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
GOLDEN = Path(__file__).resolve().parent / "golden"

COUNTS = {
    "nspcc-case-reviews-2017-2018.txt": 68,
    "nspcc-2018-learning-from-national-scrs.txt": 6,
    "nspcc-repository-march-2022.txt": 8,
    "cumbria-lessons-from-scrs.txt": 4,
    "triennial-analysis-2011-2014-health-briefing.txt": 1,
}


def parse(name: str) -> tuple[SourceText, list[Review]]:
    src = SourceText(name, (CORPUS / name).read_text(encoding="utf-8"), "", "txt")
    return src, parse_source(src)


def golden_view(src: SourceText, reviews: list[Review]) -> list[dict]:
    """What the golden files pin: every field, and each section by kind, offsets and opening words."""
    out = []
    for r in reviews:
        d = r.to_dict()
        d["sections"] = [
            f"{s.kind} [{s.label}] {s.start}-{s.end}: {src.text[s.start : s.end][:60]!r}" for s in r.sections
        ]
        out.append(d)
    return out


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_golden(name: str) -> None:
    src, reviews = parse(name)
    got = json.dumps(golden_view(src, reviews), indent=1, ensure_ascii=False)
    path = GOLDEN / (Path(name).stem + ".json")
    if os.environ.get("RLA_UPDATE_GOLDEN"):
        path.write_text(got + "\n", encoding="utf-8")
    want = path.read_text(encoding="utf-8").rstrip("\n")
    if got != want:
        diff = "\n".join(
            difflib.unified_diff(want.splitlines(), got.splitlines(), "golden", "parsed", lineterm="", n=2)
        )
        pytest.fail(f"parse of {name} changed (RLA_UPDATE_GOLDEN=1 to accept):\n{diff[:6000]}")


@pytest.mark.parametrize("name,count", sorted(COUNTS.items()))
def test_counts(name: str, count: int) -> None:
    _, reviews = parse(name)
    assert len(reviews) == count
    assert len({r.id for r in reviews}) == count


def test_sections_are_verbatim_ordered_spans() -> None:
    for name in COUNTS:
        src, reviews = parse(name)
        for r in reviews:
            assert r.sections, r.id
            prev = r.start
            for s in r.sections:
                assert prev <= s.start < s.end <= r.end
                body = src.text[s.start : s.end]
                assert body == body.strip()
                prev = s.end


def test_dated_listing_fields() -> None:
    _, reviews = parse("nspcc-case-reviews-2017-2018.txt")
    by_id = {r.id: r for r in reviews}
    assert all(r.keywords for r in reviews)
    bailey = by_id["2017-durham-baby-bailey"]
    assert (bailey.title, bailey.year, bailey.area) == ("Baby Bailey", 2017, "Durham")
    assert bailey.keywords == (
        "antenatal care",
        "child neglect",
        "infant deaths",
        "newborn babies",
        "non-attendance",
        "substance misuse",
    )
    assert bailey.methodology == "uses the Child Practice Review process to identify how agencies worked together."
    assert [s.kind for s in bailey.sections] == ["summary", "key issues", "learning", "recommendations", "other"]
    fgh = by_id["2018-children-f-g-and-h"]  # "Anonymous- Children F, G and H": odd separator
    assert (fgh.area, fgh.title) == ("Anonymous", "Children F, G and H")
    assert by_id["2017-child-y"].area == "Anonymous"  # "2017-Anonymous-Child Y"
    assert by_id["2018-greenwich-w-family"].area == "Greenwich"  # board suffix dropped
    bw = by_id["2017-blackpool-child-bw"]  # a label in mid-paragraph opens a section
    assert "good practice" in [s.kind for s in bw.sections]
    assert by_id["2017-birmingham-shi-anne-downer-birth-name-aka-keegan-downer"].title.startswith("Shi-Anne Downer")


def test_headed_listing_fields_and_furniture() -> None:
    src, reviews = parse("nspcc-2018-learning-from-national-scrs.txt")
    assert [r.id for r in reviews] == ["baby-c", "child-f1", "child-g1", "child-l1", "learning-summary", "darry"]
    darry = reviews[-1]
    assert darry.type == "serious case review"
    assert [s.kind for s in darry.sections] == ["summary", "learning"]
    # The continuum-of-need grid after the last review is not part of any review.
    grid = src.text.index("1. Universal")
    assert all(r.end < grid for r in reviews)
    assert reviews[1].type == "serious case review" and reviews[0].type is None


def test_numbered_listing_fields() -> None:
    _, reviews = parse("nspcc-repository-march-2022.txt")
    by_id = {r.id: r for r in reviews}
    ys = by_id["2022-child-ys"]
    assert ys.title == "Child Safeguarding Practice Review: Child YS"
    assert (ys.year, ys.type) == (2022, "child safeguarding practice review")
    assert [s.kind for s in by_id["2022-liam"].sections] == ["summary", "learning", "recommendations"]
    assert by_id["2022-emma"].type == "learning review"
    # "Other resources [Read …](#)" link lines are not review text.
    assert all("Other resources" not in r.to_dict().__repr__() for r in reviews)


def test_lessons_page_fields_and_boilerplate() -> None:
    src, reviews = parse("cumbria-lessons-from-scrs.txt")
    assert [(r.title, r.year, r.area) for r in reviews] == [
        ("Child CH", 2020, "Cumbria"),
        ("Child BF", 2020, "Cumbria"),
        ("George", 2020, "Cumbria"),
        ("Child BE", 2019, "Cumbria"),
    ]
    for r in reviews:
        text = " ".join(src.text[s.start : s.end] for s in r.sections)
        assert "Dissemination of Learning" not in text and "Botchergate" not in text
        assert "If you work with children" not in text
        assert [s.kind for s in r.sections] == ["summary", "learning"]


def test_analysis_is_one_record_with_chapters_as_sections() -> None:
    _, reviews = parse("triennial-analysis-2011-2014-health-briefing.txt")
    assert len(reviews) == 1
    r = reviews[0]
    assert (r.id, r.kind, r.type, r.area) == (
        "triennial-analysis-2011-2014-health-briefing",
        "analysis",
        "briefing",
        "National",
    )
    titles = [s.label for s in r.sections]
    assert len(titles) == 23
    for heading in ("Domestic abuse", "Maternal ambivalence", "Information sharing", "Child sexual exploitation (CSE)"):
        assert heading in titles
    assert "Supporting engagement: moving from Did Not Attend (DNA) to Was Not Brought (WNB)" in titles
    # Wrapped body lines are not mistaken for headings.
    assert not any(t.startswith(("This briefing is based", "For infants", "On first inspection")) for t in titles)


def test_listing_entries_are_listing_entries() -> None:
    for name in COUNTS:
        if not name.startswith("triennial"):
            assert {r.kind for r in parse(name)[1]} == {"listing entry"}


def test_pdf_without_listing_is_one_record_with_pages() -> None:
    pages = ["Background\nThe family moved twice.\n", "Findings\nAgencies did not share information.\n"]
    text = "\n\n".join(pages)
    src = SourceText("report.pdf", text, "", "pdf", (0, len(pages[0]) + 2))
    reviews = parse_source(src)
    assert len(reviews) == 1
    r = reviews[0]
    assert r.id == "report"
    kinds = {s.kind: s for s in r.sections}
    assert src.page_at(kinds["learning"].start) == 2
    assert text[kinds["learning"].start : kinds["learning"].end] == "Agencies did not share information."
