"""Lay out a fixture document page by page the way Word prints one, and draw it with reportlab.

The layout is done here, not by reportlab's platypus, so that what the fixtures exercise is known
exactly: where a word breaks across a line (and with which hyphen), which sentence runs over a page
break, on which page each heading and numbered paragraph starts. Those facts are recorded in
`Layout` for the golden expectations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from markup import (
    Block,
    BulletList,
    Contents,
    CoverLine,
    Heading,
    NewPage,
    Panel,
    Para,
    Span,
    Table,
    clean,
    parse_spans,
)
from reportlab.lib.colors import HexColor
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

SOFT_HYPHEN = "\u00ad"


@dataclass(frozen=True)
class Piece:
    """A run of text in one font; `at` is its offset from the line's x (None: straight after the last run)."""

    text: str
    font: str
    size: float
    at: float | None = None
    colour: str = ""


@dataclass(frozen=True)
class TextLine:
    x: float
    y: float
    pieces: tuple[Piece, ...]
    colour: str = "#000000"
    word_space: float = 0.0

    @property
    def text(self) -> str:
        """What pypdf extracts from the line: a tab (a run placed at an offset) reads as one space."""
        out = ""
        for i, p in enumerate(self.pieces):
            out += (" " if i and p.at is not None and not out.endswith(" ") else "") + p.text
        return out


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    fill: str = ""
    stroke: str = ""
    width: float = 0.5
    radius: float = 0.0


@dataclass(frozen=True)
class Disc:
    x: float
    y: float
    r: float
    fill: str


Op = TextLine | Rect | Disc


@dataclass(frozen=True)
class Frame:
    """Where flowing text may go on a page: left, bottom, width, height."""

    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True)
class HouseStyle:
    """How one publisher's Word template prints a report."""

    name: str
    page: tuple[float, float]
    frames: Callable[[int], list[Frame]]
    font: str = "Helvetica"
    bold: str = "Helvetica-Bold"
    size: float = 11.0
    leading: float = 15.5
    para_space: float = 8.0
    justify: bool = False
    number_width: float = 42.0
    hanging: bool = True
    heading: dict[int, tuple[float, float, float]] = field(
        default_factory=lambda: {1: (15.0, 18.0, 8.0), 2: (12.5, 12.0, 6.0), 3: (11.5, 10.0, 4.0)}
    )
    heading_font: str = "Helvetica-Bold"
    heading_colour: str = "#000000"
    new_page_level: int = 0
    new_frame_level: int = 0
    bullet: tuple[str, str] = ("SymbolMT", "\uf0b7")
    sub_bullet: tuple[str, str] = ("Courier", "o")
    list_indent: float = 0.0  # where a list sits: at the text of numbered paragraphs in hanging styles
    bullet_at: float = 18.0
    bullet_text_at: float = 36.0
    table_font: str = "Helvetica"
    table_bold: str = "Helvetica-Bold"
    table_size: float = 9.5
    table_head_fill: str = "#D9D9D9"
    panel_fill: str = "#E8EEF4"
    contents: str = "leaders"
    contents_depth: int = 1
    contents_title: str = "Contents"
    contents_level_indent: float = 18.0
    furniture: Callable[[int, int], list[Op]] = lambda page, total: []
    decorate: Callable[[int], list[Op]] = lambda page: []
    cover: Callable[[tuple[CoverLine, ...]], list[Op]] | None = None


@dataclass(frozen=True)
class Word:
    text: str  # with break marks
    font: str


@dataclass
class Wrapped:
    words: list[tuple[str, str]]  # printed text, font
    last: bool = False
    wrap: tuple[str, str, str] | None = None  # printed end, next line's start, whole word


@dataclass
class Layout:
    """The pages' drawing operations and the facts the expectations are made from."""

    style: HouseStyle
    pages: list[list[Op]] = field(default_factory=list)
    headings: list[tuple[int, str, int]] = field(default_factory=list)  # level, printed, page
    facts: list[dict[str, str | int]] = field(default_factory=list)
    wraps: list[dict[str, str | int]] = field(default_factory=list)
    splits: list[dict[str, str | int]] = field(default_factory=list)
    contents_page: int = 0
    contents_lines: list[str] = field(default_factory=list)
    heading_frames: list[tuple[str, int, int]] = field(default_factory=list)  # printed, page, frame

    def furniture_text(self, page: int, total: int) -> list[str]:
        return [op.text for op in self.style.furniture(page, total) if isinstance(op, TextLine)]


