"""Text encodings through a real ingest: decoded exactly, or skipped with a reason; never garbled into the index.

Plumbing: the indexes here are built with the fake embedder (tests_support); what is tested is the text.
"""

from __future__ import annotations

import codecs
import json
import os
import random
import resource
import sys
import threading
from pathlib import Path

import pytest
from faults import chunk_texts, rla

from rag.ingest import IngestReport, ingest
from rag.retrieve import Retriever
from rag.settings import Settings

# Signs of text decoded with the wrong codec, or of a byte-order mark left in the text.
MOJIBAKE = ("\ufffd", "â€", "Ã", "Â", "ï»¿", "\ufeff", "\x00", "þÿ", "ÿþ")


def review(name: str, marker: str) -> str:
    return (
        f"Child {name}: serious case review\n\n"
        f"{name} was twelve when she was admitted to hospital with injuries; the family had moved three times.\n\n"
        f"Learning includes: the mother’s “{marker} compliance” was read as ‘engagement’ – "
        f"professionals accepted her account of the £40 café voucher…\n"
    )


def passage(marker: str) -> str:
    return (
        f"the mother’s “{marker} compliance” was read as ‘engagement’ – "
        "professionals accepted her account of the £40 café voucher…"
    )


# file name → (bytes, the child's name, a marker word that only this file contains)
READABLE: dict[str, tuple[bytes, str, str]] = {
    "utf8.txt": (review("Ada", "quillwort").encode("utf-8"), "Ada", "quillwort"),
    "utf8-bom.txt": (codecs.BOM_UTF8 + review("Bea", "marram").encode("utf-8"), "Bea", "marram"),
    "utf16le-bom.txt": (codecs.BOM_UTF16_LE + review("Cal", "sedgewick").encode("utf-16-le"), "Cal", "sedgewick"),
    "utf16be-bom.txt": (codecs.BOM_UTF16_BE + review("Dot", "bryony").encode("utf-16-be"), "Dot", "bryony"),
    "utf16le-no-bom.txt": (review("Eli", "samphire").encode("utf-16-le"), "Eli", "samphire"),
    "cp1252-crlf.txt": (review("Fay", "zephyrine").encode("cp1252").replace(b"\n", b"\r\n"), "Fay", "zephyrine"),
}
# file name → (bytes, what the skip reason must say)
UNREADABLE: dict[str, tuple[bytes, str]] = {
    "damaged-utf8.txt": (
        review("Gus", "hawkbit").encode("utf-8").replace("café".encode(), b"caf\xe9\xff"),
        "mostly UTF-8 but byte 0xE9",
    ),
    "undefined-cp1252.txt": (
        review("Hal", "tormentil").encode("cp1252").replace(b"\x93", b"\x81"),
        "not valid UTF-8 or Windows-1252",
    ),
    "nul-bytes.txt": (review("Ivy", "yarrow").encode("utf-8").replace(b"twelve", b"twe\x00lve"), "NUL bytes"),
    "binary.txt": (random.Random(7).randbytes(4096), "re-save the file as UTF-8"),
    "bad-utf16.txt": (
        codecs.BOM_UTF16_LE + "Child Jo: ".encode("utf-16-le") + b"\x00\xd8" + "review".encode("utf-16-le"),
        "not valid UTF-16-LE",
    ),
    "utf32-no-bom.txt": (review("Kit", "vetch").encode("utf-32-le"), "NUL bytes"),
}


@pytest.fixture(scope="module")
def encoded_index(fake_model: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, IngestReport]:
    root = tmp_path_factory.mktemp("encodings")
    corpus = root / "corpus"
    corpus.mkdir()
    for name, data in [(n, v[0]) for n, v in READABLE.items()] + [(n, v[0]) for n, v in UNREADABLE.items()]:
        (corpus / name).write_bytes(data)
    settings = Settings(corpus=corpus, index=root / "index", model=fake_model)
    return settings, ingest(settings)


def test_every_file_is_indexed_or_skipped_with_its_reason(encoded_index: tuple[Settings, IngestReport]) -> None:
    _, report = encoded_index
    status = {f.source: f for f in report.files}
    assert set(status) == set(READABLE) | set(UNREADABLE)
    for name in READABLE:
        assert status[name].status == "indexed" and status[name].chunks >= 1, status[name]
    for name, (_, reason) in UNREADABLE.items():
        assert status[name].status == "skipped", status[name]
        assert name in status[name].reason, status[name].reason
        assert reason in status[name].reason, status[name].reason
        assert "\n" not in status[name].reason


