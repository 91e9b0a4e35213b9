"""Corpus files → a new index generation, embedding only what changed: a pure plan, then its application."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from rag.catalogue import CATALOGUE_NAME, Catalogue, apply_catalogue, catalogue_path, read_catalogue, warnings
from rag.chunk import chunk_review, embedding_text, sentence_texts
from rag.embed import Embedder
from rag.errors import IndexMissing, RlaError, SourceError
from rag.models import Chunk, Review, SourceText
from rag.parse import parse_source
from rag.settings import Settings
from rag.sources import CorpusFile, corpus_files, parse_limited, read_source, shown_name
from rag.store import (
    IndexData,
    ModelInfo,
    SkippedEntry,
    SourceEntry,
    check_model,
    open_index,
    passage_scores,
    sentence_offsets,
    sha256_file,
    write_generation,
    write_lock,
)
from rag.themes import gate_texts, tag_records, themes_on_topic, vocabulary_digest

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass(frozen=True)
class FileReport:
    source: str  # the file's corpus key
    # "indexed", "unchanged", "updated" (metadata from the catalogue, nothing embedded), "skipped", "removed"
    status: str
    reviews: int = 0
    chunks: int = 0
    reason: str = ""
    remembered: bool = False  # skipped without reading: it failed the same way before and has not changed


@dataclass
class IngestReport:
    files: list[FileReport] = field(default_factory=list)
    embedded: int = 0
    generation: str | None = None
    changed: bool = False
    model: ModelInfo | None = None  # the model that built the index
    query_encoder: str = "pytorch"  # "onnxruntime" or "onnxruntime int8" (rag/embed_onnx.py), or "… (why not)"
    warnings: list[str] = field(default_factory=list)  # catalogue rows that name no corpus file or record

    @property
    def totals(self) -> dict[str, int]:
        live = [f for f in self.files if f.status in ("indexed", "unchanged", "updated")]
        return {
            "files": len(live),
            "reviews": sum(f.reviews for f in live),
            "chunks": sum(f.chunks for f in live),
            "skipped": sum(f.status == "skipped" for f in self.files),
            "embedded": self.embedded,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "generation": self.generation,
            "changed": self.changed,
            "query_encoder": self.query_encoder,
            "totals": self.totals,
            "warnings": self.warnings,
            "files": [{**f.__dict__, "source": shown_name(f.source)} for f in self.files],
        }


@dataclass(frozen=True)
class Plan:
    """What an ingest does with each file, decided from the old manifest and the files' hashes alone."""

    keep: tuple[str, ...] = ()  # keys whose records and vectors carry over as they are
    read: tuple[CorpusFile, ...] = ()  # to read, parse, chunk and embed
    remove: tuple[str, ...] = ()  # in the old index, no longer in the corpus
    skip: tuple[FileReport, ...] = ()  # refused without reading: a problem with the entry, or a remembered failure
    recatalogue: bool = False  # the catalogue changed: kept records get its metadata again (nothing re-embedded)
    retag: bool = False  # the theme vocabulary or tagging rule changed: kept chunks are tagged again (nor here)


def plan(
    sources: Mapping[str, SourceEntry],
    skipped: Mapping[str, SkippedEntry],
    files: Sequence[CorpusFile],
    digests: Mapping[str, str | None],
    only: set[str] | None,
    limits: str,
    catalogue: tuple[str | None, str | None] = (None, None),
    vocabulary: tuple[str | None, str | None] = (None, None),
) -> Plan:
    """Keep what is unchanged (or outside `only`), read what is new or changed, remove what is gone.

    `sources` and `skipped` are the old manifest's entries by key; `digests` the files' SHA-256 (None
    when the file cannot be hashed: read_source gives the reason); `limits` the settings a remembered
    failure was found under (a file that timed out is tried again when the time limit changes); `catalogue`
    the digests of the catalogue the old index applied and of today's (rag.catalogue); `vocabulary` those of
    the theme vocabulary its chunks were tagged with and of today's (rag.themes.vocabulary_digest).
    """
    keep: list[str] = []
    read: list[CorpusFile] = []
    skip: list[FileReport] = []
    present: set[str] = set()
    for f in files:
        if f.problem:
            skip.append(FileReport(f.key, "skipped", reason=f.problem))
            continue
        present.add(f.key)
        digest, prior, failed = digests.get(f.key), sources.get(f.key), skipped.get(f.key)
        if prior is not None and (prior.sha256 == digest or (only is not None and f.key not in only)):
            keep.append(f.key)
        elif failed is not None and digest is not None and (failed.sha256, failed.limits) == (digest, limits):
            skip.append(FileReport(f.key, "skipped", reason=failed.reason, remembered=True))
        else:
            read.append(f)
    remove = tuple(sorted(k for k in sources if k not in present))
    retag = bool(keep) and vocabulary[0] != vocabulary[1]
    return Plan(tuple(keep), tuple(read), remove, tuple(skip), catalogue[0] != catalogue[1], retag)


