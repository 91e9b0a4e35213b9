"""What the ledger remembers per loaded index (a theme's ledger, which reviews contain a phrase) is never served
from an older generation: an ingest that changes a review shows in the next request's ledger and coverage.

Real two-file index, real model, real ingest."""

from __future__ import annotations

from pathlib import Path

from rag.answer import answer, cached_coverage
from rag.ingest import ingest
from rag.ledger import ledger, reviews_with, warm_ledgers
from rag.settings import Settings
from rag.themes import load_themes
from rag.web.library import Library

CHANGED = "nspcc-repository-march-2022.txt"
BEFORE = "agencies obtain independent verification of information"
AFTER = "agencies consider the risk of female genital mutilation and obtain independent verification of information"
QUESTION = "What did reviews say about female genital mutilation?"
THEME = "harmful practices and honour-based abuse"


def test_an_ingest_that_changes_a_review_shows_in_the_next_ledger_and_coverage(
    small_copy: Settings, tmp_path: Path
) -> None:
    lib = Library(small_copy, tmp_path / "questions.jsonl")
    first = lib.current()
    warm_ledgers(first)  # as the answer workers do at start
    theme_ledger = ledger(first, THEME)
    assert ledger(first, THEME) is theme_ledger  # remembered for this generation
    assert not theme_ledger.entries and not ledger(first, "female genital mutilation").entries
    assert not reviews_with(first, ("female genital mutilation",))
    cov = cached_coverage(first, QUESTION)
    assert cov.uncovered  # no review of this collection addresses it yet
    assert answer(first, QUESTION).abstained

    path = small_copy.corpus / CHANGED
    text = path.read_text(encoding="utf-8")
    assert text.count(BEFORE) == 1
    path.write_text(text.replace(BEFORE, AFTER), encoding="utf-8")
    report = ingest(small_copy)
    assert report.changed and any(f.source == CHANGED and f.status != "unchanged" for f in report.files)

    served = lib.current()
    assert served is not first and served.data.path.name == report.generation
    changed = {c.review_id for c in served.data.chunks if "female genital mutilation" in c.text}
    assert len(changed) == 1
    assert {e.review_id for e in ledger(served, "female genital mutilation").entries} == changed
    assert reviews_with(served, ("female genital mutilation",)) == changed
    cov = cached_coverage(served, QUESTION)
    assert not cov.uncovered  # addressed now (the theme's own ledger lists a passage only when it is on the theme)
    assert ledger(served, THEME) is not theme_ledger
    assert {c.hit.chunk.review_id for c in answer(served, QUESTION).citations} >= changed
    # The generation a request began with keeps its own answers whole.
    assert ledger(first, THEME) is theme_ledger and not ledger(first, "female genital mutilation").entries
    assert THEME in {t.name for t in load_themes()}
