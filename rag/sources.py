"""Corpus files → SourceText: careful text decoding, and PDF extraction in a sandboxed child."""

from __future__ import annotations

import base64
import codecs
import contextlib
import errno
import functools
import hashlib
import itertools
import json
import math
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import ModelError, SourceError
from rag.layout import MarkdownText, furniture_spans
from rag.models import Review, SourceText
from rag.settings import Settings
from rag.webpage import charset

# Longest first: the UTF-32 LE mark begins with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32-LE"),
    (codecs.BOM_UTF32_BE, "UTF-32-BE"),
    (codecs.BOM_UTF8, "UTF-8"),
    (codecs.BOM_UTF16_LE, "UTF-16-LE"),
    (codecs.BOM_UTF16_BE, "UTF-16-BE"),
)
# C0/C1 control characters other than tab, newlines, vertical tab and form feed.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_MAX_CONTROL_SHARE = 0.05  # random binary decodes to ~11% controls
# A well-formed UTF-8 multi-byte character; in a file that is not valid UTF-8 it
# means "damaged UTF-8", which a Windows-1252 fallback would silently garble.
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
# Typographic ligatures a PDF's text layer can hold as one character (designed reports set "ﬁndings", "conﬂict"):
# read as their letters, or no search, phrase or section label would find the word.
_LIGATURES = str.maketrans({"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl"})
# A word broken across a printed line: "practi-" / "tioners", with a hyphen or a soft hyphen (U+00AD, which
# prints only where it breaks a word). `_unwrap` says whether it is one word or a compound such as "self-harmed".
_SOFT_HYPHEN = "\u00ad"
_LINE_BREAK_HYPHEN = re.compile(
    r"(?P<head>[^\W\d_]+)(?P<mark>[-\u00ad])\n(?P<tail>(?P<letters>[^\W\d_]+)\S*)(?P<gap>[ \t]*\n?)"
)
_INLINE_SOFT_HYPHEN = re.compile(r"\u00ad(?!\n)")  # invisible where it breaks no line
_WORD_OR_COMPOUND = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent

_PDF_ERRORS = {
    "encrypted": "encrypted PDF (password required); remove the password or export an unlocked copy",
    "dependency": "encrypted PDF needs an extra package ({detail}); install it or export an unlocked copy",
    "memory": "PDF needs more than {memory_mb} MB to parse; re-export it, or raise pdf_memory_mb if you trust the file",
    "corrupt": "corrupt or unreadable PDF ({detail}); re-export it from the original document",
    "crash": "PDF parser crashed ({detail}); re-export it from the original document",
}


@dataclass(frozen=True)
class CorpusFile:
    """One entry of the corpus folder: its key, where to read it, and why it cannot be read (if so)."""

    key: str  # the one path key: relative to the corpus folder, forward slashes (SourceText.path, manifest, chunks)
    path: Path
    problem: str | None = None  # set when the entry is skipped before reading (a link outside the corpus, a loop, …)


def corpus_key(path: Path, corpus_dir: Path) -> str:
    """The key of a file: its path relative to the corpus folder as written (symlinks not followed), else as
    resolved, else its name."""
    for p, base in (
        (Path(os.path.abspath(path)), Path(os.path.abspath(corpus_dir))),
        (Path(os.path.realpath(path)), Path(os.path.realpath(corpus_dir))),
    ):
        if p.is_relative_to(base):
            return p.relative_to(base).as_posix()
    return path.name


# Characters that would break or spoof a one-line report: controls, and bidirectional overrides.
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def shown_name(key: str) -> str:
    """A file name safe to print on one line: undecodable bytes, controls and direction overrides escaped."""
    raw = key.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return _UNSAFE_NAME.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), raw)


