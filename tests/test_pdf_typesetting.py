"""What typesetting puts in a PDF's text layer: footnotes, and ligatures.

Word prints a reference mark as a small raised number ("…Safeguard Children¹ after…"), which pypdf reads on a
line of its own, and the notes in small type at the page's foot, between a paragraph's last line on one page and
its next on the following one. The fixture is a fictional overview report laid out that way (cover, contents,
running header, "Page N of M", numbered headings and paragraphs, marks and notes in Helvetica at 7 and 10 pt
under 11 pt body text), read by the real PDF worker, parser and chunker. Designed reports (national analyses,
learning briefs) set "fi" and "fl" as one ligature glyph, which the text layer holds as U+FB01, U+FB02.
"""

from __future__ import annotations

import functools
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from rag.chunk import chunk_review
from rag.models import Chunk, Review, SourceText
from rag.parse import parse_source
from rag.settings import Settings
from rag.sources import read_source

W, H = A4
BODY, LEADING, MARK, NOTE = 11.0, 15.0, 7.0, 10.0  # Word's defaults: Normal 11 pt, Footnote Text 10 pt
TOP, FOOT = H - 96, 72.0
HEADER = "Riverton Safeguarding Children Partnership: Child Safeguarding Practice Review — Child J"

# (kind, text): "h" a numbered heading, "p" a numbered paragraph; [^n] places footnote n's reference mark, [^st] an
# ordinal's raised letters (Word's AutoFormat sets "1st" so).
BLOCKS = [
    ("h", "1. Introduction"),
    (
        "p",
        "1.1 This review was commissioned by the Riverton Safeguarding Children Partnership in line with Working "
        "Together to Safeguard Children[^1] after Child J, aged eleven months, was admitted to hospital with a "
        "fractured femur and rib fractures of different ages.",
    ),
    (
        "p",
        "1.2 The rapid review[^2] concluded that the criteria for a local child safeguarding practice review were "
        "met. The review covers the period from the antenatal booking in August 2021 to the admission in June 2022.",
    ),
    (
        "p",
        "1.3 The review drew on agency chronologies, a learning event attended by fourteen practitioners, and "
        "conversations with Child J's mother and maternal grandmother. Child J's father declined to take part.",
    ),
    ("h", "2. Background"),
    (
        "p",
        "2.1 Child J's mother was twenty when he was born. She had been looked after by the local authority from "
        "the age of thirteen and had left care at eighteen with the support of a personal adviser, who remained in "
        "touch until she was twenty-one. She lived in a one-bedroom flat rented from a housing association.",
    ),
    (
        "p",
        "2.2 Child J's father was twenty-six. He had not lived with the mother but stayed at the flat for several "
        "nights a week from the middle of the pregnancy. He had convictions for assaults on two former partners and "
        "had completed a community order, supervised by the probation service, in 2019.",
    ),
    (
        "p",
        "2.3 The pregnancy was booked on the 1[^st] of February 2021, at fourteen weeks. The midwife completed the "
        "routine enquiry about domestic "
        "abuse when the mother attended alone and she said that there were no concerns. The father came to two of "
        "the later antenatal appointments and was described in the records as supportive.",
    ),
    (
        "p",
        "2.4 Child J was born at term and went home on the second day. The health visitor completed the new birth "
        "visit at twelve days and the six to eight week review at home; on both occasions the father was present but "
        "was not spoken to on his own, and his name and date of birth were not recorded.",
    ),
    (
        "p",
        "2.5 Between three and ten months Child J was seen by the GP four times for minor illnesses and once at the "
        "emergency department after what his mother described as a fall from the sofa. No injury was found and he "
        "was discharged home the same evening with advice about safe sleeping and supervision. The emergency "
        "department did not check whether the family were known to children's social care, and the discharge letter "
        "to the GP and the health visitor recorded the fall without comment on how a baby of that age had come to "
        "fall from a sofa. The health visitor filed the letter on receipt and did not discuss it with the mother at "
        "the next contact, three weeks later.",
    ),
    ("h", "3. Learning"),
    (
        "p",
        "3.1 Professionals did not consider the significance of a bruise to the ear seen by the health visitor when "
        "Child J was four months old. The protocol for bruising in non-mobile babies[^3] was not followed, and no "
        "referral was made to children's social care. Practitioners accepted the mother's explanation that an older "
        "cousin had been rough with the baby, without speaking to the father or checking the account with the family "
        "the cousin lived with, and the opportunity to arrange a child protection medical was lost. The health "
        "visitor was unsure whether the protocol applied because the bruise was small and the baby was said to be "
        "rolling.",
    ),
    (
        "p",
        "3.2 Information held by the GP about the father's previous convictions for violence was not shared with the "
        "health visiting service or with midwifery[^4]. Had it been, the assessment of risk in the household would "
        "have been different.",
    ),
    (
        "p",
        "3.3 Practitioners spoke about the family as a mother and her baby. The father was seen at two visits but was "
        "not asked about his own history, his role in caring for Child J or the help he had with his temper.",
    ),
    ("h", "4. Recommendations"),
    (
        "p",
        "4.1 The partnership should seek assurance that all practitioners working with babies know and follow the "
        "bruising protocol, including when a baby is described as starting to roll.",
    ),
    (
        "p",
        "4.2 Agencies should ensure that information about fathers and other men in the household is sought and "
        "shared at the antenatal stage.",
    ),
]
NOTES = {
    "1": "HM Government (2018) Working Together to Safeguard Children. London: Department for Education.",
    "2": "A rapid review is completed within fifteen working days of the serious incident notification.",
    "3": "Riverton SCP Multi-agency Protocol for Bruising or Marks in Non-Mobile Babies (2020).",
    "4": "The GP practice held a letter from probation dated 2019 which was not copied to any other agency.",
}


