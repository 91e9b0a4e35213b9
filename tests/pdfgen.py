"""Write small, valid text PDFs for tests (hand-built: Helvetica, Tj operators, exact xref)."""

from __future__ import annotations

import io
import zlib
from collections.abc import Sequence


def _pdf_string(line: str) -> bytes:
    out = bytearray(b"(")
    for byte in line.encode("cp1252"):
        if byte in b"()\\":
            out += b"\\" + bytes([byte])
        elif 32 <= byte < 127:
            out.append(byte)
        else:
            out += b"\\%03o" % byte
    return bytes(out + b")")


def _content(text: str) -> bytes:
    ops = [b"BT /F1 12 Tf 14 TL 72 720 Td"]
    for i, line in enumerate(text.split("\n")):
        ops.append((b"T* " if i else b"") + _pdf_string(line) + b" Tj")
    ops.append(b"ET")
    return b"\n".join(ops)


def stream(data: bytes, compress: bool = False) -> bytes:
    """A stream object's body, deflated when asked."""
    if compress:
        data = zlib.compress(data, 9)
        return b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(data), data)
    return b"<< /Length %d >>\nstream\n%s\nendstream" % (len(data), data)


def assemble(objects: Sequence[bytes], root: int = 1, version: bytes = b"1.4") -> bytes:
    """A PDF with these object bodies (numbered from 1) and an exact xref table."""
    out = bytearray(b"%PDF-" + version + b"\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, root, xref_at)
    return bytes(out)


def build_pdf(contents: Sequence[bytes], *, compress: bool = False) -> bytes:
    """A PDF with one page per raw content stream."""
    n = len(contents)
    kids = b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(n))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, n),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for i, content in enumerate(contents):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (5 + 2 * i)
        )
        objects.append(stream(content, compress))
    return assemble(objects)


def text_pdf(pages: Sequence[str], *, compress: bool = False) -> bytes:
    """A PDF with one page per string; "\\n" starts a new line (text must be cp1252-encodable)."""
    return build_pdf([_content(page) for page in pages], compress=compress)


def encrypted_pdf(pages: Sequence[str], user_password: str, owner_password: str = "owner") -> bytes:
    """`text_pdf` encrypted with RC4-128 (needs no optional crypto package)."""
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=io.BytesIO(text_pdf(pages)))
    writer.encrypt(user_password, owner_password, algorithm="RC4-128")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def bomb_pdf(inflated_bytes: int) -> bytes:
    """One page whose tiny compressed content stream inflates to `inflated_bytes` of text."""
    run = b"(x) Tj\n" * (inflated_bytes // 7)
    return build_pdf([b"BT /F1 12 Tf 72 720 Td\n" + run + b"ET"], compress=True)
