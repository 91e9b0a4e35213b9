"""The ledger's rule: a topic counts as a phrase (never a bag of words), aliases count, excerpts show the match."""

from __future__ import annotations

import re

from rag.answer import answer, answer_markdown
from rag.ledger import coverage, excerpt, ledger, ledger_text, topic_phrases
from rag.themes import phrase_spans, question_themes


def test_a_phrase_matches_in_order_not_as_a_bag_of_words() -> None:
    text = "Child S had been brought to live in the UK. Criminal charges were brought. She was not brought to clinic."
    spans = phrase_spans(text, ("was not brought",))
    assert [text[s:e] for s, e in spans] == ["was not brought"]
    assert phrase_spans("The charges brought were not pursued.", ("was not brought",)) == []


def test_inflections_and_one_word_between_are_allowed_but_not_more() -> None:
    text = "He misses his appointments. Appointments were missed."
    assert [text[s:e] for s, e in phrase_spans(text, ("missed appointments",))] == ["misses his appointments"]
    assert phrase_spans("she missed all of her appointments", ("missed appointments",)) == []


def test_a_phrase_does_not_run_on_across_a_comma_a_slash_or_a_sentence() -> None:
    """Found by a probe of typed topics: "young carers" listed "educate children, young people, carers and
    parents", and "parent carers" every "parents/carers"."""
    assert phrase_spans("we must educate children, young people, carers and parents", ("young carers",)) == []
    assert phrase_spans("engagement with parents/carers was poor", ("parent carers",)) == []
    assert phrase_spans("He was not. Brought up by his aunt, he", ("was not brought",)) == []
    text = "young carers were not recognised; a co-sleeping death; the young\ncarers' needs"
    assert [text[s:e] for s, e in phrase_spans(text, ("young carers", "co-sleeping"))] == [
        "young carers",
        "co-sleeping",
        "young\ncarers",  # a hard-wrapped line is one sentence still
    ]
    # A term with a comma matches the same comma: "gypsy, roma and traveller".
    assert phrase_spans("Gypsy, Roma and Traveller families", ("gypsy, roma and traveller",))


def test_inside_a_phrase_one_preposition_stands_for_another(retriever) -> None:  # type: ignore[no-untyped-def]
    """A trainer found Nolan's "make the reporting of bruising to non-mobile babies mandatory" missing from the
    pack on bruising in non-mobile babies."""
    text = "make the reporting of bruising to non-mobile babies mandatory; capacity for change"
    found = phrase_spans(text, ("bruising in non-mobile babies", "capacity to change"))
    assert [text[s:e] for s, e in found] == ["bruising to non-mobile babies", "capacity for change"]
    assert phrase_spans("babies were bruised", ("bruising in non-mobile babies",)) == []
    assert "2017-central-bedfordshire-nolan" in {e.review_id for e in ledger(retriever, "bruising in babies").entries}


def test_a_synonym_of_part_of_a_topic_is_the_whole_topic_in_other_words() -> None:
    from rag.lexical import topic_variants

    variants = topic_variants("domestic abuse training")
    assert "domestic violence training" in variants and "dv training" in variants
    assert "domestic violence" not in variants  # a part of the topic is not the topic
    assert {"dna", "was not brought", "missed appointments"} <= set(topic_variants("did not attend"))


def test_an_alias_saying_more_than_its_theme_lists_its_own_words(retriever) -> None:  # type: ignore[no-untyped-def]
    """`rla ledger alcohol` listed every review on parental substance misuse, methadone deaths included; an alias
    in the words of its theme's name ("substance misuse", "fathers") is the theme."""
    theme = {e.review_id for e in ledger(retriever, "parental substance misuse").entries}
    assert {e.review_id for e in ledger(retriever, "substance misuse").entries} == theme
    alcohol = ledger(retriever, "alcohol")
    assert alcohol.entries and len(alcohol.entries) < len(theme)
    for e in alcohol.entries:
        text = retriever.data.sources[e.hit.chunk.source].text
        assert any("alcohol" in text[s:t].lower() for s, t in e.marks), e.review_id
    # "missing children", an alias of children who go missing, was not one and listed neglect by meaning.
    missing = ledger(retriever, "missing children")
    assert "2017-trafford-child-pb" in {e.review_id for e in missing.entries}  # "PB went missing several times"
    assert "neglect" not in missing.phrases and all(e.marks for e in missing.entries)


def test_an_acronyms_plural_is_its_singular_but_mrs_is_not_mr() -> None:
    text = "GPs should coordinate care. The GP did not. Two SCRs said so. Mrs A and Mr B."
    assert [text[s:e] for s, e in phrase_spans(text, ("GP",))] == ["GPs", "GP"]
    assert [text[s:e] for s, e in phrase_spans(text, ("GPs",))] == ["GPs", "GP"]
    assert [text[s:e] for s, e in phrase_spans(text, ("serious case review", "SCR"))] == ["SCRs"]
    assert [text[s:e] for s, e in phrase_spans(text, ("Mr",))] == ["Mr"]


