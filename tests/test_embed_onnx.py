"""The ONNX query encoder: the same vectors as the PyTorch model, never a wrong one, no torch import for search."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import rag.embed as embed_module
from rag.embed import SentenceTransformerEmbedder, load_embedder, load_query_embedder
from rag.embed_onnx import (
    QUANTISED,
    QUANTISED_MIN_COSINE,
    EncoderUnavailable,
    OnnxEncoder,
    encoder_dir,
    export,
    quantise,
)
from rag.errors import IndexMismatch
from rag.ingest import ingest
from rag.retrieve import Retriever
from rag.settings import DEFAULT_MODEL_SHA256, Settings
from rag.store import ModelInfo

ROOT = Path(__file__).resolve().parent.parent


def _questions(n: int = 40) -> list[str]:
    lines = (ROOT / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines[:n]]


@pytest.fixture(scope="module")
def cache_with_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("cache")
    folder = export(load_embedder(), cache)
    assert folder == encoder_dir(cache, DEFAULT_MODEL_SHA256)
    return cache


def test_onnx_vectors_equal_the_pytorch_models(cache_with_encoder: Path) -> None:
    enc = OnnxEncoder.load(encoder_dir(cache_with_encoder, DEFAULT_MODEL_SHA256))
    assert enc is not None
    texts = [*_questions(), "x", "the review " * 400]  # a one-letter text and one the model truncates
    want = load_embedder().embed_batch(texts)
    assert np.abs(enc.embed_batch(texts) - want).max() < 1e-5  # padded batches
    one_by_one = np.stack([enc.embed_batch([t])[0] for t in texts])
    assert np.abs(one_by_one - want).max() < 1e-5


def test_search_through_onnx_ranks_exactly_as_pytorch(built_index: Settings) -> None:
    fast = Retriever(replace(built_index, quantised_queries=False))
    slow = Retriever(replace(built_index, onnx_queries=False))
    assert isinstance(fast.embedder, OnnxEncoder)
    assert isinstance(slow.embedder, SentenceTransformerEmbedder)
    for q in _questions(25):
        assert [h.chunk.id for h in fast.search(q)] == [h.chunk.id for h in slow.search(q)], q


@pytest.mark.parametrize("damage", ["truncate graph", "flip graph bytes", "change probe vector", "no tokenizer"])
def test_a_damaged_encoder_is_ignored_and_pytorch_answers(
    cache_with_encoder: Path, tmp_path: Path, damage: str
) -> None:
    cache = tmp_path / "cache"
    src = encoder_dir(cache_with_encoder, DEFAULT_MODEL_SHA256)
    folder = encoder_dir(cache, DEFAULT_MODEL_SHA256)
    folder.parent.mkdir(parents=True)
    shutil.copytree(src, folder)
    graph = folder / "model.onnx"
    if damage == "truncate graph":
        graph.write_bytes(graph.read_bytes()[: graph.stat().st_size // 2])
    elif damage == "flip graph bytes":  # weights in the middle of the file: it loads, but gives other vectors
        data = bytearray(graph.read_bytes())
        mid = len(data) // 2
        data[mid : mid + 4096] = bytes(b ^ 0x5A for b in data[mid : mid + 4096])
        graph.write_bytes(bytes(data))
    elif damage == "change probe vector":
        meta = json.loads((folder / "encoder.json").read_text(encoding="utf-8"))
        meta["vectors"][0][0] += 0.01
        (folder / "encoder.json").write_text(json.dumps(meta), encoding="utf-8")
    else:
        (folder / "tokenizer.json").unlink()
    assert OnnxEncoder.load(folder) is None
    settings = Settings(cache=cache)
    built = ModelInfo("all-MiniLM-L6-v2", DEFAULT_MODEL_SHA256, 384, 256)
    assert isinstance(load_query_embedder(settings, built), SentenceTransformerEmbedder)


def test_ingest_makes_the_encoder_once_and_reports_it(small_corpus: Path, tmp_path: Path) -> None:
    settings = Settings(corpus=small_corpus, index=tmp_path / "index", cache=tmp_path / "cache")
    report = ingest(settings)
    assert report.query_encoder == "onnxruntime"
    made = encoder_dir(settings.cache, DEFAULT_MODEL_SHA256) / "model.onnx"
    assert made.exists()
    before = made.stat().st_mtime_ns
    again = ingest(settings)
    assert again.query_encoder == "onnxruntime" and not again.changed
    assert made.stat().st_mtime_ns == before  # not made again


def test_ingest_without_a_writable_cache_still_indexes(small_corpus: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be", encoding="utf-8")
    settings = Settings(corpus=small_corpus, index=tmp_path / "index", cache=blocker)
    report = ingest(settings)
    assert report.changed and report.query_encoder.startswith("pytorch (onnx export failed: ")
    hits = Retriever(settings).search("information sharing between agencies", k=3)
    assert len(hits) == 3


def test_search_process_never_imports_torch(built_index: Settings) -> None:
    code = (
        "import sys\n"
        "from rag.cli import main\n"
        f"rc = main(['--index', {str(built_index.index)!r}, 'search', 'fathers', '--k', '3'])\n"
        "assert rc == 0, rc\n"
        "print('torch' in sys.modules, 'sentence_transformers' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False False"
    assert "fathers" in out.stdout.lower()


def test_export_clears_what_a_killed_export_left(cache_with_encoder: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    folder = encoder_dir(cache, DEFAULT_MODEL_SHA256)
    dead = folder.with_name(f"{folder.name}.tmp-999999999")  # no such process
    dead.mkdir(parents=True)
    (dead / "model.onnx").write_bytes(b"half a graph")
    assert export(load_embedder(), cache) == folder
    assert not dead.exists()
    assert OnnxEncoder.load(folder) is not None


# --- the int8 query encoder (Settings.quantised_queries) ------------------------------------------------------------


@pytest.fixture()
def private_cache(cache_with_encoder: Path, tmp_path: Path) -> Path:
    """A cache holding the full export only, and no encoder of it loaded in this process yet."""
    cache = tmp_path / "cache"
    folder = encoder_dir(cache, DEFAULT_MODEL_SHA256)
    folder.mkdir(parents=True)
    for name in ("encoder.json", "model.onnx", "tokenizer.json"):
        shutil.copy(encoder_dir(cache_with_encoder, DEFAULT_MODEL_SHA256) / name, folder / name)
    return cache


BUILT = ModelInfo("all-MiniLM-L6-v2", DEFAULT_MODEL_SHA256, 384, 256)


def _fresh_query_embedder(settings: Settings) -> object:
    embed_module._ONNX.clear()  # as a new process would
    embed_module._UNQUANTISED.clear()
    return load_query_embedder(settings, BUILT)


def test_the_int8_encoder_is_made_once_and_answers_queries_close_to_the_model(private_cache: Path) -> None:
    settings = Settings(cache=private_cache, quantised_queries=True)
    enc = _fresh_query_embedder(settings)
    assert isinstance(enc, OnnxEncoder) and enc.quantised
    made = encoder_dir(private_cache, DEFAULT_MODEL_SHA256) / QUANTISED
    # The layers' weights in int8 (a quarter of their size); the embedding table stays as it was: ~65 % of the size.
    assert made.stat().st_size < 0.7 * (made.parent / "model.onnx").stat().st_size
    before = made.stat().st_mtime_ns
    again = _fresh_query_embedder(settings)
    assert isinstance(again, OnnxEncoder) and again.quantised
    assert made.stat().st_mtime_ns == before  # opened, not made again
    texts = _questions()
    full = OnnxEncoder.open(made.parent).embed_batch(texts)
    got = again.embed_batch(texts)
    cosines = (full * got).sum(axis=1)
    assert cosines.min() >= QUANTISED_MIN_COSINE and cosines.max() < 1 - 1e-6  # close, and really another graph


def test_the_setting_off_uses_the_full_encoder_even_when_the_int8_one_is_there(private_cache: Path) -> None:
    assert isinstance(quantise(encoder_dir(private_cache, DEFAULT_MODEL_SHA256)), OnnxEncoder)
    enc = _fresh_query_embedder(Settings(cache=private_cache, quantised_queries=False))
    assert isinstance(enc, OnnxEncoder) and not enc.quantised


def test_query_threads_sets_the_encoders_threads_and_not_its_vectors(private_cache: Path) -> None:
    """The answer workers' one thread a call (Settings.query_threads) is the session's; the vectors are the same."""
    texts = ["What did reviews say about fathers?", "disguised compliance", "Baby with a bruise who cannot crawl yet"]
    one = _fresh_query_embedder(Settings(cache=private_cache, query_threads=1))
    any_ = _fresh_query_embedder(Settings(cache=private_cache))
    assert isinstance(one, OnnxEncoder) and isinstance(any_, OnnxEncoder) and one is not any_
    assert one._session.get_session_options().intra_op_num_threads == 1
    assert any_._session.get_session_options().intra_op_num_threads == 0
    assert np.abs(one.embed_batch(texts) - any_.embed_batch(texts)).max() < 1e-5


@pytest.mark.parametrize(("value", "on"), [("0", False), ("", False), ("1", True)])
def test_the_environment_sets_quantised_queries(monkeypatch: pytest.MonkeyPatch, value: str, on: bool) -> None:
    monkeypatch.setenv("RLA_QUANTISED_QUERIES", value)
    assert Settings.from_env().quantised_queries is on


def test_when_quantising_fails_queries_use_the_full_encoder_and_the_log_says_why_once(
    private_cache: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import onnxruntime.quantization

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("no quantiser here")

    monkeypatch.setattr(onnxruntime.quantization, "quantize_dynamic", broken)
    settings = Settings(cache=private_cache, quantised_queries=True)
    with caplog.at_level(logging.WARNING, logger="rla"):
        enc = _fresh_query_embedder(settings)
        assert isinstance(enc, OnnxEncoder) and not enc.quantised
        assert load_query_embedder(settings, BUILT) is enc  # the next retriever: no second attempt, no second line
    lines = [r.getMessage() for r in caplog.records if r.name == "rla"]
    assert len(lines) == 1 and "\n" not in lines[0]
    assert "int8" in lines[0] and "no quantiser here" in lines[0]
    folder = encoder_dir(private_cache, DEFAULT_MODEL_SHA256)
    assert sorted(p.name for p in folder.iterdir()) == ["encoder.json", "model.onnx", "tokenizer.json"]  # no debris


@pytest.mark.parametrize("damage", ["flip int8 bytes", "made from another export", "other weights"])
def test_an_int8_encoder_that_does_not_match_is_made_again(private_cache: Path, damage: str) -> None:
    folder = encoder_dir(private_cache, DEFAULT_MODEL_SHA256)
    quantise(folder)
    graph, note = folder / QUANTISED, folder / "int8.json"
    made = json.loads(note.read_text(encoding="utf-8"))
    if damage == "flip int8 bytes":
        data = bytearray(graph.read_bytes())
        mid = len(data) // 2
        data[mid : mid + 4096] = bytes(b ^ 0x5A for b in data[mid : mid + 4096])
        graph.write_bytes(bytes(data))
    elif damage == "made from another export":
        note.write_text(json.dumps({**made, "from_onnx_sha256": "0" * 64}), encoding="utf-8")
    else:
        note.write_text(json.dumps({**made, "weights_sha256": "0" * 64}), encoding="utf-8")
    with pytest.raises(EncoderUnavailable):
        OnnxEncoder.open(folder, quantised=True)
    enc = _fresh_query_embedder(Settings(cache=private_cache, quantised_queries=True))
    assert isinstance(enc, OnnxEncoder) and enc.quantised
    assert json.loads(note.read_text(encoding="utf-8")) == made  # made again from the same export


def test_ingest_makes_the_int8_encoder_when_asked_and_reports_it(small_corpus: Path, tmp_path: Path) -> None:
    settings = Settings(corpus=small_corpus, index=tmp_path / "index", cache=tmp_path / "cache", quantised_queries=True)
    assert ingest(settings).query_encoder == "onnxruntime int8"
    assert (encoder_dir(settings.cache, DEFAULT_MODEL_SHA256) / QUANTISED).exists()
    embed_module._ONNX.clear()
    retriever = Retriever(settings)
    assert isinstance(retriever.embedder, OnnxEncoder) and retriever.embedder.quantised
    assert retriever.search("information sharing between agencies", k=3)
    off = ingest(replace(settings, quantised_queries=False))
    assert off.query_encoder == "onnxruntime"


def test_an_index_of_another_model_is_refused_with_the_int8_encoder_on(built_index: Settings) -> None:
    settings = replace(built_index, model="sentence-transformers/all-mpnet-base-v2", quantised_queries=True)
    with pytest.raises(IndexMismatch, match=r"built with all-MiniLM-L6-v2 \(384-d\) but settings ask for"):
        Retriever(settings).search("fathers")