def _words(text: str) -> list[tuple[str, str]]:
    """(word, what is raised after it: a footnote's number, an ordinal's letters; "" nothing; "-" for punctuation
    set straight after a raised run)."""
    out: list[tuple[str, str]] = []
    for word in text.split():
        m = re.fullmatch(r"(.*?)\[\^(\w+)\](.*)", word)
        if not m:
            out.append((word, ""))
            continue
        out.append((m.group(1), m.group(2)))
        if m.group(3):
            out.append((m.group(3), "-"))
    return out


def _lines(text: str, measure: float) -> list[list[tuple[str, str]]]:
    lines: list[list[tuple[str, str]]] = [[]]
    for word, note in _words(text):
        trial = " ".join(w for w, _ in [*lines[-1], (word, note)])
        if lines[-1] and stringWidth(trial, "Helvetica", BODY) > measure:
            lines.append([])
        lines[-1].append((word, note))
    return lines


def make_report(path: Path, rise: bool) -> None:
    """Lay the report out as Word would: body lines down the page, each page's notes at its foot above the
    footer, the body stopping short of them; one paragraph runs over a page break with notes between. A mark is
    raised with the text rise operator (`rise`) or drawn as a run of its own above the line."""
    pages: list[list[tuple[str, float, list[tuple[str, str]]]]] = [[]]
    notes: list[list[str]] = [[]]
    y = TOP
    for kind, text in BLOCKS:
        if kind == "h":
            y -= 10
            if y - 22 - 2 * LEADING < FOOT + 14 * len(notes[-1]) + 40:  # kept with its paragraph's first lines
                pages.append([])
                notes.append([])
                y = TOP
            pages[-1].append(("h", y, [(text, "")]))
            y -= 22
            continue
        for line in _lines(text, W - 144):
            marks = [n for _, n in line if n.isdigit()]  # "st" of "1[^st]" is an ordinal's, not a note's
            if y - LEADING < FOOT + 14 * (len(notes[-1]) + len(marks)) + 40:  # room for the line and its notes
                pages.append([])
                notes.append([])
                y = TOP
            pages[-1].append(("p", y, line))
            notes[-1] += marks
            y -= LEADING
        y -= 8
    total = len(pages) + 3  # the cover, the contents and the back page
    canvas = Canvas(str(path), pagesize=A4, invariant=1)
    canvas.setTitle("Riverton CSPR Child J")
    canvas.setFont("Helvetica-Bold", 24)
    canvas.drawCentredString(W / 2, H - 260, "Child Safeguarding Practice Review")
    canvas.setFont("Helvetica-Bold", 20)
    canvas.drawCentredString(W / 2, H - 300, "Child J")
    canvas.setFont("Helvetica", 13)
    canvas.drawCentredString(W / 2, H - 340, "Riverton Safeguarding Children Partnership")
    canvas.drawCentredString(W / 2, H - 360, "Published March 2023")
    canvas.showPage()
    _furniture(canvas, 2, total)
    canvas.setFont("Helvetica-Bold", 14)
    canvas.drawString(72, TOP, "Contents")
    canvas.setFont("Helvetica", BODY)
    for i, heading in enumerate(t for k, t in BLOCKS if k == "h"):
        canvas.drawString(72, TOP - 30 - 20 * i, heading)
        canvas.drawRightString(W - 72, TOP - 30 - 20 * i, str(3 + i))
    canvas.showPage()
    for n, (lines, page_notes) in enumerate(zip(pages, notes, strict=True), start=3):
        _furniture(canvas, n, total)
        for kind, at, words in lines:
            if kind == "h":
                canvas.setFont("Helvetica-Bold", 13)
                canvas.drawString(72, at, words[0][0])
                continue
            _line(canvas, at, words, rise)
        if page_notes:
            top = FOOT + 14 * len(page_notes) + 6
            canvas.line(72, top, 216, top)
            for i, mark in enumerate(page_notes):
                at = top - 14 * (i + 1)
                canvas.setFont("Helvetica", MARK - 0.5)
                canvas.drawString(72, at + 3, mark)
                canvas.setFont("Helvetica", NOTE)
                canvas.drawString(80, at, NOTES[mark])
        canvas.showPage()
    _furniture(canvas, total, total)
    canvas.setFont("Helvetica", BODY)
    canvas.drawString(72, TOP, "Riverton Safeguarding Children Partnership, Town Hall, Riverton.")
    canvas.showPage()
    canvas.save()


