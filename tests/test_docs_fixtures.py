"""The fictional review documents in tests/docs: reproducible, and laid out the way their expectations say.

These tests check the fixtures themselves (not the parser): that `make_docs.py` gives the same bytes
again, and that pypdf really finds in each PDF the furniture, bullets, hyphenation and page breaks
that the golden expectations promise a parser will have to deal with.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

DOCS = Path(__file__).resolve().parent / "docs"
EXPECTED = DOCS / "expected"
LONG_REPORTS = ("northshire-scr-child-m", "eastmere-cspr-baby-r", "glannau-cpr-2-2020-child-t")
BRIEFING_PAGES = {
    "eastmere-rapid-review-learning-brief": 2,
    "northshire-7-minute-briefing-child-m": 1,
    "glannau-learning-briefing-child-t": 3,
}
SCANNED = "westhaven-scr-family-k-executive-summary-scan"
WORD_BULLET = "\uf0b7"
SOFT_HYPHEN = "\u00ad"


def flat(text: str) -> str:
    return " ".join(text.split())


def expected(stem: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXPECTED / f"{stem}.json").read_text(encoding="utf-8"))
    return data


@functools.cache
def pages(stem: str) -> tuple[str, ...]:
    return tuple(page.extract_text() for page in PdfReader(DOCS / f"{stem}.pdf").pages)


def fixture_files(root: Path) -> set[str]:
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and ((p.suffix in {".pdf", ".txt", ".md"} and p.parent == root) or p.parent.name == "expected")
    }


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("docs")
    done = subprocess.run(
        [sys.executable, str(DOCS / "make_docs.py"), "--out", str(out)], capture_output=True, text=True, timeout=600
    )
    if done.returncode:
        pytest.fail(f"make_docs.py failed (is reportlab installed? pip install -e '.[test]'):\n{done.stderr[-2000:]}")
    return out


def test_regenerating_gives_identical_bytes(regenerated: Path) -> None:
    made = fixture_files(regenerated)
    assert made == fixture_files(DOCS)
    differ = sorted(name for name in made if (regenerated / name).read_bytes() != (DOCS / name).read_bytes())
    assert not differ, f"{differ} differ from a fresh run; after an intended change run: python tests/docs/make_docs.py"


def test_folder_is_small() -> None:
    caches = ("__pycache__", ".mypy_cache", ".ruff_cache")
    size = sum(p.stat().st_size for p in DOCS.rglob("*") if p.is_file() and not set(caches) & set(p.parts))
    assert size < 2_000_000


@pytest.mark.parametrize("stem", LONG_REPORTS)
def test_long_report_pages_headings_and_facts(stem: str) -> None:
    want = expected(stem)
    text = pages(stem)
    assert len(text) == want["pages"] >= 15
    assert want["kind"] == "review"
    for heading in want["headings"]:
        assert flat(heading["text"]) in flat(text[heading["page"] - 1]), heading
    assert len(want["facts"]) >= 2 and all("para" in fact for fact in want["facts"])


@pytest.mark.parametrize("stem", [*LONG_REPORTS, *BRIEFING_PAGES])
def test_located_facts_are_on_their_pages(stem: str) -> None:
    facts = expected(stem)["facts"]
    text = pages(stem)
    assert len(facts) >= 2
    for fact in facts:
        opening = f"{fact['para']} {fact['starts']}" if "para" in fact else fact["starts"]
        assert flat(opening) in flat(text[fact["page"] - 1]), fact


@pytest.mark.parametrize("stem", LONG_REPORTS)
def test_furniture_is_really_there(stem: str) -> None:
    want = expected(stem)
    text = pages(stem)
    whole = flat("\n".join(text))
    for item in want["furniture"]:
        assert flat(item) in whole, item
    running = [item for item in want["furniture"] if not re.search(r"\d", item) or "Page" in item]
    with_furniture = sum(any(flat(item) in flat(page) for item in running) for page in text)
    assert with_furniture >= 0.8 * len(text)
    assert flat(text[0]).count("Page") == 0, "the cover carries no running header or page number"


def test_page_footers_count_the_pages() -> None:
    text = pages("northshire-scr-child-m")
    total = len(text)
    for n, page in enumerate(text[1:], start=2):
        assert page.rstrip().endswith(f"Page {n} of {total}")
    header = "Serious Case Review – Child M"
    assert sum(header in page for page in text) == total - 1


def test_welsh_header_starts_on_page_two_with_page_number() -> None:
    text = pages("glannau-cpr-2-2020-child-t")
    assert "Page 1" not in text[0]
    for n, page in enumerate(text[1:], start=2):
        assert f"Extended Child Practice Review GLANNAU 2/2020 Page {n}" in page


def test_learning_briefing_header_on_every_page() -> None:
    text = pages("glannau-learning-briefing-child-t")
    for n, page in enumerate(text, start=1):
        assert f"Learning briefing \u2014 Page {n} of 3" in page


@pytest.mark.parametrize(
    "stem,style",
    [("northshire-scr-child-m", "leaders"), ("eastmere-cspr-baby-r", "tabs"), ("glannau-cpr-2-2020-child-t", "plain")],
)
def test_contents_pages(stem: str, style: str) -> None:
    contents = expected(stem)["contents"]
    page = flat(pages(stem)[contents["page"] - 1])
    assert page.startswith("Contents") or "Contents" in page.split(" ", 3)[:3]
    for line in contents["lines"]:
        assert flat(line) in page
    dotted = [line for line in contents["lines"] if re.search(r"\.{10,} \d+$", line)]
    numbered = [line for line in contents["lines"] if re.search(r" \d+$", line)]
    if style == "leaders":
        assert len(dotted) == len(contents["lines"])
    elif style == "tabs":
        assert not dotted and len(numbered) >= 10
    else:
        assert not numbered


@pytest.mark.parametrize("stem", [*LONG_REPORTS, *BRIEFING_PAGES])
def test_table_header_rows_are_lines_of_their_own(stem: str) -> None:
    """A parser meets each table's header row as a short capitalised line, the way it meets a heading."""
    lines = {flat(line) for page in pages(stem) for line in page.split("\n")}
    for table in expected(stem)["tables"]:
        assert flat(table["header"]) in lines
        assert len(table["header"].split()) <= 4 and table["cells"]
    assert sum(len(expected(s)["tables"]) for s in LONG_REPORTS) >= 6