def width(text: str, font: str, size: float) -> float:
    return float(stringWidth(text, font, size))


def _break_points(word: str) -> list[tuple[str, str]]:
    """(printed first part with its hyphen, rest with marks), from the latest break to the earliest."""
    points = []
    for i, ch in enumerate(word):
        if ch == "^":
            points.append((clean(word[:i]) + "-", word[i + 1 :]))
        elif ch == "~":
            points.append((clean(word[:i]) + SOFT_HYPHEN, word[i + 1 :]))
        elif ch == "-" and 0 < i < len(word) - 1 and word[i - 1].isalpha() and word[i + 1].isalpha():
            points.append((clean(word[: i + 1]), word[i + 1 :]))
    return points[::-1]


def _line_width(words: list[tuple[str, str]], size: float) -> float:
    total = sum(width(text, font, size) for text, font in words)
    return total + sum(width(" ", font, size) for _, font in words[:-1])


def wrap(words: list[Word], first: float, rest: float, size: float) -> list[Wrapped]:
    """Greedy line breaking, as Word does it, breaking a word only at its marked points or its own hyphen."""
    lines: list[Wrapped] = [Wrapped([])]
    queue = list(words)
    while queue:
        word = queue.pop(0)
        line = lines[-1]
        avail = first if len(lines) == 1 else rest
        printed = clean(word.text)
        if _line_width([*line.words, (printed, word.font)], size) <= avail:
            line.words.append((printed, word.font))
            continue
        for head, tail in _break_points(word.text):
            if _line_width([*line.words, (head, word.font)], size) <= avail:
                line.words.append((head, word.font))
                line.wrap = (head, clean(tail).split("-")[0].rstrip(".,;:)\u201d"), printed.strip(".,;:()\u201c\u201d"))
                lines.append(Wrapped([]))
                queue.insert(0, Word(tail, word.font))
                break
        else:
            if not line.words:
                raise ValueError(f"word too long for the line: {printed!r}")
            lines.append(Wrapped([]))
            queue.insert(0, word)
    lines[-1].last = True
    return lines


def words_of(spans: tuple[Span, ...], font: str, bold: str) -> list[Word]:
    out = []
    for span in spans:
        for text in span.text.split():
            out.append(Word(text, bold if span.bold else font))
    return out


def _pieces(line: Wrapped, size: float, at: float | None = None) -> list[Piece]:
    """Consecutive words in one font become one run; the space between runs stays with the earlier run."""
    pieces: list[Piece] = []
    for i, (text, font) in enumerate(line.words):
        sep = " " if i < len(line.words) - 1 else ""
        if pieces and pieces[-1].font == font:
            last = pieces[-1]
            pieces[-1] = Piece(last.text + text + sep, font, size, last.at)
        else:
            pieces.append(Piece(text + sep, font, size, at if not pieces else None))
    return pieces


