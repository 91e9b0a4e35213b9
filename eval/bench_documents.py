"""Document parsing speed for `make bench` (eval/bench.py runs each measurement in a child process of its own).

    python eval/bench_documents.py text 100000 OUT.json   # furniture + parse of a 100,000-line text report
    python eval/bench_documents.py make 60 DIR             # a 60-page report PDF and its scanned twin into DIR
    python eval/bench_documents.py pdf FILE OUT.json       # read (pypdf, OCR where a page is an image) + parse

The PDFs are made at bench time with the fixtures' own generators (tests/docs: reportlab, the Northshire
house style, repeated until the report is long enough), never stored in the repository. The scanned twin
is each page drawn as a greyscale picture (no text layer), as a scanner writes it, so OCR reads every page.
"""

from __future__ import annotations

import json
import sys
import time
import zlib
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "tests" / "docs"
STEM = "northshire-scr-child-m"
SCAN_DPI = 150  # a typical office scan is 150–300 dpi; Tesseract reads 11-pt text well from 150
OCR_TIMEOUT_S = 3600.0  # the bench measures OCR's speed; whether a file fits the default limit is reported apart


# ---- synthetic text reports -------------------------------------------------------------------------------------

_BODY = (
    "The health visitor saw the family at home and recorded that the mother was coping well with",
    "the baby, although the older child was not seen because he was at school that day, and no one",
    "asked who else was living in the household or who looked after the children in the evenings.",
)


def synthetic_text(lines: int) -> str:
    """A report as Word's plain-text export of a long PDF gives it, `lines` lines long: numbered headings and
    paragraphs, wrapped body lines, short heading-like lines (the shape that once made parsing quadratic),
    bullets, a chronology table and running footers. Deterministic."""
    out: list[str] = []
    n = 0
    while len(out) < lines:
        n += 1
        section = n % 97 + 1
        out += [
            f"{section}. Key practice episode {n}",
            f"{section}.1 {_BODY[0]}",
            *_BODY[1:],
            "Practice Matters Here",
            "\u2022 Ask about every adult who lives in or visits the home.",
            "\u2022 Judge progress by what has changed for the child.",
            "Date Agency Event",
            f"14/01/{2000 + n % 20} Maternity Booking appointment at 10 weeks.",
            f"02/03/{2000 + n % 20} GP Mother seen for low mood; not shared with the midwife.",
            f"{section}.2 {_BODY[2]}",
            _BODY[0],
            f"Page {n} of {lines // 16 + 1}",
            "",
        ]
    return "\n".join(out[:lines]) + "\n"


def measure_text(lines: int) -> dict[str, Any]:
    """Furniture and parse of a synthetic text report, in this process (what the parse worker runs)."""
    from rag.layout import furniture_spans
    from rag.models import SourceText
    from rag.parse import parse_source

    text = synthetic_text(lines)
    started, cpu = time.perf_counter(), time.process_time()
    src = SourceText("bench.txt", text, "", "txt", furniture=furniture_spans(text))
    reviews = parse_source(src)
    seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    return {
        "lines": lines,
        "chars": len(text),
        "seconds": seconds,
        "cpu_s": cpu_s,  # on a shared machine the CPU time shows the parser's own growth; wall time adds waiting
        "lines_per_s": lines / cpu_s,
        "records": len(reviews),
        "sections": sum(len(r.sections) for r in reviews),
    }


# ---- a long report PDF and its scanned twin ----------------------------------------------------------------------


