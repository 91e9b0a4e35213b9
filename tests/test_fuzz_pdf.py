"""Hostile PDFs: mutated, encrypted, decompression bombs, cyclic object graphs; read or skipped, never a crash."""

from __future__ import annotations

import functools
import io
import json
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest
from faults import REVIEW_PAGES, SEED_CORPUS, check_index, cyclic_pdfs, mutants, rla, skip_kind, zero_bomb
from pdfgen import bomb_pdf, text_pdf

from rag.errors import SourceError
from rag.parse import parse_source
from rag.settings import Settings
from rag.sources import corpus_key, read_source

FUZZ_COUNT = 520
# Tighter than the default so a hang costs little; still far above the ~0.5 s a valid file takes.
FUZZ_SETTINGS = replace(Settings(), pdf_timeout_s=20.0)


def encrypt(pages: list[str], user_password: str, algorithm: str) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=io.BytesIO(text_pdf(pages)))
    writer.encrypt(user_password, "owner-secret", algorithm=algorithm)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


@functools.cache
def hostile_pdfs() -> dict[str, bytes]:
    """Bombs and cycles, by name (the 1 GB bomb takes seconds to compress: made once)."""
    out = {f"cycle-{name}.pdf": data for name, data in cyclic_pdfs().items()}
    out["bomb-zeros-1gb.pdf"] = zero_bomb(1_000_000_000)  # ~1 MB of FlateDecode
    out["bomb-zeros-20x70mb.pdf"] = zero_bomb(70_000_000, streams=20)  # an array of streams, 1.4 GB in all
    out["bomb-zeros-70mb.pdf"] = zero_bomb(70_000_000)
    out["bomb-text-70mb.pdf"] = bomb_pdf(70_000_000)  # 10 million tiny text runs
    return out


def outcome(path: Path, corpus: Path, settings: Settings = FUZZ_SETTINGS) -> tuple[str, str, float]:
    """("indexed" | "skipped", reason kind, seconds), checking the promises a skip makes."""
    started = time.monotonic()
    try:
        source = read_source(path, corpus, settings)
    except SourceError as e:
        reason = str(e)
        assert reason.startswith(f"{corpus_key(path, corpus)}: "), reason
        assert "\n" not in reason and "Traceback" not in reason, reason
        return "skipped", skip_kind(reason), time.monotonic() - started
    reviews = parse_source(source)  # whatever text came out, the parser copes with it
    for r in reviews:
        assert 0 <= r.start <= r.end <= len(source.text)
    return ("indexed" if reviews else "skipped"), ("ok" if reviews else "no reviews"), time.monotonic() - started


# --- encrypted PDFs (fast) -------------------------------------------------------------------


def test_rc4_pdf_with_empty_password_is_read(tmp_path: Path) -> None:
    path = tmp_path / "rc4.pdf"
    path.write_bytes(encrypt(REVIEW_PAGES, "", "RC4-128"))
    assert read_source(path, tmp_path, Settings()).text.startswith("Child Q: serious case review")


@pytest.mark.parametrize("algorithm", ["AES-128", "AES-256"])
def test_aes_pdf_with_empty_password_is_read(tmp_path: Path, algorithm: str) -> None:
    pytest.importorskip("cryptography", reason="AES needs the cryptography package (a project dependency)")
    path = tmp_path / "aes.pdf"
    path.write_bytes(encrypt(REVIEW_PAGES, "", algorithm))
    source = read_source(path, tmp_path, Settings())
    assert source.text.startswith("Child Q: serious case review") and len(source.page_starts) == 3


@pytest.mark.parametrize("algorithm", ["RC4-40", "RC4-128", "AES-128", "AES-256"])
def test_password_protected_pdf_is_skipped_as_encrypted(tmp_path: Path, algorithm: str) -> None:
    if algorithm.startswith("AES"):
        pytest.importorskip("cryptography")
    path = tmp_path / "locked.pdf"
    path.write_bytes(encrypt(REVIEW_PAGES, "letmein", algorithm))
    with pytest.raises(SourceError, match=r"locked\.pdf: encrypted PDF \(password required\)"):
        read_source(path, tmp_path, Settings())


def test_aes_pdf_without_the_crypto_package_names_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("cryptography")  # needed here only to write the file
    stub = tmp_path / "stub" / "cryptography"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text('raise ImportError("cryptography hidden by the test")\n')
    monkeypatch.setenv("PYTHONPATH", str(stub.parent))  # the PDF worker is a child process
    path = tmp_path / "aes.pdf"
    path.write_bytes(encrypt(REVIEW_PAGES, "", "AES-128"))
    with pytest.raises(SourceError, match=r"aes\.pdf: encrypted PDF needs an extra package \(.*cryptography.*\)"):
        read_source(path, tmp_path, Settings())


def test_encrypted_pdfs_through_ingest(tmp_path: Path) -> None:
    """Empty password: indexed. Real password: skipped with the reason, and the ingest goes on."""
    from rag.ingest import ingest

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "open.pdf").write_bytes(encrypt(REVIEW_PAGES, "", "RC4-128"))
    (corpus / "locked.pdf").write_bytes(encrypt(REVIEW_PAGES, "letmein", "RC4-128"))
    report = ingest(Settings(corpus=corpus, index=tmp_path / "index"))
    status = {f.source: f for f in report.files}
    assert status["open.pdf"].status == "indexed" and status["open.pdf"].chunks >= 1
    assert status["locked.pdf"].status == "skipped"
    assert "encrypted PDF (password required)" in status["locked.pdf"].reason
    check_index(tmp_path / "index")


