"""Child process that extracts a PDF's page texts with pypdf and prints them as JSON.

Run as `python -m rag.pdfworker [--memory-mb N] [--cpu-s N] [--parent-pid PID] FILE`. Stdout is one
JSON object: `{"pages": [...]}` or `{"error": KIND, "detail": "..."}`, KIND one of "encrypted",
"dependency", "memory", "corrupt". rag.sources turns these into user-facing messages; it also
enforces the wall-clock timeout, since pypdf has had infinite loops.

With `--parse` and FILE "-", it parses a large decoded source sent as JSON on stdin under the same
limits instead, and prints `{"reviews": [...]}` (see rag.sources.parse_limited).

The worker never outlives its budget or its parent: it asks Linux to kill it when the parent dies
(PR_SET_PDEATHSIG), exits at once if the parent is already gone, and limits its own CPU time, so a
parent killed with SIGKILL cannot leave it spinning.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from typing import Any

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
        pages = [page.extract_text() for page in reader.pages]
        scanned = [i for i, (page, text) in enumerate(zip(reader.pages, pages, strict=True)) if not text.strip()]
        scanned = [i for i in scanned if reader.pages[i].images]
        if not scanned:
            return {"pages": pages}
        if not ocr or shutil.which("tesseract") is None:
            return {"pages": pages, "scanned": scanned}
        for i in scanned:
            pages[i] = ocr_page(reader.pages[i])
        return {"pages": pages, "ocr": scanned}
    except DependencyError as exc:
        return {"error": "dependency", "detail": _first_line(exc)}
    except MemoryError:
        return {"error": "memory", "detail": ""}
    except Exception as exc:
        return {"error": "corrupt", "detail": _first_line(exc) or type(exc).__name__}


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


def parse(data: str) -> dict[str, Any]:
    """Parse a decoded source sent as JSON (the text-file counterpart of extract): its review records."""
    from rag.models import SourceText
    from rag.parse import parse_source

    d = json.loads(data)
    furniture = tuple((int(a), int(b)) for a, b in d["furniture"])
    src = SourceText(d["path"], d["text"], d["sha256"], d["kind"], tuple(d["page_starts"]), furniture)
    return {"reviews": [r.to_dict() for r in parse_source(src)]}


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:160] if lines else ""


def _options(argv: list[str]) -> tuple[dict[str, int], str] | None:
    """({option: value}, FILE) from `[--parse|--ocr] --memory-mb N --cpu-s N --parent-pid PID FILE`, or None."""
    names = {"--memory-mb", "--cpu-s", "--parent-pid"}
    options: dict[str, int] = {}
    if argv[:1] in (["--parse"], ["--ocr"]):  # parse a source given as JSON on stdin (FILE is "-"); OCR scans
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
            "usage: python -m rag.pdfworker [--parse|--ocr] [--memory-mb N] [--cpu-s N] [--parent-pid PID] FILE|-",
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
        result = parse(sys.stdin.read()) if "--parse" in options else extract(path, ocr="--ocr" in options)
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
