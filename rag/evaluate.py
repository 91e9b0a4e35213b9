"""Score retrieval, answers, abstention and the ledger against eval/questions.jsonl."""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from rag.answer import abstention, answer_from, cached_coverage, retrieve_for_answer
from rag.errors import RlaError
from rag.ledger import Coverage, ledger
from rag.models import Hit, Review
from rag.retrieve import Filters, Retriever, Scored
from rag.settings import Settings
from rag.themes import load_themes

# pytrec_eval measure → column. Hit@5: a gold review among the first five reviews retrieved.
IR_MEASURES = {
    "success_5": "Hit@5",
    "recall_5": "Recall@5",
    "recall_10": "Recall@10",
    "recip_rank": "MRR",
    "ndcg_cut_10": "nDCG@10",
}
# Passage@10: a chunk among the first ten hits holds one of the question's answer phrases verbatim.
PASSAGE_AT = 10
_WORD = re.compile(r"(?u)\b\w\w+\b")


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    kind: str
    paraphrased: bool
    gold: tuple[str, ...]
    learning_points: tuple[str, ...]
    filters: dict[str, Any]
    gold_files: tuple[str, ...] = ()  # gold given as corpus file names, resolved to ids by resolve_gold_files
    answer_contains: tuple[str, ...] = ()  # verbatim phrases of the answering passage (else the learning points)


