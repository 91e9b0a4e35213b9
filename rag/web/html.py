"""The web app's HTML: cited answers, whole review records with the excerpt marked, ledgers, facets, uploads."""

from __future__ import annotations

import html
import itertools
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from rag.ledger import closest_text
from rag.models import Review, SourceText, location
from rag.store import IndexData
from rag.ui_text import records_text
from rag.web.uploads import Upload

HOW_IT_WORKS = (
    "<div class='rla-meta'><p><strong>How answers are made.</strong> An answer is built only from sentences quoted "
    "from the indexed reviews, each with a numbered citation. When no review addresses the question, the app says so "
    "rather than guess.</p><p>After asking, choose a citation here to read the excerpt highlighted in its whole "
    "review.</p></div>"
)

CSS = """
.rla-scroll { max-height: calc(100vh - 230px); min-height: 120px; overflow-y: auto; padding: 0.25rem 0.75rem;
  border: 1px solid var(--border-color-primary); border-radius: var(--radius-lg); }
.rla-record .rla-text { line-height: 1.5; }
.rla-record h4 { margin: 0.9rem 0 0.2rem; }
.rla-meta { color: var(--body-text-color-subdued); font-size: 0.92em; margin: 0.1rem 0; }
/* In a record read in context: page furniture (running heads, page numbers) and footnotes, which no quote includes,
   are set apart from the text they interrupt. */
.rla-record .rla-furniture { color: var(--body-text-color-subdued); font-size: 0.8em; }
.rla-record .rla-note { color: var(--body-text-color-subdued); font-size: 0.85em; }
/* A text written as Markdown (a Word document, a saved web page, a .md note) shows the structure its markup stands
   for: a table as a table, a heading and bold words in bold. */
.rla-md-table { border-collapse: collapse; margin: 0.4rem 0; font-size: 0.95em; }
.rla-md-table td { border: 1px solid var(--border-color-primary); padding: 0.15rem 0.45rem; vertical-align: top; }
.rla-md-head td, .rla-md-heading, .rla-md-strong { font-weight: 600; }
.rla-md-quote { font-style: italic; }
.rla-md-table + br { display: none; }  /* a table is a block: the blank line after it is one line, not two */
.rla-record mark, .rla-answer mark { background: #ffe066; color: #111; padding: 0 2px; border-radius: 2px; }
.rla-answer li { margin: 0.25rem 0; }
.rla-answer .rla-cite { font-weight: 600; white-space: nowrap; }
.rla-sources { font-size: 0.93em; }
.rla-abstain { border-left: 4px solid #d9822b; padding: 0.5rem 0.9rem; background: rgba(217, 130, 43, 0.08); }
.rla-notice { border-left: 4px solid #3b82f6; padding: 0.4rem 0.8rem; }
.rla-banner p { margin: 0; }
.rla-facets { font-size: 0.88em; }
.rla-facets span { display: inline-block; margin: 0 0.6rem 0.1rem 0; white-space: nowrap; }
a.rla-cite { cursor: pointer; text-decoration: none; color: var(--link-text-color, #2563eb); }
a.rla-cite:hover, a.rla-cite:focus { text-decoration: underline; }
.rla-share { font-size: 0.92em; margin-top: 0.5rem; }
.rla-sheet-close { display: none; }
/* Tables (elem_classes TABLE) wrap on word boundaries, never inside a word or a year (gradio's own cells break
   a word anywhere); on a narrow screen a wide table scrolls inside its own box, so the page itself never scrolls
   sideways. An editable table (WIDE_TABLE) keeps the column widths it has on a laptop and scrolls inside its box;
   a table with cards beside it (TABLE_WITH_CARDS: .rla-cards) is replaced by them on a phone. */
.table-wrap, .table-container { overflow-x: auto; max-width: 100%; }
.rla-table [role=grid] * { word-break: normal !important; overflow-wrap: normal !important; hyphens: manual; }
/* A cell's text starts at the top of its row: a tall row (a long gold list) no longer hides its question. */
.rla-table [role=gridcell] .cell-wrap { align-items: flex-start; }
.rla-wide-table .virtual-table-viewport { min-width: 1180px; }
.rla-answer, .rla-record, .rla-scroll { overflow-wrap: break-word; }
.rla-cards { display: none; }
.rla-card { border-bottom: 1px solid var(--border-color-primary); padding: 0.45rem 0.1rem; }
.rla-card .rla-field { margin: 0.1rem 0; overflow-wrap: break-word; }
.rla-card .rla-label { color: var(--body-text-color-subdued); }
.rla-eval-cards { max-height: 70vh; overflow-y: auto; }
.rla-eval-card p { margin: 0.15rem 0; }
.rla-eval-card .rla-eval-q, .rla-eval-card .rla-missed { overflow-wrap: break-word; }
.rla-missed { color: #b45309; }
.rla-missed ul { margin: 0.1rem 0 0.2rem 1.1rem; }
.rla-passages { margin: 0.2rem 0 0.3rem 1.2rem; font-size: 0.92em; }
.rla-passages li { margin: 0.15rem 0; overflow-wrap: anywhere; }
.rla-passages a.rla-cite { white-space: normal; font-weight: normal; }
a.rla-coverage { color: var(--link-text-color, #2563eb); }
.rla-brief h1 { font-size: 1.4em; }
.rla-brief { overflow-wrap: break-word; }
/* A file's name is shown whole, wrapping if it must (gradio cuts a long one to "profess….md"). */
.file-preview .filename .stem { white-space: normal; overflow-wrap: anywhere; }
@media (max-width: 700px) {
  /* On a phone the Reviews and Evaluate tables become cards, and an opened passage or record slides up as a
     sheet. */
  .rla-table-with-cards { display: none !important; }
  /* A table's label takes the whole width above its search box, not a narrow column beside it. */
  .rla-table .header-row { flex-wrap: wrap; }
  .rla-table .header-row .label { flex: 1 0 100%; }
  .rla-wide-filter { min-width: 100% !important; }
  /* Less padding around a filter (and the page: HEAD), so a long choice ("looked-after children and foster care
     (13)") fits its box. */
  .rla-wide-filter.block { padding-left: 8px !important; padding-right: 8px !important; }
  .rla-cards { display: block; max-height: 70vh; overflow-y: auto; }
  .rla-sheet-open {
    position: fixed !important; left: 0; right: 0; bottom: 0; z-index: 1000;
    max-height: 72vh; overflow-y: auto !important;
    background: var(--background-fill-primary, #fff); box-shadow: 0 -6px 24px rgba(0, 0, 0, 0.25);
    border-radius: 12px 12px 0 0; padding: 0.5rem 0.75rem 1rem; }
  .rla-sheet-open .rla-scroll { max-height: none; border: 0; }
  .rla-sheet-open .rla-sheet-close { display: block; margin-left: auto; }
  /* The ledger's list right after its topic and filters, its charts and files after the list: the controls'
     column lends its blocks to the row, which orders them. */
  .rla-ledger-controls { display: contents !important; }
  .rla-ledger-row > *, .rla-ledger-controls > * { flex: 1 1 100% !important; min-width: 100% !important; }
  .rla-ledger-row > .rla-ledger-list { order: 1; }
  .rla-ledger-controls > .rla-after-list { order: 2; }
  .rla-ledger-row > .rla-ledger-record { order: 3; }
}
"""

