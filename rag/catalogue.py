"""corpus/catalogue.csv: the keeper's corrections to what parsing found, read, checked and applied to records.

One row per corpus file (column `file`, its corpus key), or per record of a listing (columns `file` and `id`).
A blank cell keeps what parsing found; "-" says "none" (no child, no type, …). Records keep the values parsing
found for every field a row overrides (`Review.parsed`), so a row edited or deleted later is undone exactly,
without reading or embedding the file again.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from rag.errors import RlaError
from rag.metadata import MONTHS
from rag.models import DOCUMENT_KINDS, REVIEW_TYPES, Chunk, Review

CATALOGUE_NAME = "catalogue.csv"
# Review fields a row may set, in the order the columns are written.
FIELDS = ("title", "area", "partnership", "year", "month", "type", "kind", "child", "author", "url", "keywords")
COLUMNS = ("file", "id", *FIELDS)
ACCEPTED = (*COLUMNS, "published")  # "published": "March 2019", "2019-03" or "2019" → month and year
NONE = "-"  # a cell that says the record has no such value
_OPTIONAL = ("partnership", "month", "type", "child", "author", "url", "keywords")
# Fields chunks carry a copy of (rag.chunk._make), kept in step when a row changes a record.
CHUNK_FIELDS = ("title", "year", "area", "type", "keywords", "kind", "url")
_TYPE_ALIASES = {
    "scr": "serious case review",
    "cspr": "child safeguarding practice review",
    "lcspr": "child safeguarding practice review",
    "local child safeguarding practice review": "child safeguarding practice review",
    "7 minute briefing": "7-minute briefing",
    "seven minute briefing": "7-minute briefing",
}
MAX_CELL = 500


class CatalogueError(RlaError):
    """catalogue.csv cannot be used: the message names the file and line, and how to fix it."""


@dataclass(frozen=True)
class Row:
    line: int  # in the file, for messages
    file: str
    id: str | None  # a record of the file (a listing entry), or None for every record the file gives
    values: tuple[tuple[str, Any], ...]  # (field, value); value None means "none"

    def as_dict(self) -> dict[str, Any]:
        return dict(self.values)


@dataclass(frozen=True)
class Catalogue:
    path: Path
    digest: str | None  # SHA-256 of the file's bytes; None when there is no catalogue
    rows: tuple[Row, ...] = ()

    @cached_property
    def _by_file(self) -> dict[str, list[Row]]:
        out: dict[str, list[Row]] = {}
        for row in self.rows:
            out.setdefault(row.file, []).append(row)
        return out

    def values_for(self, review: Review) -> dict[str, Any]:
        """What the rows naming this record's file (then the record itself) set, the record's own row last."""
        rows = self._by_file.get(review.source, [])
        out: dict[str, Any] = {}
        for row in rows:
            if row.id is None:
                out.update(row.values)
        for row in rows:
            if row.id == review.id:
                out.update(row.values)
        return out


def catalogue_path(corpus: Path) -> Path:
    return corpus / CATALOGUE_NAME


def read_catalogue(path: Path) -> Catalogue:
    """The catalogue at `path` (empty when there is none), every cell checked; CatalogueError names the first
    bad one."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return Catalogue(path, None)
    except OSError as e:
        raise CatalogueError(f"{path}: cannot be read ({e.strerror or e}); fix its permissions or remove it") from e
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise CatalogueError(f"{path}:{line}: not UTF-8 text; save the file as CSV UTF-8") from None
    return Catalogue(path, hashlib.sha256(data).hexdigest(), parse_rows(text, str(path)))


