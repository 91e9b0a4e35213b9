"""The web app: seven tabs over the library, with thin handlers that validate input and show errors as messages."""

from __future__ import annotations

import functools
import html
import importlib.util
import logging
import math
import re
import tempfile
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr
import pandas as pd

from rag.errors import IndexMissing, RlaError
from rag.retrieve import MODES, SECTIONS, Filters, Retriever, clean_query
from rag.settings import Settings
from rag.store import IndexData
from rag.uploads import save_uploads
from rag.webapp_html import (
    CSS,
    HOW_IT_WORKS,
    _esc,
    _one_line,
    _scroll,
    answer_html,
    citation_choices,
    citation_html,
    facets_html,
    ledger_html,
    record_html,
    uploads_html,
)

log = logging.getLogger("rla.webapp")

EXAMPLE_QUESTIONS = [
    "What did reviews learn about fathers and men in the household?",
    "What did reviews say about professional curiosity?",
    "What did reviews recommend about sharing information between agencies?",
    "What do reviews say about children who were not brought to appointments?",
    "What did reviews find about neglect and parental substance misuse?",
]
ANY = ("Any", "")
REVIEW_COLUMNS = ["Title", "Year", "Area", "Type", "Keywords", "Id"]
EVAL_COLUMNS = ["id", "kind", "mode", "question", "gold", "missed", "abstained"]
INGEST_COLUMNS = ["file", "status", "reviews", "chunks", "reason"]

F = TypeVar("F", bound=Callable[..., Any])


