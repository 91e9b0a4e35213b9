"""The web app's tabs for reading the reviews: Ask, Reviews, Ledger and Briefing, each with its own handlers."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd

from rag.errors import RlaError
from rag.retrieve import EMPTY_BRIEF_TOPIC, EMPTY_LEDGER_TOPIC, MODES, clean_query
from rag.web.html import (
    HOW_IT_WORKS,
    SHEET_CLOSE,
    TABLE_WITH_CARDS,
    answer_html,
    brief_html,
    citation_choices,
    citation_html,
    coverage_topic,
    esc,
    excerpt_html,
    facets_html,
    ledger_html,
    one_line,
    record_html,
    review_cards_html,
    scroll,
    to_mark,
)
from rag.web.inputs import (
    ASK_CONCURRENCY,
    FILTER_KEYS,
    FilterInputs,
    download_box,
    downloads,
    filter_inputs,
    parse_filters,
    shown,
)
from rag.web.library import Library
from rag.web.scratch import Scratch

EXAMPLE_QUESTIONS = [
    "What did reviews learn about fathers and men in the household?",
    "What did reviews say about professional curiosity?",
    "What did reviews recommend about sharing information between agencies?",
    "What do reviews say about children who were not brought to appointments?",
    "What did reviews find about neglect and parental substance misuse?",
]
BRIEF_INTRO = "A briefing pack for trainers: what the reviews found and recommended on a topic, every point cited."
REVIEW_COLUMNS = ["Title", "Year", "Area", "Type", "Keywords", "Id"]


URL_KEYS = ("q", *FILTER_KEYS, "mode")
LOADING_ANSWER = (
    "<p class='rla-notice' id='answer-loading'>Loading the model and the index… the first answer follows in a few "
    "seconds.</p>"
)


@dataclass(frozen=True)
class AskTab:
    """The Ask tab's filters, and its page-load event: a shared link (?q=…&area=…) asks its question."""

    filters: FilterInputs
    from_url: Callable[..., Any]
    url_outputs: list[Any]
    ask: Callable[..., Any]
    ask_inputs: list[Any]
    answer_data: Any
    show: dict[str, Any]


def _query(pairs: dict[str, Any]) -> str:
    from urllib.parse import urlencode

    return "?" + urlencode({k: str(v) for k, v in pairs.items() if v not in (None, "")})


def share_link(question: str, values: list[Any], mode: str | None) -> str:
    """A relative link (?q=…) that reproduces the question with its filters and mode."""
    pairs = {"q": question, **dict(zip(FILTER_KEYS, values, strict=False))}
    return _query(pairs | ({"mode": mode} if mode and mode != "hybrid" else {}))


def ledger_link(topic: str, values: list[Any]) -> str:
    """A relative link (?tab=ledger&topic=…) that opens the Ledger tab on a topic with these filters, and runs it."""
    return _query({"tab": "ledger", "topic": topic, **dict(zip(FILTER_KEYS, values, strict=False))})


def url_filters(params: dict[str, str], section: bool = True) -> list[str]:
    """The filter values a link names, in FILTER_KEYS order ("" where it names none)."""
    return [params.get(k, "") for k in FILTER_KEYS if section or k != "section"]


