"""Themes everywhere: chunks tagged at ingest by phrase, the --theme filter, `rla themes`, question themes."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from rag.errors import QueryError
from rag.ledger import detect_themes, theme_scores
from rag.models import Chunk
from rag.retrieve import Filters, Retriever
from rag.themes import load_themes, tag_text


def test_a_text_is_tagged_with_the_themes_it_names_as_phrases() -> None:
    tags = tag_text(
        "Nobody assessed the mother's partner; the review calls these hidden men. Domestic abuse was known."
    )
    assert {"hidden-men", "domestic-abuse"} <= set(tags)
    assert tag_text("The weather was fine and the bus was late.") == ()
    # a bag of the words is not the phrase
    assert "domestic-abuse" not in tag_text("Abuse of the domestic appliance warranty.")


def test_a_theme_s_other_names_count_only_in_a_passage_on_the_theme() -> None:
    """The one rule (rag.themes.tag_text): the name, or a part of a name joined by "and" ("fathers" of "fathers
    and male carers"), anywhere; an alias or narrower term only where the passage is on the theme."""
    case = "The baby was injured while in the care of the mother's partner."
    assert "hidden-men" not in tag_text(case)  # an alias, in a passage not on hidden men
    assert "hidden-men" in tag_text(case, on_topic={"hidden-men"})
    assert "fathers-and-male-carers" in tag_text("Fathers were not invited to the meeting.")  # a part of its name
    # "assessment" is a word of "assessment quality", not a part of it: an alias like any other.
    assert "assessment-quality" not in tag_text("An assessment was completed in March.")
    assert "assessment-quality" in tag_text("An assessment was completed in March.", on_topic={"assessment-quality"})
    assert "assessment-quality" in tag_text("The review found poor assessment quality.")


def test_ingest_tags_by_the_rule_and_a_pseudonym_is_no_theme_s_word() -> None:
    from rag.models import Review, Section
    from rag.themes import tag_records

    r = Review("r", "Child Q", 2020, "A", None, (), None, "f.txt", 0, 100, (Section("learning", "Learning", 0, 100),))
    texts = ("Infant D lived with both parents.", "Infants need to be seen.")
    chunks = [
        Chunk(f"r#{i}", "r", "learning", "f.txt", 0, 40, t, None, "Child Q", 2020, "A", None)
        for i, t in enumerate(texts)
    ]
    on_topic = [frozenset({"babies-under-one"}), frozenset({"babies-under-one"})]
    (tagged_review,), (first, second) = tag_records([r], chunks, on_topic)
    assert "babies-under-one" not in first.themes and "babies-under-one" in second.themes
    assert "babies-under-one" in tagged_review.themes


def test_a_theme_s_records_are_the_same_everywhere(retriever: Retriever) -> None:
    """`rla themes` counts, the theme's ledger (by its name or an alias of it alone) and `--theme` agree: before
    the one rule, hidden men read 14 reviews in the themes list and 33 in its ledger."""
    from rag.ledger import ledger

    data = retriever.data
    for theme in load_themes():
        counted = {r.id for r in data.reviews.values() if theme.id in r.themes}
        listed = {e.review_id for e in ledger(retriever, theme.name).entries}
        kept = {data.chunks[i].review_id for i in np.flatnonzero(retriever.mask(Filters(theme=theme.id)))}
        assert counted == listed == kept, theme.id
        assert all(e.marks for e in ledger(retriever, theme.name).entries), theme.id  # its words marked
    fathers = {e.review_id for e in ledger(retriever, "fathers").entries}  # an alias of one theme alone
    assert fathers == {e.review_id for e in ledger(retriever, "fathers and male carers").entries}


def test_chunk_themes_survive_the_index_format() -> None:
    c = Chunk("r#1", "r", "learning", "f.txt", 0, 4, "text", None, "T", 2017, "A", None, themes=("neglect",))
    assert Chunk.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    d = c.to_dict()
    del d["themes"]  # an index written before themes existed
    assert Chunk.from_dict(d).themes == ()


def test_theme_filter_takes_an_id_or_a_name_and_names_a_typo() -> None:
    assert Filters.parse({"theme": "Hidden men"}).theme == "hidden-men"
    assert Filters.parse({"theme": "neglect"}).theme == "neglect"
    with pytest.raises(QueryError, match="did you mean 'hidden-men'"):
        Filters.parse({"theme": "hiden men"})


def test_every_indexed_chunk_is_tagged_and_the_filter_keeps_only_tagged_ones(retriever) -> None:  # type: ignore[no-untyped-def]
    chunks = retriever.data.chunks
    assert sum(bool(c.themes) for c in chunks) > len(chunks) // 2
    f = Filters.parse({"theme": "domestic-abuse"})
    mask = f.mask(chunks)
    assert mask.any() and all(("domestic-abuse" in c.themes) == bool(m) for c, m in zip(chunks, mask, strict=True))
    hits = retriever.search("what did reviews learn about risk to children?", k=5, filters=f)
    assert hits and all("domestic-abuse" in h.chunk.themes for h in hits)
    reviews = list(retriever.data.reviews.values())
    assert any(r.themes for r in reviews)
    for r in reviews:
        own = {t for c in chunks if c.review_id == r.id for t in c.themes}
        assert set(r.themes) == own, r.id


def test_rla_themes_lists_review_counts(built_index, capsys) -> None:  # type: ignore[no-untyped-def]
    from rag.cli import main

    assert main(["--index", str(built_index.index), "themes", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    by_id = {r["id"]: r for r in rows}
    assert by_id["domestic-abuse"]["reviews"] >= 10 and all(r["reviews"] + r["analyses"] > 0 for r in rows)
    assert [r["reviews"] for r in rows] == sorted((r["reviews"] for r in rows), reverse=True)
    # the triennial analysis is counted beside the reviews, never as one
    assert by_id["domestic-abuse"]["analyses"] == 1 and by_id["hidden-men"]["analyses"] == 0
    assert main(["--index", str(built_index.index), "themes", "--theme", "nosuch-theme"]) == 2
    assert "unknown theme" in capsys.readouterr().err


def test_rla_themes_by_year_and_area_split_each_count(built_index, capsys) -> None:  # type: ignore[no-untyped-def]
    from rag.cli import main

    for by in ("year", "area"):
        assert main(["--index", str(built_index.index), "themes", "--json", "--by", by]) == 0
        for r in json.loads(capsys.readouterr().out):
            assert sum(r[f"by_{by}"].values()) == r["reviews"] + r["briefings"] + r["analyses"], (by, r["id"])
    assert main(["--index", str(built_index.index), "themes", "--json", "--by", "area", "--area", "Croydon"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and all(set(r["by_area"]) == {"Croydon"} for r in rows)
    assert main(["--index", str(built_index.index), "themes", "--by", "year", "--year-from", "2018"]) == 0
    shown = capsys.readouterr().out
    assert "2018" in shown and "2017 " not in shown


def test_question_themes_by_wording_and_by_meaning(retriever) -> None:  # type: ignore[no-untyped-def]
    assert [t.id for t in detect_themes(retriever, "What did reviews say about disguised compliance?")] == [
        "disguised-compliance"
    ]
    # generic words ("assessment") do not add a theme beside a specific one
    ids = [t.id for t in detect_themes(retriever, "pre-birth assessment for unborn babies")]
    assert "pre-birth-assessment" in ids and "assessment-quality" not in ids
    assert detect_themes(retriever, "What is the best recipe for banana bread?") == ()


def test_a_question_is_about_its_focus_not_the_setting_it_names(retriever) -> None:  # type: ignore[no-untyped-def]
    """Every theme is scored (`theme_scores`); a service or group the question names loses
    `theme_context_penalty`, so the issue it asks about wins over where it happened."""
    q = (
        "The boy's angry outbursts at school were treated as bad behaviour "
        "rather than a sign something was wrong at home"
    )
    assert detect_themes(retriever, q)[0].id == "behaviour-as-communication"
    scored = theme_scores(retriever, q)
    school = [t.id for t in load_themes()].index("school-and-education-role")
    assert school in scored.worded  # "school" is a term of the theme…
    off = Retriever(replace(retriever.settings, theme_context_penalty=0.0), retriever.data)
    assert detect_themes(off, q)[0].id == "school-and-education-role"  # …and without the penalty it would win


def test_a_theme_in_everyday_words_is_found_by_meaning(retriever) -> None:  # type: ignore[no-untyped-def]
    q = "Parents split up badly and keep dragging the kids into their fights over contact"
    assert not theme_scores(retriever, q).worded  # no term of any theme…
    assert [t.id for t in detect_themes(retriever, q)][:1] == ["parental-separation-conflict"]  # …but its meaning
    # by meaning alone a theme needs `theme_cosine`
    strict = Retriever(replace(retriever.settings, theme_cosine=0.99), retriever.data)
    assert detect_themes(strict, q) == ()
