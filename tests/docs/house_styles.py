"""The publishers' templates: page furniture, covers, fonts and list styles of each fictional partnership."""

from __future__ import annotations

from collections.abc import Callable

from layout import Disc, Frame, HouseStyle, Op, Piece, Rect, TextLine, width
from markup import CoverLine
from reportlab.lib.pagesizes import A4, landscape

W, H = A4
GREY = "#595959"
TEAL = "#1F5C7A"
PLUM = "#5B2A6E"
GREEN = "#2E6B3F"


def _body(page: int) -> list[Frame]:
    return [Frame(72, 72, W - 144, H - 144)]


def _centred(text: str, font: str, size: float, y: float, colour: str = "#000000", page_w: float = W) -> TextLine:
    return TextLine((page_w - width(text, font, size)) / 2, y, (Piece(text, font, size),), colour=colour)


def _cover_lines(
    lines: tuple[CoverLine, ...], y: float, x: float | None, regular: str, bold: str, colour: str = "#000000"
) -> list[Op]:
    """Cover lines top-down from y; centred when x is None. A size of 0 leaves a gap."""
    ops: list[Op] = []
    for line in lines:
        if not line.text:
            y -= 28
            continue
        font = bold if line.bold else regular
        y -= line.size * 1.35
        if x is None:
            ops.append(_centred(line.text, font, line.size, y, colour))
        else:
            ops.append(TextLine(x, y, (Piece(line.text, font, line.size),), colour=colour))
    return ops


# -- Northshire Safeguarding Children Board: serious case review (2019) ---------------------------------------


def _northshire_cover(lines: tuple[CoverLine, ...]) -> list[Op]:
    ops: list[Op] = [
        Rect(W / 2 - 60, H - 190, 120, 80, fill="#203864"),
        _centred("NSCB", "Helvetica-Bold", 30, H - 162, colour="#FFFFFF"),
        Rect(72, 96, W - 144, 1.5, fill="#203864"),
    ]
    return ops + _cover_lines(lines, H - 250, None, "Helvetica", "Helvetica-Bold")


def _northshire_furniture(header: str) -> Callable[[int, int], list[Op]]:
    def furniture(page: int, total: int) -> list[Op]:
        if page == 1:
            return []
        return [
            _centred(header, "Helvetica", 9, H - 44, GREY),
            _centred(f"Page {page} of {total}", "Helvetica", 9, 40, GREY),
        ]

    return furniture


def northshire_report(header: str) -> HouseStyle:
    return HouseStyle(
        name="northshire-report",
        page=A4,
        frames=_body,
        heading={1: (14.0, 0.0, 10.0), 2: (11.5, 10.0, 6.0), 3: (11.0, 8.0, 4.0)},
        heading_colour="#203864",
        new_page_level=1,
        list_indent=42.0,
        contents="leaders",
        contents_depth=1,
        furniture=_northshire_furniture(header),
        cover=_northshire_cover,
    )


# -- Eastmere Safeguarding Children Partnership: local CSPR (2021) ---------------------------------------------


def _eastmere_cover(lines: tuple[CoverLine, ...]) -> list[Op]:
    ops: list[Op] = [
        Rect(0, H - 130, W, 130, fill=TEAL),
        TextLine(72, H - 70, (Piece("Eastmere", "Vera-Bold", 24),), colour="#FFFFFF"),
        TextLine(72, H - 96, (Piece("Safeguarding Children Partnership", "Vera", 14),), colour="#FFFFFF"),
        Rect(72, H - 430, 6, 220, fill=TEAL),
    ]
    return ops + _cover_lines(lines, H - 200, 96, "Vera", "Vera-Bold", colour=TEAL)


def _eastmere_furniture(page: int, total: int) -> list[Op]:
    if page == 1:
        return []
    name = "Eastmere Safeguarding Children Partnership \u2013 CSPR Baby R"
    return [
        TextLine(W - 72 - width(name, "Vera", 8.5), H - 46, (Piece(name, "Vera", 8.5),), colour=TEAL),
        Rect(72, H - 52, W - 144, 0.6, fill=TEAL),
        _centred(str(page), "Vera", 9, 38, GREY),
    ]


