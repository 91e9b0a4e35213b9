"""Child process that extracts a PDF's page texts with pypdf and prints them as JSON.

Run as `python -m rag.pdfworker [--memory-mb N] [--cpu-s N] [--parent-pid PID] FILE`. Stdout is one
JSON object: `{"pages": [...], "notes": [[page, start, end], ...], "heading_lines": [...]}` (footnotes' and
the lines shown as headings' spans in their page's text: `page_text`, `heading_lines`) or
`{"error": KIND, "detail": "..."}`, KIND one of "encrypted", "dependency", "memory", "corrupt". rag.sources turns
these into user-facing messages; it also enforces the wall-clock timeout, since pypdf has had infinite loops.

With `--parse` and FILE "-", it parses a large decoded source sent as JSON on stdin under the same
limits instead, and prints `{"reviews": [...]}` (see rag.sources.parse_limited); with `--document`, it reads a
Word document or web page the same way and prints `{"text": ..., "notes": [...]}` (rag.sources.markdown_written).

The worker never outlives its budget or its parent: it asks Linux to kill it when the parent dies
(PR_SET_PDEATHSIG), exits at once if the parent is already gone, and limits its own CPU time, so a
parent killed with SIGKILL cannot leave it spinning.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Any

from rag.layout import merge

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
EXIT_ORPHANED = 3  # the parent died before the worker could tie its life to it


def _limit_memory(megabytes: int) -> None:
    # Set here rather than in a preexec_fn: preexec_fn may deadlock if the parent has threads.
    try:
        import resource
    except ImportError:  # not on POSIX: the timeout still applies
        return
    limit = megabytes * 1024 * 1024
    with contextlib.suppress(ValueError, OSError):  # e.g. macOS refuses RLIMIT_AS; the timeout still applies
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _limit_cpu(seconds: int) -> None:
    """SIGXCPU after `seconds` of CPU time, SIGKILL 5 s later: the end even if nobody is left to kill us."""
    try:
        import resource
    except ImportError:
        return
    with contextlib.suppress(ValueError, OSError):  # a lower hard limit already set: that one holds
        resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 5))


def _die_with_parent(parent_pid: int) -> bool:
    """Be killed when the parent dies; False if it already has (we were re-parented before asking)."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # Checked after prctl: a parent that dies from here on kills us; one that died before has orphaned us.
    return os.getppid() == parent_pid


def extract(path: str, ocr: bool = False) -> dict[str, Any]:
    """The text of every page; with `ocr`, pages that are only images are read by Tesseract (the caller gives
    that run a time budget per scanned page), else they are listed as "scanned"."""
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import DependencyError

    logging.getLogger("pypdf").setLevel(logging.CRITICAL)
    try:
        reader = PdfReader(path)
        # PdfReader already tried the empty password; decrypt("") reports whether it worked.
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            return {"error": "encrypted", "detail": ""}
        read = [page_text(page) for page in reader.pages]
        pages = [r.text for r in read]
        spans = {
            "notes": [[i, s, e] for i, r in enumerate(read) for s, e in r.notes],
            "heading_lines": heading_lines(reader, read),
        }
        scanned = [i for i, (page, text) in enumerate(zip(reader.pages, pages, strict=True)) if not text.strip()]
        scanned = [i for i in scanned if reader.pages[i].images]
        if not scanned:
            return {"pages": pages, **spans}
        if not ocr or shutil.which("tesseract") is None:
            return {"pages": pages, **spans, "scanned": scanned}
        for i in scanned:
            pages[i] = ocr_page(reader.pages[i])
        return {"pages": pages, **spans, "ocr": scanned}
    except DependencyError as exc:
        return {"error": "dependency", "detail": _first_line(exc)}
    except MemoryError:
        return {"error": "memory", "detail": ""}
    except Exception as exc:
        return {"error": "corrupt", "detail": _first_line(exc) or type(exc).__name__}


# A footnote's reference mark, or the number opening the footnote itself: "1", "12", "*", "†", "iv".
_MARK = re.compile(r"^\s*(?:\d{1,3}|[*†‡§¶]{1,3}|[ivx]{1,4})\s*$")
_NOTE_START = re.compile(r"^\s*(\d{1,3}|[*†‡§¶]{1,3})(?:\s|[A-Z(]|$)")
_SMALL = 0.92  # type at most this share of the body size is a note's or a mark's (Word: 10 pt notes, 11 pt text)
_LARGE = 1.15  # type at least this share of it is display type (Word: Heading 1 16 pt, Heading 2 13 pt; 11 pt text)


