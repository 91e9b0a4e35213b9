"""A briefing pack written out: one list of blocks, rendered as Markdown, HTML or Word (.docx)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.brief.model import Brief, BriefError, Quote, Reference, Theme
from rag.ui_text import records_text

MIN_VIGNETTES = 3  # with fewer case vignettes than this, the pack says why


Inline = str | int  # text, or a citation of reference n


@dataclass(frozen=True)
class _Block:
    kind: str  # "h1", "h2", "h3", "p", "ul", "ol", "refs"
    items: tuple[tuple[Inline, ...], ...]  # one item for a heading or paragraph


_INTRO = (
    "Every quotation in this pack is verbatim from the review numbered in brackets (see References). "
    "The discussion questions are prompts for the group, not findings. These are real reviews about children "
    "who were harmed: quote them with care."
)


def scope(b: Brief) -> str:
    """How many reviews address the topic, their years and areas, the filters, and how many the pack quotes."""
    if not b.reviews:
        return f"No review in the index addresses “{b.topic}”" + (
            f" with filters {_filters_text(b.filters)}." if b.filters else "."
        )
    years = [int(y) for y in b.by_year if y.isdigit()]
    span = "" if not years else f", {min(years)}" + (f"–{max(years)}" if max(years) != min(years) else "")
    text = f"{records_text(b.kinds, 'address')} “{b.topic}”{span}"
    text += f", from {len(b.by_area)} area{'s' if len(b.by_area) != 1 else ''}."
    if b.filters:
        text += f" Filters: {_filters_text(b.filters)}."
    return text + f" This pack quotes {len(b.references)} of them."


def _filters_text(filters: dict[str, Any]) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in filters.items())


def reference_label(r: Reference) -> str:
    """Title · partnership · year · where it is quoted (section, paragraph, page) · file · URL when catalogued."""
    where = "; ".join(r.places) if r.places else (f"p. {r.page}" if r.page else "")
    by = r.partnership or r.area
    bits = [r.title, by if by != r.title else "", str(r.year) if r.year else "year not stated", where, r.source]
    bits.append(r.url or "")
    return " · ".join(b for b in bits if b)


def _heading(t: Theme) -> str:
    return t.name[:1].upper() + t.name[1:] if t.name else "Other learning points"


def _one(kind: str, *inline: Inline) -> _Block:
    return _Block(kind, (tuple(inline),))


def _quoted(q: Quote) -> tuple[Inline, ...]:
    return (f"“{q.display}” ", q.ref)


def _blocks(b: Brief) -> list[_Block]:
    """The pack, top to bottom: scope, notice, overview, learning points, recommendations, vignettes, questions,
    references."""
    out = [_one("h1", f"Briefing: {b.topic}"), _one("p", scope(b))]
    if b.by_year:
        years = "; ".join(f"{y}: {n}" for y, n in b.by_year.items())
        areas = "; ".join(f"{a}: {n}" for a, n in b.by_area.items())
        out.append(_one("p", f"By year — {years}. By area — {areas}."))
    if b.reviews:
        out.append(_one("p", _INTRO))
    if b.notice:
        out.append(_one("p", f"Note: {b.notice}"))
    if not b.reviews:
        return out
    out += _overview_blocks(b) + _learning_blocks(b)
    if b.recommendations:
        out += [_one("h2", "What the reviews recommended"), _Block("ul", tuple(map(_quoted, b.recommendations)))]
    out += _vignette_blocks(b)
    out += [_one("h2", "Questions for discussion"), _Block("ol", tuple((x,) for x in b.questions))]
    out += [_one("h2", "References"), _Block("refs", tuple((r.n, reference_label(r)) for r in b.references))]
    if b.others:
        out += [
            _one("h2", "Other reviews on this topic (not quoted)"),
            _Block("ul", tuple((reference_label(r),) for r in b.others)),
        ]
    return out


def _overview_blocks(b: Brief) -> list[_Block]:
    if not b.overview:
        return []
    out = [_one("h2", "Overview (written by a language model)")]
    for para in b.overview.split("\n\n"):
        parts = re.split(r"\[(\d+)\]", para)
        out.append(_one("p", *(int(x) if i % 2 else x for i, x in enumerate(parts) if x)))
    return out


def _learning_blocks(b: Brief) -> list[_Block]:
    if not b.themes:
        return []
    out = [_one("h2", "Key learning points")]
    named = any(t.name for t in b.themes)
    if named:
        out.append(
            _one(
                "p",
                "Grouped by the safeguarding themes the points address (rla themes); a point on the topic and on "
                "another theme is listed under the other.",
            )
        )
    for t in b.themes:
        if named:
            out.append(_one("h3", _heading(t)))
        out.append(_Block("ul", tuple(map(_quoted, t.points))))
    return out


def _vignette_blocks(b: Brief) -> list[_Block]:
    out = [_one("h2", "Case vignettes")]
    if len(b.vignettes) < MIN_VIGNETTES:
        if b.reviews == 1:
            told = f"The {records_text(b.kinds)} on this topic does not address it in its account of the case"
        else:
            some = "None" if not b.vignettes else f"Only {len(b.vignettes)}"
            verb = "addresses" if len(b.vignettes) == 1 else "address"
            told = f"{some} of the {records_text(b.kinds)} on this topic {verb} it in their account of the case"
        out.append(
            _one(
                "p",
                f"{told} (summary, background, chronology or key issues) with enough of the story to quote; "
                "vignettes come only from those.",
            )
        )
    for v in b.vignettes:
        out += [_one("h3", v.heading), _one("p", *(x for q in v.quotes for x in (*_quoted(q), " ")))]
    return out


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|!])")


def render_markdown(b: Brief) -> str:
    def line(item: tuple[Inline, ...]) -> str:
        return "".join(f"[{x}]" if isinstance(x, int) else _MD_SPECIAL.sub(r"\\\1", x) for x in item).strip()

    out: list[str] = []
    for blk in _blocks(b):
        if blk.kind in ("h1", "h2", "h3"):
            out.append("#" * int(blk.kind[1]) + " " + line(blk.items[0]))
        elif blk.kind == "p":
            out.append(line(blk.items[0]))
        elif blk.kind == "ul":
            out.append("\n".join(f"- {line(i)}" for i in blk.items))
        elif blk.kind == "ol":
            out.append("\n".join(f"{n}. {line(i)}" for n, i in enumerate(blk.items, 1)))
        else:  # references: one per line, hard line breaks
            out.append("  \n".join(f"{line(i[:1])} {line(i[1:])}" for i in blk.items))
    return "\n\n".join(out) + "\n"


_HTML_HEAD = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>{title}</title>
<style>
body {{ font-family: Georgia, serif; max-width: 46em; margin: 2em auto; padding: 0 1em; line-height: 1.5; }}
h1, h2, h3 {{ font-family: Arial, sans-serif; }}
a.cite {{ text-decoration: none; }}
li {{ margin-bottom: 0.3em; }}
ol.refs {{ list-style: none; padding-left: 0; }}
ol.refs li {{ margin: 0 0 0.7em; padding-left: 2.8em; text-indent: -2.8em; }}
ol.refs .n {{ display: inline-block; min-width: 2.8em; text-indent: 0; }}
</style>
</head>
<body>
"""