def corpus_files(corpus_dir: Path, settings: Settings, paths: list[Path] | None = None) -> list[CorpusFile]:
    """The corpus folder's files with an allowed suffix (or just those under `paths`), sorted by key.

    Hidden files and folders are left out. Folders linked into the corpus are followed once (a loop is not);
    an entry that cannot be read safely comes back with its `problem`, to be reported and skipped.
    """
    if not corpus_dir.is_dir():
        raise SourceError(f"{corpus_dir}: corpus folder not found; create it or point RLA_CORPUS at it")
    allowed = {s.lower() for s in settings.allowed_suffixes}
    root_real = os.path.realpath(corpus_dir)
    found: dict[str, CorpusFile] = {}
    for start in paths if paths is not None else [corpus_dir]:
        if start.is_dir():
            candidates = _walk(start, allowed)
        elif start.suffix.lower() in allowed or not start.exists():
            candidates = [start]
        else:
            candidates = []
        for path in candidates:
            key = corpus_key(path, corpus_dir)
            found[key] = CorpusFile(key, path, _problem(path, key, root_real, settings))
    return sorted(found.values(), key=lambda f: f.key)


def _walk(top: Path, allowed: set[str]) -> list[Path]:
    out: list[Path] = []
    seen: set[str] = set()
    for root, dirs, names in os.walk(top, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:  # a folder link that leads back into what was already walked
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        # "~$report.docx" is Word's note that someone has report.docx open, not a document.
        out += [Path(root, n) for n in names if not n.startswith((".", "~$")) and Path(n).suffix.lower() in allowed]
    return out


def _problem(path: Path, key: str, root_real: str, settings: Settings) -> str | None:
    name = shown_name(key)
    if name != key:
        return f"{name}: the file name has characters that cannot be shown safely (not UTF-8, controls); rename it"
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return f"{name}: symbolic link loop; remove the link or point it at a file"
        if exc.errno == errno.ENOENT and os.path.islink(path):
            return f"{name}: broken symbolic link; remove it or point it at a file"
        return None  # read_source gives the reason
    real = os.path.realpath(path)
    if not settings.follow_outside_links and os.path.commonpath([real, root_real]) != root_real:
        return (
            f"{name}: links outside the corpus; copy the file into the corpus folder, "
            "or set RLA_FOLLOW_OUTSIDE_LINKS=1 if you trust where it points"
        )
    return None


def iter_corpus_files(corpus_dir: Path, settings: Settings) -> list[Path]:
    """Paths of the readable corpus files, sorted (see corpus_files for the entries and their problems)."""
    return [f.path for f in corpus_files(corpus_dir, settings) if f.problem is None]


def read_source(path: Path, corpus_dir: Path, settings: Settings) -> SourceText:
    """Read one corpus file; raises SourceError naming the file (by its corpus key) and how to fix it."""
    rel = corpus_key(path, corpus_dir)
    name = shown_name(rel)
    suffix = path.suffix.lower()
    allowed = sorted({s.lower() for s in settings.allowed_suffixes})
    if suffix not in allowed:
        raise SourceError(
            f"{name}: unsupported file type '{path.suffix or '(none)'}'; convert it to one of {', '.join(allowed)}"
        )
    data = _read_bytes(path, name, settings.max_file_mb)
    sha256 = hashlib.sha256(data).hexdigest()
    if suffix == ".pdf":
        if b"%PDF-" not in data[:1024]:
            raise SourceError(f"{name}: not a PDF file (no %PDF header); check what the file really is", lasting=True)
        pdf = _read_pdf(path, name, settings)
        return SourceText(
            path=rel,
            text=pdf.text,
            sha256=sha256,
            kind="pdf",
            page_starts=pdf.page_starts,
            furniture=furniture_spans(pdf.text, pdf.page_starts),
            ocr_pages=pdf.ocr_pages,
            notes=pdf.notes,
            heading_lines=pdf.heading_lines,
        )
    if suffix in MARKDOWN_WRITTEN:
        try:
            doc = markdown_written(data, suffix, settings)
        except SourceError as exc:
            raise SourceError(f"{name}: {exc}", lasting=True) from None
        kind = MARKDOWN_WRITTEN[suffix]
        return SourceText(rel, doc.text, sha256, kind, furniture=furniture_spans(doc.text), notes=doc.notes)
    try:
        text = decode_text(data)
    except SourceError as exc:
        raise SourceError(f"{name}: {exc}", lasting=True) from None
    kind = "md" if suffix in (".md", ".markdown") else "txt"
    return SourceText(path=rel, text=text, sha256=sha256, kind=kind, furniture=furniture_spans(text))


MARKDOWN_WRITTEN = {".docx": "docx", ".html": "html", ".htm": "html"}  # suffix → its kind (models.MARKDOWN_KINDS)


def markdown_written(data: bytes, suffix: str, settings: Settings) -> MarkdownText:
    """A Word document's or a web page's text, written as Markdown (rag.word, rag.webpage), read in the sandboxed
    worker under the PDF limits; raises SourceError (without a file name) saying what is wrong and what to do."""
    what = "document" if suffix == ".docx" else "page"
    if suffix == ".docx":
        sent = {"suffix": suffix, "data": base64.b64encode(data).decode("ascii")}
    else:
        sent = {"suffix": suffix, "text": decode_text(data, charset(data))}
    try:
        result = _run_worker(["--document", "-"], json.dumps(sent).encode("utf-8"), settings)
    except TimeoutError:
        raise SourceError(
            f"reading the {what} took longer than {settings.pdf_timeout_s:g} s (damaged?); save it as PDF, or raise "
            "pdf_timeout_s if you trust it"
        ) from None
    text, notes = result.get("text"), result.get("notes")
    if result.get("error") == "refused":
        raise SourceError(str(result.get("detail")))
    if not isinstance(text, str) or not isinstance(notes, list):
        why = f"it needs more than {settings.pdf_memory_mb} MB" if result.get("error") == "memory" else "it failed"
        raise SourceError(
            f"the {what} could not be read ({why}: {result.get('detail') or 'no details'}); save it as PDF"
        )
    if not text.strip():
        why = "only images?" if suffix == ".docx" else "a page made by scripts?"
        raise SourceError(f"the {what} has no text to read ({why}); save it as PDF")
    return MarkdownText(text, tuple((int(a), int(b)) for a, b in notes))


def decode_text(data: bytes, declared: str | None = None) -> str:
    """Decode a text file's bytes, normalising line endings to "\\n" and changing nothing else.

    Tries a byte-order mark, the encoding the file declares (a web page's <meta charset>) when Python knows it,
    BOM-less UTF-16, UTF-8, then Windows-1252; raises SourceError (without a file name) rather than return garbled
    text.
    """
    text = _decode(data, declared)
    if "\x00" in text:
        raise SourceError("contains NUL bytes (a binary file?); save it as plain UTF-8 text")
    controls = len(_CONTROL.findall(text))
    if controls > _MAX_CONTROL_SHARE * len(text):
        raise SourceError(
            f"{controls} of {len(text)} characters are control codes (a binary file?); save it as plain UTF-8 text"
        )
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _decode(data: bytes, declared: str | None = None) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _strict(data[len(bom) :], encoding, len(bom))
    with contextlib.suppress(LookupError):
        if declared and codecs.lookup(declared).name not in ("utf-8", "utf-16", "utf-32"):
            return _strict(data, declared, 0)
    sniffed = _sniff_utf16(data)
    if sniffed:
        return _strict(data, sniffed, 0)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if _UTF8_MULTIBYTE.search(data):
            raise SourceError(
                f"mostly UTF-8 but byte 0x{data[exc.start]:02X} at offset {exc.start} is invalid; "
                "fix that spot or re-save the file as UTF-8"
            ) from None
    return _strict(data, "Windows-1252", 0, label="UTF-8 or Windows-1252")


def _strict(data: bytes, encoding: str, skipped: int, label: str | None = None) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"not valid {label or encoding} text (byte 0x{data[exc.start]:02X} at offset {skipped + exc.start}); "
            "re-save the file as UTF-8"
        ) from None