@dataclass
class _Piece:
    text: str
    size: float  # the type size on the page, after the text and graphics matrices
    y: float  # the baseline's height on the page


@dataclass(frozen=True)
class PageText:
    text: str
    notes: list[tuple[int, int]]  # the footnotes, as spans of `text`
    runs: list[tuple[int, int, float]]  # where each piece with text went in `text`, and its type size


def page_text(page: Any) -> PageText:
    """The page's text as pypdf extracts it, less footnote reference marks (type smaller than the page's body
    text, raised above the line it follows: "…Safeguard Children¹ after…" read "Children\n1\n after" and made the
    line a heading) and with other raised runs back on their line ("1ˢᵗ March" read "1\nst\n March"); and the
    spans of its footnotes in that text: the small type below the last line of body text, from a line opening with
    one of the page's reference marks down ("1 HM Government (2018) Working Together…"; a numbered table in small
    type at the page's foot has no such marks above it). Footnotes stay in the text (offsets and pages hold) and
    are masked like page furniture, so that a paragraph running over the page is not cut by them. And the type size
    of each piece of the text, for `display_lines`. Anything the pieces pypdf reports do not add up to is left as
    pypdf gives it."""
    pieces: list[_Piece] = []
    odd: list[str] = []  # pieces whose matrices or size could not be read: the page is left as pypdf reads it

    def visit(text: str, cm: list[float], tm: list[float], _font: Any, size: float) -> None:
        try:
            # The text's "up" vector and origin, through the text matrix and then the graphics one (PDF 1.7, 9.4.4).
            up = math.hypot(tm[2] * cm[0] + tm[3] * cm[2], tm[2] * cm[1] + tm[3] * cm[3])
            pieces.append(_Piece(text, float(size) * up, float(tm[4] * cm[1] + tm[5] * cm[3] + cm[5])))
        except (TypeError, ValueError, IndexError):
            odd.append(text)

    plain: str = page.extract_text(visitor_text=visit)
    if odd or "".join(p.text for p in pieces) != plain:
        return PageText(plain, [], [])  # no sizes: no line is in display type
    weights: dict[float, int] = {}
    for p in pieces:
        weights[round(p.size, 1)] = weights.get(round(p.size, 1), 0) + len(p.text.strip())
    if not weights or max(weights.values()) == 0:
        return PageText(plain, [], [])  # no sizes: no line is in display type
    body = max(weights, key=lambda k: weights[k])
    small = [bool(p.text.strip()) and p.size <= _SMALL * body for p in pieces]
    marks, raised = _superscripts(pieces, small, body)
    body_ys = [p.y for p, s in zip(pieces, small, strict=True) if p.text.strip() and not s and p.size >= 0.95 * body]
    floor = min(body_ys) if body_ys else -math.inf
    # The footnotes: from the highest small line below the body that opens with a mark of the page, every small
    # piece below it.
    numbers = {pieces[i].text.strip() for i in marks}
    starts = [
        p.y
        for p, s in zip(pieces, small, strict=True)
        if s and p.y < floor and (m := _NOTE_START.match(p.text)) and m.group(1) in numbers
    ]
    top = max(starts) if starts else -math.inf
    text = ""
    spans: list[tuple[int, int]] = []
    runs: list[tuple[int, int, float]] = []
    rejoin = False  # a raised run was taken back onto its line just before: the next piece continues that line
    for i, (p, s) in enumerate(zip(pieces, small, strict=True)):
        piece = p.text
        if i in marks or i in raised:
            text = text[:-1] if text.endswith("\n") else text  # the line break pypdf put before the raised run
            rejoin = True
            if i in raised:
                text += piece.strip()  # "1" "st" → "1st": an ordinal's letters stay, on their line
            continue
        if rejoin and piece.strip():
            rest = piece.lstrip()
            piece = rest if rest[0] in ".,;:)" or text[-1:].isspace() else " " + rest
            rejoin = False
        note = s and p.y <= top + 0.5 * body
        if note and _MARK.match(piece) and piece.endswith("\n"):
            piece, rejoin = piece.rstrip("\n"), True  # a note's own number, on its note's line ("1 HM Government…")
        if note:
            spans.append((len(text), len(text) + len(piece)))
        if piece.strip():
            runs.append((len(text), len(text) + len(piece), p.size))
        text += piece
    return PageText(text, list(merge(text, spans)), runs)


