"""The web app's tabs for whoever keeps the index: Evaluate (scores on the evaluation set) and Corpus (add files)."""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr
import pandas as pd

from rag.errors import RlaError
from rag.retrieve import MODES
from rag.uploads import save_uploads
from rag.webapp_html import esc, uploads_html
from rag.webapp_inputs import shown

if TYPE_CHECKING:
    from gradio.events import Dependency

    from rag.webapp import Library

EVAL_COLUMNS = ["id", "kind", "mode", "question", "gold", "missed", "abstained"]
INGEST_COLUMNS = ["file", "status", "reviews", "chunks", "reason"]


def evaluate_tab(lib: Library) -> None:
    """Evaluate: score the evaluation set in one or all retrieval modes, with a report to download."""
    from rag.evaluate import METRIC_ORDER

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

    eval_btn.click(
        run_eval,
        [eval_mode],
        [eval_summary, eval_metrics, eval_chart, eval_questions, eval_files],
        api_name="evaluate",
        concurrency_id="heavy",
        concurrency_limit=1,
    )


@dataclass(frozen=True)
class Ingest:
    """The Corpus tab's ingest event, for the app to follow with a refresh of the other tabs, and its file input."""

    event: Dependency
    files: gr.File


def corpus_tab(lib: Library, status: gr.Markdown) -> Ingest:
    """Corpus: save uploaded review files into the corpus folder and bring the index up to date."""
    settings = lib.settings

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
                known = {v.sha256: k for k, v in lib.current().data.manifest.sources.items()}
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
                gr.Warning(esc(u.reason))
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
            f"{uploads_html(uploads)}<p><strong>{esc(verdict)}</strong>: {t['files']} files, {t['reviews']} reviews, "
            f"{t['chunks']} excerpts, {t['embedded']} newly embedded, {t['skipped']} skipped.</p>"
        )
        return summary, table, lib.status()

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

    ingested = ingest_btn.click(
        add_files,
        [uploads, rebuild],
        [ingest_summary, ingest_table, status],
        api_name="add_files",
        concurrency_id="heavy",
        concurrency_limit=1,
    )
    return Ingest(ingested, uploads)


def _round(v: float | None) -> float | None:
    return None if v is None or math.isnan(v) else round(float(v), 3)
