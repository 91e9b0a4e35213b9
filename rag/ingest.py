"""Corpus files → a new index generation, embedding only what changed."""

from __future__ import annotations

import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.chunk import chunk_review, embedding_text, sentence_texts
from rag.errors import IndexMissing, RlaError, SourceError
from rag.models import Chunk, Review, SourceText
from rag.parse import parse_source
from rag.settings import Settings
from rag.sources import iter_corpus_files, read_source
from rag.store import (
    IndexData,
    ModelInfo,
    SourceEntry,
    check_model,
    open_index,
    sha256_file,
    write_generation,
    write_lock,
)

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass(frozen=True)
class FileReport:
    source: str
    status: str  # "indexed", "unchanged", "skipped", "removed"
    reviews: int = 0
    chunks: int = 0
    reason: str = ""


@dataclass
class IngestReport:
    files: list[FileReport] = field(default_factory=list)
    embedded: int = 0
    generation: str | None = None
    changed: bool = False
    model: ModelInfo | None = None  # the manifest's model entry
    query_encoder: str = "pytorch"  # or "onnxruntime" (rag/embed_onnx.py)

    @property
    def totals(self) -> dict[str, int]:
        live = [f for f in self.files if f.status in ("indexed", "unchanged")]
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
            "files": [f.__dict__ for f in self.files],
        }


def _sha256(path: Path, max_bytes: int) -> str | None:
    """The file's hash, read in blocks; None for what read_source will refuse anyway
    (missing, not a regular file, over the size limit), so that a 3 GB file or a pipe
    costs nothing here."""
    try:
        st = path.stat()
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode) or st.st_size > max_bytes:
        return None
    try:
        return sha256_file(path)
    except OSError:
        return None


def _rel(path: Path, corpus: Path) -> str:
    try:
        return path.resolve().relative_to(corpus.resolve()).as_posix()
    except ValueError:
        return path.name


def ingest(
    settings: Settings,
    paths: list[Path] | None = None,
    rebuild: bool = False,
    progress: Progress | None = None,
    wait_s: float = 0.0,
) -> IngestReport:
    """Bring the index in line with the corpus folder (or with `paths`, re-reading just those files)."""
    with write_lock(settings.index, wait_s):
        report = _ingest(settings, paths, rebuild, progress)
        if settings.onnx_queries and _query_encoder_ready(settings, report.model, rebuild, progress):
            report.query_encoder = "onnxruntime"
        return report


def _query_encoder_ready(settings: Settings, model: ModelInfo | None, rebuild: bool, progress: Progress | None) -> bool:
    """Make the model's ONNX query encoder once per model and cache folder; False when it cannot be made.

    An existing one is trusted here (search checks it when it loads it); --rebuild checks it in full
    and makes it again if that fails.
    """
    from rag.embed_onnx import encoder_dir, export, exported

    sha = model.sha256 if model else None
    if not sha:
        return False
    if exported(encoder_dir(settings.cache, sha)) and not rebuild:
        return True
    if progress:
        progress("preparing the query encoder", 0, 1)
    from rag.embed import load_embedder

    embedder = load_embedder(settings.model)  # verified: the export is filed under the weights' hash
    return embedder.weights_sha256 == sha and export(embedder, settings.cache) is not None


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


