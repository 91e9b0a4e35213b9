"""The web app: six tabs over one Library, served behind the host and origin guard, its files in a private folder."""

from __future__ import annotations

import sys
from typing import Any

import gradio as gr

from rag.settings import Settings
from rag.web import api
from rag.web.admin import corpus_tab, evaluate_tab
from rag.web.html import CSS, HEAD
from rag.web.inputs import FilterInputs, filter_choices
from rag.web.library import LOADING, Library
from rag.web.scratch import Scratch
from rag.web.security import HostGuard
from rag.web.tabs import ask_tab, briefing_tab, ledger_params, ledger_tab, reviews_tab, url_filters

FOLLOW_S = 10.0
# Answers run side by side: the retriever is read-only once loaded and its caches are thread-safe. Heavy work
# (ingest, evaluation) keeps its own limit of one.
CONCURRENCY = 8  # how often an open page asks whether the served index has changed


def build_app(lib: Library, scratch: Scratch, follow_s: float = FOLLOW_S) -> gr.Blocks:
    """All six tabs, one builder each; the events that cross tabs (load, an ingest, a new index generation)."""
    filter_sets: list[FilterInputs] = []

    def refresh(wait: bool = True) -> list[Any]:
        """The generation served, the status line and the filter choices, from one look at the library (with
        `wait=False`, while the index is still loading, the status line says so and the choices wait)."""
        retriever, status = lib.view(wait=wait)
        ch = filter_choices(retriever.data if retriever else None)
        updates: list[Any] = [retriever.data.path.name if retriever else None, status]
        for fs in filter_sets:
            updates += [gr.update(choices=ch[key]) for key in fs.from_index]
        return updates

    with gr.Blocks(title="rla — learning from case reviews", analytics_enabled=False) as demo:
        served = gr.State(None)  # the generation this page shows
        with gr.Row(equal_height=True):
            gr.Markdown("## rla · what did case reviews say about…?", scale=3)
            status = gr.Markdown(LOADING, elem_classes=["rla-banner"], elem_id="status", scale=4)

        api.register(lib)  # first, so that the typed endpoints own the names /ask, /ledger and /brief
        # An answer's coverage line puts its ledger link here (HEAD's click handler): the Ledger tab opens on it.
        ledger_go = gr.Textbox(visible="hidden", elem_id="ledger-go")
        with gr.Tabs() as tabs:
            ask = ask_tab(lib, scratch)
            reviews = reviews_tab(lib)
            led = ledger_tab(lib, scratch)
            brief_f = briefing_tab(lib, scratch)
            evaluate_tab(lib, scratch)
            ingest = corpus_tab(lib, scratch, status)

        filter_sets += [ask.filters, reviews.filters, led.filters, brief_f]
        choice_outputs = [served, status] + [d for fs in filter_sets for d in fs.from_index.values()]

        def follow(shown: str | None, *listing: Any) -> list[Any]:
            """When the index served is not the one this page shows (an ingest from anywhere), show the new one."""
            retriever, _ = lib.view()
            if (retriever.data.path.name if retriever else None) == shown:
                return [gr.skip()] * (len(choice_outputs) + len(reviews.outputs))
            if retriever is None:  # the index is gone: say so, and keep the last listing rather than an error
                return refresh() + [gr.skip()] * len(reviews.outputs)
            return refresh() + list(reviews.fn(*listing))

        def to_ledger(params: dict[str, str]) -> list[Any]:
            """The Ledger tab, its topic and filters as a link names them (?tab=ledger&topic=…&area=…), and whether
            to run it; nothing when the link names no ledger."""
            if params.get("tab") != "ledger" or not params.get("topic"):
                return [gr.skip()] * (1 + len(led.inputs)) + [False]
            return [gr.Tabs(selected="ledger"), params["topic"], *url_filters(params), True]

        def ledger_from_url(request: gr.Request) -> list[Any]:
            return to_ledger(dict(request.query_params) if request is not None else {})

        def run_ledger(pending: bool, *values: Any) -> tuple[Any, ...]:
            return led.show(*values) if pending else tuple(gr.skip() for _ in led.outputs)

        private: dict[str, Any] = {"api_visibility": "private"}
        ingest.event.success(refresh, None, choice_outputs, **private).success(
            reviews.fn, reviews.inputs, reviews.outputs, **private
        ).success(lambda: None, None, ingest.files, **private)
        demo.load(lambda: refresh(wait=False), None, choice_outputs, show_progress="hidden", **private).then(
            refresh, None, choice_outputs, show_progress="hidden", **private
        ).then(reviews.fn, reviews.inputs, reviews.outputs, **private)
        # A shared link (?q=…&area=…): fill the question and filters from the address, then ask it.
        demo.load(ask.from_url, None, ask.url_outputs, **private).success(
            _ask_if_question(ask.ask), ask.ask_inputs, ask.answer_data, concurrency_id="ask", **private
        ).success(**ask.show)
        # A ledger link (?tab=ledger&topic=…), from the address or from an answer's coverage line: open it and run it.
        pending = gr.State(False)
        fill = [tabs, *led.inputs, pending]
        for event in (
            demo.load(ledger_from_url, None, fill, **private),
            ledger_go.change(lambda v: to_ledger(ledger_params(v)), ledger_go, fill, **private),
        ):
            event.then(run_ledger, [pending, *led.inputs], led.outputs, **private)
        gr.Timer(follow_s).tick(
            follow,
            [served, *reviews.inputs],
            choice_outputs + reviews.outputs,
            show_progress="hidden",
            concurrency_id="follow",
            concurrency_limit=None,
            **private,
        )
    return demo


