"""A damaged or edited index is refused with one line naming the file; nothing is ever unpickled."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from faults import ROOT, check_one_line_error, rla

from rag.errors import IndexCorrupt, IndexMissing
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
        open_index(index_copy.index, verify=True)


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
        open_index(index_copy.index, verify=True)


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


def test_bm25_is_saved_and_loaded_without_pickle() -> None:
    source = (ROOT / "rag" / "lexical.py").read_text(encoding="utf-8")
    assert source.count("allow_pickle=False") >= 2  # save and load both say so explicitly


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
