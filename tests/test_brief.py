"""rag.brief: a briefing pack in which every fact is a verbatim, cited quote."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fake_llm_server import FakeLLMServer, message

from rag.brief import (
    Brief,
    BriefError,
    Quote,
    Reference,
    Theme,
    Vignette,
    build_brief,
    check_output,
    render_html,
    render_markdown,
    write_brief,
)
from rag.brief.write import scope
from rag.ledger import ledger
from rag.llm import LLMConfig, load_llm
from rag.retrieve import Filters, Retriever

TOPICS = ("fathers", "disguised compliance")


@pytest.fixture(scope="module")
def briefs(retriever: Retriever) -> dict[str, Brief]:
    return {t: build_brief(retriever, t) for t in TOPICS}


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as s:
        yield s


def md_unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


@pytest.mark.parametrize("topic", TOPICS)
def test_every_quote_is_verbatim_in_its_source(retriever: Retriever, briefs: dict[str, Brief], topic: str) -> None:
    b = briefs[topic]
    quotes = list(b.quotes())
    assert len(quotes) >= 8
    for q in quotes:
        src = retriever.data.sources[q.source]
        assert src.text[q.start : q.end] == q.text
        review = retriever.data.reviews[q.review_id]
        assert review.source == q.source and review.start <= q.start < q.end <= review.end


@pytest.mark.parametrize("topic", TOPICS)
def test_every_citation_resolves_to_a_reference_and_every_reference_is_cited(
    briefs: dict[str, Brief], topic: str
) -> None:
    b = briefs[topic]
    refs = {r.n: r for r in b.references}
    assert sorted(refs) == list(range(1, len(refs) + 1))
    cited = {q.ref for q in b.quotes()}
    assert cited == set(refs)
    for q in b.quotes():
        assert refs[q.ref].review_id == q.review_id
    md = render_markdown(b)
    in_text = {int(n) for n in re.findall(r"(?<!\\)\[(\d+)\]", md)}
    assert in_text == set(refs)


@pytest.mark.parametrize("topic", TOPICS)
def test_the_markdown_shows_each_quote_verbatim_with_its_citation(briefs: dict[str, Brief], topic: str) -> None:
    b = briefs[topic]
    md = md_unescape(render_markdown(b))
    for q in b.quotes():
        assert f"“{q.display}” [{q.ref}]" in md


@pytest.mark.parametrize("topic", TOPICS)
def test_scope_matches_the_ledger(retriever: Retriever, briefs: dict[str, Brief], topic: str) -> None:
    b, led = briefs[topic], ledger(retriever, topic)
    assert b.reviews == len(led.entries) and b.by_year == led.by_year and b.by_area == led.by_area
    assert {r.review_id for r in b.references} | {r.review_id for r in b.others} == {e.review_id for e in led.entries}
    assert f"{b.reviews} reviews in the index address “{topic}”" in render_markdown(b)


@pytest.mark.parametrize("topic", TOPICS)
def test_three_to_five_vignettes_each_from_one_reviews_summary(
    retriever: Retriever, briefs: dict[str, Brief], topic: str
) -> None:
    b = briefs[topic]
    assert 3 <= len(b.vignettes) <= 5
    assert len({v.ref for v in b.vignettes}) == len(b.vignettes)
    for v in b.vignettes:
        assert {q.ref for q in v.quotes} == {v.ref}
        assert v.quotes[0].section == "summary" and {q.section for q in v.quotes} <= {"summary", "background"}
        assert retriever.data.reviews[v.quotes[0].review_id].title in v.heading


@pytest.mark.parametrize("topic", TOPICS)
def test_themes_are_named_by_a_term_their_quotes_share(briefs: dict[str, Brief], topic: str) -> None:
    b = briefs[topic]
    assert b.themes
    for t in b.themes:
        if t.name:
            assert len(t.points) >= 2
            assert any(t.name.lower() in q.display.lower() for q in t.points)
            assert topic not in t.name.lower()
    assert sum(1 for t in b.themes if not t.name) <= 1 and (b.themes[-1].name == "" or all(t.name for t in b.themes))


@pytest.mark.parametrize("topic", TOPICS)
def test_recommendations_come_from_recommendation_sections(briefs: dict[str, Brief], topic: str) -> None:
    b = briefs[topic]
    assert b.recommendations
    assert all(q.section == "recommendations" for q in b.recommendations)
    assert all(q.section in ("learning", "key issues", "good practice") for t in b.themes for q in t.points)


@pytest.mark.parametrize("topic", TOPICS)
def test_discussion_questions_are_questions_not_facts(briefs: dict[str, Brief], topic: str) -> None:
    b = briefs[topic]
    assert 2 <= len(b.questions) <= 6
    for q in b.questions:
        assert q.endswith("?") and not re.search(r"\[\d+\]", q)
    for t in b.themes:
        if t.name:
            assert any(f"“{t.name}”" in q for q in b.questions[: len(b.themes)])


def test_filters_limit_the_reviews(retriever: Retriever) -> None:
    b = build_brief(retriever, "fathers", Filters(year_from=2018))
    assert b.reviews and all(r.year is not None and r.year >= 2018 for r in (*b.references, *b.others))
    assert "Filters: year from 2018." in scope(b)


def test_a_topic_no_review_addresses_gives_an_empty_pack(retriever: Retriever, tmp_path: Path) -> None:
    b = build_brief(retriever, "fathers", Filters(year_from=1990, year_to=1991))
    assert b.reviews == 0 and not list(b.quotes()) and not b.references
    assert "No review in the index addresses “fathers”" in render_markdown(b)
    assert write_brief(b, tmp_path / "empty.docx").exists()


# --- files -----------------------------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_md_html_and_docx_are_written_and_readable(briefs: dict[str, Brief], tmp_path: Path) -> None:
    import docx

    b = briefs["fathers"]
    md, page, word = (write_brief(b, tmp_path / f"fathers{s}") for s in (".md", ".html", ".docx"))

    assert md.read_text(encoding="utf-8") == render_markdown(b)
    parser = _Tags()
    parser.feed(page.read_text(encoding="utf-8"))
    assert "script" not in parser.tags
    assert all(not (v or "").startswith(("http", "javascript")) for k, v in parser.attrs if k == "href")
    text = "".join(parser.text)
    first = next(b.quotes())
    assert f"“{first.display}” [{first.ref}]" in text

    document = docx.Document(str(word))
    paragraphs = [p.text for p in document.paragraphs]
    assert paragraphs[0] == "Briefing: fathers"
    assert f"“{first.display}” [{first.ref}]" in paragraphs
    assert any(p.startswith("[1] ") for p in paragraphs)


def test_an_unknown_suffix_is_refused(briefs: dict[str, Brief], tmp_path: Path) -> None:
    with pytest.raises(BriefError, match=r"\*\.md, \*\.html, \*\.docx"):
        write_brief(briefs["fathers"], tmp_path / "pack.pdf")
    with pytest.raises(BriefError):
        check_output(Path("pack"))
    assert not (tmp_path / "pack.pdf").exists()


def _hostile_brief() -> Brief:
    evil = "<script>alert(1)</script> [Read](javascript:alert(1)) ![x](http://evil.example/x.png) [7] *bold*"
    q = Quote(evil, 1, "r1", "learning", "evil.txt", 0, len(evil))
    ref = Reference(1, "r1", "<b>Title</b>", 2020, "Area <i>", None, "evil.txt", None)
    return Brief(
        "<img src=x onerror=alert(1)>",
        {},
        1,
        {"2020": 1},
        {"Area <i>": 1},
        (Theme("script", (q, q)),),
        (q,),
        (Vignette("<h1>Child</h1>", 1, (q,)),),
        ("What helps?",),
        (ref,),
    )


def test_html_escapes_everything_from_sources() -> None:
    page = render_html(_hostile_brief())
    parser = _Tags()
    parser.feed(page)
    assert (
        "script" not in parser.tags and "img" not in parser.tags and "b" not in parser.tags and "i" not in parser.tags
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert [v for k, v in parser.attrs if k == "href"] == ["#ref-1"] * 4


def test_markdown_escapes_markup_from_sources() -> None:
    md = render_markdown(_hostile_brief())
    assert "<script>" not in md and "](" not in md.replace("\\](", "")
    assert "\\[7\\]" in md  # a bracketed number in a source is not a citation
    assert set(re.findall(r"(?<!\\)\[(\d+)\]", md)) == {"1"}


# --- with a language model -------------------------------------------------------------------


def test_an_overview_from_the_model_cites_references(retriever: Retriever, server: FakeLLMServer) -> None:
    llm = load_llm(LLMConfig(model="fake-model", base_url=server.base_url, api_key="k"))
    server.respond(
        "Reviews found that fathers were not involved in assessments [1]. They recommend involving fathers [2][30]."
    )
    b = build_brief(retriever, "fathers", llm=llm)

    user = message(server.last, "user")
    sent = re.findall(r'<excerpt n="(\d+)"[^>]*>\n(.*?)\n</excerpt>', user, re.DOTALL)
    points = [q for t in b.themes for q in t.points] + list(b.recommendations)
    assert [text for _, text in sent] == [q.text for q in points][: len(sent)]
    assert b.overview is not None and "[30]" not in b.overview
    refs = [int(n) for n in re.findall(r"\[(\d+)\]", b.overview)]
    assert refs == [points[0].ref, points[1].ref]
    assert "language model" in (b.notice or "") and "[30]" in (b.notice or "")
    assert "## Overview (written by a language model)" in render_markdown(b)


def test_an_uncited_overview_is_dropped_and_the_pack_stays_extractive(
    retriever: Retriever, server: FakeLLMServer
) -> None:
    llm = load_llm(LLMConfig(model="fake-model", base_url=server.base_url, api_key="k"))
    server.respond("Fathers are always safe. Nothing needs to change.")
    b = build_brief(retriever, "disguised compliance", llm=llm)
    assert b.overview is None and "No overview" in (b.notice or "")
    assert "always safe" not in render_markdown(b)


def test_cli_brief_writes_the_file(
    retriever: Retriever, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from rag.cli import main

    monkeypatch.setattr("rag.retrieve.Retriever", lambda settings: retriever)
    out = tmp_path / "pack.html"
    assert main(["brief", "disguised compliance", "--year-to", "2018", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert "wrote" in capsys.readouterr().err
    assert main(["brief", "fathers", "--out", str(tmp_path / "pack.txt")]) == 2
    assert "*.md, *.html, *.docx" in capsys.readouterr().err