def _line(canvas: Canvas, y: float, words: list[tuple[str, str]], rise: bool) -> None:
    """One line as runs of body text, each mark a small run straight after the word it follows."""
    runs: list[tuple[str, bool]] = [("", False)]
    for word, note in words:
        body = runs[-1][0]
        if note == "-":  # punctuation straight after a mark
            runs[-1] = (body.strip() + word, False)
        else:
            runs[-1] = (body + word if body in ("", " ") else body + " " + word, False)
        if note not in ("", "-"):
            runs += [(note, True), (" ", False)]
    x = 72.0
    text = canvas.beginText(x, y)
    for run, mark in runs:
        size = MARK if mark else BODY
        if rise:
            text.setFont("Helvetica", size)
            text.setRise(4 if mark else 0)
            text.textOut(run)
        else:
            canvas.setFont("Helvetica", size)
            canvas.drawString(x, y + (4 if mark else 0), run)
        x += stringWidth(run, "Helvetica", size)
    if rise:
        canvas.drawText(text)


def _furniture(canvas: Canvas, page: int, total: int) -> None:
    canvas.setFont("Helvetica", 9)
    canvas.drawCentredString(W / 2, H - 44, HEADER)
    canvas.drawCentredString(W / 2, 40, f"Page {page} of {total}")


