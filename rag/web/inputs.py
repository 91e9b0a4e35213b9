"""The web app's edge: filter inputs and their choices from the index, parsed once; errors shown as messages."""

from __future__ import annotations

import functools
import html
import logging
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import gradio as gr

from rag.errors import RlaError
from rag.models import SECTION_KINDS
from rag.retrieve import Filters
from rag.store import IndexData
from rag.web.html import one_line

log = logging.getLogger("rla.web")

ANY = ("Any", "")
# How many answers (and ledgers) run at once: the retriever is read-only once loaded and its caches are
# thread-safe, but each answer holds the interpreter for most of its ~30 ms, so more threads only lengthen the tail.
ASK_CONCURRENCY = int(os.environ.get("RLA_WEB_CONCURRENCY", "4"))

F = TypeVar("F", bound=Callable[..., Any])


def shown(public: Callable[[str], str]) -> Callable[[F], F]:
    """Turn library errors into a visible message with server paths made `public`, and anything else into a short
    one; the full error goes to the server log."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except gr.Error:
                raise
            except RlaError as e:
                log.info("%s: %s", fn.__name__, e)
                message = html.escape(public(str(e)), quote=False)
                raise gr.Error(message, title="Cannot do that", print_exception=False) from None
            except Exception as e:
                log.exception("unexpected error in %s", fn.__name__)
                raise gr.Error(
                    f"Unexpected error ({type(e).__name__}); the details are in the server log.", print_exception=False
                ) from None

        return wrapper  # type: ignore[return-value]

    return decorate


def parse_filters(
    year_from: str | int | None = None,
    year_to: str | int | None = None,
    area: str | None = None,
    review_type: str | None = None,
    keyword: str | None = None,
    section: str | None = None,
) -> Filters:
    """Filters from the form or the API (Filters.parse checks them, as it does the CLI's)."""
    return Filters.parse(
        {
            "year_from": year_from,
            "year_to": year_to,
            "area": area,
            "type": review_type,
            "keyword": keyword,
            "section": section,
        }
    )


def filter_choices(data: IndexData | None) -> dict[str, list[tuple[str, str]]]:
    """Dropdown choices (label, value) for years, and for area, type and keyword most common first, with counts."""
    reviews = list(data.reviews.values()) if data else []

    def counted(values: list[str]) -> list[tuple[str, str]]:
        c = Counter(v for v in values if v)
        return [ANY] + [
            (f"{one_line(v)} ({n})", v) for v, n in sorted(c.items(), key=lambda kv: (-kv[1], kv[0].lower()))
        ]

    years = [ANY] + [(str(y), str(y)) for y in sorted({r.year for r in reviews if r.year}, reverse=True)]
    return {
        "year_from": years,
        "year_to": years,
        "area": counted([r.area for r in reviews]),
        "type": counted([r.type or "" for r in reviews]),
        "keyword": counted([k for r in reviews for k in r.keywords]),
    }


@dataclass
class FilterInputs:
    year_from: gr.Dropdown
    year_to: gr.Dropdown
    area: gr.Dropdown
    review_type: gr.Dropdown
    keyword: gr.Dropdown
    section: gr.Dropdown | None

    @property
    def inputs(self) -> list[Any]:
        out = [self.year_from, self.year_to, self.area, self.review_type, self.keyword]
        return out + ([self.section] if self.section is not None else [])

    @property
    def from_index(self) -> dict[str, gr.Dropdown]:
        """The inputs whose choices come from the index, by filter_choices key."""
        return {
            "year_from": self.year_from,
            "year_to": self.year_to,
            "area": self.area,
            "type": self.review_type,
            "keyword": self.keyword,
        }


def filter_inputs(prefix: str, section: bool = True, one_row: bool = False) -> FilterInputs:
    """Year range, area, type, keyword (and section) inputs; choices are filled from the index on page load.

    Free text is allowed (the filter parser validates it), so API callers are not bound to the choices of the
    index as it was when the page was built."""

    def pick(label: str, suffix: str, choices: list[tuple[str, str]] | None = None, custom: bool = True) -> gr.Dropdown:
        return gr.Dropdown(
            choices or [ANY],
            value="",
            label=label,
            allow_custom_value=custom,
            elem_id=f"{prefix}-{suffix}",
            min_width=110,
        )

    def years() -> tuple[gr.Dropdown, gr.Dropdown]:
        return pick("From year", "year-from"), pick("To year", "year-to")

    if one_row:  # inside the caller's row
        (year_from, year_to), area = years(), pick("Area", "area")
        review_type, keyword, sec = pick("Review type", "type"), pick("Keyword", "keyword"), None
    else:
        with gr.Row():
            (year_from, year_to), area = years(), pick("Area", "area")
        with gr.Row():
            review_type, keyword = pick("Review type", "type"), pick("Keyword", "keyword")
            sec = pick("Section", "section", [ANY] + [(s, s) for s in SECTION_KINDS], custom=False) if section else None
    return FilterInputs(year_from, year_to, area, review_type, keyword, sec)
