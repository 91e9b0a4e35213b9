"""The Corpus tab's catalogue: an upload's fields pre-filled from parsing it, and the records whose metadata to correct.

Both tables turn into catalogue rows (rag/catalogue.py) holding only the cells the keeper changed: a cell left as
parsing found it stays blank in catalogue.csv, so it keeps following the parser.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rag.catalogue import CATALOGUE_NAME, CatalogueError, parse_rows
from rag.catalogue_check import doubts
from rag.errors import SourceError
from rag.models import Review
from rag.settings import Settings
from rag.sources import corpus_key

# What an upload's row asks for (issue 15: title, partnership, year, type, kind, URL; area beside partnership).
UPLOAD_COLUMNS = ["file", "title", "area", "partnership", "year", "type", "kind", "url", "note"]
UPLOAD_EDITABLE = UPLOAD_COLUMNS[1:-1]
DOUBT_COLUMNS = ["file", "id", "why", "title", "area", "partnership", "year", "type", "kind", "child", "url"]
DOUBT_EDITABLE = DOUBT_COLUMNS[3:]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value != value:  # pandas' NaN for an emptied cell
        return ""
    return " ".join(str(value).split())


def describe_upload(path: Path, given: str, settings: Settings) -> dict[str, str]:
    """An upload's catalogue fields as ingest would find them: read (PDFs in the sandboxed worker) and parsed."""
    from rag.parse import parse_source
    from rag.sources import parse_limited, read_source

    row = dict.fromkeys(UPLOAD_COLUMNS, "")
    row["file"] = given
    try:
        reviews = parse_limited(read_source(path, path.parent, settings), settings, parse_source)
    except SourceError as e:
        row["note"] = f"cannot be read: {e}"
        return row
    if not reviews:
        row["note"] = "no text to index"
    elif len(reviews) > 1:
        row["note"] = f"a listing of {len(reviews)} records: correct them in the table below once indexed"
    else:
        r = reviews[0]
        row.update({k: _cell(getattr(r, k, "")) for k in UPLOAD_EDITABLE})
        row["note"] = "as parsed: edit any cell before indexing"
    return row


def upload_edits(
    saved: Iterable[tuple[str, Path]],
    edited: Sequence[Mapping[str, Any]],
    parsed: Sequence[Mapping[str, Any]],
    corpus: Path,
) -> list[dict[str, str]]:
    """Catalogue rows for the saved uploads (given name, where saved): the cells changed from what parsing found."""
    before = {str(r.get("file", "")): r for r in parsed}
    after = {str(r.get("file", "")): r for r in edited}
    out = []
    for given, dest in saved:
        if given not in after:
            continue
        changed = {
            k: _cell(after[given].get(k))
            for k in UPLOAD_EDITABLE
            if _cell(after[given].get(k)) != _cell(before.get(given, {}).get(k))
        }
        if changed:
            out.append({"file": corpus_key(dest, corpus), **changed})
    return out


def api_fields(rows: object, given: Sequence[str]) -> list[dict[str, str]]:
    """The API's catalogue fields for its uploads (one object per file: "file", the uploaded file's name, and any
    of the upload columns), checked: one line naming the object that is wrong and how to write it."""
    if rows in (None, "", [], {}):
        return []
    if isinstance(rows, Mapping):
        rows = [rows]
    allowed = ["file", *UPLOAD_EDITABLE]
    if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
        raise CatalogueError(f"catalogue: give a list of objects, one per file, with keys {', '.join(allowed)}")
    names = set(given)
    out = []
    for n, row in enumerate(rows, 1):
        unknown = [str(k) for k in row if k not in allowed]
        if unknown:
            raise CatalogueError(f"catalogue object {n}: unknown field {unknown[0]!r}; use {', '.join(allowed)}")
        name = _cell(row.get("file"))
        if name not in names:
            files = ", ".join(sorted(names)) or "none"
            raise CatalogueError(f'catalogue object {n}: "file" must name an uploaded file ({files}), not {name!r}')
        out.append({k: _cell(v) for k, v in row.items()})
    return out


def doubt_rows(reviews: Iterable[Review]) -> list[dict[str, str]]:
    """The records `rla reviews --check` lists, one table row each: why, and their fields to correct."""
    return [
        {
            "file": d.source,
            "id": d.review_id,
            "why": "; ".join(d.reasons),
            **{k: _cell(d.row.get(k)) for k in DOUBT_EDITABLE},
            "row_id": d.row["id"],  # not shown: the catalogue names a record by id only in a file of several
        }
        for d in doubts(reviews)
    ]


def doubt_edits(edited: Sequence[Mapping[str, Any]], shown: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Catalogue rows for the records whose cells the keeper changed (only those cells)."""
    before = {(str(r.get("file", "")), str(r.get("id", ""))): r for r in shown}
    out = []
    for row in edited:
        key = (_cell(row.get("file")), _cell(row.get("id")))
        if key not in before:
            continue  # a row added in the table by hand: not a record
        changed = {k: _cell(row.get(k)) for k in DOUBT_EDITABLE if _cell(row.get(k)) != _cell(before[key].get(k))}
        changed = {k: v for k, v in changed.items() if v}  # an emptied cell changes nothing
        if changed:
            out.append({"file": key[0], "id": str(before[key].get("row_id", key[1])), **changed})
    return out


def check_edits(edits: Sequence[Mapping[str, str]]) -> None:
    """Refuse, in one line naming the file, an edit that would not be a valid catalogue row."""
    for edit in edits:
        columns = list(edit)
        line = ",".join(columns) + "\n" + ",".join(_quoted(edit[c]) for c in columns) + "\n"
        try:
            parse_rows(line, CATALOGUE_NAME)
        except CatalogueError as e:
            what = str(e).split(": ", 1)[-1]
            raise CatalogueError(f"{edit.get('file', '')}: {what}") from None


def _quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'
