"""Cited answers: only source sentences, every citation used and verbatim, honest abstention, the ledger;
coverage by kind, whole statements, near-duplicates merged, theme headings."""

from __future__ import annotations

import itertools
import re
from collections import Counter

from rag.answer import CASES_HEADING, answer, answer_markdown, cached_coverage, coverage_line
from rag.chunk import sentence_spans
from rag.ledger import ledger
from rag.models import AnswerCoverage, counted_as
from rag.quotes import MIN_WORDS, is_label, is_narrative, is_statement, overlap, statement_span, whole_item
from rag.retrieve import Filters, Retriever
from rag.story import case_names
from rag.themes import load_themes

HEADINGS = {f"{t.name[:1].upper()}{t.name[1:]}:" for t in load_themes()} | {
    "Other points:",
    "What the reviews found:",
    "What the reviews recommended:",
    CASES_HEADING,
}
FRAMING = re.compile(
    r"^(?:The closest excerpts, from \w+ reviews?:|Showing \d+ .* \(full list: rla ledger \".+\"\):|Note: .*)$"
)
BULLET = re.compile(r"- (.+?) \[(\d+)\](?:; also ((?:\[\d+\], )*\[\d+\]))?")


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
        if not line.strip() or FRAMING.match(line) or line in HEADINGS:
            continue
        m = BULLET.fullmatch(line)
        assert m, f"unexpected line: {line!r}"
        main = by_n[int(m.group(2))]
        assert m.group(1) == " ".join(main.quote.split()) and main.also_of is None
        also = [by_n[int(n)] for n in re.findall(r"\d+", m.group(3) or "")]
        # The other reviews making the same point: each cited once, its own quote kept, none the bullet's own review.
        assert all(a.also_of == main.n for a in also)
        reviews = [main.hit.chunk.review_id, *(a.hit.chunk.review_id for a in also)]
        assert len(reviews) == len(set(reviews))


def _as_printed(retriever, c) -> str:  # type: ignore[no-untyped-def]
    """A bullet's quote with the list punctuation that follows it in the source (shown without it)."""
    text = retriever.data.sources[c.hit.chunk.source].text
    end = c.end
    while end < len(text) and text[end] in ";,":
        end += 1
    return text[c.start : end]


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
        assert "no review in this collection" in ans.text.lower()
        assert answer_markdown(ans) == ans.text
    # a short question names its topic, and the refusal names it back
    assert answer(retriever, "What is the best recipe for banana bread?").text.startswith(
        "No review in this collection addresses “best recipe for banana bread”"
    )


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


# --- coverage by kind (issue 14 item 4) ---


def test_coverage_line_counts_by_kind_with_a_pointer_to_the_ledger() -> None:
    cov = AnswerCoverage("fathers", "fathers and male carers", (("review", 6),), (("review", 35), ("analysis", 1)))
    assert coverage_line(cov) == (
        "Showing 6 of the 35 reviews that address fathers and male carers; also 1 analysis "
        '(full list: rla ledger "fathers"):'
    )
    both = AnswerCoverage(
        "x", "x", (("review", 2), ("analysis", 1)), (("review", 9), ("briefing", 2), ("analysis", 1)), 1
    )
    assert coverage_line(both) == (
        "Showing 2 of the 9 reviews and the analysis that address x, and 1 more that matches the question in "
        'other words; also 2 briefings (full list: rla ledger "x"):'
    )
    one = AnswerCoverage("x", "x", (("review", 1),), (("review", 1),), 2)
    assert coverage_line(one).startswith("Showing 1 of 1 review that addresses x, and 2 more that match")
    assert coverage_line(AnswerCoverage("x", "x", (), (), 3)) == "The closest excerpts, from three reviews:"
    # None of those the ledger lists is quoted: its count stands apart, said once.
    none = AnswerCoverage("cme", "children missing education", (), (("review", 1),), 7)
    assert coverage_line(none) == (
        "Showing 7 reviews; 1 review in the collection addresses children missing education by name "
        '(full list: rla ledger "cme"):'
    )
    mixed = AnswerCoverage("x", "x", (), (("review", 3), ("analysis", 1)), 2)
    assert coverage_line(mixed).startswith("Showing 2 reviews; 3 reviews and 1 analysis in the collection address x")


