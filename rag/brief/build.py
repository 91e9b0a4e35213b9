"""A topic → a briefing pack: the ledger's scope, chosen quotes grouped by theme, references, optional overview."""

from __future__ import annotations

from dataclasses import replace

from rag.brief.model import Brief, Quote, Reference, Theme, Vignette
from rag.brief.questions import load_questions
from rag.brief.select import Candidate, learning_points, on_topic, recommendations, vignettes
from rag.brief.themes import discussion_questions, group_points
from rag.ledger import closest_text, ledger
from rag.llm import LLM, Excerpt, Prompt, ask_model, check_generated, fit_excerpts, load_prompt, render_excerpts
from rag.models import Chunk
from rag.retrieve import Filters, Retriever


def build_brief(retriever: Retriever, topic: str, filters: Filters | None = None, llm: LLM | None = None) -> Brief:
    """Every fact in the pack is a verbatim, cited quote; `llm` adds an overview that must cite them too."""
    prompts = (load_prompt("brief_system"), load_prompt("brief_user")) if llm is not None else None  # fail fast
    templates = load_questions()
    led = ledger(retriever, topic, filters)
    filt = {k: v for k, v in (filters.__dict__ if filters else {}).items() if v is not None}
    if not led.entries:
        return Brief(led.topic, filt, (), {}, {}, (), (), (), (), (), notice=closest_text(led).strip() or None)
    scope = on_topic(retriever, led, filters)
    points = learning_points(retriever, scope)
    recs = recommendations(retriever, scope)
    stories = vignettes(retriever, led, filters)

    refs: dict[str, int] = {}  # review id → reference number, in order of first quotation
    places: dict[str, dict[str, None]] = {}  # review id → where the pack quotes it
    themes = tuple(
        Theme(
            theme.name if theme else "",
            tuple(_quote(retriever, c, refs, places) for c in group),
            theme.id if theme else "",
        )
        for theme, group in group_points(retriever, led.topic, points, scope.reviews)
    )
    rec_quotes = tuple(_quote(retriever, c, refs, places) for c in recs)
    vig = tuple(
        Vignette(head, _ref(refs, cs[0].review_id), tuple(_quote(retriever, c, refs, places) for c in cs))
        for head, cs in stories
    )
    references = tuple(_reference(retriever, rid, n, tuple(places[rid])) for rid, n in refs.items())
    others = tuple(
        _reference(retriever, rid, len(refs) + i)
        for i, rid in enumerate((r for r in scope.reviews if r not in refs), 1)
    )
    brief = Brief(
        led.topic,
        filt,
        tuple(e.hit.chunk.kind for e in led.entries),
        led.by_year,
        led.by_area,
        themes,
        rec_quotes,
        vig,
        discussion_questions(themes, bool(rec_quotes), bool(vig), templates),
        references,
        others,
    )
    return _with_overview(brief, llm, *prompts) if llm is not None and prompts else brief


def _ref(refs: dict[str, int], review_id: str) -> int:
    return refs.setdefault(review_id, len(refs) + 1)


def _quote(retriever: Retriever, c: Candidate, refs: dict[str, int], places: dict[str, dict[str, None]]) -> Quote:
    src = retriever.data.sources[retriever.data.reviews[c.review_id].source]
    places.setdefault(c.review_id, {})[_place(retriever.data.chunks[c.row], src.page_at(c.start))] = None
    return Quote(
        src.text[c.start : c.end],
        _ref(refs, c.review_id),
        c.review_id,
        c.section,
        src.path,
        c.start,
        c.end,
        src.page_at(c.start),
    )


def _place(chunk: Chunk, page: int | None) -> str:
    """Where in its review a quote is: the section (or heading) and paragraph of its citation label, and its page."""
    where = chunk.citation_label[len(chunk.review_label) :].rsplit(" — ", 1)[0].lstrip(", ")
    return ", ".join(x for x in (where, f"p. {page}" if page else "") if x)


def _reference(retriever: Retriever, review_id: str, n: int, places: tuple[str, ...] = ()) -> Reference:
    r = retriever.data.reviews[review_id]
    return Reference(n, r.id, r.title, r.year, r.area, r.type, r.source, r.page, r.partnership, places, r.url)


# --- generated overview --------------------------------------------------------------------


def _with_overview(brief: Brief, llm: LLM, system: Prompt, user_prompt: Prompt) -> Brief:
    quotes = [q for t in brief.themes for q in t.points] + list(brief.recommendations)
    if not quotes:
        return brief
    by_id = {r.review_id: r for r in brief.references}
    excerpts = fit_excerpts(
        [Excerpt(i, _short_label(by_id[q.review_id]), q.section, q.text) for i, q in enumerate(quotes, 1)]
    )
    user = user_prompt.render(topic=brief.topic, excerpts=render_excerpts(excerpts))
    raw, failure = ask_model(llm, system.render(), user)
    if raw is None:
        return replace(
            brief, notice=f"No overview: {failure}. Everything else in this pack is quoted from the reviews."
        )
    checked = check_generated(raw, len(excerpts))
    if not checked.ok:
        why = f"only {len(checked.sentences)} of {checked.total} sentences cited the learning points it was given"
        return replace(
            brief,
            notice=f"No overview: the language model's text was not used ({why}). "
            "Everything else in this pack is quoted from the reviews.",
        )
    notice = f"The overview was written by a language model ({llm.name}); each sentence cites the reviews quoted below."
    if checked.removed:
        notice += f" Removed by the citation check: {checked.summary()}."
    return replace(
        brief, overview=checked.text({i: quotes[i - 1].ref for i in range(1, len(excerpts) + 1)}), notice=notice
    )


def _short_label(r: Reference) -> str:
    return ", ".join(str(x) for x in (r.title, r.year, r.area) if x)