def ingest(
    settings: Settings,
    paths: list[Path] | None = None,
    rebuild: bool = False,
    progress: Progress | None = None,
    wait_s: float = 0.0,
) -> IngestReport:
    """Bring the index in line with the corpus folder (or with `paths`, re-reading just those files)."""
    catalogue = read_catalogue(catalogue_path(settings.corpus))  # a bad one stops here, before anything is read
    with write_lock(settings.index, wait_s):
        old = _previous(settings, rebuild)
        files = corpus_files(settings.corpus, settings) if settings.corpus.exists() else []
        only: set[str] | None = None
        if paths:
            # A file reached through a folder link is the file the corpus listing already has.
            listed = {os.path.realpath(f.path): f for f in files if not f.problem}
            chosen = [listed.get(os.path.realpath(f.path), f) for f in corpus_files(settings.corpus, settings, paths)]
            only = {f.key for f in chosen}
            files = sorted({f.key: f for f in [*files, *chosen]}.values(), key=lambda f: f.key)
        digests = {f.key: _sha256(f.path, settings.max_file_mb * 1024 * 1024) for f in files if not f.problem}
        sources, skipped = (old.manifest.sources, old.manifest.skipped) if old else ({}, {})
        old_catalogue = old.manifest.catalogue if old else None
        old_vocabulary = old.manifest.vocabulary if old else None
        todo = plan(
            sources,
            skipped,
            files,
            digests,
            only,
            _limits(settings),
            (old_catalogue, catalogue.digest),
            (old_vocabulary, vocabulary_digest(settings.theme_passage_cosine)),
        )
        report = apply(settings, todo, old, digests, progress, catalogue)
        if settings.onnx_queries:
            report.query_encoder = _query_encoder(settings, report.model, rebuild, progress)
        return report


def _limits(settings: Settings) -> str:
    return (
        f"{settings.max_file_mb} MB, {settings.pdf_timeout_s:g} s + {settings.ocr_page_timeout_s:g} s a scanned page, "
        f"{settings.pdf_memory_mb} MB memory"
    )


def _sha256(path: Path, max_bytes: int) -> str | None:
    """The file's hash, read in blocks; None for what read_source will refuse anyway
    (missing, not a regular file, over the size limit), so that a 3 GB file or a pipe
    costs nothing here."""
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode) or st.st_size > max_bytes:
            return None
        return sha256_file(path)
    except OSError:
        return None


def _previous(settings: Settings, rebuild: bool) -> IndexData | None:
    if rebuild:
        return None
    try:
        old = open_index(settings.index)
    except IndexMissing:
        return None
    check_model(old.manifest.model, settings.model)
    if old.manifest.chunker != settings.chunker_config():
        return None  # chunking changed: everything is re-chunked and re-embedded
    return old


@dataclass
class _New:
    """What reading the planned files gave."""

    sources: list[SourceText] = field(default_factory=list)
    reviews: list[Review] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)
    skipped: dict[str, SkippedEntry] = field(default_factory=dict)  # lasting failures, remembered by hash
    embedder: Embedder | None = None