def shown(fn: F) -> F:
    """Turn library errors into a visible message, and anything else into a short one (the traceback goes to the log)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except RlaError as e:
            raise gr.Error(html.escape(str(e), quote=False), title="Cannot do that", print_exception=False) from None
        except Exception as e:
            log.exception("unexpected error in %s", fn.__name__)
            raise gr.Error(
                f"Unexpected error ({type(e).__name__}); the details are in the server log.", print_exception=False
            ) from None

    return wrapper  # type: ignore[return-value]


# --- the shared retriever -------------------------------------------------------------------------------------


class Library:
    """The one Retriever all sessions share. An ingest builds a new one and swaps it in whole, under a lock,
    so a request sees either the old index or the new one, never half of each."""

    def __init__(self, settings: Settings, questions: Path) -> None:
        self.settings = settings
        self.questions = questions
        self._retriever: Retriever | None = None
        self._problem: str | None = None
        self._swap = threading.Lock()
        self.ingesting = threading.Lock()

    def load(self) -> Retriever:
        """Open the live index generation and warm it (model, BM25) before anyone waits on it."""
        fresh = Retriever(self.settings)
        fresh.search("warm up", k=1)
        with self._swap:
            self._retriever, self._problem = fresh, None
        return fresh

    def try_load(self) -> None:
        try:
            self.load()
        except IndexMissing:
            with self._swap:
                self._problem = (
                    f"No index at {self.settings.index} yet. Open the **Corpus** tab and press "
                    "**Add files and update index** to build one from the corpus folder."
                )
        except RlaError as e:
            with self._swap:
                self._problem = str(e)

    @property
    def loaded(self) -> bool:
        with self._swap:
            return self._retriever is not None

    def current(self) -> Retriever:
        with self._swap:
            retriever, problem = self._retriever, self._problem
        if retriever is None:
            raise RlaError((problem or "no index loaded").replace("**", ""))
        return retriever

    def status(self) -> str:
        with self._swap:
            retriever, problem = self._retriever, self._problem
        if retriever is None:
            return f"**No index loaded.** {problem}"
        m = retriever.data.manifest
        c = m["counts"]
        return (
            f"Index: **{c['reviews']} reviews** ({c['chunks']} excerpts) from {c['sources']} files · "
            f"{m['generation']}, built {m['created'].replace('T', ' ').rstrip('Z')} UTC"
        )


# --- input validation -----------------------------------------------------------------------------------------


def parse_filters(
    year_from: str | int | None = None,
    year_to: str | int | None = None,
    area: str | None = None,
    review_type: str | None = None,
    keyword: str | None = None,
    section: str | None = None,
) -> Filters:
    return Filters.parse(
        {
            "year_from": year_from,
            "year_to": year_to,
            "area": area,
            "type": review_type,
            "keyword": keyword,
            "section": section,
        }
    )


# --- choices from the index -----------------------------------------------------------------------------------


def filter_choices(data: IndexData | None) -> dict[str, list[tuple[str, str]]]:
    """Dropdown choices (label, value) for years, and for area, type and keyword most common first, with counts."""
    reviews = list(data.reviews.values()) if data else []

    def counted(values: list[str]) -> list[tuple[str, str]]:
        c = Counter(v for v in values if v)
        return [ANY] + [
            (f"{_one_line(v)} ({n})", v) for v, n in sorted(c.items(), key=lambda kv: (-kv[1], kv[0].lower()))
        ]

    years = [ANY] + [(str(y), str(y)) for y in sorted({r.year for r in reviews if r.year}, reverse=True)]
    return {
        "year_from": years,
        "year_to": years,
        "area": counted([r.area for r in reviews]),
        "type": counted([r.type or "" for r in reviews]),
        "keyword": counted([k for r in reviews for k in r.keywords]),
    }


# --- the app --------------------------------------------------------------------------------------------------


@dataclass
class FilterInputs:
    year_from: gr.Dropdown
    year_to: gr.Dropdown
    area: gr.Dropdown
    review_type: gr.Dropdown
    keyword: gr.Dropdown
    section: gr.Dropdown | None

    @property
    def inputs(self) -> list[Any]:
        out = [self.year_from, self.year_to, self.area, self.review_type, self.keyword]
        return out + ([self.section] if self.section is not None else [])

    @property
    def from_index(self) -> dict[str, gr.Dropdown]:
        """The inputs whose choices come from the index, by filter_choices key."""
        return {
            "year_from": self.year_from,
            "year_to": self.year_to,
            "area": self.area,
            "type": self.review_type,
            "keyword": self.keyword,
        }


def _filter_inputs(prefix: str, section: bool = True, one_row: bool = False) -> FilterInputs:
    """Year range, area, type, keyword (and section) inputs; choices are filled from the index on page load.

    Free text is allowed (the filter parser validates it), so API callers are not bound to the choices of the
    index as it was when the page was built."""

    def pick(label: str, suffix: str, choices: list[tuple[str, str]] | None = None, custom: bool = True) -> gr.Dropdown:
        return gr.Dropdown(
            choices or [ANY],
            value="",
            label=label,
            allow_custom_value=custom,
            elem_id=f"{prefix}-{suffix}",
            min_width=110,
        )

    def years() -> tuple[gr.Dropdown, gr.Dropdown]:
        return pick("From year", "year-from"), pick("To year", "year-to")

    if one_row:  # inside the caller's row
        (year_from, year_to), area = years(), pick("Area", "area")
        review_type, keyword, sec = pick("Review type", "type"), pick("Keyword", "keyword"), None
    else:
        with gr.Row():
            (year_from, year_to), area = years(), pick("Area", "area")
        with gr.Row():
            review_type, keyword = pick("Review type", "type"), pick("Keyword", "keyword")
            sec = pick("Section", "section", [ANY] + [(s, s) for s in SECTIONS], custom=False) if section else None
    return FilterInputs(year_from, year_to, area, review_type, keyword, sec)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "briefing"


def build_app(lib: Library) -> gr.Blocks:
    """All seven tabs. Handlers validate, call one library function, and render; errors become messages."""
    from rag.evaluate import METRIC_ORDER

    settings = lib.settings

    # --- handlers (plain functions of plain values, wrapped so errors show as messages) ---

    @shown
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

    @shown
    def show_answer(ans: dict[str, Any] | None) -> tuple[str, Any, str]:
        if not ans:
            return "", gr.update(choices=[], value=None), ""
        choices = citation_choices(ans)
        hint = HOW_IT_WORKS if ans.get("abstained") else citation_html(lib.current().data, ans, None)
        return answer_html(ans), gr.update(choices=choices, value=None, visible=bool(choices)), hint

    @shown
    def open_citation(n: str | None, ans: dict[str, Any] | None) -> str:
        if not ans or ans.get("abstained"):
            return ""
        return citation_html(lib.current().data, ans, n)

    def refresh() -> list[Any]:
        """Status line and filter choices, from whatever index is live now."""
        try:
            data: IndexData | None = lib.current().data
        except RlaError:
            data = None
        ch = filter_choices(data)
        updates = [lib.status()]
        for fs in filter_sets:
            updates += [gr.update(choices=ch[key]) for key in fs.from_index]
        return updates

    @shown
    def list_reviews(
        text: str,
        year_from: str | int | None,
        year_to: str | int | None,
        area: str | None,
        review_type: str | None,
        keyword: str | None,
    ) -> tuple[pd.DataFrame, str, str]:
        from rag.ui_text import review_rows

        f = parse_filters(year_from, year_to, area, review_type, keyword)
        needle = _one_line(text or "").lower()
        rows = []
        for r in review_rows(lib.current().data):
            if f.year_from is not None and (r["year"] is None or r["year"] < f.year_from):
                continue
            if f.year_to is not None and (r["year"] is None or r["year"] > f.year_to):
                continue
            if f.area and r["area"].lower() != f.area.lower():
                continue
            if f.type and (r["type"] or "").lower() != f.type.lower():
                continue
            if f.keyword and f.keyword.lower() not in {k.lower() for k in r["keywords"]}:
                continue
            hay = " ".join([r["title"], r["id"], r["area"], *r["keywords"]]).lower()
            if needle and needle not in hay:
                continue
            rows.append(r)
        table = pd.DataFrame(
            [
                {
                    "Title": r["title"],
                    "Year": str(r["year"] or ""),
                    "Area": r["area"],
                    "Type": r["type"] or "",
                    "Keywords": "; ".join(_one_line(k) for k in r["keywords"]),
                    "Id": r["id"],
                }
                for r in rows
            ],
            columns=["Title", "Year", "Area", "Type", "Keywords", "Id"],
        )
        return table, f"**{len(rows)}** of {len(lib.current().data.reviews)} reviews", facets_html(rows)

    @shown
    def show_review(evt: gr.SelectData) -> str:
        row = evt.row_value or []
        if not row:
            return ""
        return record_html(lib.current().data, str(row[-1]))

    @shown
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
        return _scroll(ledger_html(led)), by_year, by_area

    @shown
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
            raise RlaError("briefings are not available in this build (rag/brief.py is missing)")
        from rag import brief as briefing

        topic = clean_query(topic or "")
        filters = parse_filters(year_from, year_to, area, review_type, keyword, section)
        pack = briefing.build_brief(lib.current(), topic, filters if filters.active() else None)
        folder = Path(tempfile.mkdtemp(prefix="rla-brief-"))
        files = [briefing.write_brief(pack, folder / f"{_slug(topic)}{ext}") for ext in (".md", ".html")]
        try:
            files.append(briefing.write_brief(pack, folder / f"{_slug(topic)}.docx"))
        except (ImportError, RlaError) as e:  # .docx needs the optional python-docx
            gr.Warning(_esc(f"No Word file: {e}"))
        return pack.to_markdown(), gr.update(value=[str(f) for f in files], visible=True)

    @shown
    def run_eval(
        mode: str = "hybrid",
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (gradio's idiom: it finds the tracker by this default)
    ) -> tuple[str, pd.DataFrame, pd.DataFrame, pd.DataFrame, Any]:
        """Score the evaluation set in one or all retrieval modes."""
        import json

        from rag.evaluate import evaluate, load_questions, report_csv

        if not lib.questions.exists():
            raise RlaError(f"no evaluation set at {lib.questions}; start the app with --questions FILE")
        if mode not in (*MODES, "all"):
            raise RlaError(f"unknown mode {mode!r}; choose {', '.join(MODES)} or all")
        modes = list(MODES) if mode == "all" else [mode]
        questions = load_questions(lib.questions)
        retriever = lib.current()
        progress((0, None), desc=f"Evaluating {len(questions)} questions in {', '.join(modes)} mode")
        report = evaluate(retriever, questions, modes)
        metrics = pd.DataFrame(
            [{"metric": k, **{m: _round(report.modes[m].get(k)) for m in modes}} for k in METRIC_ORDER]
        )
        chart = pd.DataFrame(
            [
                {"measure": f"{k} · {m}", "mode": m, "value": _round(report.modes[m].get(k)) or 0.0}
                for k in ("Recall@10", "MRR", "nDCG@10", "citation_precision", "abstention_acc")
                for m in modes
            ]
        )
        rows = []
        for q in report.questions:
            for m in modes:
                r = q.get(m, {})
                rows.append(
                    {
                        "id": q["id"],
                        "kind": q["kind"],
                        "mode": m,
                        "question": q["question"],
                        "gold": ", ".join(q["gold"]) or "(none: should abstain)",
                        "missed": ", ".join(r.get("missed", [])),
                        "abstained": "yes" if r.get("abstained") else "no",
                    }
                )
        folder = Path(tempfile.mkdtemp(prefix="rla-eval-"))
        stem = f"rla-eval-{mode}"
        (folder / f"{stem}.json").write_text(
            json.dumps(report.to_dict(), indent=1, ensure_ascii=False), encoding="utf-8"
        )
        (folder / f"{stem}.csv").write_text(report_csv(report), encoding="utf-8")
        summary = f"Scored **{len(questions)} questions** from `{lib.questions.name}` in {', '.join(modes)} mode."
        files = [str(folder / f"{stem}.json"), str(folder / f"{stem}.csv")]
        return summary, metrics, chart, pd.DataFrame(rows, columns=EVAL_COLUMNS), gr.update(value=files, visible=True)

    @shown
    def add_files(
        files: list[str] | None,
        rebuild: bool = False,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> tuple[str, pd.DataFrame, str]:
        """Save uploaded review files into the corpus folder and bring the index up to date."""
        from rag.ingest import ingest

        if not lib.ingesting.acquire(blocking=False):
            raise RlaError("an ingest is already running; wait for it to finish")
        try:
            try:
                known = {v["sha256"]: k for k, v in lib.current().data.manifest["sources"].items()}
            except RlaError:
                known = {}
            uploads = save_uploads(list(files or []), settings, known)
            if uploads and not any(u.saved for u in uploads):
                raise RlaError("; ".join(u.reason for u in uploads))

            def report_progress(stage: str, done: int, total: int) -> None:
                progress((done, max(total, 1)), desc=stage)

            report = ingest(settings, rebuild=bool(rebuild), progress=report_progress)
            if report.changed or not lib.loaded:
                progress((1, 1), desc="loading the new index")
                lib.load()
        finally:
            lib.ingesting.release()
        for u in uploads:
            if u.saved is None:
                gr.Warning(_esc(u.reason))
        table = pd.DataFrame(
            [
                {"file": f.source, "status": f.status, "reviews": f.reviews, "chunks": f.chunks, "reason": f.reason}
                for f in report.files
            ],
            columns=INGEST_COLUMNS,
        )
        t = report.totals
        verdict = (
            f"Index updated to {report.generation}"
            if report.changed
            else f"Index is up to date ({report.generation}); nothing new to embed"
        )
        summary = (
            f"{uploads_html(uploads)}<p><strong>{_esc(verdict)}</strong>: {t['files']} files, {t['reviews']} reviews, "
            f"{t['chunks']} excerpts, {t['embedded']} newly embedded, {t['skipped']} skipped.</p>"
        )
        return summary, table, lib.status()

    # --- layout ---

    filter_sets: list[FilterInputs] = []
    with gr.Blocks(title="rla — learning from case reviews", analytics_enabled=False) as demo:
        with gr.Row(equal_height=True):
            gr.Markdown("## rla · what did case reviews say about…?", scale=3)
            status = gr.Markdown(lib.status(), elem_classes=["rla-banner"], elem_id="status", scale=4)

        with gr.Tabs():
            with gr.Tab("Ask", id="ask"):
                with gr.Row():
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
                            ask_f = _filter_inputs("ask")
                            mode = gr.Radio(list(MODES), value="hybrid", label="Search mode", elem_id="ask-mode")
                        answer_view = gr.HTML(elem_id="answer")
                        gr.Examples([[q] for q in EXAMPLE_QUESTIONS], inputs=[question], label="Example questions")
                    with gr.Column(scale=1, min_width=420):
                        cite_pick = gr.Radio([], label="Open a citation", visible=False, elem_id="cite-pick")
                        record_view = gr.HTML(HOW_IT_WORKS, elem_id="ask-record")
                        with gr.Accordion("Answer as data (JSON, as the /ask API returns it)", open=False):
                            answer_data = gr.JSON(elem_id="answer-json")
                filter_sets.append(ask_f)

            with gr.Tab("Reviews", id="reviews"):
                with gr.Row():
                    rv_text = gr.Textbox(
                        label="Search titles, areas, keywords", elem_id="reviews-text", min_width=200, scale=2
                    )
                    rv_f = _filter_inputs("reviews", section=False, one_row=True)
                filter_sets.append(rv_f)
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
                            _scroll("<p class='rla-meta'>Choose a review in the table to read its whole record.</p>"),
                            elem_id="review-record",
                        )

            with gr.Tab("Ledger", id="ledger"):
                with gr.Row():
                    with gr.Column(scale=2, min_width=360):
                        topic = gr.Textbox(label="Topic", placeholder="e.g. was not brought", elem_id="ledger-topic")
                        ledger_btn = gr.Button("Find every review", variant="primary", elem_id="ledger-btn")
                        with gr.Accordion("Filters", open=False):
                            led_f = _filter_inputs("ledger")
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
                            _scroll(
                                "<p class='rla-meta'>Every review in the index that addresses the topic, with one excerpt each — not just the top few.</p>"
                            ),
                            elem_id="ledger-list",
                        )
                filter_sets.append(led_f)

            with gr.Tab("Briefing", id="briefing"):
                available = importlib.util.find_spec("rag.brief") is not None
                if not available:
                    gr.Markdown(
                        "**Briefings are not available in this build** (rag/brief.py is missing).",
                        elem_id="brief-missing",
                    )
                with gr.Row():
                    with gr.Column(scale=2, min_width=360):
                        brief_topic = gr.Textbox(
                            label="Topic for the briefing",
                            placeholder="e.g. professional curiosity",
                            elem_id="brief-topic",
                        )
                        brief_btn = gr.Button(
                            "Build briefing", variant="primary", interactive=available, elem_id="brief-btn"
                        )
                        with gr.Accordion("Filters", open=False):
                            brief_f = _filter_inputs("brief")
                        brief_files = gr.File(
                            label="Download",
                            file_count="multiple",
                            interactive=False,
                            visible=False,
                            elem_id="brief-files",
                        )
                    with gr.Column(scale=3, min_width=420):
                        brief_view = gr.Markdown(
                            "A briefing pack for trainers: what the reviews found and recommended on a topic, every point cited.",
                            elem_id="brief-view",
                            max_height=600,
                        )
                filter_sets.append(brief_f)

            with gr.Tab("Evaluate", id="evaluate"):
                with gr.Row():
                    eval_mode = gr.Radio(
                        ["hybrid", "dense", "bm25", "all"],
                        value="hybrid",
                        label="Retrieval mode",
                        elem_id="eval-mode",
                        scale=3,
                    )
                    eval_btn = gr.Button("Run evaluation", variant="primary", elem_id="eval-btn", scale=1)
                with gr.Row():
                    eval_summary = gr.Markdown(f"Evaluation set: `{lib.questions}`", elem_id="eval-summary")
                    eval_files = gr.File(
                        label="Report (JSON, CSV)",
                        file_count="multiple",
                        interactive=False,
                        visible=False,
                        elem_id="eval-files",
                    )
                with gr.Row():
                    eval_metrics = gr.Dataframe(
                        headers=["metric", "hybrid"],
                        label="Metrics",
                        interactive=False,
                        elem_id="eval-metrics",
                        scale=2,
                    )
                    eval_chart = gr.BarPlot(
                        x="measure",
                        y="value",
                        color="mode",
                        title="Modes compared",
                        y_lim=[0, 1],
                        x_label_angle=-40,
                        height=330,
                        elem_id="eval-chart",
                        scale=3,
                    )
                eval_questions = gr.Dataframe(
                    headers=EVAL_COLUMNS,
                    label="Per question: gold reviews missed in the top 10",
                    interactive=False,
                    wrap=True,
                    max_height=360,
                    elem_id="eval-questions",
                )

            with gr.Tab("Corpus", id="corpus"):
                allowed = ", ".join(sorted(settings.allowed_suffixes))
                gr.Markdown(
                    f"Add review files ({allowed}, up to {settings.max_file_mb} MB each) to the corpus folder `{settings.corpus}`. "
                    "Each is saved under a safe name and never replaces an existing file; then the index is brought up "
                    "to date (only new or changed files are read and embedded)."
                )
                with gr.Row():
                    with gr.Column(scale=2, min_width=360):
                        uploads = gr.File(
                            label="Review files",
                            file_count="multiple",
                            file_types=list(settings.allowed_suffixes),
                            height=200,
                            elem_id="corpus-files",
                        )
                        rebuild = gr.Checkbox(label="Rebuild the whole index from scratch", value=False)
                        ingest_btn = gr.Button("Add files and update index", variant="primary", elem_id="ingest-btn")
                    with gr.Column(scale=3, min_width=420):
                        ingest_summary = gr.HTML(elem_id="ingest-summary")
                        ingest_table = gr.Dataframe(
                            headers=INGEST_COLUMNS,
                            label="Per file",
                            interactive=False,
                            wrap=True,
                            max_height=380,
                            elem_id="ingest-table",
                            column_widths=["38%", "13%", "11%", "10%", "28%"],
                        )

        # --- events ---
        choice_outputs = [status] + [d for fs in filter_sets for d in fs.from_index.values()]
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

        rv_inputs = [rv_text, *rv_f.inputs]
        rv_text.submit(list_reviews, rv_inputs, [rv_table, rv_count, rv_facets], api_visibility="private")
        for comp in rv_f.inputs:
            comp.change(list_reviews, rv_inputs, [rv_table, rv_count, rv_facets], api_visibility="private")
        rv_table.select(show_review, None, rv_record, api_visibility="private")

        led_io = {"fn": run_ledger, "inputs": [topic, *led_f.inputs], "outputs": [ledger_view, year_plot, area_plot]}
        ledger_btn.click(**led_io, api_name="ledger")
        topic.submit(**led_io, api_visibility="private")
        brief_btn.click(make_brief, [brief_topic, *brief_f.inputs], [brief_view, brief_files], api_name="brief")
        eval_btn.click(
            run_eval,
            [eval_mode],
            [eval_summary, eval_metrics, eval_chart, eval_questions, eval_files],
            api_name="evaluate",
            concurrency_id="heavy",
            concurrency_limit=1,
        )
        ingest_btn.click(
            add_files,
            [uploads, rebuild],
            [ingest_summary, ingest_table, status],
            api_name="add_files",
            concurrency_id="heavy",
            concurrency_limit=1,
        ).success(refresh, None, choice_outputs, api_visibility="private").success(
            list_reviews, rv_inputs, [rv_table, rv_count, rv_facets], api_visibility="private"
        ).success(lambda: None, None, uploads, api_visibility="private")

        demo.load(refresh, None, choice_outputs, api_visibility="private").then(
            list_reviews, rv_inputs, [rv_table, rv_count, rv_facets], api_visibility="private"
        )
    return demo


def _round(v: float | None) -> float | None:
    return None if v is None or math.isnan(v) else round(float(v), 3)


def launch_options(settings: Settings, host: str, port: int, auth: tuple[str, str] | None) -> dict[str, Any]:
    """Keyword arguments for Blocks.launch: local by default, no telemetry, no run history, uploads capped."""
    return {
        "server_name": host,
        "server_port": port,
        "auth": auth,
        "auth_message": "rla: sign in with the account your administrator set in RLA_AUTH." if auth else None,
        "max_file_size": f"{settings.max_file_mb}mb",
        # The index and corpus are read by the app itself, never served as files.
        "blocked_paths": [str(settings.index.resolve()), str(settings.corpus.resolve())],
        "footer_links": ["api"],
        "run_history": False,
        "enable_monitoring": False,
        "mcp_server": False,
        "ssr_mode": False,
        "share": False,
        "show_error": False,
        "css": CSS,
        "quiet": False,
    }
