"""Answers and ledgers to keep: Markdown and Word files with full references, written into a download folder."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rag.errors import RlaError
from rag.ui_text import answer_markdown, records_text, reference_line


def slug(text: str, default: str = "answer") -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or default


def ledger_markdown(topic: str, entries: list[dict[str, Any]]) -> str:
    """A ledger (entries as LedgerEntry.to_dict gives them) as Markdown: one excerpt per review, then references."""
    counted = records_text(str(e.get("kind", "review")) for e in entries)
    out = [f"# Reviews that address “{topic}”", "", f"{counted}, one excerpt each, closest first.", ""]
    for i, e in enumerate(entries, 1):
        out.append(f"{i}. **{e['title']}** — “{' '.join(str(e['text']).split())}” [{i}]")
    out += ["", "## References", ""]
    out += [f"{i}. {reference_line(e)}" for i, e in enumerate(entries, 1)]
    return "\n".join(out) + "\n"


_STYLE_IDS: dict[str, str | None] = {}  # paragraph style name → its id in python-docx's default template


def _docx(title: str, body: list[tuple[str, str]], refs: list[str], path: Path) -> Path:
    try:
        import docx
        from docx.enum.style import WD_STYLE_TYPE
    except ImportError:
        raise RlaError("Word export needs python-docx; install it with: pip install python-docx") from None
    doc = docx.Document()  # python-docx's own template, every time: its styles' ids do not change

    def add(text: str, style: str | None = None) -> None:
        # python-docx looks a style up by name, and compares it with the default style found by scanning them all,
        # at every paragraph: half the file's CPU (64 ms an answer, written with each one). Once per name here;
        # the same XML.
        paragraph = doc.add_paragraph(text)
        if style is not None:
            if style not in _STYLE_IDS:
                _STYLE_IDS[style] = doc.part.get_style_id(style, WD_STYLE_TYPE.PARAGRAPH)
            paragraph._p.style = _STYLE_IDS[style]

    add(title, "Heading 1")
    for style, text in body:
        add(text, {"bullet": "List Bullet", "heading": "Heading 2"}.get(style))
    if refs:
        add("References", "Heading 2")
        for r in refs:
            add(r)
    doc.save(str(path))
    return path


def write_answer(ans: dict[str, Any], folder: Path) -> list[Path]:
    """The answer as .md and .docx, each with its numbered references."""
    stem = slug(str(ans.get("question", "")))
    md = folder / f"{stem}.md"
    md.write_text(answer_markdown(ans), encoding="utf-8")
    body: list[tuple[str, str]] = []
    for i, line in enumerate(str(ans.get("answer", "")).splitlines()):
        if not line.strip():
            continue
        if line.startswith("- "):
            body.append(("bullet", line[2:]))
        else:
            body.append(("text" if i == 0 else "heading", line))
    if ans.get("notice"):
        body.append(("text", str(ans["notice"])))
    refs = [f"[{c['n']}] {reference_line(c)}" for c in ans.get("citations", [])]
    return [md, _docx(str(ans.get("question", "Answer")), body, refs, folder / f"{stem}.docx")]


def write_ledger(topic: str, entries: list[dict[str, Any]], folder: Path) -> list[Path]:
    """The ledger as .md and .docx, each with its numbered references."""
    stem = "ledger-" + slug(topic, "topic")
    md = folder / f"{stem}.md"
    md.write_text(ledger_markdown(topic, entries), encoding="utf-8")
    body = [("bullet", f"{e['title']} — “{' '.join(str(e['text']).split())}” [{i}]") for i, e in enumerate(entries, 1)]
    refs = [f"[{i}] {reference_line(e)}" for i, e in enumerate(entries, 1)]
    title = f"Reviews that address “{topic}”"
    intro = ("text", f"{records_text(str(e.get('kind', 'review')) for e in entries)}, one excerpt each.")
    return [md, _docx(title, [intro, *body], refs, folder / f"{stem}.docx")]