@functools.cache
def report(rise: bool) -> tuple[SourceText, Review, list[Chunk]]:
    folder = Path(tempfile.mkdtemp(prefix="rla-footnotes-"))
    make_report(folder / "riverton-cspr-child-j.pdf", rise)
    src = read_source(folder / "riverton-cspr-child-j.pdf", folder, Settings())
    (review,) = parse_source(src)
    return src, review, chunk_review(review, src, 200)


MARKS = pytest.mark.parametrize("rise", [False, True], ids=["marks drawn raised", "marks set with text rise"])


def flat(text: str) -> str:
    return " ".join(text.split())


@MARKS
def test_reference_marks_are_not_read_as_text_or_headings(rise: bool) -> None:
    _, review, chunks = report(rise)
    headings = [s.path or s.label for s in review.sections]
    assert not any("rapid review" in h for h in headings), headings  # "1.2 The rapid review" + mark on its own line
    body = " ".join(flat(c.text) for c in chunks)
    assert "Safeguard Children after Child J" in body
    assert "The rapid review concluded that" in body
    assert "with midwifery. Had it been" in body
    assert not re.search(r"\b(?:Children|review|babies|midwifery) ?[1-4]\b", body)
    assert "booked on the 1st of February 2021" in body  # an ordinal's raised letters kept on their line


@MARKS
def test_footnotes_stay_in_the_record_on_their_page_but_out_of_every_chunk(rise: bool) -> None:
    src, _, chunks = report(rise)
    # Each note, and a phrase of the paragraph that carries its mark.
    marked = {"1": "Working Together", "2": "The rapid review concluded", "3": "babies was not", "4": "with midwifery."}
    for mark, note in NOTES.items():
        at = src.text.find(note)
        assert at >= 0, note  # kept: the record's text, shown in context, still holds it
        assert any(s <= at < e for s, e in src.notes), note
        assert not any(note[:30] in flat(c.text) for c in chunks), note
        # On the page of its mark.
        assert src.page_at(at) == next(c.page for c in chunks if marked[mark] in flat(c.text)), mark


@MARKS
def test_a_paragraph_run_over_the_notes_reads_on_and_the_record_keeps_its_own_year(rise: bool) -> None:
    src, review, chunks = report(rise)
    assert review.year == 2023  # not 2018 or 2019, the years in its footnotes
    # 2.5 runs from page 3, over its two footnotes and the page's foot and head, on to page 4.
    before = [c for c in chunks if "did not discuss it with the mother at the next" in flat(c.text)]
    after = [c for c in chunks if "contact, three weeks later." in flat(c.text)]
    assert before and after, [flat(c.text)[-80:] for c in chunks]
    assert before[0].page == 3 and after[0].page == 4
    assert before[0].section == after[0].section == "background"
    for c in before + after:
        assert not re.search(r"HM Government|fifteen working days|Page \d", c.text), c.text
    for c in chunks:
        assert src.text[c.start : c.end] == c.text  # verbatim spans of the record's text


