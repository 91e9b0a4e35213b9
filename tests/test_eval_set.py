"""Integrity checks for the evaluation set in eval/questions.jsonl.

The gold labels point at review records parsed from the bundled corpus, and every
learning point must be a verbatim span of one of its gold reviews' section texts.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from rag.models import Review, SourceText
from rag.parse import parse_source

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
QUESTIONS = ROOT / "eval" / "questions.jsonl"

KINDS = {"topic", "single", "filtered", "no-answer"}
FILTER_KEYS = {"year_from", "year_to", "area", "type", "keyword", "section"}
FIELDS = {"id", "question", "kind", "paraphrased", "gold", "learning_points", "filters"}


def _load_lines() -> list[str]:
    return [line for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def questions() -> list[dict]:
    out = []
    for n, line in enumerate(_load_lines(), 1):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:  # pragma: no cover - reported by the assertion
            pytest.fail(f"line {n} is not valid JSON: {exc}")
        assert isinstance(obj, dict), f"line {n} is not a JSON object"
        out.append(obj)
    return out


@pytest.fixture(scope="module")
def reviews() -> dict[str, tuple[Review, str]]:
    """Every review record in the corpus, keyed by id, with its source text."""
    found: dict[str, tuple[Review, str]] = {}
    for path in sorted(CORPUS.glob("*.txt")):
        raw = path.read_bytes()
        text = raw.decode("utf-8")
        src = SourceText(path.relative_to(CORPUS).as_posix(), text, hashlib.sha256(raw).hexdigest(), "txt")
        for review in parse_source(src):
            assert review.id not in found, f"duplicate review id {review.id}"
            found[review.id] = (review, text)
    assert found, "no reviews parsed from corpus/*.txt"
    return found


def _section_texts(review: Review, text: str, kind: str | None = None) -> list[str]:
    return [text[s.start : s.end] for s in review.sections if kind is None or s.kind == kind]


def test_every_line_is_a_json_object_with_the_expected_fields(questions: list[dict]) -> None:
    for q in questions:
        assert set(q) == FIELDS, f"{q.get('id')}: fields {sorted(q)}"
        assert isinstance(q["question"], str) and q["question"].strip()
        assert q["kind"] in KINDS, f"{q['id']}: kind {q['kind']!r}"
        assert isinstance(q["paraphrased"], bool)
        assert isinstance(q["gold"], list) and all(isinstance(g, str) for g in q["gold"])
        assert isinstance(q["learning_points"], list) and all(isinstance(p, str) for p in q["learning_points"])
        assert isinstance(q["filters"], dict)


def test_ids_and_questions_are_unique(questions: list[dict]) -> None:
    ids = [q["id"] for q in questions]
    assert len(ids) == len(set(ids)), "duplicate question ids"
    texts = [" ".join(q["question"].lower().split()) for q in questions]
    assert len(texts) == len(set(texts)), "duplicate question texts"
    for q in questions:
        assert len(q["gold"]) == len(set(q["gold"])), f"{q['id']}: duplicate gold ids"


def test_size_and_mix(questions: list[dict]) -> None:
    assert len(questions) >= 100
    paraphrased = sum(q["paraphrased"] for q in questions)
    assert paraphrased / len(questions) >= 0.40, f"only {paraphrased}/{len(questions)} paraphrased"
    kinds = [q["kind"] for q in questions]
    assert kinds.count("no-answer") >= 10
    assert kinds.count("topic") >= 1 and kinds.count("single") >= 1 and kinds.count("filtered") >= 1


def test_shape_per_kind(questions: list[dict]) -> None:
    for q in questions:
        if q["kind"] == "no-answer":
            assert q["gold"] == [] and q["learning_points"] == [], q["id"]
        else:
            assert q["gold"], f"{q['id']}: empty gold"
            assert 1 <= len(q["learning_points"]) <= 4, f"{q['id']}: {len(q['learning_points'])} learning points"
        if q["kind"] == "single":
            assert len(q["gold"]) == 1, q["id"]
        if q["kind"] == "filtered":
            assert q["filters"], f"{q['id']}: filtered question without filters"
            assert set(q["filters"]) <= FILTER_KEYS, f"{q['id']}: unknown filter {set(q['filters']) - FILTER_KEYS}"
        else:
            assert q["filters"] == {}, f"{q['id']}: filters on a {q['kind']} question"


def test_gold_ids_exist_in_corpus(questions: list[dict], reviews: dict[str, tuple[Review, str]]) -> None:
    missing = [(q["id"], g) for q in questions for g in q["gold"] if g not in reviews]
    assert not missing, f"gold ids not in the parsed corpus: {missing}"


def test_learning_points_are_verbatim(questions: list[dict], reviews: dict[str, tuple[Review, str]]) -> None:
    bad = []
    for q in questions:
        for point in q["learning_points"]:
            assert point == point.strip() and point, f"{q['id']}: blank or padded learning point"
            sources = [t for g in q["gold"] if g in reviews for t in _section_texts(*reviews[g])]
            if not any(point in t for t in sources):
                bad.append((q["id"], point))
    assert not bad, f"learning points not found verbatim in their gold reviews: {bad}"


def test_filtered_gold_satisfies_filters(questions: list[dict], reviews: dict[str, tuple[Review, str]]) -> None:
    areas = {r.area for r, _ in reviews.values()}
    types = {r.type for r, _ in reviews.values()}
    keywords = {k.lower() for r, _ in reviews.values() for k in r.keywords}
    for q in questions:
        f = q["filters"]
        if not f:
            continue
        if "area" in f:
            assert f["area"] in areas, f"{q['id']}: unknown area {f['area']!r}"
        if "type" in f:
            assert f["type"] in types, f"{q['id']}: unknown type {f['type']!r}"
        if "keyword" in f:
            assert f["keyword"].lower() in keywords, f"{q['id']}: unknown keyword {f['keyword']!r}"
        for g in q["gold"]:
            review, text = reviews[g]
            where = f"{q['id']} gold {g}"
            if "year_from" in f:
                assert review.year is not None and review.year >= f["year_from"], where
            if "year_to" in f:
                assert review.year is not None and review.year <= f["year_to"], where
            if "area" in f:
                assert review.area == f["area"], where
            if "type" in f:
                assert review.type == f["type"], where
            if "keyword" in f:
                assert f["keyword"].lower() in {k.lower() for k in review.keywords}, where
            if "section" in f:
                assert _section_texts(review, text, f["section"]), where
        if "section" in f:
            for point in q["learning_points"]:
                assert any(point in t for g in q["gold"] for t in _section_texts(*reviews[g], f["section"])), (
                    f"{q['id']}: learning point not in a {f['section']!r} section: {point!r}"
                )


LEDGER_CALIBRATION = ROOT / "eval" / "ledger_calibration.jsonl"


def test_the_ledger_calibration_set_is_judged_topics_on_vocabulary_themes(
    reviews: dict[str, tuple[Review, str]],
) -> None:
    """eval/ledger_calibration.jsonl (eval/README.md): topic questions with exhaustive gold, half paraphrased, each on
    one vocabulary theme, gold ids parsed from the corpus and learning points verbatim in a gold record."""
    from rag.themes import load_themes

    rows = [json.loads(line) for line in LEDGER_CALIBRATION.read_text(encoding="utf-8").splitlines() if line.strip()]
    theme_ids = {t.id for t in load_themes()}
    assert len(rows) >= 30 and len({r["id"] for r in rows}) == len(rows)
    assert sum(r["paraphrased"] for r in rows) * 2 == len(rows)
    for r in rows:
        assert r["kind"] == "topic" and r["theme"] in theme_ids, r["id"]
        assert len(r["gold"]) >= 2 and set(r["gold"]) <= set(reviews), r["id"]
        sources = [t for g in r["gold"] for t in _section_texts(*reviews[g])]
        assert r["learning_points"] and all(any(p in t for t in sources) for p in r["learning_points"]), r["id"]
