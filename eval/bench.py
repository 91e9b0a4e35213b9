"""One table from one run: rla's pipeline against the tutorial stack and the hardware's limit, on this machine.

    .venv/bin/python eval/bench.py           # all of it, 100,000-chunk scale test (≈20 min on a busy 2-core box)
    .venv/bin/python eval/bench.py --quick   # fewer repeats, 20,000-chunk scale test
    .venv/bin/python eval/bench.py --scale 0 --json bench.json

Each side runs in its own child process, so its peak memory (ru_maxrss from wait4) is its own.
Timings that are compared are interleaved (pipeline, tutorial, pipeline, …) and repeated, because
other processes may share the machine; the load average is printed with the table.
The scale test embeds a few thousand synthetic chunks with the real model and makes the rest as
seeded mixtures of those vectors (embedding 100k chunks would take over an hour on a laptop CPU).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
QUESTIONS = HERE / "questions.jsonl"
TUTORIAL = HERE / "tutorial_stack.py"
WORKER_SCRIPT = HERE / "bench_workers.py"
DOCUMENTS_SCRIPT = HERE / "bench_documents.py"

EXPORT_ENCODER = """
from rag.embed import load_embedder
from rag.embed_onnx import EncoderUnavailable, export, quantise
from rag.settings import Settings
settings = Settings.from_env()
folder = export(load_embedder(settings.model), settings.cache)
if folder is not None and settings.quantised_queries:
    try:
        quantise(folder)
    except EncoderUnavailable as e:
        print("int8 not made:", e)
print("onnxruntime" if folder else "pytorch")
"""

# Used only when eval/questions.jsonl is missing: what practitioners ask of case reviews.
FALLBACK_QUERIES = (
    "fathers",
    "What do reviews say about involving fathers and male partners in assessments?",
    "disguised compliance by parents",
    "children who were not brought to health appointments",
    "professional curiosity about new adults in the household",
    "the voice of the child was not heard",
    "information sharing between police and children's social care",
    "neglect that went on for years",
    "non-accidental head injury in babies",
    "bruising in non-mobile infants",
    "unsafe sleeping and co-sleeping after parental drinking",
    "sudden unexpected death in infancy",
    "domestic abuse and its impact on children",
    "parental mental health and risk to the baby",
    "parental substance misuse",
    "child sexual exploitation of teenage girls",
    "children going missing from home or care",
    "county lines and criminal exploitation",
    "adolescent suicide and self-harm",
    "children with disabilities who could not communicate",
    "home education and children out of school",
    "escalation when professionals disagreed",
    "the threshold for a child protection plan",
    "step down from child protection to child in need",
    "pre-birth assessment of a vulnerable mother",
    "young parents who were care leavers",
    "special guardianship orders and kinship care",
    "fabricated or induced illness",
    "harmful sexual behaviour between siblings",
    "online grooming",
    "recommendations for health visitors",
    "learning for GPs about safeguarding",
    "the role of schools in spotting abuse",
    "Multi-agency safeguarding hub decision making",
    "MARAC referrals for domestic violence",
    "cultural and language barriers for families",
    "female genital mutilation",
    "radicalisation of young people",
    "private fostering arrangements",
    "children in care placed out of area",
    "transition from children's to adult services",
    "supervision of social workers and caseloads",
    "reflective practice and management oversight",
    "drift and delay in care proceedings",
    "assessment of risk from a parent's new partner",
    "hidden men and unknown adults",
    "poverty and housing problems",
    "parents with learning disabilities",
    "babies who were shaken",
    "what did reviews recommend about training on safe sleep?",
    "good practice identified by reviewers",
    "Serious case reviews published in 2017 about neglect",
    "lessons from Cumbria case reviews",
    "did not attend appointments",
    "historic child sexual abuse in institutions",
)


# ---- queries and the table (the parent process) --------------------------------------------------


def load_queries(path: Path = QUESTIONS, minimum: int = 50) -> tuple[list[str], str]:
    """Questions from the evaluation set (topped up from a built-in list to `minimum`) and where they came from."""
    found: list[str] = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                q = json.loads(line).get("question")
                if q and q not in found:
                    found.append(q)
    origin = f"{len(found)} from {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}" if found else ""
    extra = [q for q in FALLBACK_QUERIES if q not in found][: max(0, minimum - len(found))]
    if extra:
        origin = (origin + " + " if origin else "") + f"{len(extra)} built-in"
    return found + extra, origin


# ---- the table ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    metric: str
    pipeline: str
    tutorial: str = ""
    ratio: str = ""
    target: str = ""
    result: str = ""


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def render_table(rows: Sequence[Row]) -> str:
    """A Markdown table with padded columns, readable as plain text too."""
    head = Row("metric", "pipeline (rla)", "tutorial stack", "ratio", "target", "result")
    cells = [list(asdict(r).values()) for r in (head, *rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head.__dict__))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(cells[0], widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in cells[1:]]
    return "\n".join(lines)


def _x(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b else "—"


def _ms(lat: dict[str, Any] | None) -> str:
    return "—" if not lat else f"{lat['p50']:.1f} / {lat['p95']:.1f}"


# ---- measuring child processes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proc:
    wall_s: float
    returncode: int
    maxrss_mb: float
    stdout: str
    stderr: str


def run_measured(cmd: Sequence[str], env: dict[str, str] | None = None) -> Proc:
    """Run a command to completion; its own wall time and peak RSS (from wait4, so only this child counts)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=err, cwd=ROOT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Proc(
            wall,
            proc.returncode,
            usage.ru_maxrss / 1024,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
        )


