"""The web app driven in headless Chromium, as a practitioner, a trainer and an evaluator would use it.

Screenshots of every tab go to tests/screenshots/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_app_api import ROOT, AppServer, running_app

from rag.settings import Settings

pytestmark = pytest.mark.browser

SHOTS = ROOT / "tests" / "screenshots"
LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
TABS = ["Ask", "Reviews", "Ledger", "Briefing", "Evaluate", "Corpus"]
SLOW_MS = 120_000  # model-backed actions on a small CI machine
QUESTION = "What did reviews learn about fathers and men in the household?"
FILTERED_QUESTION = "What did reviews find about neglect and parental substance misuse?"
DISTINCTIVE = "the lollipop warden noticed the zebra-striped umbrella every morning"
UPLOAD = f"""Serious case review: Child Z (Exampleshire)

Published March 2024 by Exampleshire Safeguarding Children Partnership.

Background
Child Z was a nine-year-old who crossed a busy road to school alone.

Learning
The review found that {DISTINCTIVE} and never told anyone about the bruises.
Professionals should record what they see at the school gate.

Recommendations
Schools should agree a route for crossing staff to share concerns with the designated safeguarding lead.
"""


@pytest.fixture(scope="module")
def app(built_index: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    with running_app(tmp_path_factory.mktemp("app-browser"), built_index) as server:
        yield server


@contextlib.contextmanager
def opened(browser, url: str, viewport: dict[str, int] = LAPTOP):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=viewport)
    pg = context.new_page()
    pg.set_default_timeout(SLOW_MS)
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(url)
    # attached, not visible: a link such as ?tab=ledger opens on another tab and hides Ask's question box
    pg.wait_for_selector("#question textarea", state="attached")
    # Choices and the status line arrive with the page-load event.
    pg.wait_for_function("document.querySelector('#status')?.innerText.includes('reviews')")
    yield pg
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


@pytest.fixture()
def page(browser, app: AppServer):  # type: ignore[no-untyped-def]
    with opened(browser, app.url) as pg:
        yield pg


@pytest.fixture()
def phone(browser, app: AppServer):  # type: ignore[no-untyped-def]
    with opened(browser, app.url, PHONE) as pg:
        yield pg


SHOTS.mkdir(parents=True, exist_ok=True)


def shot(pg, name: str) -> None:  # type: ignore[no-untyped-def]
    pg.screenshot(path=str(SHOTS / f"{name}.png"))


def open_tab(pg, name: str) -> None:  # type: ignore[no-untyped-def]
    tab = pg.get_by_role("tab", name=name)
    if tab.is_visible():
        tab.click()
        return
    # On a narrow screen the tabs that do not fit sit behind gradio's "More tabs" menu.
    pg.click("button[aria-label='More tabs']")
    pg.locator("button", has_text=re.compile(f"^{name}$")).last.click()


def choose(pg, elem_id: str, option: str) -> None:  # type: ignore[no-untyped-def]
    pg.click(f"#{elem_id} input")
    pg.locator(f"#{elem_id} [role=option]", has_text=option).first.click()


def ask(pg, question: str) -> str:  # type: ignore[no-untyped-def]
    pg.fill("#question textarea", question)
    js = "() => document.querySelector('#answer .rla-answer')?.innerText || ''"
    before = pg.evaluate(js)
    pg.click("#ask-btn")
    pg.wait_for_function(f"before => {{ const t = ({js})(); return t && t !== before; }}", arg=before)
    # The answer is rendered by more than one event (the result, then its citations): read it once it holds still.
    text, deadline = "", time.monotonic() + 15
    while time.monotonic() < deadline:
        pg.wait_for_timeout(300)
        now = str(pg.evaluate(js))
        if now and now == text:
            break
        text = now
    return text


def _words(text: str) -> str:
    return " ".join(text.split())


def test_the_page_works_while_the_model_loads_and_the_first_question_waits_for_it(  # type: ignore[no-untyped-def]
    browser, built_index: Settings, tmp_path: Path
) -> None:
    """The page is served before the index and the model are loaded (held here until the test lets the load
    go): the status line says so, a question asked meanwhile says it waits, and its answer follows the load."""
    gate = tmp_path / "load"
    held = ROOT / "tests" / "held_app.py"
    with running_app(tmp_path / "app", built_index, script=held, env={"RLA_HOLD_LOAD": str(gate)}) as server:
        context = browser.new_context(viewport=PHONE)
        pg = context.new_page()
        pg.set_default_timeout(SLOW_MS)
        pg.goto(server.url)
        pg.wait_for_selector("#question textarea", state="attached")
        assert "Loading the index and the model" in pg.inner_text("#status")
        pg.fill("#question textarea", QUESTION)
        pg.click("#ask-btn")
        pg.wait_for_selector("#answer-loading")
        assert "Loading the model and the index" in pg.inner_text("#answer-loading")
        pg.wait_for_timeout(1000)
        assert not pg.query_selector("#answer .rla-answer")  # still waiting, no answer invented meanwhile
        gate.touch()
        pg.wait_for_selector("#answer .rla-answer")
        assert re.search(r"\[1\]", pg.inner_text("#answer .rla-answer"))
        pg.wait_for_function("document.querySelector('#status')?.innerText.includes('reviews')")
        context.close()


def test_clicking_1_in_the_answer_highlights_the_quoted_passage_in_its_review(page, app: AppServer) -> None:  # type: ignore[no-untyped-def]
    from gradio_client import Client

    shot(page, "ask-empty")
    text = ask(page, QUESTION)
    assert "[1]" in text and "Sources" in text
    first_source = page.locator("#answer .rla-sources li strong").first.inner_text()
    shot(page, "ask-answer")

    page.locator("#answer a.rla-cite[data-cite='1']").first.click()
    mark = page.locator("#ask-record mark")
    mark.wait_for()
    assert mark.first.is_visible()
    cite = Client(app.url, verbose=False).predict(question=QUESTION, api_name="/ask")["citations"][0]
    assert _words(mark.inner_text()) == _words(cite["quote"])  # the highlighted words are the quote of [1]
    record = page.inner_text("#ask-record")
    assert first_source.strip() in record  # within its whole review record
    assert f"Citation [1] ({cite['section']}) is highlighted" in record
    # Another marker opens its own passage; the first again opens the first.
    if page.locator("#answer a.rla-cite[data-cite='2']").count():
        page.locator("#answer a.rla-cite[data-cite='2']").first.click()
        page.wait_for_function("document.querySelector('#ask-record').innerText.includes('Citation [2]')")
        page.locator("#answer a.rla-cite[data-cite='1']").first.click()
        page.wait_for_function("document.querySelector('#ask-record').innerText.includes('Citation [1]')")
    shot(page, "ask-citation")


def test_on_a_phone_a_citation_opens_as_a_sheet_over_the_answer(phone) -> None:  # type: ignore[no-untyped-def]
    ask(phone, QUESTION)
    phone.locator("#answer a.rla-cite[data-cite='1']").first.click()
    phone.locator("#ask-record mark").wait_for()
    box = phone.locator("#ask-record").bounding_box()
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"] + 1  # in view
    assert phone.evaluate("getComputedStyle(document.querySelector('#ask-record')).position") == "fixed"
    phone.wait_for_function(
        """() => { const r = document.querySelector('#ask-record mark').getBoundingClientRect();
                   return r.top >= 0 && r.top < innerHeight; }"""
    )
    shot(phone, "phone-ask-citation")
    phone.click("#ask-record .rla-sheet-close")
    assert phone.evaluate("getComputedStyle(document.querySelector('#ask-record')).position") != "fixed"


def test_a_shared_link_reproduces_the_answer_with_its_filters(page, browser, app: AppServer) -> None:  # type: ignore[no-untyped-def]
    page.click("#ask-filters")
    choose(page, "ask-section", "recommendations")
    text = ask(page, FILTERED_QUESTION)
    href = page.get_attribute("#share-link", "href")
    assert href and "section=recommendations" in href and "q=" in href
    with opened(browser, app.url + href.lstrip("/")) as shared:
        shared.wait_for_function("document.querySelector('#answer .rla-answer')?.innerText.length > 0")
        assert _words(shared.inner_text("#answer .rla-answer")) == _words(text)
        assert shared.input_value("#question textarea") == FILTERED_QUESTION


def test_copy_and_export_carry_the_references(page, app: AppServer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import docx
    import httpx

    ask(page, QUESTION)
    titles = [t.strip() for t in page.locator("#answer .rla-sources li strong").all_inner_texts()]
    page.click("#ask-copy")  # open the accordion
    plain = page.input_value("#answer-text textarea")
    assert "References" in plain and all(t in plain for t in titles)
    assert "source file:" in plain and "[1]" in plain
    # The Word and Markdown files are written when asked for, not with every answer.
    assert not page.locator("#answer-files").is_visible()
    page.click("#ask-keep")
    page.locator("#answer-files").wait_for(state="visible")
    links = page.eval_on_selector_all("#answer-files a[href]", "els => els.map(e => e.href)")
    by_ext = {Path(link.split("?")[0]).suffix: link for link in links}
    assert sorted(by_ext) == [".docx", ".md"]
    md = httpx.get(by_ext[".md"], timeout=60).text
    assert "## References" in md and all(t in md.replace("\\", "") for t in titles)
    word = tmp_path / "answer.docx"
    word.write_bytes(httpx.get(by_ext[".docx"], timeout=60).content)
    paragraphs = [p.text for p in docx.Document(str(word)).paragraphs]
    refs = paragraphs[paragraphs.index("References") + 1 :]
    assert len(refs) == len(titles) and all(t in r for t, r in zip(titles, refs, strict=True))
    assert all("source file: " in r for r in refs)


def test_a_filter_changes_the_answer(page) -> None:  # type: ignore[no-untyped-def]
    unfiltered = ask(page, FILTERED_QUESTION)
    page.click("#ask-filters")  # open the accordion
    choose(page, "ask-section", "recommendations")
    filtered = ask(page, FILTERED_QUESTION)
    assert filtered != unfiltered
    sections = re.findall(r"· (\w[\w ]*) —", page.inner_text("#answer .rla-sources"))
    assert sections and set(sections) == {"recommendations"}
    shot(page, "ask-filtered")


def test_an_off_topic_question_is_answered_with_an_abstention(page) -> None:  # type: ignore[no-untyped-def]
    text = ask(page, "What is the best recipe for sourdough bread?")
    assert "do not answer this" in text
    assert not page.locator("#cite-pick").is_visible()


def test_an_empty_question_clears_the_previous_answer_and_says_what_to_do(page) -> None:  # type: ignore[no-untyped-def]
    ask(page, QUESTION)
    page.fill("#question textarea", "   ")
    page.click("#ask-btn")
    toast = page.locator("[data-testid=toast-body]").first
    toast.wait_for()
    assert "the query is empty" in toast.inner_text() and "type a question" in toast.inner_text()
    assert "Traceback" not in page.content()
    page.wait_for_function("!document.querySelector('#answer .rla-answer')")
    assert page.locator("#ask-record mark").count() == 0


def test_an_empty_briefing_topic_asks_for_a_topic(page) -> None:  # type: ignore[no-untyped-def]
    open_tab(page, "Briefing")
    page.click("#brief-btn")
    toast = page.locator("[data-testid=toast-body]").first
    toast.wait_for()
    assert "type a topic for the briefing" in toast.inner_text()
    assert "question" not in toast.inner_text()


def test_reviews_table_filters_and_shows_a_record(page, app: AppServer) -> None:  # type: ignore[no-untyped-def]
    from collections import Counter

    from rag.store import open_index

    reviews = open_index(app.index).reviews.values()
    keywords = Counter(k for r in reviews if r.area == "Birmingham" for k in r.keywords)
    (top, n), *_ = sorted(keywords.items(), key=lambda kv: (-kv[1], kv[0].lower()))
    open_tab(page, "Reviews")
    count = page.locator("#reviews-count")
    page.wait_for_function("document.querySelector('#reviews-count')?.innerText.includes('of')")
    assert count.inner_text().strip() == f"{len(reviews)} of {len(reviews)} reviews"
    choose(page, "reviews-area", "Birmingham")
    expected = f"{sum(r.area == 'Birmingham' for r in reviews)} of {len(reviews)} reviews"
    page.wait_for_function("t => document.querySelector('#reviews-count').innerText.trim() === t", arg=expected)
    # The keyword facet counts the keywords of the reviews listed, most common first.
    page.wait_for_function("t => document.querySelector('#reviews-facets').innerText.includes(t)", arg=f"{top} ({n})")
    facets = page.inner_text("#reviews-facets")
    assert facets.startswith("Keywords:") and f"{top} ({n})" in facets
    cell = page.locator("#reviews-table [data-testid=cell-0-0]")
    title = cell.inner_text().strip()
    cell.click()
    page.wait_for_function("t => document.querySelector('#review-record h3')?.innerText.trim() === t", arg=title)
    assert "Birmingham" in page.inner_text("#review-record")
    shot(page, "reviews")


def charts_drawn(pg) -> int:  # type: ignore[no-untyped-def]
    """Wait until both ledger charts have drawn their bars (Vega draws them a moment after the list arrives, so a
    screenshot taken as the list appears shows empty charts); the number of bars drawn."""
    bars = "s => document.querySelectorAll(s + ' svg .mark-rect path').length"
    for chart in ("#ledger-years", "#ledger-areas"):
        pg.wait_for_function(f"() => ({bars})('{chart}') > 0")
    return int(pg.evaluate(f"() => ({bars})('#ledger-years') + ({bars})('#ledger-areas')"))


def _records_counted(text: str) -> int:
    """The records a ledger's first line counts: "4 reviews and 1 analysis address …" is 5."""
    first = text.split(" address", 1)[0]
    return sum(int(n) for n in re.findall(r"(\d+) (?:reviews?|briefings?|analys[ie]s)\b", first))


