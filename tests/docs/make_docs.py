"""Write the fictional review documents (PDF, .txt, .md) and their golden expectations into tests/docs/.

    python tests/docs/make_docs.py            # rewrite the fixtures in place
    python tests/docs/make_docs.py --out DIR  # write them elsewhere (the tests compare the bytes)

Every child, family, place, partnership and person in these documents is invented. The output is
deterministic: reportlab runs with invariant=1 (fixed dates and document ids) and nothing reads
the clock, the system fonts or a random source without a seed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import house_styles  # noqa: E402
import scan  # noqa: E402
from layout import HouseStyle, Layout, draw, lay_out  # noqa: E402
from markup import BulletList, Document, Heading, Para, Table, clean, iter_blocks, load, spans_text  # noqa: E402
from reportlab.pdfgen.canvas import Canvas  # noqa: E402
from symbol_font import register_fonts  # noqa: E402

SOURCE = HERE / "source"
WORD = "Microsoft\u00ae Word 2016"


@dataclass(frozen=True)
class Spec:
    style: Callable[[Document], HouseStyle]
    text_versions: bool = False


SPECS: dict[str, Spec] = {
    "northshire-scr-child-m": Spec(lambda d: house_styles.northshire_report(d.meta["header"]), text_versions=True),
    "eastmere-cspr-baby-r": Spec(lambda d: house_styles.eastmere_report()),
    "glannau-cpr-2-2020-child-t": Spec(lambda d: house_styles.glannau_report(d.meta["header"])),
    "eastmere-rapid-review-learning-brief": Spec(
        lambda d: house_styles.rapid_review_brief(d.meta["banner"], d.meta["subtitle"], d.meta["footer"]),
        text_versions=True,
    ),
    "northshire-7-minute-briefing-child-m": Spec(
        lambda d: house_styles.seven_minute_briefing(tuple(d.meta["banner"].split(" / ")))
    ),
    "glannau-learning-briefing-child-t": Spec(lambda d: house_styles.learning_briefing(d.meta["footer"])),
}

META_KEYS = ("kind", "title", "child", "partnership", "area", "type", "author")


def write_pdf(doc: Document, layout: Layout, path: Path) -> None:
    canvas = Canvas(str(path), pagesize=layout.style.page, invariant=1)
    canvas.setTitle(doc.meta.get("pdf_title", ""))
    canvas.setAuthor(doc.meta.get("pdf_author", ""))
    canvas.setSubject("")
    canvas.setCreator(WORD)
    canvas.setProducer(WORD)
    draw(canvas, layout)
    canvas.save()


def _txt_blocks(doc: Document) -> list[str]:
    out: list[str] = []
    for block in iter_blocks(doc.blocks):
        if isinstance(block, Heading):
            out.append(block.printed)
        elif isinstance(block, Para):
            text = spans_text(block.spans)
            out.append(f"{block.number} {text}" if block.number else text)
        elif isinstance(block, BulletList):
            out.append("\n".join(("\u2022 " if b.level == 1 else "    o ") + spans_text(b.spans) for b in block.items))
        elif isinstance(block, Table):
            out.append("\n".join("\t".join(clean(cell) for cell in row) for row in block.rows))
    return out


def _front(doc: Document) -> str:
    """The cover's lines, or a briefing's banner: what a reader sees before the first heading."""
    lines = [line.text for line in doc.cover if line.text]
    if not lines:
        lines = [doc.meta[key] for key in ("banner", "subtitle", "partnership") if key in doc.meta]
    return "\n".join(lines)


def text_version(doc: Document) -> str:
    """The report as Word's "Save as plain text" gives it: one line per paragraph, no contents page."""
    return "\n\n".join([_front(doc), *_txt_blocks(doc)]) + "\n"


