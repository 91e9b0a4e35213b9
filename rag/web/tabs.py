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
from rag.retrieve import MODES, clean_query
from rag.web.html import (
    HOW_IT_WORKS,
    answer_html,
    citation_choices,
    citation_html,
    esc,
    facets_html,
    ledger_html,
    one_line,
    record_html,
    scroll,
)
from rag.web.inputs import FilterInputs, filter_inputs, parse_filters, shown
from rag.web.library import Library
from rag.web.scratch import Scratch

EXAMPLE_QUESTIONS = [
    "What did reviews learn about fathers and men in the household?",
    "What did reviews say about professional curiosity?",
    "What did reviews recommend about sharing information between agencies?",
    "What do reviews say about children who were not brought to appointments?",
    "What did reviews find about neglect and parental substance misuse?",
]
REVIEW_COLUMNS = ["Title", "Year", "Area", "Type", "Keywords", "Id"]


def ask_tab(lib: Library) -> FilterInputs:
    """Ask: a question → an answer with numbered citations; a chosen citation opens in its whole review."""

    @shown(lib.public)
    def ask(
        question: str,
        year_from: str | int | None = None,
        year_to: str | int | None = None,
        area: str | None = "",
        review_type: str | None = "",
        keyword: str | None = "",
        section: str | None = "",
        mode: str | None = "hybrid",
    ) -> dict[str, Any]:
        """Answer a question with numbered citations of review excerpts, or say the reviews do not cover it."""
        from rag.answer import answer

        q = clean_query(question or "")
        filters = parse_filters(year_from, year_to, area, review_type, keyword, section)
        return answer(lib.current(), q, filters=filters, mode=mode or None).to_dict()

    @shown(lib.public)
    def show_answer(ans: dict[str, Any] | None) -> tuple[str, Any, str]:
        if not ans:
            return "", gr.update(choices=[], value=None), ""
        choices = citation_choices(ans)
        hint = HOW_IT_WORKS if ans.get("abstained") else citation_html(lib.current().data, ans, None)
        return answer_html(ans), gr.update(choices=choices, value=None, visible=bool(choices)), hint

    @shown(lib.public)
    def open_citation(n: str | None, ans: dict[str, Any] | None) -> str:
        if not ans or ans.get("abstained"):
            return ""
        return citation_html(lib.current().data, ans, n)

    with gr.Tab("Ask", id="ask"), gr.Row():
        with gr.Column(scale=1, min_width=420):
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
            gr.Examples([[q] for q in EXAMPLE_QUESTIONS], inputs=[question], label="Example questions")
        with gr.Column(scale=1, min_width=420):
            cite_pick = gr.Radio([], label="Open a citation", visible=False, elem_id="cite-pick")
            record_view = gr.HTML(HOW_IT_WORKS, elem_id="ask-record")
            with gr.Accordion("Answer as data (JSON, as the /ask API returns it)", open=False):
                answer_data = gr.JSON(elem_id="answer-json")

    ask_inputs = [question, *ask_f.inputs, mode]
    show = {
        "fn": show_answer,
        "inputs": answer_data,
        "outputs": [answer_view, cite_pick, record_view],
        "api_visibility": "private",
    }
    ask_btn.click(ask, ask_inputs, answer_data, api_name="ask", concurrency_id="ask", concurrency_limit=4).success(
        **show
    )
    question.submit(
        ask, ask_inputs, answer_data, api_visibility="private", concurrency_id="ask", concurrency_limit=4
    ).success(**show)
    cite_pick.change(open_citation, [cite_pick, answer_data], record_view, api_visibility="private").then(
        None,
        js="() => setTimeout(() => document.querySelector('#ask-record mark')?.scrollIntoView({block: 'center'}), 150)",
    )
    return ask_f


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
    def list_reviews(
        text: str,
        year_from: str | int | None,
        year_to: str | int | None,
        area: str | None,
        review_type: str | None,
        keyword: str | None,
    ) -> tuple[pd.DataFrame, str, str]:
        f = parse_filters(year_from, year_to, area, review_type, keyword)
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
        return table, f"**{len(reviews)}** of {len(data.reviews)} reviews", facets_html(reviews)

    @shown(lib.public)
    def show_review(evt: gr.SelectData) -> str:
        row = evt.row_value or []
        if not row:
            return ""
        return record_html(lib.current().data, str(row[-1]))

    with gr.Tab("Reviews", id="reviews"):
        with gr.Row():
            rv_text = gr.Textbox(label="Search titles, areas, keywords", elem_id="reviews-text", min_width=200, scale=2)
            rv_f = filter_inputs("reviews", section=False, one_row=True)
        rv_facets = gr.HTML(elem_id="reviews-facets")
        with gr.Row():
            with gr.Column(scale=3, min_width=520):
                rv_count = gr.Markdown(elem_id="reviews-count")
                rv_table = gr.Dataframe(
                    headers=REVIEW_COLUMNS,
                    interactive=False,
                    wrap=True,
                    max_height=440,
                    elem_id="reviews-table",
                    column_widths=["22%", "7%", "13%", "14%", "26%", "18%"],
                )
            with gr.Column(scale=2, min_width=360):
                rv_record = gr.HTML(
                    scroll("<p class='rla-meta'>Choose a review in the table to read its whole record.</p>"),
                    elem_id="review-record",
                )

    rv_inputs = [rv_text, *rv_f.inputs]
    rv_text.submit(list_reviews, rv_inputs, [rv_table, rv_count, rv_facets], api_visibility="private")
    for comp in rv_f.inputs:
        comp.change(list_reviews, rv_inputs, [rv_table, rv_count, rv_facets], api_visibility="private")
    rv_table.select(show_review, None, rv_record, api_visibility="private")
    return ReviewList(list_reviews, rv_inputs, [rv_table, rv_count, rv_facets], rv_f)