def test_answer_coverage_is_the_ledger_count_by_kind(retriever) -> None:  # type: ignore[no-untyped-def]
    ans = answer(retriever, "What did reviews learn about fathers and men in the household?")
    _check_answer(retriever, ans)
    cov = ans.coverage
    assert cov is not None and ans.to_dict()["coverage"]["topic"] == cov.topic
    listed = ledger(retriever, cov.topic).entries
    assert dict(cov.total) == dict(Counter(counted_as(e.hit.chunk.kind) for e in listed))
    on_ledger = {e.review_id for e in listed}
    quoted = {c.hit.chunk.review_id for c in ans.citations}
    assert sum(n for _, n in cov.shown) == len(quoted & on_ledger) and cov.other == len(quoted - on_ledger)
    first = ans.text.splitlines()[0]
    reviews = dict(cov.total)["review"]
    assert first.startswith(f"Showing {dict(cov.shown)['review']} of the {reviews} reviews that address ")
    assert first.endswith(f'(full list: rla ledger "{cov.topic}"):')
    assert "1 analysis" in first  # the triennial analysis speaks of fathers too


def test_a_long_question_naming_no_theme_is_not_quoted_back_as_its_topic(retriever) -> None:  # type: ignore[no-untyped-def]
    question = "Did any reviews find that professionals relied on what the parents told them without checking it?"
    ans = answer(retriever, question)
    cov = cached_coverage(retriever, question)
    assert not ans.abstained and cov.ledger.entries
    assert not cov.asked and cov.label == "this question" and cov.topic.startswith("Did any reviews find")
    first = ans.text.splitlines()[0]
    shown, pointer = first.split(" (full list: ")
    assert shown.startswith("Showing ") and " that address this question" in shown, first
    assert "relied on" not in shown and "relied on" in pointer  # the full list is still that question's ledger
    # A short topic is still named: "Showing … that address <topic>".
    assert cached_coverage(retriever, "pets in the home").label == "pets in the home"


def test_coverage_is_remembered_per_index_question_and_filters(retriever) -> None:  # type: ignore[no-untyped-def]
    q = "What did reviews say about disguised compliance?"
    first = cached_coverage(retriever, q)
    assert cached_coverage(retriever, q) is first
    assert cached_coverage(retriever, q, Filters()) is first  # no active filter is no filter
    later = cached_coverage(retriever, q, Filters(year_from=2018))
    assert later is not first and len(later.ledger.entries) < len(first.ledger.entries)
    other = Retriever(retriever.settings, retriever.data)  # another loaded generation: its own cache
    assert cached_coverage(other, q) is not first


# --- whole statements, near-duplicates, theme headings (issue 14 item 6) ---


def test_label_lead_ins_are_left_out_and_content_lead_ins_kept() -> None:
    text = "Learning includes: practitioners should be alert to signs of disguised compliance by parents;"
    s, e = statement_span(text, 0, len(text))
    assert text[s:e] == "practitioners should be alert to signs of disguised compliance by parents;"
    text = "Recommendations include improved arrangements for: multi-agency working and information sharing;"
    assert statement_span(text, 0, len(text)) == (0, len(text))
    assert is_label("Key issues") and is_label("Recommendations include the need to")
    assert not is_label("Recommendations include improved arrangements for")


def test_a_short_line_without_an_end_is_a_label_not_a_statement(retriever) -> None:  # type: ignore[no-untyped-def]
    assert not is_statement("Multi-Agency Child Practice Review methodology")  # a "Model:" line of a listing
    assert is_statement("young carers were not always recognised as such;")
    assert is_statement("the review found that no agency had asked the young person about her caring role at home")
    # A question naming a record quotes its statements, not the line naming the review's model.
    ans = answer(retriever, "What did the Merton review say?")
    _check_answer(retriever, ans)
    assert ans.citations and all(is_statement(_as_printed(retriever, c)) for c in ans.citations), ans.text
    assert "methodology" not in ans.text


