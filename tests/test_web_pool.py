"""The web app's answer workers (rag/web/pool.py) on the real index: the same answers as in process; a worker
that dies or hangs costs one clear line, is replaced, and the next answer arrives."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from rag.answer import answer
from rag.errors import RlaError
from rag.retrieve import Filters, Retriever
from rag.settings import Settings
from rag.web.library import Library
from rag.web.pool import STOPPED, AnswerPool

QUESTIONS = [
    ("What did reviews say about fathers?", None, None),
    ("What did reviews learn about neglect?", Filters.parse({"year_from": "2015"}), None),
    ("disguised compliance", None, "bm25"),
    ("What is the capital of France?", None, "hybrid"),  # abstains
]


@pytest.fixture(scope="module")
def pool(built_index: Settings) -> Iterator[AnswerPool]:
    p = AnswerPool(built_index, 2)
    p.start(wait=True)
    yield p
    p.close()


def _wait(check: object, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_answers_from_the_workers_equal_answers_in_process(pool: AnswerPool, retriever: Retriever) -> None:
    assert pool.ready and len(pool.pids()) == 2 and os.getpid() not in pool.pids()
    gen = retriever.data.path.name
    for question, filters, mode in QUESTIONS:
        got = pool.answer(gen, question, filters, mode)
        assert got == answer(retriever, question, filters=filters, mode=mode).to_dict(), question
    assert got is not None and got["abstained"]


def test_a_bad_question_raises_the_libraries_own_error_through_the_worker(
    pool: AnswerPool, retriever: Retriever
) -> None:
    with pytest.raises(RlaError, match="mode"):
        pool.answer(retriever.data.path.name, "fathers", None, "no-such-mode")
    assert pool.ready  # a refused question is not a dead worker


def test_workers_encode_with_one_thread_each(pool: AnswerPool) -> None:
    """A worker per core, each encoder one thread a call: the workers share the cores with the server rather than
    crowding them (Settings.query_threads); the server's own settings keep onnxruntime's choice."""
    assert pool.worker_settings.query_threads == 1 and pool.settings.query_threads == 0
    assert replace(pool.worker_settings, query_threads=0) == pool.settings
    assert pool.ready  # started with them, and answering


def test_a_killed_worker_is_replaced_and_the_next_answer_arrives(built_index: Settings, tmp_path: Path) -> None:
    lib = Library(replace(built_index, answer_workers=2), tmp_path / "questions.jsonl")
    lib.load()
    lib.start_pool(wait=True)
    assert lib.pool is not None and lib.pool.ready
    before = lib.pool.pids()
    expected = answer(lib.current(), QUESTIONS[0][0]).to_dict()
    os.kill(before[0], signal.SIGKILL)
    # Each question after that is answered — by the other worker, by the server while new workers start, or by
    # them — or, when it was in the pool as it broke, gets one clear line; never a hang. The pool is replaced.
    stopped, deadline = 0, time.monotonic() + 120
    while True:
        try:
            assert lib.answer(QUESTIONS[0][0]) == expected
        except RlaError as e:
            assert str(e) == STOPPED
            stopped += 1
        pool = lib.pool
        if pool.ready and len(pool.pids()) == 2 and not set(pool.pids()) & set(before):
            break
        assert time.monotonic() < deadline, "the pool was not replaced"
        time.sleep(0.2)
    assert stopped <= 1
    assert pool.answer(lib.current().data.path.name, QUESTIONS[0][0], None, None) == expected
    lib.close()
    _wait(lambda: not any(_alive(pid) for pid in before), 30)


def test_a_hung_worker_times_out_with_one_line_and_is_replaced(built_index: Settings) -> None:
    p = AnswerPool(replace(built_index, answer_timeout_s=3.0), 1)
    p.start(wait=True)
    try:
        (hung,) = p.pids()
        gen = Retriever(built_index).data.path.name
        os.kill(hung, signal.SIGSTOP)
        t = time.monotonic()
        with pytest.raises(RlaError, match=r"no answer within 3 s.*ask again"):
            p.answer(gen, QUESTIONS[0][0], None, None)
        assert time.monotonic() - t < 10
        _wait(lambda: p.ready and p.pids() and hung not in p.pids())
        assert p.answer(gen, QUESTIONS[0][0], None, None) is not None
        _wait(lambda: not _alive(hung), 30)
    finally:
        p.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (ended, not yet reaped) is not running
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_the_default_is_a_worker_per_core_at_most_four_none_on_one_core(monkeypatch: pytest.MonkeyPatch) -> None:
    from rag.settings import default_answer_workers

    for cores, workers in ((1, 0), (2, 2), (3, 3), (16, 4)):
        monkeypatch.setattr(os, "sched_getaffinity", lambda _pid, n=cores: set(range(n)))
        assert default_answer_workers() == workers


def test_app_py_refuses_a_bad_worker_count_in_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "RLA_ANSWER_WORKERS": "two", "RLA_CACHE": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, str(root / "app.py"), "--index", str(tmp_path / "index"), "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode != 0 and "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines() == [
        "app.py: RLA_ANSWER_WORKERS must be a whole number of processes (0: answer in the server's own process), "
        "not 'two'"
    ]
