"""The Corpus tab's catalogue in headless Chromium: an upload's fields pre-filled from parsing and corrected before
indexing; a doubtful record corrected in the table, re-indexed without embedding anything."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_app_api import AppServer, running_app
from test_app_browser import PHONE, UPLOAD, open_tab, opened, shot

from rag.settings import Settings
from rag.store import open_index

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def app(built_index: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    with running_app(tmp_path_factory.mktemp("app-catalogue"), built_index) as server:
        yield server


def _catalogue(app: AppServer) -> list[dict[str, str]]:
    path = app.corpus / "catalogue.csv"
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))) if path.exists() else []


def _cell(pg, table: str, row: str, col: int):  # type: ignore[no-untyped-def]
    return pg.locator(f"#{table} [role=gridcell][data-row='{row}'][data-col='{col}']")


def _fields_as_parsed(pg, upload: Path) -> str:  # type: ignore[no-untyped-def]
    """The Corpus tab's catalogue fields of a file added to the upload box, as parsed before it is added."""
    open_tab(pg, "Corpus")
    pg.set_input_files("#corpus-files input[type=file]", str(upload))
    pg.locator("#upload-fields", has_text="as parsed").wait_for()
    return str(pg.inner_text("#upload-fields"))


def _edit(pg, table: str, row: str, col: int, text: str) -> None:  # type: ignore[no-untyped-def]
    """Type into a cell as a user does. The table is drawn again when the server answers the edit before; a
    double-click that lands while it is being drawn opens no editor (seen once in five full runs in one stop), so the
    edit is made again, at most three times, before the test fails."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(3):
        _cell(pg, table, row, col).dblclick()
        pg.keyboard.press("Control+A")
        pg.keyboard.type(text)
        pg.keyboard.press("Enter")
        try:
            _cell(pg, table, row, col).filter(has_text=text).wait_for(timeout=30_000)
            return
        except PlaywrightTimeout:
            if attempt == 2:
                raise


def test_a_doubtful_record_corrected_in_the_table_is_served_without_embedding(browser, app: AppServer) -> None:  # type: ignore[no-untyped-def]
    with opened(browser, app.url) as pg:
        open_tab(pg, "Corpus")
        pg.wait_for_function("document.querySelector('#doubts-note')?.innerText.includes('records have')")
        assert "no area (Anonymous)" in pg.inner_text("#doubts-table")
        pg.locator("#doubts-table input[placeholder^='Search']").fill("2022-emma")
        cell = pg.locator("#doubts-table [role=gridcell][data-col='1']", has_text="2022-emma")
        cell.wait_for()
        row = cell.get_attribute("data-row")
        assert row is not None
        _edit(pg, "doubts-table", row, 4, "Exampleton")  # the area column
        pg.click("#save-corrections-btn")
        pg.wait_for_function("document.querySelector('#ingest-summary')?.innerText.includes('Saved 1 correction')")
        summary = pg.inner_text("#ingest-summary")
        assert "0 newly embedded" in summary
        table = " ".join(pg.inner_text("#ingest-table").split())
        assert "updated" in table and "metadata from catalogue.csv" in table  # the outcome stays in the table
        shot(pg, "corpus-corrected")

    assert _catalogue(app)[0]["file"] == "nspcc-repository-march-2022.txt"
    assert (_catalogue(app)[0]["id"], _catalogue(app)[0]["area"], _catalogue(app)[0]["year"]) == (
        "2022-emma",
        "Exampleton",
        "",
    )
    assert open_index(app.index).reviews["2022-emma"].area == "Exampleton"


def test_an_upload_s_fields_come_pre_filled_and_a_corrected_cell_goes_into_the_catalogue(  # type: ignore[no-untyped-def]
    browser, app: AppServer, tmp_path: Path
) -> None:
    upload = tmp_path / "child z, exampleshire.txt"
    upload.write_text(UPLOAD, encoding="utf-8")
    with opened(browser, app.url) as pg:
        fields = _fields_as_parsed(pg, upload)
        assert "Child Z" in fields and "Exampleshire" in fields and "2024" in fields

        _edit(pg, "upload-fields", "0", 4, "20x4")  # a bad year: said beside the table, nothing added
        pg.wait_for_function("document.querySelector('#upload-fields-problem')?.innerText.includes('not a year')")
        pg.click("#ingest-btn")
        pg.locator("[data-testid=toast-body]", has_text="not a year").first.wait_for()
        assert not (app.corpus / "child-z-exampleshire.txt").exists()

        _edit(pg, "upload-fields", "0", 4, "2023")
        _edit(pg, "upload-fields", "0", 7, "https://example.org/child-z.pdf")  # the url column
        pg.wait_for_function("document.querySelector('#upload-fields-problem')?.innerText.trim() === ''")
        pg.click("#ingest-btn")
        pg.wait_for_function("document.querySelector('#ingest-summary')?.innerText.includes('Index updated')")
        assert "indexed" in pg.inner_text("#ingest-table")
        shot(pg, "corpus-upload-catalogued")

    rows = {r["file"]: r for r in _catalogue(app)}
    row = rows["child-z-exampleshire.txt"]
    assert (row["year"], row["url"], row["title"], row["area"]) == ("2023", "https://example.org/child-z.pdf", "", "")
    (record,) = [r for r in open_index(app.index).reviews.values() if r.source == "child-z-exampleshire.txt"]
    assert (record.year, record.url, record.area) == (2023, "https://example.org/child-z.pdf", "Exampleshire")


def test_the_corpus_tab_reads_on_a_phone_without_sideways_scrolling(browser, app: AppServer) -> None:  # type: ignore[no-untyped-def]
    with opened(browser, app.url, PHONE) as pg:
        open_tab(pg, "Corpus")
        pg.wait_for_function("document.querySelector('#doubts-note')?.innerText.includes('records have')")
        assert pg.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        shot(pg, "corpus-check-phone")


def test_a_word_report_uploaded_is_parsed_indexed_and_answers(browser, app: AppServer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from test_app_browser import ask
    from test_word import report_docx

    upload = tmp_path / "CSPR Child D final.docx"
    upload.write_bytes(report_docx())
    with opened(browser, app.url) as pg:
        fields = _fields_as_parsed(pg, upload)
        assert "Child Safeguarding Practice Review: Child D" in fields and "Westmarsh" in fields and "2022" in fields
        pg.click("#ingest-btn")
        pg.wait_for_function("document.querySelector('#ingest-summary')?.innerText.includes('Index updated')")
        assert "indexed" in pg.inner_text("#ingest-table")
        open_tab(pg, "Ask")
        text = ask(pg, "What did the review of Child D say about a bruise on a baby at nursery?")
        assert "Child D" in text and "bruising protocol" in " ".join(text.split())
        # Its citation opened in context: the Word document's table, list and headings, not their Markdown.
        n = pg.evaluate(
            """() => [...document.querySelectorAll('#answer .rla-sources li')]
                .find((li) => li.innerText.includes('CSPR-Child-D-final.docx'))?.value"""
        )
        pg.locator(f"#answer a.rla-cite[data-cite='{n}']").first.click()
        pg.locator("#ask-record mark").first.wait_for()
        shown = pg.inner_text("#ask-record")
        assert "|---" not in shown and shown.count("|") == 1  # the one a cell holds: "Early help | chronology"
        assert "#" not in shown and "• did not know the bruising protocol" in shown
        assert pg.locator("#ask-record table td", has_text="Westmarsh Community Health").count() == 1
        pg.locator("#ask-record table").scroll_into_view_if_needed()
        shot(pg, "ask-word-record")
    (record,) = [r for r in open_index(app.index).reviews.values() if r.source == "CSPR-Child-D-final.docx"]
    assert (record.kind, record.year, record.area) == ("review", 2022, "Westmarsh")