# --- a few hostile files in the default run (fast) ----------------------------------------------


@pytest.mark.parametrize("name", ["kids-self", "kids-cycle", "parent-loop", "deep-arrays"])
def test_cyclic_pdf_is_skipped_or_read_without_hanging(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(cyclic_pdfs()[name])
    _, kind, seconds = outcome(path, tmp_path, replace(Settings(), pdf_timeout_s=10.0))
    assert kind in ("ok", "corrupt", "no text", "no pages", "no reviews")
    assert seconds < 15


def test_zero_bomb_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "bomb.pdf"
    path.write_bytes(zero_bomb(200_000_000))  # 200 KB that inflate to 200 MB
    assert path.stat().st_size < 300_000
    status, kind, _ = outcome(path, tmp_path, Settings())
    assert status == "skipped" and kind in ("corrupt", "memory", "no text"), kind


# --- the fuzz run (slow) -------------------------------------------------------------------------


@pytest.mark.slow
def test_fuzzed_pdfs_are_each_read_or_skipped_with_a_reason(tmp_path: Path) -> None:
    files = dict(mutants(FUZZ_COUNT)) | hostile_pdfs()
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    paths = [tmp_path / name for name in sorted(files)]

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=2) as pool:  # each read is its own child process
        futures = {p.name: pool.submit(outcome, p, tmp_path) for p in paths}
        results = {name: f.result(timeout=FUZZ_SETTINGS.pdf_timeout_s * len(paths)) for name, f in futures.items()}
    elapsed = time.monotonic() - started

    assert len(results) == len(files) >= 500 + 10
    by_kind = Counter(kind for _, kind, _ in results.values())
    slowest = max(results.items(), key=lambda kv: kv[1][2])
    print(
        f"\n{len(results)} PDFs in {elapsed:.0f} s; slowest {slowest[0]} {slowest[1][2]:.1f} s; "
        f"indexed {sum(s == 'indexed' for s, _, _ in results.values())}; by outcome {dict(sorted(by_kind.items()))}",
        file=sys.stderr,
    )
    assert "other" not in by_kind, [n for n, r in results.items() if r[1] == "other"]
    for name, (_, _, seconds) in results.items():
        assert seconds < FUZZ_SETTINGS.pdf_timeout_s + 15, (name, seconds)  # the timeout holds
    for name in hostile_pdfs():
        if name.startswith("bomb-"):
            assert results[name][0] == "skipped", (name, results[name])
    assert by_kind["ok"] > 0 and by_kind["corrupt"] > 0  # the mutations spread over both sides


@pytest.mark.slow
def test_ingest_of_a_corpus_of_broken_pdfs(tmp_path: Path) -> None:
    """The real command over 30 hostile PDFs and one good text file: exit 0, every file accounted for."""
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    chosen = dict(mutants(FUZZ_COUNT)[::31])  # 17 mutants, spread over seeds and mutators
    hostile = hostile_pdfs()
    for name in ("cycle-kids-self.pdf", "cycle-kids-cycle.pdf", "cycle-parent-loop.pdf", "cycle-self-reference.pdf",
                 "cycle-xobject-loop.pdf", "cycle-deep-arrays.pdf", "cycle-huge-count.pdf", "bomb-zeros-1gb.pdf",
                 "bomb-zeros-20x70mb.pdf", "bomb-text-70mb.pdf"):  # fmt: skip
        chosen[name] = hostile[name]
    chosen["aes-open.pdf"] = encrypt(REVIEW_PAGES, "", "AES-128")
    chosen["rc4-locked.pdf"] = encrypt(REVIEW_PAGES, "letmein", "RC4-128")
    chosen["not-really.pdf"] = b"PK\x03\x04 a zip file wearing a .pdf name"
    for name, data in chosen.items():
        (corpus / name).write_bytes(data)
    (corpus / "good.txt").write_bytes((SEED_CORPUS / "nspcc-repository-march-2022.txt").read_bytes())
    assert len(chosen) >= 30

    proc = rla("ingest", "--json", index=index, corpus=corpus, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    report = json.loads(proc.stdout)
    files = {f["source"]: f for f in report["files"]}
    assert set(files) == set(chosen) | {"good.txt"}
    for f in files.values():
        assert f["status"] in ("indexed", "skipped"), f
        if f["status"] == "skipped":
            assert f["reason"].strip() and "\n" not in f["reason"], f
    assert files["good.txt"]["status"] == "indexed"
    assert files["aes-open.pdf"]["status"] == "indexed"
    assert "password required" in files["rc4-locked.pdf"]["reason"]
    data = check_index(index)
    assert data.manifest.counts.chunks == report["totals"]["chunks"]
    indexed = sorted(n for n, f in files.items() if f["status"] == "indexed")
    reasons = Counter(skip_kind(f["reason"]) for f in files.values() if f["status"] == "skipped")
    print(
        f"\ningest of {len(files)} files: indexed {len(indexed)}, skipped {dict(sorted(reasons.items()))}",
        file=sys.stderr,
    )