def ask_tab(lib: Library, scratch: Scratch) -> AskTab:
    """Ask: a question → an answer whose [n] markers open the passage in its whole review; a link to share it,
    the text to copy and .md/.docx files to keep."""
    from rag.ui_text import answer_text
    from rag.web.export import write_answer

    @shown(lib.public)
    def ask(question: str, *values: Any) -> dict[str, Any]:
        """Answer a question with numbered citations of review excerpts, or say the reviews do not cover it.
        `values`: the filters in FILTER_KEYS order, then the search mode."""
        q = clean_query(question or "")
        filters = parse_filters(*values[:-1])
        return lib.answer(q, filters, values[-1] or None)

    def clear() -> tuple[Any, ...]:
        """Before each question: the previous answer goes, so an error is never shown under a stale answer; while
        the model is still loading, the answer's place says so."""
        return (
            None,
            LOADING_ANSWER if lib.loading else "",
            gr.update(choices=[], value=None, visible=False),
            HOW_IT_WORKS,
            "",
            "",
            gr.update(visible=False),
            downloads([]),
        )

    @shown(lib.public)
    def show_answer(ans: dict[str, Any] | None, question: str, *rest: Any) -> tuple[Any, ...]:
        if not ans:
            return "", gr.update(choices=[], value=None), "", "", "", gr.update(visible=False)
        choices = citation_choices(ans)
        hint = HOW_IT_WORKS if ans.get("abstained") else citation_html(lib.current().data, ans, None)
        link = share_link(question, list(rest[:-1]), rest[-1])
        topic = coverage_topic(ans)
        ledger_href = ledger_link(topic, list(rest[:-1])) if topic else ""
        share = (
            f"<p class='rla-share'><a id='share-link' href='{esc(link)}'>Link to this answer</a> "
            "<span class='rla-meta'>(opens the same question with the same filters)</span></p>"
        )
        return (
            answer_html(lib.current().data, ans, ledger_href),
            gr.update(choices=choices, value=None, visible=bool(choices)),
            hint,
            share,
            answer_text(ans),
            gr.update(visible=True),
        )

    @shown(lib.public)
    def keep_answer(ans: dict[str, Any] | None) -> Any:
        """The answer as .docx and .md files with its references, written when asked for (a Word file costs more of
        the server's time than the answer itself)."""
        return downloads(write_answer(ans, scratch.downloads("rla-answer-")) if ans else [])

    @shown(lib.public)
    def open_citation(n: str | None, ans: dict[str, Any] | None) -> str:
        if not ans or ans.get("abstained"):
            return ""
        return SHEET_CLOSE + citation_html(lib.current().data, ans, (n or "").split(":")[0] or None)

    def from_url(request: gr.Request) -> list[Any]:
        """The question, filters and mode named in the page's address, when a shared link opened it."""
        params = dict(request.query_params) if request is not None else {}
        if not params.get("q"):
            return [gr.skip()] * len(URL_KEYS)
        mode_value = params.get("mode", "hybrid")
        return [params["q"], *url_filters(params), mode_value if mode_value in MODES else "hybrid"]

    with gr.Tab("Ask", id="ask"), gr.Row():
        with gr.Column(scale=1, min_width=300):
            question = gr.Textbox(
                label="Question",
                lines=2,
                max_lines=4,
                max_length=2000,
                elem_id="question",
                placeholder="e.g. What did reviews say about professional curiosity?",
            )
            ask_btn = gr.Button("Ask", variant="primary", elem_id="ask-btn")
            with gr.Accordion("Filters and search mode", open=False, elem_id="ask-filters"):
                ask_f = filter_inputs("ask")
                mode = gr.Radio(list(MODES), value="hybrid", label="Search mode", elem_id="ask-mode")
            answer_view = gr.HTML(elem_id="answer")
            share_view = gr.HTML(elem_id="ask-share")
            with gr.Accordion("Copy answer with references", open=False, elem_id="ask-copy"):
                answer_plain = gr.Textbox(
                    label="Answer with references (plain text)",
                    lines=6,
                    max_lines=14,
                    interactive=False,
                    buttons=["copy"],
                    elem_id="answer-text",
                )
            keep_btn = gr.Button("Keep this answer (Word, Markdown)", size="sm", visible=False, elem_id="ask-keep")
            answer_files = download_box("This answer as Word and Markdown files", "answer-files")
            gr.Examples([[q] for q in EXAMPLE_QUESTIONS], inputs=[question], label="Example questions")
        with gr.Column(scale=1, min_width=300):
            cite_pick = gr.Radio([], label="Open a citation", visible=False, elem_id="cite-pick")
            cite_open = gr.Textbox(visible="hidden", elem_id="cite-open")
            record_view = gr.HTML(HOW_IT_WORKS, elem_id="ask-record")
            with gr.Accordion("Answer as data (JSON, as the /ask API returns it)", open=False):
                answer_data = gr.JSON(elem_id="answer-json")

    ask_inputs = [question, *ask_f.inputs, mode]
    show = {
        "fn": show_answer,
        "inputs": [answer_data, *ask_inputs],
        "outputs": [answer_view, cite_pick, record_view, share_view, answer_plain, keep_btn],
        "api_visibility": "private",
    }
    cleared = [answer_data, answer_view, cite_pick, record_view, share_view, answer_plain, keep_btn, answer_files]
    private: dict[str, Any] = {"api_visibility": "private"}
    for trigger in (ask_btn.click, question.submit):
        trigger(clear, None, cleared, queue=False, show_progress="hidden", **private).then(
            ask, ask_inputs, answer_data, concurrency_id="ask", concurrency_limit=ASK_CONCURRENCY, **private
        ).success(**show)
    keep_btn.click(keep_answer, [answer_data], answer_files, **private)
    cite_pick.change(open_citation, [cite_pick, answer_data], record_view, **private).then(
        None, js=to_mark("ask-record")
    )
    cite_open.change(open_citation, [cite_open, answer_data], record_view, **private).then(
        None, js=to_mark("ask-record")
    )
    return AskTab(ask_f, from_url, [question, *ask_f.inputs, mode], ask, ask_inputs, answer_data, show)


