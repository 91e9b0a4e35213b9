"""Plain-text and plain-dict views of records, hits and reports, shared by the CLI and the web app."""

from __future__ import annotations

import contextlib
import sys
import textwrap
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from rag.layout import segments
from rag.models import COUNTED_KINDS, Hit, Section, SourceText, counted_as, location
from rag.store import IndexData


@contextlib.contextmanager
def progress_bar(enabled: bool = True) -> Iterator[Any]:
    """A rich progress bar on stderr, or a no-op callback when disabled or not a terminal."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(file=sys.stderr)
    with Progress(
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        tasks: dict[str, Any] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


def plural(noun: str, n: int) -> str:
    """The noun for n of it: "chunk", "chunks", "listing entries", "analyses"."""
    if n == 1:
        return noun
    if noun.endswith("y"):
        return f"{noun[:-1]}ies"
    return f"{noun[:-2]}es" if noun.endswith("is") else f"{noun}s"


def count_noun(n: int, noun: str) -> str:
    """ "1 chunk", "3 chunks", "2 listing entries", "2 analyses"."""
    return f"{n} {plural(noun, n)}"


def records_text(kinds: Iterable[str], verb: str = "") -> str:
    """ "4 reviews and 1 analysis address", "1 review addresses": records of these kinds, reviews counted apart
    from briefings and analyses (`rag.models.counted_as`), with the verb agreeing."""
    counts = Counter(counted_as(k) for k in kinds)
    order = [k for k in COUNTED_KINDS if counts[k]] + sorted(set(counts) - set(COUNTED_KINDS))
    parts = [count_noun(counts[k], k) for k in order] or ["0 reviews"]
    text = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    if not verb:
        return text
    return f"{text} {verb}{'es' if sum(counts.values()) == 1 else ''}"


def ingest_summary(report: Any, settings: Any) -> str:
    lines = []
    for f in report.files:
        if f.status in ("indexed", "unchanged"):
            lines.append(
                f"  {f.status:<9} {f.source}: {count_noun(f.reviews, 'record')}, {count_noun(f.chunks, 'chunk')}"
            )
        else:
            lines.append(f"  {f.status:<9} {f.reason}")
    t = report.totals
    verdict = (
        f"updated the index to {report.generation}"
        if report.changed
        else f"the index is up to date ({report.generation}); nothing embedded"
    )
    lines.append(
        f"{verdict}: {t['files']} files, {t['reviews']} reviews, {t['chunks']} chunks, "
        f"{t['embedded']} embedded, {t['skipped']} skipped"
    )
    return "\n".join(lines)


def review_rows(data: IndexData) -> list[dict[str, Any]]:
    counts: dict[str, int] = {}
    for c in data.chunks:
        counts[c.review_id] = counts.get(c.review_id, 0) + 1
    rows = []
    for r in data.reviews.values():
        rows.append(
            {
                "id": r.id,
                "title": r.title,
                "year": r.year,
                "area": r.area,
                "type": r.type,
                "kind": r.kind,
                "keywords": list(r.keywords),
                "methodology": r.methodology,
                "source": r.source,
                "page": r.page,
                "sections": [s.kind for s in r.sections],
                "chunks": counts.get(r.id, 0),
            }
        )
    return rows


def reviews_text(rows: list[dict[str, Any]], width: int = 110) -> str:
    """The records as a readable list: id, year, kind, type and area on one line, then the title, source,
    sections, chunks and keywords, wrapped on word boundaries (nothing cut)."""
    out = []
    for r in rows:
        head = "  ".join(
            str(x) for x in (r["id"], r["year"] or "year not stated", r["kind"], r["type"], r["area"]) if x
        )
        body = (
            f"{r['title']} · {location(r['source'], r['page'])} · {count_noun(len(r['sections']), 'section')}, "
            f"{count_noun(r['chunks'], 'chunk')}"
            + (f" · keywords: {', '.join(r['keywords'])}" if r["keywords"] else "")
        )
        out += [head, textwrap.fill(body, width, initial_indent="    ", subsequent_indent="    ")]
    kinds = Counter(r["kind"] for r in rows)
    out.append(", ".join(count_noun(n, str(kind)) for kind, n in sorted(kinds.items())) or "no records")
    return "\n".join(out)


def review_record(data: IndexData, review_id: str) -> dict[str, Any]:
    r = data.reviews[review_id]
    src = data.sources[r.source]
    d = r.to_dict()
    for s, sd in zip(r.sections, d["sections"], strict=True):
        sd["text"] = src.text[s.start : s.end]
        sd["page"] = src.page_at(s.start)
    return d


def section_notes(src: SourceText, sections: Sequence[Section]) -> list[list[tuple[int, int]]]:
    """Each section's footnotes: those from its start up to the next section's (a note at a page's foot, or after
    the paragraph that cites it — a Word document's — when that paragraph ends the section)."""
    ends = [nxt.start for nxt in sections[1:]] + [len(src.text)]
    return [[(a, b) for a, b in src.notes if s.start <= a < until] for s, until in zip(sections, ends, strict=True)]


def review_text(data: IndexData, review_id: str) -> str:
    d = review_record(data, review_id)
    published = " ".join(str(x) for x in (d.get("month"), d["year"]) if x) or "not stated"
    meta = [f"{d['title']}", f"id: {d['id']}   kind: {d.get('kind', 'review')}"]
    meta.append(f"published: {published}   area: {d['area']}")
    meta.append(f"type: {d['type'] or 'not stated'}   source: {d['source']}")
    for field in ("partnership", "child", "author", "url"):
        if d.get(field):
            meta.append(f"{field}: {d[field]}")
    if d["keywords"]:
        meta.append("keywords: " + ", ".join(d["keywords"]))
    if d["methodology"]:
        meta.append("methodology: " + d["methodology"])
    if d.get("parsed"):  # corrected by the catalogue (rag/catalogue.py): say what parsing had found
        found = ", ".join(f"{k} {_shown_value(v)}" for k, v in d["parsed"].items())
        meta.append(f"corrected in catalogue.csv; parsing found: {found}")
    parts = ["\n".join(meta)]
    src = data.sources[d["source"]]
    sections = data.reviews[review_id].sections
    for s, section, spans in zip(d["sections"], sections, section_notes(src, sections), strict=True):
        page = f" (p. {s['page']})" if s.get("page") else ""
        # As it reads: page furniture left out, footnotes after the section they fell in (or at its foot).
        body = " ".join(src.text[a:b] for a, b in segments(section.start, section.end, src.hidden))
        notes = [src.text[x:y] for a, b in spans for x, y in segments(a, b, src.furniture)]
        text = textwrap.fill(" ".join(body.split()), 100)
        if notes:
            text += "\n" + textwrap.fill("Notes: " + " ".join(" ".join(notes).split()), 100, subsequent_indent="  ")
        parts.append(f"[{s.get('path') or s['label']}]{page}\n{text}")
    return "\n\n".join(parts)


def _shown_value(value: Any) -> str:
    if value is None or value == []:
        return "(none)"
    return repr("; ".join(value) if isinstance(value, list) else str(value))


def hits_text(query: str, hits: list[Hit]) -> str:
    if not hits:
        return f"{query}\n  no matching excerpts"
    lines = [query]
    for h in hits:
        lines.append(f"  {h.rank:>2}. [{h.score:.3f}] {h.chunk.citation_label}  ({h.chunk.review_id})")
        lines.append(textwrap.indent(textwrap.fill(" ".join(h.chunk.text.split()), 96), "      "))
    return "\n".join(lines)


def reference_line(c: dict[str, Any]) -> str:
    """One full reference for a cited passage: title, area, year, type, section, page and source file."""
    parts = [str(c.get("title") or "Untitled review")]
    for key in ("area", "year", "type"):
        if c.get(key):
            parts.append(str(c[key]))
    where = f"section: {c['section']}" if c.get("section") else ""
    if c.get("page"):
        where += f"{', ' if where else ''}page {c['page']}"
    if where:
        parts.append(where)
    parts.append(f"source file: {c.get('source', '')}")
    if c.get("url"):  # from the catalogue (rag/catalogue.py); last, with no full stop to spoil the address
        return ". ".join(parts) + f". Available at {c['url']}"
    return ". ".join(parts) + "."


def answer_text(ans: dict[str, Any]) -> str:
    """An answer (as Answer.to_dict gives it) as plain text, followed by its numbered references."""
    lines = [f"Question: {ans.get('question', '')}", "", str(ans.get("answer", "")).strip()]
    if ans.get("notice"):
        lines += ["", str(ans["notice"])]
    if ans.get("citations"):
        lines += ["", "References"]
        lines += [f"[{c['n']}] {reference_line(c)}" for c in ans["citations"]]
    return "\n".join(lines) + "\n"


def answer_markdown(ans: dict[str, Any]) -> str:
    """The same as answer_text, as Markdown: a heading, the answer, and the references with their quotes."""
    out = [f"# {_md(str(ans.get('question', '')))}", "", str(ans.get("answer", "")).strip(), ""]
    if ans.get("notice"):
        out += [f"> {_md(str(ans['notice']))}", ""]
    if ans.get("citations"):
        out += ["## References", ""]
        for c in ans["citations"]:
            out.append(f"{c['n']}. {_md(reference_line(c))}  ")
            out.append(f"   > {_md(' '.join(str(c.get('quote', '')).split()))}")
        out.append("")
    return "\n".join(out)


def ledger_references(entries: list[dict[str, Any]]) -> list[str]:
    """Ledger entries (dicts with the Hit.to_dict fields) as numbered full references."""
    return [f"[{i}] {reference_line(e)}" for i, e in enumerate(entries, 1)]


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("_", "\\_").replace("#", "\\#")
