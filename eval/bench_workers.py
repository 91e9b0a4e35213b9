"""The benchmark's measurements, each run by eval/bench.py in a child process of its own, and the math they use.

python eval/bench_workers.py WORKER PARAMS.json OUT.json
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# ---- statistics and synthetic data (pure; tested in tests/test_bench.py) ------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0–100) by linear interpolation between closest ranks (NumPy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    xs = sorted(values)
    pos = (len(xs) - 1) * p / 100.0
    lo = math.floor(pos)
    hi = math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


@dataclass(frozen=True)
class Latency:
    n: int
    p50: float
    p95: float
    mean: float

    @classmethod
    def of(cls, ms: Sequence[float]) -> Latency:
        return cls(len(ms), percentile(ms, 50), percentile(ms, 95), statistics.fmean(ms))


def recall_at_k(approx: Sequence[Sequence[int]], exact: Sequence[Sequence[int]], k: int) -> float:
    """Mean share of the exact top k that the approximate search also returned (ids < 0 are padding)."""
    if len(approx) != len(exact) or not exact:
        raise ValueError("need one approximate and one exact result list per query")
    total = 0.0
    for a, e in zip(approx, exact, strict=True):
        truth = {int(i) for i in list(e)[:k] if int(i) >= 0}
        found = {int(i) for i in list(a)[:k] if int(i) >= 0}
        total += len(truth & found) / len(truth) if truth else 1.0
    return total / len(exact)


def recombine(n_sentences: int, n: int, seed: int, lo: int = 2, hi: int = 5) -> list[list[int]]:
    """n synthetic chunks, each a seeded draw of lo..hi distinct sentence indices."""
    rng = random.Random(seed)
    pool = range(n_sentences)
    return [rng.sample(pool, min(n_sentences, rng.randint(lo, hi))) for _ in range(n)]


def mix_plan(n_base: int, n: int, seed: int) -> tuple[list[tuple[int, int]], list[float]]:
    """For each of n derived chunks, two parent rows in [0, n_base) and the first parent's weight."""
    rng = random.Random(seed)
    parents = [(rng.randrange(n_base), rng.randrange(n_base)) for _ in range(n)]
    weights = [rng.uniform(0.3, 0.7) for _ in range(n)]
    return parents, weights


def mix_vectors(
    base: Any, parents: Sequence[tuple[int, int]], weights: Sequence[float], noise: float, seed: int
) -> Any:
    """Unit vectors w·a + (1−w)·b + noise for each parent pair, built in blocks to bound memory."""
    import numpy as np

    rng = np.random.default_rng(seed)
    dim = base.shape[1]
    out = np.empty((len(parents), dim), dtype=np.float32)
    p = np.asarray(parents, dtype=np.int64).reshape(-1, 2)
    w = np.asarray(weights, dtype=np.float32).reshape(-1, 1)
    for s in range(0, len(p), 10_000):
        e = min(len(p), s + 10_000)
        v = w[s:e] * base[p[s:e, 0]] + (1 - w[s:e]) * base[p[s:e, 1]]
        v += rng.standard_normal(v.shape).astype(np.float32) * (noise / math.sqrt(dim))
        out[s:e] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


# ---- workers ------------------------------------------------------------------------------------------


def _worker_pipeline_ingest(p: dict[str, Any]) -> dict[str, Any]:
    """A fresh ingest, then an unchanged one; every embed_batch call is recorded for the throughput replay."""
    t0 = time.perf_counter()
    import rag.embed
    from rag.ingest import ingest
    from rag.settings import Settings

    calls: list[tuple[list[str], dict[str, Any]]] = []
    original = rag.embed.SentenceTransformerEmbedder.embed_batch

    def recording(self: Any, texts: list[str], *args: Any, **kwargs: Any) -> Any:
        if args:
            kwargs["batch_size"] = args[0]
        calls.append((list(texts), kwargs))
        return original(self, texts, **kwargs)

    rag.embed.SentenceTransformerEmbedder.embed_batch = recording  # type: ignore[method-assign]
    settings = Settings(corpus=Path(p["corpus"]), index=Path(p["index"]))
    marks: dict[str, float] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "embedding":
            marks.setdefault("start", time.perf_counter())
            marks["end"] = time.perf_counter()

    report = ingest(settings, progress=progress)
    ingest_s = time.perf_counter() - t0
    n_texts = sum(len(texts) for texts, _ in calls)
    t1 = time.perf_counter()
    again = ingest(settings)
    reingest_s = time.perf_counter() - t1
    if p.get("record"):
        Path(p["record"]).write_text(json.dumps(calls), encoding="utf-8")
    return {
        "ingest_s": ingest_s,
        "embed_s": marks["end"] - marks["start"],
        "texts": n_texts,
        "chunks": report.totals["chunks"],
        "reviews": report.totals["reviews"],
        "embedded": report.embedded,
        "reingest_s": reingest_s,
        "reingest_embedded": again.embedded,
        "reingest_texts": sum(len(texts) for texts, _ in calls) - n_texts,
        "reingest_changed": again.changed,
    }


