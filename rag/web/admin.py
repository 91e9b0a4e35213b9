"""The web app's tabs for whoever keeps the index: Evaluate (scores on the evaluation set) and Corpus (add files)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr
import pandas as pd

from rag.catalogue import catalogue_path, read_catalogue, save_rows
from rag.errors import RlaError
from rag.retrieve import MODES
from rag.web.catalogue import (
    DOUBT_COLUMNS,
    UPLOAD_COLUMNS,
    api_fields,
    check_edits,
    describe_upload,
    doubt_edits,
    doubt_rows,
    upload_edits,
)
from rag.web.html import (
    SHEET_CLOSE,
    TABLE,
    TABLE_WITH_CARDS,
    WIDE_TABLE,
    esc,
    eval_cards_html,
    excerpt_html,
    table_cards_html,
    to_mark,
    uploads_html,
)
from rag.web.inputs import download_box, downloads, shown
from rag.web.library import Library
from rag.web.scratch import Scratch
from rag.web.uploads import Upload, save_uploads

if TYPE_CHECKING:
    from gradio.events import Dependency

EVAL_COLUMNS = ["id", "mode", "missed", "question", "gold", "kind", "abstained"]
INGEST_COLUMNS = ["file", "status", "reviews", "chunks", "reason"]


def evaluate_tab(lib: Library, scratch: Scratch) -> None:
    """Evaluate: score the evaluation set in one or all retrieval modes, with a report to download."""
    from rag.evaluate import METRIC_ORDER

    @shown(lib.public)
    def run_eval(
        mode: str = "hybrid",
        own_set: str | None = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (gradio's idiom: it finds the tracker by this default)
    ) -> tuple[str, pd.DataFrame, pd.DataFrame, pd.DataFrame, Any, str, dict[str, list[str]]]:
        """Score the evaluation set (or an uploaded one: .jsonl or .csv) in one or all retrieval modes."""
        import json

        from rag.evaluate import evaluate, load_questions, report_csv
        from rag.web.questions import load_question_set

        if mode not in (*MODES, "all"):
            raise RlaError(f"unknown mode {mode!r}; choose {', '.join(MODES)} or all")
        modes = list(MODES) if mode == "all" else [mode]
        retriever = lib.current()
        if own_set:
            path = Path(own_set)
            shown_name = re.sub(r"^[0-9a-f]{6,}[-_]", "", path.name)
            try:
                questions = load_question_set(path, shown_name, set(retriever.data.reviews))
            finally:
                scratch.discard(own_set)
            set_name = shown_name
        else:
            if not lib.questions.exists():
                raise RlaError(f"no evaluation set at {lib.questions}; upload one, or start the app with --questions")
            questions = load_questions(lib.questions)
            set_name = lib.questions.name
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
        folder = scratch.downloads("rla-eval-")
        stem = f"rla-eval-{mode}"
        (folder / f"{stem}.json").write_text(
            json.dumps(report.to_dict(), indent=1, ensure_ascii=False), encoding="utf-8"
        )
        (folder / f"{stem}.csv").write_text(report_csv(report), encoding="utf-8")
        summary = f"Scored **{len(questions)} questions** from `{set_name}` in {', '.join(modes)} mode."
        files = [str(folder / f"{stem}.json"), str(folder / f"{stem}.csv")]
        chunks = {c.id: c for c in retriever.data.chunks}
        passages = {f"{q['id']}|{m}": q.get(m, {}).get("passages", []) for q in report.questions for m in modes}
        labels = {cid: chunks[cid].citation_label for ids in passages.values() for cid in ids if cid in chunks}
        cards = eval_cards_html(report.questions, modes, labels)
        table = pd.DataFrame(rows, columns=EVAL_COLUMNS)
        return summary, metrics, chart, table, downloads(files), cards, passages

    @shown(lib.public)
    def open_passage(value: str | None, passages: dict[str, list[str]] | None) -> str:
        """A retrieved passage ("question id|mode|rank") highlighted in its whole review."""
        key, _, rank = (value or "").rsplit(":", 1)[0].rpartition("|")
        ids = (passages or {}).get(key, [])
        if not rank.isdigit() or not 1 <= int(rank) <= len(ids):
            return ""
        data = lib.current().data
        chunk = next((c for c in data.chunks if c.id == ids[int(rank) - 1]), None)
        if chunk is None:
            return "<p class='rla-notice'>The index has changed since this evaluation; run it again.</p>"
        span = {k: getattr(chunk, k) for k in ("source", "review_id", "section", "start", "end", "text")}
        return SHEET_CLOSE + excerpt_html(data, span, rank, f"Passage ranked {rank} for {key.split('|')[0]} ·")

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
        # The format in a line of its own: as the file box's label it covered the box's upload icon and text.
        gr.Markdown(
            "Your own questions (optional): a `.jsonl` file as eval/questions.jsonl, or a `.csv` file with the "
            "columns question, gold review ids, learning points (ids and points separated by ;).",
            elem_id="eval-set-help",
        )
        eval_set = gr.File(
            label="Questions file",
            file_types=[".jsonl", ".csv"],
            height=120,
            elem_id="eval-set",
        )
        with gr.Row():  # side by side on a laptop; stacked on a phone, where the file names would be cut to ".js"
            with gr.Column(min_width=300):
                eval_summary = gr.Markdown(
                    f"Evaluation set: `{lib.public(str(lib.questions))}`", elem_id="eval-summary"
                )
            with gr.Column(min_width=300):
                eval_files = download_box("Report (JSON, CSV)", "eval-files")
        with gr.Row():
            eval_metrics = gr.Dataframe(
                headers=["metric", "hybrid"],
                label="Metrics",
                interactive=False,
                elem_id="eval-metrics",
                elem_classes=TABLE,
                scale=2,
                min_width=320,  # "citation_precision" whole; on a phone the chart goes below
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
        with gr.Row():
            with gr.Column(scale=3, min_width=300):
                eval_questions = gr.Dataframe(
                    headers=EVAL_COLUMNS,
                    label="Per question: gold reviews missed in the top 10",
                    interactive=False,
                    wrap=True,
                    max_height=360,
                    elem_id="eval-questions",
                    elem_classes=sorted({*TABLE_WITH_CARDS, *WIDE_TABLE}),  # seven columns: scrolls in its box
                    column_widths=["5%", "7%", "19%", "28%", "20%", "11%", "10%"],
                )
                gr.Markdown(
                    "**Each question**: the gold reviews and learning points it missed, and its retrieved passages "
                    "(choose one to read it in its review).",
                    elem_id="eval-cards-head",
                )
                eval_cards = gr.HTML(elem_id="eval-cards-box")
            with gr.Column(scale=2, min_width=300):
                eval_open = gr.Textbox(visible="hidden", elem_id="eval-open")
                eval_record = gr.HTML(elem_id="eval-record")
                passages = gr.State({})

    eval_btn.click(
        lambda: ("", None, ""),
        None,
        [eval_cards, eval_files, eval_record],
        queue=False,
        show_progress="hidden",
        api_visibility="private",
    ).then(
        run_eval,
        [eval_mode, eval_set],
        [eval_summary, eval_metrics, eval_chart, eval_questions, eval_files, eval_cards, passages],
        api_name="evaluate",
        concurrency_id="heavy",
        concurrency_limit=1,
    )
    eval_open.change(open_passage, [eval_open, passages], eval_record, api_visibility="private").then(
        None, js=to_mark("eval-record")
    )


@dataclass(frozen=True)
class Ingest:
    """The Corpus tab's ingest event, for the app to follow with a refresh of the other tabs, and its file input."""

    event: Dependency
    files: gr.File