@dataclass(frozen=True)
class ReviewList:
    """The Reviews tab's listing, for the app to fill on load and after an ingest."""

    fn: Callable[..., Any]
    inputs: list[Any]
    outputs: list[Any]
    filters: FilterInputs


def reviews_tab(lib: Library) -> ReviewList:
    """Reviews: the reviews in the index as a table, narrowed by text and filters; a chosen row opens its record."""

    @shown(lib.public)
    def list_reviews(text: str, *values: Any) -> tuple[pd.DataFrame, str, str, str]:
        f = parse_filters(*values)
        data = lib.current().data  # one snapshot for the table, its count and its facets
        needle = one_line(text or "").lower()
        reviews = [
            r
            for r in data.reviews.values()
            if f.match(r) and needle in " ".join([r.title, r.id, r.area, *r.keywords]).lower()
        ]
        table = pd.DataFrame(
            [
                {
                    "Title": r.title,
                    "Year": str(r.year or ""),
                    "Area": r.area,
                    "Type": r.type or "",
                    "Keywords": "; ".join(one_line(k) for k in r.keywords),
                    "Id": r.id,
                }
                for r in reviews
            ],
            columns=REVIEW_COLUMNS,
        )
        count = f"**{len(reviews)}** of {len(data.reviews)} reviews"
        return table, count, facets_html(reviews), review_cards_html(reviews)

    @shown(lib.public)
    def show_review(evt: gr.SelectData) -> str:
        row = evt.row_value or []
        if not row:
            return ""
        return record_html(lib.current().data, str(row[-1]))

    @shown(lib.public)
    def open_review(value: str | None) -> str:
        review_id = (value or "").rsplit(":", 1)[0]
        return SHEET_CLOSE + record_html(lib.current().data, review_id) if review_id else ""

    with gr.Tab("Reviews", id="reviews"):
        with gr.Row():
            rv_text = gr.Textbox(label="Search titles, areas, keywords", elem_id="reviews-text", min_width=200, scale=2)
            rv_f = filter_inputs("reviews", section=False, one_row=True)
        rv_facets = gr.HTML(elem_id="reviews-facets")
        with gr.Row():
            with gr.Column(scale=3, min_width=300):
                rv_count = gr.Markdown(elem_id="reviews-count")
                rv_cards = gr.HTML(elem_id="reviews-cards-box")
                rv_table = gr.Dataframe(
                    headers=REVIEW_COLUMNS,
                    interactive=False,
                    wrap=True,
                    max_height=440,
                    elem_id="reviews-table",
                    elem_classes=TABLE_WITH_CARDS,
                    column_widths=["24%", "8%", "15%", "14%", "22%", "17%"],
                )
            with gr.Column(scale=2, min_width=300):
                rv_open = gr.Textbox(visible="hidden", elem_id="review-open")
                rv_record = gr.HTML(
                    scroll("<p class='rla-meta'>Choose a review in the table to read its whole record.</p>"),
                    elem_id="review-record",
                )

    rv_inputs, rv_outputs = [rv_text, *rv_f.inputs], [rv_table, rv_count, rv_facets, rv_cards]
    rv_text.submit(list_reviews, rv_inputs, rv_outputs, api_visibility="private")
    for comp in rv_f.inputs:
        comp.change(list_reviews, rv_inputs, rv_outputs, api_visibility="private")
    rv_table.select(show_review, None, rv_record, api_visibility="private")
    rv_open.change(open_review, rv_open, rv_record, api_visibility="private")
    return ReviewList(list_reviews, rv_inputs, rv_outputs, rv_f)