def _sniff_utf16(data: bytes) -> str | None:
    """UTF-16 without a BOM: NULs fill one byte lane (ASCII high bytes) and almost never the other."""
    if len(data) < 4 or len(data) % 2:
        return None
    even, odd = data[0::2], data[1::2]
    even_nul, odd_nul = even.count(0) / len(even), odd.count(0) / len(odd)
    if odd_nul >= 0.3 and even_nul <= 0.05:
        return "UTF-16-LE"
    if even_nul >= 0.3 and odd_nul <= 0.05:
        return "UTF-16-BE"
    return None


def _read_bytes(path: Path, name: str, max_mb: int) -> bytes:
    limit = max_mb * 1024 * 1024
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise SourceError(f"{name}: not a regular file (a pipe, device or folder?); copy the document itself here")
        if st.st_size > limit:
            raise SourceError(
                f"{name}: file is {st.st_size / 2**20:.1f} MB, over the {max_mb} MB limit; "
                "split it or raise max_file_mb"
            )
        with open(path, "rb") as f:
            data = f.read(limit + 1)  # never more than the limit, even if the file grew since stat()
        if len(data) > limit:
            raise SourceError(f"{name}: file is over the {max_mb} MB limit; split it or raise max_file_mb")
        return data
    except FileNotFoundError:
        raise SourceError(f"{name}: file not found; check the path") from None
    except OSError as exc:
        raise SourceError(f"{name}: cannot read file ({exc.strerror or exc}); check it is a readable file") from None


