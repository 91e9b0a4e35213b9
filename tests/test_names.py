"""A question that names a record by its area or child ranks that record first (rag/names.py)."""

from __future__ import annotations

from dataclasses import replace

from rag.models import Review
from rag.names import NamedRecords, record_names
from rag.retrieve import Retriever


def _review(rid: str, title: str, area: str, child: str | None = None) -> Review:
    return Review(rid, title, 2017, area, None, (), None, "x.txt", 0, 1, (), child=child)


REVIEWS = [
    _review("durham-bailey", "Baby Bailey", "Durham"),
    _review("hull-j", "Baby J", "Hull"),
    _review("luton-j", "Child J", "Luton"),
    _review("somerset-lj", "Child L and Child J", "Somerset"),
    _review("cumbria-george", "George", "Cumbria"),
    _review("anon-m", "Serious Case Review: overview report", "Anonymous", child="Child M"),
    _review("national", "Triennial analysis 2011 2014 health briefing", "National"),
    _review("summary", "Learning summary", "Anonymous"),
]


def test_a_record_is_called_by_its_area_and_its_childs_pseudonym() -> None:
    by_id = {r.id: record_names(r) for r in REVIEWS}
    assert by_id["durham-bailey"] == {"Durham", "Baby Bailey"}
    assert by_id["somerset-lj"] == {"Somerset", "Child L", "Child J"}
    assert by_id["cumbria-george"] == {"Cumbria", "George"}
    assert by_id["anon-m"] == {"Child M"}  # "Anonymous" is no place
    assert by_id["national"] == set() and by_id["summary"] == set()


def test_a_question_names_records_as_whole_words_in_their_case() -> None:
    named = NamedRecords(REVIEWS).named
    assert named("In the Durham review of a 7-week-old, what was learned?") == {"durham-bailey"}
    assert named("What did the review of Child J find?") == {"luton-j", "somerset-lj"}
    assert named("what did child M's review say about fathers?") == {"anon-m"}  # a pseudonym may start lower case
    # A place is a name only as printed, and only as a whole word.
    assert named("damage to the hull of a boat") == frozenset()
    assert named("Hullabaloo at Georgetown") == frozenset()
    assert named("What did reviews say about learning summaries and national analyses?") == frozenset()
    assert NamedRecords([]).named("Durham") == frozenset()


def test_named_reviews_rank_first_in_their_own_order(retriever) -> None:  # type: ignore[no-untyped-def]
    chunks = retriever.data.chunks
    by_review: dict[str, list[int]] = {}
    for i, c in enumerate(chunks):
        by_review.setdefault(c.review_id, []).append(i)
    (a, rows_a), (b, rows_b), (c, rows_c) = list(by_review.items())[:3]
    ranked = [(rows_a[0], 0.9), (rows_b[0], 0.8), (rows_c[0], 0.1)]
    plain = Retriever(replace(retriever.settings, review_second_weight=0.0), retriever.data)
    assert [h.chunk.review_id for h in plain._diversify(ranked, 10, 1)] == [a, b, c]
    hits = plain._diversify(ranked, 10, 1, named=frozenset({c}))
    assert [h.chunk.review_id for h in hits] == [c, a, b]
    assert [h.score for h in hits] == [0.1, 0.9, 0.8] and [h.rank for h in hits] == [1, 2, 3]
    # A name the candidates do not hold changes nothing.
    assert [h.chunk.review_id for h in plain._diversify(ranked, 10, 1, named=frozenset({"elsewhere"}))] == [a, b, c]


def test_a_question_naming_an_area_gets_that_areas_review_first(retriever) -> None:  # type: ignore[no-untyped-def]
    question = "What did the Durham review learn about where babies sleep?"
    for mode in ("dense", "bm25", "hybrid"):
        assert retriever.search(question, mode=mode)[0].chunk.review_id == "2017-durham-baby-bailey", mode
    # Without the name the same question is about safe sleep in general, where other reviews come first.
    assert retriever.search(question.replace("the Durham", "a"))[0].chunk.review_id != "2017-durham-baby-bailey"


def test_a_records_passages_best_first_within_the_filters(retriever) -> None:  # type: ignore[no-untyped-def]
    from rag.retrieve import Filters

    merton = frozenset({"2017-merton-child-b"})
    qv = retriever.embed_queries(["young carers looking after a parent"])[0]
    hits = retriever.record_passages(merton, qv, None, 20)
    rows = [c for c in retriever.data.chunks if c.review_id in merton]
    assert len(hits) == len(rows) > 3 and {h.chunk.review_id for h in hits} == merton
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert len(retriever.record_passages(merton, qv, None, 2)) == 2
    assert retriever.record_passages(merton, qv, Filters(year_from=2020), 20) == []
    assert retriever.record_passages(frozenset({"no-such-record"}), qv, None, 20) == []


def test_a_question_naming_a_record_is_answered_from_that_record(retriever) -> None:  # type: ignore[no-untyped-def]
    from rag.answer import answer
    from rag.models import SectionKind
    from rag.retrieve import Filters

    merton = "2017-merton-child-b"
    # Loosely worded: its other words match nothing well ("my manager", "team meetings", "what went wrong").
    for question in (
        "My manager keeps bringing up the Merton case at team meetings. What did Merton learn?",
        "What did the Merton review say?",
        "Anything from Merton on what went wrong?",
    ):
        ans = answer(retriever, question)
        assert not ans.abstained, question
        assert ans.citations and {c.hit.chunk.review_id for c in ans.citations} == {merton}, question
        assert not ans.text.startswith("Note:"), question  # no weak-match notice: the record is the answer
    learned = answer(retriever, "My manager keeps bringing up the Merton case at team meetings. What did Merton learn?")
    # Its learning, not only its case summary, and more than the usual three statements of one review.
    assert any(c.hit.chunk.section == SectionKind.LEARNING for c in learned.citations)
    assert len(learned.citations) > retriever.settings.answer_quotes_per_review
    # A filter that leaves the record out: the question is an ordinary one again, refused as before.
    later = answer(retriever, "What did the Merton review say?", filters=Filters(year_from=2020))
    assert merton not in {c.hit.chunk.review_id for c in later.citations}
