"""A damaged or edited index is refused with one line naming the file; nothing is ever unpickled."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from faults import ROOT, check_one_line_error, rla, rla_env

from rag.errors import IndexCorrupt, IndexMissing, RlaError
from rag.settings import Settings
from rag.store import current_generation, open_index

DATA_FILES = [
    "vectors.faiss",
    "sentences.faiss",
    "chunks.jsonl",
    "reviews.jsonl",
    "sources.jsonl",
    "bm25/data.csc.index.npy",
    "bm25/indices.csc.index.npy",
    "bm25/indptr.csc.index.npy",
    "bm25/params.index.json",
    "bm25/vocab.index.json",
]


def live(settings: Settings) -> Path:
    gen = current_generation(settings.index)
    assert gen is not None
    return gen


def flip_byte(path: Path, at: float = 0.5) -> None:
    data = bytearray(path.read_bytes())
    i = int(len(data) * at)
    data[i] ^= 0x01
    path.write_bytes(bytes(data))


def edit_manifest(gen: Path, change) -> None:  # type: ignore[no-untyped-def]
    path = gen / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps(change(manifest)), encoding="utf-8")


def test_every_file_of_a_generation_has_a_checksum(built_index: Settings) -> None:
    gen = live(built_index)
    on_disk = {p.relative_to(gen).as_posix() for p in gen.rglob("*") if p.is_file()} - {"manifest.json"}
    listed = set(json.loads((gen / "manifest.json").read_text(encoding="utf-8"))["files"])
    assert on_disk == listed
    assert set(DATA_FILES) <= listed


@pytest.mark.parametrize("rel", DATA_FILES)
@pytest.mark.parametrize("at", [0.0, 0.5, 0.999])
def test_one_changed_byte_is_refused_naming_the_file(index_copy: Settings, rel: str, at: float) -> None:
    flip_byte(live(index_copy) / rel, at)
    with pytest.raises(
        IndexCorrupt, match=re.escape(rel) + r" does not match its manifest checksum.*rla ingest --rebuild"
    ):
        open_index(index_copy.index)


@pytest.mark.parametrize("rel", ["chunks.jsonl", "vectors.faiss", "bm25/data.csc.index.npy"])
def test_rla_search_on_a_changed_file_prints_one_line(index_copy: Settings, rel: str) -> None:
    flip_byte(live(index_copy) / rel)
    proc = rla("search", "x", index=index_copy.index)
    assert proc.returncode != 0 and proc.stdout == ""
    check_one_line_error(proc, str(live(index_copy) / rel), "rla ingest --rebuild")


def test_rla_ingest_on_a_damaged_index_says_rebuild(index_copy: Settings) -> None:
    flip_byte(live(index_copy) / "chunks.jsonl")
    proc = rla("ingest", index=index_copy.index, corpus=index_copy.corpus)
    check_one_line_error(proc, "chunks.jsonl", "--rebuild")


# Damage that the checksums alone do not cover: the manifest itself, missing files, the CURRENT pointer.
MANIFEST_DAMAGE = {
    "file deleted": lambda gen: (gen / "chunks.jsonl").unlink(),
    "bm25 file deleted": lambda gen: (gen / "bm25" / "vocab.index.json").unlink(),
    "manifest deleted": lambda gen: (gen / "manifest.json").unlink(),
    "manifest truncated": lambda gen: (gen / "manifest.json").write_bytes((gen / "manifest.json").read_bytes()[:100]),
    "manifest not JSON": lambda gen: (gen / "manifest.json").write_bytes(b"\xff\xfe garbage"),
    "manifest is a list": lambda gen: (gen / "manifest.json").write_text("[1, 2]"),
    "checksums removed": lambda gen: edit_manifest(gen, lambda m: {k: v for k, v in m.items() if k != "files"}),
    "checksum of chunks dropped": lambda gen: edit_manifest(
        gen, lambda m: {**m, "files": {k: v for k, v in m["files"].items() if k != "chunks.jsonl"}}
    ),
    "checksum edited": lambda gen: edit_manifest(
        gen, lambda m: {**m, "files": {**m["files"], "vectors.faiss": "0" * 64}}
    ),
    "model entry removed": lambda gen: edit_manifest(gen, lambda m: {k: v for k, v in m.items() if k != "model"}),
    "faiss entry removed": lambda gen: edit_manifest(gen, lambda m: {k: v for k, v in m.items() if k != "faiss"}),
    "counts disagree": lambda gen: edit_manifest(gen, lambda m: {**m, "counts": {**m["counts"], "chunks": 3}}),
    "chunk row added, checksum updated": lambda gen: _append_row_and_rehash(gen),
}


def _append_row_and_rehash(gen: Path) -> None:
    import hashlib

    path = gen / "chunks.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines + lines[-1:]), encoding="utf-8")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    edit_manifest(gen, lambda m: {**m, "files": {**m["files"], "chunks.jsonl": digest}})


@pytest.mark.parametrize("damage", sorted(MANIFEST_DAMAGE))
def test_damaged_generation_is_index_corrupt(index_copy: Settings, damage: str) -> None:
    gen = live(index_copy)
    MANIFEST_DAMAGE[damage](gen)
    with pytest.raises(IndexCorrupt, match=r"rla ingest --rebuild"):
        open_index(index_copy.index)


@pytest.mark.parametrize("damage", ["file deleted", "manifest is a list", "checksums removed"])
def test_rla_search_on_a_damaged_generation_prints_one_line(index_copy: Settings, damage: str) -> None:
    MANIFEST_DAMAGE[damage](live(index_copy))
    check_one_line_error(rla("search", "x", index=index_copy.index), "--rebuild")


@pytest.mark.parametrize("pointer", [b"\xff\xfe\x00garbage", b"", b"../../etc", b"gen-999999\n", b"gen-/../../x\n"])
def test_damaged_current_pointer_reads_as_no_index(index_copy: Settings, pointer: bytes) -> None:
    (index_copy.index / "CURRENT").write_bytes(pointer)
    with pytest.raises(IndexMissing, match="rla ingest"):
        open_index(index_copy.index)
    check_one_line_error(rla("search", "x", index=index_copy.index), "no index at", "rla ingest")


# --- no pickle anywhere ------------------------------------------------------------------

UNSAFE = [
    r"^\s*(?:import|from)\s+(?:c?pickle|_pickle|dill|joblib|cloudpickle|shelve|marshal)\b",
    r"\b(?:pickle|dill|joblib|cloudpickle|marshal|shelve)\.(?:loads?|open|Unpickler)\b",
    r"allow_dangerous_deserialization",
    r"allow_pickle\s*=\s*True",
    r"\btorch\.load\(",
    r"\bnp\.load\([^)]*allow_pickle",
    r"\byaml\.load\(",
    r"(?<![\w.])(?:eval|exec)\(",
]


def _python_files() -> list[Path]:
    files = sorted((ROOT / "rag").rglob("*.py"))
    files += [p for p in (ROOT / "app.py",) if p.exists()]
    return files


def test_no_unsafe_deserialisation_in_the_code() -> None:
    files = _python_files()
    assert len(files) >= 10
    offenders = []
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for pattern in UNSAFE:
                if re.search(pattern, line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_index_files_hold_no_pickles(built_index: Settings) -> None:
    gen = live(built_index)
    for path in gen.rglob("*"):
        if not path.is_file():
            continue
        assert path.suffix not in (".pkl", ".pickle", ".joblib", ".pt", ".bin"), path
        head = path.read_bytes()[:256]
        assert not re.match(rb"\x80[\x02-\x05]", head), f"{path} looks like a pickle"
        if path.suffix == ".npy":
            assert b"'|O'" not in head and b"object" not in head, f"{path} holds Python objects"


def test_loading_an_index_never_calls_pickle(index_copy: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    import pickle

    from rag.retrieve import Retriever

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("pickle used while loading the index")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    retriever = Retriever(index_copy)
    assert retriever.search("disguised compliance", k=3, mode="bm25")


def test_an_object_array_in_the_bm25_folder_is_refused(index_copy: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pickle payload dressed as an .npy, its checksum updated: refused on open, never unpickled."""
    import pickle

    import numpy as np

    gen = live(index_copy)
    np.save(gen / "bm25" / "data.csc.index.npy", np.array([{"payload": 1}], dtype=object), allow_pickle=True)
    rehash(gen, "bm25/data.csc.index.npy")

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("pickle used while loading the index")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    with pytest.raises(IndexCorrupt, match=r"bm25/data\.csc\.index\.npy holds Python objects.*rla ingest --rebuild"):
        open_index(index_copy.index)


