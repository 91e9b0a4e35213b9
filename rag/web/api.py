"""The app's typed API (/ask, /ledger, /brief): documented parameters in view_api(), values checked as the UI and
the CLI check them (Filters.parse), with the same one-line messages."""

from __future__ import annotations

from typing import Any

from rag.models import DOCUMENT_KINDS, SECTION_KINDS
from rag.retrieve import EMPTY_BRIEF_TOPIC, EMPTY_LEDGER_TOPIC, MODES, clean_query
from rag.web.inputs import ASK_CONCURRENCY, parse_filters, shown
from rag.web.library import Library

CHOICES = {"sections": ", ".join(SECTION_KINDS), "modes": ", ".join(MODES), "kinds": ", ".join(DOCUMENT_KINDS)}
# The filter parameters every endpoint documents the same way (str.format fields of the docstrings).
FILTER_DOCS = """year_from: earliest year of publication (1900 to this year); None for any
            year_to: latest year of publication (1900 to this year); None for any
            area: local authority or partnership, as in the index; "" for any
            review_type: e.g. "serious case review"; "" for any
            keyword: a review keyword; "" for any
            section: only excerpts from this kind of section ({sections}); "" for any
            kind: only records of this kind ({kinds}); "" for any
            theme: a theme id or name, e.g. "hidden-men" (rla themes lists them); "" for any"""


def register(lib: Library) -> None:
    """Add /ask, /ledger and /brief to the Blocks being built, typed from these signatures (gradio's gr.api)."""
    import gradio as gr

    @shown(lib.public)
    def ask(
        question: str,
        year_from: int | None = None,
        year_to: int | None = None,
        area: str = "",
        review_type: str = "",
        keyword: str = "",
        section: str = "",
        mode: str = "hybrid",
        kind: str = "",
        theme: str = "",
    ) -> dict[str, Any]:
        """Answer a question from the indexed reviews with numbered citations, or abstain.

        Parameters:
            question: what to ask, e.g. "What did reviews say about professional curiosity?"
            {filters}
            mode: one of {modes}; hybrid by default
        Returns:
            the answer as Answer.to_dict(): question, answer, citations (with quote offsets), abstained, notice
        """
        q = clean_query(question or "")
        filters = parse_filters(year_from, year_to, area, review_type, keyword, kind, theme, section)
        return lib.answer(q, filters, mode or None)

    @shown(lib.public)
    def ledger(
        topic: str,
        year_from: int | None = None,
        year_to: int | None = None,
        area: str = "",
        review_type: str = "",
        keyword: str = "",
        section: str = "",
        kind: str = "",
        theme: str = "",
    ) -> dict[str, Any]:
        """Every review that addresses a topic, one excerpt each, with counts by year and by area.

        Parameters:
            topic: e.g. "was not brought"
            {filters}
        Returns:
            {{"topic", "reviews": [one entry per review], "by_year": {{year: n}}, "by_area": {{area: n}}}}
        """
        from rag.ledger import ledger as build

        filters = parse_filters(year_from, year_to, area, review_type, keyword, kind, theme, section)
        led = build(lib.current(), clean_query(topic or "", EMPTY_LEDGER_TOPIC), filters)
        return {
            "topic": led.topic,
            "reviews": [e.to_dict() for e in led.entries],
            "by_year": led.by_year,
            "by_area": led.by_area,
        }

    @shown(lib.public)
    def brief(
        topic: str,
        year_from: int | None = None,
        year_to: int | None = None,
        area: str = "",
        review_type: str = "",
        keyword: str = "",
        section: str = "",
        kind: str = "",
        theme: str = "",
    ) -> dict[str, Any]:
        """A trainers' briefing pack on a topic: cited learning points by theme, recommendations, vignettes,
        questions for discussion and references (no language model).

        Parameters:
            topic: e.g. "professional curiosity"
            {filters}
        Returns:
            {{"topic", "markdown": the pack as Markdown, "pack": the pack as data (themes, recommendations,
            vignettes, questions, references; every quote with its source offsets)}}
        """
        from rag import brief as briefing

        filters = parse_filters(year_from, year_to, area, review_type, keyword, kind, theme, section)
        pack = briefing.build_brief(
            lib.current(), clean_query(topic or "", EMPTY_BRIEF_TOPIC), filters if filters.active() else None
        )
        return {"topic": pack.topic, "markdown": briefing.render_markdown(pack), "pack": pack.to_dict()}

    for fn in (ask, ledger, brief):
        fn.__doc__ = (fn.__doc__ or "").format(filters=FILTER_DOCS.format(**CHOICES), **CHOICES)
    gr.api(ask, api_name="ask", concurrency_id="ask", concurrency_limit=ASK_CONCURRENCY)
    gr.api(ledger, api_name="ledger", concurrency_id="ask", concurrency_limit=ASK_CONCURRENCY)
    gr.api(brief, api_name="brief", concurrency_id="brief", concurrency_limit=2)
