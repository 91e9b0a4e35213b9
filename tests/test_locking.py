"""One writer at a time: a second ingest fails fast or waits; readers keep answering from a whole generation."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from faults import check_index, check_one_line_error, generation_of, marker_review, rla, rla_popen, wait_for_lock

from rag.errors import IndexLocked
from rag.retrieve import Retriever
from rag.settings import Settings
from rag.store import write_lock

MARKER = "wombat"


@pytest.fixture()
def changed(small_copy: Settings) -> Settings:
    """A copy of a two-file index whose corpus has gained one review, so an ingest has work to do."""
    (small_copy.corpus / "added.txt").write_text(marker_review(MARKER), encoding="utf-8")
    return small_copy


def test_second_writer_fails_fast_waits_with_wait_and_readers_keep_answering(changed: Settings) -> None:
    old_gen = generation_of(changed.index)
    first = rla_popen("ingest", "--json", index=changed.index, corpus=changed.corpus)
    try:
        wait_for_lock(changed.index, first)
        # Freeze the writer while it holds the lock, so that what follows happens during its ingest
        # however slow or loaded the machine is; it resumes below.
        os.kill(first.pid, signal.SIGSTOP)
        # A search from the command line meanwhile (started now: it takes a while to load the model).
        during = rla_popen("search", MARKER, "--mode", "bm25", "--json", index=changed.index)

        # A second writer: exit 2 at once, one line naming the index and the holder.
        started = time.monotonic()
        second = rla("ingest", index=changed.index, corpus=changed.corpus)
        took = time.monotonic() - started
        line = check_one_line_error(second, f"index {changed.index} is locked", f"pid {first.pid}", "--wait")
        assert took < 15, (took, line)

        # --wait shorter than the ingest: still refused, after waiting.
        started = time.monotonic()
        short = rla("ingest", "--wait", "1.5", index=changed.index, corpus=changed.corpus)
        assert time.monotonic() - started >= 1.5
        check_one_line_error(short, "is locked")

        # A patient writer, started now, finishes after the first.
        waiter = rla_popen("ingest", "--wait", "600", "--json", index=changed.index, corpus=changed.corpus)

        # Readers during the ingest: the CLI and the library answer from the previous generation.
        early_reader = Retriever(changed)
        out, err = during.communicate(timeout=300)
        assert during.returncode == 0 and "Traceback" not in err, err
        assert json.loads(out)["hits"] == []
        assert early_reader.data.path.name == old_gen
        assert waiter.poll() is None  # still waiting for the lock
        os.kill(first.pid, signal.SIGCONT)

        # Keep reading until the ingest ends: every open sees a whole generation, old or new.
        seen: dict[str, int] = {}
        while first.poll() is None:
            data = check_index(changed.index)  # checksums verified, counts agree
            gen = data.path.name
            assert ("added.txt" in data.sources) == (gen != old_gen)
            seen[gen] = seen.get(gen, 0) + 1
            time.sleep(0.2)  # leave the writer most of the CPU
        assert seen.get(old_gen, 0) >= 1
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
        for proc in (first, during):
            if proc.poll() is None:
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
