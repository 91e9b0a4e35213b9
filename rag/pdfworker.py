"""Child process that extracts a PDF's page texts with pypdf and prints them as JSON.

Run as `python -m rag.pdfworker [--memory-mb N] FILE`. Stdout is one JSON object:
`{"pages": [...]}` or `{"error": KIND, "detail": "..."}`, KIND one of "encrypted",
"dependency", "memory", "corrupt". rag.sources turns these into user-facing messages;
it also enforces the wall-clock timeout, since pypdf has had infinite loops.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from typing import Any


def _limit_memory(megabytes: int) -> None:
    # Set here rather than in a preexec_fn: preexec_fn may deadlock if the parent has threads.
    try:
        import resource
    except ImportError:  # not on POSIX: the timeout still applies
        return
    limit = megabytes * 1024 * 1024
    with contextlib.suppress(ValueError, OSError):  # e.g. macOS refuses RLIMIT_AS; the timeout still applies
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def extract(path: str) -> dict[str, Any]:
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import DependencyError

    logging.getLogger("pypdf").setLevel(logging.CRITICAL)
    try:
        reader = PdfReader(path)
        # PdfReader already tried the empty password; decrypt("") reports whether it worked.
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            return {"error": "encrypted", "detail": ""}
        return {"pages": [page.extract_text() for page in reader.pages]}
    except DependencyError as exc:
        return {"error": "dependency", "detail": _first_line(exc)}
    except MemoryError:
        return {"error": "memory", "detail": ""}
    except Exception as exc:
        return {"error": "corrupt", "detail": _first_line(exc) or type(exc).__name__}


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:160] if lines else ""


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "--memory-mb":
        _limit_memory(int(argv[1]))
        argv = argv[2:]
    if len(argv) != 1:
        print("usage: python -m rag.pdfworker [--memory-mb N] FILE", file=sys.stderr)
        return 2
    out, sys.stdout = sys.stdout, sys.stderr  # nothing but our JSON may reach stdout
    try:
        result = extract(argv[0])
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