def test_an_indexed_report_keeps_its_notes_on_disk_and_never_quotes_them(tmp_path: Path) -> None:
    """Through `rla ingest`'s code and the real model: the stored record keeps its footnotes' spans, and a search
    in a footnote's own words finds the body text, never the note."""
    from rag.ingest import ingest
    from rag.retrieve import Retriever
    from rag.ui_text import review_text
    from rag.web.html import record_html

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    make_report(corpus / "riverton-cspr-child-j.pdf", rise=False)
    settings = Settings(corpus=corpus, index=tmp_path / "index")
    ingest(settings)
    retriever = Retriever(settings)
    stored = retriever.data.sources["riverton-cspr-child-j.pdf"]
    assert stored.notes and all(note in stored.text for note in NOTES.values())
    assert [stored.text[s:e] for s, e in stored.notes] == [stored.text[s:e] for s, e in report(False)[0].notes]
    for query in ("fifteen working days serious incident notification", "probation letter not copied to any agency"):
        hits = retriever.search(query, k=5)
        assert hits, query
        assert not any(note[:25] in flat(h.chunk.text) for h in hits for note in NOTES.values()), query
    # Opened in context (the app's citation panel): the quote highlighted, the notes and the page's head and foot
    # that interrupt its paragraph set apart from it.
    quote = "did not discuss it with the mother at the next"
    at = stored.text.index(quote)
    shown = record_html(retriever.data, "riverton-cspr-child-j", (at, at + len(quote)))
    assert f"<mark>{quote}</mark>" in shown
    after = shown[shown.index(quote) :]
    for note in ("HM Government (2018)", "fifteen working days"):
        assert re.search(rf"<span class='rla-note'>[^<]*{re.escape(note)}", after), note
    assert re.search(r"<span class='rla-note'>[^<]*2 A rapid review is completed", after)  # its number on its line
    assert re.search(r"<span class='rla-furniture'>Page 4 of 5</span>.{0,40}contact, three weeks later", after)
    # `rla show`: the record as it reads, running heads and page numbers left out, each section's notes after it.
    text = review_text(retriever.data, "riverton-cspr-child-j")
    background = text[text.index("[2. Background]") : text.index("[3. Learning]")]
    assert "at the next contact, three weeks later." in flat(background) and "Page " not in background
    assert flat(background).endswith(f"Notes: 1 {NOTES['1']} 2 {NOTES['2']}")
    assert flat(text).endswith(f"Notes: 3 {NOTES['3']} 4 {NOTES['4']}")


def test_a_numbered_table_in_small_type_at_the_foot_is_not_taken_for_footnotes(tmp_path: Path) -> None:
    """An action plan in 9 pt under 11 pt text, its rows opening with numbers, at the foot of a page with no
    reference marks: text of the record, chunked and quoted like the rest."""
    path = tmp_path / "riverton-action-plan.pdf"
    canvas = Canvas(str(path), pagesize=A4, invariant=1)
    canvas.setFont("Helvetica-Bold", 14)
    canvas.drawString(72, TOP, "4. Recommendations and action plan")
    canvas.setFont("Helvetica", BODY)
    for i, line in enumerate(
        [
            "4.1 The partnership accepted every recommendation. The actions agreed with each agency, the lead",
            "officer and the date by which the partnership will check that the action has been completed are set",
            "out in the table below, which the partnership's learning and improvement group will monitor.",
        ]
    ):
        canvas.drawString(72, TOP - 30 - LEADING * i, line)
    rows = [
        "1   Brief all health visitors on the bruising protocol, including babies starting to roll   June 2023",
        "2   Record fathers' details at the antenatal booking and the new birth visit   September 2023",
        "3   Audit referrals closed without a visit by children's social care   December 2023",
    ]
    canvas.setFont("Helvetica", 9)
    for i, row in enumerate(rows):
        canvas.drawString(72, 200 - 16 * i, row)
    canvas.showPage()
    canvas.save()
    src = read_source(path, tmp_path, Settings())
    assert src.notes == ()
    (review,) = parse_source(src)
    body = " ".join(flat(c.text) for c in chunk_review(review, src, 200))
    assert "Record fathers' details at the antenatal booking" in body