def load_questions(path: Path) -> list[Question]:
    """The evaluation set, one JSON object per line; a broken line is named in one line of error."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise RlaError(f"cannot read questions file {path.name}: {e}; give a UTF-8 JSONL file") from None
    out = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            if not isinstance(d, dict):
                raise ValueError("not a JSON object")
            out.append(
                Question(
                    str(d["id"]),
                    str(d["question"]),
                    str(d.get("kind", "unlabelled")),
                    bool(d.get("paraphrased")),
                    tuple(str(g) for g in d.get("gold", [])),
                    tuple(str(p) for p in d.get("learning_points", [])),
                    dict(d.get("filters") or {}),
                    tuple(str(f) for f in d.get("gold_files", [])),
                    tuple(str(a) for a in d.get("answer_contains", [])),
                )
            )
        except (ValueError, KeyError, TypeError, RecursionError) as e:
            what = f"missing field {e}" if isinstance(e, KeyError) else str(e).splitlines()[0][:120]
            raise RlaError(
                f"{path.name}, line {n}: not a valid question ({what}); each line is a JSON object with "
                '"id" and "question" (see eval/README.md)'
            ) from None
    if not out:
        raise RlaError(f"{path.name} has no questions (one JSON object per line)")
    return out


def resolve_gold_files(questions: list[Question], reviews: Iterable[Review]) -> list[Question]:
    """Gold given as file names ("gold_files") becomes the ids of the records those files became in this index.

    A name matches a record's source by its corpus path or by its file name alone (the set may have been
    written for a folder ingested under another name); a name no record comes from is an error, since
    scoring without it would count a miss for every question that names it."""
    if not any(q.gold_files for q in questions):
        return questions
    by_name: dict[str, list[str]] = defaultdict(list)
    for r in reviews:
        for name in dict.fromkeys((r.source, PurePosixPath(r.source).name)):
            by_name[name].append(r.id)
    out = []
    for q in questions:
        if not q.gold_files:
            out.append(q)
            continue
        missing = [f for f in q.gold_files if f not in by_name]
        if missing:
            raise RlaError(
                f"question {q.id}: gold file {missing[0]} is not in this index; ingest the folder the questions "
                "were written for (e.g. rla --corpus tests/docs --index IDX ingest) and evaluate that index"
            )
        ids = [rid for f in q.gold_files for rid in by_name[f]]
        out.append(replace(q, gold=tuple(dict.fromkeys([*q.gold, *ids]))))
    return out


def _passage_hit(q: Question, hits: list[Hit]) -> float:
    """1.0 when a hit holds one of the question's answer phrases (whitespace aside), else 0.0. A passage is
    its heading path and its text, as a citation shows it ("Finding 1: Agencies did not know …" over its paragraphs)."""
    phrases = [_norm(p) for p in (q.answer_contains or q.learning_points) if p.strip()]
    texts = [_norm(f"{h.chunk.heading}\n{h.chunk.text}") for h in hits]
    return float(any(p in t for p in phrases for t in texts))


@dataclass
class EvalReport:
    modes: dict[str, dict[str, float]] = field(default_factory=dict)  # mode → metric → value
    by_kind: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # mode → group → metric
    questions: list[dict[str, Any]] = field(default_factory=list)  # per question, per mode
    # setting, value → share of no-answer and of answerable questions refused, the other settings as calibrated
    abstention: list[dict[str, Any]] = field(default_factory=list)
    ledger: list[dict[str, Any]] = field(default_factory=list)  # per topic question: listed, gold, found, P, R
    calibration: dict[str, float] = field(default_factory=dict)  # the thresholds the answers were made with
    quotes: dict[str, int] = field(default_factory=lambda: {"checked": 0, "verbatim": 0})

    def to_dict(self) -> dict[str, Any]:
        return {
            "modes": self.modes,
            "by_kind": self.by_kind,
            "questions": self.questions,
            "abstention": self.abstention,
            "ledger": self.ledger,
            "ledger_ceiling": ledger_ceiling(self.ledger) if self.ledger else None,
            "calibration": self.calibration,
            "quotes": self.quotes,
        }


def _norm(text: str) -> str:
    return " ".join(text.split()).lower()


def _covered(point: str, text: str) -> bool:
    """A learning point counts as covered when ≥ 70 % of its words appear in the answer."""
    words = {w.lower() for w in _WORD.findall(point)}
    have = {w.lower() for w in _WORD.findall(text)}
    return bool(words) and len(words & have) / len(words) >= 0.7


def _first_per_review(hits: list[Hit]) -> list[Hit]:
    first: dict[str, Hit] = {}
    for h in hits:
        first.setdefault(h.chunk.review_id, h)
    return list(first.values())


def _review_run(hits: list[Hit]) -> dict[str, float]:
    """Reviews in the order of their first hit, scored 1/position for trec_eval."""
    return {h.chunk.review_id: 1.0 / i for i, h in enumerate(_first_per_review(hits), start=1)}


def _ir(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    import pytrec_eval

    evaluator = pytrec_eval.RelevanceEvaluator(qrels, {"success", "recall", "recip_rank", "ndcg_cut"})
    return dict(evaluator.evaluate(run))


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 4) if values else float("nan")


def evaluate(retriever: Retriever, questions: list[Question], modes: list[str], k: int = 10) -> EvalReport:
    """Each question is retrieved once per mode; the ledger once per topic question."""
    report = EvalReport(calibration=retriever.settings.calibration())
    questions = resolve_gold_files(questions, retriever.data.reviews.values())
    support: dict[str, tuple[Scored, Coverage, bool]] = {}  # first mode's: what abstention was decided on
    answerable = [q for q in questions if q.gold]
    per_q: dict[str, dict[str, Any]] = {
        q.id: {"id": q.id, "question": q.question, "kind": q.kind, "paraphrased": q.paraphrased, "gold": list(q.gold)}
        for q in questions
    }
    for mode in modes:
        run: dict[str, dict[str, float]] = {}
        answer_rows: dict[str, dict[str, float]] = {}
        for q in questions:
            # One retrieval serves both: answers quote up to two excerpts a review from the first six hits,
            # and the review-level run is the reviews in order of their first hit (what one excerpt a review
            # and k gives), so 2k hits hold the first k reviews.
            scored = retrieve_for_answer(retriever, q.question, k, mode, Filters.parse(q.filters))
            hits = _first_per_review(scored.hits)[:k]
            run[q.id] = _review_run(hits) or {"__none__": 0.0}
            cov = cached_coverage(retriever, q.question, Filters.parse(q.filters))  # the same in every mode
            if mode == modes[0] and scored.hits:
                support[q.id] = (scored, cov, bool(q.gold))
            ans = answer_from(retriever, q.question, scored, filters=Filters.parse(q.filters), cov=cov)
            cites = [c.hit.chunk.review_id for c in ans.citations]
            # Quotes are source slices by construction; counting them checks that no change broke the offsets.
            report.quotes["checked"] += len(ans.citations)
            report.quotes["verbatim"] += sum(
                retriever.data.sources[c.hit.chunk.source].text[c.start : c.end] == c.quote for c in ans.citations
            )
            row: dict[str, float] = {"abstention_acc": float(ans.abstained == (not q.gold))}
            if q.gold and (q.answer_contains or q.learning_points):
                row["Passage@10"] = _passage_hit(q, scored.hits[:PASSAGE_AT])
            row["no_answer_abstain" if not q.gold else "wrong_abstain"] = float(ans.abstained)
            if q.gold and not ans.abstained:
                row["lp_coverage"] = (
                    _mean([float(_covered(p, ans.text)) for p in q.learning_points])
                    if q.learning_points
                    else float("nan")
                )
                row["citation_precision"] = _mean([float(r in q.gold) for r in cites])
            answer_rows[q.id] = row
            found = [rid for rid in dict.fromkeys(h.chunk.review_id for h in hits)]
            per_q[q.id][mode] = {
                "retrieved": found,
                "missed": [g for g in q.gold if g not in found],
                "abstained": ans.abstained,
                "citations": cites,
                "passages": [h.chunk.id for h in hits],  # the excerpts retrieved, first per review, in rank order
                # The learning points the answer does not cover (all of them when it abstained).
                "missed_points": [p for p in q.learning_points if ans.abstained or not _covered(p, ans.text)],
            }
        qrels = {q.id: {g: 1 for g in q.gold} for q in answerable}
        ir = _ir(qrels, {qid: run[qid] for qid in qrels})
        if mode == modes[0]:  # the ledger does not depend on the mode
            ledger_counts = _ledger_scores(retriever, [q for q in questions if q.kind == "topic"])
            ledger_rows = {qid: (c["precision"], c["recall"]) for qid, c in ledger_counts.items()}
        groups: dict[str, list[str]] = defaultdict(list)
        for q in questions:
            groups[q.kind].append(q.id)
            groups["paraphrased" if q.paraphrased else "source wording"].append(q.id)
            groups["all"].append(q.id)
        report.by_kind[mode] = {}
        for group, ids in groups.items():
            m: dict[str, float] = {}
            with_gold = [i for i in ids if i in ir]
            for key, name in IR_MEASURES.items():
                m[name] = _mean([ir[i][key] for i in with_gold])
            m["Passage@10"] = _mean([answer_rows[i]["Passage@10"] for i in ids if "Passage@10" in answer_rows[i]])
            for metric in ("lp_coverage", "citation_precision", "abstention_acc", "no_answer_abstain", "wrong_abstain"):
                vals = [
                    answer_rows[i][metric]
                    for i in ids
                    if metric in answer_rows[i] and answer_rows[i][metric] == answer_rows[i][metric]
                ]
                m[metric] = _mean(vals)
            led = [ledger_rows[i] for i in ids if i in ledger_rows]
            m["ledger_precision"] = _mean([r[0] for r in led])
            m["ledger_recall"] = _mean([r[1] for r in led])
            m["questions"] = float(len(ids))
            report.by_kind[mode][group] = m
        report.modes[mode] = report.by_kind[mode]["all"]
        for qid, (p, r) in ledger_rows.items():
            per_q[qid].setdefault("ledger", {"precision": p, "recall": r})
    report.questions = list(per_q.values())
    report.abstention = abstention_tradeoff(retriever.settings, list(support.values()))
    report.ledger = [
        {"id": q.id, "topic": q.question, **ledger_counts[q.id]} for q in questions if q.id in ledger_counts
    ]
    return report


# The calibrated settings of abstention and the values around them that the trade-off table tries.
TRADEOFF = {
    "abstain_below": (0.40, 0.42, 0.44, 0.46, 0.48, 0.50),
    "unknown_share_below": (0.0, 0.80, 0.82, 0.84, 0.86, 0.88, 0.90),
    "answer_above": (0.55, 0.60, 0.65, 1.0),
    "unknown_focus_min": (0.45, 0.50, 0.52, 0.55, 0.60, 1.0),
    "unknown_focus_answer_above": (0.50, 0.55, 0.58, 0.60),
    "context_share_min": (0.0, 0.5, 0.6, 0.7),
}


def abstention_tradeoff(settings: Settings, support: list[tuple[Scored, Coverage, bool]]) -> list[dict[str, Any]]:
    """Each setting of `rag.answer.abstention` varied around its calibrated value, the others as calibrated:
    the share of no-answer questions refused and of answerable ones. `support` is each question's retrieval,
    coverage and whether it has an answer in the corpus."""
    rows: list[dict[str, Any]] = []
    for name, values in TRADEOFF.items():
        for value in sorted({*values, getattr(settings, name)}):
            varied = replace(settings, **{name: value})
            refused = [(abstention(varied, sc, cov) is not None, gold) for sc, cov, gold in support]
            rows.append(
                {
                    "setting": name,
                    "value": value,
                    "calibrated": value == getattr(settings, name),
                    "no_answer_abstained": _mean([float(r) for r, g in refused if not g]),
                    "answerable_abstained": _mean([float(r) for r, g in refused if g]),
                }
            )
    return rows


def _ledger_scores(retriever: Retriever, topics: list[Question]) -> dict[str, dict[str, Any]]:
    """Per topic question: reviews listed, gold reviews, gold reviews listed, precision and recall; and the one
    vocabulary theme whose ledger scores best against the gold (by F1), with its precision and recall. That theme is
    chosen knowing the gold, so its figures are a ceiling for a question answered by one theme's ledger: a question
    whose own ledger falls far below it missed its theme; one whose best theme is low too needs words or evidence
    the vocabulary's phrases do not give (eval/README.md, "The ledger's ceiling")."""
    out = {}
    theme_ledgers: dict[Filters, dict[str, set[str]]] = {}
    for q in topics:
        filters = Filters.parse(q.filters)
        got = {e.review_id for e in ledger(retriever, q.question, filters).entries}
        gold = set(q.gold)
        if filters not in theme_ledgers:
            theme_ledgers[filters] = {
                t.name: {e.review_id for e in ledger(retriever, t.name, filters).entries} for t in load_themes()
            }
        scored = {name: _precision_recall(listed, gold) for name, listed in theme_ledgers[filters].items()}
        best = max(scored, key=lambda name: (_f1(*scored[name]), scored[name][0]))
        precision, recall = _precision_recall(got, gold)
        out[q.id] = {
            "listed": len(got),
            "gold": len(gold),
            "found": len(got & gold),
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "best_theme": best,
            "best_theme_precision": round(scored[best][0], 4),
            "best_theme_recall": round(scored[best][1], 4),
        }
    return out


