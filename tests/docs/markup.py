"""The fixtures' source markup: a header of `key: value` lines, `---`, then blocks separated by blank lines.

Blocks:
    # 1. | Introduction          a heading; the count of '#' is its level, text before '|' its number
    [4.12] Text …               a numbered paragraph; [4.12!] also records it as a located fact,
                                [!] an unnumbered one
    * item / ** sub-item        bullets, one item per line (a line starting with two spaces continues it)
    @table 18 22 60             a table: column widths in per cent, then `| a | b | c` rows, header first
    @contents / @newpage        the contents page; a forced page break
    @panel Title … @end         a shaded panel holding the blocks between (briefings)
    anything else               a paragraph, its lines joined by spaces

Inline: **bold**; `^` marks where a word may break with a printed hyphen, `~` where it may break
with a soft hyphen (U+00AD). Neither prints unless the line really breaks there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

BREAK_MARKS = "^~"


@dataclass(frozen=True)
class Span:
    text: str
    bold: bool = False


@dataclass(frozen=True)
class Heading:
    level: int
    number: str
    text: str

    @property
    def printed(self) -> str:
        return f"{self.number} {self.text}" if self.number else self.text


@dataclass(frozen=True)
class Para:
    number: str
    spans: tuple[Span, ...]
    fact: bool = False


@dataclass(frozen=True)
class Bullet:
    level: int
    spans: tuple[Span, ...]


@dataclass(frozen=True)
class BulletList:
    items: tuple[Bullet, ...]


@dataclass(frozen=True)
class Table:
    widths: tuple[float, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class NewPage:
    pass


@dataclass(frozen=True)
class Contents:
    pass


@dataclass(frozen=True)
class Panel:
    title: str
    blocks: tuple[Block, ...]


Block = Heading | Para | BulletList | Table | NewPage | Contents | Panel


@dataclass(frozen=True)
class CoverLine:
    size: float
    bold: bool
    text: str


@dataclass(frozen=True)
class Document:
    stem: str
    meta: dict[str, str]
    cover: tuple[CoverLine, ...]
    blocks: tuple[Block, ...]
    facts: tuple[str, ...] = field(default=())


def clean(text: str) -> str:
    """The text as a reader sees it: no break marks, no bold markers."""
    return text.replace("**", "").replace("^", "").replace("~", "")


def spans_text(spans: tuple[Span, ...]) -> str:
    return clean("".join(s.text for s in spans))


def parse_spans(text: str) -> tuple[Span, ...]:
    parts = text.split("**")
    if len(parts) % 2 == 0:
        raise ValueError(f"unbalanced ** in {text[:60]!r}")
    return tuple(Span(part, bold=i % 2 == 1) for i, part in enumerate(parts) if part)


_PARA = re.compile(r"\[([0-9A-Z.]*?)(!?)\]\s+(.*)", re.S)


def _bullets(lines: list[str]) -> BulletList:
    items: list[tuple[int, str]] = []
    for line in lines:
        if line.startswith("  ") and items:
            level, text = items[-1]
            items[-1] = (level, text + " " + line.strip())
        else:
            marker, _, text = line.partition(" ")
            items.append((len(marker), text.strip()))
    return BulletList(tuple(Bullet(level, parse_spans(text)) for level, text in items))


def _table(lines: list[str]) -> Table:
    widths = tuple(float(w) for w in lines[0].split()[1:])
    rows = tuple(tuple(cell.strip() for cell in line.strip().strip("|").split("|")) for line in lines[1:])
    for row in rows:
        if len(row) != len(widths):
            raise ValueError(f"table row has {len(row)} cells, expected {len(widths)}: {row[0][:40]!r}")
    return Table(widths, rows)


def _block(lines: list[str]) -> Block:
    first = lines[0]
    if first.startswith("#"):
        level = len(first) - len(first.lstrip("#"))
        number, _, text = first[level:].partition("|")
        return Heading(level, number.strip(), text.strip())
    if re.match(r"\*{1,2} ", first):
        return _bullets(lines)
    if first.startswith("@table"):
        return _table(lines)
    text = " ".join(line.strip() for line in lines)
    match = _PARA.fullmatch(text)
    if match:
        return Para(match[1], parse_spans(match[3]), fact=bool(match[2]))
    return Para("", parse_spans(text))


def _chunks(lines: list[str]) -> list[list[str]]:
    """Blank lines separate blocks; a directive other than @table is a block of its own."""
    chunks: list[list[str]] = [[]]
    for line in lines:
        if line.startswith("@") and not line.startswith("@table"):
            chunks += [[line], []]
        elif line.strip():
            chunks[-1].append(line.rstrip())
        elif chunks[-1]:
            chunks.append([])
    return [c for c in chunks if c]


def _blocks(chunks: list[list[str]]) -> tuple[Block, ...]:
    out: list[Block] = []
    i = 0
    while i < len(chunks):
        chunk = chunks[i]
        head = chunk[0]
        if head == "@contents":
            out.append(Contents())
        elif head == "@newpage":
            out.append(NewPage())
        elif head.startswith("@panel"):
            inner: list[list[str]] = []
            i += 1
            while chunks[i][0] != "@end":
                inner.append(chunks[i])
                i += 1
            out.append(Panel(head.removeprefix("@panel").strip(), _blocks(inner)))
        else:
            out.append(_block(chunk))
        i += 1
    return tuple(out)


def load(path: Path) -> Document:
    text = path.read_text(encoding="utf-8")
    header, sep, body = text.partition("\n---\n")
    if not sep:
        raise ValueError(f"{path.name}: no '---' line after the header")
    meta: dict[str, str] = {}
    cover: list[CoverLine] = []
    for line in header.splitlines():
        key, _, value = line.partition(":")
        if key == "cover":
            size, _, words = value.partition("|")
            cover.append(CoverLine(float(size.strip().rstrip("b")), size.strip().endswith("b"), words.strip()))
        else:
            meta[key.strip()] = value.strip()
    blocks = _blocks(_chunks(body.splitlines()))
    return Document(path.name.removesuffix(".src"), meta, tuple(cover), blocks)


def iter_blocks(blocks: tuple[Block, ...]) -> list[Block]:
    """Every block in reading order, panels opened up."""
    out: list[Block] = []
    for block in blocks:
        if isinstance(block, Panel):
            if block.title:
                out.append(Heading(3, "", block.title))
            out.extend(iter_blocks(block.blocks))
        else:
            out.append(block)
    return out
