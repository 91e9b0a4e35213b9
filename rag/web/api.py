"""The app's typed API (/ask, /ledger): documented parameters in view_api(), values checked as the UI checks them."""

from __future__ import annotations

from typing import Any

from rag.models import SECTION_KINDS
from rag.retrieve import MODES, clean_query
from rag.web.inputs import ASK_CONCURRENCY, parse_filters, shown
from rag.web.library import Library

CHOICES = {"sections": ", ".join(SECTION_KINDS), "modes": ", ".join(MODES)}


def register(lib: Library) -> None:
    """Add /ask and /ledger to the Blocks being built, typed from these signatures (gradio's gr.api)."""
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
    ) -> dict[str, Any]:
        """Answer a question from the indexed reviews with numbered citations, or abstain.

        Parameters:
            question: what to ask, e.g. "What did reviews say about professional curiosity?"
            year_from: earliest year of publication (1900 to this year); None for any
            year_to: latest year of publication (1900 to this year); None for any
            area: local authority or partnership, as in the index; "" for any
            review_type: e.g. "serious case review"; "" for any
            keyword: a review keyword; "" for any
            section: only excerpts from this kind of section ({sections}); "" for any
            mode: one of {modes}; hybrid by default
        Returns:
            the answer as Answer.to_dict(): question, answer, citations (with quote offsets), abstained, notice
        """
        from rag.answer import answer

        q = clean_query(question or "")
        filters = parse_filters(year_from, year_to, area, review_type, keyword, section)
        return answer(lib.current(), q, filters=filters, mode=mode or None).to_dict()

    @shown(lib.public)
    def ledger(
        topic: str,
        year_from: int | None = None,
        year_to: int | None = None,
        area: str = "",
        review_type: str = "",
        keyword: str = "",
        section: str = "",
    ) -> dict[str, Any]:
        """Every review that addresses a topic, one excerpt each, with counts by year and by area.

        Parameters:
            topic: e.g. "was not brought"
            year_from: earliest year of publication (1900 to this year); None for any
            year_to: latest year of publication (1900 to this year); None for any
            area: local authority or partnership; "" for any
            review_type: e.g. "serious case review"; "" for any
            keyword: a review keyword; "" for any
            section: only excerpts from this kind of section ({sections}); "" for any
        Returns:
            {{"topic", "reviews": [one entry per review], "by_year": {{year: n}}, "by_area": {{area: n}}}}
        """
        from rag.ledger import ledger as build

        filters = parse_filters(year_from, year_to, area, review_type, keyword, section)
        led = build(lib.current(), clean_query(topic or ""), filters)
        return {
            "topic": led.topic,
            "reviews": [e.to_dict() for e in led.entries],
            "by_year": led.by_year,
            "by_area": led.by_area,
        }

    for fn in (ask, ledger):
        fn.__doc__ = (fn.__doc__ or "").format(**CHOICES)
    gr.api(ask, api_name="ask", concurrency_id="ask", concurrency_limit=ASK_CONCURRENCY)
    gr.api(ledger, api_name="ledger", concurrency_id="ask", concurrency_limit=ASK_CONCURRENCY)
