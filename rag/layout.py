"""Page furniture: spans of a source's text that are layout, not content.

Running headers and footers (lines repeated at the top or bottom of many pages, page numbers aside),
page-number lines ("4", "Page 4", "Page 4 of 30", "- 4 -"), contents pages (with or without dot
leaders) and bullet glyphs (Word's Symbol-font U+F0B7, U+007F, "•"). The text itself is never
rewritten: the spans are masked, so every offset and quote stays verbatim (see `SourceText.furniture`).
One pass over the lines: linear in the size of the text.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

_PAGE_NUMBER = re.compile(
    r"^[ \t]*(?:(?:Page|p\.)[ \t]*\d{1,4}(?:[ \t]+of[ \t]+\d{1,4})?|\d{1,4}|[-–—][ \t]*\d{1,4}[ \t]*[-–—])[ \t]*$",
    re.IGNORECASE,
)
# "Page 4 of 30" on a line of its own is furniture anywhere, also in text files.
_PAGE_OF = re.compile(r"^[ \t]*Page[ \t]+\d{1,4}[ \t]+of[ \t]+\d{1,4}[ \t]*$", re.IGNORECASE)
_CONTENTS = re.compile(r"^[ \t]*(?:Table of )?Contents[ \t]*:?[ \t]*$", re.IGNORECASE)
# A contents line ends with its page number, after dot leaders or a space.
_CONTENTS_LINE = re.compile(r"(?:\.{3,}|…+|[ \t])[ \t]*\d{1,3}[ \t]*$")
# Bullet glyphs a PDF draws (Word's Symbol font gives U+F0B7, some exports U+007F); in a text file "•" is
# the author's own list mark and stays, only the Word glyphs pasted into it are furniture.
_PDF_BULLET = re.compile(r"^[ \t]*[\uf0b7\x7f•▪●■◦][ \t]*", re.MULTILINE)
_TEXT_BULLET = re.compile(r"^[ \t]*[\uf0b7\x7f][ \t]*", re.MULTILINE)
GLYPHS = "\uf0b7\x7f•▪●■◦"
_ZONE = 3  # lines at the top and at the bottom of a page where running headers and footers live
_CONTENTS_PAGES = 4  # a contents page is among the first pages
_CONTENTS_CHARS = 20000  # … or near the start of a text without pages


def _lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """(start, end) of the non-blank lines in text[start:end], without their line breaks."""
    out = []
    pos = start
    while pos < end:
        nl = text.find("\n", pos, end)
        stop = end if nl < 0 else nl
        if text[pos:stop].strip():
            out.append((pos, stop))
        pos = stop + 1
    return out


def _key(line: str) -> str:
    return re.sub(r"\d+", "#", " ".join(line.split())).lower()


def furniture_spans(text: str, page_starts: tuple[int, ...] = ()) -> tuple[tuple[int, int], ...]:
    """Sorted, merged spans of `text` that are page furniture."""
    spans: list[tuple[int, int]] = []
    pages = _page_ranges(text, page_starts)
    if len(pages) >= 2:
        spans += _running(text, pages)
    for s, e in _lines(text, 0, len(text)):
        if _PAGE_OF.match(text[s:e]):
            spans.append((s, e))
    spans += _contents(text, pages, set(spans))
    bullet = _PDF_BULLET if page_starts else _TEXT_BULLET
    spans += [(m.start(), m.end()) for m in bullet.finditer(text) if m.group().strip()]
    return merge(text, spans)


def _page_ranges(text: str, page_starts: tuple[int, ...]) -> list[tuple[int, int]]:
    if not page_starts:
        return []
    ends = [s for s in page_starts[1:]] + [len(text)]
    return list(zip(page_starts, ends, strict=True))


def _running(text: str, pages: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Lines repeated (numbers aside) in the top or bottom zone of at least half the pages, and page numbers there."""
    zones = []
    for ps, pe in pages:
        lines = _lines(text, ps, pe)
        zones.append(lines[:_ZONE] + [x for x in lines[-_ZONE:] if x not in lines[:_ZONE]])
    counts: Counter[str] = Counter()
    for zone in zones:
        counts.update({_key(text[s:e]) for s, e in zone})
    need = max(2, math.ceil(0.5 * len(pages)))
    out = []
    for zone in zones:
        for s, e in zone:
            line = text[s:e]
            if counts[_key(line)] >= need or _PAGE_NUMBER.match(line):
                out.append((s, e))
    return out