def test_a_run_of_short_list_items_is_topics_named_not_a_statement(retriever) -> None:  # type: ignore[no-untyped-def]
    assert not is_statement("hidden men; safeguarding children with disabilities;")  # the issue's example
    assert not is_statement("sibling domestic abuse; and professionals' understanding of neglect.")
    assert is_statement("hidden men; professionals did not know who the man living in the household was;")
    # The issue's question: its answer quotes what reviews said about men in the household, not the topic list.
    ans = answer(retriever, "mum's new boyfriend has moved in — what did reviews say about men in the household?")
    _check_answer(retriever, ans)
    assert ans.citations and all(is_statement(_as_printed(retriever, c)) for c in ans.citations), ans.text
    assert not any(c.quote.startswith("hidden men;") for c in ans.citations), ans.text
    # A list item is quoted without its list's ";" (verbatim still: `_check_answer`).
    assert not any(c.quote.rstrip()[-1] in ";," for c in ans.citations), ans.text


ISSUE_QUESTIONS = (
    "What did reviews recommend about sharing information between agencies?",
    "What did reviews learn about fathers and men in the household?",
    "What did reviews say about teenage self-harm?",
    "What should happen when a baby who can't crawl has a bruise?",
    "The family keeps agreeing to everything but nothing changes",
)


def test_every_bullet_is_a_whole_statement(retriever) -> None:  # type: ignore[no-untyped-def]
    for q in ISSUE_QUESTIONS:
        ans = answer(retriever, q)
        _check_answer(retriever, ans)
        for c in ans.citations:
            words = re.findall(r"\w+", c.quote)
            assert len(words) >= MIN_WORDS, (q, c.quote)
            assert not re.match(r"(?i)(?:learning|key issues|recommendations?)(?: includes?)?:", c.quote), c.quote


def test_a_point_several_reviews_make_is_one_bullet_citing_each(retriever) -> None:  # type: ignore[no-untyped-def]
    ans = answer(retriever, "What did reviews say about professional curiosity?")
    _check_answer(retriever, ans)
    also = [c for c in ans.citations if c.also_of is not None]
    assert also, ans.text
    by_n = {c.n: c for c in ans.citations}
    for a in also:
        main = by_n[a.also_of]
        assert a.hit.chunk.review_id != main.hit.chunk.review_id
        assert overlap(a.quote, main.quote) >= retriever.settings.duplicate_overlap
        assert f"[{a.n}]" in ans.text and a.quote not in ans.text.replace(main.quote, "")  # cited, not shown
        assert a.to_dict()["also_of"] == main.n
    # No two bullets make the same point.
    mains = [c for c in ans.citations if c.also_of is None]
    for i, x in enumerate(mains):
        for y in mains[i + 1 :]:
            assert overlap(x.quote, y.quote) < 0.9, (x.quote, y.quote)


def test_bullets_spanning_several_themes_stand_under_theme_headings(retriever) -> None:  # type: ignore[no-untyped-def]
    ans = answer(retriever, "mum's new boyfriend has moved in — what did reviews say about men in the household?")
    _check_answer(retriever, ans)
    lines = ans.text.splitlines()
    assert "Hidden men:" in lines and "Fathers and male carers:" in lines
    assert "What the reviews found:" not in lines
    themes = {t.name: t.id for t in load_themes()}
    for c in ans.citations:
        assert c.theme is None or themes[c.theme] in c.hit.chunk.themes
    # Learning first within each heading.
    for theme in {c.theme for c in ans.citations}:
        ranks = [_rank(retriever, c) for c in ans.citations if c.theme == theme and c.also_of is None]
        assert ranks == sorted(ranks), theme


def _rank(retriever, c) -> int:  # type: ignore[no-untyped-def]
    """Learning and findings 0, recommendations 1, key issues 2, case narrative 3."""
    names = case_names(retriever.data.reviews[c.hit.chunk.review_id])
    if is_narrative(c.hit.chunk.section, c.quote, names):
        return 3
    return {"learning": 0, "good practice": 0, "recommendations": 1}.get(c.hit.chunk.section, 2)