def render_html(b: Brief) -> str:
    """Everything from a source is escaped; the only links are citations to the reference list."""

    def line(item: tuple[Inline, ...]) -> str:
        return "".join(
            f'<a class="cite" href="#ref-{x}">[{x}]</a>' if isinstance(x, int) else html.escape(x) for x in item
        ).strip()

    out = [_HTML_HEAD.format(title=html.escape(f"Briefing: {b.topic}"))]
    for blk in _blocks(b):
        if blk.kind in ("h1", "h2", "h3", "p"):
            out.append(f"<{blk.kind}>{line(blk.items[0])}</{blk.kind}>")
        elif blk.kind in ("ul", "ol"):
            out.append(f"<{blk.kind}>\n" + "\n".join(f"<li>{line(i)}</li>" for i in blk.items) + f"\n</{blk.kind}>")
        else:  # the reference list, one per line: anchors for the citations, not links
            items = (f'<li id="ref-{i[0]}"><span class="n">[{i[0]}]</span> {line(i[1:])}</li>' for i in blk.items)
            out.append('<ol class="refs">\n' + "\n".join(items) + "\n</ol>")
    return "\n".join(out) + "\n</body>\n</html>\n"


def _write_text(render: Callable[[Brief], str]) -> Callable[[Brief, Path], Any]:
    return lambda b, path: path.write_text(render(b), encoding="utf-8")


def _write_docx(b: Brief, path: Path) -> None:
    try:
        import docx
    except ImportError:
        raise BriefError("writing .docx needs the python-docx package: pip install 'rla[docx]'") from None

    def line(item: tuple[Inline, ...]) -> str:
        # XML cannot hold most control characters; python-docx refuses them.
        text = "".join(f"[{x}]" if isinstance(x, int) else x for x in item).strip()
        return "".join(ch for ch in text if ch in "\t\n" or ord(ch) >= 32)

    d = docx.Document()
    for blk in _blocks(b):
        if blk.kind in ("h1", "h2", "h3"):
            d.add_heading(line(blk.items[0]), 0 if blk.kind == "h1" else int(blk.kind[1]) - 1)
        elif blk.kind == "p":
            d.add_paragraph(line(blk.items[0]))
        elif blk.kind == "refs":
            for i in blk.items:
                d.add_paragraph(f"{line(i[:1])} {line(i[1:])}")
        else:
            for i in blk.items:
                d.add_paragraph(line(i), style="List Bullet" if blk.kind == "ul" else "List Number")
    d.save(str(path))


WRITERS: dict[str, Callable[[Brief, Path], Any]] = {
    ".md": _write_text(render_markdown),
    ".html": _write_text(render_html),
    ".docx": _write_docx,
}


def check_output(path: Path) -> Path:
    """The path, if its suffix names a format a briefing can be written in; else a BriefError."""
    path = Path(path)
    if path.suffix.lower() not in WRITERS:
        raise BriefError(
            f"cannot write a briefing as {path.name!r}: name the file {', '.join(f'*{s}' for s in WRITERS)}"
        )
    return path


def write_brief(brief: Brief, path: Path) -> Path:
    """Write the pack in the format its suffix names (.md, .html or .docx)."""
    path = check_output(path)
    writer = WRITERS[path.suffix.lower()]
    try:
        writer(brief, path)
    except OSError as e:
        raise BriefError(f"cannot write {path}: {e.strerror or e}") from e
    return path