class Flow:
    """Places blocks into frames, page after page."""

    def __init__(self, style: HouseStyle, layout: Layout) -> None:
        self.style = style
        self.out = layout
        self.page = -1
        self.frame = 0
        self.frames: list[Frame] = []
        self.y = 0.0
        self.new_page()

    # -- frames and pages --------------------------------------------------------------------------
    def new_page(self) -> None:
        self.out.pages.append([])
        self.page += 1
        self.frames = self.style.frames(self.page + 1)
        self.frame = 0
        self.y = self.top

    def next_frame(self) -> None:
        if self.frame + 1 < len(self.frames):
            self.frame += 1
            self.y = self.top
        else:
            self.new_page()

    @property
    def top(self) -> float:
        f = self.frames[self.frame]
        return f.y + f.h

    @property
    def bottom(self) -> float:
        return self.frames[self.frame].y

    @property
    def left(self) -> float:
        return self.frames[self.frame].x

    @property
    def measure(self) -> float:
        return self.frames[self.frame].w

    def at_top(self) -> bool:
        return self.y >= self.top - 0.01

    def room(self, height: float) -> bool:
        return self.y - height >= self.bottom - 0.01

    def emit(self, op: Op) -> None:
        self.out.pages[self.page].append(op)

    # -- lines ---------------------------------------------------------------------------------------
    def _line(self, x: float, wrapped: Wrapped, avail: float, lead: list[Piece], at: float | None = None) -> None:
        s = self.style
        self.y -= s.leading
        pieces = lead + _pieces(wrapped, s.size, at)
        word_space = 0.0
        if s.justify and not wrapped.last and wrapped.words:
            natural = _line_width(wrapped.words, s.size)
            gaps = len(wrapped.words) - 1
            word_space = (avail - natural) / gaps if gaps else 0.0
        self.emit(TextLine(x, self.y + s.leading - s.size, tuple(pieces), word_space=word_space))
        if wrapped.wrap:
            head, tail, whole = wrapped.wrap
            self.out.wraps.append({"page": self.page + 1, "line_end": head, "next_line": tail, "word": whole})

    def lines(
        self,
        wrapped: list[Wrapped],
        first_x: float,
        rest_x: float,
        first_lead: list[Piece],
        at: float | None,
        space_after: float | None = None,
    ) -> int:
        """Places a paragraph's lines (orphan and widow control as Word's default); returns its first page."""
        s = self.style
        if not self.room(s.leading * min(2, len(wrapped))):
            self.next_frame()
        start_page = self.page + 1
        for i, line in enumerate(wrapped):
            remaining = len(wrapped) - i
            if not self.room(s.leading) or (remaining == 2 and i > 0 and not self.room(2 * s.leading)):
                prev = wrapped[i - 1].words
                tail = " ".join(t for t, _ in prev[-6:])
                if not tail.rstrip().endswith((".", ":", "?")):
                    head = " ".join(t for t, _ in line.words[:6])
                    self.out.splits.append({"page": self.page + 1, "ends": tail, "continues": head})
                self.next_frame()
            x = first_x if i == 0 else rest_x
            text_x = x + at if i == 0 and at is not None else x
            self._line(x, line, self._avail(text_x), first_lead if i == 0 else [], at if i == 0 else None)
        self.y -= s.para_space if space_after is None else space_after
        return start_page

    def _avail(self, x: float) -> float:
        return self.left + self.measure - x

    # -- blocks --------------------------------------------------------------------------------------
    def heading(self, h: Heading) -> None:
        s = self.style
        if s.new_frame_level and h.level <= s.new_frame_level and not self.at_top():
            self.next_frame()
        elif s.new_page_level and h.level <= s.new_page_level and not (self.at_top() and self.frame == 0):
            self.new_page()
        size, before, after = s.heading.get(h.level, s.heading[max(s.heading)])
        if not self.at_top():
            self.y -= before
        number_w = max(s.number_width, width(h.number + "  ", s.heading_font, size)) if h.number else 0.0
        wrapped = wrap(
            words_of(parse_spans(h.text), s.heading_font, s.heading_font),
            self.measure - number_w,
            self.measure - number_w,
            size,
        )
        need = len(wrapped) * size * 1.3 + after + 3 * s.leading
        if not self.room(need):
            self.next_frame()
        self.out.headings.append((h.level, h.printed, self.page + 1))
        self.out.heading_frames.append((h.printed, self.page + 1, self.frame))
        for i, line in enumerate(wrapped):
            self.y -= size * 1.3
            if i == 0:
                lead = [Piece(h.number, s.heading_font, size)] if h.number else []
                pieces = lead + _pieces(line, size, number_w if h.number else None)
                self.emit(TextLine(self.left, self.y, tuple(pieces), colour=s.heading_colour))
            else:
                self.emit(TextLine(self.left + number_w, self.y, tuple(_pieces(line, size)), colour=s.heading_colour))
        self.y -= after

    def para(self, p: Para) -> None:
        s = self.style
        left = self.left
        words = words_of(p.spans, s.font, s.bold)
        if p.number:
            text_x = left + s.number_width
            rest_x = text_x if s.hanging else left
            lead = [Piece(p.number, s.font, s.size)]
            wrapped = wrap(words, self._avail(text_x), self._avail(rest_x), s.size)
            page = self.lines(wrapped, left, rest_x, lead, s.number_width)
        else:
            wrapped = wrap(words, self._avail(left), self._avail(left), s.size)
            page = self.lines(wrapped, left, left, [], None)
        if p.fact:
            first = " ".join(clean(sp.text) for sp in p.spans).split()
            fact: dict[str, str | int] = {"para": p.number} if p.number else {}
            self.out.facts.append({**fact, "page": page, "starts": " ".join(first[:8])})

    def bullets(self, b: BulletList, indent: float) -> None:
        s = self.style
        for n, item in enumerate(b.items):
            font, glyph = s.bullet if item.level == 1 else s.sub_bullet
            shift = indent + (s.bullet_text_at - s.bullet_at) * (item.level - 1)
            text_x = self.left + shift + s.bullet_text_at
            wrapped = wrap(words_of(item.spans, s.font, s.bold), self._avail(text_x), self._avail(text_x), s.size)
            lead = [Piece(glyph, font, s.size)]
            space = 3.0 if n < len(b.items) - 1 else s.para_space
            self.lines(wrapped, self.left + shift + s.bullet_at, text_x, lead, s.bullet_text_at - s.bullet_at, space)

    def table(self, t: Table, indent: float) -> None:
        s = self.style
        x0 = self.left + indent
        total = self.measure - indent
        widths = [total * w / 100 for w in t.widths]
        pad = 4.0
        lead = s.table_size * 1.25

        def cells(row: tuple[str, ...], head: bool) -> list[list[Wrapped]]:
            font = s.table_bold if head else s.table_font
            out = []
            for cell, w in zip(row, widths, strict=True):
                out.append(
                    wrap(words_of(parse_spans(cell), font, s.table_bold), w - 2 * pad, w - 2 * pad, s.table_size)
                )
            return out

        def draw(row: tuple[str, ...], head: bool) -> None:
            wrapped = cells(row, head)
            height = max(len(c) for c in wrapped) * lead + 2 * pad
            if not self.room(height):
                self.next_frame()
                if not head:
                    draw(t.rows[0], True)
            top = self.y
            self.emit(Rect(x0, top - height, total, height, fill=s.table_head_fill if head else "", stroke="#000000"))
            x = x0
            for c, w in zip(wrapped, widths, strict=True):
                self.emit(Rect(x, top - height, w, height, stroke="#000000"))
                y = top - pad
                for line in c:
                    y -= lead
                    self.emit(TextLine(x + pad, y + lead - s.table_size, tuple(_pieces(line, s.table_size))))
                x += w
            self.y = top - height

        if not self.room(lead * 4 + 4 * pad):
            self.next_frame()
        draw(t.rows[0], True)
        for row in t.rows[1:]:
            draw(row, False)
        self.y -= s.para_space + 4

    def panel(self, p: Panel) -> None:
        """A shaded box that never splits: measured on a scratch page first."""
        s = self.style
        scratch = Layout(s)
        probe = Flow(s, scratch)
        probe.frames = [Frame(self.left + 10, -10000, self.measure - 20, 20000)]
        probe.y = probe.top
        if p.title:
            probe.heading(Heading(3, "", p.title))
        for block in p.blocks:
            probe.block(block)
        height = probe.top - probe.y + 8
        if not self.room(height):
            self.next_frame()
        top = self.y
        self.emit(Rect(self.left, top - height, self.measure, height, fill=s.panel_fill, radius=4))
        dy = top - 6 - probe.top
        for op in scratch.pages[0]:
            if isinstance(op, TextLine):
                self.emit(TextLine(op.x, op.y + dy, op.pieces, op.colour, op.word_space))
        for level, printed, _ in scratch.headings:
            self.out.headings.append((level, printed, self.page + 1))
        for w in scratch.wraps:
            self.out.wraps.append({**w, "page": self.page + 1})
        self.y = top - height - s.para_space

    def block(self, block: Block, indent: float = 0.0) -> None:
        if isinstance(block, Heading):
            self.heading(block)
        elif isinstance(block, Para):
            self.para(block)
        elif isinstance(block, BulletList):
            self.bullets(block, indent or self.style.list_indent)
        elif isinstance(block, Table):
            self.table(block, indent)
        elif isinstance(block, NewPage):
            self.new_page()
        elif isinstance(block, Contents):
            if not (self.at_top() and self.frame == 0):
                self.new_page()
            self.out.contents_page = self.page + 1
            self.new_page()
        elif isinstance(block, Panel):
            self.panel(block)


