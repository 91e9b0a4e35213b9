"""The index on disk: generations of plain files, switched atomically, checked on open.

index/
  CURRENT              name of the live generation ("gen-000004")
  LOCK                 held (flock) by the one writer
  gen-000004/
    manifest.json      model, chunker, sources, counts, sha256 of every file below (see Manifest)
    vectors.faiss      FAISS index of chunk vectors (inner product on normalised vectors)
    sentences.faiss    flat FAISS index of sentence vectors, chunk by chunk (see Chunk.sentences)
    chunks.jsonl       one Chunk per line, row i ↔ vector i
    reviews.jsonl      one Review per line
    sources.jsonl      extracted source text, for showing a citation in context
    bm25/              bm25s index (numpy arrays + JSON; no pickle)
    mentions/          stemmed-word postings of chunk titles and texts (rag/mentions.py)

Every file is opened only if it is a regular file (never a pipe or device, so nothing blocks), and
every open verifies the manifest's checksums; the verdict is remembered per process while no file's
inode, size or times change, so opening the same generation again costs no hashing.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import shutil
import stat
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from rag.errors import IndexCorrupt, IndexLocked, IndexMismatch, IndexMissing, IndexUnwritable
from rag.manifest import (  # the manifest's types are part of this module's interface too
    FORMAT_VERSION,
    GENERATION_NAME,
    REBUILD,
    Counts,
    HnswParams,
    Manifest,
    ModelInfo,
    SkippedEntry,
    SourceEntry,
)
from rag.models import Chunk, Review, SourceText

_MAX_POINTER_BYTES = 4096
_MAX_MANIFEST_BYTES = 256 << 20  # ~1.5 million sources; a bigger "manifest" is not one
_NOT_REGULAR = (errno.EINVAL, errno.EISDIR, errno.ENXIO)  # what _open_regular and open() say about non-files


# --- reading files that may not be what they claim ---------------------------------------------------


def _open_regular(path: Path) -> int:
    """A descriptor for a regular file, or OSError: a FIFO, device or folder is refused without blocking."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        return fd
    except BaseException:
        os.close(fd)
        raise


def _read_limited(path: Path, limit: int) -> bytes:
    """A regular file's bytes; OSError(EFBIG) if it holds more than `limit`."""
    fd = _open_regular(path)
    with os.fdopen(fd, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"larger than {limit} bytes", str(path))
    return data


def sha256_file(path: Path) -> str:
    """SHA-256 of a regular file, read in 1 MiB blocks (OSError for a pipe, device or folder)."""
    return _sha256_and_stat(path)[0]


def _sha256_and_stat(path: Path) -> tuple[str, os.stat_result]:
    """The hash and the identity (inode, size, times) of the very file that was read."""
    h = hashlib.sha256()
    with os.fdopen(_open_regular(path), "rb") as f:
        st = os.fstat(f.fileno())  # before reading: a change while hashing moves mtime, so it is checked again
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest(), st


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


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def current_generation(index_dir: Path) -> Path | None:
    """The generation CURRENT names, or None. IndexCorrupt if CURRENT is a folder, pipe or device."""
    pointer = index_dir / "CURRENT"
    try:
        raw = _read_limited(pointer, _MAX_POINTER_BYTES)
    except FileNotFoundError:
        return None
    except OSError as e:
        if e.errno == errno.EFBIG:
            return None  # no generation name is that long: a damaged pointer, read as below
        raise IndexCorrupt(f"index pointer {pointer} {_why(e)}; remove it, then run: rla ingest") from None
    # A damaged pointer reads as "no index": the next ingest writes a fresh generation and a new pointer.
    name = raw.decode("utf-8", errors="replace").strip()
    gen = index_dir / name
    return gen if GENERATION_NAME.fullmatch(name) and gen.is_dir() else None


def _why(e: OSError) -> str:
    if e.errno in _NOT_REGULAR:
        return "is not a regular file (a folder, pipe or device?)"
    return f"cannot be read ({e.strerror})"


