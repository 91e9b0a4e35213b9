"""The web app: six tabs over the library, one builder each, with thin handlers that validate input and show errors."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import gradio as gr

from rag.errors import IndexMissing, RlaError
from rag.retrieve import Retriever
from rag.settings import Settings
from rag.store import IndexData
from rag.webapp_admin import corpus_tab, evaluate_tab
from rag.webapp_html import CSS
from rag.webapp_inputs import FilterInputs, filter_choices, parse_filters, shown
from rag.webapp_tabs import ask_tab, briefing_tab, ledger_tab, reviews_tab

__all__ = ["Library", "build_app", "filter_choices", "launch_options", "parse_filters", "shown"]


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
        c = m.counts
        return (
            f"Index: **{c.reviews} reviews** ({c.chunks} excerpts) from {c.sources} files · "
            f"{m.generation}, built {m.created.replace('T', ' ').rstrip('Z')} UTC"
        )


def build_app(lib: Library) -> gr.Blocks:
    """All six tabs, one builder each; the events that cross tabs (load, and refresh after an ingest) are wired here."""
    filter_sets: list[FilterInputs] = []

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

    with gr.Blocks(title="rla — learning from case reviews", analytics_enabled=False) as demo:
        with gr.Row(equal_height=True):
            gr.Markdown("## rla · what did case reviews say about…?", scale=3)
            status = gr.Markdown(lib.status(), elem_classes=["rla-banner"], elem_id="status", scale=4)

        with gr.Tabs():
            ask_f = ask_tab(lib)
            reviews = reviews_tab(lib)
            led_f = ledger_tab(lib)
            brief_f = briefing_tab(lib)
            evaluate_tab(lib)
            ingest = corpus_tab(lib, status)

        filter_sets += [ask_f, reviews.filters, led_f, brief_f]
        choice_outputs = [status] + [d for fs in filter_sets for d in fs.from_index.values()]
        ingest.event.success(refresh, None, choice_outputs, api_visibility="private").success(
            reviews.fn, reviews.inputs, reviews.outputs, api_visibility="private"
        ).success(lambda: None, None, ingest.files, api_visibility="private")

        demo.load(refresh, None, choice_outputs, api_visibility="private").then(
            reviews.fn, reviews.inputs, reviews.outputs, api_visibility="private"
        )
    return demo


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