def test_a_designed_brief_s_headings_are_its_lines_in_display_type(tmp_path: Path) -> None:
    """A learning brief whose headings read like sentences ("Fathers were not spoken to"), set in 14 pt bold over
    11 pt text, and one wrapped over two lines: each a section, cited by its heading. A pull quote in the same
    large type ends as a sentence and stays text; on a page where a 9 pt table is most of the type, the 11 pt
    paragraphs are still body text, not display type: the body's size is the document's."""
    path = tmp_path / "southbay-learning-brief-baby-q.pdf"
    canvas = Canvas(str(path), pagesize=A4, invariant=1)
    y = TOP

    def line(text: str, font: str = "Helvetica", size: float = BODY, lead: float = LEADING) -> None:
        nonlocal y
        canvas.setFont(font, size)
        canvas.drawString(72, y, text)
        y -= lead

    line("Learning brief: Baby Q", "Helvetica-Bold", 20, 28)
    line("Southbay Safeguarding Children Partnership, published June 2023")
    sections = [
        (
            "Why this review happened",
            [
                "Baby Q was four months old when she was admitted to hospital with a spiral",
                "fracture of the femur. Her parents said she had caught her leg in the cot.",
            ],
        ),
        ("The importance of seeing the baby undressed at every", None),
        (
            "contact",
            [
                "Health visitors saw Baby Q four times, always dressed and usually asleep in a car",
                "seat. Practitioners should ask to see a young baby undressed and awake.",
            ],
        ),
        (
            "Fathers were not spoken to",
            [
                "Baby Q's father was at two visits but no practitioner spoke with him about",
                "his own history or his care of the baby.",
            ],
        ),
    ]
    for heading, body in sections:
        line(heading, "Helvetica-Bold", 14, 20)
        for text in body or []:
            line(text)
    line("\u201cNobody ever asked me what I did when she cried.\u201d", "Helvetica-Oblique", 14, 20)
    line("What should you do differently?", "Helvetica-Bold", 14, 20)
    line("Ask who lives in the household and who cares for the baby, and speak to the father.")
    canvas.showPage()
    y = TOP
    line("Good practice", "Helvetica-Bold", 14, 20)
    line("The emergency department made a referral within an hour of admission.")
    line("The skeletal survey was completed the same day.")
    for i in range(4):  # most of this page's type, not of the document's
        line(
            f"{i + 1:>2}  June 2022   Health visiting   Contact recorded at home, baby seen dressed and asleep", size=9
        )
    canvas.showPage()
    canvas.save()
    src = read_source(path, tmp_path, Settings())
    (review,) = parse_source(src)
    chunks = chunk_review(review, src, 200)
    headings = {c.heading for c in chunks}
    assert {
        "Why this review happened",
        "The importance of seeing the baby undressed at every contact",
        "Fathers were not spoken to",
        "What should you do differently?",
        "Good practice",
    } <= headings, headings
    assert not any("Nobody ever asked" in h or "emergency department" in h for h in headings)
    father = next(c for c in chunks if "no practitioner spoke with him" in c.text)
    assert father.heading == "Fathers were not spoken to" and "Fathers were not spoken to" not in father.text


@pytest.mark.parametrize("bookmarks", [True, False])
def test_the_bookmarks_of_a_word_pdf_name_its_headings(tmp_path: Path, bookmarks: bool) -> None:
    """A report whose headings are body-size bold sentences, saved from Word with its headings as bookmarks: each
    bookmarked line is a heading (its list number aside, a title wrapped over two lines joined), also the one the
    line rules alone take for the opening's text."""
    path = tmp_path / "northmoor-lcspr-child-k.pdf"
    canvas = Canvas(str(path), pagesize=A4, invariant=1)
    y = TOP

    def line(text: str, font: str = "Helvetica", size: float = BODY) -> None:
        nonlocal y
        canvas.setFont(font, size)
        canvas.drawString(72, y, text)
        y -= LEADING

    def heading(lines: list[str], key: str, number: str = "") -> None:
        if bookmarks:  # Word's bookmark titles leave out the heading's list number
            canvas.bookmarkPage(key, top=y + 20)
            canvas.addOutlineEntry(" ".join(lines), key, level=0)
        for i, text in enumerate(lines):
            line(f"{number}{text}" if i == 0 else text, "Helvetica-Bold")

    line("Local Child Safeguarding Practice Review: Child K", "Helvetica-Bold", 16)
    line("Northmoor Safeguarding Partnership, published October 2022")
    heading(["How the review was carried out"], "h1")
    line("The review used a learning event and conversations with the family. Agencies provided chronologies.")
    heading(["Who was known to be in the family"], "h2", number="2. ")
    line("Child K lived with his mother and her partner, who was not known to the school or the health visitor.")
    heading(["Practitioners did not ask who else lived in the home or who", "collected Child K from school"], "h3")
    line("No practitioner asked the mother who else lived in the household. The school recorded the partner as a")
    line("family friend and did not share this with children's social care.")
    canvas.showPage()
    canvas.save()
    src = read_source(path, tmp_path, Settings())
    (review,) = parse_source(src)
    headings = {c.heading for c in chunk_review(review, src, 200)}
    named = {
        "How the review was carried out",
        "2. Who was known to be in the family",
        "Practitioners did not ask who else lived in the home or who collected Child K from school",
    }
    if bookmarks:  # each a heading, under the numbered one before it where there is one
        assert all(any(h.endswith(title) for h in headings) for title in named), headings
    else:  # the line rules alone: the first heading is read as part of the opening
        assert "How the review was carried out" not in headings