# Classes of a gr.Dataframe (see CSS): its cells wrap on word boundaries; and either it keeps its widths on a narrow
# screen, scrolling in its box (an editable table), or cards made by table_cards_html replace it there.
TABLE = ["rla-table"]
WIDE_TABLE = ["rla-table", "rla-wide-table"]
TABLE_WITH_CARDS = ["rla-table", "rla-table-with-cards"]

# Clicking a citation marker [n] (in an answer or a ledger) picks it in that tab's hidden chooser, which opens
# the passage in its whole review: beside the answer on a wide screen, as a sheet from the bottom on a phone.
HEAD = """<style>
/* The page's own padding is outside what gr.Blocks(css=…) reaches (it scopes rules to the page's contents). */
@media (max-width: 700px) { .gradio-container .main.fillable { padding-left: 12px; padding-right: 12px; } }
</style>
<script>
document.addEventListener('click', (e) => {
  const close = e.target.closest('.rla-sheet-close');
  if (close) { close.closest('.rla-sheet-open')?.classList.remove('rla-sheet-open'); return; }
  const a = e.target.closest('a[data-cite]');
  if (!a) return;
  const box = document.querySelector('#' + a.dataset.picker + ' textarea, #' + a.dataset.picker + ' input');
  if (!box) return;  // the link's own address still works (the coverage line's opens the Ledger tab)
  e.preventDefault();
  box.value = a.dataset.cite + ':' + Date.now();  // a new value each time, so the same [n] opens again
  box.dispatchEvent(new Event('input', { bubbles: true }));
  if (!a.dataset.sheet) { window.scrollTo({ top: 0 }); return; }
  document.querySelectorAll('.rla-sheet-open').forEach((el) => el.classList.remove('rla-sheet-open'));
  const sheet = document.getElementById(a.dataset.sheet);
  sheet?.classList.add('rla-sheet-open');
  // Once the passage has arrived, bring the highlight into view (in the sheet on a phone, the panel on a laptop).
  const old = sheet?.innerHTML;
  let tries = 0;
  const timer = setInterval(() => {
    const mark = sheet?.querySelector('mark');
    if ((mark && sheet.innerHTML !== old) || ++tries > 100) {
      clearInterval(timer);
      mark?.scrollIntoView({ block: 'center' });
    }
  }, 100);
});
</script>"""

