"""The theme vocabulary (rag/data/themes.toml) and the extra no-answer questions, checked against the real corpus."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from rag.errors import RlaError
from rag.evaluate import load_questions
from rag.parse import parse_source
from rag.settings import Settings
from rag.sources import iter_corpus_files, read_source
from rag.themes import (
    SOURCES,
    Theme,
    ThemeError,
    evidence_terms,
    load_themes,
    load_vocabulary,
    narrower_terms,
    terms,
    theme_by_id,
)

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
NO_ANSWER = ROOT / "eval" / "no_answer_extra.jsonl"


@cache
def corpus_texts() -> dict[str, str]:
    """Every corpus file's extracted text, curly apostrophes made straight so "children's" matches either."""
    settings = Settings(corpus=CORPUS)
    return {
        p.name: read_source(p, CORPUS, settings).text.replace("\u2019", "'")
        for p in iter_corpus_files(CORPUS, settings)
    }


@cache
def corpus_keywords() -> frozenset[str]:
    """The NSPCC keywords on the corpus's Keywords lines, as the parser splits them, lower-cased."""
    settings = Settings(corpus=CORPUS)
    found: set[str] = set()
    for p in iter_corpus_files(CORPUS, settings):
        for review in parse_source(read_source(p, CORPUS, settings)):
            found.update(k.lower() for k in review.keywords)
    return frozenset(found)


def mentions(term: str, text: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(term)}(?!\w)", text, re.IGNORECASE) is not None


# --- the shipped vocabulary ------------------------------------------------------------------


def test_vocabulary_ships_inside_the_package_and_loads() -> None:
    assert (files("rag") / "data" / "themes.toml").is_file()
    themes = load_themes()
    assert 60 <= len(themes) <= 100
    assert all(isinstance(t, Theme) for t in themes)
    assert load_themes() is themes  # cached


def test_every_theme_has_a_definition_wording_and_named_source() -> None:
    for t in load_themes():
        assert len(t.definition.split()) >= 8, t.id
        assert t.aliases or t.phrasings, t.id
        assert t.sources and set(t.sources) <= set(SOURCES), t.id


def test_ids_are_unique_slugs_and_related_ids_exist() -> None:
    ids = [t.id for t in load_themes()]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", i) for i in ids)
    for t in load_themes():
        assert t.id not in t.related
        assert set(t.related) <= set(ids), t.id


def test_a_term_is_shared_only_by_themes_that_name_each_other_as_related() -> None:
    by_term: dict[str, list[Theme]] = defaultdict(list)
    for t in load_themes():
        for term in terms(t):
            by_term[term].append(t)
    clashes = [
        (term, a.id, b.id)
        for term, owners in by_term.items()
        for i, a in enumerate(owners)
        for b in owners[i + 1 :]
        if not (a.id in b.related and b.id in a.related)
    ]
    assert clashes == []


def test_every_nspcc_keyword_in_the_corpus_has_a_theme_or_a_reason() -> None:
    vocab = load_vocabulary()
    mapped = {k.lower() for t in vocab.themes for k in t.nspcc_keywords}
    keywords = corpus_keywords()
    assert len(keywords) > 100  # the parser found the Keywords lines
    assert sorted(keywords - mapped - set(vocab.unmapped)) == []
    # Nothing invented: every keyword the vocabulary names is one the NSPCC actually used.
    assert sorted((mapped | set(vocab.unmapped)) - keywords) == []
    assert not mapped & set(vocab.unmapped)


def test_the_vocabulary_covers_the_themes_practitioners_ask_about() -> None:
    ids = {t.id for t in load_themes()}
    for expected in (
        "hidden-men",
        "disguised-compliance",
        "professional-curiosity",
        "was-not-brought",
        "bruising-non-mobile-babies",
        "safe-sleep-sudi",
        "child-criminal-exploitation",
        "county-lines",
        "private-fostering",
        "start-again-syndrome",
    ):
        assert expected in ids


def test_terms_are_name_aliases_and_phrasings_lower_cased_once_each() -> None:
    t = theme_by_id("hidden-men")
    got = terms(t)
    assert got[0] == "hidden men"
    assert "mum's new boyfriend" in got and "invisible men" in got
    made = Theme(
        "x", "Hidden Men", "d", ("hidden  men", "Unknown MEN"), ("unknown men", "a man at the flat"), (), (), ()
    )
    assert terms(made) == ("hidden men", "unknown men", "a man at the flat")