def read_manifest(index_dir: Path) -> Manifest | None:
    """The live generation's manifest (not its files' checksums), or None when there is no index."""
    gen = current_generation(index_dir)
    return None if gen is None else _read_manifest(gen)


def _read_manifest(gen: Path) -> Manifest:
    path = gen / "manifest.json"
    try:
        obj = json.loads(_read_limited(path, _MAX_MANIFEST_BYTES).decode("utf-8"))
    except FileNotFoundError:
        raise
    except OSError as e:
        raise IndexCorrupt(f"index manifest {path} {_why(e)}; {REBUILD}") from None
    except (ValueError, RecursionError) as e:  # RecursionError: JSON nested deeper than the parser goes
        what = "is nested too deeply" if isinstance(e, RecursionError) else "is not valid JSON"
        raise IndexCorrupt(f"index manifest {path} {what}; {REBUILD}") from None
    return Manifest.parse(obj, gen)


# --- writing ----------------------------------------------------------------------------------------


@contextlib.contextmanager
def write_lock(index_dir: Path, wait_s: float = 0.0) -> Iterator[None]:
    """One writer at a time; readers never take it (they read a finished generation).

    Whoever holds it may remove what an earlier, killed writer left half-done.
    """
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(index_dir / "LOCK", os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
    except OSError as e:
        _raise_unwritable(index_dir, e)
    deadline = time.monotonic() + wait_s
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise IndexCorrupt(f"index lock {index_dir / 'LOCK'} is not a regular file; remove it and try again")
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
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
        except OSError as e:
            _raise_unwritable(index_dir, e)
        _remove_stale_temps(index_dir)
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _remove_stale_temps(index_dir: Path) -> None:
    """Temp folders and pointers of a writer that was killed: only the lock holder writes them."""
    for p in index_dir.glob("gen-*.tmp"):
        shutil.rmtree(p, ignore_errors=True)
    with contextlib.suppress(OSError):
        (index_dir / "CURRENT.tmp").unlink()


def _raise_unwritable(index_dir: Path, e: BaseException) -> NoReturn:
    """One line for an OS refusal while writing (also an OSError, for callers that catch those)."""
    code = e.errno if isinstance(e, OSError) else errno.ENOSPC  # FAISS reports a full disk as RuntimeError
    reason = os.strerror(code) if code else str(e)
    if code in (errno.ENOSPC, errno.EDQUOT):
        fix = f"no space left on device writing the index {index_dir}; free space and run rla ingest again"
    elif code in (errno.EROFS, errno.EACCES, errno.EPERM):
        fix = f"index folder {index_dir} is not writable ({reason}); make it writable, or choose another with --index"
    else:
        fix = f"cannot write the index {index_dir} ({reason}); the live generation is unchanged; run rla ingest again"
    raise IndexUnwritable(fix) from e


def _out_of_space(e: BaseException) -> bool:
    return isinstance(e, RuntimeError) and "No space left on device" in str(e)


def write_generation(
    index_dir: Path,
    model: ModelInfo,
    chunker: Mapping[str, int],
    chunks: list[Chunk],
    vectors: np.ndarray,
    reviews: list[Review],
    sources: list[SourceText],
    hnsw_threshold: int,
    sentence_vectors: np.ndarray | None = None,
    skipped: Mapping[str, SkippedEntry] | None = None,
    catalogue: str | None = None,
    vocabulary: str | None = None,
) -> Path:
    """Write a complete new generation, fsync it, then switch CURRENT to it. Caller holds the lock.

    The manifest's per-source entries are counted from `chunks` and `reviews`. If anything fails
    before the switch, what was written is removed and the live generation stays live.
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    live = current_generation(index_dir)
    existing = sorted(p.name for p in index_dir.glob("gen-*") if GENERATION_NAME.fullmatch(p.name))
    name = f"gen-{int(existing[-1].split('-')[1]) + 1 if existing else 1:06d}"
    tmp, final, pointer_tmp = index_dir / f"{name}.tmp", index_dir / name, index_dir / "CURRENT.tmp"
    switched = False
    try:
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        manifest = _write_files(
            tmp,
            name,
            model,
            chunker,
            chunks,
            vectors,
            reviews,
            sources,
            hnsw_threshold,
            sentence_vectors,
            skipped or {},
            catalogue,
            vocabulary,
        )
        _write_file(tmp / "manifest.json", json.dumps(manifest.to_json(), indent=1, ensure_ascii=False).encode())
        for sub in {p for p in tmp.rglob("*") if p.is_dir()} | {tmp}:
            _fsync_dir(sub)
        os.rename(tmp, final)
        _fsync_dir(index_dir)
        _write_file(pointer_tmp, (name + "\n").encode())
        os.replace(pointer_tmp, index_dir / "CURRENT")
        switched = True
        _fsync_dir(index_dir)
        # Keep the generation that was live until now, not merely the newest older one: after a crash
        # between rename and switch, the newest is a generation no reader ever opened.
        _collect_garbage(index_dir, keep={name, *([live.name] if live else [])})
    except BaseException as e:
        if not switched:  # nobody has seen the new generation: it goes, the live one stays
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.rmtree(final, ignore_errors=True)
            with contextlib.suppress(OSError):
                pointer_tmp.unlink()
        if switched and isinstance(e, OSError):
            raise IndexUnwritable(
                f"index {index_dir} now holds {name}, but finishing the write failed ({e.strerror or e}); "
                "run rla ingest again"
            ) from e
        if isinstance(e, OSError) or _out_of_space(e):
            _raise_unwritable(index_dir, e)
        raise
    return final


def _write_files(
    tmp: Path,
    name: str,
    model: ModelInfo,
    chunker: Mapping[str, int],
    chunks: list[Chunk],
    vectors: np.ndarray,
    reviews: list[Review],
    sources: list[SourceText],
    hnsw_threshold: int,
    sentence_vectors: np.ndarray | None,
    skipped: Mapping[str, SkippedEntry],
    catalogue: str | None = None,
    vocabulary: str | None = None,
) -> Manifest:
    """Every file of a generation but its manifest, which is returned."""
    from rag.lexical import save_bm25
    from rag.mentions import save_mentions

    hnsw = _write_faiss(tmp / "vectors.faiss", vectors, hnsw_threshold)
    if sentence_vectors is None:
        sentence_vectors = np.zeros((0, vectors.shape[1]), np.float32)
    _write_faiss(tmp / "sentences.faiss", sentence_vectors, hnsw_threshold=len(sentence_vectors) + 1)
    _write_file(tmp / "chunks.jsonl", _jsonl([c.to_dict() for c in chunks]))
    _write_file(tmp / "reviews.jsonl", _jsonl([r.to_dict() for r in reviews]))
    _write_file(tmp / "sources.jsonl", _jsonl([s.to_dict() for s in sources]))
    save_bm25(chunks, reviews, tmp / "bm25")
    save_mentions(chunks, tmp / "mentions")
    files = {}
    for p in sorted(tmp.rglob("*")):
        if p.is_file():
            if p.parent != tmp:
                with open(p, "rb") as f:
                    os.fsync(f.fileno())
            files[p.relative_to(tmp).as_posix()] = sha256_file(p)
    n_reviews: dict[str, int] = {}
    n_chunks: dict[str, int] = {}
    for r in reviews:
        n_reviews[r.source] = n_reviews.get(r.source, 0) + 1
    for c in chunks:
        n_chunks[c.source] = n_chunks.get(c.source, 0) + 1
    return Manifest(
        format=FORMAT_VERSION,
        generation=name,
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        model=model,
        chunker=dict(chunker),
        faiss_type="hnsw" if hnsw else "flat",
        hnsw=hnsw,
        counts=Counts(sources=len(sources), reviews=len(reviews), chunks=len(chunks)),
        files=files,
        sources={s.path: SourceEntry(s.sha256, n_reviews.get(s.path, 0), n_chunks.get(s.path, 0)) for s in sources},
        skipped=dict(skipped),
        catalogue=catalogue,
        vocabulary=vocabulary,
    )


def _collect_garbage(index_dir: Path, keep: set[str]) -> None:
    """Drop generations older than the previous one (a reader may still hold that) and stale temp dirs."""
    for p in index_dir.glob("gen-*"):
        if p.name not in keep:
            shutil.rmtree(p, ignore_errors=True)


def _write_faiss(path: Path, vectors: np.ndarray, hnsw_threshold: int) -> HnswParams | None:
    """Flat (exact) below the threshold, HNSW from it; returns the HNSW parameters used, if any."""
    import faiss

    n, dim = vectors.shape
    params = None
    index: Any
    if n >= hnsw_threshold:
        params = HnswParams(m=32, ef_construction=80)
        index = faiss.IndexHNSWFlat(dim, params.m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = params.ef_construction
    else:
        index = faiss.IndexFlatIP(dim)
    if n:
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    faiss.write_index(index, str(path))
    with open(path, "rb") as f:
        os.fsync(f.fileno())
    return params


# --- reading ----------------------------------------------------------------------------------------


@dataclass
class IndexData:
    """Everything a generation holds, loaded."""

    path: Path
    manifest: Manifest
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
        return sentence_offsets(self.chunks)

    @property
    def dim(self) -> int:
        return self.manifest.model.dim


def sentence_offsets(chunks: Sequence[Chunk]) -> np.ndarray:
    """Row i's sentence vectors are sentence_vectors[offsets[i]:offsets[i+1]] (none for one-sentence chunks)."""
    counts = [len(c.sentences) if len(c.sentences) > 1 else 0 for c in chunks]
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def passage_scores(
    vectors: np.ndarray,
    sentence_vectors: np.ndarray,
    offsets: np.ndarray,
    queries: np.ndarray,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """The dense score of every chunk (or of `rows`, in their order) for each query vector, shape (chunks,
    queries): the mean of two cosines to the query, the whole chunk's and its best sentence's. The chunk vector
    carries context (review title, section); the sentence vector catches one learning point in a list of several.
    `offsets`: `sentence_offsets` of all the chunks."""
    if rows is not None:
        rows = np.asarray(rows, dtype=np.int64)
        counts = offsets[rows + 1] - offsets[rows]
        sub = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        picked = np.repeat(offsets[rows] - sub[:-1], counts) + np.arange(sub[-1])
        vectors, sentence_vectors, offsets = vectors[rows], sentence_vectors[picked], sub
    chunk_cos = vectors @ queries.T
    best = chunk_cos.copy()
    has = np.flatnonzero(offsets[1:] > offsets[:-1])
    if len(has):
        best[has] = np.maximum.reduceat(sentence_vectors @ queries.T, offsets[has], axis=0)
    return (chunk_cos + best) / 2


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


def check_model(built: ModelInfo, model_name: str, dim: int | None = None) -> None:
    """IndexMismatch, naming both, unless the index was built with this model (and dimension)."""
    if built.name != model_name or (dim is not None and built.dim != dim):
        asked = model_name + (f" ({dim}-d)" if dim is not None else "")
        raise IndexMismatch(
            f"index built with {built.name} ({built.dim}-d) but settings ask for {asked}; "
            f"run: rla --model {model_name} ingest --rebuild, or use --model {built.name}"
        )


def open_index(index_dir: Path, model_name: str | None = None) -> IndexData:
    """Load the live generation, its checksums verified (once per process while its files are unchanged).

    Raises IndexMissing / IndexMismatch / IndexCorrupt with a fix in the message.
    """
    for attempt in range(3):
        gen = current_generation(index_dir)
        if gen is None:
            raise IndexMissing(f"no index at {index_dir}; build one with: rla ingest")
        try:
            return _load(gen, model_name)
        except FileNotFoundError as e:
            # A writer may have replaced and collected this generation between our reads: read the new one.
            # If CURRENT still names it, the file is simply gone.
            if attempt == 2 or current_generation(index_dir) == gen:
                raise IndexCorrupt(f"index file {e.filename or gen} is missing; {REBUILD}") from None
            time.sleep(0.05)
    raise AssertionError("unreachable")


def open_generation(gen: Path, model_name: str | None = None) -> IndexData:
    """Load one generation by its folder, whatever CURRENT names now (the web app's answer workers open the
    generation the server is serving). Raises as open_index does."""
    try:
        return _load(gen, model_name)
    except FileNotFoundError as e:
        raise IndexMissing(
            f"index generation {gen.name} is gone ({Path(e.filename or gen).name} missing): a newer ingest replaced "
            "it; ask again"
        ) from None


# Generation folder → the (file, digest, device, inode, size, mtime, ctime) it had when its checksums matched.
_Signature = tuple[tuple[str, str, int, int, int, int, int], ...]
_VERIFIED: dict[Path, _Signature] = {}
_VERIFIED_MAX = 32
_VERIFIED_LOCK = threading.Lock()  # the web app opens indexes from several threads


def _signature(files: Mapping[str, str], stats: Mapping[str, os.stat_result]) -> _Signature:
    return tuple(
        (rel, digest, s.st_dev, s.st_ino, s.st_size, s.st_mtime_ns, s.st_ctime_ns)
        for rel, digest in sorted(files.items())
        for s in [stats[rel]]
    )


def _verify(gen: Path, manifest: Manifest) -> None:
    """Every file the manifest lists is a regular file inside the generation with that SHA-256, and
    nothing else is there. Hashing is skipped when this process verified the same files unchanged."""
    root = gen.resolve()
    listed = set(manifest.files) | {"manifest.json"}
    for folder, dirs, names in os.walk(gen):
        for entry in names + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            rel = Path(folder, entry).relative_to(gen).as_posix()
            if rel not in listed:
                raise IndexCorrupt(f"index folder {gen} holds {rel}, which its manifest does not list; {REBUILD}")
    stats = {}
    for rel in manifest.files:
        path = gen / rel
        if not path.resolve().is_relative_to(root):
            raise IndexCorrupt(f"index file {path} leads outside its generation (a link?); {REBUILD}")
        stats[rel] = os.stat(path)
        if not stat.S_ISREG(stats[rel].st_mode):
            raise IndexCorrupt(f"index file {path} is not a regular file (a folder, pipe or device); {REBUILD}")
    with _VERIFIED_LOCK:
        if _VERIFIED.get(root) == _signature(manifest.files, stats):
            return
        _VERIFIED.pop(root, None)
    for rel, digest in sorted(manifest.files.items()):
        path = gen / rel
        actual, stats[rel] = _sha256_and_stat(path)
        if actual != digest:
            raise IndexCorrupt(
                f"index file {path} does not match its manifest checksum (modified or damaged); {REBUILD}"
            )
    with _VERIFIED_LOCK:
        while len(_VERIFIED) >= _VERIFIED_MAX:
            _VERIFIED.pop(next(iter(_VERIFIED)))
        _VERIFIED[root] = _signature(manifest.files, stats)


def _load(gen: Path, model_name: str | None) -> IndexData:
    import faiss

    manifest = _read_manifest(gen)
    if model_name is not None:
        check_model(manifest.model, model_name)
    try:
        _verify(gen, manifest)
    except FileNotFoundError:
        raise
    except OSError as e:  # e.g. a file that became a pipe between the checks; never a traceback
        raise IndexCorrupt(f"index file {e.filename or gen} cannot be read ({e.strerror}); {REBUILD}") from None
    _refuse_object_arrays(gen, manifest)
    try:
        chunks = [Chunk.from_dict(json.loads(line)) for line in _lines(gen / "chunks.jsonl")]
        reviews = [Review.from_dict(json.loads(line)) for line in _lines(gen / "reviews.jsonl")]
        sources = [SourceText.from_dict(json.loads(line)) for line in _lines(gen / "sources.jsonl")]
        index: Any = faiss.read_index(str(gen / "vectors.faiss"))
        sentence_index: Any = faiss.read_index(str(gen / "sentences.faiss"))
        data = IndexData(
            path=gen,
            manifest=manifest,
            chunks=chunks,
            reviews={r.id: r for r in reviews},
            sources={s.path: s for s in sources},
            faiss_index=index,
            bm25_dir=gen / "bm25",
            sentence_index=sentence_index,
        )
        _check_consistent(data, len(reviews))
    except FileNotFoundError:
        raise
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, RecursionError) as e:
        raise IndexCorrupt(f"index at {gen} is damaged ({type(e).__name__}); {REBUILD}") from e
    if manifest.faiss_type == "hnsw":
        index.hnsw.efSearch = 256  # recall@10 vs exact: 0.973 at 128, 0.992 at 256 (eval/bench.py)
    return data


def _refuse_object_arrays(gen: Path, manifest: Manifest) -> None:
    """An .npy of Python objects is a pickle: refused here, whatever the loader later asks numpy for."""
    for rel in manifest.files:
        if rel.endswith(".npy"):
            fmt = np.lib.format
            with open(gen / rel, "rb") as f:
                try:
                    version = fmt.read_magic(f)
                    read_header = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}[version]
                    dtype = read_header(f)[2]
                except (ValueError, KeyError, SyntaxError):
                    raise IndexCorrupt(f"index file {gen / rel} is not a NumPy array file; {REBUILD}") from None
            if dtype.hasobject:
                raise IndexCorrupt(f"index file {gen / rel} holds Python objects (a pickle); {REBUILD}")


