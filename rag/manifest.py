"""manifest.json: what built a generation and what it holds, parsed into types once and checked field by field.

Shape on disk (format 2): {"format", "generation", "created", "model": {name, sha256, dim, max_tokens},
"chunker": {name: int}, "faiss": {"type": "flat"|"hnsw", "M", "efConstruction"}, "counts": {sources,
reviews, chunks}, "files": {path: sha256}, "sources": {path: {sha256, reviews, chunks}}, "skipped":
{path: {sha256, reason}} (absent when empty), "catalogue": SHA-256 of corpus/catalogue.csv (absent without one),
"vocabulary": digest of the theme vocabulary and tagging rule the chunks were tagged with (rag.themes)}.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal, TypeVar

from rag.errors import IndexCorrupt, IndexMismatch

FORMAT_VERSION = 3  # 3: mention postings (mentions/) written at ingest
GENERATION_NAME = re.compile(r"gen-\d{6}")
REBUILD = "rebuild with: rla ingest --rebuild"
# Files every generation has; a manifest that does not vouch for each of them is refused.
REQUIRED_FILES = (
    "vectors.faiss",
    "sentences.faiss",
    "chunks.jsonl",
    "reviews.jsonl",
    "sources.jsonl",
    "mentions/terms.json",
    "mentions/indptr.npy",
    "mentions/rows.npy",
)
_SHA256 = re.compile(r"[0-9a-f]{64}")
FaissType = Literal["flat", "hnsw"]
_T = TypeVar("_T")


@dataclass(frozen=True)
class ModelInfo:
    """The embedding model that built an index."""

    name: str
    sha256: str | None  # of its weights, when known
    dim: int
    max_tokens: int | None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "sha256": self.sha256, "dim": self.dim, "max_tokens": self.max_tokens}


@dataclass(frozen=True)
class SourceEntry:
    """A corpus file in the index: its bytes' hash and what it gave."""

    sha256: str
    reviews: int
    chunks: int


@dataclass(frozen=True)
class SkippedEntry:
    """A corpus file left out for a reason that cannot change while its bytes do not (so it is not read again)."""

    sha256: str
    reason: str
    limits: str  # the settings it failed under (rag.ingest): under other limits it is tried again


@dataclass(frozen=True)
class Counts:
    sources: int
    reviews: int
    chunks: int


@dataclass(frozen=True)
class HnswParams:
    m: int
    ef_construction: int


@dataclass(frozen=True)
class Manifest:
    """manifest.json, parsed and checked once: everything else trusts these types."""

    format: int
    generation: str
    created: str
    model: ModelInfo
    chunker: dict[str, int]
    faiss_type: FaissType
    hnsw: HnswParams | None  # set when faiss_type == "hnsw"
    counts: Counts
    files: dict[str, str]  # path inside the generation → SHA-256
    sources: dict[str, SourceEntry]
    skipped: dict[str, SkippedEntry] = field(default_factory=dict)
    catalogue: str | None = None  # SHA-256 of the catalogue the records' metadata was corrected with (rag.catalogue)
    vocabulary: str | None = None  # what the chunks' themes were tagged with (rag.themes.vocabulary_digest)

    @classmethod
    def parse(cls, obj: Any, gen_path: Path) -> Manifest:
        """Check every field's type and range; IndexCorrupt (one line) names the first that is wrong."""
        try:
            return _parse_manifest(obj)
        except _Bad as bad:
            raise IndexCorrupt(f"index manifest {gen_path / 'manifest.json'} {bad}; {REBUILD}") from None
        except _OtherFormat as other:
            raise IndexMismatch(f"index at {gen_path.parent} has format {other}; {REBUILD}") from None

    def to_json(self) -> dict[str, Any]:
        faiss: dict[str, Any] = {"type": self.faiss_type}
        if self.hnsw is not None:
            faiss.update(M=self.hnsw.m, efConstruction=self.hnsw.ef_construction)
        out: dict[str, Any] = {
            "model": self.model.to_json(),
            "chunker": dict(self.chunker),
            "sources": {
                k: {"sha256": s.sha256, "reviews": s.reviews, "chunks": s.chunks} for k, s in self.sources.items()
            },
            "format": self.format,
            "generation": self.generation,
            "created": self.created,
            "faiss": faiss,
            "counts": {"sources": self.counts.sources, "reviews": self.counts.reviews, "chunks": self.counts.chunks},
            "files": dict(self.files),
        }
        if self.skipped:  # absent rather than empty, so that indexes without skipped files keep their old shape
            out["skipped"] = {
                k: {"sha256": s.sha256, "reason": s.reason, "limits": s.limits} for k, s in self.skipped.items()
            }
        if self.catalogue:
            out["catalogue"] = self.catalogue
        if self.vocabulary:
            out["vocabulary"] = self.vocabulary
        return out