def test_every_themes_narrower_terms_are_strings_and_not_also_aliases() -> None:
    themes = load_themes()
    for t in themes:
        assert all(isinstance(n, str) and n.strip() for n in t.narrower), t.id
        assert not {n.lower() for n in t.narrower} & {a.lower() for a in t.aliases}, t.id
        # a narrower term is evidence that a text addresses the theme, and a word a question can name it by
        assert set(narrower_terms(t)) <= set(evidence_terms(t)) and set(narrower_terms(t)) <= set(terms(t))
    harmful = theme_by_id("harmful-practices")
    assert {"FGM", "female genital mutilation", "forced marriage", "breast ironing"} <= set(harmful.narrower)
    assert "honour-based abuse" in harmful.aliases  # the theme's own name in other words stays a synonym
    assert sum(bool(t.narrower) for t in themes) >= 50


def test_theme_by_id_suggests_a_close_id() -> None:
    assert theme_by_id("county-lines").name == "county lines"
    with pytest.raises(ThemeError, match="did you mean county-lines"):
        theme_by_id("county-line")


# --- malformed files ---------------------------------------------------------------------------


def theme_toml(theme_id: str, **fields: object) -> str:
    """One [[theme]] entry; a field set to None is left out."""
    base: dict[str, object] = {
        "id": theme_id,
        "name": theme_id.replace("-", " "),
        "definition": "A plain sentence saying what this theme is about.",
        "aliases": [f"{theme_id} alias"],
        "phrasings": [f"worried about {theme_id}"],
        "nspcc_keywords": [],
        "related": [],
        "sources": ["Working Together to Safeguard Children 2023"],
    }
    base.update(fields)
    lines = ["[[theme]]"] + [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in base.items() if v is not None]
    return "\n".join(lines) + "\n\n"


def test_a_well_formed_small_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "ok.toml"
    path.write_text(
        theme_toml("alpha", related=["beta"], aliases=["shared"])
        + theme_toml("beta", related=["alpha"], aliases=["shared"])
        + '[unmapped]\n"England" = "a place"\n',
        encoding="utf-8",
    )
    vocab = load_vocabulary(path)
    assert [t.id for t in vocab.themes] == ["alpha", "beta"]
    assert vocab.themes[0].narrower == ()  # optional
    assert vocab.unmapped == {"england": "a place"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (theme_toml("alpha", definition=None), r"theme 'alpha': missing field 'definition'"),
        (theme_toml("alpha", aliases="not a list"), r"theme 'alpha': field 'aliases' must be a list"),
        (theme_toml("alpha", name=3), r"theme 'alpha': field 'name' must be a non-empty string"),
        (theme_toml("alpha") + theme_toml("alpha"), r"theme 'alpha': duplicate id"),
        (theme_toml("alpha", sources=["Wikipedia"]), r"theme 'alpha': field 'sources' names 'Wikipedia'"),
        (theme_toml("alpha", sources=[]), r"theme 'alpha': field 'sources' is empty"),
        (theme_toml("alpha", aliases=[], phrasings=[]), r"theme 'alpha': fields 'aliases' and 'phrasings'"),
        (theme_toml("alpha", related=["gamma"]), r"theme 'alpha': field 'related' names 'gamma'"),
        (theme_toml("alpha", nspcc_keywords=["neglect"]), r"theme 'alpha': field 'sources' must name"),
        (theme_toml("alpha", colour="red"), r"theme 'alpha': unknown field\(s\) \['colour'\]"),
        (theme_toml("Alpha Beta"), r"theme 'Alpha Beta': field 'id' must be a lower-case slug"),
        (theme_toml("alpha", id=None), r"theme #1: missing field 'id'"),
        (
            theme_toml("alpha", aliases=["same words"]) + theme_toml("beta", aliases=["Same  Words"]),
            r"theme 'beta': term 'same words' is also a term of 'alpha'",
        ),
        (theme_toml("alpha", narrower="FGM"), r"theme 'alpha': field 'narrower' must be a list"),
        (theme_toml("alpha", narrower=["FGM", ""]), r"theme 'alpha': field 'narrower' must be a list of non-empty"),
        (
            theme_toml("alpha", aliases=["FGM", "other"], narrower=["fgm"]),
            r"theme 'alpha': 'fgm' is in both 'aliases' and 'narrower'; keep it in one",
        ),
        (
            theme_toml("alpha", narrower=["same words"]) + theme_toml("beta", aliases=["Same words"]),
            r"theme 'beta': term 'same words' is also a term of 'alpha'",
        ),
        ('[[theme]]\nid = "alpha"\nname = \n', r"not valid TOML"),
        ("", r"no \[\[theme\]\] entries"),
    ],
)
def test_a_malformed_file_raises_one_line_naming_the_theme_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ThemeError) as info:
        load_themes(path)
    message = str(info.value)
    assert isinstance(info.value, RlaError)
    assert "\n" not in message
    assert message.startswith(str(path))
    assert re.search(expected, message), message