def test_the_facts_of_a_case_are_told_apart_after_what_reviews_found(retriever) -> None:  # type: ignore[no-untyped-def]
    """A practitioner's probe found "What the reviews found:" made mostly of case facts from key issues ("Mother
    became involved with a new partner and moved to a new area …"), before the learning, for a question that
    did not say "what did reviews say"."""
    for q in (
        "What did reviews say about babies sleeping in bed with their parents?",
        "What did reviews say about teenagers who self-harm or talk about killing themselves?",
        "What happens when mum's new boyfriend moves in and nobody checks him out?",
    ):
        ans = answer(retriever, q)
        _check_answer(retriever, ans)
        heading = None
        ranks: dict[str | None, list[int]] = {}
        by_n = {c.n: c for c in ans.citations}
        for line in ans.text.splitlines():
            m = BULLET.fullmatch(line)
            if line in HEADINGS:
                heading = line
            elif m:
                rank = _rank(retriever, by_n[int(m.group(2))])
                ranks.setdefault(heading, []).append(rank)
                if heading == "What the reviews found:":
                    assert rank != 3, (q, line)
                if heading == CASES_HEADING:
                    assert rank == 3, (q, line)
        assert all(r == sorted(r) for r in ranks.values()), (q, ranks)
    # The case facts are there, told as what happened.
    ans = answer(retriever, "What did reviews say about teenagers who self-harm or talk about killing themselves?")
    assert CASES_HEADING in ans.text.splitlines()


def test_a_sentence_that_goes_on_from_the_one_before_is_quoted_with_it(retriever) -> None:  # type: ignore[no-untyped-def]
    """A practitioner's probe found "This curiosity should be supplemented by robust challenge to fathers …"
    quoted alone, above the sentence that named the curiosity. A list's items are still quoted one by one."""
    ans = answer(retriever, "What did reviews say about engaging fathers and male carers in assessments?")
    _check_answer(retriever, ans)
    quotes = [c.quote for c in ans.citations]
    assert not any(q.startswith("This curiosity") for q in quotes)
    assert any(
        q.startswith("Professionals should ensure that they apply robust professional curiosity in relation to fathers")
        and q.endswith("regarding their parenting role.")
        for q in quotes
    ), quotes
    text = "Findings include: the power of the narrative; high caseloads in the team; poor recording.\n\nThis is new."
    spans = sentence_spans(text, 0, len(text))
    assert [text[slice(*whole_item(text, spans, i))] for i in range(len(spans))] == [
        "Findings include: the power of the narrative;",
        "high caseloads in the team;",
        "poor recording.",
        "This is new.",
    ]
    text = "Nobody asked who the man was. This meant the baby was at risk. 4. These are new. In some cases this grew."
    spans = sentence_spans(text, 0, len(text))
    assert whole_item(text, spans, 1) == (0, len("Nobody asked who the man was. This meant the baby was at risk."))
    # Its sentence before out of reach (in the chunk before), a sentence that goes on from it is not quoted when
    # its subject only points back; with its noun, it is quoted alone; a list's item without its "and".
    assert whole_item(text, spans[1:2], 0) is None
    text = "Babies cried often. Such cries give health visitors a chance to ask. It is important to listen."
    spans = sentence_spans(text, 0, len(text))
    assert text[slice(*whole_item(text, spans[1:], 0))] == "Such cries give health visitors a chance to ask."
    assert text[slice(*whole_item(text, spans, 2))] == "It is important to listen."
    text = "Learning: poor plans; weak reviews; and staff did not consider neglect when she was seen."
    spans = sentence_spans(text, 0, len(text))
    assert text[slice(*whole_item(text, spans[2:], 0))] == "staff did not consider neglect when she was seen."


def test_a_fact_of_the_case_is_told_in_the_past_and_learning_says_what_should_be() -> None:
    """A practitioner's probe found learning under "What happened in the cases:": "young teenagers are often
    unclear about consent." and "safeguarding children in migrant families could be improved by …" (key issues
    naming a group), and a summary's "… children's help seeking behaviour needs to be understood". A review
    weighing what may have been so is its finding, though it speaks of a parent in the past."""
    facts = ("Mother and her partner were imprisoned.", "Parents had a history of domestic abuse.")
    general = (
        "young teenagers are often unclear about consent.",
        "safeguarding children in migrant families could be improved by addressing cultural competence.",
        "the father's ready agreement to every plan may have reassured workers that the home was safer than it was.",
    )
    assert all(is_narrative("key issues", t, ()) for t in facts)
    assert not any(is_narrative("key issues", t, ()) for t in general)
    assert is_narrative("key issues", "Child J was seen twice by the GP.", ("Child J",))
    assert is_narrative("summary", "Death of a 3-month-old girl in March 2015.", ())
    assert not is_narrative("summary", "Children's help seeking behaviour needs to be understood by all agencies.", ())