def run_worker(name: str, params: dict[str, Any], work: Path) -> tuple[dict[str, Any], Proc]:
    """Run one of bench_workers.py's workers in a fresh interpreter; its JSON result and its process measurements."""
    pfile = work / f"{name}.params.json"
    ofile = work / f"{name}.out.json"
    pfile.write_text(json.dumps(params), encoding="utf-8")
    ofile.unlink(missing_ok=True)
    proc = run_measured([sys.executable, str(WORKER_SCRIPT), name, str(pfile), str(ofile)])
    if proc.returncode != 0 or not ofile.exists():
        raise RuntimeError(f"worker {name} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(ofile.read_text(encoding="utf-8")), proc


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---- the run ------------------------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with open("/proc/meminfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for pkg in ("torch", "sentence-transformers", "faiss-cpu", "bm25s", "langchain-text-splitters"):
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            versions[pkg] = "?"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "versions": versions,
    }


def _rla() -> list[str]:
    exe = Path(sys.executable).parent / "rla"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "rag.cli"]


def run_benchmark(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    corpus = (ROOT / "corpus").resolve()
    queries, origin = load_queries()
    if args.quick:
        queries, origin = queries[:50], f"the first 50 of {origin}"
    reps = 1 if args.quick else 2
    started = time.monotonic(), _cpu_stall_us(), _code_fingerprint()
    res: dict[str, Any] = {"machine": machine(), "loadavg_start": os.getloadavg()}
    res.update(queries=len(queries), queries_from=origin)
    texts = sorted(corpus.glob("*.txt"))
    res["corpus"] = {"files": len(texts), "kb": sum(f.stat().st_size for f in texts) / 1000}

    log("warming the page cache (an untimed import of torch, sentence-transformers, faiss)")
    run_measured([sys.executable, "-c", "import sentence_transformers, faiss, bm25s, langchain_text_splitters"])
    # rla's searches run the model's ONNX export (rag/embed_onnx.py), made once per model and machine.
    # The benchmark makes its own, in its own cache folder, before the timed ingests, and reports what it cost.
    os.environ["RLA_CACHE"] = str(work / "cache")
    log("exporting the model's ONNX query encoder (once per model; timed apart from ingest)")
    export = run_measured([sys.executable, "-c", EXPORT_ENCODER])
    if export.returncode != 0 or "onnxruntime" not in export.stdout:
        raise RuntimeError(f"the ONNX query encoder could not be made:\n{export.stdout}{export.stderr[-2000:]}")
    res["encoder_export_s"] = export.wall_s
    index, tdir, record = work / "index", work / "tutorial", work / "embed_calls.json"
    res["pipeline_ingest"], res["tutorial_ingest"] = [], []
    for r in range(reps):
        for side in ("pipeline", "tutorial") if r % 2 == 0 else ("tutorial", "pipeline"):
            log(f"{side} ingest into a fresh index ({r + 1}/{reps})")
            if side == "pipeline":
                dest = index if r == 0 else work / f"index-{r}"
                params = {"corpus": str(corpus), "index": str(dest), "record": str(record) if r == 0 else None}
                out, proc = run_worker("pipeline-ingest", params, work)
            else:
                dest = tdir if r == 0 else work / f"tutorial-{r}"
                out, proc = run_worker("tutorial-ingest", {"corpus": str(corpus), "dir": str(dest)}, work)
            res[f"{side}_ingest"].append({**out, "maxrss_mb": proc.maxrss_mb})
            if r:
                shutil.rmtree(dest, ignore_errors=True)

    log("embedding throughput: ingest's calls replayed vs raw encode vs the tutorial's encode, interleaved")
    params = {"record": str(record), "tutorial_dir": str(tdir), "rounds": reps, "model": _settings().model}
    res["throughput"], _ = run_worker("throughput", params, work)

    log(f"warm latency over {len(queries)} queries, pipeline and tutorial interleaved")
    params = {"index": str(index), "tutorial_dir": str(tdir), "queries": queries}
    res["latency"], _ = run_worker("latency", params, work)

    log("cold start: one query in a new process, 3 each, interleaved")
    rla_cmd = [*_rla(), "--index", str(index), "search", "fathers", "--k", "5"]
    tut_cmd = [sys.executable, str(TUTORIAL), "query", "--dir", str(tdir), "fathers", "--k", "5"]
    res["cold"] = _interleaved({"pipeline": rla_cmd, "tutorial": tut_cmd}, warm_up=True)

    log("unchanged re-ingest through the CLI, against the CLI's start-up")
    re_cmd = [*_rla(), "--corpus", str(corpus), "--index", str(index), "ingest", "--json"]
    res["reingest_cli"] = _interleaved({"reingest": re_cmd, "startup": [*_rla(), "--help"]}, warm_up=False)
    reports = [json.loads(out) for out in res["reingest_cli"]["reingest"]["stdout"]]
    res["reingest_cli"].update(
        embedded=sum(r["totals"]["embedded"] for r in reports), changed=any(r["changed"] for r in reports)
    )

    res["web"] = web_section(index, load_queries()[0])  # every question: no run asks one twice
    if args.scale:
        res["scale"] = _scale(args.scale, 500 if args.quick else 2000, index, queries, work)
    res["documents"] = _documents(args.quick, work)
    res["loadavg_end"] = os.getloadavg()
    stall = _cpu_stall_us()
    if stall is not None and started[1] is not None:
        res["cpu_pressure"] = (stall - started[1]) / 1e6 / (time.monotonic() - started[0])
    res["code_changed"] = _code_fingerprint() != started[2]
    return res


def _cpu_stall_us() -> int | None:
    """Microseconds in which some runnable task waited for a CPU (Linux pressure stall information)."""
    try:
        with open("/proc/pressure/cpu", encoding="utf-8") as f:
            return int(f.readline().rsplit("total=", 1)[1])
    except (OSError, IndexError, ValueError):
        return None


def _code_fingerprint() -> str:
    """Hash of the library's source: other people may edit it while a long benchmark runs."""
    h = hashlib.sha256()
    for path in sorted((ROOT / "rag").rglob("*.py")):
        h.update(path.read_bytes())
    return h.hexdigest()


def _interleaved(cmds: dict[str, list[str]], warm_up: bool, times: int = 3) -> dict[str, Any]:
    """Each command `times` times, taking turns; wall times, peak RSS and the stdout of each run."""
    if warm_up:  # untimed, so that every side starts from the same page cache
        for cmd in cmds.values():
            run_measured(cmd)
    procs: dict[str, list[Proc]] = {name: [] for name in cmds}
    for _ in range(times):
        for name, cmd in cmds.items():
            procs[name].append(run_measured(cmd))
    for name, ps in procs.items():
        if any(p.returncode for p in ps):
            raise RuntimeError(f"{name} ({' '.join(cmds[name])}) failed:\n{ps[0].stderr[-2000:]}")
    return {
        name: {
            "wall_s": [p.wall_s for p in ps],
            "maxrss_mb": max(p.maxrss_mb for p in ps),
            "stdout": [p.stdout for p in ps],
        }
        for name, ps in procs.items()
    }


def _settings() -> Any:
    from rag.settings import Settings  # light: the parent process never imports torch

    return Settings()


def _scale(n: int, n_real: int, index: Path, queries: list[str], work: Path) -> dict[str, Any]:
    threshold = _settings().hnsw_threshold
    sdir = work / "scale-index"
    log(f"scale: {n:,} synthetic chunks ({n_real:,} embedded for real), building the index")
    params = {
        "source_index": str(index),
        "index": str(sdir),
        "n": n,
        "n_real": min(n, n_real),
        "n_heldout": 200,
        "seed": 20240601,
        "hnsw_threshold": min(threshold, n),  # a small --scale still measures HNSW, not flat search
        "queries": queries,
        "work": str(work),
    }
    build, bproc = run_worker("scale-build", params, work)
    log("scale: warm search and HNSW recall")
    serve, sproc = run_worker("scale-serve", {"index": str(sdir), "queries": queries, "work": str(work)}, work)
    shutil.rmtree(sdir, ignore_errors=True)
    return {
        "build": {**build, "maxrss_mb": bproc.maxrss_mb},
        "serve": {**serve, "maxrss_mb": sproc.maxrss_mb},
        "forced_hnsw": n < threshold,
    }


def table_rows(res: dict[str, Any]) -> list[Row]:
    """The measured results as table rows, with each target's PASS/FAIL."""
    rows = _ingest_rows(res) + _query_rows(res) + (_web_rows(res["web"]) if res.get("web") else [])
    rows += _scale_rows(res["scale"]) if res.get("scale") else []
    return rows + (_document_rows(res["documents"]) if res.get("documents") else [])


def _ingest_rows(res: dict[str, Any]) -> list[Row]:
    pipe, tut, tp = res["pipeline_ingest"], res["tutorial_ingest"], res["throughput"]
    pi, ti = statistics.median(r["ingest_s"] for r in pipe), statistics.median(r["ingest_s"] for r in tut)
    pe, te = statistics.median(r["embed_s"] for r in pipe), statistics.median(r["encode_s"] for r in tut)
    n_p, n_t = tp["n"]["pipeline"], tp["n"]["tutorial"]
    best = {k: tp["n"][k] / min(v) for k, v in tp["seconds"].items()}
    share = best["pipeline"] / best["raw"]
    rounds = len(tp["seconds"]["raw"])
    tok_t = tp["tokens"]["tutorial"] / min(tp["seconds"]["tutorial"])
    rc = res["reingest_cli"]
    re_s, up_s = statistics.median(rc["reingest"]["wall_s"]), statistics.median(rc["startup"]["wall_s"])
    embedded = rc["embedded"] + sum(r["reingest_texts"] for r in pipe)
    re_ok = embedded == 0 and not rc["changed"] and re_s <= up_s + 1.0
    inproc = statistics.median(r["reingest_s"] for r in pipe) * 1000
    pm, tm = max(r["maxrss_mb"] for r in pipe), max(r["maxrss_mb"] for r in tut)
    return [
        Row(
            f"ingest into a fresh index, s (median of {len(pipe)}, imports and model load included)",
            f"{pi:.1f}",
            f"{ti:.1f}",
            _x(pi, ti),
            "≤ 1.5× tutorial",
            verdict(pi <= 1.5 * ti),
        ),
        Row(
            "  ONNX export of the query encoder, once per model and machine, s (not in the ingest above)",
            f"{res['encoder_export_s']:.1f}",
            "",
            "",
            "info",
        ),
        Row("  texts embedded (chunks + sentences for rla)", f"{n_p:,}", f"{n_t:,}", _x(n_p, n_t), "info"),
        Row("  embedding stage in ingest, texts/s", f"{n_p / pe:.1f}", f"{n_t / te:.1f}", "", "info"),
        Row(
            "  embedding stage in ingest, model tokens/s",
            f"{tp['tokens']['pipeline'] / pe:,.0f}",
            f"{tp['tokens']['tutorial'] / te:,.0f}",
            "",
            "info",
        ),
        Row(
            f"embedding: ingest's calls replayed vs one raw encode of the same texts, texts/s (best of {rounds})",
            f"{best['pipeline']:.1f}",
            f"raw encode {best['raw']:.1f}",
            f"{share:.0%}",
            "≥ 85% of raw",
            verdict(share >= 0.85),
        ),
        Row(
            f"  tutorial's encode of its own chunks, texts/s (best of {rounds})",
            "",
            f"{best['tutorial']:.1f} ({tok_t:,.0f} tok/s)",
            "",
            "info",
        ),
        Row(
            "unchanged re-ingest, s (`rla ingest` process, median of 3)",
            f"{re_s:.2f} ({embedded} embedded)",
            f"full rebuild {ti:.1f}",
            _x(re_s, ti),
            f"embeds 0, ≤ start-up ({up_s:.2f} s) + 1 s",
            verdict(re_ok),
        ),
        Row("  same, second ingest() in the ingest process", f"{inproc:.0f} ms", "", "", "info"),
        Row("peak RSS, ingest process, MiB", f"{pm:,.0f}", f"{tm:,.0f}", _x(pm, tm), "info"),
    ]


def _query_rows(res: dict[str, Any]) -> list[Row]:
    lat = res["latency"]
    s, t, d = lat["search"], lat["tutorial"], lat["dense"]
    rows = [
        Row(
            f"warm search p50 / p95, ms (hybrid k=10 vs flat top-10; n={s['n']})",
            _ms(s),
            _ms(t),
            _x(s["p50"], t["p50"]),
            "≤ 2.5× tutorial p50",
            verdict(s["p50"] <= 2.5 * t["p50"]),
        ),
        Row("  warm search p95, absolute", f"{s['p95']:.1f} ms", "", "", "≤ 25 ms", verdict(s["p95"] <= 25)),
        Row("  dense-only search p50 / p95, ms", _ms(d), _ms(t), _x(d["p50"], t["p50"]), "info"),
    ]
    status = lat["ask_status"]
    if status == "ok":
        a = lat["ask"]
        label = f"warm ask p50 / p95, ms (rag.answer.answer; n={a['n']})"
        rows.append(Row(label, _ms(a), "—", "", "≤ 150 ms p95", verdict(a["p95"] <= 150)))
    else:
        why = "n/a (rag.answer missing)" if status == "missing" else f"n/a ({status})"
        rows.append(Row("warm ask p50 / p95, ms (rag.answer.answer)", why, "—", "", "≤ 150 ms p95", "n/a"))
    cold = res["cold"]
    pc, tc = statistics.median(cold["pipeline"]["wall_s"]), statistics.median(cold["tutorial"]["wall_s"])
    pm, tm = cold["pipeline"]["maxrss_mb"], cold["tutorial"]["maxrss_mb"]
    rows += [
        Row(
            'cold start, one query in a new process, s (median of 3; rla search "fathers" --k 5)',
            f"{pc:.2f}",
            f"{tc:.2f}",
            _x(pc, tc),
            "≤ 1.0× tutorial",
            verdict(pc <= tc),
        ),
        Row("peak RSS, one-query process, MiB", f"{pm:,.0f}", f"{tm:,.0f}", _x(pm, tm), "info"),
    ]
    return rows


def _scale_rows(sc: dict[str, Any]) -> list[Row]:
    b, v = sc["build"], sc["serve"]
    n, kind, files = b["n"], b["faiss"], b["files"]
    label = kind["type"].upper()
    if kind["type"] == "hnsw":
        label += f" M={kind['M']} efC={kind['efConstruction']} efSearch={v['ef_search']}"
    if sc["forced_hnsw"]:
        label += " (forced below the threshold)"
    rate = b["n_real"] / b["embed_s"]
    total_min = n / rate / 60
    sent = ""
    if b["sentence_vectors"]:
        s_rate = b["pool_sentences"] / b["sentence_embed_s"]
        total_min += b["sentence_vectors"] / s_rate / 60
        sent = f"; {s_rate:.0f} sentences/s"
    faiss_s = b["parts"].get("faiss", [0.0])
    bm25_s = sum(b["parts"].get("bm25", [0.0]))
    rest = b["build_s"] - sum(faiss_s) - bm25_s
    parts = f"vectors {faiss_s[0]:.0f} s, " + (f"sentences {sum(faiss_s[1:]):.0f} s, " if len(faiss_s) > 1 else "")
    parts += f"bm25 {bm25_s:.0f} s, files + checksums {rest:.0f} s"
    mib = {k: size / 2**20 for k, size in files.items()}
    disk = f"{sum(mib.values()):,.0f}"
    big = {k: m for k, m in mib.items() if m >= 0.1 * sum(mib.values())}
    disk_parts = ", ".join(f"{k} {m:,.0f}" for k, m in sorted(big.items(), key=lambda kv: -kv[1]))
    p95 = v["search"]["p95"]
    return [
        Row(
            "scale: synthetic chunks / reviews / sentence vectors",
            f"{n:,} / {b['reviews']:,} / {b['sentence_vectors']:,}",
            "",
            "",
            f"info: {label}",
        ),
        Row(
            f"scale: real embedding rate ({b['n_real']:,} chunks), chunks/s",
            f"{rate:.1f}{sent}",
            "",
            "",
            f"info: all of it for real ≈ {total_min:.0f} min",
        ),
        Row(
            "scale: index build, chunks/s (vectors given)",
            f"{n / b['build_s']:,.0f} ({b['build_s']:.0f} s)",
            "",
            "",
            f"info: {parts}",
        ),
        Row("scale: index on disk, MiB", disk, "", "", f"info: {disk_parts}"),
        Row(
            "scale: open index + first query, s (checksums verified)",
            f"{v['open_s']:.1f} + {v['first_query_s'] - v['open_s']:.1f}",
            "",
            "",
            "info",
        ),
        Row(
            f"scale: warm search p50 / p95, ms (hybrid k=10; n={v['search']['n']})",
            _ms(v["search"]),
            "",
            "",
            "≤ 60 ms p95 at 100k",
            verdict(p95 <= 60) if n >= 100_000 else "n/a (< 100k)",
        ),
        Row(
            f"scale: HNSW recall@10 vs exact flat search ({b['recall_queries']} queries)",
            f"{v['recall_hnsw']:.3f}",
            "",
            "",
            "≥ 0.95",
            verdict(v["recall_hnsw"] >= 0.95),
        ),
        Row(f"  recall@10 of the dense path's {v['pool']}-candidate pool", f"{v['recall_pool']:.3f}", "", "", "info"),
        Row(
            "scale: peak RSS, build / serve process, MiB",
            f"{b['maxrss_mb']:,.0f} / {v['maxrss_mb']:,.0f}",
            "",
            "",
            "info",
        ),
    ]


# ---- documents: parse speed of text inputs, pages/s of a long report PDF with and without OCR ---------------------

TEXT_LINES = (10_000, 100_000, 1_000_000)
REPORT_PAGES = 60


def _documents(quick: bool, work: Path) -> dict[str, Any]:
    """Parse speed for text reports of 10k / 100k / 1M lines (--quick: the first two), and pages/s for a 60-page
    report PDF read as ingest reads it, with a text layer and scanned (OCR; --quick: its first 3 pages). The PDFs
    are made now, in `work`, by the fixtures' generators (eval/bench_documents.py); each measurement is a child."""
    out: dict[str, Any] = {"text": [], "pdf": {}}
    for n in TEXT_LINES[:2] if quick else TEXT_LINES:
        log(f"documents: furniture + parse of a {n:,}-line text report")
        out["text"].append(_documents_child("text", str(n), work))
    scanned = 3 if quick else REPORT_PAGES
    log(f"documents: making a {REPORT_PAGES}-page report PDF and a {scanned}-page scan of it (tests/docs generators)")
    made = _documents_child("make", f"{REPORT_PAGES}:{scanned}", work / "documents")
    for side in ("pdf", "scan"):
        log(f"documents: reading and parsing {Path(made[side]).name}" + (" (OCR)" if side == "scan" else ""))
        out["pdf"][side] = _documents_child("pdf", made[side], work)
    return out


def _documents_child(what: str, arg: str, work: Path) -> dict[str, Any]:
    ofile = work / "made.json" if what == "make" else work / f"documents-{what}.json"
    proc = run_measured(
        [sys.executable, str(DOCUMENTS_SCRIPT), what, arg, str(ofile.parent if what == "make" else ofile)]
    )
    if proc.returncode != 0 or not ofile.exists():
        raise RuntimeError(f"bench_documents {what} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return {**json.loads(ofile.read_text(encoding="utf-8")), "wall_s": proc.wall_s, "maxrss_mb": proc.maxrss_mb}


def _document_rows(doc: dict[str, Any]) -> list[Row]:
    text = doc["text"]
    rows = [
        Row(
            f"parse a text report of {t['lines']:,} lines, lines/s (CPU time; wall {t['wall_s']:.1f} s)",
            f"{t['lines_per_s']:,.0f}",
            "",
            "",
            "info" if i == 0 else f"linear: ≥ 0.5× the {text[0]['lines']:,}-line rate",
            "" if i == 0 else verdict(t["lines_per_s"] >= 0.5 * text[0]["lines_per_s"]),
        )
        for i, t in enumerate(text)
    ]
    rows.append(Row("  peak RSS, largest text parse, MiB", f"{text[-1]['maxrss_mb']:,.0f}", "", "", "info"))
    pdf, scan = doc["pdf"]["pdf"], doc["pdf"]["scan"]
    rows.append(
        Row(
            f"report PDF, {pdf['pages']} pages with a text layer: read + parse, pages/s",
            f"{pdf['pages_per_s']:.1f} ({pdf['seconds']:.1f} s)",
            "",
            "",
            "info",
        )
    )
    per_page = 1 / scan["pages_per_s"]
    rows.append(
        Row(
            f"same report scanned, {scan['pages']} pages, OCR (Tesseract): read + parse, pages/s",
            f"{scan['pages_per_s']:.2f} ({scan['seconds']:.0f} s)",
            "",
            f"{pdf['pages_per_s'] / scan['pages_per_s']:.0f}× slower",
            f"info: {per_page:.0f} s a page; ocr_page_timeout_s allows {scan['ocr_page_timeout_s']:g} s",
        )
    )
    return rows


# ---- the web app (issue 15): time to the first page and the first answer, 16 users asking at once --------------

WEB_USERS, WEB_PER_USER, WEB_P95_S = 16, 5, 0.5


def web_section(index: Path, queries: list[str]) -> dict[str, Any]:
    """`python app.py` over the index: launch → first page → first answer; then 16 users ask 5 questions each at
    once over HTTP, through Gradio's queue as the page does (eval/bench_workers.py web_app). The warm-up and the
    two runs (a session each, none) ask different questions, as many as `queries` has."""
    sys.path.insert(0, str(HERE))
    from bench_workers import web_app

    log(f"web app: time to first page and first answer; {WEB_USERS} users asking {WEB_PER_USER} questions each")
    return web_app(str(index), str(ROOT), queries, users=WEB_USERS, per_user=WEB_PER_USER)


def _web_rows(w: dict[str, Any]) -> list[Row]:
    n = f"{w['users']} users × {w['per_user']} questions at once ({w.get('distinct_questions', '?')} different)"
    rows = [
        Row("web app: launch → first page served, s", f"{w['first_page_s']:.2f}", "—", "", "", "info"),
        Row("web app: launch → first answer, s", f"{w['first_answer_s']:.2f}", "—", "", "", "info"),
    ]
    for run, how, target in (
        (w, "a session each, as pages and gradio_client have", True),
        (w["no_sessions"], "raw HTTP without a session", False),
    ):
        lat = run["latency"]
        rows.append(
            Row(
                f"web app: {n} ({how}), s: p50 / p95; server CPU ms per answer (the server process's); the simulated "
                "users' own, on the same cores",
                f"{lat['p50'] / 1000:.2f} / {lat['p95'] / 1000:.2f}; {run['server_cpu_ms_per_answer']:.0f}"
                + (f" ({run['server_main_cpu_ms_per_answer']:.0f})" if "server_main_cpu_ms_per_answer" in run else "")
                + (f"; {run['client_cpu_ms_per_answer']:.0f}" if "client_cpu_ms_per_answer" in run else ""),
                "—",
                "",
                f"p95 ≤ {WEB_P95_S} s, 0 errors" if target else "",
                verdict(lat["p95"] / 1000 <= WEB_P95_S and not run["error_count"]) if target else "info",
            )
        )
    return rows


def web_only(index: Path) -> str:
    """The web rows alone, the app running as after `make run`: its cache holds the ONNX query encoder (made here,
    untimed, in a cache of its own, as the whole benchmark does; without it the app answers with PyTorch)."""
    queries, _ = load_queries()
    with tempfile.TemporaryDirectory(prefix="rla-bench-cache-") as cache:
        os.environ["RLA_CACHE"] = cache
        export = run_measured([sys.executable, "-c", EXPORT_ENCODER])
        if export.returncode != 0 or "onnxruntime" not in export.stdout:
            raise RuntimeError(f"the ONNX query encoder could not be made:\n{export.stdout}{export.stderr[-2000:]}")
        w = web_section(index, queries)
    errors = w["error_count"] + w["no_sessions"]["error_count"]
    load = f"load average (1 min) {os.getloadavg()[0]:.2f} at the end; {errors} errors {w['errors']}"
    return render_table(_web_rows(w)) + "\n" + load


def report(res: dict[str, Any], command: str) -> str:
    m, v, tp = res["machine"], res["machine"]["versions"], res["throughput"]
    p0, t0 = res["pipeline_ingest"][0], res["tutorial_ingest"][0]
    cap = tp["max_seq_length"]
    load = res["loadavg_start"][0], res["loadavg_end"][0]
    lines = [
        f"rla benchmark, {time.strftime('%Y-%m-%d %H:%M')}: {command}",
        f"machine: {m['cpu']}, {m['usable_cores']} cores, {m['ram_gib']} GiB RAM; Python {m['python']}",
        f"packages: torch {v['torch']}, sentence-transformers {v['sentence-transformers']}, "
        + f"faiss-cpu {v['faiss-cpu']}, bm25s {v['bm25s']}, langchain-text-splitters {v['langchain-text-splitters']}",
        f"load average (1 min): {load[0]:.2f} at start, {load[1]:.2f} at end"
        + (
            f"; CPU pressure: some task waited for a CPU {res['cpu_pressure']:.0%} of the run"
            if "cpu_pressure" in res
            else ""
        )
        + "; compared timings are interleaved",
        f"corpus: {res['corpus']['files']} files, {res['corpus']['kb']:.0f} KB",
        f"  rla: {p0['chunks']} chunks in {p0['reviews']} reviews; embeds {tp['n']['pipeline']:,} texts of "
        + f"{tp['mean_tokens']['pipeline']:.0f} model tokens on average, {tp['truncated']['pipeline']} over the "
        + f"model's {cap}",
        f"  tutorial: {t0['chunks']} chunks of {tp['mean_tokens']['tutorial']:.0f} model tokens on average, "
        + f"{tp['truncated']['tutorial']} silently truncated at {cap}",
        f"queries: {res['queries']} ({res['queries_from']}); rla encodes them with onnxruntime (the model's ONNX "
        + "export, same vectors), the tutorial with sentence-transformers on PyTorch",
    ]
    if res.get("code_changed"):
        lines.append("WARNING: rag/ changed while the benchmark ran (concurrent edits); rows may mix code versions")
    lines += ["", render_table(table_rows(res))]
    if res.get("scale"):
        b = res["scale"]["build"]
        sentences = (
            f" Sentence vectors are real embeddings of the {b['pool_sentences']:,} distinct real sentences."
            if b["sentence_vectors"]
            else ""
        )
        lines += [
            "",
            f"scale test: {b['n']:,} chunks made of real sentences drawn with seeded randomness. The first "
            + f"{b['n_real']:,} were embedded with the real model; the other {b['n'] - b['n_real']:,} chunk vectors "
            + "are seeded mixtures of two of those plus noise (their text is half of each parent's), not embeddings of "
            + f"their own text.{sentences} Speed, size, memory and ANN recall are measured; retrieval quality at this "
            + "scale is not.",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="one repeat each, 50 queries, a 20,000-chunk scale test")
    p.add_argument(
        "--scale", type=int, default=None, metavar="N", help="chunks in the scale test (default 100000; 0 skips it)"
    )
    p.add_argument("--json", type=Path, metavar="OUT", help="also write every measurement as JSON")
    p.add_argument("--web", type=Path, metavar="INDEX", help="only the web app's rows, over this built index")
    args = p.parse_args(argv)
    if args.web:
        print(web_only(args.web))
        return 0
    if args.scale is None:
        args.scale = 20_000 if args.quick else 100_000
    if args.scale and args.scale < 1000:
        p.error("--scale must be 0 (skip) or at least 1000")
    command = "python eval/bench.py " + " ".join(argv if argv is not None else sys.argv[1:])
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rla-bench-") as tmp:
        res = run_benchmark(args, Path(tmp))
    res["total_s"] = time.perf_counter() - t0
    text = report(res, command.strip())
    print(text)
    print(f"\n(total {res['total_s'] / 60:.1f} min)")
    if args.json:
        args.json.write_text(json.dumps({**res, "table": text}, indent=1, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