def test_gp_and_gps_list_the_same_reviews(retriever) -> None:  # type: ignore[no-untyped-def]
    """A user's "GPs" and "GP" are one topic (the stemmer keeps a vowel-less word's "s": the postings and the
    phrase rule read the two as one)."""
    one, many = ledger(retriever, "GP"), ledger(retriever, "GPs")
    assert one.entries and {e.review_id for e in one.entries} == {e.review_id for e in many.entries}
    plural_only = [e for e in many.entries if "GPs" in e.hit.chunk.text and not re.search(r"\bGP\b", e.hit.chunk.text)]
    assert plural_only  # a review that says only "GPs" is listed for "GP" too


def test_question_themes_come_from_names_aliases_and_phrasings() -> None:
    assert "harmful-practices" in {t.id for t in question_themes("What did reviews say about FGM?")}
    assert "hidden-men" in {t.id for t in question_themes("mum's new boyfriend has moved in")}
    assert question_themes("At what age should children start swimming lessons?") == ()


def test_topic_phrases_hold_synonyms_and_the_theme_aliases() -> None:
    phrases = topic_phrases("was not brought")
    assert {"was not brought", "did not attend", "missed appointments"} <= set(phrases)


def test_was_not_brought_lists_only_reviews_that_say_it(retriever) -> None:  # type: ignore[no-untyped-def]
    led = ledger(retriever, "was not brought")
    assert led.entries
    for e in led.entries:
        src = retriever.data.sources[e.hit.chunk.source].text
        assert e.marks, e.review_id
        marked = [" ".join(src[s:end].lower().split()) for s, end in e.marks]
        # every mark is one of the phrases (stemmed), never "brought to live" or "brought together"
        assert all("brought to" not in m and "brought together" not in m for m in marked), marked
        assert all(e.hit.chunk.start <= s < end <= e.hit.chunk.end for s, end in e.marks)
    text = ledger_text(led)
    assert "«" in text and "»" in text
    d = led.to_dict()
    assert d["reviews"] == len(led.entries) and all(entry["marks"] for entry in d["entries"])


def test_excerpt_is_never_cut_before_the_phrase() -> None:
    text = "x " * 400 + "the child was not brought to the clinic " + "y " * 400
    start = text.index("was not brought")
    out = excerpt(text, 1000, ((1000 + start, 1000 + start + len("was not brought")),))
    assert "«was not brought»" in out and out.startswith("… ") and out.endswith(" …")


def test_a_topic_no_review_names_is_silent_and_named(retriever) -> None:  # type: ignore[no-untyped-def]
    cov = coverage(retriever, "What did reviews say about female genital mutilation?")
    assert cov.silent and cov.uncovered == ("female genital mutilation",)
    ans = answer(retriever, "What did reviews say about female genital mutilation?")
    assert ans.abstained and not ans.citations
    assert ans.text.startswith("No review in this collection addresses “female genital mutilation”.")


def test_a_covered_question_in_other_words_is_answered_with_its_coverage(retriever) -> None:  # type: ignore[no-untyped-def]
    for q in ("What role did the GP have in these cases?", "What did reviews say about GPs?"):
        ans = answer(retriever, q)
        assert not ans.abstained, q
        first = ans.text.splitlines()[0]
        m = re.match(r"Showing (\d+) (?:of the (\d+) reviews|reviews?; (\d+) .+? in the collection)", first)
        assert m, first
        assert 'rla ledger "' in first
    ans = answer(retriever, "mum's new boyfriend has moved in — what did reviews say about men in the household?")
    assert "hidden men" in ans.text.splitlines()[0]


def test_a_notice_comes_before_any_bullet(retriever) -> None:  # type: ignore[no-untyped-def]
    ans = answer(retriever, "What did reviews say about FGM and fathers?")
    assert not ans.abstained
    first = ans.text.splitlines()[0]
    assert first.startswith("Note: ") and "No review in this collection addresses “FGM”." in first
    md = answer_markdown(ans)
    assert md.index("Note:") < md.index("\n- ")


def test_a_topic_answered_in_other_words_is_not_said_to_be_addressed_by_none(retriever) -> None:  # type: ignore[no-untyped-def]
    """ "Note: No review in this collection addresses “dogs and babies”." came before Baby A's recommendation on
    "unsupervised dogs": the phrase is in no review, the topic is."""
    ans = answer(retriever, "What did reviews say about dogs and babies?")
    assert not ans.abstained and ans.citations
    first = ans.text.splitlines()[0]
    assert first == "Note: No review uses the phrase “dogs and babies”; the excerpts below are the closest in meaning."
    assert "addresses “dogs and babies”" not in ans.text