def heading_lines(reader: Any, pages: list[PageText]) -> list[list[int]]:
    """[page, start, end] of the lines the PDF shows as headings: set in display type (`display_lines`), or named
    by its bookmarks (`bookmarked_lines`: Word makes them from its headings when it saves a PDF)."""
    found = {(i, a, b) for i, a, b in display_lines(pages) + bookmarked_lines(reader, pages)}
    return [list(x) for x in sorted(found)]


def bookmarked_lines(reader: Any, pages: list[PageText]) -> list[list[int]]:
    """[page, start, end] of the lines, on its page, that a bookmark's title names (its list number aside: "4.2"),
    both lines of a title wrapped over two. None when the bookmarks cannot be read: they are a help, not the text."""
    try:
        marks = _bookmarks(reader, reader.outline)
    except Exception:  # a damaged outline costs the hint, never the file
        return []
    titles: dict[int, set[str]] = {}
    for page, title in marks:
        if 0 <= page < len(pages) and _bare(title):
            titles.setdefault(page, set()).add(_bare(title))
    out = []
    for page, named in sorted(titles.items()):
        lines = [(m.start(), m.end(), _bare(m.group())) for m in re.finditer(r"[^\n]+", pages[page].text)]
        for i, (a, b, line) in enumerate(lines):
            if line in named:
                out.append([page, a, b])
            elif i + 1 < len(lines) and line and _bare(f"{line} {lines[i + 1][2]}") in named:
                out += [[page, a, b], [page, lines[i + 1][0], lines[i + 1][1]]]
    return out


def _bookmarks(reader: Any, outline: list[Any], depth: int = 0) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for item in outline:
        if isinstance(item, list):
            out += _bookmarks(reader, item, depth + 1) if depth < 10 else []
            continue
        page = reader.get_destination_page_number(item)
        if isinstance(page, int) and isinstance(item.title, str):
            out.append((page, item.title))
    return out


def _bare(text: str) -> str:
    """A heading's words, its list number ("4.2", "4.") and spacing aside."""
    from rag.parse import LIST_NUMBER

    return LIST_NUMBER.sub("", " ".join(text.split()))


def display_lines(pages: list[PageText]) -> list[list[int]]:
    """[page, start, end] of each line set in display type: every piece of it at least `_LARGE` times the size of
    the document's body text (the size most of its characters are set in — not a page's, which on a page of small
    table type would be the table's)."""
    weights: dict[float, int] = {}
    for page in pages:
        for a, b, size in page.runs:
            weights[round(size, 1)] = weights.get(round(size, 1), 0) + b - a
    if not weights:
        return []
    large = _LARGE * max(weights, key=lambda k: weights[k])
    return [
        [i, a, b]
        for i, page in enumerate(pages)
        for a, b in _lines_in(page.text, [(a, b, size >= large) for a, b, size in page.runs])
    ]


def _lines_in(text: str, runs: list[tuple[int, int, bool]]) -> list[tuple[int, int]]:
    """The lines of `text` all of whose pieces with text are flagged (`runs` in text order)."""
    out = []
    i = 0
    start = 0
    for line in text.split("\n"):
        end = start + len(line)
        while i < len(runs) and runs[i][1] <= start:
            i += 1
        inside = []
        j = i
        while j < len(runs) and runs[j][0] < end:
            inside.append(runs[j][2])
            j += 1
        if line.strip() and inside and all(inside):
            out.append((start, end))
        start = end + 1
    return out


def _superscripts(pieces: list[_Piece], small: list[bool], body: float) -> tuple[set[int], set[int]]:
    """Small pieces on the line of body text before them: reference marks (a number or a symbol, drawn above the
    line — pypdf then reads it on a line of its own — or risen from it with the text rise operator and read
    straight after the word it marks, "Children1"), left out; and other runs drawn above the line ("st" of "1st"),
    kept on it."""
    marks: set[int] = set()
    raised: set[int] = set()
    last: _Piece | None = None  # the last piece of body type with text
    before = ""  # the last character read before this piece, line breaks aside
    for i, (p, s) in enumerate(zip(pieces, small, strict=True)):
        if s and last is not None and p.text.strip():
            rise = p.y - last.y
            above = 0 < rise < body
            if _MARK.match(p.text) and (above or (abs(rise) < 0.01 and before.strip() != "")):
                marks.add(i)
                continue
            if above:
                raised.add(i)
        elif p.text.strip() and not s:
            last = p
        before = p.text.rstrip("\n")[-1:] or before
    return marks, raised


