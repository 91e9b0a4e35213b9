"""Crash consistency: an ingest that fails or is killed leaves the old generation or the new one, never a mix.

Plumbing: every index and `rla` child here uses the fake embedder (tests_support), not the model.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from faults import (
    ROOT,
    SEED_CORPUS,
    check_index,
    generation_of,
    marker_review,
    rla,
    rla_command,
    rla_env,
    wait_for_file,
    wait_for_lock,
)
from tests_support import HOLD_ENV, PRELOAD_ENV, HashedWordsEmbedder

import rag.lexical
import rag.store
from rag.ingest import ingest
from rag.retrieve import Retriever
from rag.settings import Settings
from rag.store import IndexData, current_generation

MARKER = "quokka"


@pytest.fixture()
def changed(fake_small_copy: Settings) -> Settings:
    """A copy of a two-file index whose corpus has gained one review, so an ingest has work to do."""
    (fake_small_copy.corpus / "added.txt").write_text(marker_review(MARKER), encoding="utf-8")
    return fake_small_copy


def _raise_on(name: str):  # type: ignore[no-untyped-def]
    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(28, f"No space left on device (injected at {name})")

    return fail


def _fail_writing(filename: str):  # type: ignore[no-untyped-def]
    real = rag.store._write_file

    def write(path: Path, data: bytes) -> None:
        if path.name == filename:
            path.write_bytes(data[: len(data) // 2])  # a torn write, then the error
            raise OSError(5, f"Input/output error (injected writing {filename})")
        real(path, data)

    return write


def _fail_replace_of_current(real=os.replace):  # type: ignore[no-untyped-def]
    def replace_(src: object, dst: object, *args: object, **kwargs: object) -> None:
        if Path(str(dst)).name == "CURRENT":
            raise OSError(5, "Input/output error (injected switching CURRENT)")
        real(src, dst, *args, **kwargs)  # type: ignore[arg-type]

    return replace_


def _fail_fsync_after_switch(index: Path, old_gen: str, real=rag.store._fsync_dir):  # type: ignore[no-untyped-def]
    def fsync(path: Path) -> None:
        if path == index and generation_of(index) != old_gen:
            raise OSError(5, "Input/output error (injected after the switch)")
        real(path)

    return fsync


# name → (what to patch, factory(index, live generation) of the failing stand-in, whether CURRENT has switched by then)
FAULTS = {
    "embedding interrupted": (
        (HashedWordsEmbedder, "embed_batch"),
        lambda index, old: _raise_interrupt,
        False,
    ),
    "faiss write": ((rag.store, "_write_faiss"), lambda index, old: _raise_on("faiss"), False),
    "chunks.jsonl torn": ((rag.store, "_write_file"), lambda index, old: _fail_writing("chunks.jsonl"), False),
    "bm25 save": ((rag.lexical, "save_bm25"), lambda index, old: _raise_on("bm25"), False),
    "manifest torn": ((rag.store, "_write_file"), lambda index, old: _fail_writing("manifest.json"), False),
    "rename of the generation": ((os, "rename"), lambda index, old: _raise_on("rename"), False),
    "pointer file torn": ((rag.store, "_write_file"), lambda index, old: _fail_writing("CURRENT.tmp"), False),
    "pointer switch": ((os, "replace"), lambda index, old: _fail_replace_of_current(), False),
    "fsync after the switch": ((rag.store, "_fsync_dir"), _fail_fsync_after_switch, True),
    "garbage collection": ((rag.store, "_collect_garbage"), lambda index, old: _raise_on("gc"), True),
}


def _raise_interrupt(*args: object, **kwargs: object) -> None:
    raise KeyboardInterrupt


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_ingest_failing_during_write_keeps_a_whole_generation(
    changed: Settings, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    (target, attr), factory, switched = FAULTS[fault]
    old_gen = generation_of(changed.index)
    assert old_gen is not None
    before = Retriever(changed).search(MARKER, k=3, mode="bm25")
    assert before == []  # the marker is only in the file this ingest adds

    with monkeypatch.context() as patch:
        patch.setattr(target, attr, factory(changed.index, old_gen))
        with pytest.raises((OSError, KeyboardInterrupt)):
            ingest(changed)

    data = check_index(changed.index)  # opens, checksums verified, counts agree
    hits = Retriever(changed, data).search(MARKER, k=3, mode="bm25")
    if switched:
        assert generation_of(changed.index) != old_gen
        assert hits and hits[0].chunk.source == "added.txt"
    else:
        assert generation_of(changed.index) == old_gen
        assert hits == before
    # CURRENT never names a folder that is not a finished generation.
    assert (current_generation(changed.index) / "manifest.json").exists()  # type: ignore[operator]

    # A reader that opened the live generation now, before the retry, must survive the retry's clean-up.
    reader = Retriever(changed)
    report = ingest(changed)
    assert not switched or not report.changed  # after the switch the work was done
    after = check_index(changed.index)
    assert Retriever(changed, after).search(MARKER, k=1, mode="bm25")[0].chunk.source == "added.txt"
    assert reader.search("voice of the child", k=2, mode="bm25")  # loads BM25 from its own generation
    leftovers = sorted(p.name for p in changed.index.iterdir() if p.name.startswith("gen-"))
    assert not [n for n in leftovers if n.endswith(".tmp")], leftovers
    assert len(leftovers) <= 2, leftovers


def test_interrupted_ingest_from_the_cli_says_the_index_is_unchanged(changed: Settings, tmp_path: Path) -> None:
    """SIGINT in the middle of the embedding: exit 130, one line, the old generation still live."""
    old_gen = generation_of(changed.index)
    hold = tmp_path / "hold"  # the fake embedder waits while this exists
    hold.touch()
    proc = subprocess.Popen(
        [*rla_command(fake=True), "--index", str(changed.index), "--corpus", str(changed.corpus), "ingest", "--json"],
        cwd=ROOT,
        env=rla_env(**{HOLD_ENV: str(hold)}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As from a terminal: a test run started in the background by a shell without job control ignores SIGINT,
        # and a child inherits that (Python then installs no handler, and Ctrl-C would do nothing).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    wait_for_lock(changed.index, proc)
    wait_for_file(tmp_path / "hold.embedding", proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("rla: interrupted")
    check_index(changed.index)
    assert generation_of(changed.index) == old_gen


# --- kill -9 at random moments (slow) -------------------------------------------------------------

KILLS_UNIFORM = 10  # anywhere in a run
KILLS_LATE = 9  # from just before embedding to the end
KILLS_WRITE = 11  # while the new generation is being written, anchored on its temp folder
QUERY = f"{MARKER} assessment shared with the health visitor"


def _versions() -> tuple[str, str]:
    base = (SEED_CORPUS / "nspcc-repository-march-2022.txt").read_text(encoding="utf-8")
    entry = (
        "\n\n9. Child Safeguarding Practice Review: Child Quokka\n\n"
        "Quokka was four when the family moved to the area; the school noticed bruising twice.\n\n"
        "Findings include: the quokka assessment was never shared with the health visitor; "
        "nobody saw the whole picture of Quokka's life.\n"
    )
    return base, base + entry


def _answer(settings: Settings) -> list[str]:
    data = check_index(settings.index)
    return [h.chunk.id for h in Retriever(settings, data).search(QUERY, k=5)]


def _generations(index: Path) -> set[tuple[str, int]]:
    """gen-* entries with their ctime: a temp folder that a run re-creates under a stale one's name counts as new."""
    out = set()
    for p in index.glob("gen-*"):
        with contextlib.suppress(FileNotFoundError):  # renamed or collected while we looked
            out.add((p.name, p.stat().st_ctime_ns))
    return out