@dataclass(frozen=True)
class _PdfText:
    text: str
    page_starts: tuple[int, ...]
    ocr_pages: tuple[int, ...]  # 1-based
    notes: tuple[tuple[int, int], ...]  # footnotes (rag.pdfworker.page_text), as spans of `text`
    heading_lines: tuple[tuple[int, int], ...]  # lines shown as headings (rag.pdfworker), as spans of `text`


_SPANS = ("notes", "heading_lines")  # the spans of each page's text rag.pdfworker reports


def _read_pdf(path: Path, name: str, settings: Settings) -> _PdfText:
    """The PDF's text, where each page starts, which pages were read by OCR, where its footnotes and the lines it
    shows as headings are."""
    raw, ocr, raw_spans = _extract_pages(path, name, settings)
    words = _words("\n".join(raw))
    pages: list[str] = []
    spans: dict[str, list[tuple[int, int]]] = {kind: [] for kind in _SPANS}
    offset = 0
    starts = []
    by_page: dict[int, list[tuple[str, int, int]]] = {}
    for kind in _SPANS:
        for i, a, b in raw_spans[kind]:
            by_page.setdefault(i, []).append((kind, a, b))
    for n, page in enumerate(raw):
        mine = by_page.get(n, [])
        text, moved = _clean_page(page, [(a, b) for _, a, b in mine], words)
        for (kind, _, _), (a, b) in zip(mine, moved, strict=True):
            spans[kind].append((offset + a, offset + b))
        pages.append(text)
        starts.append(offset)
        offset += len(text) + 2  # the "\n\n" joining pages
    if not pages:
        raise SourceError(f"{name}: PDF has no pages; re-export it from the original document", lasting=True)
    if not any(p.strip() for p in pages):
        raise SourceError(f"{name}: no extractable text (scanned PDF? run OCR first)", lasting=True)
    return _PdfText(
        "\n\n".join(pages),
        tuple(starts),
        tuple(i + 1 for i in ocr),
        tuple(spans["notes"]),
        tuple(spans["heading_lines"]),
    )


