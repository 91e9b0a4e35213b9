"""Filters by what a record is (kind) and by theme, from the CLI, the app's inputs and the API alike; the app's
facet counts come from the index being served."""

from __future__ import annotations

from collections import Counter

import pytest

from rag.errors import QueryError
from rag.models import DOCUMENT_KINDS
from rag.retrieve import Filters, Retriever
from rag.web.inputs import FILTER_KEYS, filter_choices, parse_filters


def test_kind_is_parsed_checked_and_matched(retriever: Retriever) -> None:
    data = retriever.data
    kinds = Counter(r.kind for r in data.reviews.values())
    for kind, n in kinds.items():
        f = Filters.parse({"kind": kind.upper()})
        assert f.kind == kind
        assert sum(f.mask(list(data.reviews.values()))) == n
        assert all(c.kind == kind for c, keep in zip(data.chunks, f.mask(data.chunks), strict=True) if keep)
    assert Filters.parse({"kind": "listing"}).kind == "listing entry"
    with pytest.raises(QueryError, match="unknown kind 'minutes'; choose one of: review, briefing"):
        Filters.parse({"kind": "minutes"})


def test_search_and_answers_keep_to_the_kind(retriever: Retriever) -> None:
    from rag.answer import answer

    kind = Counter(r.kind for r in retriever.data.reviews.values()).most_common()[-1][0]
    hits = retriever.search("neglect", k=10, filters=Filters(kind=kind))
    assert hits and {h.chunk.kind for h in hits} == {kind}
    ans = answer(retriever, "What did reviews find about neglect?", filters=Filters(kind=kind))
    assert {c.hit.chunk.kind for c in ans.citations} <= {kind}


def test_the_cli_has_a_kind_filter(capsys: pytest.CaptureFixture[str]) -> None:
    from rag.cli import FILTER_OPTIONS, build_parser

    assert "kind" in [name for name, _, _ in FILTER_OPTIONS]
    args = build_parser().parse_args(["search", "neglect", "--kind", "analysis"])
    assert args.filter_kind == "analysis"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["search", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert f"--kind KIND what the record is: {', '.join(DOCUMENT_KINDS)}" in shown


def test_form_values_in_filter_keys_order_and_api_names_give_the_same_filters() -> None:
    values = ["2015", "2020", "Croydon", "serious case review", "neglect", "analysis", "hidden-men", "findings"]
    by_form = parse_filters(*values)
    by_name = parse_filters(
        **{("review_type" if k == "type" else k): v for k, v in zip(FILTER_KEYS, values, strict=True)}
    )
    assert by_form == by_name
    assert (by_form.kind, by_form.theme, by_form.section, by_form.year_to) == (
        "analysis",
        "hidden-men",
        "learning",
        2020,
    )
    assert parse_filters("2015", "", "", "", "") == Filters(year_from=2015)  # the Reviews tab has no section


def test_facets_count_the_records_of_the_index_for_every_filter(retriever: Retriever) -> None:
    from rag.themes import load_themes

    reviews = list(retriever.data.reviews.values())
    ch = filter_choices(retriever.data)
    assert set(ch) == set(FILTER_KEYS)
    for key, choices in ch.items():
        assert choices[0] == ("Any", ""), key
        for label, value in choices[1:]:
            n = int(label.rsplit("(", 1)[1].rstrip(")"))
            # Each count is the number of records the filter keeps, so choosing the value shows that many.
            raw = {"year_from": value, "year_to": value} if key.startswith("year") else {key: value}
            assert sum(Filters.parse(raw).mask(reviews)) == n, (key, value, label)
    themes = Counter(t for r in reviews for t in r.themes)
    names = {t.id: t.name for t in load_themes()}
    (top, n), *_ = sorted(themes.items(), key=lambda kv: (-kv[1], names[kv[0]].lower()))
    assert ch["theme"][1] == (f"{names[top]} ({n})", top)  # most common first, named, valued by id
    assert [v for _, v in ch["kind"][1:]] == [k for k in DOCUMENT_KINDS if any(r.kind == k for r in reviews)]
    assert filter_choices(None)["theme"] == [("Any", "")]