class Keeper:
    """What the Corpus tab does: add files with their catalogue fields, correct records' metadata, re-index."""

    def __init__(self, lib: Library, scratch: Scratch) -> None:
        self.lib, self.scratch, self.settings = lib, scratch, lib.settings

    def _report_rows(self, report: Any) -> list[dict[str, Any]]:
        public = self.lib.public
        return [
            {"file": f.source, "status": f.status, "reviews": f.reviews, "chunks": f.chunks, "reason": public(f.reason)}
            for f in report.files
        ]

    def _verdict(self, report: Any, served: str) -> str:
        t = report.totals
        said = (
            f"Index updated to {report.generation}"
            if report.changed
            else f"Index is up to date ({report.generation}); nothing new to embed"
        )
        if served != report.generation:  # another ingest switched the index since this one finished
            said = f"Index {report.generation} was written, then replaced by {served}, which is served"
        warned = "".join(f"<p>Catalogue: {esc(self.lib.public(w))}</p>" for w in report.warnings)
        return (
            f"<p><strong>{esc(said)}</strong>: {t['files']} files, {t['reviews']} reviews, "
            f"{t['chunks']} excerpts, {t['embedded']} newly embedded, {t['skipped']} skipped.</p>{warned}"
        )

    def _ingest(self, rebuild: bool, progress: Any) -> tuple[Any, str]:
        from rag.ingest import ingest

        def report_progress(stage: str, done: int, total: int) -> None:
            progress((done, max(total, 1)), desc=stage)

        report = ingest(self.settings, rebuild=bool(rebuild), progress=report_progress)
        progress((1, 1), desc="loading the index")
        return report, self.lib.current().data.path.name  # the generation CURRENT names, whoever wrote it

    def add(
        self,
        files: list[str] | None,
        rebuild: bool,
        progress: Any,
        all_refused_is_error: bool,
        fields: pd.DataFrame | None = None,
        parsed: list[dict[str, str]] | None = None,
    ) -> tuple[Any, ...]:
        """Save the uploads (and the catalogue cells changed for them), then bring the index up to date."""
        lib, settings = self.lib, self.settings
        edited = _records(fields)
        given = [(Path(f).name, Path(f)) for f in files or []]
        check_edits(upload_edits(given, edited, parsed or [], settings.corpus))  # a bad cell: the files stay
        read_catalogue(catalogue_path(settings.corpus))  # a broken catalogue.csv: said before anything is saved
        if not lib.ingesting.acquire(blocking=False):
            raise RlaError("an ingest is already running; wait for it to finish")
        try:
            try:
                uploads = save_uploads(list(files or []), settings)
            finally:
                for f in files or []:
                    self.scratch.discard(f)  # saved into the corpus or refused, the server's copy is done with
            if uploads and not any(u.saved for u in uploads):
                if all_refused_is_error:
                    raise RlaError("; ".join(u.reason for u in uploads))
                # In the page, each refusal stays in the per-file table with its reason, not only in a message.
                summary = f"{uploads_html(uploads)}<p><strong>Nothing was added</strong>; the index is unchanged.</p>"
                return summary, pd.DataFrame(_refused_rows(uploads), columns=INGEST_COLUMNS), lib.status()
            saved = [(u.name, u.saved) for u in uploads if u.saved is not None]
            edits = upload_edits(saved, edited, parsed or [], settings.corpus)
            if edits:
                save_rows(catalogue_path(settings.corpus), edits)
            report, served = self._ingest(rebuild, progress)
        finally:
            lib.ingesting.release()
        table = pd.DataFrame(_refused_rows(uploads) + self._report_rows(report), columns=INGEST_COLUMNS)
        return uploads_html(uploads) + self._verdict(report, served), table, lib.status()

    def describe(self, files: list[str] | None) -> tuple[Any, list[dict[str, str]], str]:
        """Each chosen file read and parsed as ingest would, its catalogue fields shown for editing. A file the
        server no longer holds was added (or refused) meanwhile — "Add" clicked before its parse finished — and
        its fields are not shown again."""
        rows = [describe_upload(Path(f), Path(f).name, self.settings) for f in files or [] if Path(f).exists()]
        table = pd.DataFrame(rows, columns=UPLOAD_COLUMNS)
        return gr.update(value=table, visible=bool(rows)), rows, ""

    def fields_problem(self, fields: pd.DataFrame | None, parsed: list[dict[str, str]] | None) -> str:
        """What is wrong with an edited upload cell, said while editing (adding is refused until it is fixed)."""
        given = [(str(r["file"]), Path(str(r["file"]))) for r in parsed or []]
        return _problem(lambda: check_edits(upload_edits(given, _records(fields), parsed or [], self.settings.corpus)))

    def load_doubts(self) -> tuple[pd.DataFrame, list[dict[str, str]], str]:
        """The records `rla reviews --check` lists, as an editable table."""
        retriever, _ = self.lib.view()
        if retriever is None:
            return pd.DataFrame([], columns=DOUBT_COLUMNS), [], "No index yet."
        rows = doubt_rows(retriever.data.reviews.values())
        note = (
            f"{len(rows)} of {len(retriever.data.reviews)} records have missing or doubtful metadata. "
            "Correct a cell and save: the correction goes into "
            f"`{self.lib.public(str(catalogue_path(self.settings.corpus)))}` and only the metadata is re-indexed."
        )
        broken = _problem(lambda: read_catalogue(catalogue_path(self.settings.corpus)))
        if broken:  # edited by hand and saved with a mistake: nothing can be indexed until it is fixed
            note += f"\n\n{self.lib.public(broken)}"
        return pd.DataFrame(rows, columns=DOUBT_COLUMNS), rows, note

    def doubts_problem(self, table: pd.DataFrame | None, shown_rows: list[dict[str, str]] | None) -> str:
        return _problem(lambda: check_edits(doubt_edits(_records(table), shown_rows or [])))

    def save_corrections(
        self, table: pd.DataFrame | None, shown_rows: list[dict[str, str]] | None, progress: Any
    ) -> tuple[Any, ...]:
        """Write the corrected cells into catalogue.csv, then re-index (metadata only: nothing is re-embedded)."""
        edits = doubt_edits(_records(table), shown_rows or [])
        if not edits:
            raise RlaError("no cell was changed; correct a value in the table first")
        check_edits(edits)
        read_catalogue(catalogue_path(self.settings.corpus))
        if not self.lib.ingesting.acquire(blocking=False):
            raise RlaError("an ingest is already running; wait for it to finish")
        try:
            save_rows(catalogue_path(self.settings.corpus), edits)
            report, served = self._ingest(False, progress)
        finally:
            self.lib.ingesting.release()
        saved = f"<p>Saved {len(edits)} correction{'s' if len(edits) != 1 else ''} to the catalogue.</p>"
        doubts_table, rows, note = self.load_doubts()
        out_table = pd.DataFrame(self._report_rows(report), columns=INGEST_COLUMNS)
        return saved + self._verdict(report, served), out_table, doubts_table, rows, note, self.lib.status()