def _contents(text: str, pages: list[tuple[int, int]], known: set[tuple[int, int]]) -> list[tuple[int, int]]:
    """A "Contents" line near the start and the entries after it (those ending with a page number, a line
    wrapped into one, or a line that recurs later as a heading)."""
    limit = pages[min(_CONTENTS_PAGES, len(pages)) - 1][1] if pages else min(len(text), _CONTENTS_CHARS)
    lines = _lines(text, 0, len(text))
    head = next((i for i, (s, e) in enumerate(lines) if s < limit and _CONTENTS.match(text[s:e])), None)
    if head is None:
        return []
    entries: list[tuple[int, int]] = [lines[head]]
    # Lines after the contents recur: an entry without a page number is confirmed by its heading further on.
    recurs = Counter(" ".join(text[s:e].split()) for s, e in lines[head + 1 :])
    numbered = False  # once entries carry page numbers, every entry does (or wraps into one that does)
    i = head + 1
    while i < len(lines):
        s, e = lines[i]
        line = text[s:e]
        if (s, e) in known:
            i += 1
            continue
        if len(line) <= 200 and _CONTENTS_LINE.search(line) and not line.rstrip().endswith("."):
            entries.append((s, e))
            numbered = True
        elif i + 1 < len(lines) and len(line) <= 120 and _CONTENTS_LINE.search(text[slice(*lines[i + 1])]):
            entries.append((s, e))  # an entry wrapped over two lines
        elif not numbered and len(line) <= 100 and _is_entry(" ".join(line.split()), recurs):
            entries.append((s, e))
            recurs[" ".join(line.split())] -= 1  # the heading itself, further on, is then seen only once
        else:
            break
        i += 1
    return entries if len(entries) >= 3 else []


def _is_entry(line: str, recurs: Counter[str]) -> bool:
    """A contents entry without a page number: the same line appears again (as a heading) after the contents."""
    return recurs[line] >= 2 and re.match(r"^(?:\d{1,2}(?:\.\d{1,2})*\.?|Appendix\b|Annex\b|[A-Z])", line) is not None


