"""The index on disk: generations of plain files, switched atomically, checked on open.

index/
  CURRENT              name of the live generation ("gen-000004")
  LOCK                 held (flock) by the one writer
  gen-000004/
    manifest.json      model, chunker, sources, counts, sha256 of every file below
    vectors.faiss      FAISS index of chunk vectors (inner product on normalised vectors)
    sentences.faiss    flat FAISS index of sentence vectors, chunk by chunk (see Chunk.sentences)
    chunks.jsonl       one Chunk per line, row i ↔ vector i
    reviews.jsonl      one Review per line
    sources.jsonl      extracted source text, for showing a citation in context
    bm25/              bm25s index (numpy arrays + JSON; no pickle)
    mentions/          stemmed-word postings of chunk titles and texts (rag/mentions.py)
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import IndexCorrupt, IndexLocked, IndexMismatch, IndexMissing
from rag.models import Chunk, Review, SourceText

FORMAT_VERSION = 3  # 3: mention postings (mentions/) written at ingest
_GENERATION = re.compile(r"gen-\d{6}")
# Files every generation has; a manifest that does not vouch for each of them is refused.
_REQUIRED_FILES = (
    "vectors.faiss",
    "sentences.faiss",
    "chunks.jsonl",
    "reviews.jsonl",
    "sources.jsonl",
    "mentions/terms.json",
    "mentions/indptr.npy",
    "mentions/rows.npy",
)


@dataclass
class IndexData:
    """Everything a generation holds, loaded."""

    path: Path
    manifest: dict[str, Any]
    chunks: list[Chunk]
    reviews: dict[str, Review]
    sources: dict[str, SourceText]
    faiss_index: Any
    bm25_dir: Path
    sentence_index: Any = None
    _vectors: np.ndarray | None = field(default=None, repr=False)
    _sentence_vectors: np.ndarray | None = field(default=None, repr=False)

    @property
    def vectors(self) -> np.ndarray:
        """All chunk vectors, (n, dim): a read-only view of the FAISS index's storage, valid while this object lives."""
        if self._vectors is None:
            self._vectors = _stored_vectors(self.faiss_index, self.dim)
        return self._vectors

    @property
    def sentence_vectors(self) -> np.ndarray:
        if self._sentence_vectors is None:
            self._sentence_vectors = _stored_vectors(self.sentence_index, self.dim)
        return self._sentence_vectors

    @property
    def sentence_offsets(self) -> np.ndarray:
        """Row i's sentence vectors are sentence_vectors[offsets[i]:offsets[i+1]] (none for one-sentence chunks)."""
        counts = [len(c.sentences) if len(c.sentences) > 1 else 0 for c in self.chunks]
        return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    @property
    def dim(self) -> int:
        return int(self.manifest["model"]["dim"])


def _stored_vectors(index: Any, dim: int) -> np.ndarray:
    """The float32 vectors a flat or HNSW-flat index stores, without copying them (513 MiB at 100k chunks)."""
    import faiss

    n = index.ntotal
    if n == 0:
        return np.zeros((0, dim), np.float32)
    flat = faiss.downcast_index(index.storage) if hasattr(index, "storage") else index
    if not hasattr(flat, "get_xb"):  # another index type: its vectors must be decoded
        return index.reconstruct_n(0, n)
    view = faiss.rev_swig_ptr(flat.get_xb(), n * dim).reshape(n, dim)
    view.flags.writeable = False  # the index's memory: nothing may write through it
    return view


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def current_generation(index_dir: Path) -> Path | None:
    pointer = index_dir / "CURRENT"
    if not pointer.exists():
        return None
    # A damaged pointer reads as "no index": the next ingest writes a fresh generation and a new pointer.
    name = pointer.read_text(encoding="utf-8", errors="replace").strip()
    gen = index_dir / name
    return gen if _GENERATION.fullmatch(name) and gen.is_dir() else None


