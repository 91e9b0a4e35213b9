"""A document's own metadata, read from its cover: title, partnership and area, publication date, review
type, child's pseudonym and author.

Only the cover (the first page of a multi-page PDF, else the opening lines) and explicit "Published:" style
labels are believed: a report's first date is usually a date of birth, an incident or the period under review.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_MONTH = "|".join(MONTHS)
_PUBLISHED = re.compile(
    rf"\b(?:published|date of publication|publication date|publication|final report|report published)"
    rf"(?:\s+(?:on|in))?\s*:?\s*(?:\d{{1,2}}\s+)?(?P<month>{_MONTH})\s+(?P<year>(?:19|20)\d\d)\b",
    re.IGNORECASE,
)
_ISSUED = re.compile(
    rf"\b(?:briefing|brief)\s+(?:issued|published)\s*:?\s*(?P<month>{_MONTH})\s+(?P<year>(?:19|20)\d\d)\b", re.I
)
_MONTH_YEAR_LINE = re.compile(rf"^(?:.*[|·•–-]\s*)?(?P<month>{_MONTH})\s+(?P<year>(?:19|20)\d\d)\s*$", re.MULTILINE)
_BODY = (
    r"Local Safeguarding Children Board|Safeguarding Children (?:Partnership|Board)|Safeguarding Partnership"
    r"|Regional Safeguarding (?:Children )?Board|Safeguarding Board|Child Protection Committee|LSCB|LSCP|SCP"
)
_PARTNERSHIP = re.compile(rf"\b(?P<area>(?:[A-Z][\w’'&-]+ ){{1,3}}?)(?P<body>{_BODY})\b")
_AUTHOR = re.compile(
    r"\b(?:independent reviewer|lead reviewer|independent author|overview author|lead author|reviewer|author"
    r"|written by)\s*:\s*(?P<name>[A-Z][^\n,;]{2,60})",
    re.IGNORECASE,
)
_CHILD = re.compile(r"\b(?P<child>(?:Child|Baby|Family|Young Person|Children) [A-Z][A-Z0-9]{0,3}\d?)(?![\w’'])")
# Review types, most specific first: (pattern on the cover, type). Briefings come first, since a
# briefing's cover also names the review it is about.
_TYPES = (
    (r"7[ -]minute briefing|seven[ -]minute briefing", "7-minute briefing"),
    (r"six[ -]step briefing|6[ -]step briefing", "six-step briefing"),
    (r"learning brief\b", "learning brief"),
    (r"learning briefing|practice briefing", "learning briefing"),
    (r"(?:extended |concise )?child practice review", "child practice review"),
    (r"significant case review", "significant case review"),
    (r"(?:local )?child safeguarding practice review", "child safeguarding practice review"),
    (r"serious case review", "serious case review"),
    (r"rapid review", "rapid review"),
    (r"learning review", "learning review"),
    (r"national review|national panel", "national review"),
    (r"thematic (?:review|analysis)|triennial analysis|biennial analysis", "thematic analysis"),
)
_REF = re.compile(r"^[A-Z][A-Z ]+\d{1,3}/\d{2,4}$")  # "GLANNAU 2/2020"


@dataclass(frozen=True)
class Cover:
    title: str | None = None
    partnership: str | None = None
    area: str | None = None
    year: int | None = None
    month: str | None = None
    type: str | None = None
    child: str | None = None
    author: str | None = None


COVER_MAX = 800  # a first page with more text than this is not a cover


def has_cover(text: str, page_starts: tuple[int, ...]) -> bool:
    """A PDF whose first page is short: a cover, whose lines are the title and metadata, not headings."""
    return len(page_starts) >= 3 and len(text[: page_starts[1]].strip()) <= COVER_MAX


def cover_text(text: str, page_starts: tuple[int, ...]) -> str:
    """The cover page when there is one, else the opening (at most 1,500 characters)."""
    if has_cover(text, page_starts):
        return text[: page_starts[1]]
    return text[:1500]


def read_cover(cover: str, kind: str, extra: str = "") -> Cover:
    """Metadata from a cover; `extra` is other text to believe for dates (a briefing's running footer)."""
    # A line in capitals ("WESTHAVEN LOCAL SAFEGUARDING CHILDREN BOARD") is read in title case.
    lines = [" ".join(x.split()).lstrip("# ") for x in cover.split("\n") if x.strip()]
    lines = [x.title() if x.isupper() and len(x.split()) >= 3 and not re.search(r"\d", x) else x for x in lines]
    flat = " ".join(lines)
    partnership = area = None
    m = _PARTNERSHIP.search(flat) or _PARTNERSHIP.search(" ".join(extra.split()))
    if m:
        area = _place(m.group("area").split())
        partnership = f"{area} {m.group('body')}"
    year, month = _date(flat, lines, kind, extra)
    rtype, type_line = _type(lines, kind)
    children = list(dict.fromkeys(c.group("child") for c in _CHILD.finditer(flat)))
    child = "; ".join(children) if kind == "briefing" else (children[0] if children else None)
    author = None
    a = _AUTHOR.search(cover)
    if a and kind != "briefing":
        # The name ends where the next label or a separator starts ("Margaret Okonjo _ Published: July 2016").
        author = re.split(r"\s+[_|·•–—-]\s+|\s{2,}|\s+\w+:", a.group("name"))[0].strip()
    elif kind == "briefing" and partnership:
        author = partnership
    title = _title(lines, type_line, children, kind, partnership)
    return Cover(title, partnership, area, year, month, rtype, child or None, author)


_PLACE_PREFIX = {"north", "south", "east", "west", "central", "greater", "mid", "new", "upper", "lower", "royal"}


def _place(words: list[str]) -> str:
    """The place in the words before "Safeguarding Children …": its last word, with a compass prefix
    ("North Yorkshire") or a two-word town ("Milton Keynes" is taken as written when the first word is a place
    prefix only)."""
    place = [words[-1]]
    for w in reversed(words[:-1]):
        if w.lower() in _PLACE_PREFIX or w.lower() in ("and", "of", "upon", "on"):
            place.insert(0, w)
        else:
            break
    while place and place[0].lower() in ("and", "of", "upon", "on"):
        place.pop(0)
    return " ".join(place)


def _date(flat: str, lines: list[str], kind: str, extra: str) -> tuple[int | None, str | None]:
    for rx in (_ISSUED, _PUBLISHED) if kind == "briefing" else (_PUBLISHED,):
        m = rx.search(flat)
        if m:
            return int(m.group("year")), m.group("month").capitalize()
    if kind == "briefing":
        for source in ("\n".join(lines), extra):
            m = _MONTH_YEAR_LINE.search(source)
            if m:
                return int(m.group("year")), m.group("month")
    return None, None


def _type(lines: list[str], kind: str) -> tuple[str | None, int | None]:
    """The review type named by a title-like cover line (short, not a sentence), and that line."""
    for pattern, rtype in _TYPES:
        for i, line in enumerate(lines):
            if _title_like(line) and re.search(pattern, line, re.IGNORECASE):
                return rtype, i
    return None, None


def _title_like(line: str) -> bool:
    """A cover line, not a wrapped sentence: short, capitalised, brackets closed, no dangling last word."""
    return (
        len(line.split()) <= 10
        and line[:1].isupper() | line[:1].isdigit()
        and line[-1:] not in ".,;("
        and line.count("(") == line.count(")")
        and not re.search(r"\b(?:the|of|and|a|an|to|in|for|with|by|from)$", line, re.IGNORECASE)
    )


def _title(lines: list[str], at: int | None, children: list[str], kind: str, partnership: str | None) -> str | None:
    """The cover's type line ("Serious Case Review"), its reference ("GLANNAU 2/2020"), then the child or,
    for a briefing, its subtitle: "Serious Case Review: Child M"."""
    if at is None:
        return None
    title = lines[at]
    rest = lines[at + 1 : at + 4]
    if rest and _REF.match(rest[0]):
        title, rest = f"{title} {rest[0]}", rest[1:]
    if ":" in title:
        return title
    if kind == "briefing":
        block = _title_block(rest, partnership)
        if block:
            return f"{title}: {' '.join(block)}"
    if children and children[0] not in title:
        return f"{title}: {children[0]}"
    return title


_DATE_LINE = re.compile(rf"\b(?:{_MONTH}|spring|summer|autumn|winter)\s+(?:19|20)\d\d\b", re.IGNORECASE)


def _title_block(lines: list[str], partnership: str | None) -> list[str]:
    """A briefing's subtitle: the cover lines after its type line, as printed ("Child M" / "Serious Case Review"),
    up to the partnership's name, a date, a label ("Published: …") or a sentence."""
    out: list[str] = []
    for line in lines:
        if (
            (partnership and line in partnership)
            or _PARTNERSHIP.search(line)
            or _DATE_LINE.search(line)
            or re.match(r"^[\w ]{1,30}:\s", line)
            or not (line[:1].isupper() or line[:1].isdigit())
            or line[-1:] in ".,;"
            or len(line.split()) > 20
        ):
            break
        out.append(line)
    return out
