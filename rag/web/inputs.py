"""The web app's edge: filter inputs and their choices from the index, parsed once; errors shown as messages."""

from __future__ import annotations

import contextlib
import functools
import html
import logging
import os
import typing
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr

from rag.errors import RlaError
from rag.models import DOCUMENT_KINDS, SECTION_KINDS
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

        # Gradio reads a handler's type hints at every call; as strings (`from __future__ import annotations`)
        # each read evaluates them again. Evaluated once here, the same hints.
        with contextlib.suppress(NameError, TypeError):
            wrapper.__annotations__ = typing.get_type_hints(fn)
        return wrapper  # type: ignore[return-value]

    return decorate


# The filters a tab offers, in the order its inputs are listed and its handlers receive them (section last:
# the Reviews tab has none). They are Filters' fields, as the CLI's options are.
FILTER_KEYS = ("year_from", "year_to", "area", "type", "keyword", "kind", "theme", "section")


def parse_filters(*values: Any, **named: Any) -> Filters:
    """Filters from the form (values in FILTER_KEYS order) or the API (by name); Filters.parse checks them, as it
    does the CLI's."""
    raw = dict(zip(FILTER_KEYS, values, strict=False))
    if "review_type" in named:
        named["type"] = named.pop("review_type")
    return Filters.parse({**raw, **named})


def _counted(values: Iterable[str], label: Callable[[str], str] = one_line) -> list[tuple[str, str]]:
    """(label (n), value), most common first, after "Any". Values are counted as the filters match them, whatever
    their case ("Neglect" and "neglect" are one keyword), under their most common spelling."""
    spellings: dict[str, Counter[str]] = {}
    for v in values:
        if v:
            spellings.setdefault(v.lower(), Counter())[v] += 1
    counts = {c.most_common(1)[0][0]: c.total() for c in spellings.values()}
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], label(kv[0]).lower()))
    return [ANY] + [(f"{label(v)} ({n})", v) for v, n in ordered]


def filter_choices(data: IndexData | None) -> dict[str, list[tuple[str, str]]]:
    """Dropdown choices (label, value) for every filter, each value with the number of records in the index that
    have it ("domestic abuse (41)"): years newest first, sections in reading order, the others most common first."""
    from rag.themes import load_themes

    reviews = list(data.reviews.values()) if data else []
    year_counts = Counter(r.year for r in reviews if r.year)
    years = [ANY] + [(f"{y} ({year_counts[y]})", str(y)) for y in sorted(year_counts, reverse=True)]
    sections = Counter(kind for r in reviews for kind in {s.kind for s in r.sections})
    names = {t.id: t.name for t in load_themes()}
    return {
        "year_from": years,
        "year_to": years,
        "area": _counted(r.area for r in reviews),
        "type": _counted(r.type or "" for r in reviews),
        # A review counts once for a keyword, however many times (or spellings) it lists it.
        "keyword": _counted(k for r in reviews for k in {k.lower(): k for k in r.keywords}.values()),
        "kind": [ANY] + [(f"{k} ({n})", k) for k in DOCUMENT_KINDS if (n := sum(r.kind == k for r in reviews))],
        "theme": _counted((t for r in reviews for t in r.themes), lambda t: names.get(t, t)),
        "section": [ANY] + [(f"{k} ({sections[k]})", k) for k in SECTION_KINDS if sections[k]],
    }


@dataclass
class FilterInputs:
    year_from: gr.Dropdown
    year_to: gr.Dropdown
    area: gr.Dropdown
    review_type: gr.Dropdown
    keyword: gr.Dropdown
    kind: gr.Dropdown
    theme: gr.Dropdown
    section: gr.Dropdown | None

    @property
    def from_index(self) -> dict[str, gr.Dropdown]:
        """The inputs by FILTER_KEYS name, in that order; their choices and counts come from the index."""
        out = {
            "year_from": self.year_from,
            "year_to": self.year_to,
            "area": self.area,
            "type": self.review_type,
            "keyword": self.keyword,
            "kind": self.kind,
            "theme": self.theme,
        }
        return out | ({"section": self.section} if self.section is not None else {})

    @property
    def inputs(self) -> list[Any]:
        return list(self.from_index.values())


NARROW = 110  # a filter's least width (px) for a year or a kind; the others are wider


def filter_inputs(prefix: str, section: bool = True, one_row: bool = False) -> FilterInputs:
    """Year range, area, type, keyword, kind, theme (and section) inputs; their choices, with counts, are filled
    from the index on page load and whenever another generation is served.

    Free text is allowed (the filter parser validates it), so a shared link or an API caller is not bound to the
    choices of the index as it was when the page was built."""

    def pick(
        label: str, suffix: str, choices: list[tuple[str, str]] | None = None, min_width: int = 240
    ) -> gr.Dropdown:
        # A choice such as "looked-after children and foster care (13)" is cut off in a box sized for a year: those
        # filters are wider on a laptop (a theme's name the widest), and on a phone take a line of their own
        # (rla-wide-filter, see rag.web.html.CSS); years and kinds are short and go in pairs.
        return gr.Dropdown(
            choices or [ANY],
            value="",
            label=label,
            allow_custom_value=True,
            elem_id=f"{prefix}-{suffix}",
            elem_classes=["rla-wide-filter"] if min_width > NARROW else None,
            min_width=min_width,
        )

    def sec() -> gr.Dropdown | None:
        return pick("Section", "section", [ANY] + [(s, s) for s in SECTION_KINDS]) if section else None

    def what() -> tuple[gr.Dropdown, gr.Dropdown]:
        return pick("Kind", "kind", [ANY] + [(k, k) for k in DOCUMENT_KINDS], NARROW), pick("Theme", "theme", None, 320)

    if one_row:  # inside the caller's row
        year_from, year_to = pick("From year", "year-from", None, NARROW), pick("To year", "year-to", None, NARROW)
        area = pick("Area", "area")
        review_type, keyword = pick("Review type", "type"), pick("Keyword", "keyword")
        (kind, theme), section_pick = what(), sec()
    else:
        with gr.Row():
            year_from, year_to = pick("From year", "year-from", None, NARROW), pick("To year", "year-to", None, NARROW)
            area = pick("Area", "area")
        with gr.Row():
            review_type, keyword = pick("Review type", "type"), pick("Keyword", "keyword")
        with gr.Row():
            (kind, theme), section_pick = what(), sec()
    return FilterInputs(year_from, year_to, area, review_type, keyword, kind, theme, section_pick)


def download_box(label: str, elem_id: str, elem_classes: list[str] | None = None) -> gr.File:
    """A tab's download box: the files of its last result (Word, Markdown, JSON…), hidden until there are some."""
    return gr.File(
        label=label,
        file_count="multiple",
        interactive=False,
        visible=False,
        elem_id=elem_id,
        elem_classes=elem_classes,
    )


def downloads(paths: Iterable[Path | str]) -> Any:
    """A download box showing these files, or hidden (and emptied) when there are none."""
    files = [str(p) for p in paths]
    return gr.update(value=files or None, visible=bool(files))