def count_axis(counts: list[int]) -> list[float]:
    """A y-axis range for counts whose ticks fall on whole numbers: with at least 0–5 the nice steps are 1, 2, 5…"""
    return [0, float(max([5, *counts]))]


@dataclass(frozen=True)
class LedgerTab:
    """The Ledger tab's filters, and what opens it pre-filled from a link (?tab=ledger&topic=…&area=…): the inputs
    to fill (topic, then the filters), and `show`, which lists the reviews into `outputs` (the entry panel last)."""

    filters: FilterInputs
    inputs: list[Any]
    show: Callable[..., tuple[Any, ...]]
    outputs: list[Any]


def ledger_params(value: str | None) -> dict[str, str]:
    """A coverage link's query ("?tab=ledger&topic=…&area=…:stamp", as the page's chooser gets it) as parameters."""
    from urllib.parse import parse_qsl

    query = (value or "").rsplit(":", 1)[0] if ":" in (value or "") else (value or "")
    return dict(parse_qsl(query.lstrip("?")))


def ledger_tab(lib: Library, scratch: Scratch) -> LedgerTab:
    """Ledger: every review that addresses a topic, one excerpt each, with counts by year and area; each entry
    opens in its whole review, and the ledger downloads as .md and .docx with its references."""
    from rag.web.export import write_ledger

    def _ledger(topic: str, *filter_values: Any) -> tuple[Any, ...]:
        from rag.ledger import ledger

        topic = clean_query(topic or "", EMPTY_LEDGER_TOPIC)
        filters = parse_filters(*filter_values)
        led = ledger(lib.current(), topic, filters)
        by_year = pd.DataFrame({"year": list(led.by_year), "reviews": list(led.by_year.values())})
        by_area = pd.DataFrame({"area": list(led.by_area), "reviews": list(led.by_area.values())})
        entries = [e.to_dict() for e in led.entries]
        return (
            scroll(ledger_html(lib.current().data, led)),
            gr.update(value=by_year, y_lim=count_axis(list(led.by_year.values())), visible=bool(entries)),
            gr.update(value=by_area, y_lim=count_axis(list(led.by_area.values())), visible=bool(entries)),
            entries,
            led.topic,
            gr.update(visible=bool(entries)),
        )

    @shown(lib.public)
    def show_ledger(topic: str, *filter_values: Any) -> tuple[Any, ...]:
        return _ledger(topic, *filter_values)

    @shown(lib.public)
    def keep_ledger(topic: str, entries: list[dict[str, Any]] | None) -> Any:
        """The ledger as .docx and .md files with its references, written when asked for, as an answer's are."""
        return downloads(write_ledger(topic, entries, scratch.downloads("rla-ledger-")) if entries else [])

    def clear() -> tuple[Any, ...]:
        no_chart = gr.update(value=None, visible=False)  # charts only beside a ledger, never empty frames
        return ("", no_chart, no_chart, [], "", gr.update(visible=False), downloads([]), "")

    @shown(lib.public)
    def open_entry(n: str | None, entries: list[dict[str, Any]] | None) -> str:
        i = int((n or "0").split(":")[0] or 0)
        if not entries or not 1 <= i <= len(entries):
            return ""
        return SHEET_CLOSE + excerpt_html(lib.current().data, entries[i - 1], i)

    # On a phone the list comes right after the topic and its filters, the charts and files after it (CSS).
    after_list = ["rla-after-list"]
    with gr.Tab("Ledger", id="ledger"), gr.Row(elem_classes=["rla-ledger-row"]):
        with gr.Column(scale=2, min_width=300, elem_classes=["rla-ledger-controls"]):
            topic = gr.Textbox(label="Topic", placeholder="e.g. was not brought", elem_id="ledger-topic")
            ledger_btn = gr.Button("Find every review", variant="primary", elem_id="ledger-btn")
            with gr.Accordion("Filters", open=False):
                led_f = filter_inputs("ledger")
            year_plot = gr.BarPlot(
                x="year",
                y="reviews",
                title="Reviews by year",
                height=200,
                y_lim=[0, 5],
                y_axis_format="d",
                visible=False,
                elem_id="ledger-years",
                elem_classes=after_list,
            )
            area_plot = gr.BarPlot(
                x="area",
                y="reviews",
                title="Reviews by area",
                height=250,
                sort="-y",
                x_label_angle=-40,
                y_lim=[0, 5],
                y_axis_format="d",
                visible=False,
                elem_id="ledger-areas",
                elem_classes=after_list,
            )
            keep_btn = gr.Button(
                "Keep this ledger (Word, Markdown)",
                size="sm",
                visible=False,
                elem_id="ledger-keep",
                elem_classes=after_list,
            )
            ledger_files = download_box("This ledger as Word and Markdown files", "ledger-files", after_list)
        with gr.Column(scale=3, min_width=300, elem_classes=["rla-ledger-list"]):
            ledger_view = gr.HTML(
                scroll(
                    "<p class='rla-meta'>Every review in the index that addresses the topic, with one excerpt each "
                    "— not just the top few.</p>"
                ),
                elem_id="ledger-list",
            )
        with gr.Column(scale=3, min_width=300, elem_classes=["rla-ledger-record"]):
            ledger_open = gr.Textbox(visible="hidden", elem_id="ledger-open")
            ledger_record = gr.HTML(elem_id="ledger-record")
            entries = gr.State([])
            shown_topic = gr.State("")

    led_inputs = [topic, *led_f.inputs]
    shown_outputs = [ledger_view, year_plot, area_plot, entries, shown_topic, keep_btn]
    private: dict[str, Any] = {"api_visibility": "private"}
    for trigger in (ledger_btn.click, topic.submit):
        trigger(
            clear, None, [*shown_outputs, ledger_files, ledger_record], queue=False, show_progress="hidden", **private
        ).then(show_ledger, led_inputs, shown_outputs, **private)
    keep_btn.click(keep_ledger, [shown_topic, entries], ledger_files, **private)
    ledger_open.change(open_entry, [ledger_open, entries], ledger_record, **private).then(
        None, js=to_mark("ledger-record")
    )
    put_away = downloads([])  # the files of a ledger shown before
    return LedgerTab(
        led_f, led_inputs, lambda *v: (*show_ledger(*v), put_away, ""), [*shown_outputs, ledger_files, ledger_record]
    )