def apply(
    settings: Settings,
    todo: Plan,
    old: IndexData | None,
    digests: Mapping[str, str | None],
    progress: Progress | None = None,
    catalogue: Catalogue | None = None,
) -> IngestReport:
    """Carry over what the plan keeps, read and embed what it reads, apply the catalogue to every record, and
    write a generation if anything changed. Vectors are made from the records as parsed, so a catalogue
    change never re-embeds anything (and a rebuild gives the same vectors)."""
    catalogue = catalogue or read_catalogue(catalogue_path(settings.corpus))
    report = IngestReport(files=list(todo.skip))
    old_sources = old.manifest.sources if old else {}
    old_skipped = old.manifest.skipped if old else {}
    for key in todo.keep:
        report.files.append(FileReport(key, "unchanged", old_sources[key].reviews, old_sources[key].chunks))
    for key in todo.remove:
        report.files.append(FileReport(key, "removed", reason=f"{shown_name(key)}: no longer in the corpus"))

    new = _read_all(settings, todo.read, digests, report, progress, taken=_kept_ids(old, todo.keep))
    for r in todo.skip:
        if r.remembered:
            new.skipped[r.source] = old_skipped[r.source]
    report.files.sort(key=lambda f: f.source)

    dropped = set(old_sources) - set(todo.keep)  # removed, changed, or now unreadable
    unchanged = old is not None and not new.sources and not dropped and new.skipped == old_skipped
    present = [*todo.keep, *(f.key for f in todo.read), *(f.source for f in todo.skip)]
    if unchanged and not todo.recatalogue and not todo.retag:
        assert old is not None
        report.generation = old.path.name
        report.model = old.manifest.model
        report.warnings = warnings(catalogue, old.reviews.values(), present)
        return report  # nothing changed: no model load, no write
    if old is None and not new.sources:
        reasons = "; ".join(f.reason for f in report.files) or f"no .txt, .md or .pdf files in {settings.corpus}"
        raise RlaError(f"nothing to index: {reasons}")

    kept = _carry_over(old, todo.keep)
    # The catalogue's metadata on every record and its chunks (their themes read their text alone: unchanged).
    reviews, chunks, corrected = apply_catalogue(catalogue, kept.reviews + new.reviews, kept.chunks + new.chunks)
    report.warnings = warnings(catalogue, reviews, present)
    if unchanged and not corrected and not todo.retag:
        assert old is not None
        report.generation = old.path.name
        report.model = old.manifest.model
        return report  # the catalogue changed, but no record's metadata did
    _mark_updated(report, {r.source for r in reviews if r.id in corrected}, f"metadata from {CATALOGUE_NAME}")
    if todo.retag:
        _mark_updated(report, set(todo.keep), "themes tagged again with the current vocabulary")
    embedder = new.embedder
    model = _model_info(embedder) if embedder is not None else old.manifest.model  # type: ignore[union-attr]
    vectors_new = sentences_new = np.zeros((0, model.dim), dtype=np.float32)
    if new.chunks:
        assert embedder is not None
        vectors_new, sentences_new = _embed(new.chunks, new.reviews, embedder, progress)
        report.embedded = len(new.chunks)
    vectors = np.vstack([kept.vectors, vectors_new]) if len(kept.vectors) else vectors_new
    sentence_vectors = (
        np.vstack([kept.sentence_vectors, sentences_new]) if len(kept.sentence_vectors) else sentences_new
    )
    # The new records tagged with themes; the kept ones too when the vocabulary or the tagging rule changed.
    untagged = {r.id for r in new.reviews} | ({r.id for r in kept.reviews} if todo.retag else set())
    reviews, chunks = _tagged(settings, reviews, chunks, (vectors, sentence_vectors), untagged, embedder)
    if progress:
        progress("writing", 0, 1)
    gen = write_generation(
        settings.index,
        model,
        settings.chunker_config(),
        chunks,
        vectors,
        reviews,
        kept.sources + new.sources,
        settings.hnsw_threshold,
        sentence_vectors,
        skipped=dict(sorted(new.skipped.items())),
        catalogue=catalogue.digest,
        vocabulary=vocabulary_digest(settings.theme_passage_cosine),
    )
    report.generation = gen.name
    report.changed = True
    report.model = model
    return report