def parse_rows(text: str, name: str) -> tuple[Row, ...]:
    """Rows of a catalogue's text; `name` is how messages name the file."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            return ()
        columns = [c.strip().lower() for c in header]
        for i, c in enumerate(columns, 1):
            if not c:
                raise CatalogueError(f"{name}:1: column {i} has no name; name it or delete the empty column")
            if c not in ACCEPTED:
                raise CatalogueError(
                    f"{name}:1: unknown column {c!r}; the columns are {', '.join(ACCEPTED)} (only file is required)"
                )
        if "file" not in columns:
            raise CatalogueError(f"{name}:1: no file column; the first line names the columns, e.g. file,title,year")
        if len(set(columns)) != len(columns):
            raise CatalogueError(f"{name}:1: a column is named twice; keep one of each")
        rows: list[Row] = []
        seen: dict[tuple[str, str | None], int] = {}
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > len(columns):
                raise CatalogueError(
                    f"{name}:{line}: {len(cells)} cells for {len(columns)} columns; quote a value that holds a comma"
                )
            row = _row(dict(zip(columns, cells, strict=False)), line, name)
            where = (row.file, row.id)
            if where in seen:
                what = f"{row.file} {row.id}" if row.id else row.file
                raise CatalogueError(
                    f"{name}:{line}: {what} already has a row (line {seen[where]}); merge the two rows"
                )
            seen[where] = line
            rows.append(row)
    except csv.Error as e:
        raise CatalogueError(f"{name}:{reader.line_num}: not valid CSV ({e}); check the quotes on that line") from None
    return tuple(rows)


def _row(cells: Mapping[str, str], line: int, name: str) -> Row:
    def bad(what: str) -> CatalogueError:
        return CatalogueError(f"{name}:{line}: {what}")

    file = cells.get("file", "").strip()
    if not file:
        raise bad("no file; name the corpus file as rla reviews shows its source, e.g. reports/child-m.pdf")
    if file.startswith("/") or "\\" in file or ".." in file.split("/"):
        raise bad(f"file {file!r} is not a path inside the corpus folder; write it relative to it, e.g. child-m.pdf")
    values: dict[str, Any] = {}
    for column, raw in cells.items():
        cell = raw.strip()
        if column in ("file", "id") or not cell:
            continue
        if len(cell) > MAX_CELL:
            raise bad(f"{column} is {len(cell)} characters long; keep it under {MAX_CELL}")
        if any(ord(ch) < 32 for ch in cell):
            raise bad(f"{column} holds a line break or control character; keep each value on one line")
        values.update(_value(column, cell, bad))
    return Row(line, file, cells.get("id", "").strip() or None, tuple(values.items()))


def _value(column: str, cell: str, bad: Any) -> dict[str, Any]:
    if cell == NONE:
        if column in ("title", "area", "kind", "year", "published"):
            raise bad(f'{column} cannot be "-": every record has one; leave the cell blank to keep what parsing found')
        return {column: () if column == "keywords" else None}
    if column == "year":
        return {"year": _year(cell, bad)}
    if column == "month":
        return {"month": _month(cell, bad)}
    if column == "published":
        return _published(cell, bad)
    if column == "kind":
        if cell.lower() not in DOCUMENT_KINDS:
            raise bad(f"kind {cell!r} is not one of {', '.join(DOCUMENT_KINDS)}")
        return {"kind": cell.lower()}
    if column == "type":
        rtype = _TYPE_ALIASES.get(" ".join(cell.lower().replace("-", " ").split()), cell.lower())
        if rtype not in REVIEW_TYPES:
            raise bad(f"type {cell!r} is not a known review type; use one of {', '.join(REVIEW_TYPES)}")
        return {"type": rtype}
    if column == "url":
        if not re.fullmatch(r"https?://[^\s\"'<>]+", cell):
            raise bad(f"url {cell!r} is not a web address; write it in full, starting https://")
        return {"url": cell}
    if column == "keywords":
        return {"keywords": tuple(dict.fromkeys(k.strip() for k in cell.split(";") if k.strip()))}
    return {column: " ".join(cell.split())}


def _year(cell: str, bad: Any) -> int:
    this_year = datetime.date.today().year
    if not re.fullmatch(r"\d{4}", cell) or not 1900 <= int(cell) <= this_year:
        raise bad(f"year {cell!r} is not a year from 1900 to {this_year}; write four digits, e.g. 2019")
    return int(cell)


def _month(cell: str, bad: Any) -> str:
    low = cell.lower()
    for i, m in enumerate(MONTHS, 1):
        if low in (m.lower(), m[:3].lower(), str(i), f"{i:02d}"):
            return m
    raise bad(f"month {cell!r} is not a month; write its name, e.g. March")


def _published(cell: str, bad: Any) -> dict[str, Any]:
    """ "March 2019", "12 March 2019", "2019-03", "2019-03-12" or "2019"."""
    if m := re.fullmatch(r"(\d{4})(?:-(\d{1,2})(?:-\d{1,2})?)?", cell):
        out: dict[str, Any] = {"year": _year(m.group(1), bad)}
        if m.group(2):
            out["month"] = _month(m.group(2), bad)
        return out
    if m := re.fullmatch(r"(?:\d{1,2}(?:st|nd|rd|th)?\s+)?([A-Za-z]+)\.?\s+(\d{4})", cell):
        return {"month": _month(m.group(1), bad), "year": _year(m.group(2), bad)}
    raise bad(f"published {cell!r} is not a date; write e.g. March 2019 or 2019-03")


# --- applying rows to records ---------------------------------------------------------------------------


def as_parsed(review: Review) -> Review:
    """The record as parsing found it: every value a catalogue row set, put back."""
    if not review.parsed:
        return review
    back: dict[str, Any] = {k: tuple(v) if k == "keywords" and v is not None else v for k, v in review.parsed}
    return replace(review, **back, parsed=())


def with_catalogue(review: Review, catalogue: Catalogue) -> Review:
    """The record as parsed, with what the catalogue says of it: the values it replaces are kept in `parsed`."""
    base = as_parsed(review)
    values = {k: v for k, v in catalogue.values_for(base).items() if getattr(base, k) != v}
    if not values:
        return base
    parsed = tuple((k, getattr(base, k)) for k in FIELDS if k in values)
    return replace(base, **values, parsed=parsed)


def apply_catalogue(
    catalogue: Catalogue, reviews: Sequence[Review], chunks: Sequence[Chunk]
) -> tuple[list[Review], list[Chunk], set[str]]:
    """Records and chunks with the catalogue's values (and undone where a row went), and the ids that changed."""
    out_reviews: list[Review] = []
    changed: dict[str, Review] = {}
    for r in reviews:
        new = with_catalogue(r, catalogue)
        out_reviews.append(new)
        if new != r:
            changed[r.id] = new
    if not changed:
        return out_reviews, list(chunks), set()
    out_chunks = [
        replace(c, **{k: getattr(changed[c.review_id], k) for k in CHUNK_FIELDS}) if c.review_id in changed else c
        for c in chunks
    ]
    return out_reviews, out_chunks, set(changed)


