"""Cited answers: only source sentences, every citation used and verbatim, honest abstention, the ledger."""

from __future__ import annotations

import re

from rag.answer import answer, answer_markdown
from rag.ledger import ledger
from rag.retrieve import Filters

FRAMING = re.compile(
    r"^(?:\w+ reviews? discuss(?:es)? this:|Showing \d+ .* \(full list: rla ledger \".+\"\):"
    r"|Note: .*|What the reviews (?:found|recommended):)$"
)


def _check_answer(retriever, ans) -> None:  # type: ignore[no-untyped-def]
    assert not ans.abstained and ans.citations
    numbers = [c.n for c in ans.citations]
    assert numbers == list(range(1, len(numbers) + 1))
    used = {int(n) for n in re.findall(r"\[(\d+)\]", ans.text)}
    assert used == set(numbers), "every listed citation is used, and only those"
    by_n = {c.n: c for c in ans.citations}
    for c in ans.citations:
        src = retriever.data.sources[c.hit.chunk.source]
        assert src.text[c.start : c.end] == c.quote
        assert c.hit.chunk.start <= c.start < c.end <= c.hit.chunk.end
    for line in ans.text.splitlines():
        if not line.strip() or FRAMING.match(line):
            continue
        m = re.fullmatch(r"- (.+) \[(\d+)\]", line)
        assert m, f"unexpected line: {line!r}"
        assert m.group(1) == " ".join(by_n[int(m.group(2))].quote.split())


def test_answer_is_made_of_cited_source_sentences(retriever) -> None:  # type: ignore[no-untyped-def]
    for q in (
        "what did reviews say about fathers?",
        "parents who seem to cooperate but nothing changes for the children",
        "What should happen when a baby under six months has a bruise?",
    ):
        _check_answer(retriever, answer(retriever, q))


def test_answer_json_shape(retriever) -> None:  # type: ignore[no-untyped-def]
    d = answer(retriever, "interpreters for families whose first language is not English").to_dict()
    assert set(d) >= {"question", "answer", "citations", "abstained"}
    c = d["citations"][0]
    assert set(c) >= {
        "n",
        "quote",
        "review_id",
        "title",
        "year",
        "area",
        "section",
        "source",
        "page",
        "start",
        "end",
        "text",
    }
    ids = {c["review_id"] for c in d["citations"]}
    assert ids & {
        "2017-birmingham-child-s",
        "2017-liverpool-chris",
        "2018-anonymous-charlie-and-sam",
        "2018-charlie-and-sam",
    }


def test_filtered_answer_cites_only_matching_reviews(retriever) -> None:  # type: ignore[no-untyped-def]
    ans = answer(
        retriever,
        "what was recommended about neglect?",
        filters=Filters.parse({"section": "recommendations", "year_to": 2017}),
    )
    _check_answer(retriever, ans)
    assert all(c.hit.chunk.section == "recommendations" and c.hit.chunk.year <= 2017 for c in ans.citations)


def test_abstains_when_the_corpus_does_not_cover_it(retriever) -> None:  # type: ignore[no-untyped-def]
    for q in ("What is the best recipe for banana bread?", "How do I reset my router password?"):
        ans = answer(retriever, q)
        assert ans.abstained and not ans.citations
        assert "does not answer" in ans.text and "no review in this collection" in ans.text
        assert answer_markdown(ans) == ans.text


def test_ledger_lists_every_review_mentioning_the_topic(retriever) -> None:  # type: ignore[no-untyped-def]
    led = ledger(retriever, "disguised compliance")
    ids = {e.review_id for e in led.entries}
    # Every review whose own text says "disguised compliance" is on the ledger.
    mentioning = {
        r.id
        for r in retriever.data.reviews.values()
        if any(
            "disguised compliance" in retriever.data.sources[r.source].text[s.start : s.end].lower() for s in r.sections
        )
    }
    assert len(mentioning) >= 5
    assert mentioning <= ids
    assert len(ids) == len(led.entries)  # one excerpt per review
    assert sum(led.by_year.values()) == len(led.entries) == sum(led.by_area.values())
    for e in led.entries:
        src = retriever.data.sources[e.hit.chunk.source]
        assert src.text[e.hit.chunk.start : e.hit.chunk.end] == e.hit.chunk.text


def test_ledger_respects_filters(retriever) -> None:  # type: ignore[no-untyped-def]
    led = ledger(retriever, "disguised compliance", Filters.parse({"year_from": 2018}))
    assert led.entries and all(e.year and e.year >= 2018 for e in led.entries)