def test_a_missing_file_raises_theme_error(tmp_path: Path) -> None:
    with pytest.raises(ThemeError, match="cannot read the theme vocabulary"):
        load_themes(tmp_path / "absent.toml")


# --- extra no-answer questions -----------------------------------------------------------------


def no_answer_rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in NO_ANSWER.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_no_answer_questions_load_as_an_evaluation_set() -> None:
    questions = load_questions(NO_ANSWER)
    assert len(questions) >= 40
    assert len({q.id for q in questions}) == len(questions)
    assert len({q.question.lower() for q in questions}) == len(questions)
    for q in questions:
        assert re.fullmatch(r"n\d{3}", q.id)
        assert q.kind == "no-answer" and q.gold == () and q.learning_points == () and q.filters == {}


def test_no_answer_paraphrased_flag_says_whether_the_question_avoids_its_absent_terms() -> None:
    for row in no_answer_rows():
        absent = row["absent_terms"]
        assert isinstance(absent, list) and absent and all(isinstance(t, str) and t.strip() for t in absent)
        assert row["paraphrased"] is not any(mentions(t, str(row["question"])) for t in absent), row["id"]


def test_the_absent_terms_check_catches_a_topic_the_corpus_covers() -> None:
    texts = corpus_texts()
    # FGM is named only in a checklist, which is still text the corpus holds: such a question cannot pass.
    assert any(mentions("female genital mutilation", t) for t in texts.values())
    assert any(mentions("children's services", t) for t in texts.values())  # curly apostrophes folded
    assert not mentions("neglect", "neglected children")  # whole words only


def test_no_corpus_file_mentions_any_absent_term() -> None:
    texts = corpus_texts()
    assert len(texts) >= 5
    found = [
        (row["id"], term, name)
        for row in no_answer_rows()
        for term in row["absent_terms"]
        for name, text in texts.items()
        if mentions(term, text)
    ]
    assert found == []


# --- the abstention calibration set (eval/abstention_calibration.jsonl) ----------------------------------

CALIBRATION = ROOT / "eval" / "abstention_calibration.jsonl"


def calibration_rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in CALIBRATION.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_calibration_set_has_enough_of_each_kind_and_is_new() -> None:
    questions = load_questions(CALIBRATION)
    no_answer = [q for q in questions if not q.gold]
    answerable = [q for q in questions if q.gold]
    assert len(no_answer) >= 30 and len(answerable) >= 30
    assert all(q.kind == "no-answer" for q in no_answer) and all(q.kind == "answerable" for q in answerable)
    assert len({q.id for q in questions}) == len(questions)
    # written apart from the evaluation sets, never a copy of one of their questions
    seen = {
        q.question.lower()
        for name in ("questions.jsonl", "heldout_dev.jsonl", "no_answer_extra.jsonl")
        for q in load_questions(ROOT / "eval" / name)
    }
    assert not [q.id for q in questions if q.question.lower() in seen]


def test_calibration_no_answer_questions_name_terms_no_corpus_file_contains() -> None:
    texts = corpus_texts()
    rows = [r for r in calibration_rows() if r["kind"] == "no-answer"]
    for row in rows:
        assert row["absent_terms"] and any(mentions(t, row["question"]) for t in row["absent_terms"]), row["id"]
    found = [(r["id"], t, n) for r in rows for t in r["absent_terms"] for n, x in texts.items() if mentions(t, x)]
    assert found == []


def test_calibration_answerable_questions_name_the_ledger_topic_their_gold_came_from() -> None:
    rows = [r for r in calibration_rows() if r["kind"] == "answerable"]
    assert all(r["gold"] and isinstance(r["ledger_topic"], str) and r["ledger_topic"].strip() for r in rows)


def test_narrower_terms_load_and_count_as_the_themes_evidence(tmp_path: Path) -> None:
    path = tmp_path / "narrow.toml"
    path.write_text(theme_toml("alpha", aliases=["Alpha Synonym"], narrower=[" Kind  Of Alpha "]), encoding="utf-8")
    (theme,) = load_themes(path)
    assert theme.aliases == ("Alpha Synonym",) and theme.narrower == ("Kind  Of Alpha",)
    assert narrower_terms(theme) == ("kind of alpha",)
    assert evidence_terms(theme) == ("alpha", "alpha synonym", "kind of alpha")
