"""Records written as Markdown (a Word document, a saved web page, a user's .md note) read in the app: the structure
their markup stands for — a table as a table, a list's items as bullets, headings and bold words in bold — not the
markup; the highlight on exactly the quoted words, however it crosses cells and rows; a .txt or .pdf record shown
as before. The real readers, parser, bundled model and index."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from pdfgen import text_pdf
from test_webpage import PAGE
from test_word import report_docx

from rag.layout import SIGNS, STYLES
from rag.models import MARKDOWN_KINDS, Review
from rag.retrieve import Retriever
from rag.settings import Settings
from rag.store import IndexData
from rag.web import html as web

WORD = "westmarsh-cspr-child-d.docx"
NOTE = "testshire-practice-note-baby-s.md"
ROWS = "".join(
    f"| {agency} | Saw the baby on {n} occasions; the father's name was not asked for or recorded |\n"
    for n, agency in enumerate(["Midwifery", "Health visiting", "GP practice", "Early help", "Housing"], 2)
)
NOTE_TEXT = f"""# Practice note: Baby S

Testshire Safeguarding Children Partnership, June 2023

## Learning

The panel found that **fathers were not seen** at any contact with the family. Practitioners should:

* ask who lives in the household;
* record the father's name and date of birth; and
+ see both parents at the new birth visit.

> "Nobody asked me about my partner," the mother told the reviewer.

| Agency | What happened |
|---|---|
| Police \\| MARAC | Called <script>alert(1)</script> to the flat; the **father** was not spoken to |
{ROWS}
## Recommendations

Every agency should record the names of all the adults in the household at every contact.
"""
# The same words as a text file and as a PDF: characters that are Markdown in a .md note are words here.
PLAIN = """Serious case review: Child Q

Testshire Safeguarding Children Partnership, May 2021.

Background
Child Q lived with his mother. The agencies involved were:
| Police | **Attended** the home |
|---|---|
- The school was not told about the police visits to the home.
* 3 visits were missed by the health visitor during the year.
"""


@pytest.fixture(scope="module")
def retriever(tmp_path_factory: pytest.TempPathFactory) -> Retriever:
    from rag.ingest import ingest

    folder = tmp_path_factory.mktemp("markdown-corpus")
    (folder / WORD).write_bytes(report_docx())
    (folder / "fathers-and-babies-national-review.html").write_text(PAGE, encoding="utf-8")
    (folder / NOTE).write_text(NOTE_TEXT, encoding="utf-8")
    (folder / "testshire-scr-child-q.txt").write_text(PLAIN, encoding="utf-8")
    (folder / "testshire-scr-child-q-pdf.pdf").write_bytes(text_pdf([PLAIN]))
    settings = Settings(corpus=folder, index=tmp_path_factory.mktemp("markdown-index") / "index")
    ingest(settings)
    return Retriever(settings)


@pytest.fixture(scope="module")
def data(retriever: Retriever) -> IndexData:
    return retriever.data


class Shown(HTMLParser):
    """What a browser shows of some HTML: its text, the text inside <mark> (each mark's apart), whether its tags
    nest (every end tag closes the last one opened, none left open)."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.open: list[str] = []
        self.nested = True
        self.text: list[str] = []
        self.marked: list[str] = []
        self.feed(markup)
        self.close()
        self.nested = self.nested and not self.open

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "br":
            self.open.append(tag)
        if tag == "mark":
            self.marked.append(" ")

    def handle_endtag(self, tag: str) -> None:
        self.nested = self.nested and bool(self.open) and self.open.pop() == tag

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if "mark" in self.open:
            self.marked.append(data)


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text)


def record(data: IndexData, source: str) -> Review:
    (review,) = [r for r in data.reviews.values() if r.source == source]
    return review


def span(data: IndexData, source: str, first: str, last: str) -> tuple[int, int]:
    """The offsets of the source's text from `first` to the end of `last`."""
    text = data.sources[source].text
    start = text.index(first)
    return start, text.index(last, start) + len(last)


def test_a_word_record_shows_its_table_list_and_headings_not_their_markup(data: IndexData) -> None:
    quote = span(data, WORD, "Westmarsh Community Health", "Westmarsh Community Health")
    html = web.record_html(data, record(data, WORD).id, quote)
    shown = Shown(html)
    text = "".join(shown.text)
    assert shown.nested
    assert "|---" not in text and "#" not in text and "**" not in text and "\\" not in text
    assert text.count("|") == 1  # a cell's own: "Early help | chronology"
    assert (
        "<table class='rla-md-table'><tr class='rla-md-head'><td>Agency</td><td>Contribution</td></tr>"
        "<tr><td><mark>Westmarsh Community Health</mark></td><td>Health visiting; chronology</td></tr>"
        "<tr><td>Westmarsh Children's Services</td><td>Early help | chronology</td></tr></table>"
    ) in html
    assert (
        "Practitioners:<br><br>• did not know the bruising protocol applied to a baby at nursery;<br>"
        "• did not share the observation with the health visitor; and<br>• the health visitor's record"
    ) in html
    assert "<span class='rla-md-heading'>Child Safeguarding Practice Review: Child D</span><br>Westmarsh" in html
    assert "<span class='rla-note'>1 HM Government (2018) Working Together to Safeguard Children" in html


def test_a_saved_web_page_shows_its_list_and_table(data: IndexData) -> None:
    html = web.record_html(data, record(data, "fathers-and-babies-national-review.html").id)
    shown = Shown(html)
    assert shown.nested and "|" not in "".join(shown.text)
    assert "<br><br>• their own mental health only rarely;<br>• their history of violence" in html
    assert "<tr class='rla-md-head'><td>Contact</td><td>Father seen</td></tr><tr><td>Antenatal booking</td>" in html