def test_one_theme_answers_keep_found_and_recommended(retriever) -> None:  # type: ignore[no-untyped-def]
    ans = answer(retriever, "The family keeps agreeing to everything but nothing changes")
    lines = ans.text.splitlines()
    assert "What the reviews found:" in lines or "What the reviews recommended:" in lines
    assert not any(
        line in HEADINGS - {"What the reviews found:", "What the reviews recommended:", CASES_HEADING} for line in lines
    )


def test_a_question_about_recommendations_quotes_them_first(retriever) -> None:  # type: ignore[no-untyped-def]
    ans = answer(retriever, "What did reviews recommend about sharing information between agencies?")
    _check_answer(retriever, ans)
    headings = [line for line in ans.text.splitlines() if line in HEADINGS]
    mains = [c for c in ans.citations if c.also_of is None]
    if headings[0] == "What the reviews recommended:":  # one theme: recommendations are the first group
        assert mains[0].hit.chunk.section == "recommendations"
    recommended = sum(c.hit.chunk.section == "recommendations" for c in mains)
    assert recommended >= 3, ans.text


def test_a_quotation_is_quoted_whole() -> None:
    """The probe found "Substance and alcohol misuse was common, as were parental mental health concerns’ (p59)."
    quoted without the sentence that opens the triennial analysis's words, and "‘Many of these families …" without
    the one that closes them. A quotation within a quotation does not close it; an apostrophe closes nothing."""
    text = (
        "In the SUDI cases the families’ needs were high. ‘Many of these families moved often. Drug misuse was "
        "common, as were ‘hidden’ parents’ concerns’ (p59). The next point stands alone."
    )
    spans = sentence_spans(text, 0, len(text))
    quoted = "‘Many of these families moved often. Drug misuse was common, as were ‘hidden’ parents’ concerns’ (p59)."
    assert [text[slice(*whole_item(text, spans, i))] for i in range(len(spans))] == [
        "In the SUDI cases the families’ needs were high.",
        quoted,
        quoted,
        "The next point stands alone.",
    ]


def test_a_question_or_a_stray_quotation_mark_is_not_a_statement() -> None:
    """A practitioner's probe found "What is a serious case review?" (a heading of the triennial briefing) and
    "… that immigrant families may face: >" quoted as findings."""
    assert not is_statement("What is a serious case review?")
    assert not is_statement(
        "The report highlights a number of pressures and stresses that immigrant families may face: >"
    )
    # What a review says of itself is not learning: the probe found these under "What the reviews found".
    assert not is_statement("There are no recommendations in this overview.")
    assert not is_statement("This briefing is based on the findings of the Triennial Analysis of Serious Case Reviews.")
    assert is_statement("The review found that no agency had asked the young person about her caring role.")
    text = "> Encouraging a stance of professional curiosity and challenge from a supportive base."
    s, e = statement_span(text, 0, len(text))
    assert text[s:e] == "Encouraging a stance of professional curiosity and challenge from a supportive base."


def test_no_two_quotes_share_words(retriever) -> None:  # type: ignore[no-untyped-def]
    """ "The family keeps moving house" quoted a list's item and, below it, the list it closes: "effective transfer
    arrangements … when families move" twice."""
    for q in ("The family keeps moving house - what did reviews say?", *ISSUE_QUESTIONS):
        ans = answer(retriever, q)
        spans = sorted((c.hit.chunk.source, c.start, c.end) for c in ans.citations)
        for (a, s1, e1), (b, s2, _) in itertools.pairwise(spans):
            assert a != b or e1 <= s2, (q, a, s1, e1, s2)