def make_pdfs(pages: int, out: Path, scanned: int) -> dict[str, Any]:
    """A `pages`-page report PDF (text layer) and its first `scanned` pages as images; their paths and sizes."""
    sys.path.insert(0, str(DOCS))
    import house_styles
    import make_docs
    from layout import lay_out
    from markup import Contents, Heading, NewPage, Panel, load
    from symbol_font import register_fonts

    register_fonts()
    doc = load(DOCS / "source" / f"{STEM}.src")
    one = lay_out(house_styles.northshire_report(doc.meta["header"]), doc.blocks, doc.cover)
    copies = -(-pages // max(1, len(one.pages) - 2)) + 1
    style = house_styles.northshire_report(doc.meta["header"])
    footers = style.furniture
    style = replace(style, furniture=lambda page, total: footers(page, pages))  # "Page N of 60" on every page
    # The report's chapters again and again after the first copy; one contents page, at the front.
    # (its chapter headings one level down, so the contents page still fits on one page).
    again = tuple(
        replace(b, level=max(2, b.level)) if isinstance(b, Heading) else b
        for b in doc.blocks
        if not isinstance(b, (Contents, NewPage, Panel))  # one "Review at a glance" box, not one per copy
    )
    layout = lay_out(style, doc.blocks + again * copies, doc.cover)
    if len(layout.pages) < pages:
        raise RuntimeError(f"laid out only {len(layout.pages)} pages, wanted {pages}")
    layout.pages = layout.pages[:pages]
    out.mkdir(parents=True, exist_ok=True)
    text_pdf, scan_pdf = out / f"report-{pages}p.pdf", out / f"report-{scanned}p-scan.pdf"
    make_docs.write_pdf(doc, layout, text_pdf)
    scan_pdf.write_bytes(image_pdf([_page_image(ops, style.page) for ops in layout.pages[:scanned]], style.page))
    return {
        "pages": pages,
        "pdf": str(text_pdf),
        "scan": str(scan_pdf),
        "bytes": [text_pdf.stat().st_size, scan_pdf.stat().st_size],
    }


def _page_image(ops: list[Any], page: tuple[float, float]) -> Any:
    """One page's text lines drawn in greyscale at SCAN_DPI, as a scanner would see the printed page."""
    from layout import TextLine
    from PIL import Image, ImageDraw, ImageFont
    from symbol_font import FONTS

    scale = SCAN_DPI / 72
    w, h = round(page[0] * scale), round(page[1] * scale)
    image = Image.new("L", (w, h), 250)
    pen = ImageDraw.Draw(image)
    fonts: dict[tuple[bool, int], Any] = {}
    for op in ops:
        if not isinstance(op, TextLine):
            continue
        x = op.x
        for piece in op.pieces:
            bold = "Bold" in piece.font
            size = max(6, round(piece.size * scale))
            if (bold, size) not in fonts:
                fonts[bold, size] = ImageFont.truetype(str(FONTS / ("VeraBd.ttf" if bold else "Vera.ttf")), size)
            font = fonts[bold, size]
            if piece.at is not None:
                x = op.x + piece.at
            text = piece.text.replace("\uf0b7", "\u2022").replace("\u00ad", "-")
            pen.text((x * scale, (page[1] - op.y) * scale), text, fill=20, font=font, anchor="ls")
            x += pen.textlength(text, font=font) / scale
    return image


def image_pdf(images: list[Any], page: tuple[float, float]) -> bytes:
    """A PDF whose pages hold nothing but a Flate-compressed greyscale image each (tests/docs/scan.py, for n pages)."""
    n = len(images)
    kids = " ".join(f"{3 + 3 * i} 0 R" for i in range(n))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode()]
    for i, pixels in enumerate(images):
        page_obj, image_obj, content_obj = 3 + 3 * i, 4 + 3 * i, 5 + 3 * i
        data = zlib.compress(pixels.tobytes(), 6)
        content = b"q %.4f 0 0 %.4f 0 0 cm /Im0 Do Q" % page
        objects += [
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.4f %.4f] /Resources << /XObject << /Im0 %d 0 R >> >> "
            b"/Contents %d 0 R >>" % (*page, image_obj, content_obj),
            b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 "
            b"/Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream" % (*pixels.size, len(data), data),
            b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        ]
        assert page_obj == len(objects) - 2
    sys.path.insert(0, str(ROOT / "tests"))
    from pdfgen import assemble

    return assemble(objects)


def measure_pdf(path: Path) -> dict[str, Any]:
    """Read a PDF as ingest does (sandboxed pypdf worker, OCR for image pages) and parse it; pages/s."""
    from rag.parse import parse_source
    from rag.settings import Settings
    from rag.sources import read_source

    settings = replace(Settings(), pdf_timeout_s=OCR_TIMEOUT_S)
    started = time.perf_counter()
    src = read_source(path, path.parent, settings)
    read_s = time.perf_counter() - started
    reviews = parse_source(src)
    seconds = time.perf_counter() - started
    pages = len(src.page_starts)
    return {
        "pages": pages,
        "ocr_pages": len(src.ocr_pages),
        "read_s": read_s,
        "seconds": seconds,
        "pages_per_s": pages / seconds,
        "records": len(reviews),
        "sections": sum(len(r.sections) for r in reviews),
        "chars": len(src.text),
        "ocr_page_timeout_s": Settings().ocr_page_timeout_s,
    }


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))  # this checkout's rag, also when run as a script from anywhere
    what, arg, out = argv
    if what == "text":
        result = measure_text(int(arg))
    elif what == "make":  # "60:6": a 60-page report, and a scan of its first 6 pages
        pages, _, scanned = arg.partition(":")
        result = make_pdfs(int(pages), Path(out), int(scanned or pages))
        out = str(Path(out) / "made.json")
    elif what == "pdf":
        result = measure_pdf(Path(arg))
    else:
        raise SystemExit(f"unknown measurement {what!r}: text, make or pdf")
    Path(out).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