def test_indexed_text_is_exact_and_never_garbled(encoded_index: tuple[Settings, IngestReport]) -> None:
    settings, _ = encoded_index
    texts = chunk_texts(settings.index)
    for text in texts:
        for sign in MOJIBAKE:
            assert sign not in text, (sign, text)
    joined = "\n".join(texts)
    for name, (_, _, marker) in READABLE.items():
        assert passage(marker) in joined, name
    # Nothing of a skipped file reaches the index.
    assert "hawkbit" not in joined and "tormentil" not in joined and "yarrow" not in joined


def test_sources_keep_unix_line_endings(encoded_index: tuple[Settings, IngestReport]) -> None:
    settings, _ = encoded_index
    data = Retriever(settings).data
    cp = data.sources["cp1252-crlf.txt"]
    assert "\r" not in cp.text and cp.text.startswith("Child Fay: serious case review\n\n")


def test_cp1252_passage_found_and_shown_with_the_right_characters(encoded_index: tuple[Settings, IngestReport]) -> None:
    settings, _ = encoded_index
    # The library, hybrid (dense + BM25).
    hits = Retriever(settings).search("zephyrine compliance", k=3)
    assert hits and hits[0].chunk.source == "cp1252-crlf.txt"
    assert passage("zephyrine") in hits[0].chunk.text
    # The command line, as a user would run it.
    proc = rla("search", "zephyrine compliance", "--k", "3", "--json", index=settings.index, fake=True)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    out = json.loads(proc.stdout)
    top = out["hits"][0]
    assert top["source"] == "cp1252-crlf.txt"
    assert passage("zephyrine") in top["text"]
    assert not any(sign in proc.stdout for sign in MOJIBAKE)


def test_a_query_in_curly_quotes_matches_the_cp1252_text(encoded_index: tuple[Settings, IngestReport]) -> None:
    settings, _ = encoded_index
    hits = Retriever(settings).search("mother’s “zephyrine compliance”", k=1, mode="bm25")
    assert hits and hits[0].chunk.source == "cp1252-crlf.txt"


def test_each_readable_file_round_trips_through_the_source_store(encoded_index: tuple[Settings, IngestReport]) -> None:
    settings, _ = encoded_index
    data = Retriever(settings).data
    for file_name, (_, child, marker) in READABLE.items():
        assert data.sources[file_name].text == review(child, marker), file_name


# --- things in the corpus folder that are not documents -------------------------------------------


def _ingest_within(settings: Settings, seconds: float) -> IngestReport:
    """Ingest in a daemon thread, so that a read that blocks for ever fails the test instead of hanging it."""
    result: list[IngestReport | BaseException] = []

    def run() -> None:
        try:
            result.append(ingest(settings))
        except BaseException as e:
            result.append(e)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert result, f"ingest still running after {seconds} s (blocked on a pipe or device?)"
    if isinstance(result[0], BaseException):
        raise result[0]
    return result[0]


@pytest.mark.skipif(sys.platform == "win32", reason="pipes and /dev/zero are POSIX")
def test_pipes_devices_and_huge_files_are_skipped_without_reading_them(fake_model: str, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "ok.txt").write_text(review("Lou", "cowslip"), encoding="utf-8")
    os.mkfifo(corpus / "pipe.txt")  # opening it would block until someone writes
    (corpus / "zero.txt").symlink_to("/dev/zero")  # endless
    (corpus / "dangling.md").symlink_to(tmp_path / "gone.md")
    with open(corpus / "huge.txt", "wb") as f:  # 3 GB, sparse: costs no disk, would cost 3 GB of memory to read
        f.truncate(3 * 1024**3)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    report = _ingest_within(Settings(corpus=corpus, index=tmp_path / "index", model=fake_model), 120)

    status = {f.source: f for f in report.files}
    assert status["ok.txt"].status == "indexed"
    for name, reason in {
        "pipe.txt": "not a regular file",
        "zero.txt": "links outside the corpus",  # a link to /dev/zero
        "dangling.md": "broken symbolic link",
        "huge.txt": "file is 3072.0 MB, over the 50 MB limit",
    }.items():
        assert status[name].status == "skipped" and reason in status[name].reason, status[name]
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    assert grown_mb < 1024, f"peak memory grew by {grown_mb:.0f} MB: a file over the limit was read"