def eastmere_report() -> HouseStyle:
    return HouseStyle(
        name="eastmere-report",
        page=A4,
        frames=_body,
        font="Vera",
        bold="Vera-Bold",
        size=11.0,
        leading=17.0,
        para_space=8.0,
        number_width=40.0,
        hanging=False,
        heading={1: (14.0, 16.0, 8.0), 2: (11.5, 10.0, 5.0), 3: (10.5, 8.0, 4.0)},
        heading_font="Vera-Bold",
        heading_colour=TEAL,
        new_page_level=1,
        table_font="Vera",
        table_bold="Vera-Bold",
        table_size=9.0,
        table_head_fill="#CFE0E8",
        contents="tabs",
        contents_depth=2,
        furniture=_eastmere_furniture,
        cover=_eastmere_cover,
    )


# -- Glannau Regional Safeguarding Board: Welsh child practice review (2020) -----------------------------------


def _glannau_cover(lines: tuple[CoverLine, ...]) -> list[Op]:
    ops: list[Op] = [
        Rect(72, H - 150, W - 144, 70, stroke=PLUM, width=1.2),
        _centred("Bwrdd Diogelu Rhanbarthol Glannau", "Times-Italic", 13, H - 110, PLUM),
        _centred("Glannau Regional Safeguarding Board", "Times-Bold", 14, H - 132, PLUM),
    ]
    return ops + _cover_lines(lines, H - 220, None, "Times-Roman", "Times-Bold")


def _glannau_furniture(header: str) -> Callable[[int, int], list[Op]]:
    def furniture(page: int, total: int) -> list[Op]:
        if page == 1:
            return []
        number = f"Page {page}"
        at = W - 144 - width(number, "Times-Roman", 10)
        return [TextLine(72, H - 48, (Piece(header, "Times-Italic", 10), Piece(number, "Times-Roman", 10, at=at)))]

    return furniture


def glannau_report(header: str) -> HouseStyle:
    return HouseStyle(
        name="glannau-report",
        page=A4,
        frames=_body,
        font="Times-Roman",
        bold="Times-Bold",
        size=12.0,
        leading=18.0,
        para_space=9.0,
        justify=True,
        new_page_level=1,
        number_width=40.0,
        list_indent=40.0,
        heading={1: (14.0, 18.0, 8.0), 2: (12.0, 12.0, 6.0), 3: (12.0, 8.0, 4.0)},
        heading_font="Times-Bold",
        heading_colour=PLUM,
        bullet=("Vera", "\u2022"),
        sub_bullet=("Courier", "o"),
        table_font="Times-Roman",
        table_bold="Times-Bold",
        table_size=10.0,
        contents="plain",
        contents_depth=1,
        contents_title="Contents",
        furniture=_glannau_furniture(header),
        cover=_glannau_cover,
    )


# -- Briefings ------------------------------------------------------------------------------------------------


def _brief_frames(page: int) -> list[Frame]:
    if page == 1:
        return [Frame(56, 64, W - 112, H - 64 - 150)]
    return [Frame(56, 64, W - 112, H - 64 - 56)]


def rapid_review_brief(title: str, subtitle: str, footer: str) -> HouseStyle:
    def decorate(page: int) -> list[Op]:
        if page != 1:
            return []
        return [
            Rect(0, H - 130, W, 130, fill=TEAL),
            TextLine(56, H - 62, (Piece(title, "Vera-Bold", 22),), colour="#FFFFFF"),
            TextLine(56, H - 90, (Piece(subtitle, "Vera", 12),), colour="#FFFFFF"),
            TextLine(
                56, H - 112, (Piece("Eastmere Safeguarding Children Partnership", "Vera", 9.5),), colour="#FFFFFF"
            ),
        ]

    def furniture(page: int, total: int) -> list[Op]:
        return [Rect(56, 50, W - 112, 0.6, fill=TEAL), TextLine(56, 38, (Piece(footer, "Vera", 8),), colour=GREY)]

    return HouseStyle(
        name="rapid-review-brief",
        page=A4,
        frames=_brief_frames,
        font="Vera",
        bold="Vera-Bold",
        size=9.8,
        leading=13.4,
        para_space=6.0,
        heading={1: (13.0, 10.0, 5.0), 2: (11.0, 8.0, 4.0), 3: (10.5, 4.0, 3.0)},
        heading_font="Vera-Bold",
        heading_colour=TEAL,
        bullet_at=8.0,
        bullet_text_at=22.0,
        panel_fill="#E3EEF2",
        decorate=decorate,
        furniture=furniture,
    )