def markdown_version(doc: Document) -> str:
    out = [f"# {doc.meta['title']}", _front(doc)]
    for block in iter_blocks(doc.blocks):
        if isinstance(block, Heading):
            out.append("#" * min(block.level + 1, 4) + " " + block.printed)
        elif isinstance(block, Para):
            text = clean("".join(s.text if not s.bold else f"**{s.text}**" for s in block.spans))
            out.append(f"{block.number} {text}" if block.number else text)
        elif isinstance(block, BulletList):
            out.append("\n".join(("- " if b.level == 1 else "  - ") + spans_text(b.spans) for b in block.items))
        elif isinstance(block, Table):
            rows = [[clean(c).replace("|", "/") for c in row] for row in block.rows]
            lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
            lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
            out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"


def _cells(table: Table) -> list[str]:
    """A table's body cells, once each: none of them, nor its header row, is a heading."""
    return list(dict.fromkeys(clean(c) for row in table.rows[1:] for c in row if clean(c)))


def expectations(doc: Document, layout: Layout, files: list[str]) -> dict[str, object]:
    meta = doc.meta
    total = len(layout.pages)
    furniture: list[str] = []
    for n in range(1, total + 1):
        for text in layout.furniture_text(n, total):
            if text not in furniture and not text.isdigit():
                furniture.append(text)
    if layout.style.contents == "leaders":
        furniture += [line for line in layout.contents_lines if "...." in line]
    elif layout.style.contents == "tabs":  # a wrapped entry's pieces could occur in the text itself
        entries = {f"{printed} {page}" for _, printed, page in layout.headings}
        furniture += [line for line in layout.contents_lines if line in entries]
    out: dict[str, object] = {key: meta[key] for key in META_KEYS if key in meta}
    out.update(
        {
            "files": files,
            "year": int(meta["year"]),
            "month": meta["month"],
            "pages": total,
            "headings": [{"text": printed, "level": level, "page": page} for level, printed, page in layout.headings],
            "facts": layout.facts,
            "furniture": furniture,
            "page_numbers": meta.get("page_numbers", ""),
            "contents": {"page": layout.contents_page, "lines": layout.contents_lines} if layout.contents_page else {},
            "bullet": meta.get("bullet", ""),
            "line_wraps": layout.wraps,
            "sentences_across_pages": layout.splits,
            "tables": [
                {"header": " ".join(clean(c) for c in block.rows[0]), "cells": _cells(block)}
                for block in iter_blocks(doc.blocks)
                if isinstance(block, Table)
            ],
            "other_years": [int(y) for y in meta.get("other_years", "").split()],
            "about": meta.get("about", "").split(),
        }
    )
    return out


def build(stem: str, spec: Spec, out: Path) -> None:
    doc = load(SOURCE / f"{stem}.src")
    style = spec.style(doc)
    layout = lay_out(style, doc.blocks, doc.cover)
    want = int(doc.meta.get("expect_pages", "0"))
    if want and len(layout.pages) != want:
        raise SystemExit(f"{stem}: laid out on {len(layout.pages)} pages, the source says {want}")
    write_pdf(doc, layout, out / f"{stem}.pdf")
    files = [f"{stem}.pdf"]
    if spec.text_versions:
        (out / f"{stem}.txt").write_text(text_version(doc), encoding="utf-8")
        (out / f"{stem}.md").write_text(markdown_version(doc), encoding="utf-8")
        files += [f"{stem}.txt", f"{stem}.md"]
    expected = expectations(doc, layout, files)
    (out / "expected" / f"{stem}.json").write_text(
        json.dumps(expected, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write into (default: tests/docs)")
    parser.add_argument("--only", default="", help="build just the documents whose name contains this")
    args = parser.parse_args(argv)
    out: Path = args.out
    (out / "expected").mkdir(parents=True, exist_ok=True)
    register_fonts()
    for stem, spec in SPECS.items():
        if args.only in stem:
            build(stem, spec, out)
    if args.only in scan.STEM:
        scan.build(load(SOURCE / f"{scan.STEM}.src"), out)


if __name__ == "__main__":
    main()