def warnings(catalogue: Catalogue, reviews: Iterable[Review], corpus_keys: Iterable[str]) -> list[str]:
    """One line for each row that names a file not in the corpus, or a record its file does not give."""
    keys = set(corpus_keys)
    ids: dict[str, set[str]] = {}
    for r in reviews:
        ids.setdefault(r.source, set()).add(r.id)
    out = []
    name = catalogue.path.name
    for row in catalogue.rows:
        if row.file not in keys:
            out.append(f"{name}:{row.line}: {row.file} is not in the corpus folder; fix the name or remove the row")
        elif row.id is not None and row.file in ids and row.id not in ids[row.file]:
            out.append(
                f"{name}:{row.line}: {row.file} has no record {row.id}; see its ids with rla reviews, or remove the row"
            )
    return out


# --- writing rows (the web app's corrections) -------------------------------------------------------------


def save_rows(path: Path, edits: Sequence[Mapping[str, str]]) -> Catalogue:
    """Merge `edits` (cells by column; blank cells change nothing) into the catalogue and write it atomically.

    Every edit is checked as a row of the file would be; on a bad one nothing is written.
    """
    old = read_catalogue(path)
    text = path.read_text(encoding="utf-8-sig") if old.digest else ""
    table = [dict(zip(COLUMNS, r, strict=False)) for r in _cells(text)]
    index = {(r.get("file", ""), r.get("id", "") or ""): r for r in table}
    for edit in edits:
        cells = {k: str(v if v is not None else "").strip() for k, v in edit.items() if k in COLUMNS}
        key = (cells.get("file", ""), cells.get("id", ""))
        row = index.get(key)
        if row is None:
            row = {"file": key[0], "id": key[1]}
            table.append(row)
            index[key] = row
        row.update({k: v for k, v in cells.items() if v and k not in ("file", "id")})
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in table:
        writer.writerow([r.get(c, "") for c in COLUMNS])
    new_text = out.getvalue()
    parse_rows(new_text, path.name)  # refuse before writing
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(new_text, encoding="utf-8")
    os.replace(tmp, path)
    return read_catalogue(path)


def _cells(text: str) -> list[list[str]]:
    """The existing rows, re-ordered into COLUMNS ("published" becomes month and year)."""
    if not text.strip():
        return []
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [c.strip().lower() for c in next(reader)]
    rows = []
    for cells in reader:
        if not any(c.strip() for c in cells):
            continue
        d = dict(zip(header, cells, strict=False))
        if d.get("published", "").strip():
            parsed = _published(d["published"].strip(), lambda what: CatalogueError(what))
            for k, v in parsed.items():
                if not d.get(k, "").strip():
                    d[k] = str(v)
        rows.append([d.get(c, "") for c in COLUMNS])
    return rows


def csv_line(values: Mapping[str, Any]) -> str:
    """One catalogue line (COLUMNS order) for these values: keywords joined with ';', None as a blank."""
    cells = []
    for c in COLUMNS:
        v = values.get(c)
        cells.append("; ".join(v) if isinstance(v, (list, tuple)) else "" if v is None else str(v))
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="").writerow(cells)
    return out.getvalue()