def _contents_ops(style: HouseStyle, layout: Layout) -> list[Op]:
    """The contents page, filled in once every heading's page is known; a long entry wraps as Word wraps it."""
    frame = style.frames(layout.contents_page)[0]
    right = frame.x + frame.w
    y = frame.y + frame.h - 16
    ops: list[Op] = [
        TextLine(frame.x, y, (Piece(style.contents_title, style.heading_font, 16),), colour=style.heading_colour)
    ]
    y -= 16
    size = style.size
    for level, printed, page in layout.headings:
        if level > style.contents_depth:
            continue
        y -= 8 if level == 1 else 2
        x = frame.x + style.contents_level_indent * (level - 1)
        font = style.bold if level == 1 else style.font
        number = "" if style.contents == "plain" else str(page)
        page_w = width(number, style.font, size)
        words = [Word(w, font) for w in printed.split()]
        wrapped = wrap(words, right - x - page_w - 24, right - x - page_w - 24, size)
        for i, line in enumerate(wrapped):
            y -= size * 1.45
            text = " ".join(t for t, _ in line.words)
            pieces = [Piece(text, font, size)]
            if line.last and style.contents == "leaders":
                start = width(text + " ", font, size) + x
                dots = "." * int((right - page_w - 6 - start) / width(".", style.font, size))
                pieces += [Piece(" " + dots, style.font, size), Piece(number, style.font, size, at=right - x - page_w)]
            elif line.last and style.contents == "tabs":
                pieces.append(Piece(number, style.font, size, at=right - x - page_w))
            op = TextLine(x + (0 if i == 0 else 12), y, tuple(pieces))
            ops.append(op)
            layout.contents_lines.append(op.text)
    if y < frame.y:
        raise ValueError(f"{style.name}: the contents do not fit on one page")
    return ops


