"""The benchmark's helpers on tiny inputs: percentile and recall math, synthetic data, the table (no timings)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests_support import load_eval_script

bench = load_eval_script("bench")
workers = load_eval_script("bench_workers")


def test_percentile_interpolates_between_closest_ranks() -> None:
    # Sorted 1 2 3 4: p50 sits halfway between the 2nd and 3rd values, p25 a quarter of the way from the 1st to the 2nd.
    values = [4.0, 1.0, 3.0, 2.0]
    assert [workers.percentile(values, p) for p in (0, 25, 50, 100)] == [1.0, 1.75, 2.5, 4.0]
    assert workers.percentile([10.0, 20.0], 95) == pytest.approx(19.5)
    assert workers.percentile([5.0], 95) == 5.0
    assert values == [4.0, 1.0, 3.0, 2.0]  # the caller's list is not sorted in place
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


def test_tutorial_splitter_reads_the_text_files_in_order_and_keeps_every_paragraph(tmp_path: Path) -> None:
    tutorial = load_eval_script("tutorial_stack")
    paragraphs = [f"Paragraph {i} about fathers and the voice of the child. " * 6 for i in range(12)]
    (tmp_path / "b.txt").write_text("\n\n".join(paragraphs), encoding="utf-8")
    (tmp_path / "a.txt").write_text("A short file.", encoding="utf-8")
    (tmp_path / "c.md").write_text("Not read: the tutorial takes .txt only.", encoding="utf-8")
    chunks = tutorial.split(tmp_path)
    assert [c["source"] for c in chunks] == ["a.txt"] + ["b.txt"] * (len(chunks) - 1)
    assert chunks[0]["text"] == "A short file."
    b_text = "\n\n".join(paragraphs)
    assert all(c["text"] in b_text and len(c["text"]) <= tutorial.CHUNK_SIZE for c in chunks[1:])
    assert all(any(p.strip() in c["text"] for c in chunks[1:]) for p in paragraphs)


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
        "tutorial_ingest": [{"ingest_s": 30.0, "encode_s": 25.0, "chunks": 277, "maxrss_mb": 700.0}] * 2,
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


def _row(res: dict[str, Any], start: str) -> Any:
    rows = [r for r in bench.table_rows(res) if r.metric.strip().startswith(start)]
    assert len(rows) == 1, [r.metric for r in bench.table_rows(res)]
    return rows[0]


def test_ingest_rows_are_computed_from_the_measurements() -> None:
    res = _results()
    ingest = _row(res, "ingest into a fresh index")
    # Medians: pipeline 40 and 42 s → 41 s; tutorial 30 s.
    assert (ingest.pipeline, ingest.tutorial, ingest.ratio, ingest.result) == ("41.0", "30.0", "1.37×", "PASS")
    texts = _row(res, "texts embedded")
    assert (texts.pipeline, texts.tutorial, texts.ratio) == ("1,400", "277", "5.05×")
    rate = _row(res, "embedding stage in ingest, texts/s")  # 1,400 texts in 20 s; 277 in 25 s
    assert (rate.pipeline, rate.tutorial) == ("70.0", "11.1")
    tokens = _row(res, "embedding stage in ingest, model tokens/s")  # 53,000 in 20 s; 35,000 in 25 s
    assert (tokens.pipeline, tokens.tutorial) == ("2,650", "1,400")
    # Best of two rounds: ingest's calls 1,400 / 20 s = 70/s against raw 1,400 / 19 s = 73.7/s → 95 %.
    replay = _row(res, "embedding: ingest's calls replayed")
    assert (replay.pipeline, replay.tutorial, replay.ratio, replay.result) == ("70.0", "raw encode 73.7", "95%", "PASS")
    assert _row(res, "tutorial's encode of its own chunks").tutorial == "27.7 (3,500 tok/s)"
    again = _row(res, "unchanged re-ingest")
    assert (again.pipeline, again.tutorial, again.ratio) == ("0.80 (0 embedded)", "full rebuild 30.0", "0.03×")
    assert again.target == "embeds 0, ≤ start-up (0.20 s) + 1 s" and again.result == "PASS"
    assert _row(res, "same, second ingest()").pipeline == "50 ms"
    assert _row(res, "peak RSS, ingest process").pipeline == "810"  # the larger of the two runs


def test_query_rows_are_computed_from_the_measurements() -> None:
    res = _results()
    search = _row(res, "warm search p50 / p95")
    assert (search.pipeline, search.tutorial, search.ratio) == ("10.0 / 20.0", "6.0 / 8.0", "1.67×")
    cold = _row(res, "cold start")  # medians of 5, 6, 7 s and 6, 6, 6 s
    assert (cold.pipeline, cold.tutorial, cold.ratio, cold.result) == ("6.00", "6.00", "1.00×", "PASS")


def test_scale_rows_are_computed_from_the_measurements() -> None:
    res = _results()
    # 2,000 chunks in 60 s and 1,100 sentences in 11 s: 100,000 chunks take 50 min, 350,000 sentences 58.3 min.
    real = _row(res, "scale: real embedding rate")
    assert (real.pipeline, real.target) == ("33.3; 100 sentences/s", "info: all of it for real ≈ 108 min")
    build = _row(res, "scale: index build")
    assert build.pipeline == "1,000 (100 s)"
    assert build.target == "info: vectors 60 s, sentences 5 s, bm25 20 s, files + checksums 15 s"
    disk = _row(res, "scale: index on disk")
    assert disk.pipeline == "790" and disk.target == "info: sentences.faiss 540, vectors.faiss 170, chunks.jsonl 80"
    assert _row(res, "scale: open index + first query").pipeline == "3.0 + 5.0"
    assert _row(res, "scale: synthetic chunks").target == "info: HNSW M=32 efC=80 efSearch=128"
    assert _row(res, "scale: peak RSS").pipeline == "2,000 / 1,500"


def _with(res: dict[str, Any], *path_and_value: Any) -> dict[str, Any]:
    *path, key, value = path_and_value
    node = res
    for step in path:
        node = node[step]
    node[key] = value
    return res


@pytest.mark.parametrize(
    ("change", "row", "result"),
    [
        # Ingest may take up to 1.5× the tutorial's time: 45 s against 30 s passes, 45.2 s does not.
        (("pipeline_ingest", [{**_results()["pipeline_ingest"][0], "ingest_s": 45.0}]), "ingest into", "PASS"),
        (("pipeline_ingest", [{**_results()["pipeline_ingest"][0], "ingest_s": 45.2}]), "ingest into", "FAIL"),
        # Embedding through ingest must keep 85 % of a raw encode's rate (ingest's calls took 20 s at best):
        # a raw encode in 17.2 s leaves it 86 %, in 16.8 s 84 %.
        (("throughput", "seconds", "raw", [17.2, 18.0]), "embedding: ingest's", "PASS"),
        (("throughput", "seconds", "raw", [16.8, 18.0]), "embedding: ingest's", "FAIL"),
        # An unchanged re-ingest embeds nothing, changes nothing, and takes at most start-up + 1 s.
        (("reingest_cli", "embedded", 1), "unchanged re-ingest", "FAIL"),
        (("reingest_cli", "changed", True), "unchanged re-ingest", "FAIL"),
        (("reingest_cli", "reingest", "wall_s", [1.2, 1.2, 1.3]), "unchanged re-ingest", "PASS"),
        (("reingest_cli", "reingest", "wall_s", [1.3, 1.3, 0.1]), "unchanged re-ingest", "FAIL"),
        # Search p50 may be 2.5× the tutorial's (6 ms): 15 ms passes, 15.1 ms does not.
        (("latency", "search", {"n": 127, "p50": 15.0, "p95": 20.0, "mean": 15.0}), "warm search p50", "PASS"),
        (("latency", "search", {"n": 127, "p50": 15.1, "p95": 20.0, "mean": 15.0}), "warm search p50", "FAIL"),
        (("latency", "ask", {"n": 127, "p50": 100.0, "p95": 150.1, "mean": 100.0}), "warm ask", "FAIL"),
        # Cold start no slower than the tutorial's median.
        (("cold", "pipeline", "wall_s", [6.1, 6.1, 1.0]), "cold start", "FAIL"),
        # The 60 ms p95 target is for 100,000 chunks; a smaller scale test has no verdict.
        (("scale", "build", "n", 20_000), "scale: warm search", "n/a (< 100k)"),
        (("scale", "serve", "recall_hnsw", 0.949), "scale: HNSW recall", "FAIL"),
    ],
)
def test_each_verdict_follows_its_target(change: tuple[Any, ...], row: str, result: str) -> None:
    assert _row(_with(_results(), *change), row).result == result


def test_a_forced_hnsw_scale_test_says_so() -> None:
    res = _with(_results(), "scale", "forced_hnsw", True)
    assert _row(res, "scale: synthetic chunks").target.endswith("(forced below the threshold)")
