"""A one-page executive summary as a scanner gives it: a greyscale picture of the page, no text layer."""

from __future__ import annotations

import io
import json
import random
import textwrap
from pathlib import Path

from markup import Document, Heading, Para, iter_blocks, spans_text
from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas
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
            for line in textwrap.wrap(text, 88):
                pen.text((120 if block.number else 80, y), line, fill=30, font=regular)
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


def build(doc: Document, out: Path) -> None:
    """Writes the scanned PDF and its expectations (the same fields as the text documents, less the layout)."""
    buffer = io.BytesIO()
    _page_image(doc).save(buffer, format="PNG", optimize=False, compress_level=9)
    canvas = Canvas(str(out / f"{STEM}.pdf"), pagesize=A4, invariant=1)
    canvas.setCreator("Canon iR-ADV C5535 PDF")
    canvas.setProducer("Adobe PSL 1.3e for Canon")
    canvas.drawImage(ImageReader(io.BytesIO(buffer.getvalue())), 0, 0, width=A4[0], height=A4[1])
    canvas.showPage()
    canvas.save()
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
    (out / "expected" / f"{STEM}.json").write_text(json.dumps(expected, indent=1, ensure_ascii=False) + "\n",
                                                    encoding="utf-8")
