"""Helpers for the fault and abuse tests: hostile PDFs, `rla` subprocesses, index consistency checks."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

from pdfgen import assemble, encrypted_pdf, stream, text_pdf
from tests_support import FAKE_MODEL

from rag.store import IndexData, current_generation, open_index

ROOT = Path(__file__).resolve().parent.parent
SEED_CORPUS = ROOT / "corpus"

# --- running the real command ----------------------------------------------------------------


def rla_command(fake: bool = False) -> list[str]:
    """The installed `rla` script next to this interpreter, else `python -m rag.cli`; with `fake`, the
    launcher that runs the same command line with the fake embedder (tests_support) as its model."""
    if fake:
        return [sys.executable, str(ROOT / "tests" / "fake_rla.py"), "--model", FAKE_MODEL]
    script = Path(sys.executable).with_name("rla")
    return [str(script)] if script.exists() else [sys.executable, "-m", "rag.cli"]


def rla_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RLA_") or k == "RLA_CACHE"}
    env.update({"PYTHONUNBUFFERED": "1", "COLUMNS": "200", **extra})
    return env


def rla(
    *args: str | Path,
    index: Path | None = None,
    corpus: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 180,
    fake: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run `rla [--corpus C] [--index I] ARGS…` to completion and capture its text output."""
    return subprocess.run(
        [*rla_command(fake), *_globals(index, corpus), *map(str, args)],
        cwd=ROOT,
        env=env or rla_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def rla_popen(
    *args: str | Path,
    index: Path | None = None,
    corpus: Path | None = None,
    env: dict[str, str] | None = None,
    fake: bool = False,
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*rla_command(fake), *_globals(index, corpus), *map(str, args)],
        cwd=ROOT,
        env=env or rla_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _globals(index: Path | None, corpus: Path | None) -> list[str]:
    out = []
    if corpus is not None:
        out += ["--corpus", str(corpus)]
    if index is not None:
        out += ["--index", str(index)]
    return out


def check_one_line_error(proc: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """A failure the way the CLI promises it: exit 2, one `rla: …` line on stderr, no traceback."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rla: "), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


# --- index consistency ----------------------------------------------------------------------


def wait_for_lock(index: Path, proc: subprocess.Popen[str], timeout: float = 180) -> None:
    """Until the child has taken the index's write lock (it writes its pid into LOCK once it holds it)."""
    deadline = time.monotonic() + timeout
    lock = index / "LOCK"
    while time.monotonic() < deadline:
        if lock.exists() and lock.read_text(errors="replace").strip() == str(proc.pid):
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError("the ingest never took the lock")


def wait_for_file(path: Path, proc: subprocess.Popen[str], timeout: float = 180) -> None:
    """Until the child has made `path` (the fake embedder's sign that it is held mid-embedding)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError(f"the child never made {path}")


def check_index(index_dir: Path) -> IndexData:
    """Open with checksums verified and assert that the three views of the row count agree. With a writer running,
    the generation opened is the one live just before or just after the open (it may switch in between)."""
    before = current_generation(index_dir)
    data = open_index(index_dir)
    after = current_generation(index_dir)
    assert after is not None and data.path in (before, after)
    lines = [line for line in (data.path / "chunks.jsonl").read_text(encoding="utf-8").split("\n") if line.strip()]
    counts = data.manifest.counts
    assert counts.chunks == len(lines) == data.faiss_index.ntotal == len(data.chunks)
    assert counts.reviews == len(data.reviews)
    assert counts.sources == len(data.sources) == len(data.manifest.sources)
    return data


def generation_of(index_dir: Path) -> str | None:
    gen = current_generation(index_dir)
    return gen.name if gen else None


def chunk_texts(index_dir: Path) -> list[str]:
    gen = current_generation(index_dir)
    assert gen is not None
    return [
        json.loads(line)["text"] for line in (gen / "chunks.jsonl").read_text(encoding="utf-8").splitlines() if line
    ]


# --- PDFs: valid seeds ----------------------------------------------------------------------

REVIEW_PAGES = [
    (
        "Child Q: serious case review\nLearning includes: the voice of the child was not heard;\n"
        "professionals did not share information about the mother's new partner."
    ),
    (
        "Recommendations include: health visitors should ask about unknown men in the household;\n"
        "schools should record missed appointments as was not brought."
    ),
    "Good practice identified: the GP made a timely referral to children's social care.",
]


def seed_pdfs() -> dict[str, bytes]:
    """A few valid PDFs of different shapes for the mutators to start from."""
    return {
        "plain": text_pdf(REVIEW_PAGES),
        "flate": text_pdf(REVIEW_PAGES, compress=True),
        "one-page": text_pdf(["Baby R: learning review\nKey findings: disguised compliance masked neglect."]),
        "rc4-open": encrypted_pdf(REVIEW_PAGES[:2], ""),
    }


_FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
_TEXT = b"BT /F1 12 Tf 72 720 Td (Learning includes: cycles must not hang the parser.) Tj ET"


def _page(parent: int, contents: bytes, font: int = 3) -> bytes:
    return (
        b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 %d 0 R >> >> /Contents %s >>"
        % (parent, font, contents)
    )


def cyclic_pdfs() -> dict[str, bytes]:
    """Object graphs that loop back on themselves, or nest absurdly deep."""
    cat, pages = b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>"
    text = stream(_TEXT)
    return {
        # A Pages node that lists itself as its own kid.
        "kids-self": assemble(
            [cat, b"<< /Type /Pages /Kids [2 0 R 4 0 R] /Count 2 >>", _FONT, _page(2, b"5 0 R"), text]
        ),
        # Two Pages nodes that are each other's kids.
        "kids-cycle": assemble(
            [
                cat,
                b"<< /Type /Pages /Kids [6 0 R] /Count 1 >>",
                _FONT,
                _page(6, b"5 0 R"),
                text,
                b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R 4 0 R] /Count 1 >>",
            ]
        ),
        # A page whose /Parent chain loops (inherited attributes walk up it); no MediaBox or Resources here.
        "parent-loop": assemble(
            [
                cat,
                b"<< /Type /Pages /Kids [4 0 R] /Count 1 /Parent 6 0 R >>",
                _FONT,
                b"<< /Type /Page /Parent 2 0 R /Contents 5 0 R >>",
                text,
                b"<< /Type /Pages /Parent 2 0 R /Kids [] >>",
            ]
        ),
        # An object that is only a reference to itself, used as the page's contents and resources.
        "self-reference": assemble(
            [cat, pages, _FONT, b"<< /Type /Page /Parent 2 0 R /Resources 5 0 R /Contents 5 0 R >>", b"5 0 R"]
        ),
        # Two objects that refer to each other and nothing else.
        "reference-pair": assemble(
            [cat, pages, _FONT, b"<< /Type /Page /Parent 2 0 R /Contents 5 0 R >>", b"6 0 R", b"5 0 R"]
        ),
        # The catalog's /Pages is the catalog.
        "catalog-loop": assemble([b"<< /Type /Catalog /Pages 1 0 R /Kids [1 0 R] /Count 1 >>"]),
        # A page's font resource dictionary that contains itself.
        "resources-loop": assemble(
            [
                cat,
                pages,
                b"<< /Font 3 0 R /F1 3 0 R /Self 3 0 R >>",
                b"<< /Type /Page /Parent 2 0 R /Resources 3 0 R /Contents 5 0 R >>",
                text,
            ]
        ),
        # Outlines whose /Next entries go round in a circle.
        "outline-loop": assemble(
            [
                b"<< /Type /Catalog /Pages 2 0 R /Outlines 6 0 R >>",
                pages,
                _FONT,
                _page(2, b"5 0 R"),
                text,
                b"<< /Type /Outlines /First 7 0 R /Last 7 0 R /Count 2 >>",
                b"<< /Title (a) /Parent 6 0 R /Next 8 0 R /Prev 8 0 R >>",
                b"<< /Title (b) /Parent 6 0 R /Next 7 0 R /Prev 7 0 R >>",
            ]
        ),
        # A form XObject that draws itself.
        "xobject-loop": assemble(
            [
                cat,
                pages,
                _FONT,
                (
                    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                    b"/Resources << /Font << /F1 3 0 R >> /XObject << /X 6 0 R >> >> /Contents 5 0 R >>"
                ),
                stream(b"/X Do " + _TEXT),
                (
                    b"<< /Type /XObject /Subtype /Form /BBox [0 0 612 792] "
                    b"/Resources << /Font << /F1 3 0 R >> /XObject << /X 6 0 R >> >> /Length 5 >>"
                    b"\nstream\n/X Do\nendstream"
                ),
            ]
        ),
        # Arrays nested 50,000 deep: a recursive-descent parser runs out of stack.
        "deep-arrays": assemble([cat, pages, _FONT, _page(2, b"5 0 R"), b"[" * 50_000 + b"]" * 50_000]),
        # Dictionaries nested deep inside the page itself.
        "deep-dicts": assemble(
            [
                cat,
                pages,
                _FONT,
                _page(2, b"5 0 R").replace(
                    b"/Type /Page", b"/Deep " + b"<< /A " * 20_000 + b"1" + b" >>" * 20_000 + b" /Type /Page"
                ),
                text,
            ]
        ),
        # A page tree that claims a billion pages.
        "huge-count": assemble(
            [cat, b"<< /Type /Pages /Kids [4 0 R] /Count 1000000000 >>", _FONT, _page(2, b"5 0 R"), text]
        ),
        # The trailer's /Root points back into the xref stream position / a missing object.
        "root-missing": assemble([cat, pages, _FONT, _page(2, b"5 0 R"), text], root=99),
    }


def zero_bomb(inflated_bytes: int, streams: int = 1) -> bytes:
    """One page whose content is `streams` FlateDecode streams, each inflating to that many zero bytes."""
    piece = _zeros_deflated(inflated_bytes)
    body = b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(piece), piece)
    contents = b"[" + b" ".join(b"%d 0 R" % (5 + i) for i in range(streams)) + b"]"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        _FONT,
        _page(2, contents),
    ]
    return assemble(objects + [body] * streams)


def _zeros_deflated(n: int) -> bytes:
    comp = zlib.compressobj(9)
    block = bytes(1 << 20)
    parts = [comp.compress(block) for _ in range(n >> 20)]
    parts += [comp.compress(bytes(n & ((1 << 20) - 1))), comp.flush()]
    return b"".join(parts)


# --- PDFs: mutators -------------------------------------------------------------------------

Mutator = Callable[[bytes, random.Random], bytes]


def flip_bytes(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.choice((1, 2, 4, 8, 32))):
        out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data) // 8, len(data))]


def duplicate_chunk(data: bytes, rng: random.Random) -> bytes:
    start = rng.randrange(len(data))
    piece = data[start : start + rng.randrange(1, 400)]
    at = rng.randrange(len(data))
    return data[:at] + piece * rng.choice((1, 2, 50)) + data[at:]


def corrupt_xref(data: bytes, rng: random.Random) -> bytes:
    """Point xref entries or startxref somewhere wrong, or drop the table."""
    choice = rng.randrange(4)
    if choice == 0:
        entries = list(re.finditer(rb"(\d{10}) (\d{5}) n", data))
        if entries:
            out = bytearray(data)
            for m in rng.sample(entries, k=min(len(entries), rng.randint(1, 3))):
                out[m.start(1) : m.end(1)] = b"%010d" % rng.randrange(0, len(data) * 2)
            return bytes(out)
    if choice == 1:
        return re.sub(rb"startxref\s+\d+", b"startxref\n%d" % rng.randrange(0, len(data) * 2), data)
    if choice == 2:
        return re.sub(rb"xref\n.*?trailer", b"trailer", data, flags=re.DOTALL)
    return re.sub(
        rb"xref\n0 (\d+)", lambda m: b"xref\n0 %d" % (int(m.group(1)) + rng.choice((-3, 5, 10**6))), data, count=1
    )


def corrupt_length(data: bytes, rng: random.Random) -> bytes:
    """A stream's /Length made too short, too long, zero, negative or absurd."""
    matches = list(re.finditer(rb"/Length (\d+)", data))
    if not matches:
        return flip_bytes(data, rng)
    m = rng.choice(matches)
    n = int(m.group(1))
    new = rng.choice((0, -1, n - 1, n + 1, n // 2, n * 10, 2**31, 10**15))
    return data[: m.start(1)] + str(new).encode() + data[m.end(1) :]


def delete_object(data: bytes, rng: random.Random) -> bytes:
    """Drop one or two whole `N 0 obj … endobj` blocks, leaving the xref stale."""
    blocks = list(re.finditer(rb"\d+ 0 obj.*?endobj\n?", data, flags=re.DOTALL))
    if not blocks:
        return truncate(data, rng)
    out = data
    for m in sorted(rng.sample(blocks, k=min(len(blocks), rng.choice((1, 1, 2)))), key=lambda m: -m.start()):
        out = out[: m.start()] + out[m.end() :]
    return out


def mixed(data: bytes, rng: random.Random) -> bytes:
    for _ in range(rng.randint(2, 3)):
        data = rng.choice([flip_bytes, truncate, duplicate_chunk, corrupt_xref, corrupt_length, delete_object])(
            data, rng
        )
        if not data:
            break
    return data or b"%PDF-"


MUTATORS: dict[str, Mutator] = {
    "flip": flip_bytes,
    "truncate": truncate,
    "duplicate": duplicate_chunk,
    "xref": corrupt_xref,
    "length": corrupt_length,
    "delete": delete_object,
    "mixed": mixed,
}


def mutants(count: int, seed: int = 20240601) -> list[tuple[str, bytes]]:
    """`count` mutated PDFs, the same ones on every run: (name, bytes)."""
    rng = random.Random(seed)
    seeds = sorted(seed_pdfs().items())
    out = []
    for i in range(count):
        seed_name, data = seeds[i % len(seeds)]
        mutator_name = sorted(MUTATORS)[(i // len(seeds)) % len(MUTATORS)]
        out.append((f"{i:04d}-{seed_name}-{mutator_name}.pdf", MUTATORS[mutator_name](data, rng)))
    return out


def skip_kind(reason: str) -> str:
    """The category of a SourceError message about a PDF, for counting."""
    for needle, kind in (
        ("encrypted PDF (password", "encrypted"),
        ("needs an extra package", "dependency"),
        ("needs more than", "memory"),
        ("timed out", "timeout"),
        ("parser crashed", "crash"),
        ("corrupt or unreadable", "corrupt"),
        ("no extractable text", "no text"),
        ("has no pages", "no pages"),
        ("not a PDF file", "not a PDF"),
        ("no text to index", "no reviews"),
    ):
        if needle in reason:
            return kind
    return "other"


# --- corpora that change under an ingest ------------------------------------------------------


def marker_review(marker: str, extra: str = "") -> str:
    """A short review whose text holds `marker`, a word found nowhere in the seed corpus."""
    name = marker.title()
    return (
        f"Child {name}: serious case review\n\n"
        f"{name} was four when the family moved to the area; the school noticed bruising twice.\n\n"
        f"Learning includes: the {marker} assessment was never shared with the health visitor, "
        f"so nobody saw the whole picture of {name}'s life.{extra}\n"
    )