def _ask_if_question(ask: Any) -> Any:
    def run(question: str, *rest: Any) -> Any:
        return ask(question, *rest) if (question or "").strip() else gr.skip()

    return run


def mount_options(settings: Settings, host: str, port: int, auth: tuple[str, str] | None) -> dict[str, Any]:
    """Keyword arguments for gr.mount_gradio_app: no telemetry, no run history, uploads capped, no MCP."""
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
        "show_error": False,
        "css": CSS,
        "head": HEAD,
    }


def serve(
    lib: Library,
    scratch: Scratch,
    host: str,
    port: int,
    auth: tuple[str, str] | None,
    hosts: frozenset[str],
) -> None:
    """Serve the app until SIGINT or SIGTERM. Gradio is mounted on a FastAPI app of our own so that the guard
    sees every request first, and the server is ours to stop cleanly."""
    import uvicorn
    from fastapi import FastAPI
    from starlette.middleware.cors import CORSMiddleware

    from rag.web.sessions import install

    install()  # before the first session: sessions build their blocks' configs on use, not all up front
    demo = build_app(lib, scratch)
    demo.queue(default_concurrency_limit=CONCURRENCY)
    root = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    # With a CORSMiddleware on the parent, Gradio adds none of its own (it echoes any origin to a non-local
    # Host); this one allows no other origin to read responses.
    root.add_middleware(CORSMiddleware, allow_origins=[])
    root.add_middleware(HostGuard, hosts=hosts, port=port)  # added last: runs first
    app = gr.mount_gradio_app(root, demo, path="/", **mount_options(lib.settings, host, port, auth))
    shown_host = f"[{host}]" if ":" in host else host
    print(
        f"app.py: serving on http://{shown_host}:{port}/ to host names {', '.join(sorted(hosts))}",
        file=sys.stderr,
        flush=True,
    )
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5, server_header=False
    )
    server = uvicorn.Server(config)
    # The page is served at once; the index and the query model load once the server is up, and a request
    # that needs them waits for that load (the status line says so meanwhile).
    print(f"app.py: loading the index at {lib.public(str(lib.settings.index))} in the background", file=sys.stderr)
    lib.load_in_background(after=lambda: bool(server.started))
    try:
        server.run()
    finally:
        lib.close()