def _precision_recall(listed: set[str], gold: set[str]) -> tuple[float, float]:
    found = len(listed & gold)
    return (found / len(listed) if listed else 0.0, found / len(gold) if gold else 1.0)


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def ledger_ceiling(rows: list[dict[str, Any]]) -> dict[str, float]:
    """The mean precision and recall of each topic question's best single theme ledger (`_ledger_scores`)."""
    return {
        "precision": _mean([r["best_theme_precision"] for r in rows]),
        "recall": _mean([r["best_theme_recall"] for r in rows]),
    }


METRIC_ORDER = [
    "Hit@5",
    "Recall@5",
    "Recall@10",
    "MRR",
    "nDCG@10",
    "Passage@10",
    "lp_coverage",
    "citation_precision",
    "abstention_acc",
    "no_answer_abstain",
    "wrong_abstain",
    "ledger_precision",
    "ledger_recall",
]


def report_table(report: EvalReport) -> str:
    """Markdown: metrics × modes, then per question kind for each mode."""
    modes = list(report.modes)
    lines = ["| metric | " + " | ".join(modes) + " |", "|---" * (len(modes) + 1) + "|"]
    for metric in METRIC_ORDER:
        lines.append(f"| {metric} | " + " | ".join(_fmt(report.modes[m].get(metric)) for m in modes) + " |")
    if report.calibration:
        lines += ["", "Calibration: " + ", ".join(f"{k} {v:g}" for k, v in report.calibration.items())]
    lines += [
        "",
        f"Quotes checked against their source text: {report.quotes['checked']}, verbatim: {report.quotes['verbatim']}",
    ]
    if report.abstention:
        lines += ["", "Abstention trade-off (each setting varied, the others as calibrated; * calibrated)", ""]
        lines += ["| setting | value | no-answer questions abstained | answerable questions abstained |"]
        lines.append("|---|---|---|---|")
        for row in report.abstention:
            mark = " *" if row["calibrated"] else ""
            lines.append(
                f"| {row['setting']} | {row['value']:.2f}{mark} | {_fmt(row['no_answer_abstained'])} "
                f"| {_fmt(row['answerable_abstained'])} |"
            )
    if report.ledger:
        lines += [
            "",
            "Ledger per topic question (reviews listed, gold reviews, gold reviews listed; and the one theme whose "
            "ledger scores best against the gold, chosen knowing it)",
            "",
            "| id | topic | listed | gold | found | precision | recall | best theme | its precision | its recall |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for row in report.ledger:
            topic = row["topic"] if len(row["topic"]) <= 70 else row["topic"][:69] + "…"
            lines.append(
                f"| {row['id']} | {topic} | {row['listed']} | {row['gold']} | {row['found']} "
                f"| {row['precision']:.2f} | {row['recall']:.2f} | {row['best_theme']} "
                f"| {row['best_theme_precision']:.2f} | {row['best_theme_recall']:.2f} |"
            )
        ceiling = ledger_ceiling(report.ledger)
        lines += [
            "",
            "Ledger ceiling (each topic question given its best theme's ledger): "
            f"precision {_fmt(ceiling['precision'])}, recall {_fmt(ceiling['recall'])}",
        ]
    for mode in modes:
        groups = [g for g in report.by_kind[mode] if g != "all"]
        lines += ["", f"**{mode}** by question kind", "", "| group | n | " + " | ".join(METRIC_ORDER) + " |"]
        lines.append("|---" * (len(METRIC_ORDER) + 2) + "|")
        for g in groups:
            m = report.by_kind[mode][g]
            lines.append(f"| {g} | {int(m['questions'])} | " + " | ".join(_fmt(m.get(x)) for x in METRIC_ORDER) + " |")
    return "\n".join(lines)


def _fmt(v: float | None) -> str:
    return "–" if v is None or math.isnan(v) else f"{v:.3f}"


def report_csv(report: EvalReport) -> str:
    rows = ["mode,group," + ",".join(METRIC_ORDER)]
    for mode, groups in report.by_kind.items():
        for g, m in groups.items():
            rows.append(f"{mode},{g}," + ",".join("" if m.get(x) != m.get(x) else str(m.get(x)) for x in METRIC_ORDER))
    return "\n".join(rows) + "\n"