def _check_consistent(data: IndexData, n_reviews: int) -> None:
    """Rows, vectors, counts and cross-references agree; raises IndexCorrupt naming the first that does not."""
    import faiss

    gen, m, index = data.path, data.manifest, data.faiss_index

    def bad(what: str) -> NoReturn:
        raise IndexCorrupt(f"index at {gen} {what}; {REBUILD}")

    if not index.ntotal == len(data.chunks) == m.counts.chunks or m.counts.reviews != n_reviews:
        bad(
            f"has {index.ntotal} vectors for {len(data.chunks)} chunks and {n_reviews} reviews, "
            f"but its manifest counts {m.counts.chunks} chunks and {m.counts.reviews} reviews"
        )
    # What the manifest says must be what FAISS holds: search code branches on the type, slices on the dimension.
    kinds: dict[str, Any] = {"flat": faiss.IndexFlatIP, "hnsw": faiss.IndexHNSWFlat}
    stored: tuple[tuple[str, Any, str], ...] = (
        ("vectors.faiss", index, m.faiss_type),
        ("sentences.faiss", data.sentence_index, "flat"),
    )
    for rel, loaded, said in stored:
        if type(loaded) is not kinds[said] or loaded.metric_type != faiss.METRIC_INNER_PRODUCT:
            bad(f"has {rel} of type {type(loaded).__name__}, but its manifest says {said} (inner product)")
        if loaded.d != m.model.dim:
            bad(f"has {loaded.d}-d vectors in {rel}, but its manifest says {m.model.dim}-d")
    expected_sentences = sum(len(c.sentences) for c in data.chunks if len(c.sentences) > 1)
    if data.sentence_index.ntotal != expected_sentences:
        bad(f"has {data.sentence_index.ntotal} sentence vectors, its chunks name {expected_sentences}")
    if len(data.sources) != m.counts.sources or set(data.sources) != set(m.sources):
        bad("lists other sources in its manifest than in sources.jsonl")
    for r in data.reviews.values():
        if r.source not in data.sources:
            bad(f"has review {r.id} from {r.source}, which is not in sources.jsonl")
    for c in data.chunks:
        if c.source not in data.sources:
            bad(f"has chunk {c.id} from {c.source}, which is not in sources.jsonl")
        if c.review_id not in data.reviews:
            bad(f"has chunk {c.id} of review {c.review_id}, which is not in reviews.jsonl")


def _lines(path: Path) -> list[str]:
    with os.fdopen(_open_regular(path), "rb") as f:  # swapped for a pipe since it was verified: refused, no hang
        text = f.read().decode("utf-8")
    # "\n" only: JSON leaves U+2028, U+2029 and U+0085 unescaped, and str.splitlines() would split rows there.
    return [line for line in text.split("\n") if line.strip()]
