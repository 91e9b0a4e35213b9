"""The index store: a typed manifest, writes that fail cleanly, checksums verified once per generation."""

from __future__ import annotations

import errno
import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest
from faults import ROOT, check_index, generation_of, marker_review, rla_command, rla_env
from test_tamper import check_cli_one_line, flip_byte, live

import rag.store
from rag.settings import Settings
from rag.store import open_index

# --- the manifest ------------------------------------------------------------------------------


def test_manifest_parses_to_types_and_writes_the_same_json(built_index: Settings) -> None:
    from rag.store import Manifest, ModelInfo, SourceEntry

    gen = live(built_index)
    raw = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
    manifest = Manifest.parse(raw, gen)
    assert isinstance(manifest.model, ModelInfo) and manifest.model.dim == 384
    assert manifest.faiss_type == "flat" and manifest.hnsw is None
    assert manifest.generation == gen.name and manifest.skipped == {}
    assert all(isinstance(e, SourceEntry) for e in manifest.sources.values())
    assert manifest.counts.sources == len(manifest.sources) == 5
    assert manifest.to_json() == raw  # the file keeps its shape
    assert open_index(built_index.index).manifest == manifest


def test_manifest_keeps_skipped_files_and_hnsw_parameters(built_index: Settings) -> None:
    from rag.store import HnswParams, Manifest, SkippedEntry

    gen = live(built_index)
    raw = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
    raw["skipped"] = {"scan.pdf": {"sha256": "ab" * 32, "reason": "scan.pdf: no extractable text", "limits": "L"}}
    raw["faiss"] = {"type": "hnsw", "M": 32, "efConstruction": 80}
    manifest = Manifest.parse(raw, gen)
    assert manifest.skipped == {"scan.pdf": SkippedEntry("ab" * 32, "scan.pdf: no extractable text", "L")}
    assert manifest.hnsw == HnswParams(m=32, ef_construction=80)
    assert Manifest.parse(manifest.to_json(), gen) == manifest


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda m: {**m, "skipped": {"a.pdf": {"sha256": "ab" * 32}}}, "skipped"),
        (lambda m: {**m, "counts": {**m["counts"], "chunks": -1}}, "counts.chunks"),
        (lambda m: {**m, "files": {**m["files"], "a/./b": "00" * 32}}, "a/./b"),
        (lambda m: {**m, "files": {**m["files"], "chunks.jsonl": "not a digest"}}, "chunks.jsonl"),
        (lambda m: {**m, "model": {**m["model"], "sha256": 5}}, "model.sha256"),
        (lambda m: {**m, "generation": "gen-1/../x"}, "generation"),
        (lambda m: {**m, "faiss": {"type": "hnsw", "M": "32", "efConstruction": 80}}, "faiss.M"),
    ],
)
def test_manifest_parse_names_what_is_wrong(built_index: Settings, change, fragment: str) -> None:  # type: ignore[no-untyped-def]
    from rag.errors import IndexCorrupt
    from rag.store import Manifest

    gen = live(built_index)
    raw = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
    with pytest.raises(IndexCorrupt) as info:
        Manifest.parse(change(raw), gen)
    message = str(info.value)
    assert message.startswith(f"index manifest {gen / 'manifest.json'} ") and fragment in message
    assert message.endswith("; rebuild with: rla ingest --rebuild") and "\n" not in message


# --- checksums: verified once per generation and process, again after any change --------------