def _extract_pages(
    path: Path, name: str, settings: Settings
) -> tuple[list[str], tuple[int, ...], dict[str, list[tuple[int, int, int]]]]:
    """Run rag.pdfworker under a timeout and memory and CPU limits; pypdf has had hangs and bombs. Scanned
    pages are read by OCR in a second run, whose time limit grows with their number (`ocr_page_timeout_s`)."""
    result = _pdf_worker([str(path.absolute())], name, settings, settings.pdf_timeout_s)
    scanned = result.get("scanned")
    if isinstance(scanned, list) and scanned and shutil.which("tesseract"):
        seconds = settings.pdf_timeout_s + settings.ocr_page_timeout_s * len(scanned)
        result = _pdf_worker(["--ocr", str(path.absolute())], name, settings, seconds, len(scanned))
    pages = result.get("pages")
    if isinstance(pages, list) and all(isinstance(p, str) for p in pages):
        if result.get("scanned") and not any(p.strip() for p in pages):
            raise SourceError(f"{name}: scanned pages, no text layer: install tesseract-ocr", lasting=False)
        ocr = result.get("ocr")
        spans = {
            kind: [(int(i), int(a), int(b)) for i, a, b in found] if isinstance(found := result.get(kind), list) else []
            for kind in _SPANS
        }
        return pages, tuple(int(i) for i in ocr) if isinstance(ocr, list) else (), spans
    template = _PDF_ERRORS.get(str(result.get("error")), _PDF_ERRORS["crash"])
    detail = result.get("detail") or "no details"
    message = f"{name}: " + template.format(detail=detail, memory_mb=settings.pdf_memory_mb)
    raise SourceError(message, lasting=result.get("error") != "dependency")  # a package can be installed


def _pdf_worker(args: list[str], name: str, settings: Settings, seconds: float, scanned: int = 0) -> dict[str, Any]:
    """One worker run on a PDF; a timeout is a lasting failure, said in the words of what took too long."""
    try:
        return _run_worker(args, None, settings, seconds)
    except TimeoutError:
        if scanned:
            why = (
                f"OCR of {scanned} scanned page{'s' if scanned != 1 else ''} timed out after {seconds:g} s; "
                f"raise ocr_page_timeout_s (now {settings.ocr_page_timeout_s:g} s a page) on a slow machine"
            )
        else:
            why = f"PDF parsing timed out after {seconds:g} s; re-export it, or raise pdf_timeout_s if it is very large"
        raise SourceError(f"{name}: {why}", lasting=True) from None


# Sources up to this size are parsed in-process (parsing is linear: ~0.2 s per 10,000 lines); larger ones
# in the sandboxed worker, under the PDF limits, so a hostile text file cannot hold the write lock.
IN_PROCESS_LINES = 20_000
IN_PROCESS_CHARS = 1_000_000


def parse_limited(
    src: SourceText, settings: Settings, parse: Callable[[SourceText], list[Review]] | None = None
) -> list[Review]:
    """rag.parse.parse_source (or `parse`, in-process), under the same time and memory limits as PDF
    parsing when the source is large; raises SourceError (the file is skipped) when it exceeds them."""
    if len(src.text) <= IN_PROCESS_CHARS and src.text.count("\n") <= IN_PROCESS_LINES:
        if parse is not None:
            return parse(src)
        from rag.parse import parse_source

        return parse_source(src)
    name = shown_name(src.path)
    payload = src.to_dict()
    lines = src.text.count("\n") + 1
    try:
        result = _run_worker(["--parse", "-"], json.dumps(payload).encode("utf-8"), settings)
    except TimeoutError:
        raise SourceError(
            f"{name}: parsing {lines:,} lines took longer than {settings.pdf_timeout_s:g} s; "
            "split the file, or raise pdf_timeout_s if you trust it",
            lasting=True,
        ) from None
    reviews = result.get("reviews")
    if isinstance(reviews, list):
        return [Review.from_dict(r) for r in reviews]
    if result.get("error") == "memory":
        raise SourceError(
            f"{name}: parsing {lines:,} lines needs more than {settings.pdf_memory_mb} MB; "
            "split the file, or raise pdf_memory_mb if you trust it",
            lasting=True,
        )
    raise SourceError(f"{name}: parser failed ({result.get('detail') or 'no details'}); check the file", lasting=True)