def test_ligatures_read_as_their_letters(tmp_path: Path) -> None:
    """A learning brief set in a face with ligatures (Vera, as the other fixtures use): "Key ﬁndings" is a
    learning section and "signiﬁcant", "conﬂict" are the words a search, a phrase or a theme looks for."""
    import os

    import reportlab
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    fonts = Path(os.path.dirname(reportlab.__file__)) / "fonts"
    pdfmetrics.registerFont(TTFont("Vera", str(fonts / "Vera.ttf")))
    pdfmetrics.registerFont(TTFont("Vera-Bold", str(fonts / "VeraBd.ttf")))
    path = tmp_path / "westmoor-learning-brief-child-p.pdf"
    canvas = Canvas(str(path), pagesize=A4, invariant=1)
    lines = [
        ("Vera-Bold", 16, "Learning Brief: Child P"),
        ("Vera", 11, "Westmoor Safeguarding Children Partnership"),
        ("Vera", 11, "Published: May 2021"),
        ("Vera-Bold", 13, "Key \ufb01ndings"),
        ("Vera", 11, "Professionals did not identify the signi\ufb01cant risk posed by the con\ufb02ict between"),
        ("Vera", 11, "the parents. The \ufb01rst referral was closed without a visit and was not escalated."),
        ("Vera-Bold", 13, "Recommendations"),
        ("Vera", 11, "Practitioners should be \ufb02exible about where they see fathers, and record what they"),
        ("Vera", 11, "\ufb01nd."),
    ]
    y = H - 90
    for font, size, text in lines:
        canvas.setFont(font, size)
        canvas.drawString(72, y, text)
        y -= size * 2
    canvas.showPage()
    canvas.save()
    src = read_source(path, tmp_path, Settings())
    assert not re.search("[\ufb00-\ufb06]", src.text)
    (review,) = parse_source(src)
    learning = [s for s in review.sections if s.label == "Key findings"]
    assert learning and learning[0].kind == "learning", [(s.label, s.kind) for s in review.sections]
    body = " ".join(flat(c.text) for c in chunk_review(review, src, 200))
    assert "significant risk posed by the conflict between the parents. The first referral" in body
    assert "flexible about where they see fathers, and record what they find." in body


def test_a_page_whose_pieces_cannot_be_measured_is_read_as_pypdf_reads_it() -> None:
    """A text piece without a readable matrix or size (a damaged content stream pypdf still reads) must not cost
    the file: the page's text is pypdf's, with no footnotes found, rather than the file skipped as corrupt."""
    from rag.pdfworker import PageText, page_text

    class Page:  # pypdf's page, as far as page_text uses it
        def extract_text(self, visitor_text: Any) -> str:
            visitor_text("Children", [1, 0, 0, 1, 0, 0], [1, 0, 0, 1, 72, 700], None, 11.0)
            visitor_text("1", None, None, None, None)
            return "Children1"

    assert page_text(Page()) == PageText("Children1", [], [])