def test_ledger_lists_every_review_on_a_topic_with_charts(page) -> None:  # type: ignore[no-untyped-def]
    open_tab(page, "Ledger")
    assert not page.locator("#ledger-years").is_visible()  # no empty chart frames before a ledger
    page.fill("#ledger-topic textarea, #ledger-topic input", "was not brought")
    page.click("#ledger-btn")
    page.locator("#ledger-list li").first.wait_for()
    n = _records_counted(page.inner_text("#ledger-list"))  # reviews, and briefings and analyses beside them
    assert n >= 2 and page.locator("#ledger-list li").count() == n
    assert charts_drawn(page) >= 2
    first = page.locator("#ledger-list li").first.inner_text()
    page.locator("#ledger-list a.rla-cite[data-cite='1']").click()
    mark = page.locator("#ledger-record mark")
    mark.wait_for()
    excerpt = first.split("“", 1)[1].rsplit("”", 1)[0]
    assert _words(mark.inner_text()) == _words(excerpt)  # the entry's excerpt, highlighted in its review
    assert "Entry [1]" in page.inner_text("#ledger-record")
    assert not page.locator("#ledger-files").is_visible()  # written when asked for
    page.click("#ledger-keep")
    page.locator("#ledger-files").wait_for(state="visible")
    assert sorted(
        Path(x.split("?")[0]).suffix
        for x in page.eval_on_selector_all("#ledger-files a[href]", "els => els.map(e => e.href)")
    ) == [".docx", ".md"]
    shot(page, "ledger")