def _run_worker(
    args: list[str], stdin: bytes | None, settings: Settings, seconds: float | None = None
) -> dict[str, Any]:
    """Run rag.pdfworker with `args` under the PDF limits (`seconds`, default `pdf_timeout_s`); its JSON result,
    or {"error": ...}; TimeoutError.

    The worker runs in its own process group, killed whole at the deadline or on any exception
    here (Ctrl-C included); it also kills itself if this process dies (see rag/pdfworker.py).
    """
    seconds = settings.pdf_timeout_s if seconds is None else seconds
    cpu_s = math.ceil(seconds) + 5  # only reached if we are no longer there to kill it
    cmd = [sys.executable, "-m", "rag.pdfworker"]
    if args[:1] in (["--parse"], ["--ocr"], ["--document"]):
        cmd.append(args.pop(0))
    cmd += ["--memory-mb", str(settings.pdf_memory_mb), "--cpu-s", str(cpu_s), "--parent-pid", str(os.getpid())]
    cmd += args
    # cwd puts this package first on the child's sys.path, wherever we were started from.
    proc = subprocess.Popen(
        cmd,
        cwd=_PACKAGE_ROOT,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        process_group=0,
    )
    try:
        stdout, stderr = proc.communicate(input=stdin, timeout=seconds)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise TimeoutError from None
    except BaseException:
        _kill_group(proc)
        raise
    try:
        result = json.loads(stdout)
    except ValueError:
        text = stderr.decode("utf-8", "replace").strip()
        kind = "memory" if "MemoryError" in text else "crash"
        result = {"error": kind, "detail": text.splitlines()[-1][:160] if text else _exit_reason(proc.returncode)}
    if not isinstance(result, dict):
        result = {"error": "crash", "detail": "unexpected output"}
    return result


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the worker and anything it started, then reap it (its group id is its pid)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.communicate(timeout=10)


def _exit_reason(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


def _clean_page(text: str, spans: list[tuple[int, int]], words: frozenset[str]) -> tuple[str, list[tuple[int, int]]]:
    """The page's text with one kind of line break, no NULs, ligatures or lone surrogates, and its words broken
    across lines whole again (`_unwrap`, knowing the document's `words`); `spans` of it moved to match."""
    cuts = sorted({0, len(text), *(x for span in spans for x in span)})
    out: list[str] = []
    moved = {0: 0}
    for a, b in itertools.pairwise(cuts):
        piece = _LINE_BREAK_HYPHEN.sub(lambda m: _unwrap(m, words), _clean(text[a:b]))
        out.append(_INLINE_SOFT_HYPHEN.sub("", piece))
        moved[b] = moved[a] + len(out[-1])
    return "".join(out), [(moved[s], moved[e]) for s, e in spans]


def _clean(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").translate(_LIGATURES)
    return _LONE_SURROGATE.sub("\ufffd", text)


def _words(text: str) -> frozenset[str]:
    """The document's words and hyphenated compounds as printed within a line, lower-cased."""
    text = _INLINE_SOFT_HYPHEN.sub("", _clean(text))
    return frozenset(w.lower() for w in _WORD_OR_COMPOUND.findall(text))


def _unwrap(m: re.Match[str], words: frozenset[str]) -> str:
    """One word broken across a line ("practi-" / "tioners in the…") as one word on the first line, the rest of
    the second line after it. A soft hyphen always goes; a printed hyphen goes when the whole word is a word — the
    document prints it so elsewhere, or it is an English word (the bundled model's vocabulary) — and the
    document never prints it hyphenated: "self-" / "harmed", "multi-" / "agency" keep theirs. Only the layout
    changes: every character of the printed words is kept but the break."""
    head, tail, letters = m["head"], m["tail"], m["letters"]
    joined, compound = (head + letters).lower(), f"{head}-{letters}".lower()
    one_word = m["mark"] == _SOFT_HYPHEN or (
        letters[0].islower() and compound not in words and (joined in words or joined in _english_words())
    )
    return head + ("" if one_word else "-") + tail + ("\n" if m["gap"] else "")


@functools.lru_cache(maxsize=1)
def _english_words() -> frozenset[str]:
    """The whole words of the bundled model's vocabulary (~20,000 common English words, lower-cased); empty
    when the model package is not installed (then only the document's own words decide)."""
    try:
        from rag.embed import bundled_model_path

        lines = (bundled_model_path() / "vocab.txt").read_text(encoding="utf-8").splitlines()
    except (OSError, ModelError):
        return frozenset()
    return frozenset(w for w in lines if w.isalpha() and w.islower())