def corpus_tab(lib: Library, scratch: Scratch, status: gr.Markdown) -> Ingest:
    """Corpus: save uploaded review files into the corpus folder with their catalogue fields, correct the metadata
    of records already indexed (corpus/catalogue.csv), and bring the index up to date."""
    settings = lib.settings
    keeper = Keeper(lib, scratch)

    @shown(lib.public)
    def add_files(
        files: list[str] | None,
        rebuild: bool = False,
        catalogue: list[dict[str, str]] | None = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> tuple[str, pd.DataFrame, str]:
        """Save uploaded review files into the corpus folder and bring the index up to date. `catalogue`: the
        files' catalogue fields, one object per file ({"file": the uploaded file's name, and any of "title",
        "area", "partnership", "year", "type", "kind", "url"}), written to corpus/catalogue.csv as the Corpus
        tab's table would."""
        fields = api_fields(catalogue, [Path(f).name for f in files or []])
        table = pd.DataFrame(fields, columns=UPLOAD_COLUMNS) if fields else None
        return keeper.add(files, rebuild, progress, True, table)

    @shown(lib.public)
    def add_files_in_page(
        files: list[str] | None,
        rebuild: bool = False,
        fields: pd.DataFrame | None = None,
        parsed: list[dict[str, str]] | None = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> tuple[Any, ...]:
        """As /add_files, then the files' catalogue fields table put away: they are in the corpus or refused, and a
        refused file's reason is in the per-file table (on an error nothing is returned: the cells stay to fix)."""
        return (*keeper.add(files, rebuild, progress, False, fields, parsed), *keeper.describe([]))

    @shown(lib.public)
    def save_corrections(
        table: pd.DataFrame | None,
        shown_rows: list[dict[str, str]] | None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> tuple[Any, ...]:
        return keeper.save_corrections(table, shown_rows, progress)

    with gr.Tab("Corpus", id="corpus") as tab:
        allowed = ", ".join(sorted(settings.allowed_suffixes))
        gr.Markdown(
            f"Add review files ({allowed}, up to {settings.max_file_mb} MB each) to the corpus folder "
            f"`{lib.public(str(settings.corpus))}`. "
            "Each is saved under a safe name and never replaces an existing file; then the index is brought up "
            "to date (only new or changed files are read and embedded)."
        )
        with gr.Row():
            with gr.Column(scale=2, min_width=300):
                uploads = gr.File(
                    label="Review files",
                    file_count="multiple",
                    file_types=list(settings.allowed_suffixes),
                    height=200,
                    elem_id="corpus-files",
                )
                rebuild = gr.Checkbox(label="Rebuild the whole index from scratch", value=False)
                ingest_btn = gr.Button("Add files and update index", variant="primary", elem_id="ingest-btn")
            with gr.Column(scale=3, min_width=300):
                ingest_summary = gr.HTML(elem_id="ingest-summary")
                ingest_table = gr.Dataframe(
                    headers=INGEST_COLUMNS,
                    label="Per file",
                    interactive=False,
                    wrap=True,
                    max_height=380,
                    elem_id="ingest-table",
                    elem_classes=TABLE_WITH_CARDS,
                    column_widths=["38%", "13%", "11%", "10%", "28%"],
                )
                ingest_cards = gr.HTML(elem_id="ingest-cards-box")
        fields = gr.Dataframe(
            headers=UPLOAD_COLUMNS,
            label="Catalogue fields of the files to add, as parsing found them: correct any cell before adding",
            interactive=True,
            wrap=True,
            visible=False,
            static_columns=[0, len(UPLOAD_COLUMNS) - 1],
            column_widths=["13%", "16%", "9%", "14%", "6%", "11%", "8%", "8%", "15%"],  # the note is a sentence,
            elem_id="upload-fields",
            elem_classes=WIDE_TABLE,
        )
        fields_note = gr.Markdown(elem_id="upload-fields-problem")
        parsed = gr.State([])
        gr.Markdown("### Records to check")
        doubts_note = gr.Markdown(elem_id="doubts-note")
        doubts_table = gr.Dataframe(
            headers=DOUBT_COLUMNS,
            label="Missing or doubtful metadata (rla reviews --check): correct the cells, then save",
            interactive=True,
            wrap=True,
            max_height=420,
            static_columns=[0, 1, 2],
            show_search="search",
            column_widths=["10%", "12%", "10%", "10%", "12%", "10.5%", "6%", "10%", "7%", "7%", "5.5%"],
            elem_id="doubts-table",
            elem_classes=WIDE_TABLE,
        )
        doubts_problem_note = gr.Markdown(elem_id="doubts-problem")
        doubts_shown = gr.State([])
        save_btn = gr.Button("Save corrections and update index", elem_id="save-corrections-btn")
        api_only = gr.Button(visible=False)  # inside the tab: gr.Tabs may only hold tabs
        api_catalogue = gr.JSON(visible=False)  # /add_files' catalogue fields (the page has its table)

    heavy: dict[str, Any] = {"concurrency_id": "heavy", "concurrency_limit": 1}
    private: dict[str, Any] = {"api_visibility": "private"}
    outputs = [ingest_summary, ingest_table, status]
    # The API's /add_files refuses with an error when every file is refused; the page keeps the reasons in the table.
    api_only.click(add_files, [uploads, rebuild, api_catalogue], outputs, api_name="add_files", **heavy)
    described = [fields, parsed, fields_note]
    describing = uploads.change(
        shown(lib.public)(keeper.describe), [uploads], described, show_progress_on=[fields], **private
    )
    fields.change(keeper.fields_problem, [fields, parsed], [fields_note], queue=False, **private)
    ingested = ingest_btn.click(
        lambda: ("", None),
        None,
        [ingest_summary, ingest_table],
        queue=False,
        cancels=[describing],  # a parse still waiting would show the fields of files added meanwhile
        api_visibility="private",
    ).then(
        add_files_in_page,
        [uploads, rebuild, fields, parsed],
        outputs + described,
        show_progress_on=outputs,  # not over the catalogue fields: a cell refused stays there to correct
        **private,
        **heavy,
    )
    # On a phone the per-file outcomes read as cards, one per file, made from whatever the table shows.
    ingest_table.change(
        lambda t: table_cards_html(_records(t), INGEST_COLUMNS, "ingest-cards"),
        [ingest_table],
        [ingest_cards],
        queue=False,
        **private,
    )
    doubt_outputs = [doubts_table, doubts_shown, doubts_note]
    ingested.then(keeper.load_doubts, None, doubt_outputs, **private)
    tab.select(keeper.load_doubts, None, doubt_outputs, **private)
    doubts_table.change(
        keeper.doubts_problem, [doubts_table, doubts_shown], [doubts_problem_note], queue=False, **private
    )
    save_btn.click(
        save_corrections,
        [doubts_table, doubts_shown],
        [ingest_summary, ingest_table, *doubt_outputs, status],
        **private,
        **heavy,
    )
    return Ingest(ingested, uploads)


def _problem(check: Any) -> str:
    """The one-line reason `check()` refuses, as a warning to show beside the table; "" when it passes."""
    try:
        check()
    except RlaError as e:
        return f"⚠ {esc(str(e))}"
    return ""


def _records(table: pd.DataFrame | None) -> list[dict[str, Any]]:
    """A table's rows as dicts (an empty or missing table: none)."""
    if table is None or not isinstance(table, pd.DataFrame) or table.empty:
        return []
    return [{str(k): v for k, v in row.items()} for row in table.to_dict("records")]


def _round(v: float | None) -> float | None:
    return None if v is None or math.isnan(v) else round(float(v), 3)


def _refused_rows(uploads: list[Upload]) -> list[dict[str, Any]]:
    return [
        {"file": u.name, "status": "refused", "reviews": 0, "chunks": 0, "reason": u.reason}
        for u in uploads
        if u.saved is None
    ]