SHEET_CLOSE = "<button type='button' class='rla-sheet-close' aria-label='Close'>Close ✕</button>"


def open_link(value: str, text: str, picker: str, sheet: str = "", cls: str = "rla-cite", href: str = "#") -> str:
    """A link whose click puts `value` in the hidden chooser `picker` (see HEAD), which opens it in `sheet`."""
    sheet_attr = f" data-sheet='{esc(sheet)}'" if sheet else ""
    return (
        f"<a class='{cls}' href='{esc(href)}' role='button' data-cite='{esc(value)}' data-picker='{esc(picker)}'"
        f"{sheet_attr} title='Open the quoted passage in its review'>{text}</a>"
    )


def cite_link(n: int, picker: str = "cite-open", sheet: str = "ask-record", shown_as: int | None = None) -> str:
    """A clickable [n] that opens citation n in the record `sheet` (see HEAD); `shown_as` is the number printed
    when it differs (a briefing prints the reference number; the click opens that very quote)."""
    return open_link(str(int(n)), f"[{int(n if shown_as is None else shown_as)}]", picker, sheet)


def review_cards_html(reviews: list[Review], limit: int = 300) -> str:
    """The Reviews listing as cards, shown instead of the table on a narrow screen; a title opens the record."""
    cards = []
    for r in reviews[:limit]:
        meta = " · ".join(x for x in (str(r.year or ""), r.area, r.type or "") if x)
        kw = ", ".join(one_line(k) for k in r.keywords[:6])
        cards.append(
            f"<div class='rla-card'><a href='#' class='rla-open' data-cite='{esc(r.id)}' data-picker='review-open' "
            f"data-sheet='review-record'><strong>{esc(r.title)}</strong></a>"
            f"<div class='rla-meta'>{esc(meta)}</div>"
            + (f"<div class='rla-meta'>{esc(kw)}</div>" if kw else "")
            + "</div>"
        )
    more = (
        f"<p class='rla-meta'>… and {len(reviews) - limit} more; narrow the list.</p>" if len(reviews) > limit else ""
    )
    return "<div class='rla-cards' id='reviews-cards'>" + "".join(cards) + more + "</div>"


