"""rag.sources: decoding text files and extracting PDFs in a sandboxed child."""

from __future__ import annotations

import codecs
import hashlib
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from pdfgen import bomb_pdf, encrypted_pdf, text_pdf

from rag.errors import SourceError
from rag.settings import Settings
from rag.sources import decode_text, iter_corpus_files, read_source

SETTINGS = Settings()
REVIEW = "Learning includes: the “voice of the child” was not heard – £5 fares.\n"


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# --- decoding -----------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        REVIEW.encode("utf-8"),
        codecs.BOM_UTF8 + REVIEW.encode("utf-8"),
        codecs.BOM_UTF16_LE + REVIEW.encode("utf-16-le"),
        codecs.BOM_UTF16_BE + REVIEW.encode("utf-16-be"),
        REVIEW.encode("utf-16-le"),  # no BOM: the NUL lanes give it away
        REVIEW.encode("utf-16-be"),
        REVIEW.encode("cp1252"),
    ],
    ids=["utf8", "utf8-bom", "utf16le-bom", "utf16be-bom", "utf16le", "utf16be", "cp1252"],
)
def test_decode_text_gets_every_character_right(data: bytes) -> None:
    assert decode_text(data) == REVIEW


def test_cp1252_specials_map_to_the_right_characters() -> None:
    assert decode_text(b"\x91a\x92 \x93b\x94 \x96 \xa3 \x85") == "‘a’ “b” – £ …"


def test_line_endings_normalised_and_nothing_else_changed() -> None:
    assert decode_text(b"one\r\ntwo\rthree\n\tfour  \n") == "one\ntwo\nthree\n\tfour  \n"


@pytest.mark.parametrize("byte", [0x81, 0x8D, 0x8F, 0x90, 0x9D])
def test_bytes_undefined_in_cp1252_are_rejected(byte: int) -> None:
    with pytest.raises(SourceError, match=rf"byte 0x{byte:02X} at offset 4.*UTF-8"):
        decode_text(b"abc " + bytes([byte]) + b" def")


def test_damaged_utf8_is_rejected_not_garbled_as_cp1252() -> None:
    data = "café – ok".encode() + b" \xff"
    with pytest.raises(SourceError, match="mostly UTF-8"):
        decode_text(data)


def test_nul_bytes_are_rejected() -> None:
    with pytest.raises(SourceError, match="NUL"):
        decode_text(b"text\x00more text and more and more")


def test_binary_junk_is_rejected() -> None:
    with pytest.raises(SourceError, match="control codes"):
        decode_text(bytes(range(1, 9)) * 20 + b"some text")


def test_bad_utf16_after_bom_names_the_encoding() -> None:
    with pytest.raises(SourceError, match="UTF-16-LE"):
        decode_text(codecs.BOM_UTF16_LE + b"\x00\xd8a\x00")  # lone surrogate


# --- read_source for text files ------------------------------------------------


def test_read_source_text_file(tmp_path: Path) -> None:
    raw = codecs.BOM_UTF8 + b"Title\r\nBody\r\n"
    path = write(tmp_path / "corpus" / "2021" / "Review A.TXT", raw)
    source = read_source(path, tmp_path / "corpus", SETTINGS)
    assert source.path == "2021/Review A.TXT"
    assert source.text == "Title\nBody\n"
    assert source.sha256 == hashlib.sha256(raw).hexdigest()
    assert source.kind == "txt"
    assert source.page_starts == () and source.page_at(3) is None


def test_read_source_outside_corpus_uses_the_file_name(tmp_path: Path) -> None:
    path = write(tmp_path / "elsewhere" / "notes.md", b"# Notes\n")
    source = read_source(path, tmp_path / "corpus", SETTINGS)
    assert (source.path, source.kind) == ("notes.md", "md")


def test_read_source_error_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.txt", b"abc \x81")
    with pytest.raises(SourceError, match=r"^.*bad\.txt: not valid UTF-8 or Windows-1252"):
        read_source(path, tmp_path, SETTINGS)


def test_oversize_file_rejected(tmp_path: Path) -> None:
    path = write(tmp_path / "big.txt", b"x" * (1024 * 1024 + 1))
    with pytest.raises(SourceError, match=r"big\.txt: file is 1\.0 MB, over the 1 MB limit"):
        read_source(path, tmp_path, replace(SETTINGS, max_file_mb=1))