@pytest.mark.parametrize(
    "first,last",
    [
        ("2.2 The agencies", "Health visiting"),  # from a paragraph into a table's second row
        ("Westmarsh Community Health", "Health visiting"),  # across two cells
        ("Community Health", "Westmarsh Children's"),  # from inside a cell to inside a cell of the next row
        ("| Agency", "chronology |"),  # the whole table, its markup included
    ],
)
def test_a_highlight_across_cells_and_rows_nests_and_holds_every_quoted_word(
    data: IndexData, first: str, last: str
) -> None:
    start, end = span(data, WORD, first, last)
    quoted = data.sources[WORD].text[start:end]
    entry = {"source": WORD, "review_id": record(data, WORD).id, "section": "background", "start": start, "end": end}
    html = web.excerpt_html(data, {**entry, "text": quoted}, 1)
    shown = Shown(html)
    assert shown.nested
    assert words("".join(shown.marked)) == words(quoted)


def test_a_markdown_note_shows_bold_bullets_quotes_and_tables_escaped(data: IndexData) -> None:
    review = record(data, NOTE)
    html = web.record_html(data, review.id)
    shown = Shown(html)
    text = "".join(shown.text)
    assert shown.nested
    assert "**" not in text and "#" not in text and "|---" not in text and '> "Nobody' not in text
    assert "The panel found that <span class='rla-md-strong'>fathers were not seen</span> at any contact" in html
    assert "<br><br>• ask who lives in the household;<br>• record the father's name" in html
    assert "<br>• see both parents" in html
    quoted = '"Nobody asked me about my partner," the mother told the reviewer.'
    assert f"<br><br><span class='rla-md-quote'>{quoted}</span>" in html
    assert "<td>Police | MARAC</td><td>Called &lt;script&gt;alert(1)&lt;/script&gt; to the flat; the " in html
    assert "<script" not in html
    # A highlight outside every section (here the heading after the table) is shown in the text around it, which
    # starts inside the table: the cut table is still a table, its tags nested.
    start, end = span(data, NOTE, "Recommendations", "Recommendations")
    assert not any(s.start <= start < s.end for s in review.sections)
    html = web.record_html(data, review.id, (start, end))
    shown = Shown(html)
    assert shown.nested and "".join(shown.marked).strip() == "Recommendations"
    excerpt = html[html.index("<h4>Excerpt</h4>") : html.index("<h4>Opening</h4>")]
    assert excerpt.count("<table class='rla-md-table'>") == 1 and "|" not in excerpt


def test_a_text_or_pdf_record_reads_as_before(data: IndexData) -> None:
    """Markdown characters in a text file or a PDF are its words: shown as they are, as before this display."""
    before = (
        "<div class='rla-text'>Child Q lived with his mother. The agencies involved were: | Police | "
        "<mark>**Attended** the home | |---|---|<br>- The </mark>school was not told about the police visits to "
        "the home.<br>* 3 visits were missed by the health visitor during the year.</div>"
    )
    for source in ("testshire-scr-child-q.txt", "testshire-scr-child-q-pdf.pdf"):
        src = data.sources[source]
        assert src.kind not in MARKDOWN_KINDS and src.markup == ()
        html = web.record_html(data, record(data, source).id, span(data, source, "**Attended**", "- The "))
        assert before in html
        assert "rla-md" not in html and "<table" not in html and "•" not in html


def test_answers_and_ledgers_quote_a_table_without_its_markup(retriever: Retriever) -> None:
    """An answer's bullet and a ledger's excerpt quoting a table: its cells and rows set apart, the quote itself
    (what the answer's data and files hold) verbatim."""
    data = retriever.data
    start, end = span(data, WORD, "| Agency", "Health visiting;")
    quote = data.sources[WORD].text[start:end]
    cite = {
        "n": 1,
        "quote": quote,
        "quote_start": start,
        "quote_end": end,
        "source": WORD,
        "review_id": record(data, WORD).id,
        "title": "Child Safeguarding Practice Review: Child D",
        "year": 2022,
        "area": "Westmarsh",
        "section": "background",
        "page": None,
    }
    ans = {
        "answer": f"Showing 1 review.\n\nWhat the reviews found:\n- {' '.join(quote.split())} [1]",
        "citations": [cite],
    }
    html = web.answer_html(data, ans)
    assert "<li>Agency · Contribution / Westmarsh Community Health · Health visiting; <a class='rla-cite'" in html
    assert "|" not in "".join(Shown(html).text)
    # A bullet that is not its citation's quote (a language model's words) is shown as it is.
    written = {**ans, "answer": "Showing 1 review.\n\n- The | agencies | are listed [1]"}
    assert "<li>The | agencies | are listed <a class='rla-cite'" in web.answer_html(data, written)

    from rag.ledger import ledger

    html = web.ledger_html(data, ledger(retriever, "chronology"))
    # The matched words highlighted (issue 14: "app: <mark>"), the table's cells and rows set apart.
    assert (
        "Agency · Contribution / Westmarsh Community Health · Health visiting; <mark>chronology</mark> / Westmarsh"
        in html
    )
    assert "|---" not in html and "Early help | <mark>chronology</mark>" in html
    shown = Shown(html)
    assert shown.nested and {w.strip().lower() for w in shown.marked} - {""} == {"chronology"}


def test_every_kind_of_markup_has_a_way_to_be_shown() -> None:
    assert set(web.SHOWN_AS) == set(SIGNS) and set(web.STYLED) == set(STYLES)