def _worker_tutorial_ingest(p: dict[str, Any]) -> dict[str, Any]:
    from tutorial_stack import build

    return build(Path(p["corpus"]), Path(p["dir"]))


def _worker_throughput(p: dict[str, Any]) -> dict[str, Any]:
    """Ingest's embed_batch calls replayed as recorded vs one raw encode of the same texts, interleaved."""
    from tutorial_stack import load_model

    from rag.embed import load_embedder

    calls = [(list(texts), dict(kwargs)) for texts, kwargs in json.loads(Path(p["record"]).read_text(encoding="utf-8"))]
    texts = [t for batch, _ in calls for t in batch]
    tut_texts = [c["text"] for c in json.loads((Path(p["tutorial_dir"]) / "chunks.json").read_text(encoding="utf-8"))]
    embedder = load_embedder(p["model"], verify=False)
    model = load_model()  # the same weights, used the way the tutorial (and the hardware's limit) uses them

    def pipeline() -> None:
        for batch, kwargs in calls:
            embedder.embed_batch(batch, **kwargs)

    def raw() -> None:
        model.encode(texts, convert_to_numpy=True, show_progress_bar=False)

    def tutorial() -> None:
        model.encode(tut_texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)

    model.encode(texts[:64], show_progress_bar=False)  # warm the thread pool and allocator
    embedder.embed_batch(texts[:64])
    runs: dict[str, list[float]] = {"pipeline": [], "raw": [], "tutorial": []}
    fns: dict[str, Callable[[], None]] = {"pipeline": pipeline, "raw": raw, "tutorial": tutorial}
    for r in range(p["rounds"]):
        for name in ("pipeline", "raw", "tutorial") if r % 2 == 0 else ("tutorial", "raw", "pipeline"):
            t = time.perf_counter()
            fns[name]()
            runs[name].append(time.perf_counter() - t)
    tok = model.tokenizer
    cap = int(model.max_seq_length)

    def lengths(xs: list[str]) -> list[int]:
        return [len(tok(x, add_special_tokens=True, truncation=False)["input_ids"]) for x in xs]

    lp, lt = lengths(texts), lengths(tut_texts)
    return {
        "seconds": runs,
        "n": {"pipeline": len(texts), "raw": len(texts), "tutorial": len(tut_texts)},
        "calls": len(calls),
        "tokens": {"pipeline": sum(min(n, cap) for n in lp), "tutorial": sum(min(n, cap) for n in lt)},
        "mean_tokens": {"pipeline": statistics.fmean(lp), "tutorial": statistics.fmean(lt)},
        "truncated": {"pipeline": sum(n > cap for n in lp), "tutorial": sum(n > cap for n in lt)},
        "max_seq_length": cap,
    }


# Warm-up queries are not among the measured ones: Retriever caches query vectors, and a measured
# query must be embedded as a user's new question would be.
WARM_UP = ("warm-up: parental neglect and poor home conditions", "warm-up: injuries to a baby", "warm-up: schools")


