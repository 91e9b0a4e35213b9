"""Answers computed in worker processes, each holding the served generation's Retriever: one interpreter lock each."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from pathlib import Path
from typing import Any

from rag.errors import RlaError
from rag.retrieve import Filters, Retriever
from rag.settings import Settings

log = logging.getLogger("rla.web")

STOPPED = (
    "the process answering this question stopped unexpectedly; a new one has been started, so ask again "
    "(if it happens again, the server log says why)"
)
TIMED_OUT = (
    "no answer within {s:.0f} s: the process answering it was stopped and a new one started; ask again, "
    "or raise answer_timeout_s if the server is that busy"
)
WARM_QUESTION = "What did reviews say about fathers?"  # loads the encoder, BM25, the theme vectors and the ledger


class AnswerPool:
    """`workers` processes (spawned: none inherits the server's threads) answering questions for the generation
    the server names with each one. Until the first worker is ready, and whenever the pool is being replaced,
    `ready` is False and `answer` returns None: the caller answers in its own process, never waiting for workers.

    A worker that dies fails the questions then in the pool (one clear line each, never a hang: Python's process
    pool retires all its workers when one dies); a new pool starts at once, and the server answers meanwhile.
    """

    def __init__(self, settings: Settings, workers: int) -> None:
        if workers < 1:
            raise ValueError("an answer pool needs at least one worker")
        self.settings = settings
        # One encoder thread each: the workers, one per core, share the cores with the server (Settings.query_threads).
        self.worker_settings = replace(settings, query_threads=1)
        self.workers = workers
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._ready = threading.Event()
        self._closed = False

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def start(self, generation: str | None = None, wait: bool = False) -> None:
        """Start the workers (each opens `generation`, or the live one, and answers a first question); the pool is
        `ready` when one of them has. In a thread of its own unless `wait`."""
        if wait:
            self._start(generation)
        else:
            threading.Thread(target=self._start, args=(generation,), name="rla-pool", daemon=True).start()

    def _start(self, generation: str | None) -> None:
        with self._lock:
            if self._closed:
                return
            executor = self._executor = self._new_executor()
        # As many first tasks as workers, sent at once, so that every worker is started now (the executor starts
        # one per task while none is idle), not when the first users arrive; again until each has answered one
        # (a quick worker may take two), so none meets its first user cold.
        try:
            warm: set[int] = set()
            for _ in range(8):
                for future in [executor.submit(_warm, generation) for _ in range(self.workers)]:
                    warm.add(future.result(timeout=self.settings.answer_timeout_s * 4))
                    with self._lock:
                        if self._executor is executor:
                            self._ready.set()
                if len(warm) >= self.workers:
                    break
            log.info("%d answer workers ready", len(warm))
        except Exception as e:  # whatever stopped them, the server answers in its own process meanwhile
            log.error("the answer workers did not start (%s); answering in the server's own process", e)
            self._replace(executor, restart=False)

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init,
            initargs=(self.worker_settings, os.getpid()),
        )

    def answer(
        self, generation: str, question: str, filters: Filters | None, mode: str | None
    ) -> dict[str, Any] | None:
        """`rag.answer.answer(...).to_dict()` for that generation, computed by a worker; None when no worker could
        take it (not started yet, or being replaced: the caller answers it itself). Raises RlaError as the answer
        would, and one clear RlaError when its worker died or took longer than `answer_timeout_s`."""
        with self._lock:
            executor = self._executor if self.ready else None
        if executor is None:
            return None
        try:
            future: Future[dict[str, Any]] = executor.submit(_answer, generation, question, filters, mode)
        except (BrokenProcessPool, RuntimeError):  # broken (or shut down) before this question reached it
            self._replace(executor)
            return None
        try:
            return future.result(timeout=self.settings.answer_timeout_s)
        except BrokenProcessPool:
            log.error("an answer worker died; starting new ones")
            self._replace(executor)
            raise RlaError(STOPPED) from None
        except FutureTimeout:
            log.error("no answer in %.0f s; stopping the workers, starting new ones", self.settings.answer_timeout_s)
            self._replace(executor, kill=True)
            raise RlaError(TIMED_OUT.format(s=self.settings.answer_timeout_s)) from None

    def _replace(self, broken: ProcessPoolExecutor, kill: bool = False, restart: bool = True) -> None:
        """Retire `broken` (once, whichever request noticed first) and start a new pool in the background;
        meanwhile the caller answers in its own process."""
        with self._lock:
            if self._executor is not broken:
                return
            self._executor = None
            self._ready.clear()
        if kill:
            for proc in list(getattr(broken, "_processes", {}).values()):
                with contextlib.suppress(Exception):
                    proc.kill()
        broken.shutdown(wait=False, cancel_futures=True)
        if restart:
            self.start()

    def pids(self) -> list[int]:
        """The worker processes now running (for tests and the log)."""
        with self._lock:
            executor = self._executor
        procs = getattr(executor, "_processes", None) or {}
        return sorted(p.pid for p in list(procs.values()) if p.pid is not None and p.is_alive())

    def close(self) -> None:
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
            self._ready.clear()
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


# ---- in the worker process ----------------------------------------------------------------------------------------

_STATE: dict[str, Any] = {}


def _init(settings: Settings, parent: int) -> None:
    """Each worker: its settings, and a thread that ends it when the server is gone (killed without a goodbye)."""
    _STATE["settings"] = settings

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="rla-parent-watch", daemon=True).start()


def _retriever(generation: str | None) -> Retriever:
    """This worker's Retriever for `generation` (the live one when None): the one it holds, or a fresh one."""
    from rag.store import current_generation, open_generation

    settings: Settings = _STATE["settings"]
    held: Retriever | None = _STATE.get("retriever")
    if generation is None:
        live = current_generation(settings.index)
        generation = live.name if live is not None else None
    if held is not None and held.data.path.name == generation:
        return held
    _STATE.pop("retriever", None)  # the old generation goes before the new one loads
    if generation is None:
        fresh = Retriever(settings)  # raises IndexMissing with its fix
    else:
        fresh = Retriever(settings, open_generation(Path(settings.index) / generation, settings.model))
    _STATE["retriever"] = fresh
    return fresh


def _warm(generation: str | None) -> int:
    from rag.answer import answer
    from rag.ledger import warm_ledgers

    with contextlib.suppress(RlaError):  # no index yet: the first real question says so
        retriever = _retriever(generation)
        answer(retriever, WARM_QUESTION)
        warm_ledgers(retriever)  # what questions about a theme share: worked out before the first user asks
    return os.getpid()


def _answer(generation: str, question: str, filters: Filters | None, mode: str | None) -> dict[str, Any]:
    from rag.answer import answer

    return answer(_retriever(generation), question, filters=filters, mode=mode).to_dict()
