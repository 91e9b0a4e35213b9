"""Saved web pages (.html) as users hold them: a fictional national review saved from a GOV.UK-style HTML
publication — site header and navigation, cookie banner, breadcrumbs, a contents list, numbered headings and
paragraphs, a list, a table, footnotes with their marks and back-links, scripts, a footer — read by the real reader,
parsed, chunked and indexed with the real model."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.errors import SourceError
from rag.settings import Settings
from rag.sources import read_source

PAGE = """<!DOCTYPE html>
<html lang="en" class="govuk-template">
<head>
  <meta charset="utf-8">
  <title>Fathers and babies: a national thematic review - GOV.UK</title>
  <style>.govuk-link { color: #1d70b8 }</style>
  <script>window.dataLayer = [{"page": "publication"}];</script>
</head>
<body class="govuk-template__body">
  <div id="global-cookie-message" class="gem-c-cookie-banner" role="region" aria-label="Cookies on GOV.UK">
    <p>We use some essential cookies to make this website work.</p><button>Accept additional cookies</button>
  </div>
  <header role="banner" class="govuk-header"><a href="/" class="govuk-header__link">GOV.UK</a>
    <nav aria-label="Menu"><ul><li><a href="/browse/childcare-parenting">Childcare and parenting</a></li></ul></nav>
  </header>
  <div class="govuk-width-container">
    <nav class="govuk-breadcrumbs" aria-label="Breadcrumb"><ol><li><a href="/">Home</a></li>
      <li><a href="/childcare-parenting">Parenting, childcare and children's services</a></li></ol></nav>
    <main class="govuk-main-wrapper" id="main-content" role="main">
      <div class="publication-header">
        <p class="publication-header__type">Independent report</p>
        <h1>Fathers and babies: a national thematic review</h1>
        <p>Child Safeguarding Practice Review Panel</p>
        <p>Published 4 May 2023</p>
      </div>
      <nav class="gem-c-contents-list" aria-label="Contents"><h2>Contents</h2><ol>
        <li><a href="#introduction">Introduction</a></li><li><a href="#findings">Findings</a></li></ol></nav>
      <div class="govuk-govspeak">
        <h2 id="introduction">1. Introduction</h2>
        <p>1.1 This review looked at 28 serious incidents involving babies under one where a father or male carer
        was known to have caused or been suspected of causing harm.<sup id="fnref:1" role="doc-noteref">
        <a href="#fn:1" class="govuk-link">[footnote 1]</a></sup></p>
        <p>1.2 In most cases the men were <strong>not invisible</strong>: they were present, but professionals
        did not <em>see</em> them as parents.</p>
        <h2 id="findings">2. Findings</h2>
        <h3 id="finding-1">Finding 1: Services were designed around mothers</h3>
        <p>2.1 Antenatal and health visiting contacts were arranged with mothers. Fathers were asked about:</p>
        <ul>
          <li>their own mental health only rarely;</li>
          <li>their history of violence almost never; and</li>
          <li>how they would manage a crying baby in none of the cases reviewed.</li>
        </ul>
        <table class="govuk-table"><thead><tr><th>Contact</th><th>Father seen</th></tr></thead>
          <tbody><tr><td>Antenatal booking</td><td>4 of 28</td></tr><tr><td>New birth visit</td><td>9 of 28</td></tr>
          </tbody></table>
        <h2 id="recommendations">3. Recommendations</h2>
        <ol>
          <li>The Department of Health and Social Care should ask every antenatal service to record the father's
          details.</li>
          <li>Local partnerships should make sure fathers are invited to the new birth visit.</li>
        </ol>
        <div class="footnotes" role="doc-endnotes"><ol>
          <li id="fn:1"><p>Serious incident notifications made to the Panel between 2019 and 2021.
          <a href="#fnref:1" class="govuk-link" aria-label="go to where this is referenced">↩</a></p></li>
        </ol></div>
      </div>
    </main>
  </div>
  <footer class="govuk-footer" role="contentinfo"><a href="/help">Help</a> Crown copyright</footer>
  <script src="/assets/application.js"></script>
</body>
</html>
"""


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("web-corpus")
    (folder / "fathers-and-babies-national-review.html").write_text(PAGE, encoding="utf-8")
    return folder


def test_the_page_reads_as_its_content_not_the_site(corpus: Path) -> None:
    src = read_source(corpus / "fathers-and-babies-national-review.html", corpus, Settings())
    assert src.kind == "html"
    blocks = src.text.split("\n\n")
    assert blocks[:4] == [
        "Independent report",
        "# Fathers and babies: a national thematic review",
        "Child Safeguarding Practice Review Panel",
        "Published 4 May 2023",
    ]
    for block in (
        "## 1. Introduction",
        "1.1 This review looked at 28 serious incidents involving babies under one where a father or male carer "
        "was known to have caused or been suspected of causing harm.",
        "1.2 In most cases the men were not invisible: they were present, but professionals did not see them as "
        "parents.",
        "### Finding 1: Services were designed around mothers",
        "- their own mental health only rarely;\n- their history of violence almost never; and\n"
        "- how they would manage a crying baby in none of the cases reviewed.",
        "| Contact | Father seen |\n|---|---|\n| Antenatal booking | 4 of 28 |\n| New birth visit | 9 of 28 |",
        "1. The Department of Health and Social Care should ask every antenatal service to record the father's "
        "details.",
        "2. Local partnerships should make sure fathers are invited to the new birth visit.",
    ):
        assert block in blocks, block
    for absent in (
        "cookies",
        "GOV.UK",
        "Breadcrumb",
        "Childcare and parenting",
        "Contents",
        "footnote 1",
        "↩",
        "dataLayer",
        "color:",
        "Crown copyright",
        "Help",
    ):
        assert absent not in src.text, absent
    ((start, end),) = src.notes
    assert src.text[start:end] == "1 Serious incident notifications made to the Panel between 2019 and 2021."


def test_a_saved_page_becomes_one_record_and_answers(tmp_path: Path, corpus: Path) -> None:
    from rag.ingest import ingest
    from rag.retrieve import Retriever

    settings = Settings(corpus=corpus, index=tmp_path / "index")
    ingest(settings)
    retriever = Retriever(settings)
    (review,) = retriever.data.reviews.values()
    assert (review.title, review.kind, review.area, review.year, review.month) == (
        "Fathers and babies: a national thematic review",
        "analysis",
        "National",
        2023,
        "May",
    )
    hits = retriever.search("how fathers would manage a crying baby", k=3, per_review=3)
    (finding,) = [h.chunk for h in hits if "manage a crying baby" in h.chunk.text]
    assert (finding.heading, finding.para) == ("2. Findings › Finding 1: Services were designed around mothers", "2.1")
    assert not any("Serious incident notifications" in c.text for c in retriever.data.chunks)


@pytest.mark.parametrize(
    "markup,encoding,expected",
    [
        (
            '<html><head><meta charset="windows-1252"></head><body><p>Caf\u00e9 \u2013 \u201cseen\u201d</p>',
            "windows-1252",
            "Caf\u00e9 \u2013 \u201cseen\u201d",
        ),
        (
            "<html><body><p>Plain &amp; simple &mdash; no charset</p></body></html>",
            "utf-8",
            "Plain & simple \u2014 no charset",
        ),
    ],
)
def test_the_page_s_declared_encoding_is_used(tmp_path: Path, markup: str, encoding: str, expected: str) -> None:
    path = tmp_path / "page.html"
    path.write_bytes(markup.encode(encoding))
    assert expected in read_source(path, tmp_path, Settings()).text


def test_a_page_of_scripts_only_is_one_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "app-shell.htm"
    path.write_text('<html><body><div id="root"></div><script src="app.js"></script></body></html>', "utf-8")
    with pytest.raises(SourceError, match=r"^app-shell\.htm: the page has no text to read .*; save it as PDF"):
        read_source(path, tmp_path, Settings())


def test_markup_that_would_take_minutes_is_stopped_at_the_time_limit(tmp_path: Path) -> None:
    """html.parser rescans an unclosed "<!--" from each one (a 400 KB page of them took 111 s in-process): pages
    are read in the sandboxed worker, stopped at `pdf_timeout_s` with what to do; neither ingest nor the app waits
    longer."""
    import time
    from dataclasses import replace

    path = tmp_path / "damaged.html"
    path.write_text("<html><body><p>Learning</p>" + "<!--" * 100_000, encoding="utf-8")
    settings = replace(Settings(), pdf_timeout_s=3)
    t = time.perf_counter()
    with pytest.raises(SourceError, match=r"^damaged\.html: reading the page took longer than 3 s .*save it as PDF"):
        read_source(path, tmp_path, settings)
    assert time.perf_counter() - t < 30


def test_damaged_markup_is_read_without_an_error() -> None:
    """Browsers read any markup; so does the reader: the page cut short (inside a tag too), tags dropped or left
    open, end tags without their start — 300 such pages, each read to text with no markup in it (the reading
    itself, in process)."""
    import random
    import re

    from rag.webpage import read_html

    rng = random.Random(20261201)
    tags = [m.span() for m in re.finditer(r"<[^>]+>", PAGE)]
    for _ in range(300):
        page = PAGE
        how = rng.choice(["cut", "drop tags", "stray ends"])
        if how == "cut":
            page = page[: rng.randrange(len(page))]
        elif how == "drop tags":
            for a, b in sorted(rng.sample(tags, 12), reverse=True):
                page = page[:a] + page[b:]
        else:
            at = rng.choice(tags)[1]  # between two tags
            page = (
                page[:at]
                + "".join(f"</{t}>" for t in rng.sample(["li", "ol", "table", "td", "main", "p"], 3))
                + page[at:]
            )
        text = read_html(page).text
        assert isinstance(text, str) and not re.search(r"<[A-Za-z/!?]", text), text  # no markup read as text