def _worker_latency(p: dict[str, Any]) -> dict[str, Any]:
    """Warm per-query latency, pipeline and tutorial interleaved query by query."""
    from tutorial_stack import TutorialStack

    from rag.retrieve import Retriever
    from rag.settings import Settings

    settings = Settings(index=Path(p["index"]))
    hybrid = Retriever(settings)
    # One retriever per measured path, sharing the loaded index, so that no path finds the query in another's cache.
    dense, asker = Retriever(settings, hybrid.data), Retriever(settings, hybrid.data)
    tut = TutorialStack(Path(p["tutorial_dir"]))
    try:
        from rag.answer import answer
    except ImportError:
        answer = None
    for q in WARM_UP:
        hybrid.search(q, k=10, mode="hybrid")
        dense.search(q, k=10, mode="dense")
        tut.search(q, 10)
    ask_error = None
    if answer is not None:
        try:
            for q in WARM_UP:
                answer(asker, q)
        except Exception as e:
            ask_error = f"{type(e).__name__}: {e}"[:80]
    ms: dict[str, list[float]] = {"search": [], "dense": [], "tutorial": [], "ask": []}
    for q in p["queries"]:
        t = time.perf_counter()
        hybrid.search(q, k=10, mode="hybrid")
        ms["search"].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        tut.search(q, 10)
        ms["tutorial"].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        dense.search(q, k=10, mode="dense")
        ms["dense"].append((time.perf_counter() - t) * 1000)
        if answer is not None and ask_error is None:
            t = time.perf_counter()
            answer(asker, q)
            ms["ask"].append((time.perf_counter() - t) * 1000)
    out: dict[str, Any] = {k: asdict(Latency.of(v)) for k, v in ms.items() if v}
    out["ask_status"] = "missing" if answer is None else (ask_error or "ok")
    return out