def test_bullets_as_word_draws_them() -> None:
    for stem in ("northshire-scr-child-m", "eastmere-cspr-baby-r", *BRIEFING_PAGES):
        assert re.search(rf"^{WORD_BULLET} \S", "\n".join(pages(stem)), re.M), stem
    welsh = "\n".join(pages("glannau-cpr-2-2020-child-t"))
    assert WORD_BULLET not in welsh
    assert re.search(r"^\u2022 \S", welsh, re.M)
    assert re.search(r"^o the risks outside his home", welsh, re.M)


@pytest.mark.parametrize("stem", LONG_REPORTS)
def test_words_hyphenated_across_line_wraps(stem: str) -> None:
    wraps = expected(stem)["line_wraps"]
    text = pages(stem)
    assert wraps
    for wrap in wraps:
        assert f"{wrap['line_end']}\n{wrap['next_line']}" in text[wrap["page"] - 1], wrap
        assert wrap["line_end"].endswith(("-", SOFT_HYPHEN))
    kinds = {w["line_end"][-1] for stem in LONG_REPORTS for w in expected(stem)["line_wraps"]}
    assert kinds == {"-", SOFT_HYPHEN}
    compounds = [w for stem in LONG_REPORTS for w in expected(stem)["line_wraps"] if "-" in w["word"]]
    assert compounds, "a compound such as multi-agency breaking at its own hyphen, which must be kept"


@pytest.mark.parametrize("stem", LONG_REPORTS)
def test_sentences_continue_across_page_breaks(stem: str) -> None:
    splits = expected(stem)["sentences_across_pages"]
    text = pages(stem)
    assert splits
    for split in splits:
        before, after = text[split["page"] - 1], text[split["page"]]
        assert flat(split["ends"]) in flat(before) and flat(split["continues"]) in flat(after)
        assert not split["ends"].rstrip().endswith(".")


@pytest.mark.parametrize("stem", LONG_REPORTS)
def test_first_year_in_the_text_is_not_the_publication_year(stem: str) -> None:
    """Dates of birth, incidents and the period under review come before any mention of publication."""
    want = expected(stem)
    body = flat("\n".join(pages(stem)[1:]))
    for item in want["furniture"]:
        body = body.replace(flat(item), " ")
    years = [int(y) for y in re.findall(r"\b(?:19|20)\d\d\b", body)]
    assert want["year"] not in want["other_years"]
    assert set(want["other_years"]) <= set(years)
    assert years[0] != want["year"], "a parser that takes the first year it meets must be wrong"
    assert Counter(years).most_common(1)[0][0] != want["year"], "so must one that takes the commonest"