def briefing_tab(lib: Library, scratch: Scratch) -> FilterInputs:
    """Briefing: a trainers' pack on a topic, shown with every [n] opening its quote in the whole review, and
    offered as .md, .html and .docx files. (The typed /brief endpoint is in api.py.)"""
    from dataclasses import asdict

    @shown(lib.public)
    def make_brief(
        topic: str,
        year_from: str | None = None,
        year_to: str | None = None,
        area: str | None = None,
        review_type: str | None = None,
        keyword: str | None = None,
        kind: str | None = None,
        theme: str | None = None,
        section: str | None = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (gradio's idiom: it finds the tracker by this default)
    ) -> tuple[str, Any, list[dict[str, Any]]]:
        """A trainers' briefing pack on a topic, as HTML whose [n] open their quotes, with .md/.html/.docx files."""
        if importlib.util.find_spec("rag.brief") is None:
            raise RlaError("briefings are not available in this build (the rag.brief package is missing)")
        from rag import brief as briefing

        topic = clean_query(topic or "", f"{EMPTY_BRIEF_TOPIC}, then press Build briefing")
        filters = parse_filters(year_from, year_to, area, review_type, keyword, kind, theme, section)
        progress((0, 3), desc="Finding every review on the topic")
        pack = briefing.build_brief(lib.current(), topic, filters if filters.active() else None)
        progress((2, 3), desc="Writing the Markdown, web page and Word files")
        folder = scratch.downloads("rla-brief-")
        files = [briefing.write_brief(pack, folder / f"{_slug(topic)}{ext}") for ext in (".md", ".html")]
        try:
            files.append(briefing.write_brief(pack, folder / f"{_slug(topic)}.docx"))
        except (ImportError, RlaError) as e:  # .docx needs the optional python-docx
            gr.Warning(esc(f"No Word file: {e}"))
        quotes = [asdict(q) for q in pack.quotes()]
        return scroll(brief_html(pack)), downloads(files), quotes

    @shown(lib.public)
    def open_quote(n: str | None, quotes: list[dict[str, Any]] | None) -> str:
        i = int((n or "0").split(":")[0] or 0)
        if not quotes or not 1 <= i <= len(quotes):
            return ""
        q = quotes[i - 1]
        return SHEET_CLOSE + excerpt_html(lib.current().data, q, q["ref"], f"Quote {i}, reference")

    with gr.Tab("Briefing", id="briefing"):
        available = importlib.util.find_spec("rag.brief") is not None
        if not available:
            gr.Markdown(
                "**Briefings are not available in this build** (the rag.brief package is missing).",
                elem_id="brief-missing",
            )
        with gr.Row():
            with gr.Column(scale=2, min_width=300):
                brief_topic = gr.Textbox(
                    label="Topic for the briefing",
                    placeholder="e.g. professional curiosity",
                    elem_id="brief-topic",
                )
                brief_btn = gr.Button("Build briefing", variant="primary", interactive=available, elem_id="brief-btn")
                with gr.Accordion("Filters", open=False):
                    brief_f = filter_inputs("brief")
                brief_files = download_box("Download", "brief-files")
            with gr.Column(scale=3, min_width=300):
                brief_view = gr.HTML(scroll(f"<p class='rla-meta'>{BRIEF_INTRO}</p>"), elem_id="brief-view")
            with gr.Column(scale=3, min_width=300):
                brief_open = gr.Textbox(visible="hidden", elem_id="brief-open")
                brief_record = gr.HTML(elem_id="brief-record")
                quotes = gr.State([])

    private: dict[str, Any] = {"api_visibility": "private"}
    brief_btn.click(
        lambda: (scroll(f"<p class='rla-meta'>{BRIEF_INTRO}</p>"), gr.update(value=None, visible=False), [], ""),
        None,
        [brief_view, brief_files, quotes, brief_record],
        queue=False,
        show_progress="hidden",
        **private,
    ).then(make_brief, [brief_topic, *brief_f.inputs], [brief_view, brief_files, quotes], **private)
    brief_open.change(open_quote, [brief_open, quotes], brief_record, **private).then(None, js=to_mark("brief-record"))
    return brief_f


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "briefing"
