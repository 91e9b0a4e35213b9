"""A saved web page (.html, .htm) → the record's text: the page's own content as a reader sees it, not the site
around it. National analyses and the Panel's reports are published as web pages too (GOV.UK's HTML
publications), and a partnership's learning summary is often a page of its website.

What is read: the page's <main> (else its <article>, else its <body>), without navigation, banners, footers,
asides, forms, scripts, styles or hidden elements. Written the way a Markdown report reads, as rag.word writes a
Word document: <h1>–<h6> as "#"–"######" headings, paragraphs as blocks, list items as "- …" (a numbered list's
as "1. …"), tables as Markdown tables, line breaks kept. Footnotes (a block of class "footnotes", GOV.UK's and
pandoc's, or role "doc-endnotes") are returned as spans of the text (`SourceText.notes`: shown in context, in no
chunk or quote), and their reference marks ("[footnote 1]", a raised "1") are left out. With no <h1>, the page's
<title> is its title. Read with the standard library's html.parser: nothing is fetched, nothing is run; called in
the sandboxed worker under the PDF limits (rag.sources.markdown_written), as html.parser has quadratic cases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

from rag.layout import MarkdownText, write_blocks

_SKIP = {
    "script", "style", "noscript", "template", "svg", "math", "nav", "header", "footer", "aside", "form",
    "button", "select", "textarea", "iframe", "object", "canvas", "head",
}  # fmt: skip
_SKIP_ROLES = {"navigation", "banner", "contentinfo", "search", "complementary", "doc-backlink"}
_BLOCKS = {
    "p", "div", "section", "article", "main", "blockquote", "pre", "figure", "figcaption", "dl", "dt", "dd",
    "address", "details", "summary", "body", "html", "center",
}  # fmt: skip
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_VOID = {"br", "hr", "img", "meta", "link", "input", "wbr", "col", "area", "base", "source", "track", "embed"}
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def charset(data: bytes) -> str | None:
    """The encoding the page declares in a <meta> near its top, if any."""
    m = _CHARSET.search(data[:4096])
    return m.group(1).decode("ascii") if m else None


def read_html(markup: str) -> MarkdownText:
    """The page's content as text (see the module's docstring)."""
    region = "main" if re.search(r"<main[\s>]|role\s*=\s*[\"']main", markup, re.IGNORECASE) else None
    if region is None and re.search(r"<article[\s>]", markup, re.IGNORECASE):
        region = "article"
    reader = _Reader(region)
    if markup.rfind("<") > markup.rfind(">"):  # a tag cut off by the end of the file is no text, as browsers read it
        markup = markup[: markup.rfind("<")]
    reader.feed(markup)
    reader.close()
    return reader.result()


@dataclass
class _Open:
    tag: str
    skip: bool  # its content is not read
    region: bool  # it is the region read (<main>, <article>)
    notes: bool  # it holds the footnotes


class _Reader(HTMLParser):
    def __init__(self, region: str | None) -> None:
        super().__init__(convert_charrefs=True)
        self.region = region  # the element read ("main", "article"), or None for the whole body
        self.seen_region = False
        self.stack: list[_Open] = []
        self.blocks: list[tuple[str, bool]] = []  # (text, is a note)
        self.line: list[str] = []  # the block being read
        self.prefix = ""  # of the block being read: "## ", "- ", "3. "
        self.title: list[str] = []
        self.in_title = False
        self.lists: list[list[int]] = []  # the open lists: [next number] for <ol>, [] for <ul>
        self.table: list[list[str]] | None = None  # the open table's rows (an inner table's text goes in its cell)
        self.tables = 0  # how many tables are open
        self.cell: list[str] | None = None

    def _skipping(self) -> bool:
        if self.region is not None and not any(o.region for o in self.stack):
            return True
        return any(o.skip for o in self.stack)

    def _in_notes(self) -> bool:
        return any(o.notes for o in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "title":
            self.in_title = True
        if tag in _VOID:
            if tag == "br" and not self._skipping():
                (self.cell if self.cell is not None else self.line).append("\n")
            return
        classes = a.get("class", "").split()
        region = self.region is not None and not self.seen_region and (tag == self.region or a.get("role") == "main")
        self.seen_region = self.seen_region or region
        skip = (
            tag in _SKIP
            or a.get("role", "") in _SKIP_ROLES
            or "hidden" in a
            or a.get("aria-hidden") == "true"
            or (tag == "sup" and a.get("id", "").startswith(("fnref", "footnote-ref")))  # a reference mark
            or (tag == "a" and (a.get("role") == "doc-noteref" or a.get("href", "").startswith(("#fnref", "#ref"))))
        )
        notes = "footnotes" in classes or a.get("role") == "doc-endnotes"
        if notes or tag in _BLOCKS or tag in _HEADINGS or tag in ("li", "table", "tr"):
            self._end_block()
        self.stack.append(_Open(tag, skip, region, notes))
        if self._skipping() and tag not in ("ul", "ol", "table"):
            return
        if tag in _HEADINGS:
            self.prefix = "#" * _HEADINGS[tag] + " "
        elif tag in ("ul", "ol"):
            start = a.get("start", "1")
            self.lists.append([int(start) if start.isdigit() else 1] if tag == "ol" else [])
        elif tag == "li":
            number = self.lists[-1] if self.lists and self.lists[-1] else None
            self.prefix = (f"{number[0]} " if self._in_notes() else f"{number[0]}. ") if number else "- "
            if number:
                number[0] += 1
        elif tag == "table":
            self.tables += 1
            if self.tables == 1 and not self._skipping():
                self.table = []
        elif self.tables == 1 and self.table is not None:
            if tag == "tr":
                self.table.append([])
            elif tag in ("td", "th"):
                self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        if tag in _VOID or not any(o.tag == tag for o in self.stack):
            return  # a stray end tag
        if tag in ("td", "th") and self.tables == 1 and self.table and self.cell is not None:
            self.table[-1].append(" ".join("".join(self.cell).split()).replace("|", "\\|"))
            self.cell = None
        if tag == "table":
            self.tables -= 1
            if self.tables == 0 and self.table is not None:
                self._write_table(self.table)
                self.table = None
        while self.stack:
            o = self.stack.pop()
            if o.tag in ("ul", "ol") and self.lists:
                self.lists.pop()
            if o.tag == tag:
                break
        if tag in _BLOCKS or tag in _HEADINGS or tag in ("li", "main", "article"):
            self._end_block()

    def handle_data(self, data: str) -> None:
        if not any(o.tag == "pre" for o in self.stack):
            data = re.sub(r"\s+", " ", data)  # a line break in the markup is a space; <br> is a line break
        if self.in_title:
            self.title.append(data)
        elif self._skipping():
            return
        elif self.cell is not None:
            self.cell.append(data)
        elif self.table is None:
            self.line.append(data)

    def _end_block(self) -> None:
        text = "".join(self.line)
        text = re.sub(r"[ \t\r\f\v]*\n[ \t\r\f\v]*", "\n", re.sub(r"[ \t\r\f\v\xa0]+", " ", text)).strip()
        self.line = []
        if text:  # an empty block keeps its prefix for the text to come (<li><p>…</p></li>)
            self.blocks.append((self.prefix + text, self._in_notes()))
            self.prefix = ""

    def _write_table(self, rows: list[list[str]]) -> None:
        rows = [r for r in rows if any(r)]
        if not rows:
            return
        width = max(len(r) for r in rows)
        lines = ["| " + " | ".join(r + [""] * (width - len(r))) + " |" for r in rows]
        lines.insert(1, "|" + "---|" * width)
        self.blocks.append(("\n".join(lines), False))

    def result(self) -> MarkdownText:
        self._end_block()
        title = " ".join("".join(self.title).split())
        if title and not any(t.startswith("# ") for t, _ in self.blocks):
            self.blocks.insert(0, ("# " + title, False))
        return write_blocks(self.blocks)