@pytest.mark.parametrize("stem,count", sorted(BRIEFING_PAGES.items()))
def test_briefing_page_counts(stem: str, count: int) -> None:
    want = expected(stem)
    assert want["kind"] == "briefing"
    assert want["about"] and all(about in LONG_REPORTS for about in want["about"])
    assert len(pages(stem)) == want["pages"] == count


def test_rapid_review_brief_headings() -> None:
    text = flat("\n".join(pages("eastmere-rapid-review-learning-brief")))
    positions = [
        text.index(h) for h in ("What happened?", "What did the reviews tell us?", "What should practitioners do?")
    ]
    assert positions == sorted(positions)


def test_seven_minute_briefing_has_seven_parts_in_order() -> None:
    want = expected("northshire-7-minute-briefing-child-m")
    numbered = [h["text"] for h in want["headings"] if h["level"] == 1]
    assert [h.split(".")[0] for h in numbered] == [str(n) for n in range(1, 8)]
    text = flat(pages("northshire-7-minute-briefing-child-m")[0])
    assert [text.index(h) for h in numbered] == sorted(text.index(h) for h in numbered)


def test_scanned_summary_has_no_text_layer() -> None:
    reader = PdfReader(DOCS / f"{SCANNED}.pdf")
    assert len(reader.pages) == expected(SCANNED)["pages"] == 1
    page = reader.pages[0]
    assert page.extract_text().strip() == ""
    assert len(page.images) == 1
    contents = page.get_contents()
    assert contents is not None
    assert b"BT" not in contents.get_data(), "no text object at all, not even an invisible OCR layer"
    assert expected(SCANNED)["text_layer"] is False


@pytest.mark.parametrize("stem", ["northshire-scr-child-m", "eastmere-rapid-review-learning-brief"])
def test_text_versions_match_the_pdf(stem: str) -> None:
    want = expected(stem)
    txt = (DOCS / f"{stem}.txt").read_text(encoding="utf-8")
    md = (DOCS / f"{stem}.md").read_text(encoding="utf-8")
    for heading in want["headings"]:
        assert heading["text"] in txt
        assert re.search(rf"^#+ {re.escape(heading['text'])}$", md, re.M), heading
    for label in ("Learning:", "Recommendations:", "Keywords:"):
        assert re.search(rf"^{label} \S", md, re.M) and re.search(rf"^{label} \S", txt, re.M)
    for item in want["furniture"]:
        assert flat(item) not in flat(txt), f"furniture {item!r} also occurs in the text itself"
    pdf = flat("\n".join(pages(stem))).replace(WORD_BULLET, "\u2022")
    for wrap in want["line_wraps"]:  # undo the printed breaks; a compound keeps its own hyphen
        kept = wrap["line_end"] + wrap["next_line"]
        joined = kept if kept in wrap["word"] else wrap["line_end"][:-1] + wrap["next_line"]
        pdf = pdf.replace(f"{wrap['line_end']} {wrap['next_line']}", joined)
    for item in want["furniture"]:
        pdf = pdf.replace(flat(item) + " ", "")
    missing = [p for p in txt.split("\n\n")[1:] if flat(p) not in pdf and "\t" not in p]
    assert not missing, missing[:3]


def test_questions_are_answerable_from_the_fixtures() -> None:
    lines = (DOCS / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line) for line in lines]
    assert len(questions) >= 15
    assert len({q["id"] for q in questions}) == len(questions)
    assert {q["kind"] for q in questions} == {"single", "topic"}
    assert any(q["paraphrased"] for q in questions) and not all(q["paraphrased"] for q in questions)
    for q in questions:
        assert set(q) - {"answer_contains"} == {
            "id",
            "question",
            "kind",
            "paraphrased",
            "gold_files",
            "learning_points",
            "filters",
        }
        texts = []
        for name in q["gold_files"]:
            path = DOCS / name
            assert path.is_file(), name
            texts.append(flat("\n".join(pages(path.stem)) if path.suffix == ".pdf" else path.read_text("utf-8")))
        assert q["learning_points"]
        # The answering passages (Passage@10 in rla eval): the learning points, else the phrases the set names.
        assert set(q["learning_points"]) <= set(q.get("answer_contains", q["learning_points"]))
        for point in q.get("answer_contains", q["learning_points"]):
            assert any(flat(point) in text for text in texts), (q["id"], point)