LW, LH = landscape(A4)
_BOX_W = (LW - 2 * 30 - 3 * 12) / 4
_BOX_H = (LH - 2 * 30 - 12) / 2


def _box(i: int) -> tuple[float, float]:
    """Bottom-left corner of box i (0-7): four across, two rows."""
    col, row = i % 4, i // 4
    return 30 + col * (_BOX_W + 12), LH - 30 - (row + 1) * _BOX_H - row * 12


def seven_minute_briefing(title_lines: tuple[str, ...]) -> HouseStyle:
    """One landscape page: the title in the first box, the seven parts clockwise in the others."""
    order = [1, 2, 3, 7, 6, 5, 4]  # the parts run round the page like a clock face

    def frames(page: int) -> list[Frame]:
        out = []
        for box in order:
            x, y = _box(box)
            out.append(Frame(x + 10, y + 8, _BOX_W - 20, _BOX_H - 44))
        return out

    def decorate(page: int) -> list[Op]:
        x, y = _box(0)
        ops: list[Op] = [Rect(x, y, _BOX_W, _BOX_H, fill=GREEN, radius=8)]
        ops.append(Disc(x + _BOX_W / 2, y + _BOX_H - 70, 38, "#FFFFFF"))
        ops.append(_centred("7", "Helvetica-Bold", 40, y + _BOX_H - 84, GREEN, page_w=2 * x + _BOX_W))
        ty = y + _BOX_H - 140
        for n, line in enumerate(title_lines):
            size = 15 if n < 2 else 10
            font = "Helvetica-Bold" if n < 2 else "Helvetica"
            ops.append(_centred(line, font, size, ty, "#FFFFFF", page_w=2 * x + _BOX_W))
            ty -= size * 1.45
        for n, box in enumerate(order, start=1):
            bx, by = _box(box)
            ops.append(Rect(bx, by, _BOX_W, _BOX_H, stroke=GREEN, width=1.4, radius=8))
            ops.append(Disc(bx + _BOX_W - 20, by + _BOX_H - 20, 12, GREEN))
            ops.append(
                TextLine(bx + _BOX_W - 24, by + _BOX_H - 25, (Piece(str(n), "Helvetica-Bold", 13),), colour="#FFFFFF")
            )
        return ops

    return HouseStyle(
        name="seven-minute-briefing",
        page=(LW, LH),
        frames=frames,
        size=9.4,
        leading=11.8,
        para_space=4.5,
        number_width=16.0,
        heading={1: (12.0, 0.0, 5.0), 2: (10.0, 4.0, 2.0), 3: (10.0, 4.0, 2.0)},
        heading_colour=GREEN,
        new_frame_level=1,
        bullet_at=2.0,
        bullet_text_at=12.0,
        decorate=decorate,
    )


def learning_briefing(org: str) -> HouseStyle:
    def furniture(page: int, total: int) -> list[Op]:
        text = f"Learning briefing \u2014 Page {page} of {total}"
        return [
            TextLine(W - 56 - width(text, "Helvetica", 8.5), H - 36, (Piece(text, "Helvetica", 8.5),), colour=GREY),
            TextLine(56, 34, (Piece(org, "Helvetica-Oblique", 8),), colour=GREY),
        ]

    def frames(page: int) -> list[Frame]:
        return [Frame(56, 58, W - 112, H - 58 - 56)]

    return HouseStyle(
        name="learning-briefing",
        page=A4,
        frames=frames,
        size=10.5,
        leading=15.0,
        para_space=7.0,
        heading={1: (18.0, 0.0, 6.0), 2: (13.0, 14.0, 6.0), 3: (11.0, 6.0, 3.0)},
        heading_colour=PLUM,
        bullet_at=10.0,
        bullet_text_at=24.0,
        panel_fill="#EFE6F2",
        furniture=furniture,
    )