def ledger_tab(lib: Library) -> FilterInputs:
    """Ledger: every review that addresses a topic, one excerpt each, with counts by year and area."""

    @shown(lib.public)
    def run_ledger(
        topic: str,
        year_from: str | int | None = None,
        year_to: str | int | None = None,
        area: str | None = "",
        review_type: str | None = "",
        keyword: str | None = "",
        section: str | None = "",
    ) -> tuple[str, pd.DataFrame, pd.DataFrame]:
        """Every review that addresses a topic, one excerpt each, counted by year and area."""
        from rag.ledger import ledger

        filters = parse_filters(year_from, year_to, area, review_type, keyword, section)
        led = ledger(lib.current(), clean_query(topic or ""), filters)
        by_year = pd.DataFrame({"year": list(led.by_year), "reviews": list(led.by_year.values())})
        by_area = pd.DataFrame({"area": list(led.by_area), "reviews": list(led.by_area.values())})
        return scroll(ledger_html(led)), by_year, by_area

    with gr.Tab("Ledger", id="ledger"), gr.Row():
        with gr.Column(scale=2, min_width=360):
            topic = gr.Textbox(label="Topic", placeholder="e.g. was not brought", elem_id="ledger-topic")
            ledger_btn = gr.Button("Find every review", variant="primary", elem_id="ledger-btn")
            with gr.Accordion("Filters", open=False):
                led_f = filter_inputs("ledger")
            year_plot = gr.BarPlot(
                x="year",
                y="reviews",
                title="Reviews by year",
                height=200,
                y_lim=[0, None],
                elem_id="ledger-years",
            )
            area_plot = gr.BarPlot(
                x="area",
                y="reviews",
                title="Reviews by area",
                height=250,
                sort="-y",
                x_label_angle=-40,
                y_lim=[0, None],
                elem_id="ledger-areas",
            )
        with gr.Column(scale=3, min_width=420):
            ledger_view = gr.HTML(
                scroll(
                    "<p class='rla-meta'>Every review in the index that addresses the topic, with one excerpt each "
                    "— not just the top few.</p>"
                ),
                elem_id="ledger-list",
            )

    led_inputs, led_outputs = [topic, *led_f.inputs], [ledger_view, year_plot, area_plot]
    ledger_btn.click(run_ledger, led_inputs, led_outputs, api_name="ledger")
    topic.submit(run_ledger, led_inputs, led_outputs, api_visibility="private")
    return led_f


def briefing_tab(lib: Library, scratch: Scratch) -> FilterInputs:
    """Briefing: a trainers' pack on a topic, shown as Markdown and offered as .md, .html and .docx files."""

    @shown(lib.public)
    def make_brief(
        topic: str,
        year_from: str | int | None = None,
        year_to: str | int | None = None,
        area: str | None = "",
        review_type: str | None = "",
        keyword: str | None = "",
        section: str | None = "",
    ) -> tuple[str, Any]:
        """A trainers' briefing pack on a topic, as Markdown, with .md/.html (and .docx) downloads."""
        if importlib.util.find_spec("rag.brief") is None:
            raise RlaError("briefings are not available in this build (the rag.brief package is missing)")
        from rag import brief as briefing

        topic = clean_query(topic or "")
        filters = parse_filters(year_from, year_to, area, review_type, keyword, section)
        pack = briefing.build_brief(lib.current(), topic, filters if filters.active() else None)
        folder = scratch.downloads("rla-brief-")
        files = [briefing.write_brief(pack, folder / f"{_slug(topic)}{ext}") for ext in (".md", ".html")]
        try:
            files.append(briefing.write_brief(pack, folder / f"{_slug(topic)}.docx"))
        except (ImportError, RlaError) as e:  # .docx needs the optional python-docx
            gr.Warning(esc(f"No Word file: {e}"))
        return briefing.render_markdown(pack), gr.update(value=[str(f) for f in files], visible=True)

    with gr.Tab("Briefing", id="briefing"):
        available = importlib.util.find_spec("rag.brief") is not None
        if not available:
            gr.Markdown(
                "**Briefings are not available in this build** (the rag.brief package is missing).",
                elem_id="brief-missing",
            )
        with gr.Row():
            with gr.Column(scale=2, min_width=360):
                brief_topic = gr.Textbox(
                    label="Topic for the briefing",
                    placeholder="e.g. professional curiosity",
                    elem_id="brief-topic",
                )
                brief_btn = gr.Button("Build briefing", variant="primary", interactive=available, elem_id="brief-btn")
                with gr.Accordion("Filters", open=False):
                    brief_f = filter_inputs("brief")
                brief_files = gr.File(
                    label="Download",
                    file_count="multiple",
                    interactive=False,
                    visible=False,
                    elem_id="brief-files",
                )
            with gr.Column(scale=3, min_width=420):
                brief_view = gr.Markdown(
                    "A briefing pack for trainers: what the reviews found and recommended on a topic, "
                    "every point cited.",
                    elem_id="brief-view",
                    max_height=600,
                )

    brief_btn.click(make_brief, [brief_topic, *brief_f.inputs], [brief_view, brief_files], api_name="brief")
    return brief_f


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "briefing"