def test_reopening_an_unchanged_generation_hashes_nothing(
    index_copy: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    gen = live(index_copy)
    hashed: list[str] = []
    real = rag.store._sha256_and_stat

    def counting(path: Path) -> tuple[str, os.stat_result]:
        hashed.append(Path(path).relative_to(gen).as_posix())
        return real(path)

    monkeypatch.setattr(rag.store, "_sha256_and_stat", counting)
    first = open_index(index_copy.index)
    assert set(hashed) >= {"chunks.jsonl", "vectors.faiss", "reviews.jsonl"}
    hashed.clear()
    second = open_index(index_copy.index)
    assert hashed == [] and second.manifest == first.manifest
    # Any change of a file's inode, size or times verifies again: here, a file replaced by an equal copy.
    path = gen / "sources.jsonl"
    data = path.read_bytes()
    path.unlink()
    path.write_bytes(data)
    open_index(index_copy.index)
    assert hashed == sorted(first.manifest.files)


def test_a_change_that_keeps_size_and_mtime_is_still_caught(index_copy: Settings) -> None:
    from rag.errors import IndexCorrupt

    open_index(index_copy.index)  # verified and remembered
    path = live(index_copy) / "chunks.jsonl"
    before = path.stat()
    flip_byte(path, 0.5)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # same inode, size and mtime: only ctime moved
    with pytest.raises(IndexCorrupt, match=r"chunks\.jsonl does not match its manifest checksum"):
        open_index(index_copy.index)


# --- writing: one line for a full disk or a read-only folder, nothing half-written left ---------


@pytest.fixture()
def changed(small_copy: Settings) -> Settings:
    """A copy of a two-file index whose corpus has gained one review, so an ingest has work to do."""
    (small_copy.corpus / "added.txt").write_text(marker_review("pangolin"), encoding="utf-8")
    return small_copy


def _no_space_writing(name: str):  # type: ignore[no-untyped-def]
    real = rag.store._write_file

    def write(path: Path, data: bytes) -> None:
        if path.name == name:
            path.write_bytes(data[: len(data) // 2])  # what fitted, then the error
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(path, data)

    return write


def _faiss_no_space(*args: object, **kwargs: object) -> None:
    raise RuntimeError(
        "Error in void faiss::write_index(...) at impl/index_write.cpp:1011: Error: 'ret == (1)' failed: "
        "write error in vectors.faiss: 0 != 1 (No space left on device)"
    )


def _bm25_no_space(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


NO_SPACE = {
    "chunks.jsonl": ("rag.store._write_file", lambda: _no_space_writing("chunks.jsonl")),
    "manifest.json": ("rag.store._write_file", lambda: _no_space_writing("manifest.json")),
    "CURRENT.tmp (after the rename)": ("rag.store._write_file", lambda: _no_space_writing("CURRENT.tmp")),
    "vectors.faiss (FAISS)": ("faiss.write_index", lambda: _faiss_no_space),
    "bm25": ("rag.lexical.save_bm25", lambda: _bm25_no_space),
}


@pytest.mark.parametrize("where", sorted(NO_SPACE))
def test_full_disk_while_writing_leaves_the_live_generation_and_no_debris(
    changed: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    old = generation_of(changed.index)
    before = sorted(p.name for p in changed.index.iterdir())
    target, failing = NO_SPACE[where]
    monkeypatch.setattr(target, failing())
    check_cli_one_line(
        capsys,
        "--index",
        changed.index,
        "--corpus",
        changed.corpus,
        "ingest",
        fragments=("no space left on device writing the index", "free space and run rla ingest again"),
    )
    assert generation_of(changed.index) == old
    assert sorted(p.name for p in changed.index.iterdir()) == before  # no gen-*.tmp, no unswitched gen-*
    check_index(changed.index)


def test_read_only_index_folder_is_one_line(
    changed: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Tests run as root, for whom chmod does not bite: the read-only file system is simulated at open()."""
    real_open = os.open

    def read_only(path: object, flags: int, *args: object, **kwargs: object) -> int:
        if str(path).endswith("LOCK") and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", read_only)
    check_cli_one_line(
        capsys,
        "--index",
        changed.index,
        "--corpus",
        changed.corpus,
        "ingest",
        fragments=(f"index folder {changed.index} is not writable", "Read-only file system"),
    )


def test_ingest_removes_stale_temporary_generations(changed: Settings) -> None:
    from rag.ingest import ingest

    stale = changed.index / "gen-000077.tmp"
    (stale / "bm25").mkdir(parents=True)
    (stale / "chunks.jsonl").write_text("half a generation", encoding="utf-8")
    (changed.index / "CURRENT.tmp").write_text("gen-000077\n", encoding="utf-8")
    (changed.corpus / "added.txt").unlink()  # nothing to do: the clean-up must not wait for a write
    report = ingest(changed)
    assert not report.changed
    assert not stale.exists() and not (changed.index / "CURRENT.tmp").exists()
    check_index(changed.index)


def _can_mount() -> bool:
    """Root with a private mount namespace: a real tmpfs can be filled, or made read-only, for one command."""
    try:
        return subprocess.run(["unshare", "-m", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.slow
@pytest.mark.skipif(not _can_mount(), reason="needs unshare -m (root) for a private tmpfs")
def test_a_really_full_disk_and_a_really_read_only_folder(changed: Settings, tmp_path: Path) -> None:
    """The same as above on a real 700 KB tmpfs (FAISS's own error included), then remounted read-only."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    index = mount / "index"
    command = " ".join(map(shlex.quote, [*rla_command(), "--index", str(index), "--corpus", str(changed.corpus)]))
    script = f"""
        mount -t tmpfs -o size=700k none {mount} && cp -r {changed.index} {index} || exit 99
        {command} ingest; echo "exit $?"; ls {index}
        mount -o remount,ro {mount}; {command} ingest; echo "exit $?"
        {command} reviews --json > /dev/null; echo "exit $?"
    """
    proc = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
        cwd=ROOT,
        env=rla_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.strip()]  # the progress bar leaves blank lines
    assert len(errors) == 2, proc.stderr
    assert errors[0].startswith(f"rla: no space left on device writing the index {index}; free space and run rla")
    assert errors[1].startswith(f"rla: index folder {index} is not writable (Read-only file system)")
    out = proc.stdout.split()
    assert out == ["exit", "2", "CURRENT", "LOCK", generation_of(changed.index), "exit", "2", "exit", "0"], out


def test_line_separators_inside_the_text_survive_a_round_trip(small_copy: Settings) -> None:
    """JSON leaves U+2028, U+2029 and U+0085 unescaped: rows are split on "\\n" only, or such a text breaks its row."""
    from rag.ingest import ingest

    path = small_copy.corpus / "nspcc-repository-march-2022.txt"
    text = path.read_text(encoding="utf-8")
    at = text.index("Learning")
    path.write_text(text[:at] + "Line\u2028separated,\u2029paragraph\u0085next. " + text[at:], encoding="utf-8")
    ingest(small_copy)
    data = open_index(small_copy.index)
    assert "Line\u2028separated,\u2029paragraph\u0085next." in data.sources[path.name].text