def table_cards_html(rows: list[dict[str, Any]], columns: list[str], elem_id: str) -> str:
    """A table's rows as cards, shown instead of the table (TABLE_WITH_CARDS) on a narrow screen: one card per row,
    the first column as its heading, then a "label: value" line per other column that has a value."""

    def cell(value: Any) -> str:  # None and NaN (pandas' empty cell) are no value
        return "" if value is None or value != value else one_line(str(value))

    head, *rest = columns
    cards = []
    for row in rows:
        lines = "".join(
            f"<p class='rla-field'><span class='rla-label'>{esc(c)}:</span> {esc(cell(row.get(c)))}</p>"
            for c in rest
            if cell(row.get(c)).strip()
        )
        cards.append(f"<div class='rla-card'><strong>{esc(cell(row.get(head)))}</strong>{lines}</div>")
    return f"<div class='rla-cards' id='{esc(elem_id)}'>" + "".join(cards) + "</div>" if cards else ""


def esc(text: str) -> str:
    # Braces and dollars too: gr.HTML renders its value through a template.
    return html.escape(text, quote=False).replace("{", "&#123;").replace("}", "&#125;").replace("$", "&#36;")


_LIST_ITEM = re.compile(r"\n(?=[ \t]*(?:\d{1,2}[.)]|[•*>-]|&gt;|[a-z][.)])[ \t])")


def _prose(text: str) -> str:
    """Source text as HTML that reflows: blank lines part paragraphs, list items keep their own line,
    other line breaks (hard-wrapped text) become spaces. Offsets are unaffected: callers split first."""
    out = esc(text)
    out = re.sub(r"\n[ \t]*\n\s*", "<br><br>", out)
    out = _LIST_ITEM.sub("<br>", out)
    return out.replace("\n", " ")


def one_line(text: str) -> str:
    return " ".join(text.split())


# The answer's coverage line names the ledger that lists every review (rag/answer.py _coverage_line).
COVERAGE = re.compile(r'^(?P<line>.*?)\s*\(full list: rla ledger "(?P<topic>[^"]+)"\):?\s*$')


def coverage_topic(ans: dict[str, Any]) -> str | None:
    """The ledger topic the answer's coverage line points to ("Showing 6 of the 35 reviews that address …")."""
    if ans.get("abstained"):
        return None
    if isinstance(ans.get("coverage"), dict):
        return str(ans["coverage"]["topic"])
    m = next((m for line in ans.get("answer", "").splitlines() if (m := COVERAGE.match(line))), None)
    return m.group("topic") if m else None


def answer_html(data: IndexData, ans: dict[str, Any], ledger_href: str = "") -> str:
    """The answer with its numbered citations, or the abstention said plainly. With `ledger_href` (the Ledger tab's
    address for the answer's topic and filters) the coverage line links to the full list."""
    if ans.get("abstained"):
        return (
            "<div class='rla-answer rla-abstain'><p><strong>The reviews in the index do not answer this.</strong></p>"
            f"<p>{esc(ans['answer'])}</p></div>"
        )
    parts = ["<div class='rla-answer'>"]
    items: list[str] = []

    def flush() -> None:
        if items:
            parts.append("<ul>" + "".join(items) + "</ul>")
            items.clear()

    for i, line in enumerate(ans["answer"].splitlines()):
        if not line.strip():
            continue
        if line.startswith("- "):
            body = re.sub(r"\[(\d+)\]", lambda m: cite_link(int(m.group(1))), _bullet_html(data, ans, line[2:]))
            items.append(f"<li>{body}</li>")
            continue
        flush()
        # The coverage line says how many reviews (after a notice, if any); later "…:" lines head the groups.
        m = COVERAGE.match(line) if ledger_href else None
        if m:
            link = open_link(ledger_href, esc(m.group("line")), "ledger-go", cls="rla-coverage", href=ledger_href)
            parts.append(
                f"<p class='rla-coverage-line'><strong>{link}</strong> <span class='rla-meta'>(the full list "
                "in the Ledger)</span></p>"
            )
        else:
            parts.append(f"<p><strong>{esc(line)}</strong></p>" if i == 0 else f"<h4>{esc(line)}</h4>")
    flush()
    if ans.get("notice"):
        parts.append(f"<p class='rla-notice'>{esc(ans['notice'])}</p>")
    parts.append("<h4>Sources</h4><ol class='rla-sources'>")
    for c in ans["citations"]:
        meta = ", ".join(esc(str(x)) for x in (c["year"], c["area"]) if x)
        parts.append(
            f"<li value='{int(c['n'])}'><strong>{esc(c['title'])}</strong>{', ' + meta if meta else ''} · "
            f"{esc(c['section'])} — <span class='rla-meta'>{esc(location(c['source'], c['page']))}</span></li>"
        )
    parts.append("</ol></div>")
    return "".join(parts)