def merge(text: str, spans: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Sort spans and join those that overlap or are separated only by whitespace."""
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and (s <= out[-1][1] or not text[out[-1][1] : s].strip()):
            out[-1] = (out[-1][0], max(e, out[-1][1]))
        else:
            out.append((s, e))
    return tuple(out)


def segments(start: int, end: int, furniture: tuple[tuple[int, int], ...]) -> list[tuple[int, int]]:
    """text[start:end] minus the furniture: the pieces that may be chunked and quoted."""
    out = []
    pos = start
    for s, e in furniture:
        if e <= pos:
            continue
        if s >= end:
            break
        if s > pos:
            out.append((pos, s))
        pos = max(pos, e)
    if pos < end:
        out.append((pos, end))
    return out


def masked(text: str, furniture: tuple[tuple[int, int], ...]) -> str:
    """The text with furniture blanked (line breaks kept): same length, so every offset still holds.

    A bullet glyph alone is kept, so a list item is still seen as one (not as a heading).
    """
    if not furniture:
        return text
    parts = []
    pos = 0
    for s, e in furniture:
        if not text[s:e].strip(" \t" + GLYPHS):
            continue
        parts.append(text[pos:s])
        parts.append(re.sub(r"[^\n]", " ", text[s:e]))
        pos = e
    parts.append(text[pos:])
    return "".join(parts)


@dataclass(frozen=True)
class MarkdownText:
    """A document written the way a Markdown report reads (rag.word, rag.webpage), and its notes as spans of it."""

    text: str
    notes: tuple[tuple[int, int], ...]


def write_blocks(blocks: list[tuple[str, bool]]) -> MarkdownText:
    """(text, is a note) blocks written with a blank line between them but none between a list's items ("- …")."""
    out: list[str] = []
    notes: list[tuple[int, int]] = []
    at = 0
    for (text, is_note), (before, _) in zip(blocks, [("", False), *blocks], strict=False):
        if out:
            gap = "\n" if text.startswith("- ") and before.startswith("- ") else "\n\n"
            out.append(gap)
            at += len(gap)
        if is_note:
            notes.append((at, at + len(text)))
        out.append(text)
        at += len(text)
    return MarkdownText("".join(out) + "\n", tuple(notes))


# --- Markdown markup ---------------------------------------------------------------------------
# A text written as Markdown (write_blocks above, or a user's .md note) keeps its markup: a table's pipes and
# separator row, a heading's hashes, a list's dashes, bold's asterisks. Like furniture the markup is never removed
# from the text; it is found as spans, so that a reader can be shown the structure instead (rag.web.html).
MD_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")  # "## 2. Background" (on a line stripped of its indent)
_MD_MARKER = re.compile(r"[ \t]*(?:(?P<item>[-*+])|(?P<quote>>))[ \t]+(?=\S)")  # "- item", "> quoted"
_MD_ROW = re.compile(r"[ \t]*\|.*(?<!\\)\|[ \t]*")  # "| a | b |"
_MD_RULE = re.compile(r"[ \t]*\|(?:[ \t]*:?-+:?[ \t]*\|)+[ \t]*")  # "|---|:-:|", after a table's first row
_MD_PIPE = re.compile(r"[ \t]*(?<!\\)\|[ \t]*")  # a cell's edge; "\|" is a pipe in a cell (rag.word writes it so)
_MD_ESCAPE = re.compile(r"\\(?=\|)")
_MD_STRONG = re.compile(r"\*\*([^\s*](?:[^*\n]*[^\s*])?)\*\*")  # "**bold**" (each try stops at the next "*")
# Kinds of span: signs, each shown as what it stands for (a table's start, a cell's edge, a list item's dash; a hidden
# one as nothing: hashes, asterisks), and styles, words shown in a style. A "break" is a line break Markdown keeps
# (before a list item, around a heading).
SIGNS = ("hidden", "break", "item", "table", "cell", "row", "end")
STYLES = ("heading", "strong", "quote")


def markdown_markup(text: str) -> tuple[tuple[int, int, str], ...]:
    """The Markdown markup of `text`: (start, end, kind) spans, sorted. Signs never overlap one another; a style
    holds words and the signs among them ("# **Title**"). One pass over the lines."""
    lines = text.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    out: list[tuple[int, int, str]] = []
    breaks: set[int] = set()  # offsets of the line breaks kept
    i = 0
    while i < len(lines):
        if i + 1 < len(lines) and _MD_ROW.fullmatch(lines[i]) and _MD_RULE.fullmatch(lines[i + 1]):
            j = i + 2
            while j < len(lines) and _MD_ROW.fullmatch(lines[j]):
                j += 1
            out += _table(text, starts, [i, *range(i + 2, j)], starts[i + 1] + len(lines[i + 1]))
            out += _strong(text, starts[i], starts[j] - 1)
            i = j
            continue
        s, line = starts[i], lines[i]
        indent = len(line) - len(line.lstrip(" \t"))
        heading = MD_HEADING.match(line[indent:]) if indent < 4 else None
        marker = _MD_MARKER.match(line)
        if heading:
            a, b = s + indent + heading.start(2), s + indent + heading.end(2)
            out += [(s, a, "hidden"), (a, b, "heading")] + ([(b, s + len(line), "hidden")] if b < s + len(line) else [])
            if i + 1 < len(lines) and lines[i + 1].strip():
                breaks.add(s + len(line))
        elif marker:
            out.append((s, s + marker.end(), "hidden" if marker.group("quote") else "item"))
            if marker.group("quote"):
                out.append((s + marker.end(), s + len(line), "quote"))
        if (heading or marker) and i > 0 and lines[i - 1].strip():
            breaks.add(s - 1)
        out += _strong(text, s, s + len(line))
        i += 1
    out += [(x, x + 1, "break") for x in breaks]
    return tuple(sorted(out))


def _table(text: str, starts: list[int], rows: list[int], rule_end: int) -> list[tuple[int, int, str]]:
    """A table's signs: its start, cell edges, the line breaks (and separator row) between rows, its end."""
    out: list[tuple[int, int, str]] = []
    open_at = 0  # where the sign after the last row begins (its last pipe)
    for n, r in enumerate(rows):
        pipes = list(_MD_PIPE.finditer(text, starts[r], starts[r + 1] - 1))
        out.append((pipes[0].start(), pipes[0].end(), "table") if n == 0 else (open_at, pipes[0].end(), "row"))
        out += [(p.start(), p.end(), "cell") for p in pipes[1:-1]]
        out += [(m.start(), m.end(), "hidden") for m in _MD_ESCAPE.finditer(text, starts[r], starts[r + 1] - 1)]
        open_at = pipes[-1].start()
    last = rows[-1]
    out.append((open_at, rule_end if len(rows) == 1 else starts[last + 1] - 1, "end"))
    return out


def _strong(text: str, start: int, end: int) -> list[tuple[int, int, str]]:
    """Bold ("**words**") in text[start:end]: its asterisks hidden, its words as a style."""
    out = []
    for m in _MD_STRONG.finditer(text, start, end):
        out += [(m.start(), m.start(1), "hidden"), (m.start(1), m.end(1), "strong"), (m.end(1), m.end(), "hidden")]
    return out
