"""An evaluator's own question set for the Evaluate tab: the documented JSONL, or a CSV with a header row
(question, gold review ids, learning points), each problem named by its line."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from rag.errors import RlaError
from rag.evaluate import Question, load_questions

_SPLIT = re.compile(r"\s*[;|]\s*")
_COLUMNS = {
    "question": ("question",),
    "gold": ("gold", "gold review ids", "gold_review_ids", "gold reviews", "gold ids"),
    "learning_points": ("learning points", "learning_points"),
    "id": ("id",),
    "kind": ("kind",),
}


def load_question_set(path: Path, shown_name: str, known_reviews: set[str]) -> list[Question]:
    """Questions from .jsonl (as eval/questions.jsonl) or .csv; gold ids must name reviews in the index."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        questions = _from_csv(path, shown_name)
    elif suffix in (".jsonl", ".json"):
        try:
            questions = load_questions(path)
        except RlaError as e:
            raise RlaError(str(e).replace(path.name, shown_name)) from None
    else:
        raise RlaError(f"{shown_name}: give a .jsonl file (as eval/questions.jsonl) or a .csv with a header row")
    for q in questions:
        unknown = [g for g in q.gold if g not in known_reviews]
        if unknown:
            raise RlaError(
                f"{shown_name}, question {q.id}: gold review {unknown[0]!r} is not in the index; "
                "use the ids the Reviews tab shows"
            )
    return questions


def _from_csv(path: Path, shown_name: str) -> list[Question]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise RlaError(f"cannot read {shown_name}: {e}; give a UTF-8 CSV file") from None
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    where = {key: next((header.index(n) for n in names if n in header), None) for key, names in _COLUMNS.items()}
    if where["question"] is None:
        raise RlaError(
            f"{shown_name}, line 1: the header needs a 'question' column (and optionally 'gold review ids', "
            "'learning points', 'id', 'kind')"
        )
    out = []
    for row in reader:
        n = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise RlaError(f"{shown_name}, line {n}: {len(row)} cells where the header has {len(header)}")

        def cell(key: str, row: list[str] = row) -> str:
            i = where[key]
            return row[i].strip() if i is not None else ""

        if not cell("question"):
            raise RlaError(f"{shown_name}, line {n}: the question is empty")
        out.append(
            Question(
                cell("id") or f"row{n}",
                cell("question"),
                cell("kind") or ("topic" if cell("gold") else "unanswerable"),
                False,
                tuple(g for g in _SPLIT.split(cell("gold")) if g),
                tuple(p for p in _SPLIT.split(cell("learning_points")) if p),
                {},
            )
        )
    if not out:
        raise RlaError(f"{shown_name} has no questions (a header row, then one question a row)")
    return out