_BULLET_TAIL = re.compile(r" \[(\d+)\](?:; also \[\d+\](?:, \[\d+\])*)?$")  # "… [1]; also [2], [3]"


def _bullet_html(data: IndexData, ans: dict[str, Any], text: str) -> str:
    """A bullet, "quote [n]; also [m]": citation n's quote as its source shows it (`inline_html`), the rest as it is."""
    m = _BULLET_TAIL.search(text)
    cite = next((c for c in ans["citations"] if m and str(c["n"]) == m.group(1)), None)
    if m is None or cite is None or text[: m.start()] != one_line(cite["quote"]):
        return esc(text)  # a bullet written by a language model, not a quote
    quote = inline_html(data, cite["source"], int(cite["quote_start"]), int(cite["quote_end"]), cite["quote"])
    return quote + esc(text[m.start() :])


def scroll(inner: str) -> str:
    return f"<div class='rla-scroll'>{inner}</div>"


def citation_choices(ans: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for c in ans.get("citations", []):
        title = c["title"] if len(c["title"]) <= 40 else c["title"][:38].rstrip() + "…"
        out.append((f"[{c['n']}] {title}" + (f" ({c['year']})" if c["year"] else ""), str(c["n"])))
    return out


def record_html(data: IndexData, review_id: str, mark: tuple[int, int] | None = None, note: str = "") -> str:
    """A whole review record, its sections in order; `mark` (source offsets) is highlighted where it falls."""
    from rag.ui_text import review_record, section_notes

    if review_id not in data.reviews:
        return f"<p>Review {esc(review_id)} is not in the current index (it may have been re-indexed); ask again.</p>"
    rec = review_record(data, review_id)
    src = data.sources[rec["source"]]
    meta = [str(rec["year"] or "year not stated"), rec["area"], rec["type"] or "type not stated"]
    parts = [
        "<div class='rla-record rla-scroll'>",
        f"<h3>{esc(rec['title'])}</h3>",
        f"<p class='rla-meta'>{esc(' · '.join(meta))}</p>",
        f"<p class='rla-meta'>Source: {esc(location(rec['source'], rec.get('page')))} · id {esc(rec['id'])}</p>",
    ]
    if rec["keywords"]:
        parts.append(f"<p class='rla-meta'>Keywords: {esc(', '.join(one_line(k) for k in rec['keywords']))}</p>")
    if rec["methodology"]:
        parts.append(f"<p class='rla-meta'>Methodology: {esc(one_line(rec['methodology']))}</p>")
    if note:
        parts.append(f"<p class='rla-notice'>{note}</p>")
    placed = mark is None
    sections = data.reviews[review_id].sections
    for s, notes in zip(rec["sections"], section_notes(src, sections), strict=True):
        start, end = s["start"], s["end"]
        page = f" <span class='rla-meta'>(p. {s['page']})</span>" if s.get("page") else ""
        here = mark if mark is not None and start <= mark[0] < end else None
        placed = placed or here is not None
        body = _source_html(src, start, end, (here,) if here else ())
        # Its footnotes past its end (a Word document's note after the section's last paragraph), as `rla show`.
        body += "".join(f"<br><span class='rla-note'>{_prose(src.text[a:b])}</span>" for a, b in notes if a >= end)
        parts.append(f"<h4>{esc(one_line(s['label']))}{page}</h4><div class='rla-text'>{body}</div>")
    if not placed and mark is not None:
        # The excerpt lies outside every recognised section: show it on its own, in its surrounding text.
        a, b = mark
        lo, hi = max(0, a - 400), min(len(src.text), b + 400)
        if src.markup:  # a text written as Markdown shows its structure here too
            body = f"…{_source_html(src, lo, hi, (mark,))}…"
        else:
            body = f"…{_prose(src.text[lo:a])}<mark>{_prose(src.text[a:b])}</mark>{_prose(src.text[b:hi])}…"
        parts.insert(4, f"<h4>Excerpt</h4><div class='rla-text'>{body}</div>")
    parts.append("</div>")
    return "".join(parts)


# How the markup of a text written as Markdown (SourceText.markup, rag.layout.SIGNS and STYLES) is shown: each sign
# as a pair (in a record read in context, inline: in an answer's quote or a ledger's excerpt); a style's words in its
# class.
SHOWN_AS = {
    "hidden": ("", ""),
    "break": ("<br>", " "),
    "item": ("• ", "• "),
    "table": ("<table class='rla-md-table'><tr class='rla-md-head'><td>", ""),
    "cell": ("</td><td>", " · "),
    "row": ("</td></tr><tr><td>", " / "),
    "end": ("</td></tr></table>", ""),
}
STYLED = {"heading": "rla-md-heading", "strong": "rla-md-strong", "quote": "rla-md-quote"}
_TABLE_SIGNS = ("table", "cell", "row", "end")


def _source_html(
    src: SourceText, start: int, end: int, marks: Sequence[tuple[int, int]] = (), inline: bool = False
) -> str:
    """src.text[start:end] as reflowing HTML: `marks` highlighted, page furniture and footnotes set apart, Markdown
    markup shown as what it stands for (a table as a table: only words are highlighted, never a sign, so the tags
    nest). `inline`: on one line, a table's cells and rows set apart by " · " and " / "."""
    kinds = [(src.furniture, "rla-furniture"), (src.notes, "rla-note")]
    spans = [(a, b, kind) for found, kind in kinds for a, b in found if a < end and b > start]
    markup = [(a, b, kind) for a, b, kind in src.markup if a < end and b > start]
    signs = [x for x in markup if x[2] in SHOWN_AS]
    styles = [x for x in markup if x[2] in STYLED]
    edges = {start, end, *(x for a, b, _ in spans + markup for x in (a, b)), *(x for m in marks for x in m)}
    cuts = sorted(x for x in edges if start <= x <= end)
    out = []
    i = 0  # signs[i]: the first sign not behind the piece
    for a, b in itertools.pairwise(cuts):
        while i < len(signs) and signs[i][1] <= a:
            i += 1
        if i < len(signs) and signs[i][0] <= a:  # a sign: shown once, where it starts, when it is whole here
            s, e, shown = signs[i]
            out.append(SHOWN_AS[shown][inline] if s == a and e <= end else "")
            continue
        piece = esc(src.text[a:b]) if inline else _prose(src.text[a:b])
        kind = next((k for s, e, k in spans if s <= a and b <= e), None)
        classes = ([kind] if kind else []) + [STYLED[k] for s, e, k in styles if s <= a and b <= e]
        if classes:
            piece = f"<span class='{' '.join(classes)}'>{piece}</span>"
        if any(s <= a and b <= e for s, e in marks):
            piece = f"<mark>{piece}</mark>"
        out.append(piece)
    if inline:
        return one_line("".join(out))
    # A table cut by the range's edges is closed at them, so the tags always nest.
    table = [kind for a, b, kind in signs if kind in _TABLE_SIGNS and start <= a and b <= end]
    opened = "<table class='rla-md-table'><tr><td>" if table and table[0] != "table" else ""
    closed = "</td></tr></table>" if table and table[-1] != "end" else ""
    return opened + "".join(out) + closed


def inline_html(
    data: IndexData, source: str, start: int, end: int, text: str, marks: Sequence[tuple[int, int]] = ()
) -> str:
    """Source text quoted on one line (an answer's bullet, a ledger's excerpt), `marks` highlighted (a ledger
    entry's matched words), Markdown markup shown as what it stands for; as it is when the index no longer holds it
    there."""
    src = data.sources.get(source)
    if src is None or src.text[start:end] != text:
        return esc(one_line(text))
    return _source_html(src, start, end, marks, inline=True)


def citation_html(data: IndexData, ans: dict[str, Any], n: str | None) -> str:
    if not n:
        return "<p class='rla-meta'>Choose a citation above to read the excerpt in its whole review.</p>"
    cite = next((c for c in ans.get("citations", []) if str(c["n"]) == str(n)), None)
    if cite is None:
        return "<p class='rla-meta'>That citation is not part of the current answer.</p>"
    return _in_context(
        data, cite, int(cite["quote_start"]), int(cite["quote_end"]), cite["quote"], f"Citation [{int(cite['n'])}]"
    )


def ledger_html(data: IndexData, led: Any) -> str:
    """A ledger: one excerpt per review, each numbered [n] to open it in its whole review."""
    if not led.entries:
        return f"<p>No review in the index addresses “{esc(led.topic)}”.{esc(closest_text(led))} Try other words.</p>"
    parts = [
        f"<p><strong>{records_text((e.hit.chunk.kind for e in led.entries), 'address')}</strong> "
        f"“{esc(led.topic)}” — one excerpt each, "
        "closest first. Choose [n] to read the excerpt in its whole review.</p><ol class='rla-answer'>"
    ]
    for i, e in enumerate(led.entries, 1):
        c = e.hit.chunk
        excerpt = inline_html(data, c.source, c.start, c.end, c.text, e.marks)
        meta = ", ".join(esc(str(x)) for x in (e.year, e.area, c.section) if x)
        parts.append(
            f"<li><strong>{esc(e.title)}</strong>, {meta} "
            f"<span class='rla-meta'>({esc(location(c.source, c.page))})</span>"
            f"<br>“{excerpt}” {cite_link(i, 'ledger-open', 'ledger-record')}</li>"
        )
    parts.append("</ol>")
    return "".join(parts)


def excerpt_html(data: IndexData, entry: dict[str, Any], n: int | str, label: str = "Entry") -> str:
    """A span (a ledger entry's excerpt, a briefing's quote, a retrieved passage: source, review_id, section, start,
    end, text) highlighted in its whole review, or a note when the index has changed."""
    return _in_context(data, entry, int(entry["start"]), int(entry["end"]), entry["text"], f"{label} [{n}]")


def _in_context(data: IndexData, hit: dict[str, Any], start: int, end: int, quote: str, label: str) -> str:
    """A quoted span highlighted in its whole review, or a note when the index no longer holds it there."""
    src = data.sources.get(hit["source"])
    if src is None or hit["review_id"] not in data.reviews or src.text[start:end] != quote:
        return (
            "<p class='rla-notice'>The index has changed since this was made; ask again to see the excerpt "
            f"in context.</p><blockquote>{esc(quote)}</blockquote>"
        )
    page = src.page_at(start)
    where = f" on page {page}" if page else ""
    note = f"{label} ({esc(hit['section'])}) is highlighted below{where}."
    return record_html(data, hit["review_id"], (start, end), note)


def facets_html(reviews: list[Review], limit: int = 24) -> str:
    c = Counter(one_line(k) for r in reviews for k in r.keywords)
    if not c:
        return "<p class='rla-meta'>No keywords among these reviews.</p>"
    top = sorted(c.items(), key=lambda kv: (-kv[1], kv[0].lower()))[:limit]
    more = f" <span class='rla-meta'>… and {len(c) - limit} more</span>" if len(c) > limit else ""
    return (
        "<div class='rla-facets'><strong>Keywords:</strong> "
        + "".join(f"<span>{esc(k)} ({n})</span>" for k, n in top)
        + more
        + "</div>"
    )


def uploads_html(uploads: list[Upload]) -> str:
    if not uploads:
        return ""
    rows = []
    for u in uploads:
        if u.saved is not None:
            rows.append(f"<li>Added {esc(u.name)}, saved as <code>{esc(u.saved.name)}</code></li>")
        else:
            rows.append(f"<li><strong>Refused</strong> {esc(u.reason)}</li>")
    return "<ul>" + "".join(rows) + "</ul>"


_QUOTE_CITE = re.compile(r'”(\s*)<a class="cite" href="#ref-(\d+)">\[\d+\]</a>')
_REF_CITE = re.compile(r'<a class="cite" href="#ref-(\d+)">\[(\d+)\]</a>')


def brief_html(pack: Any) -> str:
    """A briefing pack as the app shows it: the pack's own HTML (rag.brief.render_html), each quote's [n] opening
    that quote highlighted in its review, an overview's [n] the first quote from reference n. The quotes are
    `pack.quotes()`, in the order the pack prints them; the links' values index that list from 1."""
    from rag.brief import render_html

    body = render_html(pack).split("<body>", 1)[1].rsplit("</body>", 1)[0]
    quotes = list(pack.quotes())
    first: dict[int, int] = {}
    for i, q in enumerate(quotes, 1):
        first.setdefault(q.ref, i)

    def link(i: int, ref: int) -> str:
        return cite_link(i, "brief-open", "brief-record", shown_as=ref)

    if len(_QUOTE_CITE.findall(body)) == len(quotes):  # each quote's own [n], in order
        numbers = iter(range(1, len(quotes) + 1))
        body = _QUOTE_CITE.sub(lambda m: f"”{m.group(1)}{link(next(numbers), int(m.group(2)))}", body)
    # Whatever [n] is left (an overview's, or every one if the pack's layout was not the one expected) opens the
    # first quote from that review.
    body = _REF_CITE.sub(
        lambda m: link(first[int(m.group(1))], int(m.group(2))) if int(m.group(1)) in first else m.group(0), body
    )
    body = body.replace("{", "&#123;").replace("}", "&#125;").replace("$", "&#36;")
    return f"<div class='rla-brief'>{body}</div>"


def eval_cards_html(questions: list[dict[str, Any]], modes: list[str], labels: dict[str, str]) -> str:
    """The evaluation per question and mode as cards: the question wrapped, the gold reviews it missed and the
    learning points the answer missed in plain sight, its retrieved passages (citation labels) to open in context.
    A passage link's value is "question id|mode|rank"."""
    cards = []
    for q in questions:
        for mode in modes:
            r = q.get(mode, {})
            missed = r.get("missed", [])
            points = r.get("missed_points", [])
            gold = ", ".join(q["gold"]) or "none: the set expects an abstention"
            verdict = "abstained" if r.get("abstained") else "answered"
            qid = str(q["id"])
            passages = "".join(
                f"<li>{open_link(f'{qid}|{mode}|{i}', esc(labels.get(cid, cid)), 'eval-open', 'eval-record')}</li>"
                for i, cid in enumerate(r.get("passages", []), 1)
            )
            cards.append(
                f"<div class='rla-card rla-eval-card' data-question='{esc(str(q['id']))}' data-mode='{esc(mode)}'>"
                f"<p class='rla-meta'>{esc(str(q['id']))} · {esc(mode)} · {esc(str(q.get('kind', '')))} · {verdict}</p>"
                f"<p class='rla-eval-q'><strong>{esc(q['question'])}</strong></p>"
                f"<p class='rla-meta'>Gold: {esc(gold)}</p>"
                + (
                    f"<p class='rla-missed'>Missed reviews: <strong>{esc(', '.join(missed))}</strong></p>"
                    if missed
                    else ("<p class='rla-meta'>Missed reviews: none</p>" if q["gold"] else "")
                )
                + (
                    "<div class='rla-missed'>Learning points missed:<ul>"
                    + "".join(f"<li>{esc(p)}</li>" for p in points)
                    + "</ul></div>"
                    if points
                    else ""
                )
                + (
                    f"<details><summary>Retrieved passages ({len(r.get('passages', []))})</summary>"
                    f"<ol class='rla-passages'>{passages}</ol></details>"
                    if passages
                    else "<p class='rla-meta'>No passage retrieved.</p>"
                )
                + "</div>"
            )
    return "<div class='rla-eval-cards' id='eval-cards'>" + "".join(cards) + "</div>"


def to_mark(elem_id: str) -> str:
    """Browser code that scrolls the highlighted passage of a record into view once it has been drawn."""
    scroll_js = f"document.querySelector('#{elem_id} mark')?.scrollIntoView({{block: 'center'}})"
    return f"() => setTimeout(() => {scroll_js}, 150)"