def _phase(index: Path, before: set[tuple[str, int]], old_gen: str) -> str:
    """Where the kill landed, read from what it left on disk."""
    names = {name for name, _ in _generations(index) - before}
    if any(n.endswith(".tmp") for n in names):
        return "writing files"
    if names and generation_of(index) == old_gen:
        return "renamed, not switched"
    if generation_of(index) != old_gen:
        return "after the switch"
    return "before the write"


@pytest.mark.slow
def test_kill_9_at_random_moments_leaves_old_or_new_generation(fake_model: str, tmp_path: Path) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    shutil.copy(SEED_CORPUS / "cumbria-lessons-from-scrs.txt", corpus)
    target = corpus / "nspcc-repository-march-2022.txt"
    versions = _versions()
    settings = Settings(corpus=corpus, index=index, model=fake_model)
    # Every `rla ingest` below runs this snapshot of the package (with the fake embedder from tests/),
    # so that the before and after answers stay comparable even if someone edits rag/ meanwhile.
    shutil.copytree(ROOT / "rag", tmp_path / "code" / "rag", ignore=shutil.ignore_patterns("__pycache__"))
    # bm25s loaded up front, as the real model's scipy would have it: kills aimed at the write hit the writing.
    env = rla_env(PYTHONPATH=str(tmp_path / "code"), **{PRELOAD_ENV: "bm25s"})

    # Reference states and timings from uninterrupted runs.
    target.write_text(versions[0], encoding="utf-8")
    assert rla("ingest", "--json", index=index, corpus=corpus, env=env, fake=True).returncode == 0
    answers = {0: _answer(settings)}
    target.write_text(versions[1], encoding="utf-8")
    started = time.monotonic()
    proc = rla("ingest", "--json", index=index, corpus=corpus, env=env, fake=True)
    full_run = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    answers[1] = _answer(settings)
    assert answers[0] != answers[1]
    write_time, second_run = _time_the_write(settings, versions, answers, env)
    full_run = min(full_run, second_run)  # the less disturbed of two runs

    rng = random.Random(1729)
    plan = ["uniform"] * KILLS_UNIFORM + ["late"] * KILLS_LATE + ["write"] * KILLS_WRITE
    rng.shuffle(plan)
    outcomes: dict[tuple[str, str, str], int] = {}
    for kind in plan:
        live = check_index(index)
        version = _version(live, target.name, versions)
        old_gen = live.path.name
        target.write_text(versions[1 - version], encoding="utf-8")
        gens_before = _generations(index)

        child = subprocess.Popen(
            [*rla_command(fake=True), "--index", str(index), "--corpus", str(corpus), "ingest", "--json"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        t0 = time.monotonic()
        if kind == "write":
            _wait_for_temp_folder(index, child, gens_before)
            time.sleep(rng.uniform(0, write_time * 1.1))
        else:
            # "late": the last seconds of a run, when embedding and writing happen.
            delay = rng.uniform(0, full_run) if kind == "uniform" else rng.uniform(max(0.0, full_run - 4.0), full_run)
            while time.monotonic() - t0 < delay and child.poll() is None:
                time.sleep(0.005)
            if child.poll() is not None:  # quicker than measured: aim the next kills by this run
                full_run = min(full_run, time.monotonic() - t0)
        child.send_signal(signal.SIGKILL)  # a no-op if it has already exited
        _, err = child.communicate(timeout=60)
        assert child.returncode in (-signal.SIGKILL, 0), err  # 0: it finished before the kill
        assert b"Traceback" not in err, err.decode(errors="replace")

        phase = "finished" if child.returncode == 0 else _phase(index, gens_before, old_gen)
        data = check_index(index)  # opens with checksums verified; counts agree
        now = _version(data, target.name, versions)
        if data.path.name == old_gen:
            assert now == version, "generation unchanged but its content changed"
        else:
            assert int(data.path.name.split("-")[1]) > int(old_gen.split("-")[1]) and now == 1 - version
        assert [h.chunk.id for h in Retriever(settings, data).search(QUERY, k=5)] == answers[now]
        result = "old" if data.path.name == old_gen else "new"
        outcomes[(kind, phase, result)] = outcomes.get((kind, phase, result), 0) + 1

    # After all that, an uninterrupted ingest still works and cleans up. It is given work to do: an ingest
    # that finds nothing changed writes nothing, so it collects nothing either (a kill between the switch
    # and the clean-up leaves three generations until the next write).
    version = 1 - _version(check_index(index), target.name, versions)
    target.write_text(versions[version], encoding="utf-8")
    proc = rla("ingest", "--json", index=index, corpus=corpus, env=env, fake=True)
    assert proc.returncode == 0, proc.stderr
    assert _answer(settings) == answers[version]
    left = sorted(p.name for p in index.iterdir() if p.name.startswith("gen-"))
    assert len(left) <= 2 and not any(n.endswith(".tmp") for n in left), left

    summary = "\n".join(f"  {k[0]:<8} {k[1]:<22} -> {k[2]}: {n}" for k, n in sorted(outcomes.items()))
    print(
        f"\nfull run {full_run:.1f} s, write to switch {write_time:.2f} s; {len(plan)} kills:\n{summary}",
        file=sys.stderr,
    )
    assert sum(outcomes.values()) == len(plan) >= 30
    assert any(k[1] == "writing files" for k in outcomes), outcomes  # the write itself was hit


def _version(data: IndexData, name: str, versions: tuple[str, str]) -> int:
    """Which of the two versions of the changing file the generation holds."""
    return 1 if data.manifest.sources[name].sha256 == _sha(versions[1]) else 0


def _sha(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _wait_for_temp_folder(index: Path, child: subprocess.Popen[bytes], before: set[tuple[str, int]]) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if child.poll() is not None or _generations(index) - before:
            return
        time.sleep(0.002)
    raise AssertionError("the ingest never started writing")


def _time_the_write(
    settings: Settings, versions: tuple[str, str], answers: dict[int, list[str]], env: dict[str, str]
) -> tuple[float, float]:
    """Seconds from the temp folder's appearance to the CURRENT switch, and of the whole run, for an
    uninterrupted ingest back to version 0.

    The process lives on for a second or more after the switch (clean-up, interpreter exit), so kills
    aimed at the write are drawn from this span, not from the time to exit.
    """
    target = settings.corpus / "nspcc-repository-march-2022.txt"
    target.write_text(versions[0], encoding="utf-8")
    before = _generations(settings.index)
    old_gen = generation_of(settings.index)
    started = time.monotonic()
    child = subprocess.Popen(
        [*rla_command(fake=True), "--index", str(settings.index), "--corpus", str(settings.corpus), "ingest", "--json"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait_for_temp_folder(settings.index, child, before)
    seen = time.monotonic()
    while generation_of(settings.index) == old_gen and child.poll() is None:
        time.sleep(0.001)
    switched = time.monotonic() - seen
    assert child.wait(timeout=180) == 0
    whole = time.monotonic() - started
    assert _answer(settings) == answers[0]
    return switched, whole