def test_briefing_pack_is_shown_and_downloadable(page, app: AppServer) -> None:  # type: ignore[no-untyped-def]
    import httpx

    open_tab(page, "Briefing")
    assert page.locator("#brief-missing").count() == 0  # rag.brief and python-docx are installed with the tests
    page.fill("#brief-topic textarea, #brief-topic input", "professional curiosity")
    page.click("#brief-btn")
    page.locator("#brief-files").wait_for(state="visible")
    links = page.eval_on_selector_all("#brief-files a[href]", "els => els.map(e => e.href)")
    by_ext = {Path(link.split("?")[0]).suffix: link for link in links}
    assert sorted(by_ext) == [".docx", ".html", ".md"], links
    # Each file downloads, from the app's private folder: Markdown, HTML and a Word (zip) file.
    got = {ext: httpx.get(link, timeout=60) for ext, link in by_ext.items()}
    assert all(r.status_code == 200 for r in got.values())
    assert "professional curiosity" in got[".md"].text.lower() and "<html" in got[".html"].text.lower()
    assert got[".docx"].content[:2] == b"PK"
    assert all(f"/web-{app.proc.pid}/" in link for link in links)
    # The names are shown whole (gradio cuts a long one to "profess….md"): a trainer tells the files apart.
    assert page.eval_on_selector_all(
        "#brief-files .stem", "els => els.length > 0 && els.every(e => e.scrollWidth <= e.clientWidth + 1)"
    )
    view = page.inner_text("#brief-view")
    assert "professional curiosity" in view.lower() and "[1]" in view
    shot(page, "briefing")