def lay_out(style: HouseStyle, blocks: tuple[Block, ...], cover: tuple[CoverLine, ...] = ()) -> Layout:
    layout = Layout(style)
    flow = Flow(style, layout)
    if style.cover is not None:
        layout.pages[0].extend(style.cover(cover))
        flow.new_page()
    for block in blocks:
        flow.block(block)
    if not layout.pages[-1]:
        layout.pages.pop()
    if layout.contents_page:
        layout.pages[layout.contents_page - 1].extend(_contents_ops(style, layout))
    total = len(layout.pages)
    for n, ops in enumerate(layout.pages, start=1):
        ops[:0] = style.decorate(n)
        ops.extend(style.furniture(n, total))
    return layout


def draw(canvas: Canvas, layout: Layout) -> None:
    for ops in layout.pages:
        canvas.setPageSize(layout.style.page)
        word_space = 0.0  # Tw is graphics state: it outlives BT/ET, so a justified line's must be undone
        for op in ops:
            _draw_op(canvas, op, word_space)
            if isinstance(op, TextLine):
                word_space = op.word_space
        canvas.showPage()


def _draw_op(canvas: Canvas, op: Op, word_space: float) -> None:
    if isinstance(op, Rect):
        if op.fill:
            canvas.setFillColor(HexColor(op.fill))
        if op.stroke:
            canvas.setStrokeColor(HexColor(op.stroke))
            canvas.setLineWidth(op.width)
        if op.radius:
            canvas.roundRect(op.x, op.y, op.w, op.h, op.radius, stroke=int(bool(op.stroke)), fill=int(bool(op.fill)))
        else:
            canvas.rect(op.x, op.y, op.w, op.h, stroke=int(bool(op.stroke)), fill=int(bool(op.fill)))
    elif isinstance(op, Disc):
        canvas.setFillColor(HexColor(op.fill))
        canvas.circle(op.x, op.y, op.r, stroke=0, fill=1)
    else:
        text = canvas.beginText(op.x, op.y)
        text.setFillColor(HexColor(op.colour))
        if op.word_space != word_space:
            text.setWordSpace(op.word_space)
        start = 0.0
        for piece in op.pieces:
            text.setFont(piece.font, piece.size)
            if piece.colour:
                text.setFillColor(HexColor(piece.colour))
            if piece.at is not None and piece.at != start:
                text.moveCursor(piece.at - start, 0)
                start = piece.at
            text.textOut(piece.text)
        canvas.drawText(text)