def _tagged(
    settings: Settings,
    reviews: list[Review],
    chunks: list[Chunk],
    vectors: tuple[np.ndarray, np.ndarray],
    ids: set[str],
    embedder: Embedder | None,
) -> tuple[list[Review], list[Chunk]]:
    """The records `ids` and their chunks tagged with the themes they address (rag.themes.tag_records: a term
    other than a theme's name counts in a passage on the theme, scored as search scores it), the others as
    they were. `vectors`: every chunk's vector and sentence vectors, in order."""
    if not ids:
        return reviews, chunks
    if embedder is None:  # only kept records to tag again: the model gives the themes' vectors
        from rag.embed import load_embedder

        embedder = load_embedder(settings.model)
    rows = np.array([i for i, c in enumerate(chunks) if c.review_id in ids], dtype=np.int64)
    gates = embedder.embed_batch(gate_texts())
    scores = passage_scores(vectors[0], vectors[1], sentence_offsets(chunks), gates, rows)
    near = themes_on_topic(scores, settings.theme_passage_cosine)
    tagged_reviews, tagged_chunks = tag_records([r for r in reviews if r.id in ids], [chunks[i] for i in rows], near)
    by_review = {r.id: r for r in tagged_reviews}
    by_chunk = {c.id: c for c in tagged_chunks}
    return [by_review.get(r.id, r) for r in reviews], [by_chunk.get(c.id, c) for c in chunks]


def _mark_updated(report: IngestReport, sources: set[str], what: str) -> None:
    """A kept file whose records the catalogue changed (or whose chunks were tagged again) is "updated": new
    metadata, nothing read or embedded."""
    for i, f in enumerate(report.files):
        if f.status == "unchanged" and f.source in sources:
            reason = f"{shown_name(f.source)}: {what}; nothing re-read or re-embedded"
            report.files[i] = replace(f, status="updated", reason=reason)


def _model_info(embedder: Embedder) -> ModelInfo:
    return ModelInfo(embedder.name, embedder.weights_sha256, embedder.dim, embedder.max_tokens)


def _kept_ids(old: IndexData | None, keep: Sequence[str]) -> set[str]:
    keys = set(keep)
    return {r.id for r in old.reviews.values() if r.source in keys} if old else set()


def _read_all(
    settings: Settings,
    files: Sequence[CorpusFile],
    digests: Mapping[str, str | None],
    report: IngestReport,
    progress: Progress | None,
    taken: set[str],
) -> _New:
    """Read, parse and chunk each file; review ids are made unique across the corpus as they come."""
    new = _New()

    def skip(key: str, reason: str, lasting_for: str | None) -> None:
        """Report the file as skipped; remember it by hash when the same bytes would fail the same way."""
        report.files.append(FileReport(key, "skipped", reason=reason))
        if lasting_for:
            new.skipped[key] = SkippedEntry(lasting_for, reason, _limits(settings))

    for i, f in enumerate(files):
        if progress:
            progress("reading", i, len(files))
        try:
            src = read_source(f.path, settings.corpus, settings)
        except SourceError as e:
            skip(f.key, str(e), digests.get(f.key) if e.lasting else None)
            continue
        try:
            try:
                reviews = parse_limited(src, settings, parse_source)
            except SourceError as e:  # too big or too slow to parse within the limits
                skip(f.key, str(e), src.sha256)
                continue
            if not reviews:
                skip(f.key, f"{shown_name(f.key)}: no text to index", src.sha256)
                continue
            if new.embedder is None:
                from rag.embed import load_embedder

                new.embedder = load_embedder(settings.model)
            fits = new.embedder.fits
            chunks = [c for r in reviews for c in chunk_review(r, src, settings.chunk_tokens, fits)]
        except RlaError:
            raise
        except Exception as e:  # a bug, not the file's fault: stop with one line naming the file
            raise RlaError(
                f"{shown_name(f.key)}: unexpected {type(e).__name__} while parsing ({e}); "
                "the index is unchanged; please report this with the file"
            ) from e
        reviews, chunks = _unique_ids(reviews, chunks, src.sha256, taken)
        new.sources.append(src)
        new.reviews += reviews
        new.chunks += chunks
        report.files.append(FileReport(f.key, "indexed", len(reviews), len(chunks)))
    return new