def _worker_scale_build(p: dict[str, Any]) -> dict[str, Any]:
    """Synthetic corpus of n chunks → a real index generation through rag.store.write_generation.

    Chunk texts are seeded draws of real sentences. The first n_real chunks and every distinct sentence
    are embedded with the real model; the other chunk vectors are mixtures of two embedded parents.
    """
    import dataclasses
    import inspect

    import faiss
    import numpy as np

    import rag.lexical
    import rag.store
    from rag.chunk import sentence_spans
    from rag.embed import load_embedder
    from rag.models import Chunk, Review, SourceText
    from rag.settings import Settings

    n, n_real, seed = p["n"], p["n_real"], p["seed"]
    data = rag.store.open_index(Path(p["source_index"]))
    pool = {c.text[s:e] for c in data.chunks for s, e in sentence_spans(c.text, 0, len(c.text)) if e - s >= 20}
    sentences = sorted(pool)
    picks = recombine(len(sentences), n_real + p["n_heldout"], seed)
    parents, weights = mix_plan(n_real, n - n_real, seed + 1)
    for a, b in parents:  # a derived chunk's text is half of each parent's, as its vector is a mix of theirs
        pa, pb = picks[a], picks[b]
        picks.append(pa[: max(1, len(pa) // 2)] + pb[len(pb) // 2 :])
    heldout = picks[n_real : n_real + p["n_heldout"]]
    del picks[n_real : n_real + p["n_heldout"]]

    # Chunks keep sentence offsets (and the index sentence vectors) when this version of rag has them.
    with_sentences = "sentences" in {f.name for f in dataclasses.fields(Chunk)} and (
        "sentence_vectors" in inspect.signature(rag.store.write_generation).parameters
    )
    real_reviews = list(data.reviews.values())
    reviews: list[Review] = []
    chunks: list[Chunk] = []
    texts: list[str] = []
    for i, pick in enumerate(picks):
        spans, pos = [], 0
        for j in pick:
            spans.append((pos, pos + len(sentences[j])))
            pos += len(sentences[j]) + 1
        text = " ".join(sentences[j] for j in pick)
        texts.append(text)
        if i % 4 == 0:  # about as many chunks per review as the real corpus has
            r = real_reviews[(i // 4) % len(real_reviews)]
            reviews.append(Review(**{**r.__dict__, "id": f"{r.id}~{i // 4}", "source": "synthetic", "sections": ()}))
        r = reviews[-1]
        fields: dict[str, Any] = {
            "id": f"{r.id}#{i % 4}",
            "review_id": r.id,
            "section": data.chunks[i % len(data.chunks)].section,
            "source": "synthetic",
            "start": 0,
            "end": len(text),
            "text": text,
            "page": None,
            "title": r.title,
            "year": r.year,
            "area": r.area,
            "type": r.type,
            "keywords": r.keywords,
        }
        if with_sentences:
            fields["sentences"] = tuple(spans)
        chunks.append(Chunk(**fields))

    # Verified, so that the manifest names the weights and search can use their ONNX query encoder.
    embedder = load_embedder(data.manifest.model.name)
    embedder.embed_batch(texts[:64])
    t = time.perf_counter()
    base = np.vstack([embedder.embed_batch(texts[s : min(s + 128, n_real)]) for s in range(0, n_real, 128)])
    embed_s = time.perf_counter() - t
    vectors = np.vstack([base, mix_vectors(base, parents, weights, noise=0.1, seed=seed + 2)])
    extra: dict[str, Any] = {}
    sentence_s = 0.0
    if with_sentences:
        t = time.perf_counter()
        pool_vectors = np.vstack([embedder.embed_batch(sentences[s : s + 128]) for s in range(0, len(sentences), 128)])
        sentence_s = time.perf_counter() - t
        rows = [j for pick in picks if len(pick) > 1 for j in pick]
        extra["sentence_vectors"] = pool_vectors[rows]

    # Time the heavy parts of write_generation by wrapping them (the library is not changed).
    parts: dict[str, list[float]] = {}

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*a: Any, **kw: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                parts.setdefault(name, []).append(time.perf_counter() - t)

        return wrapper

    rag.store._write_faiss = timed("faiss", rag.store._write_faiss)  # type: ignore[assignment]
    rag.lexical.save_bm25 = timed("bm25", rag.lexical.save_bm25)  # type: ignore[assignment]
    model_info = rag.store.ModelInfo(embedder.name, embedder.weights_sha256, embedder.dim, embedder.max_tokens)
    # Every chunk and review names a source the index holds; the synthetic one has no text of its own.
    synthetic = SourceText("synthetic", "", hashlib.sha256(b"").hexdigest(), "txt")
    t = time.perf_counter()
    gen = rag.store.write_generation(
        Path(p["index"]),
        model_info,
        Settings().chunker_config(),
        chunks,
        vectors,
        reviews,
        [synthetic],
        p["hnsw_threshold"],
        **extra,
    )
    build_s = time.perf_counter() - t
    files = {str(f.relative_to(gen)): f.stat().st_size for f in gen.rglob("*") if f.is_file()}

    # Ground truth for recall: exact inner-product search over the same vectors.
    qtexts = list(p["queries"]) + [" ".join(sentences[i] for i in pick) for pick in heldout]
    qv = embedder.embed_batch(qtexts)
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    _, exact = flat.search(qv, 10)
    np.save(Path(p["work"]) / "recall_queries.npy", qv)
    np.save(Path(p["work"]) / "recall_exact.npy", exact)
    return {
        "n": len(chunks),
        "reviews": len(reviews),
        "n_real": n_real,
        "embed_s": embed_s,
        "pool_sentences": len(sentences) if with_sentences else 0,
        "sentence_vectors": len(extra["sentence_vectors"]) if with_sentences else 0,
        "sentence_embed_s": sentence_s,
        "build_s": build_s,
        "parts": parts,
        "files": files,
        "faiss": json.loads((gen / "manifest.json").read_text(encoding="utf-8"))["faiss"],
        "recall_queries": len(qtexts),
    }


def _worker_scale_serve(p: dict[str, Any]) -> dict[str, Any]:
    """Open the big index as `rla search` would, then warm latency and HNSW recall against flat search."""
    t0 = time.perf_counter()
    import numpy as np

    from rag.retrieve import Retriever
    from rag.settings import Settings

    settings = Settings(index=Path(p["index"]))
    retriever = Retriever(settings)
    open_s = time.perf_counter() - t0
    retriever.search(WARM_UP[0], k=10, mode="hybrid")
    first_s = time.perf_counter() - t0
    ms = []
    for q in p["queries"]:
        t = time.perf_counter()
        retriever.search(q, k=10, mode="hybrid")
        ms.append((time.perf_counter() - t) * 1000)
    qv = np.load(Path(p["work"]) / "recall_queries.npy")
    exact = np.load(Path(p["work"]) / "recall_exact.npy")
    index = retriever.data.faiss_index
    _, ann = index.search(qv, 10)
    # The pipeline's dense path asks HNSW for candidates×4 rows and ranks those; its top 10 is what search uses.
    _, pool = index.search(qv, settings.candidates * 4)
    return {
        "open_s": open_s,
        "first_query_s": first_s,
        "search": asdict(Latency.of(ms)),
        "recall_hnsw": recall_at_k(ann.tolist(), exact.tolist(), 10),
        "recall_pool": recall_at_k(pool[:, :10].tolist(), exact.tolist(), 10),
        "pool": settings.candidates * 4,
        "ef_search": int(index.hnsw.efSearch) if hasattr(index, "hnsw") else None,
    }


WORKERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "pipeline-ingest": _worker_pipeline_ingest,
    "tutorial-ingest": _worker_tutorial_ingest,
    "throughput": _worker_throughput,
    "latency": _worker_latency,
    "scale-build": _worker_scale_build,
    "scale-serve": _worker_scale_serve,
}


# ---- the web app: start-up, and users asking at once (run from eval/bench.py, the app in its own process) ----------


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# /ask's parameters after the question, in order: year_from, year_to, area, review_type, keyword, section, mode, kind,
# theme (api.py).
ASK_DEFAULTS: list[Any] = [None, None, "", "", "", "", "hybrid", "", ""]


def _ask_over_http(conn: Any, question: str, session: str | None = None) -> tuple[float, str | None]:
    """One /ask through Gradio's queue (POST, then read the event stream) on an open `http.client` connection, in
    a session as a page or a gradio_client Client has one, or with none (each call then sets up a session of its
    own): seconds, and an error (None when the answer arrived). The standard library's client rather than httpx:
    the simulated users run on the server's cores, where 16 httpx clients cost 14-18 ms of CPU an answer and these
    ~1 ms, CPU that real users' browsers spend on their own machines (README: "Performance")."""
    t = time.perf_counter()
    body: dict[str, Any] = {"data": [question, *ASK_DEFAULTS]} | ({"session_hash": session} if session else {})
    try:
        conn.request("POST", "/gradio_api/call/ask", json.dumps(body), {"Content-Type": "application/json"})
        r = conn.getresponse()
        posted = r.read()
        if r.status != 200:
            raise RuntimeError(f"POST /gradio_api/call/ask: HTTP {r.status} {posted[:200]!r}")
        conn.request("GET", f"/gradio_api/call/ask/{json.loads(posted)['event_id']}")
        stream = conn.getresponse().read().decode("utf-8", "replace")
    except Exception as e:  # counted, not raised: the load test reports errors
        return time.perf_counter() - t, f"{type(e).__name__}: {e}"
    ok = "event: complete" in stream and '"answer"' in stream
    return time.perf_counter() - t, None if ok else stream[:200]


def _connect(url: str) -> Any:
    """A keep-alive connection to the app at `url` (http://host:port/)."""
    import http.client
    from urllib.parse import urlsplit

    where = urlsplit(url)
    return http.client.HTTPConnection(where.hostname, where.port, timeout=120)


def web_app(index: str, root: str, questions: list[str], users: int = 16, per_user: int = 5) -> dict[str, Any]:
    """`python app.py` on a free port over `index`: seconds from launch to the first page (GET / answered) and to
    the first answer; then `users` simulated users, each asking `per_user` questions one after another, all at
    once (p50 / p95 / errors / answers per second)."""
    import os
    import subprocess
    import tempfile

    import httpx

    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    with tempfile.TemporaryDirectory(prefix="rla-bench-web-") as tmp:
        env = {**os.environ, "RLA_CACHE": os.environ.get("RLA_CACHE", tmp)}
        cmd = [sys.executable, str(Path(root) / "app.py"), "--index", index, "--corpus", tmp, "--port", str(port)]
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            with httpx.Client(timeout=120) as c:
                while True:
                    if proc.poll() is not None:
                        raise RuntimeError(
                            f"app.py exited: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}"
                        )
                    try:
                        if c.get(url).status_code == 200:
                            break
                    except httpx.TransportError:
                        time.sleep(0.05)
                first_page = time.perf_counter() - t0
                warm, runs_qs = split_questions(questions, users * per_user)
                conn = _connect(url)
                seconds, error = _ask_over_http(conn, warm[0])
                first_answer = time.perf_counter() - t0
                if error:
                    raise RuntimeError(f"the first answer failed: {error}")
                for q in warm[1:]:  # warm: the theme vectors, the per-generation caches
                    _ask_over_http(conn, q)
                conn.close()
                _wait_idle(proc.pid)  # whatever the app still starts in the background (answer workers) is done

            runs = {
                name: _users_at_once(url, qs, users, per_user, proc.pid, sessions=name == "sessions")
                for name, qs in zip(("sessions", "no_sessions"), runs_qs, strict=True)
            }
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return {
        "first_page_s": first_page,
        "first_answer_s": first_answer,
        "first_answer_alone_s": seconds,
        "users": users,
        "per_user": per_user,
        **runs["sessions"],
        "no_sessions": runs["no_sessions"],
        "loadavg": os.getloadavg(),
    }


def split_questions(questions: list[str], per_run: int, warm: int = 4) -> tuple[list[str], list[list[str]]]:
    """The warm-up questions, then the questions of each of the two runs: all different from one another as far
    as `questions` allows (a question asked before is partly remembered — its vector, its coverage — so a
    repeat would flatter the server); with too few, each run wraps round its own share."""
    qs = list(dict.fromkeys(questions))
    if not qs:
        raise ValueError("no questions to ask")
    n_warm = min(warm, max(1, len(qs) - 2))
    head, rest = qs[:n_warm], qs[n_warm:] or qs
    half = max(1, min(per_run, len(rest) // 2)) if len(rest) > 1 else 1
    first, second = rest[:half], rest[half : 2 * half] or rest[:half]
    return head, [[q[i % len(q)] for i in range(per_run)] for q in (first, second)]


def _users_at_once(
    url: str, questions: list[str], users: int, per_user: int, pid: int, sessions: bool
) -> dict[str, Any]:
    """`users` threads, each asking `per_user` questions one after another (a session each, or none), all at once."""
    import threading
    import uuid

    results: list[tuple[float, str | None]] = []
    lock = threading.Lock()

    def user(i: int) -> None:
        session = uuid.uuid4().hex if sessions else None
        conn = _connect(url)
        try:
            for j in range(per_user):
                got = _ask_over_http(conn, questions[(i * per_user + j) % len(questions)], session)
                with lock:
                    results.append(got)
        finally:
            conn.close()

    threads = [threading.Thread(target=user, args=(i,)) for i in range(users)]
    cpu, main = _tree_cpu_s(pid), _cpu_s(pid)
    client = time.process_time()
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t
    cpu, main = _tree_cpu_s(pid) - cpu, _cpu_s(pid) - main
    client = time.process_time() - client
    return {
        "distinct_questions": len(set(questions[: users * per_user])),
        "answers": sum(r[1] is None for r in results),
        "errors": [r[1] for r in results if r[1] is not None][:5],
        "error_count": sum(r[1] is not None for r in results),
        "latency": asdict(Latency.of([r[0] * 1000 for r in results])),
        "wall_s": wall,
        # The server's own CPU time per answer (user + system): what the load costs whatever else runs on the machine.
        "server_cpu_ms_per_answer": cpu * 1000 / max(1, len(results)),
        # …of which the server process itself (Gradio, HTTP, rendering; the rest is its answer workers').
        "server_main_cpu_ms_per_answer": main * 1000 / max(1, len(results)),
        # The simulated users' own CPU (this process: HTTP, the event streams), on the same cores as the server.
        "client_cpu_ms_per_answer": client * 1000 / max(1, len(results)),
    }


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far, its ended children's included (Linux /proc)."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _wait_idle(pid: int, most_s: float = 120.0) -> None:
    """Until a process and its children use under 10 % of a core over half a second (or `most_s` passed)."""
    deadline = time.monotonic() + most_s
    while time.monotonic() < deadline:
        before = _tree_cpu_s(pid)
        time.sleep(0.5)
        if _tree_cpu_s(pid) - before < 0.05:
            return


def _tree_cpu_s(pid: int) -> float:
    """CPU seconds of a process and of every process below it (the app's answer workers)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            total += _cpu_s(p)
        except OSError:
            continue
        todo += children.get(p, [])
    return total


def main(argv: list[str]) -> int:
    name, params, out = argv
    result = WORKERS[name](json.loads(Path(params).read_text(encoding="utf-8")))
    Path(out).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