def test_unknown_suffix_rejected(tmp_path: Path) -> None:
    path = write(tmp_path / "review.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
    with pytest.raises(SourceError, match=r"review\.doc: unsupported file type '\.doc'.*\.docx, \.htm, \.html, \.md"):
        read_source(path, tmp_path, SETTINGS)


def test_missing_file_rejected(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="file not found"):
        read_source(tmp_path / "gone.txt", tmp_path, SETTINGS)


def test_iter_corpus_files_sorted_recursive_skips_hidden(tmp_path: Path) -> None:
    for name in ["b.txt", "a/c.PDF", "a/d.md", "x.xlsx", ".hidden.txt", ".git/e.txt", "a/.cache/f.md"]:
        write(tmp_path / name, b"x")
    found = [p.relative_to(tmp_path).as_posix() for p in iter_corpus_files(tmp_path, SETTINGS)]
    assert found == ["a/c.PDF", "a/d.md", "b.txt"]


def test_iter_corpus_files_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="corpus folder not found"):
        iter_corpus_files(tmp_path / "nope", SETTINGS)


# --- PDFs ----------------------------------------------------------------------

PAGES = ["Page one (first)\nsecond line – “quoted” £5", "Page two", "Page three ends"]


def test_multi_page_pdf_text_and_page_starts(tmp_path: Path) -> None:
    raw = text_pdf(PAGES, compress=True)
    path = write(tmp_path / "corpus" / "review.pdf", raw)
    source = read_source(path, tmp_path / "corpus", SETTINGS)
    assert source.kind == "pdf" and source.path == "review.pdf"
    assert source.sha256 == hashlib.sha256(raw).hexdigest()
    assert source.text == "\n\n".join(PAGES)
    assert len(source.page_starts) == 3
    for number, (start, page) in enumerate(zip(source.page_starts, PAGES, strict=True), start=1):
        assert source.text[start : start + len(page)] == page
        assert source.page_at(start) == number
        assert source.page_at(start + len(page) - 1) == number
    assert source.page_at(source.text.index("ends")) == 3


def test_pdf_read_from_another_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "r.pdf", text_pdf(["cwd does not matter"]))
    monkeypatch.chdir(tmp_path)
    assert read_source(Path("r.pdf"), Path("."), SETTINGS).text == "cwd does not matter"


def test_pdf_with_empty_user_password_is_read(tmp_path: Path) -> None:
    path = write(tmp_path / "open.pdf", encrypted_pdf(["Readable despite encryption"], ""))
    assert read_source(path, tmp_path, SETTINGS).text == "Readable despite encryption"


def test_password_protected_pdf_rejected(tmp_path: Path) -> None:
    path = write(tmp_path / "locked.pdf", encrypted_pdf(["secret"], "letmein"))
    with pytest.raises(SourceError, match=r"locked\.pdf: encrypted PDF \(password required\); remove the password"):
        read_source(path, tmp_path, SETTINGS)


def test_truncated_pdf_rejected_with_short_reason(tmp_path: Path) -> None:
    raw = text_pdf(PAGES)
    path = write(tmp_path / "cut.pdf", raw[: len(raw) // 2])
    with pytest.raises(SourceError) as info:
        read_source(path, tmp_path, SETTINGS)
    message = str(info.value)
    assert message.startswith(f"{path.name}: corrupt or unreadable PDF (")
    assert "Traceback" not in message and "\n" not in message


def test_file_that_is_not_a_pdf_rejected(tmp_path: Path) -> None:
    path = write(tmp_path / "fake.pdf", b"just some text")
    with pytest.raises(SourceError, match=r"fake\.pdf: not a PDF file"):
        read_source(path, tmp_path, SETTINGS)


def test_pdf_without_text_says_run_ocr(tmp_path: Path) -> None:
    path = write(tmp_path / "scan.pdf", text_pdf(["", "   "]))
    with pytest.raises(SourceError, match=r"no extractable text \(scanned PDF\? run OCR first\)"):
        read_source(path, tmp_path, SETTINGS)


def test_pdf_timeout_kills_the_worker_promptly(tmp_path: Path) -> None:
    path = write(tmp_path / "slow.pdf", text_pdf(PAGES))
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"slow\.pdf: PDF parsing timed out after 0\.001 s"):
        read_source(path, tmp_path, replace(SETTINGS, pdf_timeout_s=0.001))
    assert time.monotonic() - started < 10


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS is enforced on Linux")
def test_decompression_bomb_hits_the_memory_limit(tmp_path: Path) -> None:
    limited = replace(SETTINGS, pdf_memory_mb=150)
    ok = write(tmp_path / "ok.pdf", text_pdf(PAGES, compress=True))
    assert read_source(ok, tmp_path, limited).text.startswith("Page one")  # the limit leaves room for real files
    bomb = bomb_pdf(70_000_000)  # ~100 KB that inflates to 70 MB
    assert len(bomb) < 200_000
    path = write(tmp_path / "bomb.pdf", bomb)
    with pytest.raises(SourceError, match=r"bomb\.pdf: PDF needs more than 150 MB to parse"):
        read_source(path, tmp_path, limited)