def test_upload_ingest_then_ask_finds_the_new_review(page, app: AppServer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    upload = tmp_path / "Child Z review (final).txt"
    upload.write_text(UPLOAD, encoding="utf-8")
    open_tab(page, "Corpus")
    page.set_input_files("#corpus-files input[type=file]", str(upload))
    page.locator("#corpus-files", has_text="Child Z review").wait_for()
    page.click("#ingest-btn")
    page.wait_for_function("document.querySelector('#ingest-summary')?.innerText.includes('Index updated')")
    summary = page.inner_text("#ingest-summary")
    assert "saved as Child-Z-review-final.txt" in summary
    assert (app.corpus / "Child-Z-review-final.txt").read_text(encoding="utf-8") == UPLOAD
    assert "indexed" in page.inner_text("#ingest-table")
    # Then the status line, the filters and the Reviews table follow the new index, and the upload box empties.
    page.wait_for_function("!document.querySelector('#corpus-files').innerText.includes('Child Z review')")
    assert "from 6 files" in page.inner_text("#status")
    shot(page, "corpus")

    open_tab(page, "Ask")
    text = ask(page, "What did the lollipop warden notice about the zebra-striped umbrella?")
    assert "Child Z" in text
    assert DISTINCTIVE in " ".join(text.split())


def test_a_refused_upload_keeps_its_reason_in_the_per_file_table(page, app: AppServer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    copy = tmp_path / "same report again.txt"
    copy.write_bytes((app.corpus / "nspcc-2018-learning-from-national-scrs.txt").read_bytes())
    open_tab(page, "Corpus")
    page.set_input_files("#corpus-files input[type=file]", str(copy))
    page.locator("#corpus-files", has_text="same report again").wait_for()
    page.locator("#upload-fields").wait_for()  # its catalogue fields, parsed, as a user sees them before adding
    page.click("#ingest-btn")
    page.wait_for_function("document.querySelector('#ingest-table')?.innerText.includes('refused')")
    table = _words(page.inner_text("#ingest-table"))
    assert "same report again.txt" in table and "refused as a copy" in table
    assert "Nothing was added" in page.inner_text("#ingest-summary")
    assert not (app.corpus / "same-report-again.txt").exists()
    # The refused file's catalogue fields are put away with its outcome: nothing is left to correct and add.
    page.locator("#upload-fields").wait_for(state="hidden", timeout=10_000)
    page.wait_for_timeout(6000)  # after any toast would have gone, the reason is still in the table
    assert "refused as a copy" in _words(page.inner_text("#ingest-table"))
    shot(page, "corpus-refused")


def test_evaluation_in_hybrid_mode_shows_the_metrics_table(page, app: AppServer) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from rag.evaluate import evaluate, load_questions
    from rag.retrieve import Retriever

    open_tab(page, "Evaluate")
    page.click("#eval-btn")
    page.locator("#eval-files").wait_for(state="visible")
    metrics = page.inner_text("#eval-metrics")
    assert "Recall@10" in metrics and "MRR" in metrics and "hybrid" in metrics
    rows = page.evaluate(
        """() => { const rows = {}; for (const c of document.querySelectorAll('#eval-metrics [data-testid^=cell-]')) {
            const [, r, col] = c.dataset.testid.split('-'); (rows[r] ||= [])[+col] = c.innerText.trim(); }
            return Object.values(rows); }"""
    )
    hit5 = float(next(r for r in rows if r[0] == "Hit@5")[1])
    assert 0.0 <= hit5 <= 1.0
    # The same score as the library gives for this index and question set.
    settings = replace(Settings(), corpus=app.corpus, index=app.index)
    report = evaluate(Retriever(settings), load_questions(app.questions), ["hybrid"])
    assert hit5 == round(report.modes["hybrid"]["Hit@5"], 3)
    assert "Scored 3 questions" in page.inner_text("#eval-summary")
    assert ".json" in page.inner_text("#eval-files") and ".csv" in page.inner_text("#eval-files")
    shot(page, "evaluate")


def test_status_line_follows_an_ingest_from_the_command_line(page, app: AppServer) -> None:  # type: ignore[no-untyped-def]
    """An open page shows the generation the app serves, whoever wrote it (here: this process, not the app)."""
    from collections import Counter
    from dataclasses import replace

    from rag.ingest import ingest
    from rag.store import open_index

    removed = "cumbria-lessons-from-scrs.txt"
    before = Counter(r.area for r in open_index(app.index).reviews.values())
    gone = Counter(r.area for r in open_index(app.index).reviews.values() if r.source == removed)
    area = max(gone, key=lambda a: gone[a])  # the area most of the removed file's records name

    def area_choice() -> str:
        page.click("#reviews-area input")
        options = [o.strip() for o in page.locator("#reviews-area [role=option]").all_inner_texts()]
        page.keyboard.press("Escape")
        return next((o for o in options if o.rsplit(" (", 1)[0] == area), "")

    open_tab(page, "Reviews")
    page.wait_for_function("document.querySelector('#reviews-count')?.innerText.includes('of')")
    assert area_choice() == f"{area} ({before[area]})"
    (app.corpus / removed).unlink()
    report = ingest(replace(Settings(), corpus=app.corpus, index=app.index))
    assert report.changed and report.generation
    reviews = report.totals["reviews"]
    page.wait_for_function(
        "g => document.querySelector('#status').innerText.includes(g)", arg=report.generation, timeout=60_000
    )
    assert f"{reviews} reviews" in page.inner_text("#status")
    page.wait_for_function(
        "n => document.querySelector('#reviews-count').innerText.includes(`of ${n} reviews`)", arg=reviews
    )
    # The facet counts follow the generation served: the removed file's records are no longer counted.
    left = before[area] - gone[area]
    assert area_choice() == (f"{area} ({left})" if left else "")
    shot(page, "status-followed")


OVERFLOW = "document.documentElement.scrollWidth <= innerWidth"
# Each year cell of the Reviews table on one line: "2020", never "2 0 2 0" stacked in a narrow column.
YEARS_ON_ONE_LINE = """() => Array.from(document.querySelectorAll('#reviews-table [data-testid$="-1"]'))
  .filter((cell) => /^cell-\\d+-1$/.test(cell.dataset.testid) && cell.innerText.trim()).slice(0, 20).every((cell) => {
    const walk = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    const tops = new Set();
    for (let t = walk.nextNode(); t; t = walk.nextNode()) {
      if (!t.textContent.trim()) continue;
      const range = document.createRange(); range.selectNodeContents(t);
      for (const r of range.getClientRects()) if (r.width > 0) tops.add(Math.round(r.top));
    }
    return tops.size === 1; })"""


# The words of the text in the elements `sel` finds that are broken across lines ("rev iews", "2 0 2 0") or stick out
# of their cell: a word (letters and digits) whose client rects lie on more than one line, or outside its cell.
BROKEN_WORDS = r"""(sel) => {
  const out = [];
  for (const root of document.querySelectorAll(sel)) {
    const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let t = walk.nextNode(); t; t = walk.nextNode()) {
      const cell = (t.parentElement.closest('[role=gridcell], th, .rla-field, .rla-card') || t.parentElement)
        .getBoundingClientRect();
      if (cell.width === 0) continue;  // not shown
      for (const m of t.textContent.matchAll(/[\p{L}\p{N}]+/gu)) {
        const range = document.createRange();
        range.setStart(t, m.index); range.setEnd(t, m.index + m[0].length);
        const rects = Array.from(range.getClientRects()).filter((r) => r.width > 0);
        if (new Set(rects.map((r) => Math.round(r.top))).size > 1) out.push(`broken: ${m[0]}`);
        else if (rects.some((r) => r.left < cell.left - 1 || r.right > cell.right + 1)) out.push(`clipped: ${m[0]}`);
      }
    }
  }
  return out; }"""

# Every table cell and card the app shows (those of the tabs not open have no size, and are passed over).
TABLES_AND_CARDS = ".rla-table [role=gridcell], .rla-table th, .rla-cards .rla-card, .rla-eval-card"


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["1366px", "390px"])
def test_the_corpus_tab_tables_break_no_word(browser, app: AppServer, viewport: dict[str, int], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Records to check and the per-file outcomes read at both widths: no word broken between letters, none cut off
    by its cell, no sideways page scroll. On a phone the per-file outcomes are cards (label: value lines); the
    editable records table keeps its columns and scrolls inside its own box."""
    width = viewport["width"]
    cells = "{0} [role=gridcell], {0} th"
    with opened(browser, app.url, viewport) as pg:
        open_tab(pg, "Corpus")
        pg.wait_for_function("document.querySelector('#doubts-note')?.innerText.includes('records have')")
        pg.locator("#doubts-table [role=gridcell]").first.wait_for()
        seen = 0
        for top in range(0, 4000, 500):  # the table draws only the rows in view: scroll through it
            pg.evaluate(f"document.querySelector('#doubts-table .virtual-table-viewport').scrollTop = {top}")
            pg.wait_for_timeout(100)
            assert pg.evaluate(BROKEN_WORDS, cells.format("#doubts-table")) == [], f"records to check at {width}px"
            seen += pg.locator("#doubts-table [role=gridcell]").count()
        assert seen > 0
        pg.evaluate("document.querySelector('#doubts-table .virtual-table-viewport').scrollTop = 0")
        assert pg.evaluate(OVERFLOW), f"the Corpus tab scrolls sideways at {width}px"

        copy = tmp_path / "the same reviews again.txt"
        copy.write_bytes((app.corpus / "nspcc-2018-learning-from-national-scrs.txt").read_bytes())
        pg.set_input_files("#corpus-files input[type=file]", str(copy))
        pg.locator("#corpus-files", has_text="the same reviews again").wait_for()
        pg.locator("#upload-fields").wait_for()  # parsed before it is added, as a user sees it
        pg.click("#ingest-btn")
        pg.wait_for_function("document.querySelector('#ingest-table')?.innerText.includes('refused')")
        if width > 700:
            assert not pg.locator("#ingest-cards").is_visible()
            per_file = cells.format("#ingest-table")
        else:  # one card per file, its outcome and reason as label: value lines
            assert not pg.locator("#ingest-table").is_visible()
            card = pg.locator("#ingest-cards .rla-card").first
            card.wait_for()
            lines = [_words(x) for x in card.locator(".rla-field").all_inner_texts()]
            assert "status: refused" in lines
            assert any(x.startswith("reason: ") and "refused as a copy" in x for x in lines)
            assert "the same reviews again.txt" in card.locator("strong").inner_text()
            per_file = "#ingest-cards .rla-card"
        assert pg.evaluate(BROKEN_WORDS, per_file) == [], f"per-file outcomes at {width}px"
        pg.locator("#upload-fields").wait_for(state="hidden", timeout=10_000)  # no row or loading box left
        assert pg.evaluate(OVERFLOW), f"the Corpus tab scrolls sideways at {width}px"
        pg.screenshot(path=str(SHOTS / f"corpus-refused-{width}.png"), full_page=True)


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["1366px", "390px"])
def test_every_tab_reads_without_sideways_scrolling(browser, app: AppServer, viewport: dict[str, int]) -> None:  # type: ignore[no-untyped-def]
    width = viewport["width"]
    with opened(browser, app.url, viewport) as pg:
        for tab in TABS:
            open_tab(pg, tab)
            if tab == "Reviews":
                pg.wait_for_function("document.querySelector('#reviews-count')?.innerText.includes('of')")
                if width > 700:
                    pg.locator("#reviews-table [data-testid=cell-0-1]").wait_for()
                    assert pg.evaluate(YEARS_ON_ONE_LINE), f"a year wraps inside its cell at {width}px"
                else:  # on a phone the table is a list of cards, and a card opens its record as a sheet
                    assert not pg.locator("#reviews-table").is_visible()
                    card = pg.locator("#reviews-cards .rla-card a").first
                    title = card.inner_text().strip()
                    card.click()
                    pg.wait_for_function(
                        "t => document.querySelector('#review-record h3')?.innerText.trim() === t", arg=title
                    )
                    pg.screenshot(path=str(SHOTS / f"reviews-record-{width}.png"))
                    pg.click("#review-record .rla-sheet-close")
            if tab == "Ask":
                ask(pg, QUESTION)
            if tab == "Evaluate":
                pg.click("#eval-btn")
                pg.locator("#eval-files").wait_for(state="visible")
                if width > 700:
                    missed = pg.locator("#eval-questions th", has_text="missed").first.bounding_box()
                    assert missed is not None and missed["x"] + missed["width"] <= width, "missed column off-screen"
                else:  # on a phone each question is a card, its missed reviews in view, its question wrapped
                    assert not pg.locator("#eval-questions").is_visible()
                    card = pg.locator("#eval-cards .rla-eval-card").first
                    box = card.bounding_box()
                    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
                    missed = pg.locator("#eval-cards .rla-missed").first
                    if missed.count():
                        b = missed.bounding_box()
                        assert b is not None and b["x"] + b["width"] <= width, "missed reviews off-screen"
            pg.wait_for_timeout(300)
            assert pg.evaluate(OVERFLOW), f"{tab} scrolls sideways at {width}px"
            assert pg.evaluate(BROKEN_WORDS, TABLES_AND_CARDS) == [], f"{tab}'s tables or cards at {width}px"
            pg.screenshot(path=str(SHOTS / f"{tab.lower()}-{width}.png"), full_page=True)


# A dropdown's chosen value is shown whole: its text is no wider than the box left of the dropdown's arrow.
CHOICE_FITS = """s => {
  const input = document.querySelector(s + ' input'), icon = document.querySelector(s + ' .icon-wrap');
  const css = getComputedStyle(input), box = input.getBoundingClientRect();
  const ctx = document.createElement('canvas').getContext('2d');
  ctx.font = `${css.fontWeight} ${css.fontSize} ${css.fontFamily}`;
  const right = icon ? icon.getBoundingClientRect().left : box.right - parseFloat(css.paddingRight);
  return ctx.measureText(input.value).width <= right - box.left - parseFloat(css.paddingLeft); }"""


def _index_data(app: AppServer):  # type: ignore[no-untyped-def]
    from rag.store import open_index

    return open_index(app.index)


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["1366px", "390px"])
def test_filters_offer_kind_and_theme_with_counts_from_the_index(
    browser, app: AppServer, viewport: dict[str, int]
) -> None:  # type: ignore[no-untyped-def]
    from collections import Counter

    from rag.themes import load_themes

    reviews = list(_index_data(app).reviews.values())
    kinds = Counter(r.kind for r in reviews)
    themes = Counter(t for r in reviews for t in r.themes)
    names = {t.id: t.name for t in load_themes()}
    (top, n), *_ = sorted(themes.items(), key=lambda kv: (-kv[1], names[kv[0]].lower()))  # as the app orders them
    name = names[top]
    with opened(browser, app.url, viewport) as page:
        open_tab(page, "Reviews")
        page.wait_for_function("document.querySelector('#reviews-count')?.innerText.includes('of')")
        page.click("#reviews-theme input")
        options = page.locator("#reviews-theme [role=option]").all_inner_texts()
        assert f"{name} ({n})" in [o.strip() for o in options]  # the most common theme first, with its count
        assert [o.strip() for o in options][1] == f"{name} ({n})"
        page.keyboard.press("Escape")
        kind, k = kinds.most_common()[-1]  # the rarest kind
        choose(page, "reviews-kind", f"{kind} ({k})")
        page.wait_for_function(
            "t => document.querySelector('#reviews-count').innerText.trim() === t", arg=f"{k} of {len(reviews)} reviews"
        )
        # The Ask tab's filters have the same facets, and a theme narrows the answer to reviews that name it.
        open_tab(page, "Ask")
        page.click("#ask-filters")
        longest = max(themes, key=lambda t: len(f"{names[t]} ({themes[t]})"))
        choose(page, "ask-theme", f"{names[longest]} ({themes[longest]})")
        assert page.evaluate(CHOICE_FITS, "#ask-theme"), f"the longest theme is cut off at {viewport['width']}px"
        choose(page, "ask-theme", f"{name} ({n})")
        assert page.evaluate(CHOICE_FITS, "#ask-theme"), f"the chosen theme is cut off at {viewport['width']}px"
        ask(page, QUESTION)
        cited = {t.strip() for t in page.locator("#answer .rla-sources li strong").all_inner_texts()}
        with_theme = {r.title for r in reviews if top in r.themes}
        assert cited and cited <= with_theme
        assert page.evaluate(OVERFLOW)
        shot(page, f"ask-theme-filter-{viewport['width']}")


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["1366px", "390px"])
def test_the_coverage_line_opens_the_ledger_on_its_topic(browser, app: AppServer, viewport: dict[str, int]) -> None:  # type: ignore[no-untyped-def]
    with opened(browser, app.url, viewport) as pg:
        ask(pg, QUESTION)
        line = pg.locator("#answer a.rla-coverage")
        total = int(re.search(r"of the (\d+) reviews", line.inner_text()).group(1))  # type: ignore[union-attr]
        href = line.get_attribute("href") or ""
        assert href.startswith("?tab=ledger&topic=")
        line.click()
        pg.locator("#ledger-list li").first.wait_for()
        assert pg.locator("#ledger-topic textarea, #ledger-topic input").first.input_value()
        listed = pg.inner_text("#ledger-list")
        assert f"{total} reviews" in listed  # the answer's count is the ledger's
        assert pg.locator("#ledger-list li").count() == _records_counted(listed)
        assert charts_drawn(pg) >= 2  # drawn at this width, and drawn before the screenshot
        for chart in ("#ledger-years", "#ledger-areas"):
            box = pg.locator(f"{chart} svg.marks").bounding_box()
            assert box is not None and box["width"] > 100 and box["x"] + box["width"] <= viewport["width"]
        list_box = pg.locator("#ledger-list").bounding_box()
        charts_box = pg.locator("#ledger-years").bounding_box()
        assert list_box is not None and charts_box is not None
        if viewport is PHONE:  # the list right after the topic and filters, the charts below it
            assert list_box["y"] + list_box["height"] <= charts_box["y"]
        else:  # the charts beside the list
            assert charts_box["x"] + charts_box["width"] <= list_box["x"]
        assert pg.evaluate(OVERFLOW)
        shot(pg, f"coverage-to-ledger-{viewport['width']}")


def test_a_ledger_link_opens_the_ledger_tab_filled_and_run(browser, app: AppServer) -> None:  # type: ignore[no-untyped-def]
    from urllib.parse import quote

    from rag.ledger import ledger
    from rag.retrieve import Filters, Retriever

    retriever = Retriever(Settings(corpus=app.corpus, index=app.index))
    everyone = ledger(retriever, "was not brought")
    year = max(e.year for e in everyone.entries if e.year)
    expected = ledger(retriever, "was not brought", Filters.parse({"year_from": year, "kind": "listing entry"}))
    assert 0 < len(expected.entries) < len(everyone.entries)  # so that a dropped filter would show
    url = app.url + f"?tab=ledger&topic={quote('was not brought')}&year_from={year}&kind=listing+entry"
    with opened(browser, url) as pg:
        from playwright.sync_api import expect

        pg.locator("#ledger-list li").first.wait_for()
        assert pg.input_value("#ledger-topic textarea, #ledger-topic input") == "was not brought"
        # the filtered ledger, once the run with the link's filters has replaced anything shown before it
        expect(pg.locator("#ledger-list li")).to_have_count(len(expected.entries), timeout=30_000)
        assert f"{len(expected.entries)} reviews" in pg.inner_text("#ledger-list")


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["1366px", "390px"])
def test_each_n_in_a_briefing_opens_its_quote_in_the_review(browser, app: AppServer, viewport: dict[str, int]) -> None:  # type: ignore[no-untyped-def]
    from rag.brief import build_brief
    from rag.retrieve import Retriever

    pack = build_brief(Retriever(Settings(corpus=app.corpus, index=app.index)), "professional curiosity")
    quotes = list(pack.quotes())
    with opened(browser, app.url, viewport) as pg:
        open_tab(pg, "Briefing")
        pg.fill("#brief-topic textarea, #brief-topic input", "professional curiosity")
        pg.click("#brief-btn")
        links = pg.locator("#brief-view a.rla-cite")
        links.first.wait_for()
        assert links.count() >= len(quotes)
        for i in sorted({1, len(quotes)}):  # the first quote and the last (a vignette's)
            link = pg.locator(f"#brief-view a.rla-cite[data-cite='{i}']").first
            assert link.inner_text() == f"[{quotes[i - 1].ref}]"  # the pack's reference number, as printed
            link.click()
            pg.wait_for_function(
                "t => document.querySelector('#brief-record')?.innerText.includes(t)",
                arg=f"Quote {i}, reference [{quotes[i - 1].ref}]",
            )
            mark = pg.locator("#brief-record mark").first
            mark.wait_for()
            assert _words(mark.inner_text()) == _words(quotes[i - 1].text)
            if viewport["width"] < 700:
                assert pg.evaluate("getComputedStyle(document.querySelector('#brief-record')).position") == "fixed"
                pg.click("#brief-record .rla-sheet-close")
        assert pg.evaluate(OVERFLOW)
        shot(pg, f"briefing-quote-{viewport['width']}")


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["1366px", "390px"])
def test_evaluate_shows_each_questions_passages_and_what_it_missed(
    browser, app: AppServer, viewport: dict[str, int]
) -> None:  # type: ignore[no-untyped-def]
    from rag.evaluate import evaluate, load_questions
    from rag.retrieve import Retriever

    retriever = Retriever(Settings(corpus=app.corpus, index=app.index))
    report = evaluate(retriever, load_questions(app.questions), ["hybrid"])
    chunks = {c.id: c for c in retriever.data.chunks}
    with opened(browser, app.url, viewport) as pg:
        open_tab(pg, "Evaluate")
        pg.click("#eval-btn")
        pg.locator("#eval-cards .rla-eval-card").first.wait_for()
        cards = pg.locator("#eval-cards .rla-eval-card")
        assert cards.count() == len(report.questions)
        for i, q in enumerate(report.questions):
            card = cards.nth(i)
            text = _words(card.inner_text())
            assert _words(q["question"]) in text
            for missed in q["hybrid"]["missed"]:
                assert missed in text  # the missed reviews are in plain sight
            card.locator("summary").click()  # the retrieved passages, by their citation labels
            labels = [_words(x) for x in card.locator(".rla-passages a").all_inner_texts()]
            assert labels == [_words(chunks[c].citation_label) for c in q["hybrid"]["passages"]]
        first = report.questions[0]["hybrid"]["passages"][0]
        cards.nth(0).locator(".rla-passages a").first.click()
        pg.locator("#eval-record mark").first.wait_for()
        assert _words(pg.locator("#eval-record mark").first.inner_text()) == _words(chunks[first].text)
        assert pg.evaluate(OVERFLOW)
        shot(pg, f"evaluate-passage-{viewport['width']}")
