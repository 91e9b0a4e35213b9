"""Uploaded review files into the corpus folder: safe new names, accepted types and sizes only, never a copy."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from rag.errors import RlaError, SourceError
from rag.settings import Settings
from rag.store import sha256_file


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


def _corpus_copies(root: Path, sizes: set[int]) -> dict[str, str]:
    """sha256 → path (as users see it, e.g. corpus/x.pdf) of every regular file in the corpus folder whose size
    is one of `sizes`, whatever its name or type: only those can hold the same bytes as an upload."""
    found: dict[str, str] = {}
    for folder, _dirs, names in os.walk(root):
        for name in names:
            p = Path(folder, name)
            try:
                st = p.stat()
                if stat.S_ISREG(st.st_mode) and st.st_size in sizes:
                    found.setdefault(sha256_file(p), f"{root.name}/{p.relative_to(root).as_posix()}")
            except OSError:
                continue  # vanished or unreadable: not a copy we can show
    return found


def _read(given: str, path: Path, suffix: str, settings: Settings) -> tuple[bytes | None, str]:
    """The upload's bytes, or None and why it cannot go into the corpus (type, size, content)."""
    from rag.sources import MARKDOWN_WRITTEN, decode_text, markdown_written

    allowed = sorted({s.lower() for s in settings.allowed_suffixes})
    if suffix not in allowed:
        return None, f"{given}: file type '{Path(given).suffix or '(none)'}' is not accepted; use {', '.join(allowed)}"
    try:
        size = path.stat().st_size
        if size > settings.max_file_mb * 1024 * 1024:
            return None, f"{given}: {size / 2**20:.1f} MB is over the {settings.max_file_mb} MB limit"
        data = path.read_bytes()
    except FileNotFoundError:
        return None, f"{given}: the upload is no longer on the server; add the file again"
    if suffix == ".pdf":
        return (data, "") if b"%PDF-" in data[:1024] else (None, f"{given}: not a PDF file (no %PDF header)")
    try:
        markdown_written(data, suffix, settings) if suffix in MARKDOWN_WRITTEN else decode_text(data)
    except SourceError as e:
        return None, f"{given}: {e}"
    return data, ""


def save_uploads(paths: list[str], settings: Settings) -> list[Upload]:
    """Copy uploaded files into the corpus folder under safe, new names; refuse other types, big files, and
    copies: an upload with the same bytes as a file already in the corpus folder, or as an earlier upload."""
    corpus = settings.corpus
    corpus.mkdir(parents=True, exist_ok=True)
    root = corpus.resolve()
    sizes = set()
    for p in paths:
        with contextlib.suppress(OSError):
            sizes.add(os.stat(p).st_size)
    seen = _corpus_copies(root, sizes)
    out: list[Upload] = []
    for p in paths:
        given = Path(p).name
        name = safe_name(given)
        data, reason = _read(given, Path(p), Path(name).suffix.lower(), settings)
        if data is None:
            out.append(Upload(given, None, reason))
            continue
        digest = hashlib.sha256(data).hexdigest()
        if digest in seen:
            out.append(Upload(given, None, f"{given}: refused as a copy: same content as {seen[digest]}"))
            continue
        dest = _write_new(root, name, data)
        if dest.resolve().parent != root:  # belt and braces: safe_name never yields a path
            dest.unlink()
            raise RlaError(f"{given}: refused, it would be saved outside the corpus folder")
        seen[digest] = f"{root.name}/{dest.name}"
        out.append(Upload(given, dest))
    return out
