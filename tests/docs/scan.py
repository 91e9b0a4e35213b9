"""A one-page executive summary as a scanner gives it: a greyscale picture of the page, no text layer."""

from __future__ import annotations

import json
import random
import textwrap
import zlib
from pathlib import Path

from markup import Document, Heading, Para, iter_blocks, spans_text
from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.pagesizes import A4
from symbol_font import FONTS

STEM = "westhaven-scr-family-k-executive-summary-scan"
DPI = 110


def _page_image(doc: Document) -> Image.Image:
    w, h = round(8.27 * DPI), round(11.69 * DPI)
    page = Image.new("L", (w, h), 250)
    pen = ImageDraw.Draw(page)
    regular = ImageFont.truetype(str(FONTS / "Vera.ttf"), 14)
    bold = ImageFont.truetype(str(FONTS / "VeraBd.ttf"), 15)
    big = ImageFont.truetype(str(FONTS / "VeraBd.ttf"), 19)
    y = 70
    for line in doc.cover:
        font = big if line.size >= 14 else regular
        text_w = pen.textlength(line.text, font=font)
        pen.text(((w - text_w) / 2, y), line.text, fill=25, font=font)
        y += 30
    y += 14
    for block in iter_blocks(doc.blocks):
        if isinstance(block, Heading):
            y += 6
            pen.text((80, y), block.printed, fill=25, font=bold)
            y += 24
        elif isinstance(block, Para):
            text = spans_text(block.spans)
            if block.number:
                pen.text((80, y), block.number, fill=25, font=regular)
            for row in textwrap.wrap(text, 88):
                pen.text((120 if block.number else 80, y), row, fill=30, font=regular)
                y += 19
            y += 8
    if y > h - 60:
        raise ValueError(f"{STEM}: the text runs off the scanned page ({y} > {h - 60})")
    rng = random.Random(20160715)
    for _ in range(900):  # scanner speckle
        x, yy = rng.randrange(w), rng.randrange(h)
        page.putpixel((x, yy), rng.randrange(90, 200))
    page = page.rotate(0.45, resample=Image.Resampling.BILINEAR, fillcolor=250)
    return page


def image_pdf(pixels: Image.Image, page: tuple[float, float]) -> bytes:
    """A PDF as a scanner writes one: a page whose only content is a Flate-compressed greyscale image.

    Written by hand because reportlab opens every page with an empty text object, and a scanned page
    has no text operators at all.
    """
    data = zlib.compress(pixels.tobytes(), 9)
    w, h = pixels.size
    content = b"q %.4f 0 0 %.4f 0 0 cm /Im0 Do Q" % page
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.4f %.4f] /Resources << /XObject << /Im0 4 0 R >> >> "
        b"/Contents 5 0 R >>" % page,
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 "
        b"/Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream" % (w, h, len(data), data),
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Creator (Canon iR-ADV C5535 PDF) /Producer (Adobe PSL 1.3e for Canon) "
        b"/CreationDate (D:20160718093012+01'00') >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def build(doc: Document, out: Path) -> None:
    """Writes the scanned PDF and its expectations (the same fields as the text documents, less the layout)."""
    (out / f"{STEM}.pdf").write_bytes(image_pdf(_page_image(doc), A4))
    meta = doc.meta
    expected = {
        "kind": meta["kind"],
        "title": meta["title"],
        "child": meta["child"],
        "partnership": meta["partnership"],
        "area": meta["area"],
        "type": meta["type"],
        "author": meta["author"],
        "files": [f"{STEM}.pdf"],
        "year": int(meta["year"]),
        "month": meta["month"],
        "pages": 1,
        "text_layer": False,
        "headings": [b.printed for b in iter_blocks(doc.blocks) if isinstance(b, Heading)],
        "note": "An image of a page only: a parser should report it as needing OCR, not index it as empty.",
    }
    (out / "expected" / f"{STEM}.json").write_text(
        json.dumps(expected, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