@contextlib.contextmanager
def write_lock(index_dir: Path, wait_s: float = 0.0) -> Iterator[None]:
    """One writer at a time; readers never take it (they read a finished generation)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(index_dir / "LOCK", os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait_s
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
                    raise IndexLocked(
                        f"index {index_dir} is locked: an ingest is running (pid {holder}); "
                        "wait for it to finish, or pass --wait SECONDS"
                    ) from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def write_generation(
    index_dir: Path,
    manifest: dict[str, Any],
    chunks: list[Chunk],
    vectors: np.ndarray,
    reviews: list[Review],
    sources: list[SourceText],
    hnsw_threshold: int,
    sentence_vectors: np.ndarray | None = None,
) -> Path:
    """Write a complete new generation, fsync it, then switch CURRENT to it. Caller holds the lock."""
    from rag.lexical import save_bm25
    from rag.mentions import save_mentions

    index_dir.mkdir(parents=True, exist_ok=True)
    live = current_generation(index_dir)
    existing = sorted(p.name for p in index_dir.glob("gen-*") if p.is_dir() and not p.name.endswith(".tmp"))
    number = int(existing[-1].split("-")[1]) + 1 if existing else 1
    name = f"gen-{number:06d}"
    tmp = index_dir / f"{name}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()

    faiss_kind = _write_faiss(tmp / "vectors.faiss", vectors, hnsw_threshold)
    if sentence_vectors is None:
        sentence_vectors = np.zeros((0, vectors.shape[1]), np.float32)
    _write_faiss(tmp / "sentences.faiss", sentence_vectors, hnsw_threshold=len(sentence_vectors) + 1)
    _write_file(tmp / "chunks.jsonl", _jsonl([c.to_dict() for c in chunks]))
    _write_file(tmp / "reviews.jsonl", _jsonl([r.to_dict() for r in reviews]))
    _write_file(
        tmp / "sources.jsonl",
        _jsonl(
            [
                {"path": s.path, "sha256": s.sha256, "kind": s.kind, "page_starts": list(s.page_starts), "text": s.text}
                for s in sources
            ]
        ),
    )
    save_bm25(chunks, reviews, tmp / "bm25")
    save_mentions(chunks, tmp / "mentions")
    files = {}
    for p in sorted(tmp.rglob("*")):
        if p.is_file():
            if p.parent != tmp:
                with open(p, "rb") as f:
                    os.fsync(f.fileno())
            files[str(p.relative_to(tmp))] = sha256_file(p)
    manifest = {
        **manifest,
        "format": FORMAT_VERSION,
        "generation": name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "faiss": faiss_kind,
        "counts": {"sources": len(sources), "reviews": len(reviews), "chunks": len(chunks)},
        "files": files,
    }
    _write_file(tmp / "manifest.json", json.dumps(manifest, indent=1, ensure_ascii=False).encode("utf-8"))
    for sub in {p for p in tmp.rglob("*") if p.is_dir()} | {tmp}:
        _fsync_dir(sub)
    final = index_dir / name
    os.rename(tmp, final)
    _fsync_dir(index_dir)
    pointer_tmp = index_dir / "CURRENT.tmp"
    _write_file(pointer_tmp, (name + "\n").encode())
    os.replace(pointer_tmp, index_dir / "CURRENT")
    _fsync_dir(index_dir)
    # Keep the generation that was live until now, not merely the newest older one: after a crash
    # between rename and switch, the newest is a generation no reader ever opened.
    _collect_garbage(index_dir, keep={name, *([live.name] if live else [])})
    return final


def _collect_garbage(index_dir: Path, keep: set[str]) -> None:
    """Drop generations older than the previous one (a reader may still hold that) and stale temp dirs."""
    for p in index_dir.glob("gen-*"):
        if p.name not in keep:
            shutil.rmtree(p, ignore_errors=True)


def _write_faiss(path: Path, vectors: np.ndarray, hnsw_threshold: int) -> dict[str, Any]:
    import faiss

    n, dim = vectors.shape
    if n >= hnsw_threshold:
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        kind = {"type": "hnsw", "M": 32, "efConstruction": 80}
    else:
        index = faiss.IndexFlatIP(dim)
        kind = {"type": "flat"}
    if n:
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    faiss.write_index(index, str(path))
    with open(path, "rb") as f:
        os.fsync(f.fileno())
    return kind


def read_manifest(index_dir: Path) -> dict[str, Any] | None:
    gen = current_generation(index_dir)
    if gen is None:
        return None
    try:
        return json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise IndexCorrupt(f"index manifest in {gen} is unreadable ({e}); rebuild with: rla ingest --rebuild") from e


def check_model(manifest: dict[str, Any], model_name: str, dim: int | None = None) -> None:
    built = manifest["model"]
    if built["name"] != model_name or (dim is not None and int(built["dim"]) != dim):
        asked = model_name + (f" ({dim}-d)" if dim is not None else "")
        raise IndexMismatch(
            f"index built with {built['name']} ({built['dim']}-d) but settings ask for {asked}; "
            f"run: rla --model {model_name} ingest --rebuild, or use --model {built['name']}"
        )


def open_index(index_dir: Path, model_name: str | None = None, verify: bool = True) -> IndexData:
    """Load the live generation. Raises IndexMissing / IndexMismatch / IndexCorrupt with a fix in the message."""
    for attempt in range(3):
        gen = current_generation(index_dir)
        if gen is None:
            raise IndexMissing(f"no index at {index_dir}; build one with: rla ingest")
        try:
            return _load(gen, model_name, verify)
        except FileNotFoundError as e:
            # A writer may have replaced and collected this generation between our reads: read the new one.
            # If CURRENT still names it, the file is simply gone.
            if attempt == 2 or current_generation(index_dir) == gen:
                raise IndexCorrupt(
                    f"index file {e.filename or gen} is missing; rebuild with: rla ingest --rebuild"
                ) from None
            time.sleep(0.05)
    raise AssertionError("unreachable")


def _load(gen: Path, model_name: str | None, verify: bool) -> IndexData:
    import faiss

    try:
        manifest = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
    except ValueError as e:
        raise IndexCorrupt(f"index manifest in {gen} is unreadable; rebuild with: rla ingest --rebuild") from e
    if isinstance(manifest, dict) and manifest.get("format") != FORMAT_VERSION:
        raise IndexMismatch(
            f"index at {gen.parent} has format {manifest.get('format')}; rebuild with: rla ingest --rebuild"
        )
    _check_manifest(gen, manifest)
    if model_name is not None:
        check_model(manifest, model_name)
    if verify:
        for rel, digest in manifest["files"].items():
            if sha256_file(gen / rel) != digest:
                raise IndexCorrupt(
                    f"index file {gen / rel} does not match its manifest checksum (modified or damaged); "
                    "rebuild with: rla ingest --rebuild"
                )
    try:
        chunks = [Chunk.from_dict(json.loads(line)) for line in _lines(gen / "chunks.jsonl")]
        reviews = [Review.from_dict(json.loads(line)) for line in _lines(gen / "reviews.jsonl")]
        sources = []
        for line in _lines(gen / "sources.jsonl"):
            d = json.loads(line)
            sources.append(SourceText(d["path"], d["text"], d["sha256"], d["kind"], tuple(d["page_starts"])))
        index = faiss.read_index(str(gen / "vectors.faiss"))
        sentence_index = faiss.read_index(str(gen / "sentences.faiss"))
    except (ValueError, KeyError, TypeError, RuntimeError) as e:
        raise IndexCorrupt(f"index at {gen} is damaged ({type(e).__name__}); rebuild with: rla ingest --rebuild") from e
    counts = manifest["counts"]
    if not index.ntotal == len(chunks) == counts.get("chunks") or counts.get("reviews") != len(reviews):
        raise IndexCorrupt(
            f"index at {gen} has {index.ntotal} vectors for {len(chunks)} chunks and {len(reviews)} reviews, "
            f"but its manifest counts {counts.get('chunks')} chunks and {counts.get('reviews')} reviews; "
            "rebuild with: rla ingest --rebuild"
        )
    expected = sum(len(c.sentences) for c in chunks if len(c.sentences) > 1)
    if sentence_index.ntotal != expected:
        raise IndexCorrupt(
            f"index at {gen} has {sentence_index.ntotal} sentence vectors, its chunks name {expected}; "
            "rebuild with: rla ingest --rebuild"
        )
    if manifest["faiss"]["type"] == "hnsw":
        index.hnsw.efSearch = 256  # recall@10 vs exact: 0.973 at 128, 0.992 at 256 (eval/bench.py)
    return IndexData(
        path=gen,
        manifest=manifest,
        chunks=chunks,
        reviews={r.id: r for r in reviews},
        sources={s.path: s for s in sources},
        faiss_index=index,
        bm25_dir=gen / "bm25",
        sentence_index=sentence_index,
    )


def _check_manifest(gen: Path, manifest: Any) -> None:
    """The manifest's shape, so that a damaged one is refused with a message rather than a KeyError."""
    problem = None
    if not isinstance(manifest, dict):
        problem = "is not a JSON object"
    elif not isinstance(manifest.get("files"), dict):
        problem = "has no file checksums"
    elif missing := [f for f in _REQUIRED_FILES if f not in manifest["files"]]:
        problem = f"has no checksum for {missing[0]}"
    elif not (isinstance(manifest.get("model"), dict) and {"name", "dim"} <= manifest["model"].keys()):
        problem = "does not name its model"
    elif not (isinstance(manifest.get("faiss"), dict) and "type" in manifest["faiss"]):
        problem = "does not say how its vectors are stored"
    elif not isinstance(manifest.get("counts"), dict) or not isinstance(manifest.get("sources"), dict):
        problem = "has no counts or sources"
    if problem:
        raise IndexCorrupt(f"index manifest {gen / 'manifest.json'} {problem}; rebuild with: rla ingest --rebuild")


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
