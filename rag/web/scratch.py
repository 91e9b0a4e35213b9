"""The web app's private folder for uploads and generated downloads: mode 0700, swept on a timer, removed at exit.

Gradio keeps every uploaded file and every file a handler returns in its cache folder and serves them by path;
pointed here (GRADIO_TEMP_DIR, set before gradio is imported), none of them outlives its use.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

log = logging.getLogger("rla.web")

PREFIX = "web-"


class Scratch:
    """One folder per app process, `<cache>/web-<pid>`, readable by its owner only."""

    def __init__(self, root: Path, max_age_s: float) -> None:
        self.root = root
        self.max_age_s = max_age_s
        self._stop = threading.Event()
        self._sweeper: threading.Thread | None = None

    @classmethod
    def create(cls, cache: Path, max_age_s: float) -> Scratch:
        """Make this process's folder (and remove those left by app processes that no longer run)."""
        cache.mkdir(parents=True, exist_ok=True)
        for old in cache.glob(f"{PREFIX}*"):
            pid = old.name.removeprefix(PREFIX)
            if pid.isdigit() and int(pid) != os.getpid() and not _running(int(pid)):
                shutil.rmtree(old, ignore_errors=True)
        root = cache / f"{PREFIX}{os.getpid()}"
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(mode=0o700)
        root.chmod(0o700)  # whatever the umask
        return cls(root.resolve(), max_age_s)

    def holds(self, path: str | Path) -> bool:
        p = Path(path).resolve()
        return p != self.root and p.is_relative_to(self.root)

    def downloads(self, prefix: str) -> Path:
        """A new folder for files a handler is about to offer as downloads."""
        return Path(tempfile.mkdtemp(prefix=prefix, dir=self.root))

    def discard(self, path: str | Path) -> bool:
        """Delete a file of this folder (an upload once it is handled) and the folders it leaves empty."""
        if not self.holds(path):
            return False
        p = Path(path).resolve()
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
        self._prune(p.parent)
        return True

    def _prune(self, folder: Path) -> None:
        while folder != self.root and folder.is_relative_to(self.root):
            try:
                folder.rmdir()
            except OSError:
                return  # not empty, or gone
            folder = folder.parent

    def sweep(self, now: float | None = None) -> int:
        """Delete files older than max_age_s (by modification time) and then empty folders; returns how many."""
        cutoff = (time.time() if now is None else now) - self.max_age_s
        removed = 0
        for folder, dirs, files in os.walk(self.root, topdown=False):
            for name in files:
                p = Path(folder, name)
                try:
                    if p.lstat().st_mtime < cutoff:
                        p.unlink()
                        removed += 1
                except FileNotFoundError:
                    continue
            for name in dirs:
                self._prune(Path(folder, name))
        return removed

    def start(self, every_s: float) -> None:
        """Sweep every `every_s` seconds in a daemon thread until `close()`."""

        def run() -> None:
            while not self._stop.wait(every_s):
                try:
                    n = self.sweep()
                    if n:
                        log.info("removed %d old upload or download files", n)
                except OSError as e:  # never let the sweeper die quietly
                    log.warning("could not sweep %s: %s", self.root, e)

        self._sweeper = threading.Thread(target=run, name="rla-scratch-sweeper", daemon=True)
        self._sweeper.start()

    def close(self) -> None:
        """Stop the sweeper and remove the folder with everything in it."""
        self._stop.set()
        if self._sweeper is not None:
            self._sweeper.join(timeout=5)
        shutil.rmtree(self.root, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True
