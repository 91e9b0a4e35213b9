"""Quality gate: the default pipeline's scores on eval/ must not fall below what was measured.

Thresholds sit a little under the figures in README ("Evaluation"), so a change that makes answers
or retrieval worse fails here. The held-out set (eval/heldout_dev.jsonl) was written separately,
without sight of the code or the synonym lists.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.evaluate import evaluate, load_questions
from rag.themes import load_themes

EVAL = Path(__file__).resolve().parent.parent / "eval"

# metric → (floor, target): floors a little under what was measured (README: "Evaluation"), so that a change
# that makes answers or retrieval worse fails here; targets the issues set, where a floor is still below one.
GATE = {
    "Hit@5": (0.97, 0.97),
    "Recall@5": (0.72, None),
    "Recall@10": (0.82, None),
    "MRR": (0.94, 0.92),  # measured 0.945 (0.949 before "fathers" left the hidden men synonyms: q104)
    "nDCG@10": (0.85, None),
    "lp_coverage": (0.63, 0.60),  # measured 0.657 (learning preferred whatever the question's words)
    # Answers quote up to ten statements (learning-point coverage 0.42 → 0.61); more of them come from records
    # outside the gold lists, so citation precision fell from 0.633 to 0.577; 0.690 with a named record's
    # question answered from that record.
    "citation_precision": (0.66, None),
    "abstention_acc": (0.92, None),  # measured 0.943
    # No-answer questions refused: measured 0.853 (0.869 before an alias named a theme in other words: n012's
    # "Online Safety Act" names online safety, which reviews on online abuse cover).
    "no_answer_abstain": (0.85, 0.90),
    # Ledger: 0.679 / 0.606 with narrower terms (eval/README.md), 0.672 / 0.625 before: a question naming a narrower
    # term alone ("escalation policies", "child protection conferences") lists only the reviews that mention it.
    "ledger_precision": (0.66, 0.85),
    "ledger_recall": (0.60, 0.85),
}
# metric → ceiling: answerable questions refused (measured 0.018; the target, 0.03, is the ceiling).
GATE_MAX = {"wrong_abstain": 0.03}
HELD_OUT_GATE = {"Hit@5": (0.97, 0.97), "MRR": (0.93, 0.92)}  # measured 1.000, 0.952
HELD_OUT_MAX = {"wrong_abstain": 0.03}


@pytest.fixture(scope="module")
def report(retriever):  # type: ignore[no-untyped-def]
    return evaluate(retriever, load_questions(EVAL / "questions.jsonl"), ["hybrid"])


@pytest.mark.parametrize("metric", sorted(GATE))
def test_eval_set_gate(report, metric: str) -> None:  # type: ignore[no-untyped-def]
    value, (floor, target) = report.modes["hybrid"][metric], GATE[metric]
    assert value >= floor, f"{metric} fell to {value:.3f} (floor {floor}, target {target})"


@pytest.mark.parametrize("metric,ceiling", sorted(GATE_MAX.items()))
def test_eval_set_ceiling(report, metric: str, ceiling: float) -> None:  # type: ignore[no-untyped-def]
    value = report.modes["hybrid"][metric]
    assert value <= ceiling, f"{metric} rose to {value:.3f} (ceiling {ceiling})"


def test_ledger_is_reported_per_topic(report) -> None:  # type: ignore[no-untyped-def]
    assert len(report.ledger) == int(report.by_kind["hybrid"]["topic"]["questions"])


def test_ledger_ceiling_gives_each_topic_question_its_best_theme(report) -> None:  # type: ignore[no-untyped-def]
    """Each topic question's best single theme ledger (chosen knowing the gold): a vocabulary theme, the same for a
    paraphrase as for its source-worded twin (they share their gold), and the ceiling the mean of those rows."""
    rows = {r["id"]: r for r in report.ledger}
    names = {t.name for t in load_themes()}
    assert all(r["best_theme"] in names for r in rows.values())
    assert rows["q018"]["best_theme"] == rows["q019"]["best_theme"] == "domestic abuse", (rows["q018"], rows["q019"])
    assert rows["q019"]["recall"] < 0.1 < 0.9 < rows["q019"]["best_theme_recall"]  # its theme missed, not its words
    ceiling = report.to_dict()["ledger_ceiling"]
    assert ceiling["recall"] == pytest.approx(sum(r["best_theme_recall"] for r in rows.values()) / len(rows), abs=1e-4)
    assert ceiling["precision"] > report.modes["hybrid"]["ledger_precision"]  # measured 0.852 against 0.679


def test_no_answer_set_is_large_enough(report) -> None:  # type: ignore[no-untyped-def]
    assert report.by_kind["hybrid"]["no-answer"]["questions"] >= 40


def test_every_quoted_answer_sentence_is_verbatim_source_text(report) -> None:  # type: ignore[no-untyped-def]
    assert report.quotes["checked"] > 300 and report.quotes["verbatim"] == report.quotes["checked"], report.quotes


def test_paraphrased_questions_gate(report) -> None:  # type: ignore[no-untyped-def]
    para = report.by_kind["hybrid"]["paraphrased"]
    assert para["Hit@5"] >= 0.92 and para["MRR"] >= 0.88, para  # measured 0.981, 0.909


def test_held_out_gate(retriever) -> None:  # type: ignore[no-untyped-def]
    rep = evaluate(retriever, load_questions(EVAL / "heldout_dev.jsonl"), ["hybrid"])
    got = rep.modes["hybrid"]
    for metric, (floor, target) in HELD_OUT_GATE.items():
        assert got[metric] >= floor, f"held-out {metric} fell to {got[metric]:.3f} (floor {floor}, target {target})"
    for metric, ceiling in HELD_OUT_MAX.items():
        assert got[metric] <= ceiling, f"held-out {metric} rose to {got[metric]:.3f} (ceiling {ceiling})"


# The blind-judged topic set (eval/ledger_calibration.jsonl, eval/README.md): ledger 0.769 / 0.631, none refused.
LEDGER_CALIBRATION_GATE = {"ledger_precision": (0.74, 0.85), "ledger_recall": (0.60, 0.85), "Hit@5": (0.97, 0.97)}


def test_ledger_calibration_gate(retriever) -> None:  # type: ignore[no-untyped-def]
    """The ledger on topic questions written and judged by a reader who saw neither the evaluation set nor the
    system's output: a rule fitted to questions.jsonl that loses here fails."""
    rep = evaluate(retriever, load_questions(EVAL / "ledger_calibration.jsonl"), ["hybrid"])
    got = rep.modes["hybrid"]
    for metric, (floor, target) in LEDGER_CALIBRATION_GATE.items():
        assert got[metric] >= floor, (
            f"ledger calibration {metric} fell to {got[metric]:.3f} (floor {floor}, target {target})"
        )
    assert got["wrong_abstain"] <= 0.03, got["wrong_abstain"]
