"""The benchmark's helpers on tiny inputs: percentile and recall math, synthetic data, the table (no timings)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(name, ROOT / "eval" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


bench = _load("bench")
workers = _load("bench_workers")


def test_percentile_matches_numpy_linear_interpolation() -> None:
    values = [7.0, 1.0, 3.0, 10.0, 2.0, 4.0]
    for p in (0, 25, 50, 90, 95, 100):
        assert workers.percentile(values, p) == pytest.approx(float(np.percentile(values, p)))
    assert workers.percentile([5.0], 95) == 5.0
    with pytest.raises(ValueError):
        workers.percentile([], 50)


def test_latency_summary() -> None:
    lat = workers.Latency.of([float(i) for i in range(1, 101)])
    assert (lat.n, lat.p50, lat.mean) == (100, 50.5, 50.5)
    assert lat.p95 == pytest.approx(95.05)


def test_recall_at_k_known_cases() -> None:
    exact = [[1, 2, 3, 4], [5, 6, 7, 8]]
    assert workers.recall_at_k(exact, exact, 4) == 1.0
    # Query 1 finds 3 of 4 (order does not matter), query 2 finds 1 of 4 and pads with -1.
    approx = [[4, 3, 2, 9], [8, -1, -1, -1]]
    assert workers.recall_at_k(approx, exact, 4) == pytest.approx((3 / 4 + 1 / 4) / 2)
    # Only the top k of each list counts.
    assert workers.recall_at_k([[1, 9, 2]], [[1, 2, 3]], 2) == 0.5
    with pytest.raises(ValueError):
        workers.recall_at_k([[1]], [[1], [2]], 1)


def test_recall_of_faiss_hnsw_against_flat_is_near_one_on_easy_data() -> None:
    import faiss

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2000, 32)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    flat = faiss.IndexFlatIP(32)
    flat.add(x)
    hnsw = faiss.IndexHNSWFlat(32, 32, faiss.METRIC_INNER_PRODUCT)
    hnsw.add(x)
    hnsw.hnsw.efSearch = 128
    q = x[:50] + 0.01
    _, exact = flat.search(q, 10)
    _, ann = hnsw.search(q, 10)
    assert workers.recall_at_k(ann.tolist(), exact.tolist(), 10) > 0.9
    assert workers.recall_at_k(exact[:, ::-1].tolist(), exact.tolist(), 10) == 1.0


def test_recombine_is_seeded_and_draws_distinct_sentences() -> None:
    a = workers.recombine(50, 200, seed=7)
    assert a == workers.recombine(50, 200, seed=7)
    assert a != workers.recombine(50, 200, seed=8)
    assert len(a) == 200
    assert all(2 <= len(p) <= 5 and len(set(p)) == len(p) and all(0 <= i < 50 for i in p) for p in a)


def test_mixed_vectors_are_unit_length_deterministic_and_near_their_parents() -> None:
    rng = np.random.default_rng(1)
    base = rng.standard_normal((40, 16)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    parents, weights = workers.mix_plan(40, 25_000, seed=3)
    assert all(0 <= a < 40 and 0 <= b < 40 for a, b in parents) and all(0.3 <= w <= 0.7 for w in weights)
    v = workers.mix_vectors(base, parents, weights, noise=0.1, seed=4)
    assert v.shape == (25_000, 16) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(v, workers.mix_vectors(base, parents, weights, noise=0.1, seed=4))
    a = np.array([p[0] for p in parents])
    to_parent = np.einsum("ij,ij->i", v, base[a])
    to_random = np.einsum("ij,ij->i", v, base[(a + 1) % 40])
    assert to_parent.mean() > to_random.mean() + 0.3


def test_load_queries_tops_up_to_the_minimum(tmp_path: Path) -> None:
    path = tmp_path / "questions.jsonl"
    path.write_text('{"question": "fathers?"}\n{"question": "fathers?"}\n\n{"id": "x"}\n', encoding="utf-8")
    queries, origin = bench.load_queries(path, minimum=50)
    assert queries[0] == "fathers?" and len(queries) == 50 and len(set(queries)) == 50
    assert "1 from" in origin and "49 built-in" in origin
    fallback, origin = bench.load_queries(tmp_path / "missing.jsonl", minimum=50)
    assert len(fallback) == 50 and origin == "50 built-in"
    assert len(bench.FALLBACK_QUERIES) >= 50


def test_render_table_aligns_every_row() -> None:
    rows = [
        bench.Row("ingest, s", "1.0", "2.0", "0.50×", "≤ 1.5× tutorial", bench.verdict(True)),
        bench.Row("info only", "3"),
    ]
    lines = bench.render_table(rows).splitlines()
    assert len(lines) == 4
    assert len({len(line) for line in lines}) == 1
    assert "PASS" in lines[2] and lines[0].startswith("| metric")
    assert [bench.verdict(x) for x in (True, False, None)] == ["PASS", "FAIL", "n/a"]


def test_tutorial_splitter_keeps_chunks_within_1000_characters(tmp_path: Path) -> None:
    tutorial = _load("tutorial_stack")
    (tmp_path / "a.txt").write_text(("Paragraph about fathers. " * 30 + "\n\n") * 10, encoding="utf-8")
    chunks = tutorial.split(tmp_path)
    assert len(chunks) > 5
    assert all(len(c["text"]) <= 1000 and c["source"] == "a.txt" for c in chunks)


def _results(search_p95: float = 20.0, ask: str = "ok") -> dict[str, Any]:
    """A complete, made-up set of measurements in the shape run_benchmark returns."""
    lat = {"n": 127, "p50": 10.0, "p95": search_p95, "mean": 11.0}
    quick = {"n": 127, "p50": 6.0, "p95": 8.0, "mean": 6.5}
    ingest = {"ingest_s": 40.0, "embed_s": 20.0, "texts": 1400, "chunks": 418, "reviews": 109, "embedded": 418}
    ingest |= {"reingest_s": 0.05, "reingest_embedded": 0, "reingest_texts": 0, "reingest_changed": False}
    return {
        "machine": {"cpu": "Test CPU", "usable_cores": 2, "ram_gib": 8.0, "python": "3.11", "versions": {}}
        | {
            "versions": dict.fromkeys(
                ("torch", "sentence-transformers", "faiss-cpu", "bm25s", "langchain-text-splitters"), "1"
            )
        },
        "loadavg_start": (0.5, 0.5, 0.5),
        "loadavg_end": (1.0, 1.0, 1.0),
        "queries": 127,
        "queries_from": "127 from eval/questions.jsonl",
        "corpus": {"files": 5, "kb": 174.0},
        "encoder_export_s": 4.0,
        "pipeline_ingest": [ingest | {"maxrss_mb": 800.0}, ingest | {"ingest_s": 42.0, "maxrss_mb": 810.0}],
        "tutorial_ingest": [{"ingest_s": 30.0, "encode_s": 20.0, "chunks": 277, "maxrss_mb": 700.0}] * 2,
        "throughput": {
            "seconds": {"pipeline": [20.0, 21.0], "raw": [19.0, 19.5], "tutorial": [10.0, 10.0]},
            "n": {"pipeline": 1400, "raw": 1400, "tutorial": 277},
            "tokens": {"pipeline": 53000, "tutorial": 35000},
            "mean_tokens": {"pipeline": 38.0, "tutorial": 125.0},
            "truncated": {"pipeline": 0, "tutorial": 0},
            "max_seq_length": 256,
        },
        "latency": {"search": lat, "dense": quick, "tutorial": quick, "ask": lat, "ask_status": ask},
        "cold": {
            "pipeline": {"wall_s": [5.0, 6.0, 7.0], "maxrss_mb": 500.0},
            "tutorial": {"wall_s": [6.0] * 3, "maxrss_mb": 450.0},
        },
        "reingest_cli": {
            "reingest": {"wall_s": [0.8] * 3},
            "startup": {"wall_s": [0.2] * 3},
            "embedded": 0,
            "changed": False,
        },
        "scale": {
            "build": {
                "n": 100_000,
                "reviews": 25_000,
                "n_real": 2000,
                "embed_s": 60.0,
                "pool_sentences": 1100,
                "sentence_vectors": 350_000,
                "sentence_embed_s": 11.0,
                "build_s": 100.0,
                "parts": {"faiss": [60.0, 5.0], "bm25": [20.0]},
                "faiss": {"type": "hnsw", "M": 32, "efConstruction": 80},
                "files": {"vectors.faiss": 170 * 2**20, "sentences.faiss": 540 * 2**20, "chunks.jsonl": 80 * 2**20},
                "recall_queries": 327,
                "maxrss_mb": 2000.0,
            },
            "serve": {
                "open_s": 3.0,
                "first_query_s": 8.0,
                "search": lat | {"p95": 70.0},
                "recall_hnsw": 0.97,
                "recall_pool": 0.999,
                "pool": 400,
                "ef_search": 128,
                "maxrss_mb": 1500.0,
            },
            "forced_hnsw": False,
        },
    }


def test_table_has_a_verdict_for_every_target() -> None:
    rows = {r.metric.strip(): r for r in bench.table_rows(_results())}
    verdicts = {m: r.result for m, r in rows.items() if r.target and not r.target.startswith("info")}
    assert set(verdicts.values()) <= {"PASS", "FAIL"}
    assert len(verdicts) == 9  # ingest, embedding, re-ingest, search ×2, ask, cold start, scale p95, recall
    by_start = {m.split(",")[0]: v for m, v in verdicts.items()}
    assert by_start["ingest into a fresh index"] == "PASS"  # 41 s median vs 30 s: 1.37×
    assert by_start["warm search p95"] == "PASS" and by_start["warm ask p50 / p95"] == "PASS"
    assert by_start["cold start"] == "PASS"  # 6.0 s median vs 6.0 s
    assert by_start["scale: warm search p50 / p95"] == "FAIL"  # 70 ms p95 at 100k
    assert by_start["scale: HNSW recall@10 vs exact flat search (327 queries)"] == "PASS"


def test_table_marks_slow_search_and_a_missing_answer_module() -> None:
    rows = bench.table_rows(_results(search_p95=30.0, ask="missing"))
    p95 = next(r for r in rows if r.metric.strip().startswith("warm search p95"))
    assert p95.result == "FAIL"
    ask = next(r for r in rows if r.metric.startswith("warm ask"))
    assert ask.pipeline == "n/a (rag.answer missing)" and ask.result == "n/a"


def test_report_names_the_machine_and_explains_the_synthetic_vectors() -> None:
    text = bench.report(_results(), "python eval/bench.py")
    assert "Test CPU, 2 cores, 8.0 GiB RAM" in text
    assert "WARNING" not in text
    changed = bench.report(_results() | {"code_changed": True, "cpu_pressure": 0.42}, "python eval/bench.py")
    assert "WARNING: rag/ changed" in changed and "42% of the run" in changed
    assert "98,000 chunk vectors are seeded mixtures" in text
    assert text.count("| ") > 20
