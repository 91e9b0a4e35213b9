"""The web app's private folder: owner-only, swept of old files, cleaned of dead processes' folders, removed at exit."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

from rag.web.scratch import Scratch


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_folder_is_private_to_this_process_and_removed_on_close(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        scratch = Scratch.create(tmp_path / "cache", max_age_s=60)
    finally:
        os.umask(old_umask)
    assert scratch.root == (tmp_path / "cache" / f"web-{os.getpid()}").resolve()
    assert _mode(scratch.root) == 0o700
    folder = scratch.downloads("rla-brief-")
    (folder / "pack.md").write_text("x", encoding="utf-8")
    assert folder.parent == scratch.root
    scratch.close()
    assert not scratch.root.exists()


def test_folders_of_processes_that_no_longer_run_are_removed(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone = cache / f"web-{int(dead.stdout)}"
    alive = cache / f"web-{os.getppid()}"  # a running process: its folder stays
    other = cache / "encoders"
    for folder in (gone, alive, other):
        folder.mkdir(parents=True)
        (folder / "upload.txt").write_text("child's name", encoding="utf-8")
    scratch = Scratch.create(cache, max_age_s=60)
    assert not gone.exists()
    assert alive.exists() and other.exists()
    scratch.close()


def test_sweep_removes_files_older_than_the_limit_and_empty_folders(tmp_path: Path) -> None:
    scratch = Scratch.create(tmp_path, max_age_s=600)
    old_dir, new_dir = scratch.root / "a" / "b", scratch.root / "c"
    old_dir.mkdir(parents=True)
    new_dir.mkdir()
    old, new = old_dir / "brief.docx", new_dir / "upload.pdf"
    old.write_bytes(b"old")
    new.write_bytes(b"new")
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    assert scratch.sweep() == 1
    assert not old.exists() and not (scratch.root / "a").exists()
    assert new.read_bytes() == b"new"
    assert scratch.sweep(now=time.time() + 601) == 1
    assert list(scratch.root.iterdir()) == []
    assert scratch.root.exists()
    scratch.close()


def test_sweeper_thread_runs_until_closed(tmp_path: Path) -> None:
    scratch = Scratch.create(tmp_path, max_age_s=0.05)
    f = scratch.root / "x" / "old.md"
    f.parent.mkdir()
    f.write_text("x", encoding="utf-8")
    scratch.start(every_s=0.05)
    deadline = time.monotonic() + 10
    while f.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not f.exists()
    scratch.close()
    assert not scratch.root.exists()


def test_discard_deletes_an_upload_and_its_folder_but_nothing_outside(tmp_path: Path) -> None:
    scratch = Scratch.create(tmp_path / "cache", max_age_s=60)
    upload = scratch.root / "3f2a" / "review.pdf"
    upload.parent.mkdir()
    upload.write_bytes(b"%PDF-")
    outside = tmp_path / "corpus" / "review.pdf"
    outside.parent.mkdir()
    outside.write_bytes(b"%PDF-")
    sneaky = scratch.root / ".." / ".." / "corpus" / "review.pdf"
    assert scratch.discard(upload) is True
    assert not upload.exists() and not upload.parent.exists() and scratch.root.exists()
    assert scratch.discard(outside) is False and scratch.discard(sneaky) is False
    assert scratch.discard(scratch.root) is False
    assert outside.exists() and scratch.root.exists()
    scratch.close()