def _ingest(settings: Settings, paths: list[Path] | None, rebuild: bool, progress: Progress | None) -> IngestReport:
    report = IngestReport()
    old = _previous(settings, rebuild)
    old_sources = dict(old.manifest.sources) if old else {}

    all_files = iter_corpus_files(settings.corpus, settings) if settings.corpus.exists() else []
    targets = {_rel(p, settings.corpus): p for p in all_files}
    only: set[str] | None = None
    if paths:
        only = set()
        for p in paths:
            for f in iter_corpus_files(p, settings) if p.is_dir() else [p]:
                targets[_rel(f, settings.corpus)] = f
                only.add(_rel(f, settings.corpus))

    keep_reviews: list[Review] = []
    keep_chunks: list[Chunk] = []
    keep_rows: list[int] = []
    keep_sentence_rows: list[int] = []
    keep_sources: list[SourceText] = []
    new_items: list[tuple[SourceText, list[Review], list[Chunk]]] = []
    embedder = None
    sources_manifest: dict[str, SourceEntry] = {}

    for i, (rel, path) in enumerate(sorted(targets.items())):
        if progress:
            progress("reading", i, len(targets))
        digest = _sha256(path, settings.max_file_mb * 1024 * 1024)
        prior = old_sources.get(rel)
        reuse = (
            old is not None and prior is not None and (prior.sha256 == digest or (only is not None and rel not in only))
        )
        if reuse and old is not None and prior is not None:
            rows = [j for j, c in enumerate(old.chunks) if c.source == rel]
            keep_rows.extend(rows)
            offsets = old.sentence_offsets
            for j in rows:
                keep_sentence_rows.extend(range(offsets[j], offsets[j + 1]))
            keep_chunks.extend(old.chunks[j] for j in rows)
            keep_reviews.extend(r for r in old.reviews.values() if r.source == rel)
            keep_sources.append(old.sources[rel])
            sources_manifest[rel] = prior
            report.files.append(FileReport(rel, "unchanged", prior.reviews, prior.chunks))
            continue
        try:
            src = read_source(path, settings.corpus, settings)
        except SourceError as e:
            report.files.append(FileReport(rel, "skipped", reason=str(e)))
            continue
        reviews = parse_source(src)
        if not reviews:
            report.files.append(FileReport(rel, "skipped", reason=f"{rel}: no text to index"))
            continue
        if embedder is None:
            from rag.embed import load_embedder

            embedder = load_embedder(settings.model)
        chunks = [c for r in reviews for c in chunk_review(r, src, settings.chunk_tokens, embedder.fits)]
        new_items.append((src, reviews, chunks))
        sources_manifest[rel] = SourceEntry(src.sha256, len(reviews), len(chunks))
        report.files.append(FileReport(rel, "indexed", len(reviews), len(chunks)))

    for rel in sorted(set(old_sources) - set(sources_manifest)):
        if rel not in targets or not targets[rel].exists():
            report.files.append(FileReport(rel, "removed", reason=f"{rel}: no longer in the corpus"))
    report.files.sort(key=lambda f: f.source)

    removed = any(f.status == "removed" for f in report.files) or (
        old is not None and any(rel not in sources_manifest for rel in old_sources)
    )
    if old is not None and not new_items and not removed:
        report.generation = old.path.name
        report.model = old.manifest.model
        return report  # nothing changed: no model load, no write
    if old is None and not new_items:
        reasons = "; ".join(f.reason for f in report.files) or f"no .txt, .md or .pdf files in {settings.corpus}"
        raise RlaError(f"nothing to index: {reasons}")

    # Review ids must be unique across the whole corpus; a clash gets the source's short hash.
    taken = {r.id for r in keep_reviews}
    new_reviews_all: list[Review] = []
    new_chunks_all: list[Chunk] = []
    for src, reviews, chunks in new_items:
        renames = {}
        for r in reviews:
            if r.id in taken:
                renames[r.id] = f"{r.id}-{src.sha256[:6]}"
            taken.add(renames.get(r.id, r.id))
        for r in reviews:
            new_reviews_all.append(Review(**{**r.__dict__, "id": renames.get(r.id, r.id)}))
        for c in chunks:
            rid = renames.get(c.review_id, c.review_id)
            new_chunks_all.append(Chunk(**{**c.__dict__, "review_id": rid, "id": c.id.replace(c.review_id, rid, 1)}))

    dim = embedder.dim if embedder is not None else old.dim  # type: ignore[union-attr]
    vectors_new = np.zeros((0, dim), dtype=np.float32)
    sentences_new = np.zeros((0, dim), dtype=np.float32)
    if new_chunks_all:
        assert embedder is not None
        vectors_new, sentences_new = _embed(new_chunks_all, new_reviews_all, embedder, progress)
        report.embedded = len(new_chunks_all)

    model_info = (
        ModelInfo(embedder.name, embedder.weights_sha256, embedder.dim, embedder.max_tokens)
        if embedder is not None
        else old.manifest.model  # type: ignore[union-attr]
    )
    empty = np.zeros((0, dim), np.float32)
    old_vectors = old.vectors[keep_rows] if (old is not None and keep_rows) else empty
    old_sentences = old.sentence_vectors[keep_sentence_rows] if (old is not None and keep_sentence_rows) else empty
    vectors = np.vstack([old_vectors, vectors_new])
    sentence_vectors = np.vstack([old_sentences, sentences_new])
    chunks_all = keep_chunks + new_chunks_all
    reviews_all = keep_reviews + new_reviews_all
    sources_all = keep_sources + [s for s, _, _ in new_items]
    if progress:
        progress("writing", 0, 1)
    gen = write_generation(
        settings.index,
        model_info,
        settings.chunker_config(),
        chunks_all,
        vectors,
        reviews_all,
        sources_all,
        settings.hnsw_threshold,
        sentence_vectors,
    )
    report.generation = gen.name
    report.changed = True
    report.model = model_info
    return report


def _embed(
    chunks: list[Chunk], reviews: list[Review], embedder: Any, progress: Progress | None
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