def _unique_ids(
    reviews: list[Review], chunks: list[Chunk], sha256: str, taken: set[str]
) -> tuple[list[Review], list[Chunk]]:
    """A review id already taken gets the source's short hash appended (and its chunks follow)."""
    renames: dict[str, str] = {}
    for r in reviews:
        if r.id in taken:
            renames[r.id] = f"{r.id}-{sha256[:6]}"
        taken.add(renames.get(r.id, r.id))
    if not renames:
        return reviews, chunks
    reviews = [replace(r, id=renames.get(r.id, r.id)) for r in reviews]
    chunks = [
        replace(c, review_id=(rid := renames.get(c.review_id, c.review_id)), id=c.id.replace(c.review_id, rid, 1))
        for c in chunks
    ]
    return reviews, chunks


@dataclass(frozen=True)
class _Kept:
    chunks: list[Chunk]
    reviews: list[Review]
    sources: list[SourceText]
    vectors: np.ndarray
    sentence_vectors: np.ndarray


def _carry_over(old: IndexData | None, keep: Sequence[str]) -> _Kept:
    """The kept files' chunks, reviews, sources and vectors, in one pass over the old index."""
    if old is None or not keep:
        dim = old.dim if old else 0
        return _Kept([], [], [], np.zeros((0, dim), np.float32), np.zeros((0, dim), np.float32))
    keys = set(keep)
    rows = [i for i, c in enumerate(old.chunks) if c.source in keys]
    offsets = old.sentence_offsets
    sentence_rows = np.concatenate(
        [np.arange(offsets[i], offsets[i + 1]) for i in rows] or [np.zeros(0, np.int64)]
    ).astype(np.int64)
    return _Kept(
        chunks=[old.chunks[i] for i in rows],
        reviews=[r for r in old.reviews.values() if r.source in keys],
        sources=[old.sources[k] for k in sorted(keys)],
        vectors=old.vectors[rows],
        sentence_vectors=old.sentence_vectors[sentence_rows],
    )


def _query_encoder(settings: Settings, model: ModelInfo | None, rebuild: bool, progress: Progress | None) -> str:
    """Make the model's ONNX query encoder (and its int8 copy, `quantised_queries`) once per model and cache folder:
    "onnxruntime", "onnxruntime int8", or why not.

    An existing one is trusted here (search checks it when it loads it); --rebuild checks it in full
    and makes it again if that fails.
    """
    from rag.embed_onnx import EncoderUnavailable, encoder_dir, export_or_explain, exported

    sha = model.sha256 if model else None
    if not sha:
        return "pytorch (the model's weights have no checksum to file an ONNX export under)"
    if exported(encoder_dir(settings.cache, sha)) and not rebuild:
        return _quantised(settings, encoder_dir(settings.cache, sha), rebuild)
    if progress:
        progress("preparing the query encoder", 0, 1)
    from rag.embed import load_embedder

    embedder = load_embedder(settings.model)  # verified: the export is filed under the weights' hash
    if embedder.weights_sha256 != sha:
        return "pytorch (the model's weights differ from the index's)"
    try:
        folder = export_or_explain(embedder, settings.cache)
    except EncoderUnavailable as e:
        return f"pytorch (onnx export failed: {e})"
    return _quantised(settings, folder, rebuild)


def _quantised(settings: Settings, folder: Path, rebuild: bool) -> str:
    from rag.embed_onnx import EncoderUnavailable, quantise, quantised_made

    if not settings.quantised_queries:
        return "onnxruntime"
    if quantised_made(folder) and not rebuild:
        return "onnxruntime int8"
    try:
        quantise(folder)
    except EncoderUnavailable as e:
        return f"onnxruntime (int8 not made: {e})"
    return "onnxruntime int8"


def _embed(
    chunks: list[Chunk], reviews: list[Review], embedder: Embedder, progress: Progress | None
) -> tuple[np.ndarray, np.ndarray]:
    """Chunk vectors (with their review's title and section as context) and sentence vectors.

    All texts go through the model in order of length, so each batch pads little.
    """
    by_id = {r.id: r for r in reviews}
    texts = [embedding_text(by_id[c.review_id], c) for c in chunks]
    texts += [t for c in chunks for t in sentence_texts(c)]
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    step = 128
    for start in range(0, len(order), step):
        if progress:
            progress("embedding", start, len(order))
        rows = order[start : start + step]
        out[rows] = embedder.embed_batch([texts[i] for i in rows])
    if progress:
        progress("embedding", len(order), len(order))
    return out[: len(chunks)], out[len(chunks) :]
