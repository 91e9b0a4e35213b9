"""The one index the web app serves: loaded once, and again whenever index/CURRENT names another generation."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rag.errors import IndexMissing, RlaError
from rag.retrieve import Filters, Retriever
from rag.settings import Settings
from rag.store import current_generation
from rag.web.pool import AnswerPool
from rag.web.security import PublicPaths

log = logging.getLogger("rla.web")
LOADING = "**Loading the index and the model…** The page works now; a first question waits a few seconds for them."


class Library:
    """The one Retriever all sessions share.

    Every request asks `current()`, which reads index/CURRENT (one small file) and, when an ingest — from this
    app or from the command line — has switched it to another generation, opens that one before answering.
    A request holds the Retriever it was given, so a reload never changes an answer half-way; no request is
    answered from a generation older than the one CURRENT named when it arrived.
    """

    def __init__(self, settings: Settings, questions: Path) -> None:
        self.settings = settings
        self.questions = questions
        self.public = PublicPaths.of(
            {settings.corpus: settings.corpus.resolve().name, settings.index: settings.index.resolve().name},
            {questions: questions.name},
        )
        self._retriever: Retriever | None = None
        self._problem: str | None = None
        self._seen: str | None = None  # the generation CURRENT named at the last (attempted) load
        self._swap = threading.Lock()  # guards the three fields above
        self._loading = threading.Lock()  # one load at a time
        # Cleared while a load started by load_in_background runs; until then requests wait for it.
        self._first = threading.Event()
        self._first.set()
        self.ingesting = threading.Lock()
        # Answers in worker processes once `start_pool` has started them (load_in_background does); until then,
        # and without workers (settings.answer_workers 0), in this process.
        self.pool: AnswerPool | None = None

    def _live(self) -> str | None:
        gen = current_generation(self.settings.index)
        return gen.name if gen is not None else None

    def load(self) -> Retriever:
        """Open the live generation and warm it (model, BM25) before anyone waits on it; raises what went wrong."""
        with self._loading:
            try:
                return self._load()
            finally:
                self._first.set()

    def _load(self) -> Retriever:
        live = self._live()
        try:
            fresh = Retriever(self.settings)
            fresh.search("warm up", k=1)
        except IndexMissing:
            problem = (
                f"No index at {self.public(str(self.settings.index))} yet. Open the **Corpus** tab and press "
                "**Add files and update index** to build one from the corpus folder."
            )
            self._set(None, problem, live)
            raise
        except RlaError as e:
            log.error("cannot open the index at %s: %s", self.settings.index, e)
            self._set(None, self.public(str(e)), live)
            raise
        self._set(fresh, None, fresh.data.path.name)
        log.info("serving %s from %s", fresh.data.path.name, self.settings.index)
        return fresh

    def _set(self, retriever: Retriever | None, problem: str | None, seen: str | None) -> None:
        with self._swap:
            self._retriever, self._problem, self._seen = retriever, problem, seen

    def try_load(self) -> None:
        """Load, keeping any problem for the status line rather than raising it."""
        with contextlib.suppress(RlaError):
            self.load()

    def load_in_background(self, after: Callable[[], bool] | None = None) -> threading.Thread:
        """Load in a thread, once `after()` is true (the server has started), so that the page is served without
        waiting for the index and the model; requests that need them wait for this load, not for another."""

        def run() -> None:
            deadline = time.monotonic() + 60
            while after is not None and not after() and time.monotonic() < deadline:
                time.sleep(0.02)
            try:
                self.try_load()
            except Exception:  # a bug: logged; load() has marked the first load done, and the next request retries
                log.exception("loading the index failed")
            finally:
                self._first.set()
            self.start_pool()  # after this load, so that it does not compete with it

        self._first.clear()  # here, not in the thread: a request arriving before the thread runs waits for it
        thread = threading.Thread(target=run, name="rla-load", daemon=True)
        thread.start()
        return thread

    def start_pool(self, wait: bool = False) -> None:
        """Start `settings.answer_workers` answer processes on the generation being served (none when 0); questions
        go to them once the first is ready."""
        if self.settings.answer_workers < 1 or self.pool is not None:
            return
        with self._swap:
            retriever = self._retriever
        self.pool = AnswerPool(self.settings, self.settings.answer_workers)
        self.pool.start(retriever.data.path.name if retriever is not None else None, wait=wait)

    def answer(self, question: str, filters: Filters | None = None, mode: str | None = None) -> dict[str, Any]:
        """`rag.answer.answer(...).to_dict()` from the generation served now: by a worker process when they are
        running, else here. Raises RlaError with the message to show."""
        from rag.answer import answer

        retriever = self.current()
        if self.pool is not None:
            got = self.pool.answer(retriever.data.path.name, question, filters, mode)
            if got is not None:
                return got
        return answer(retriever, question, filters=filters, mode=mode).to_dict()

    def close(self) -> None:
        """Stop the answer workers (the server is stopping)."""
        if self.pool is not None:
            self.pool.close()

    @property
    def loading(self) -> bool:
        """True until the first load has ended: the page says "loading", a question waits for it."""
        return not self._first.is_set()

    def _snapshot(self) -> tuple[Retriever | None, str | None]:
        """What to serve now: reload first if CURRENT has moved since the last load."""
        self._first.wait()  # the first load, when it runs in the background
        live = self._live()
        with self._swap:
            retriever, problem, seen = self._retriever, self._problem, self._seen
        if live == seen:
            return retriever, problem
        with self._loading:
            with self._swap:
                done = self._seen == live  # another request loaded it while this one waited
            if not done:
                log.info("index/CURRENT moved from %s to %s; loading it", seen, live)
                with contextlib.suppress(RlaError):  # the problem is kept for the status line and errors
                    self._load()
        with self._swap:
            return self._retriever, self._problem

    @property
    def loaded(self) -> bool:
        return self._snapshot()[0] is not None

    def current(self) -> Retriever:
        retriever, problem = self._snapshot()
        if retriever is None:
            raise RlaError((problem or "no index loaded").replace("**", ""))
        return retriever

    def view(self, wait: bool = True) -> tuple[Retriever | None, str]:
        """The Retriever being served (None without an index) and the status line about it, from one look;
        with `wait=False`, while the first load runs, None and a line saying so."""
        if not wait and self.loading:
            return None, LOADING
        retriever, problem = self._snapshot()
        if retriever is None:
            return None, f"**No index loaded.** {problem}"
        m = retriever.data.manifest
        c = m.counts
        return retriever, (
            f"Index: **{c.reviews} reviews** ({c.chunks} excerpts) from {c.sources} files · "
            f"{m.generation}, built {m.created.replace('T', ' ').rstrip('Z')} UTC"
        )

    def status(self) -> str:
        """One line on what is being served, as Markdown."""
        return self.view()[1]
