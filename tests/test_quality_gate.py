"""Quality gate: the default pipeline's scores on eval/ must not fall below what was measured.

Thresholds sit a little under the figures in README ("Evaluation"), so a change that makes answers
or retrieval worse fails here. The held-out set (eval/heldout_dev.jsonl) was written separately,
without sight of the code or the synonym lists.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.evaluate import evaluate, load_questions

EVAL = Path(__file__).resolve().parent.parent / "eval"

GATE = {
    "Hit@5": 0.95,
    "Recall@10": 0.76,
    "MRR": 0.87,
    "nDCG@10": 0.79,
    # Answers quote up to ten statements (learning-point coverage 0.42 → 0.62); more of them come from records
    # outside the gold lists, so citation precision fell from 0.633 to 0.578.
    "citation_precision": 0.55,
    "abstention_acc": 0.82,
    "no_answer_abstain": 0.58,
    "ledger_precision": 0.58,
    "ledger_recall": 0.55,
}
# Ceilings: answerable questions refused.
GATE_MAX = {"wrong_abstain": 0.04}
HELD_OUT_GATE = {"Hit@5": 0.93, "MRR": 0.85}
# Abstention and the ledger (issue 14 items 3, 5, 8): honest floors at what was reached, the targets beside them.
ABSTAIN_FLOOR, ABSTAIN_TARGET = 0.76, 0.90  # no-answer questions refused
WRONG_ABSTAIN_CEILING = 0.03  # answerable questions refused: the target, reached
HELD_OUT_WRONG_ABSTAIN_CEILING = 0.03
LEDGER_FLOORS, LEDGER_TARGET = {"ledger_precision": 0.62, "ledger_recall": 0.58}, 0.85


@pytest.fixture(scope="module")
def report(retriever):  # type: ignore[no-untyped-def]
    return evaluate(retriever, load_questions(EVAL / "questions.jsonl"), ["hybrid"])


@pytest.mark.parametrize("metric,floor", sorted(GATE.items()))
def test_eval_set_gate(report, metric: str, floor: float) -> None:  # type: ignore[no-untyped-def]
    value = report.modes["hybrid"][metric]
    assert value >= floor, f"{metric} fell to {value:.3f} (gate {floor})"


@pytest.mark.parametrize("metric,ceiling", sorted(GATE_MAX.items()))
def test_eval_set_ceiling(report, metric: str, ceiling: float) -> None:  # type: ignore[no-untyped-def]
    value = report.modes["hybrid"][metric]
    assert value <= ceiling, f"{metric} rose to {value:.3f} (ceiling {ceiling})"


def test_no_answer_questions_are_refused(report) -> None:  # type: ignore[no-untyped-def]
    value = report.modes["hybrid"]["no_answer_abstain"]
    target = f"floor {ABSTAIN_FLOOR}, target {ABSTAIN_TARGET}"
    assert value >= ABSTAIN_FLOOR, f"no-answer abstention fell to {value:.3f} ({target})"


def test_answerable_questions_are_not_refused(report) -> None:  # type: ignore[no-untyped-def]
    value = report.modes["hybrid"]["wrong_abstain"]
    assert value <= WRONG_ABSTAIN_CEILING, f"wrong abstention rose to {value:.3f} (ceiling {WRONG_ABSTAIN_CEILING})"


@pytest.mark.parametrize("metric,floor", sorted(LEDGER_FLOORS.items()))
def test_ledger_gate(report, metric: str, floor: float) -> None:  # type: ignore[no-untyped-def]
    value = report.modes["hybrid"][metric]
    assert value >= floor, f"{metric} fell to {value:.3f} (floor {floor}, target {LEDGER_TARGET})"
    # the per-topic rows behind it are reported, one per topic question
    assert len(report.ledger) == int(report.by_kind["hybrid"]["topic"]["questions"])


def test_no_answer_set_is_large_enough(report) -> None:  # type: ignore[no-untyped-def]
    assert report.by_kind["hybrid"]["no-answer"]["questions"] >= 40


def test_every_quoted_answer_sentence_is_verbatim_source_text(report) -> None:  # type: ignore[no-untyped-def]
    assert report.quotes["checked"] > 300 and report.quotes["verbatim"] == report.quotes["checked"], report.quotes


def test_paraphrased_questions_gate(report) -> None:  # type: ignore[no-untyped-def]
    para = report.by_kind["hybrid"]["paraphrased"]
    assert para["Hit@5"] >= 0.92 and para["MRR"] >= 0.78, para


def test_held_out_gate(retriever) -> None:  # type: ignore[no-untyped-def]
    rep = evaluate(retriever, load_questions(EVAL / "heldout_dev.jsonl"), ["hybrid"])
    for metric, floor in HELD_OUT_GATE.items():
        assert rep.modes["hybrid"][metric] >= floor, (metric, rep.modes["hybrid"][metric])
    assert rep.modes["hybrid"]["wrong_abstain"] <= HELD_OUT_WRONG_ABSTAIN_CEILING, rep.modes["hybrid"]


# Answers (issue 14 item 8): honest floors a little under what was measured (README: "Evaluation";
# measured Recall@5 0.741, lp_coverage 0.617, MRR 0.930, held-out MRR 0.910). Targets: learning-point
# coverage ≥ 0.6, MRR ≥ 0.92 and held-out MRR ≥ 0.92 (the held-out one is not reached yet).
ANSWER_GATE = {"Recall@5": 0.72, "lp_coverage": 0.60, "MRR": 0.91}
HELD_OUT_MRR = 0.89


@pytest.mark.parametrize("metric,floor", sorted(ANSWER_GATE.items()))
def test_answer_quality_gate(report, metric: str, floor: float) -> None:  # type: ignore[no-untyped-def]
    value = report.modes["hybrid"][metric]
    assert value >= floor, f"{metric} fell to {value:.3f} (gate {floor})"


def test_held_out_mrr_gate(retriever) -> None:  # type: ignore[no-untyped-def]
    value = evaluate(retriever, load_questions(EVAL / "heldout_dev.jsonl"), ["hybrid"]).modes["hybrid"]["MRR"]
    assert value >= HELD_OUT_MRR, f"held-out MRR fell to {value:.3f} (gate {HELD_OUT_MRR})"