def test_bm25_arrays_are_loaded_with_pickle_refused(index_copy: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from rag.retrieve import Retriever

    real, calls = np.load, []

    def load(*args: object, **kwargs: object) -> object:
        calls.append(kwargs.get("allow_pickle", False))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(np, "load", load)
    assert Retriever(index_copy).search("disguised compliance", k=3, mode="bm25")
    assert calls and not any(calls), calls  # every array was read, none with allow_pickle=True


# --- damage that used to end in a traceback, a hang, or a wrong answer --------------------------


def rehash(gen: Path, rel: str) -> None:
    """Make the manifest vouch for the file as it is now (an attacker, or a careless edit)."""
    import hashlib

    digest = hashlib.sha256((gen / rel).read_bytes()).hexdigest()
    edit_manifest(gen, lambda m: {**m, "files": {**m["files"], rel: digest}})


def edit_jsonl(gen: Path, rel: str, change) -> None:  # type: ignore[no-untyped-def]
    """Change the first row of a JSONL file, and update its checksum."""
    path = gen / rel
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows[0] = change(rows[0])
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    rehash(gen, rel)


def _list_file(gen: Path, rel: str, target: Path) -> None:
    import hashlib

    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    edit_manifest(gen, lambda m: {**m, "files": {**m["files"], rel: digest}})


def _replace_current_by_folder(gen: Path) -> None:
    (gen.parent / "CURRENT").unlink()
    (gen.parent / "CURRENT").mkdir()


def _outside_file(gen: Path) -> Path:
    outside = gen.parent.parent / "outside.txt"
    outside.write_text("not part of the index\n", encoding="utf-8")
    return outside


# name → (damage, a fragment the one-line message must hold)
READ_DAMAGE = {
    "dim is text": (lambda gen: edit_manifest(gen, lambda m: {**m, "model": {**m["model"], "dim": "abc"}}), "dim"),
    "dim is zero": (lambda gen: edit_manifest(gen, lambda m: {**m, "model": {**m["model"], "dim": 0}}), "dim"),
    "dim is true": (lambda gen: edit_manifest(gen, lambda m: {**m, "model": {**m["model"], "dim": True}}), "dim"),
    "dim disagrees with the vectors": (
        lambda gen: edit_manifest(gen, lambda m: {**m, "model": {**m["model"], "dim": 128}}),
        "vectors.faiss",
    ),
    "model name is a number": (
        lambda gen: edit_manifest(gen, lambda m: {**m, "model": {**m["model"], "name": 7}}),
        "model.name",
    ),
    "hnsw claimed for a flat index": (
        lambda gen: edit_manifest(gen, lambda m: {**m, "faiss": {"type": "hnsw", "M": 32, "efConstruction": 80}}),
        "vectors.faiss",
    ),
    "unknown faiss type": (lambda gen: edit_manifest(gen, lambda m: {**m, "faiss": {"type": "ivf"}}), "faiss.type"),
    "chunker setting is text": (
        lambda gen: edit_manifest(gen, lambda m: {**m, "chunker": {**m["chunker"], "chunk_tokens": "120"}}),
        "chunker",
    ),
    "source entry without a hash": (
        lambda gen: edit_manifest(gen, lambda m: {**m, "sources": {k: {"reviews": 1} for k in m["sources"]}}),
        "sources",
    ),
    "files entry is a folder": (lambda gen: _list_file(gen, "bm25", gen / "chunks.jsonl"), "bm25"),
    "files entry climbs out": (lambda gen: _list_file(gen, "../CURRENT", gen.parent / "CURRENT"), "../CURRENT"),
    "files entry is absolute": (
        lambda gen: _list_file(gen, str(_outside_file(gen).resolve()), _outside_file(gen)),
        "outside.txt",
    ),
    "manifest nested 100,000 deep": (
        lambda gen: (gen / "manifest.json").write_text('{"files": ' + "[" * 100_000 + "]" * 100_000 + "}"),
        "manifest.json",
    ),
    "CURRENT is a folder": (_replace_current_by_folder, "CURRENT"),
    "chunk from a source not in sources.jsonl": (
        lambda gen: edit_jsonl(gen, "chunks.jsonl", lambda c: {**c, "source": "elsewhere.txt"}),
        "elsewhere.txt",
    ),
    "review from a source not in sources.jsonl": (
        lambda gen: edit_jsonl(gen, "reviews.jsonl", lambda r: {**r, "source": "elsewhere.txt"}),
        "elsewhere.txt",
    ),
    "chunk of a review not in reviews.jsonl": (
        lambda gen: edit_jsonl(gen, "chunks.jsonl", lambda c: {**c, "review_id": "no-such-review"}),
        "no-such-review",
    ),
    "manifest sources disagree with sources.jsonl": (
        lambda gen: edit_manifest(gen, lambda m: {**m, "sources": dict(list(m["sources"].items())[1:])}),
        "sources",
    ),
    "unlisted file in the generation": (
        lambda gen: (gen / "bm25" / "extra.npy").write_bytes(b"\x93NUMPY"),
        "bm25/extra.npy",
    ),
}


def run_cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    from rag.cli import main

    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def check_cli_one_line(capsys: pytest.CaptureFixture[str], *args: str | Path, fragments: tuple[str, ...]) -> str:
    """`rla ARGS` in this process: exit 2 and one `rla: …` line naming each fragment; nothing on stdout."""
    code, out, err = run_cli(capsys, *args)
    lines = err.strip().splitlines()
    assert code == 2 and out == "" and len(lines) == 1 and lines[0].startswith("rla: "), (code, out, err)
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


@pytest.mark.parametrize("damage", sorted(READ_DAMAGE))
def test_tampered_index_is_refused_in_one_line(
    index_copy: Settings, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    change, fragment = READ_DAMAGE[damage]
    change(live(index_copy))
    with pytest.raises(RlaError) as info:
        open_index(index_copy.index)
    assert fragment in str(info.value) and "\n" not in str(info.value)
    assert "rla ingest" in str(info.value)
    check_cli_one_line(capsys, "--index", index_copy.index, "reviews", fragments=(fragment,))


def _symlink_to_dev_zero(path: Path) -> None:
    path.unlink()
    path.symlink_to("/dev/zero")


def _fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


# Damage that made a reader hang (or eat memory without end): checked in a child with a deadline.
HANGS = {
    "CURRENT is a FIFO": (lambda gen: _fifo(gen.parent / "CURRENT"), "CURRENT"),
    "CURRENT links to /dev/zero": (lambda gen: _symlink_to_dev_zero(gen.parent / "CURRENT"), "CURRENT"),
    "chunks.jsonl links to /dev/zero": (lambda gen: _symlink_to_dev_zero(gen / "chunks.jsonl"), "chunks.jsonl"),
    "vectors.faiss is a FIFO": (lambda gen: _fifo(gen / "vectors.faiss"), "vectors.faiss"),
    "manifest.json is a FIFO": (lambda gen: _fifo(gen / "manifest.json"), "manifest.json"),
}


@pytest.mark.parametrize("damage", sorted(HANGS))
def test_special_files_in_the_index_never_hang(index_copy: Settings, damage: str) -> None:
    change, fragment = HANGS[damage]
    change(live(index_copy))
    # A 2 GB address-space limit turns "reads /dev/zero into memory" into a MemoryError, not a swapping machine.
    code = (
        "import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30)); "
        "from rag.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, "--index", str(index_copy.index), "reviews"],
        cwd=ROOT,
        env=rla_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    check_one_line_error(proc, fragment)


def test_one_changed_byte_in_reviews_fails_rla_reviews_and_rla_show(
    index_copy: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    gen = live(index_copy)
    review_id = json.loads((gen / "reviews.jsonl").read_text(encoding="utf-8").splitlines()[0])["id"]
    code, out, _ = run_cli(capsys, "--index", index_copy.index, "show", review_id)
    assert code == 0 and review_id in out  # opened and verified once in this process
    # One letter of a title changed: still valid JSON of the same size, so only the checksum can tell.
    path = gen / "reviews.jsonl"
    data = path.read_bytes()
    at = data.index(b'"title": "') + len(b'"title": "')
    path.write_bytes(data[:at] + bytes([data[at] ^ 0x20]) + data[at + 1 :])
    expected = ("reviews.jsonl does not match its manifest checksum", "rla ingest --rebuild")
    check_cli_one_line(capsys, "--index", index_copy.index, "reviews", fragments=expected)
    check_cli_one_line(capsys, "--index", index_copy.index, "show", review_id, fragments=expected)
    check_cli_one_line(capsys, "--index", index_copy.index, "reviews", "--json", fragments=expected)