class _Bad(Exception):
    """What is wrong with a manifest, as the end of a sentence that starts with its path."""


class _OtherFormat(Exception):
    pass


def _parse_manifest(obj: Any) -> Manifest:
    m = _object(obj, "manifest", top=True)
    fmt = m.get("format")
    if fmt != FORMAT_VERSION:
        raise _OtherFormat(fmt)
    model = _object(m.get("model"), "model")
    faiss = _object(m.get("faiss"), "faiss")
    counts = _object(m.get("counts"), "counts")
    faiss_type = faiss.get("type")
    if faiss_type not in ("flat", "hnsw"):
        raise _Bad(f"says faiss.type is {_show(faiss_type)}, not flat or hnsw")
    hnsw = None
    if faiss_type == "hnsw":
        hnsw = HnswParams(
            _int(faiss.get("M"), "faiss.M", 1), _int(faiss.get("efConstruction"), "faiss.efConstruction", 1)
        )
    files = {_relative_file(k): _digest(v, f"files.{k}") for k, v in _object(m.get("files"), "files").items()}
    if missing := [f for f in REQUIRED_FILES if f not in files]:
        raise _Bad(f"has no checksum for {missing[0]}")
    return Manifest(
        format=FORMAT_VERSION,
        generation=_str(m.get("generation"), "generation", GENERATION_NAME),
        created=_str(m.get("created"), "created"),
        model=ModelInfo(
            name=_str(model.get("name"), "model.name"),
            sha256=_optional(_digest, model.get("sha256"), "model.sha256"),
            dim=_int(model.get("dim"), "model.dim", 1),
            max_tokens=_optional(_positive, model.get("max_tokens"), "model.max_tokens"),
        ),
        chunker={k: _int(v, f"chunker.{k}", 0) for k, v in _object(m.get("chunker"), "chunker").items()},
        faiss_type=faiss_type,
        hnsw=hnsw,
        counts=Counts(*(_int(counts.get(k), f"counts.{k}", 0) for k in ("sources", "reviews", "chunks"))),
        files=files,
        sources={
            k: SourceEntry(
                _digest(e.get("sha256"), f"sources.{k}.sha256"),
                _int(e.get("reviews"), f"sources.{k}.reviews", 0),
                _int(e.get("chunks"), f"sources.{k}.chunks", 0),
            )
            for k, e in _entries(m.get("sources"), "sources").items()
        },
        skipped={
            k: SkippedEntry(
                _digest(e.get("sha256"), f"skipped.{k}.sha256"),
                _str(e.get("reason"), f"skipped.{k}.reason"),
                _str(e.get("limits"), f"skipped.{k}.limits"),
            )
            for k, e in _entries(m.get("skipped", {}), "skipped").items()
        },
        catalogue=_optional(_digest, m.get("catalogue"), "catalogue"),
        vocabulary=_optional(_digest, m.get("vocabulary"), "vocabulary"),
    )


def _show(value: Any, limit: int = 40) -> str:
    text = json.dumps(value, ensure_ascii=True) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _object(value: Any, what: str, top: bool = False) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if top:
        raise _Bad("is not a JSON object")
    raise _Bad(f"has no {what} object" if value is None else f"{what} is not an object")


def _optional(check: Callable[[Any, str], _T], value: Any, what: str) -> _T | None:
    return None if value is None else check(value, what)


def _positive(value: Any, what: str) -> int:
    return _int(value, what, 1)


def _entries(value: Any, what: str) -> dict[str, dict[str, Any]]:
    out = _object(value, what)
    for key, entry in out.items():
        if not isinstance(entry, dict):
            raise _Bad(f"{what}.{key} is not an object")
    return out


def _int(value: Any, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _Bad(f"{what} is {_show(value)}, not a whole number ≥ {minimum}")
    return value


def _str(value: Any, what: str, pattern: re.Pattern[str] | None = None) -> str:
    if not isinstance(value, str) or not value or (pattern is not None and not pattern.fullmatch(value)):
        raise _Bad(f"{what} is {_show(value)}, not a valid {what.rsplit('.', 1)[-1]}")
    return value


def _digest(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        raise _Bad(f"{what} is {_show(value)}, not a SHA-256")
    return value


def _relative_file(rel: str) -> str:
    """A path inside the generation: relative, no '.', '..' or empty parts."""
    parts = rel.split("/")
    if not rel or rel.startswith("/") or "\\" in rel or "\x00" in rel or any(p in ("", ".", "..") for p in parts):
        raise _Bad(f"lists {_show(rel, 200)}, which is not a file inside its generation")
    return str(PurePosixPath(rel))