def ocr_page(page: Any) -> str:
    """The text of a page that is only images, read by Tesseract (a child of this worker: same limits, same group)."""
    texts = []
    with tempfile.TemporaryDirectory(prefix="rla-ocr-") as tmp:
        for n, image in enumerate(page.images):
            suffix = os.path.splitext(image.name)[1] or ".png"
            path = os.path.join(tmp, f"{n}{suffix}")
            with open(path, "wb") as f:
                f.write(image.data)
            done = subprocess.run(
                ["tesseract", path, "stdout"], capture_output=True, stdin=subprocess.DEVNULL, check=False
            )
            texts.append(done.stdout.decode("utf-8", "replace"))
    return "\n".join(t.strip("\n\f ") for t in texts if t.strip())


def document(data: str) -> dict[str, Any]:
    """A Word document (its bytes in base64) or a web page (its decoded text) sent as JSON, written as Markdown
    (rag.word, rag.webpage). Read here, under the limits, never in the server: a .docx's XML can unpack to
    hundreds of MB, and html.parser has quadratic cases ("<!--" a hundred thousand times took 111 s)."""
    d = json.loads(data)
    if d["suffix"] == ".docx":
        from rag.word import WordError, read_docx

        try:
            doc = read_docx(base64.b64decode(d["data"]))
        except WordError as exc:
            return {"error": "refused", "detail": str(exc)}
    else:
        from rag.webpage import read_html

        doc = read_html(d["text"])
    return {"text": doc.text, "notes": [list(x) for x in doc.notes]}


def parse(data: str) -> dict[str, Any]:
    """Parse a decoded source sent as JSON (the text-file counterpart of extract): its review records."""
    from rag.models import SourceText
    from rag.parse import parse_source

    return {"reviews": [r.to_dict() for r in parse_source(SourceText.from_dict(json.loads(data)))]}


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:160] if lines else ""


def _options(argv: list[str]) -> tuple[dict[str, int], str] | None:
    """({option: value}, FILE) from `[--parse|--ocr] --memory-mb N --cpu-s N --parent-pid PID FILE`, or None."""
    names = {"--memory-mb", "--cpu-s", "--parent-pid"}
    options: dict[str, int] = {}
    if argv[:1] in (["--parse"], ["--ocr"], ["--document"]):  # --parse, --document: a source or document on stdin
        options[argv[0]] = 1
        argv = argv[1:]
    while len(argv) > 1 and argv[0] in names:
        if not argv[1].isdigit():
            return None
        options[argv[0]] = int(argv[1])
        argv = argv[2:]
    return (options, argv[0]) if len(argv) == 1 else None


def main(argv: list[str]) -> int:
    parsed = _options(argv)
    if parsed is None:
        print(
            "usage: python -m rag.pdfworker [--parse|--ocr|--document] [--memory-mb N] [--cpu-s N] [--parent-pid PID] "
            "FILE|-",
            file=sys.stderr,
        )
        return 2
    options, path = parsed
    if "--parent-pid" in options and not _die_with_parent(options["--parent-pid"]):
        return EXIT_ORPHANED
    if "--cpu-s" in options:
        _limit_cpu(options["--cpu-s"])
    if "--memory-mb" in options:
        _limit_memory(options["--memory-mb"])
    out, sys.stdout = sys.stdout, sys.stderr  # nothing but our JSON may reach stdout
    try:
        if "--parse" in options:
            result = parse(sys.stdin.read())
        elif "--document" in options:
            result = document(sys.stdin.read())
        else:
            result = extract(path, ocr="--ocr" in options)
    except MemoryError:  # e.g. while importing pypdf under a tight limit
        result = {"error": "memory", "detail": ""}
    try:
        text = json.dumps(result)
    except MemoryError:
        text = json.dumps({"error": "memory", "detail": ""})
    out.write(text)
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
