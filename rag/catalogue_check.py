"""Records whose metadata is missing or doubtful, each with the catalogue line that would correct it."""

from __future__ import annotations

import datetime
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from rag.catalogue import CATALOGUE_NAME, COLUMNS, csv_line
from rag.models import Review

# Serious case reviews began with Working Together 1991 (Part 8 reviews); a year before this is a birth or a typo.
FIRST_PLAUSIBLE_YEAR = 1989
# Titles that name only the kind of document, not which one.
_GENERIC_TITLES = {
    "serious case review",
    "child safeguarding practice review",
    "local child safeguarding practice review",
    "learning review",
    "executive summary",
    "overview report",
    "final report",
    "learning brief",
    "learning briefing",
    "7 minute briefing",
    "7-minute briefing",
    "rapid review",
    "untitled",
}
# A title ending in a small word was cut at a line wrap ("The Overview Report into a"); "Baby A" was not.
_CUT_END = re.compile(r"\b(?:a|an|the|of|into|and|for|in|on|to|by|with|from)$")
_FILE_LIKE = re.compile(r"\.(?:docx?|pdf|txt|md|rtf|odt)\b|^\w+(?:[-_]\w+)+$", re.IGNORECASE)


@dataclass(frozen=True)
class Doubt:
    """A record with missing or doubtful metadata: why, and the catalogue line to add (blanks to fill)."""

    review_id: str
    source: str
    title: str
    reasons: tuple[str, ...]
    row: dict[str, Any]  # the line's cells by column, pre-filled with what parsing found, doubtful cells blank
    line: str  # the same, as a CSV line for catalogue.csv

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.review_id,
            "source": self.source,
            "title": self.title,
            "reasons": list(self.reasons),
            "row": self.row,
            "line": self.line,
        }


def doubts(reviews: Iterable[Review], this_year: int | None = None) -> list[Doubt]:
    """Every record with no year, no area, no type, a title that does not say which document it is, a year
    outside FIRST_PLAUSIBLE_YEAR..this year, or (a review) no child named; in source order."""
    records = list(reviews)
    per_file = Counter(r.source for r in records)
    out = []
    for r in sorted(records, key=lambda r: (r.source, r.start)):
        reasons, blank = _reasons(r, this_year or datetime.date.today().year)
        if reasons:
            row = _row(r, blank, listing=per_file[r.source] > 1)
            out.append(Doubt(r.id, r.source, r.title, tuple(reasons), row, csv_line(row)))
    return out


def _reasons(r: Review, this_year: int) -> tuple[list[str], set[str]]:
    reasons: list[str] = []
    blank: set[str] = set()

    def doubt(field: str, why: str) -> None:
        reasons.append(why)
        blank.add(field)

    if r.year is None:
        doubt("year", "no year")
    elif not FIRST_PLAUSIBLE_YEAR <= r.year <= this_year:
        doubt("year", f"year {r.year} is outside {FIRST_PLAUSIBLE_YEAR}–{this_year}")
    if not r.area or r.area == "Anonymous":
        doubt("area", f"no area ({r.area or 'blank'})")
    elif r.area == "National" and r.kind == "review" and r.type != "national review":
        doubt("area", "area National for a local review")
    if not r.type:
        doubt("type", "no type")
    title_doubt = _title_doubt(r)
    if title_doubt:
        doubt("title", title_doubt)
    if r.kind == "review" and not r.child:
        doubt("child", "a review with no child named")
    return reasons, blank


def _title_doubt(r: Review) -> str | None:
    title = " ".join(r.title.split())
    low = title.lower().strip(" .:-–")
    stem = PurePosixPath(r.source).stem.lower()
    if "microsoft word" in low:
        return f'title "{title}" is a word processor\'s window title'
    if not low:
        return "no title"
    if low in _GENERIC_TITLES:
        return f'title "{title}" does not say which review'
    if re.sub(r"[\W_]+", " ", low).strip() == re.sub(r"[\W_]+", " ", stem).strip() or _FILE_LIKE.search(title):
        return f'title "{title}" looks like a file name'
    if _CUT_END.search(title.rstrip(" .:-–")):
        return f'title "{title}" looks cut mid-line'
    return None


def _row(r: Review, blank: set[str], listing: bool) -> dict[str, Any]:
    """What parsing found, with the doubtful fields blank; the id only where the file gives several records."""
    row: dict[str, Any] = {"file": r.source, "id": r.id if listing else ""}
    for field in COLUMNS[2:]:
        value = getattr(r, field, None)
        row[field] = "" if field in blank or value is None else value
    row["keywords"] = "; ".join(r.keywords) if "keywords" not in blank else ""
    return row


def doubts_text(found: list[Doubt], total: int) -> str:
    """`rla reviews --check`: each record with its reasons and the line to add, then what to do with them."""
    if not found:
        return f"all {total} records have a year, an area, a type and a title that names them"
    out = []
    for d in found:
        out.append(f"{d.review_id}  ({d.source})")
        out.append(f"    {'; '.join(d.reasons)}")
        out.append(f"    {d.line}")
    out.append("")
    out.append(
        f"{len(found)} of {total} records have missing or doubtful metadata. To correct one, add its line to "
        f"{CATALOGUE_NAME} in the corpus folder (first line: {','.join(COLUMNS)}), fill in the blanks, "
        "delete what you do not want to set, and run rla ingest (nothing is re-embedded)."
    )
    return "\n".join(out)
