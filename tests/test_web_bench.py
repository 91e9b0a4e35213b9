"""eval/bench.py's web section against the real app: it starts it, times the first page and answer, and counts
every answer of the simulated users (the figures themselves are never asserted)."""

from __future__ import annotations

from pathlib import Path

from tests_support import load_eval_script

from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_the_web_section_answers_every_simulated_user_and_reports_its_rows(built_index: Settings) -> None:
    workers, bench = load_eval_script("bench_workers"), load_eval_script("bench")
    questions = ["What did reviews say about fathers?", "What did reviews find about neglect?", "disguised compliance"]
    w = workers.web_app(str(built_index.index), str(ROOT), questions * 3, users=3, per_user=2)
    assert 0 < w["first_page_s"] <= w["first_answer_s"]
    for run in (w, w["no_sessions"]):
        assert run["answers"] == 6 and run["error_count"] == 0, run["errors"]
        assert run["latency"]["n"] == 6 and 0 < run["latency"]["p50"] <= run["latency"]["p95"]
        assert run["server_cpu_ms_per_answer"] > 0 and run["client_cpu_ms_per_answer"] > 0
    rows = bench._web_rows(w)
    assert [r.metric.split(",")[0] for r in rows[:2]] == [
        "web app: launch → first page served",
        "web app: launch → first answer",
    ]
    assert rows[2].result in ("PASS", "FAIL") and rows[3].result == "info"  # only the sessions run has the target


def test_the_warm_up_and_the_two_runs_ask_different_questions() -> None:
    workers = load_eval_script("bench_workers")
    questions = [f"question {i}" for i in range(174)] + ["question 3"]  # a repeat in the set is asked once
    warm, (first, second) = workers.split_questions(questions, 80)
    assert len(warm) == 4 and len(set(first)) == len(first) == 80 and len(set(second)) == len(second) == 80
    assert not (set(warm) & set(first) or set(warm) & set(second) or set(first) & set(second))
    # Too few questions: each run wraps round its own share, still apart from the other run and the warm-up.
    warm, (first, second) = workers.split_questions(questions[:24], 80)
    assert len(first) == len(second) == 80 and len(set(first)) == len(set(second)) == 10
    assert not (set(warm) & set(first) or set(first) & set(second))
