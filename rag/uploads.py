"""Uploaded review files into the corpus folder: safe new names, accepted types and sizes only, never a copy."""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from rag.errors import RlaError, SourceError
from rag.settings import Settings


@dataclass(frozen=True)
class Upload:
    name: str  # as the user gave it
    saved: Path | None  # where it was written, or None when refused
    reason: str = ""


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str) -> str:
    """A plain basename: no folders, no leading dot, only ASCII letters, digits, dot, dash and underscore."""
    base = re.split(r"[\\/]", name)[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    base = _UNSAFE.sub("-", base).strip(".-_")
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = re.sub(r"-{2,}", "-", stem).strip(".-_")[:80] or "upload"
    return f"{stem}.{suffix.lower()}" if suffix else stem


def _write_new(folder: Path, name: str, data: bytes) -> Path:
    """Create folder/name (or name-2, name-3 …) without ever replacing a file or following a link."""
    stem, suffix = os.path.splitext(name)
    for n in range(1, 10_000):
        dest = folder / (name if n == 1 else f"{stem}-{n}{suffix}")
        try:
            fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except FileExistsError:
            continue
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return dest
    raise RlaError(f"too many files named like {name} in the corpus folder")


def save_uploads(paths: list[str], settings: Settings, known: dict[str, str] | None = None) -> list[Upload]:
    """Copy uploaded files into the corpus folder under safe, new names; refuse other types, big files and copies.

    `known` maps sha256 → corpus path of files already indexed, so the same file is not added twice."""
    from rag.sources import decode_text

    corpus = settings.corpus
    corpus.mkdir(parents=True, exist_ok=True)
    root = corpus.resolve()
    allowed = sorted({s.lower() for s in settings.allowed_suffixes})
    limit = settings.max_file_mb * 1024 * 1024
    seen = dict(known or {})
    out: list[Upload] = []
    for p in paths:
        given = Path(p).name
        name = safe_name(given)
        suffix = Path(name).suffix.lower()
        if suffix not in allowed:
            out.append(
                Upload(
                    given,
                    None,
                    f"{given}: file type '{Path(given).suffix or '(none)'}' is not accepted; use {', '.join(allowed)}",
                )
            )
            continue
        size = os.stat(p).st_size
        if size > limit:
            out.append(
                Upload(given, None, f"{given}: {size / 2**20:.1f} MB is over the {settings.max_file_mb} MB limit")
            )
            continue
        data = Path(p).read_bytes()
        if suffix == ".pdf":
            if b"%PDF-" not in data[:1024]:
                out.append(Upload(given, None, f"{given}: not a PDF file (no %PDF header)"))
                continue
        else:
            try:
                decode_text(data)
            except SourceError as e:
                out.append(Upload(given, None, f"{given}: {e}"))
                continue
        digest = hashlib.sha256(data).hexdigest()
        if digest in seen:
            out.append(Upload(given, None, f"{given}: the same file is already in the corpus as {seen[digest]}"))
            continue
        dest = _write_new(root, name, data)
        if dest.resolve().parent != root:  # belt and braces: safe_name never yields a path
            dest.unlink()
            raise RlaError(f"{given}: refused, it would be saved outside the corpus folder")
        seen[digest] = dest.name
        out.append(Upload(given, dest))
    return out
