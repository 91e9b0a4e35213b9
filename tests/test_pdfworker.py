"""The PDF worker obeys its limits and never outlives the process that started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from faults import ROOT
from pdfgen import assemble, stream

from rag.errors import SourceError
from rag.pdfworker import EXIT_ORPHANED
from rag.settings import Settings
from rag.sources import read_source

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc; PR_SET_PDEATHSIG is Linux's")


def shared_stream_pdf(pages: int, stream_bytes: int) -> bytes:
    """Many pages that all draw one big content stream: tens of KB that keep pypdf busy for minutes.

    (A 400-page file sharing a 2.6 MB stream once kept the worker busy for over 600 s; here one page
    of a 300 KB stream takes about a second, so 400 pages take minutes.)
    """
    line = b"BT /F1 12 Tf 72 720 Td (Learning includes: a content stream shared by every page.) Tj ET\n"
    kids = b" ".join(b"%d 0 R" % (5 + i) for i in range(pages))
    page = (
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>"
    )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        stream(line * (stream_bytes // len(line)), compress=True),
    ]
    return assemble(objects + [page] * pages)


@pytest.fixture()
def hostile(tmp_path: Path) -> Path:
    path = tmp_path / "shared-stream.pdf"
    path.write_bytes(shared_stream_pdf(400, 300_000))
    assert path.stat().st_size < 100_000  # small: the cost is in what it asks the parser to do
    return path


def workers(path: Path) -> list[int]:
    """Live (not zombie) processes running the PDF worker on this file."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue  # exited while we looked
        if b"rag.pdfworker" in cmdline and str(path).encode() in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def wait_until(condition, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


def test_hostile_pdf_is_skipped_at_the_timeout_and_its_worker_is_gone(hostile: Path) -> None:
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"shared-stream\.pdf: PDF parsing timed out after 2 s"):
        read_source(hostile, hostile.parent, replace(Settings(), pdf_timeout_s=2.0))
    assert time.monotonic() - started < 2.0 + 4
    assert workers(hostile) == []


def test_interrupting_the_parent_kills_the_worker(hostile: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C (or any error) while waiting for the worker: it is killed, not left behind."""
    started: list[int] = []
    real = subprocess.Popen.communicate

    def interrupted(self: subprocess.Popen[bytes], *args: object, **kwargs: object) -> object:
        if not started:
            started.append(self.pid)
            assert wait_until(lambda: workers(hostile), 20)
            time.sleep(0.5)  # parsing by now
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(subprocess.Popen, "communicate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        read_source(hostile, hostile.parent, replace(Settings(), pdf_timeout_s=120.0))
    assert started and workers(hostile) == []


def test_the_worker_limits_its_own_cpu_time(hostile: Path) -> None:
    """With nobody to time it out, the worker still ends: SIGXCPU after its CPU allowance."""
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "rag.pdfworker", "--cpu-s", "1", str(hostile)],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode in (-signal.SIGXCPU, -signal.SIGKILL), proc
    assert proc.stdout == b""
    assert time.monotonic() - started < 30


def test_a_worker_whose_parent_is_already_gone_exits_at_once(hostile: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "rag.pdfworker", "--parent-pid", str(os.getpid() + 10**6), str(hostile)],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == EXIT_ORPHANED and proc.stdout == b""


@pytest.mark.slow
def test_kill_9_of_the_parent_leaves_no_worker(hostile: Path) -> None:
    """`kill -9` of a process reading a PDF: its worker is gone within 2 s, not re-parented and spinning."""
    code = (
        "import sys; from pathlib import Path; from rag.settings import Settings; from rag.sources import read_source; "
        "read_source(Path(sys.argv[1]), Path(sys.argv[1]).parent, Settings(pdf_timeout_s=600.0))"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", code, str(hostile)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    try:
        assert wait_until(lambda: workers(hostile), 30), "the worker never started"
        (worker,) = workers(hostile)
        time.sleep(1.0)  # well into parsing
        assert worker in workers(hostile)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        assert wait_until(lambda: not workers(hostile), 2.0), f"worker {worker} outlived its parent"
    finally:
        parent.kill()
        parent.wait()
        for pid in workers(hostile):
            os.kill(pid, signal.SIGKILL)
