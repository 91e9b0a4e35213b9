"""One writer at a time: a second ingest fails fast or waits; readers keep answering from a whole generation.

Plumbing: every index and `rla` child here uses the fake embedder (tests_support), not the model.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from faults import (
    check_index,
    check_one_line_error,
    generation_of,
    marker_review,
    rla,
    rla_env,
    rla_popen,
    wait_for_file,
    wait_for_lock,
)
from tests_support import HOLD_ENV

from rag.errors import IndexLocked
from rag.retrieve import Retriever
from rag.settings import Settings
from rag.store import write_lock

MARKER = "wombat"


@pytest.fixture()
def changed(fake_small_copy: Settings) -> Settings:
    """A copy of a two-file index whose corpus has gained one review, so an ingest has work to do."""
    (fake_small_copy.corpus / "added.txt").write_text(marker_review(MARKER), encoding="utf-8")
    return fake_small_copy


def test_second_writer_fails_fast_waits_with_wait_and_readers_keep_answering(changed: Settings, tmp_path: Path) -> None:
    old_gen = generation_of(changed.index)
    # The writer stops in the middle of its embedding while this file exists, so that what follows
    # happens during its ingest however quick, slow or loaded the machine is; it resumes below.
    hold = tmp_path / "hold"
    hold.touch()
    env = rla_env(**{HOLD_ENV: str(hold)})
    first = rla_popen("ingest", "--json", index=changed.index, corpus=changed.corpus, env=env, fake=True)
    during = waiter = None
    try:
        wait_for_lock(changed.index, first)
        wait_for_file(tmp_path / "hold.embedding", first)
        # A search from the command line meanwhile.
        during = rla_popen("search", MARKER, "--mode", "bm25", "--json", index=changed.index, fake=True)

        # A second writer: exit 2 at once, one line naming the index and the holder.
        started = time.monotonic()
        second = rla("ingest", index=changed.index, corpus=changed.corpus, fake=True)
        took = time.monotonic() - started
        line = check_one_line_error(second, f"index {changed.index} is locked", f"pid {first.pid}", "--wait")
        assert took < 15, (took, line)

        # --wait shorter than the ingest: still refused, after waiting.
        started = time.monotonic()
        short = rla("ingest", "--wait", "1.5", index=changed.index, corpus=changed.corpus, fake=True)
        assert time.monotonic() - started >= 1.5
        check_one_line_error(short, "is locked")

        # A patient writer, started now, finishes after the first.
        waiter = rla_popen("ingest", "--wait", "600", "--json", index=changed.index, corpus=changed.corpus, fake=True)

        # Readers during the ingest: the CLI and the library answer from the previous generation.
        early_reader = Retriever(changed)
        out, err = during.communicate(timeout=300)
        assert during.returncode == 0 and "Traceback" not in err, err
        assert json.loads(out)["hits"] == []
        assert early_reader.data.path.name == old_gen
        assert check_index(changed.index).path.name == old_gen
        assert first.poll() is None and waiter.poll() is None  # one held mid-ingest, one waiting for the lock
        hold.unlink()

        # Keep reading until the ingest ends: every open sees a whole generation, old or new.
        while first.poll() is None:
            data = check_index(changed.index)  # checksums verified, counts agree
            assert ("added.txt" in data.sources) == (data.path.name != old_gen)
            time.sleep(0.05)  # leave the writer most of the CPU
        out, err = first.communicate(timeout=600)
        assert first.returncode == 0, err
        report = json.loads(out)
        assert report["changed"] and report["generation"] != old_gen

        out, err = waiter.communicate(timeout=600)
        assert waiter.returncode == 0, err
        assert "Traceback" not in err
        waited = json.loads(out)
        assert waited["generation"] == report["generation"] and not waited["changed"]  # nothing left to do
    finally:
        for proc in (first, during, waiter):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.communicate()

    check_index(changed.index)
    after = Retriever(changed).search(MARKER, k=1, mode="bm25")
    assert after and after[0].chunk.source == "added.txt"
    # The reader opened before the switch still answers (BM25 loads lazily from its own generation).
    assert early_reader.search("disguised compliance", k=2, mode="bm25")
    assert early_reader.search(MARKER, k=1, mode="bm25") == []


def test_write_lock_in_the_library(tmp_path: Path) -> None:
    with write_lock(tmp_path):
        with pytest.raises(IndexLocked, match=r"is locked: an ingest is running \(pid \d+\)"), write_lock(tmp_path):
            pass
        started = time.monotonic()
        with pytest.raises(IndexLocked), write_lock(tmp_path, wait_s=0.5):
            pass
        assert time.monotonic() - started >= 0.5
    with write_lock(tmp_path):  # released on exit, and after an error inside
        pass
    with pytest.raises(RuntimeError), write_lock(tmp_path):
        raise RuntimeError("boom")
    with write_lock(tmp_path):
        pass


def test_a_stale_lock_file_from_a_killed_writer_does_not_block(tmp_path: Path) -> None:
    """flock dies with its process: a LOCK file left with a dead pid in it is no obstacle."""
    (tmp_path / "LOCK").write_text("999999")
    with write_lock(tmp_path):
        assert (tmp_path / "LOCK").read_text() != "999999"
