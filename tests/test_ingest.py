"""Ingest: incremental by content hash, atomic generations, and a clear error for a mismatched model."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from rag.errors import IndexMismatch
from rag.ingest import ingest
from rag.settings import Settings
from rag.store import current_generation, open_index


def test_unchanged_corpus_embeds_nothing_and_writes_nothing(index_copy: Settings) -> None:
    before = current_generation(index_copy.index)
    report = ingest(index_copy)
    assert report.embedded == 0 and not report.changed
    assert {f.status for f in report.files} == {"unchanged"}
    assert current_generation(index_copy.index) == before


def test_a_new_theme_vocabulary_re_tags_kept_chunks_and_embeds_nothing(
    small_copy: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rag.themes

    digest = rag.themes.vocabulary_digest(small_copy.theme_passage_cosine)
    assert open_index(small_copy.index).manifest.vocabulary == digest
    monkeypatch.setattr(rag.themes, "TAGGING_VERSION", rag.themes.TAGGING_VERSION + 1)  # a changed tagging rule
    monkeypatch.setattr(rag.themes, "tag_text", lambda text, on_topic=frozenset(), path=None: ("neglect",))
    report = ingest(small_copy)
    assert report.embedded == 0 and report.changed
    assert {f.status for f in report.files} == {"updated"}
    assert all("themes tagged again" in f.reason for f in report.files)
    data = open_index(small_copy.index)
    assert data.manifest.vocabulary == rag.themes.vocabulary_digest(small_copy.theme_passage_cosine)
    assert {c.themes for c in data.chunks} == {("neglect",)} and {r.themes for r in data.reviews.values()} == {
        ("neglect",)
    }
    assert not ingest(small_copy).changed  # tagged under today's vocabulary: nothing more to do


def test_another_theme_threshold_re_tags_by_the_passages_scores(small_copy: Settings) -> None:
    """`theme_passage_cosine` decides where a theme's alias counts: changed, the next ingest tags every kept chunk
    again (nothing embedded); at 1.0 only names count, at -1.0 every alias anywhere."""
    from dataclasses import replace

    strict, loose = replace(small_copy, theme_passage_cosine=1.0), replace(small_copy, theme_passage_cosine=-1.0)
    report = ingest(strict)
    assert report.changed and report.embedded == 0
    named = {c.id: set(c.themes) for c in open_index(strict.index).chunks}
    assert ingest(loose).changed
    anywhere = {c.id: set(c.themes) for c in open_index(loose.index).chunks}
    assert all(named[k] <= anywhere[k] for k in named) and sum(map(len, anywhere.values())) > sum(
        map(len, named.values())
    )


def test_changed_file_updates_only_its_records(small_corpus: Path, tmp_path: Path) -> None:
    settings = Settings(corpus=small_corpus, index=tmp_path / "index")
    first = ingest(settings)
    data1 = open_index(settings.index)
    cumbria = "cumbria-lessons-from-scrs.txt"
    other = "nspcc-repository-march-2022.txt"
    path = small_corpus / cumbria
    path.write_text(
        path.read_text(encoding="utf-8") + "\n\nLearning from Serious Case Review Child ZZ (2021)\n\n"
        "Child ZZ's Story\n\nChild ZZ was left with a neighbour who kept ferrets.\n\n"
        "Lessons to be learned from Child ZZ\n\n  1. Ask who else lives in or visits the home.\n",
        encoding="utf-8",
    )
    second = ingest(settings)
    status = {f.source: f.status for f in second.files}
    assert status == {cumbria: "indexed", other: "unchanged"}
    data2 = open_index(settings.index)
    # Only the changed file's chunks were embedded; the other file's chunks and vectors are carried over.
    assert second.embedded == sum(1 for c in data2.chunks if c.source == cumbria)
    old_other = {c.id: i for i, c in enumerate(data1.chunks) if c.source == other}
    new_other = {c.id: i for i, c in enumerate(data2.chunks) if c.source == other}
    assert old_other.keys() == new_other.keys()
    for cid, i in old_other.items():
        assert (data1.vectors[i] == data2.vectors[new_other[cid]]).all()
    assert "2021-cumbria-child-zz" in data2.reviews
    assert first.totals["reviews"] + 1 == second.totals["reviews"]
    # The new file's chunks were tagged with themes by their own passages' scores, as tagging every chunk would.
    from rag.ingest import _tagged

    vectors = (data2.vectors, data2.sentence_vectors)
    _, everyone = _tagged(settings, list(data2.reviews.values()), data2.chunks, vectors, set(data2.reviews), None)
    assert [c.themes for c in everyone] == [c.themes for c in data2.chunks]
    assert any(c.themes for c in data2.chunks if c.source == cumbria)


def test_removed_file_drops_its_records(small_corpus: Path, tmp_path: Path) -> None:
    settings = Settings(corpus=small_corpus, index=tmp_path / "index")
    ingest(settings)
    (small_corpus / "cumbria-lessons-from-scrs.txt").unlink()
    report = ingest(settings)
    assert [f.status for f in report.files if f.source.startswith("cumbria")] == ["removed"]
    data = open_index(settings.index)
    assert not [c for c in data.chunks if c.source.startswith("cumbria")]
    assert set(data.manifest.sources) == {"nspcc-repository-march-2022.txt"}


def test_interrupted_write_leaves_the_old_index(index_copy: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    before = current_generation(index_copy.index)
    old_count = len(open_index(index_copy.index).chunks)
    extra = index_copy.corpus  # the shared corpus must not change: point at a private copy
    corpus = index_copy.index.parent / "corpus"
    shutil.copytree(extra, corpus)
    (corpus / "new.txt").write_text(
        "Learning: information about fathers was not shared between agencies.\n", encoding="utf-8"
    )
    settings = replace(index_copy, corpus=corpus)

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError("disk full (simulated)")

    monkeypatch.setattr("rag.lexical.save_bm25", boom)  # write_generation imports it from there when it writes
    with pytest.raises(OSError):
        ingest(settings)
    assert current_generation(settings.index) == before
    assert len(open_index(settings.index).chunks) == old_count


def test_manifest_records_model_chunker_and_sources(built_index: Settings) -> None:
    manifest = open_index(built_index.index).manifest
    assert manifest.model.name == "all-MiniLM-L6-v2"
    assert manifest.model.sha256 == "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
    assert manifest.model.dim == 384
    assert manifest.chunker == built_index.chunker_config()
    assert len(manifest.sources) == 5
    for rel, info in manifest.sources.items():
        import hashlib

        assert info.sha256 == hashlib.sha256((built_index.corpus / rel).read_bytes()).hexdigest()
    assert set(manifest.files) >= {
        "vectors.faiss",
        "sentences.faiss",
        "chunks.jsonl",
        "reviews.jsonl",
        "sources.jsonl",
    }


def test_other_model_name_is_refused_naming_both(built_index: Settings) -> None:
    with pytest.raises(IndexMismatch) as e:
        open_index(built_index.index, model_name="bge-small-en-v1.5")
    assert "all-MiniLM-L6-v2 (384-d)" in str(e.value) and "bge-small-en-v1.5" in str(e.value)
    with pytest.raises(IndexMismatch):
        ingest(replace(built_index, model="bge-small-en-v1.5"))


def test_real_model_of_another_dimension_is_refused(tmp_path: Path) -> None:
    """A real sentence-transformers model folder (MiniLM + a 128-d projection) against a 384-d index."""
    from sentence_transformers import SentenceTransformer, models

    from rag.embed import bundled_model_path
    from rag.retrieve import Retriever

    base = SentenceTransformer(str(bundled_model_path()), device="cpu")
    dense = models.Dense(in_features=384, out_features=128)
    small = SentenceTransformer(modules=[*base, dense], device="cpu")
    folder = tmp_path / "minilm-128"
    small.save(str(folder))
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Learning: professionals should involve fathers in assessments.\n", encoding="utf-8")
    settings = Settings(corpus=corpus, index=tmp_path / "index")
    ingest(settings)
    other = replace(settings, model=str(folder))
    with pytest.raises(IndexMismatch) as e:
        ingest(other)
    assert str(folder) in str(e.value) and "all-MiniLM-L6-v2" in str(e.value)
    # The same folder built into its own index works, and the 384-d model is then refused there.
    built = ingest(replace(other, index=tmp_path / "index128"))
    assert json.loads((tmp_path / "index128" / built.generation / "manifest.json").read_text())["model"]["dim"] == 128
    with pytest.raises(IndexMismatch) as e:
        Retriever(replace(settings, index=tmp_path / "index128")).search("fathers")
    assert "128-d" in str(e.value)
