"""Corpus entries: one path key for every file, links and odd names skipped with a reason, the plan of an ingest."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from rag.cli import main
from rag.ingest import FileReport, ingest, plan
from rag.settings import Settings
from rag.sources import CorpusFile, corpus_files, shown_name
from rag.store import SkippedEntry, SourceEntry, current_generation, open_index

CUMBRIA = "cumbria-lessons-from-scrs.txt"
NSPCC = "nspcc-repository-march-2022.txt"


def _settings(corpus: Path, tmp_path: Path) -> Settings:
    return Settings(corpus=corpus, index=tmp_path / "index")


def test_symlinked_file_in_a_subfolder_and_a_symlinked_folder_ingest_twice(small_corpus: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.move(small_corpus / CUMBRIA, outside / CUMBRIA)
    (small_corpus / "sub").mkdir()
    (small_corpus / "sub" / CUMBRIA).symlink_to(outside / CUMBRIA)  # a file link inside a subfolder
    inner = small_corpus / "inner"
    inner.mkdir()
    shutil.move(small_corpus / NSPCC, inner / NSPCC)
    (small_corpus / "linked").symlink_to(inner, target_is_directory=True)  # a folder link inside the corpus
    settings = replace(_settings(small_corpus, tmp_path), follow_outside_links=True)

    first = ingest(settings)
    keys = {f.source: f.status for f in first.files}
    # The linked folder leads to files already listed under their own folder: each file once.
    assert keys == {f"sub/{CUMBRIA}": "indexed", f"inner/{NSPCC}": "indexed"}
    data = open_index(settings.index)
    assert set(data.manifest.sources) == {c.source for c in data.chunks} == set(keys)

    again = ingest(settings)  # this crashed with a KeyError when the manifest and chunks used different keys
    assert {f.status for f in again.files} == {"unchanged"} and not again.changed

    only = ingest(settings, [small_corpus / "linked"])  # re-reading the linked folder alone
    assert {f.source: f.status for f in only.files} == {f"sub/{CUMBRIA}": "unchanged", f"inner/{NSPCC}": "unchanged"}


def test_links_outside_the_corpus_are_skipped_unless_trusted(small_corpus: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:nologin\n", encoding="utf-8")
    (small_corpus / "s-passwd.txt").symlink_to(secret)
    settings = _settings(small_corpus, tmp_path)
    report = ingest(settings)
    skipped = {f.source: f.reason for f in report.files if f.status == "skipped"}
    assert skipped == {"s-passwd.txt": skipped["s-passwd.txt"]}
    assert (
        "links outside the corpus" in skipped["s-passwd.txt"] and "RLA_FOLLOW_OUTSIDE_LINKS" in skipped["s-passwd.txt"]
    )
    data = open_index(settings.index)
    assert not any("nologin" in c.text for c in data.chunks)

    trusted = ingest(replace(settings, follow_outside_links=True))
    assert {f.source: f.status for f in trusted.files}["s-passwd.txt"] == "indexed"


def test_loops_broken_links_and_unsafe_names_are_skipped_and_the_rest_indexed(
    small_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (small_corpus / "loop.txt").symlink_to("loop.txt")
    (small_corpus / "gone.txt").symlink_to(tmp_path / "nothing-here.txt")
    (small_corpus / "nested").symlink_to(small_corpus, target_is_directory=True)  # a folder loop
    raw = os.fsencode(small_corpus) + b"/report-\xff.txt"
    with open(raw, "wb") as f:
        f.write(b"Learning from a review with a badly named file.\n")
    (small_corpus / "evil\u202etxt.md").write_text("Spoofed name.\n", encoding="utf-8")
    (small_corpus / "two\nlines.txt").write_text("A name with a newline.\n", encoding="utf-8")

    code = main(["--corpus", str(small_corpus), "--index", str(tmp_path / "index"), "ingest"])
    out = capsys.readouterr()
    assert code == 0 and "Traceback" not in out.err
    data = open_index(tmp_path / "index")
    assert {c.source for c in data.chunks} == {CUMBRIA, NSPCC}
    lines = out.out.splitlines()
    skipped = [line for line in lines if line.lstrip().startswith("skipped")]
    assert len(skipped) == 5, out.out
    assert any("symbolic link loop" in line for line in skipped)
    assert any("broken symbolic link" in line for line in skipped)
    assert any("report-\\xff.txt" in line for line in skipped)
    assert any("evil\\u202etxt.md" in line for line in skipped)
    assert any("two\\nlines.txt" in line for line in skipped)
    assert not any("\u202e" in line for line in lines)  # nothing spoofs the report


def test_shown_name_escapes_what_would_break_a_line() -> None:
    assert shown_name("plain/name.pdf") == "plain/name.pdf"
    assert shown_name("a\nb\u202ec.txt") == "a\\nb\\u202ec.txt"
    assert shown_name(os.fsdecode(b"x-\xff.txt")) == "x-\\xff.txt"


def test_a_lasting_failure_is_remembered_until_the_file_changes(small_corpus: Path, tmp_path: Path) -> None:
    bad = small_corpus / "broken.pdf"
    bad.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n")
    settings = _settings(small_corpus, tmp_path)
    first = ingest(settings)
    reason = {f.source: f for f in first.files}["broken.pdf"]
    assert reason.status == "skipped" and not reason.remembered
    gen = current_generation(settings.index)

    second = ingest(settings)
    again = {f.source: f for f in second.files}["broken.pdf"]
    assert again.status == "skipped" and again.remembered and again.reason == reason.reason
    assert not second.changed and current_generation(settings.index) == gen  # not read, nothing written

    bad.write_text("Now a plain text file with some learning in it.\n", encoding="utf-8")
    bad.rename(small_corpus / "broken.txt")
    third = ingest(settings)
    assert {f.source: f.status for f in third.files}.get("broken.txt") == "indexed"
    assert "broken.pdf" not in open_index(settings.index).manifest.skipped


def test_an_unexpected_error_names_the_file_and_keeps_the_index(
    small_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(small_corpus, tmp_path)
    ingest(settings)
    gen = current_generation(settings.index)
    (small_corpus / "new.txt").write_text("A new review about neglect.\n", encoding="utf-8")

    def broken(*_: object) -> object:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("rag.ingest.parse_source", broken)
    code = main(["--corpus", str(small_corpus), "--index", str(settings.index), "ingest"])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err
    assert lines[0].startswith("rla: new.txt: unexpected ZeroDivisionError while parsing")
    assert current_generation(settings.index) == gen


def _files(*keys: str) -> list[CorpusFile]:
    return [CorpusFile(k, Path(k)) for k in keys]


def test_plan_keeps_reads_removes_and_skips() -> None:
    sources = {"a.txt": SourceEntry("1", 1, 1), "b.txt": SourceEntry("2", 1, 1), "gone.txt": SourceEntry("3", 1, 1)}
    skipped = {"bad.pdf": SkippedEntry("9", "bad.pdf: corrupt", "L")}
    files = [*_files("a.txt", "b.txt", "c.txt", "bad.pdf"), CorpusFile("link.txt", Path("x"), "link.txt: loop")]
    digests = {"a.txt": "1", "b.txt": "changed", "c.txt": "5", "bad.pdf": "9"}
    p = plan(sources, skipped, files, digests, None, "L")
    assert p.keep == ("a.txt",)
    assert [f.key for f in p.read] == ["b.txt", "c.txt"]
    assert p.remove == ("gone.txt",)
    assert p.skip == (
        FileReport("bad.pdf", "skipped", reason="bad.pdf: corrupt", remembered=True),
        FileReport("link.txt", "skipped", reason="link.txt: loop"),
    )
    # Other limits: the remembered failure is tried again. `only`: a changed file outside it is kept as it was.
    assert [f.key for f in plan(sources, skipped, files, digests, None, "other").read] == ["b.txt", "c.txt", "bad.pdf"]
    assert plan(sources, skipped, files, digests, {"c.txt"}, "L").keep == ("a.txt", "b.txt")


def test_corpus_files_walks_sorted_by_key_and_skips_hidden(tmp_path: Path) -> None:
    for name in ("b.txt", "a/z.md", "a/y.pdf", ".hidden/x.txt", "a/.x.txt", "c.xlsx"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x", encoding="utf-8")
    assert [f.key for f in corpus_files(tmp_path, Settings())] == ["a/y.pdf", "a/z.md", "b.txt"]
