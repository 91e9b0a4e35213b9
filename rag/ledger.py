"""A topic → every review that addresses it (not top-k), one cited excerpt each, counted by year and area."""

from __future__ import annotations

import hashlib
import os
import re
import threading
import weakref
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import numpy as np

from rag.facets import records_by_theme
from rag.lexical import expand_query, stem_tokens_many, topic_core, topic_variants
from rag.models import Hit
from rag.retrieve import Filters, Retriever, clean_query
from rag.settings import Settings
from rag.themes import (
    Theme,
    evidence_terms,
    find_term,
    load_themes,
    masked,
    narrower_terms,
    phrase_spans,
    phrase_stems,
    pseudonyms,
    question_themes,
    terms,
    theme_by_id,
    theme_named,
    tokens,
)
from rag.ui_text import records_text
from rag.vocabulary import LAY_TERMS

_WORD = re.compile(r"(?u)\b\w\w+\b")
# A word with its apostrophe: "doesn't" is one word (a function word, named as no topic), not "doesn" and "t".
_WORD_AS_WRITTEN = re.compile(r"(?u)\b\w\w+(?:['’]\w+)?")
_NEGATION = re.compile(r"(?i)\w+n['’]t")
_GENERIC_SHARE = 0.4  # a word more than this share of reviews contain does not name a question's theme
_MAX_PHRASE_WORDS = 6  # a longer topic is a question: it is matched through its synonyms and themes


@dataclass(frozen=True)
class LedgerEntry:
    review_id: str
    title: str
    year: int | None
    area: str
    type: str | None
    score: float
    hit: Hit
    marks: tuple[tuple[int, int], ...] = ()  # the matched phrases, as offsets in the source text

    def to_dict(self) -> dict[str, Any]:
        d = self.hit.to_dict()
        d.update(
            {
                "review_id": self.review_id,
                "title": self.title,
                "score": round(self.score, 4),
                "marks": [list(m) for m in self.marks],
            }
        )
        return d


@dataclass(frozen=True)
class Ledger:
    topic: str
    entries: tuple[LedgerEntry, ...]
    phrases: tuple[str, ...] = ()  # what was matched: the topic, its synonyms, its themes' names and aliases
    # When no record addresses the topic: the themes closest to it in meaning that records address, each with the
    # kind of each of its records ("kids who stop coming to school" → children missing education, …).
    closest: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def by_year(self) -> dict[str, int]:
        c = Counter(str(e.year) if e.year else "not stated" for e in self.entries)
        return dict(sorted(c.items()))

    @property
    def by_area(self) -> dict[str, int]:
        c = Counter(e.area for e in self.entries)
        return dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "reviews": len(self.entries),
            "phrases": list(self.phrases),
            "by_year": self.by_year,
            "by_area": self.by_area,
            "entries": [e.to_dict() for e in self.entries],
            "closest_themes": [{"theme": name, "records": len(kinds)} for name, kinds in self.closest],
        }


def topic_phrases(topic: str, themes: tuple[Theme, ...] | None = None) -> tuple[str, ...]:
    """The phrases that show a text addresses the topic: the topic itself (when short enough to be a
    phrase), the other names of any synonym group it mentions, and the terms of every theme its wording
    names (rag/data/themes.toml; `asked_terms`: only the narrower ones it names, when it names the theme by
    those alone). Keyword tags are not among them."""
    core = topic_core(clean_query(topic))
    out: dict[str, None] = {}
    if len(phrase_stems(core)) <= _MAX_PHRASE_WORDS:
        out.setdefault(" ".join(core.lower().split()), None)
    for variant in topic_variants(core)[1:]:
        out.setdefault(variant.lower(), None)
    for theme in question_themes(topic) if themes is None else themes:
        for term in asked_terms(topic, theme):
            out.setdefault(term, None)
    return tuple(p for p in out if phrase_stems(p))


def _named_terms(text: str, themes: tuple[Theme, ...]) -> list[str]:
    """The themes' names, aliases and narrower terms the text itself uses, longest first."""
    return _found_terms(text, tuple(t for theme in themes for t in evidence_terms(theme)))


def _found_terms(text: str, candidates: tuple[str, ...]) -> list[str]:
    """The candidate terms the text contains as phrases: a term found only inside a longer one it uses is left
    out ("child protection conferences" names conferences, not child protection)."""
    stems, spans = tokens(text)
    found = {t: find_term(text, stems, spans, t) for t in candidates}
    found = {t: at for t, at in found.items() if at}
    inside = {
        t
        for t, at in found.items()
        for u, bt in found.items()
        if u != t and all(any(b0 <= a0 and a1 <= b1 and (b1 - b0) > (a1 - a0) for b0, b1 in bt) for a0, a1 in at)
    }
    return [t for t in found if t not in inside]


def narrowed_to(text: str, theme: Theme) -> tuple[str, ...]:
    """The narrower terms of the theme the text names ("FGM" of harmful practices), when it names the theme by
    those alone and not by a synonym (its name, an alias, a phrasing); else none."""
    found = _found_terms(text, terms(theme))
    narrow = set(narrower_terms(theme))
    if any(t not in narrow for t in found):
        return ()
    return tuple(t for t in found if t in narrow)


def asked_terms(text: str, theme: Theme) -> tuple[str, ...]:
    """What shows a review addresses the theme as the text asks about it. Named by a synonym (its name, an alias,
    a phrasing) or reached by meaning: any of the theme's terms ("dads" is covered by a review on fathers).
    Named by narrower terms alone: those terms or their variants ("FGM" is not covered by a review on forced
    marriage, though both are harmful practices)."""
    narrow = narrowed_to(text, theme)
    if not narrow:
        return evidence_terms(theme)
    return tuple(dict.fromkeys(v.lower() for t in narrow for v in topic_variants(t)))


def phrase_rows(retriever: Retriever, phrases: tuple[str, ...], mask: np.ndarray) -> dict[int, list[tuple[int, int]]]:
    """Chunk row → the source spans where one of the phrases occurs in its text (rows `mask` allows)."""
    data = retriever.data
    marks: dict[int, list[tuple[int, int]]] = {}
    for phrase in phrases:
        for row in np.flatnonzero(mask & retriever.mentions(phrase)):
            chunk = data.chunks[row]
            spans = phrase_spans(chunk.text, (phrase,))
            if spans:
                marks.setdefault(int(row), []).extend((chunk.start + s, chunk.start + e) for s, e in spans)
    return marks


def ledger(retriever: Retriever, topic: str, filters: Filters | None = None) -> Ledger:
    """`_ledger`, remembered per loaded index, topic and filters: a theme's ledger serves every question about
    that theme (coverage), the Ledger tab and `rla ledger` alike, and a new index generation starts afresh."""
    key = (topic, filters if filters is not None and filters.active() else None)
    return _remembered(
        _memo(retriever).ledgers, key, lambda: _with_closest(retriever, _ledger(retriever, topic, filters), filters)
    )


CLOSEST_THEMES = 5


def _with_closest(retriever: Retriever, led: Ledger, filters: Filters | None) -> Ledger:
    """A ledger with no entries, with the `CLOSEST_THEMES` themes closest to its topic in meaning (`theme_scores`)
    that records the filters allow address — counted as `rla themes` counts them — so that a topic in other words
    leads somewhere."""
    if led.entries:
        return led
    data = retriever.data
    records = records_by_theme(data, retriever.mask(filters))
    scores = theme_scores(retriever, led.topic).scores
    closest = []
    for i in np.argsort(-scores):
        theme = load_themes()[int(i)]
        if records.get(theme.id) and theme.name != led.topic:
            closest.append((theme.name, tuple(data.reviews[r].kind for r in sorted(records[theme.id]))))
        if len(closest) == CLOSEST_THEMES:
            break
    return replace(led, closest=tuple(closest))


def warm_ledgers(retriever: Retriever) -> None:
    """Work out every theme's ledger (no filters) now, as a question about the theme would (~2 s of CPU for the
    bundled corpus): the answer workers do it once per start, so that no user waits for it."""
    for theme in load_themes():
        ledger(retriever, theme.name)


def _ledger(retriever: Retriever, topic: str, filters: Filters | None = None) -> Ledger:
    """Every review that addresses the topic. A theme (the topic is its name, or an alias of it alone in its
    name's words): the reviews its chunks are tagged with (rag.themes.tag_text). Any other topic: one of its
    chunks contains one of `topic_phrases(topic)` as a phrase (in order, at most `PHRASE_GAP` words between two of
    its words, inflections allowed, not across a clause's punctuation). The words the topic itself uses count
    wherever they occur (a single word, "fathers", only when the topic is that short); a theme's other names only
    in a passage on the topic, one scoring at least `settings.ledger_passage_cosine` against it (not against a
    theme's description: measured, not kept, eval/README.md fifth round). An alias saying more than its theme's
    name ("alcohol") is such a topic, with no theme. Each entry's excerpt is its matching chunk closest to the
    topic, with the matched spans kept as source offsets (README: "The ledger")."""
    topic = clean_query(topic)
    core = topic_core(topic)
    data = retriever.data
    allowed = retriever.mask(filters)
    mask = np.ones(len(data.chunks), dtype=bool) if allowed is None else allowed
    theme = theme_named(core, aliases=True)
    themes: tuple[Theme, ...] = (theme,) if theme is not None else detect_themes(retriever, topic)
    if theme is not None and not set(phrase_stems(core)) <= set(phrase_stems(theme.name)):
        # An alias that says more than the theme's name ("alcohol", "risk assessment", "mother's partner"): its
        # own words and their synonyms, wherever they occur, not every review on the theme.
        theme, themes = None, ()
    dense = retriever.dense_scores([core])[0]
    short = len(phrase_stems(core)) <= _MAX_PHRASE_WORDS
    if theme is not None:
        # A theme's ledger (the topic is its name, or an alias in its name's words: "fathers", "substance misuse"):
        # the chunks tagged with it at ingest (rag.themes.tag_text), its terms marked in them — the records
        # `rla themes` counts and `--theme` keeps.
        phrases = evidence_terms(theme)
        marks: dict[int, list[tuple[int, int]]] = {}
        for i in np.flatnonzero(mask & Filters(theme=theme.id).mask(data.chunks)):  # as `--theme` keeps them
            c = data.chunks[i]
            text = masked(c.text, pseudonyms(data.reviews[c.review_id]))  # as tagged: "Infant D" is no term
            marks[int(i)] = [(c.start + s, c.start + e) for s, e in phrase_spans(text, phrases)]
    else:
        marks, phrases = _topic_marks(retriever, topic, themes, mask, dense)
    if themes and theme is None and not any(_names(topic, t) for t in themes):
        # Themes reached by meaning alone are a guess at the topic: the question's own words (and their
        # synonyms), when some passage has them, say better what it is about ("pets in the home").
        own_marks, own_phrases = _topic_marks(retriever, topic, (), mask, dense)
        if own_marks:
            marks, phrases, themes = own_marks, own_phrases, ()
    if not marks and not themes and not short:
        # A question in everyday words that names no theme: the passages closest in meaning, unmarked.
        marks = {int(row): [] for row in np.flatnonzero(mask & (dense >= retriever.settings.ledger_cosine))}
    if not marks:
        return Ledger(topic, (), phrases)
    lex = retriever.bm25.scores(expand_query(core))
    lex_max = float(lex.max()) if len(lex) else 0.0
    best: dict[str, tuple[float, int]] = {}
    for row in marks:
        chunk = data.chunks[row]
        score = float(dense[row]) + (0.5 * float(lex[row]) / lex_max if lex_max > 0 else 0.0)
        if chunk.review_id not in best or score > best[chunk.review_id][0]:
            best[chunk.review_id] = (score, row)
    ordered = sorted(best.items(), key=lambda kv: -kv[1][0])
    entries = []
    for rank, (rid, (score, row)) in enumerate(ordered, start=1):
        chunk = data.chunks[row]
        entries.append(
            LedgerEntry(
                rid,
                chunk.title,
                chunk.year,
                chunk.area,
                chunk.type,
                score,
                Hit(chunk, score, rank),
                tuple(sorted(set(marks[row]))),
            )
        )
    return Ledger(topic, tuple(entries), phrases)


def _names(text: str, theme: Theme) -> bool:
    """Whether the text names the theme by one of its terms (name, alias or everyday phrasing) as a phrase."""
    stems, spans = tokens(text)
    return any(find_term(text, stems, spans, t) for t in terms(theme))


def _topic_marks(
    retriever: Retriever, topic: str, themes: tuple[Theme, ...], mask: np.ndarray, dense: np.ndarray
) -> tuple[dict[int, list[tuple[int, int]]], tuple[str, ...]]:
    """Chunk row → matched spans for the topic with these themes, and the phrases looked for. The words the
    topic itself uses count wherever they occur (a single word only when the topic is that short); the themes'
    other names count in a passage on the topic (`settings.ledger_passage_cosine`)."""
    phrases = topic_phrases(topic, themes)
    short = len(phrase_stems(topic_core(topic))) <= _MAX_PHRASE_WORDS
    own = set(topic_phrases(topic, ()))
    for term in _named_terms(topic, themes):
        own.update(v.lower() for v in topic_variants(term))
    direct = tuple(p for p in phrases if p in own and (short or len(phrase_stems(p)) > 1))
    marks = phrase_rows(retriever, direct, mask)
    threshold = retriever.settings.ledger_passage_cosine
    for row, m in phrase_rows(retriever, tuple(p for p in phrases if p not in direct), mask).items():
        if dense[row] >= threshold:
            marks.setdefault(row, []).extend(m)
    return marks, phrases


def excerpt(text: str, offset: int, marks: tuple[tuple[int, int], ...], width: int = 320) -> str:
    """The passage around the first mark, never cut before it, the marked words between « and »."""
    if not marks:
        s, e = 0, min(len(text), width)
    else:
        first = marks[0][0] - offset
        s = max(0, first - width // 3)
        while s > 0 and not text[s - 1].isspace():
            s -= 1
        e = min(len(text), max(s + width, marks[0][1] - offset))
        while e < len(text) and not text[e].isspace():
            e += 1
    out, pos = [], s
    for ms, me in marks:
        ms, me = ms - offset, me - offset
        if ms < pos or me > e:
            continue
        out += [text[pos:ms], "«", text[ms:me], "»"]
        pos = me
    out.append(text[pos:e])
    body = " ".join("".join(out).split())
    return ("… " if s > 0 else "") + body + (" …" if e < len(text) else "")


def ledger_text(led: Ledger) -> str:
    if not led.entries:
        return f"No review in the index addresses “{led.topic}”." + closest_text(led)
    lines = [f"{records_text((e.hit.chunk.kind for e in led.entries), 'address')} “{led.topic}”.", ""]
    if led.phrases:
        lines.append("Matched as phrases: " + "; ".join(f"“{p}”" for p in led.phrases))
    lines.append("By year: " + ", ".join(f"{y}: {n}" for y, n in led.by_year.items()))
    lines.append("By area: " + ", ".join(f"{a}: {n}" for a, n in led.by_area.items()))
    lines.append("")
    for e in led.entries:
        c = e.hit.chunk
        meta = ", ".join(str(x) for x in (e.title, e.year, e.area, c.section) if x)
        lines.append(f"- {meta} ({e.review_id}; {c.source})\n    “{excerpt(c.text, c.start, e.marks)}”")
    return "\n".join(lines)


def closest_text(led: Ledger) -> str:
    """ " Themes closest in meaning that reviews address: neglect (24 reviews and 1 analysis); …" — or nothing
    when the ledger has entries."""
    if led.entries or not led.closest:
        return ""
    named = "; ".join(f"{name} ({records_text(kinds)})" for name, kinds in led.closest)
    return f" Themes closest in meaning that reviews address: {named}."


@dataclass(frozen=True)
class Coverage:
    """What a question asks about and how much of the collection addresses it."""

    topic: str  # the ledger topic for the full list (`rla ledger "…"`)
    label: str  # what the covered reviews address, in words ("fathers and male carers")
    ledger: Ledger
    asked: tuple[str, ...]  # the themes or phrases the question names
    uncovered: tuple[str, ...]  # those of them no review addresses
    related: tuple[tuple[str, tuple[str, ...]], ...]  # covered neighbouring themes of uncovered ones: (name, kinds)
    unknown: tuple[str, ...] = ()  # the question's content words that no indexed text contains
    everyday: bool = False  # a theme was reached through everyday wording or meaning, not by its name or alias
    # How much of the question's meaning survives without its unknown words: the cosine between the question
    # and the question with them left out (1.0 when there are none). Low: the unknown words are what it asks about.
    unknown_share: float = 1.0
    # When every theme the question names is a service or a group ("school", "teenagers"), how close the
    # question is in meaning to those words alone (cosine; 1.0 otherwise): "What role did the GP have?" is
    # about the GP, "How should a school manage a child with type 1 diabetes?" is not about schools.
    context_share: float = 1.0
    # How close the question is in meaning to its unknown words alone (cosine; 0.0 when there are none): high
    # when they name what it asks about ("Are trampoline parks safe for young children?" → "trampoline"), low
    # when they are incidental ("Mum barely speaks our language…" → "barely our wrong").
    unknown_focus: float = 0.0
    context: tuple[str, ...] = ()  # those of `asked` that are services or groups (a theme's `kind`), not issues
    # The unknown words a refusal names: those in the question's topic, not its framing ("Do any reviews cover
    # … damp and mould" names "damp" and "mould", not "cover"); all of them when none is; never a light verb
    # ("getting").
    unknown_named: tuple[str, ...] = ()
    # Records whose NSPCC keywords name an uncovered or guessed topic while their text does not discuss it:
    # (id, title).
    keyworded: tuple[tuple[str, str], ...] = ()
    # Themes the question seems to be about (reached by meaning, not named) that no review addresses.
    guessed_uncovered: tuple[str, ...] = ()

    @property
    def silent(self) -> bool:
        """The question names topics and no review addresses any of them."""
        return bool(self.asked) and len(self.uncovered) == len(self.asked)

    def about_context(self, settings: Settings) -> bool:
        """Whether the question is about the services or groups it names, not only set among them."""
        return self.context_share >= settings.context_share_min


def coverage(retriever: Retriever, question: str, filters: Filters | None = None) -> Coverage:
    """The question's themes (or its topic, when short and naming none) and which reviews address them.

    A theme the question names by a synonym (its name, an alias, an everyday phrasing) is covered when a review
    contains any of its terms ("dads": a review on fathers); one it names by a narrower term alone when a review
    contains that very term or a variant (`asked_terms`): "female genital mutilation" is not covered by a review
    on forced marriage. The ledger for the question follows the same rule."""
    # Whether a topic is addressed at all is a question about the whole collection, whatever the filters
    # (`reviews_with`).
    themes = detect_themes(retriever, question)
    # One theme: its ledger, so that the count is the one `rla ledger "<theme>"` lists; named by one narrower term
    # alone, that term's ledger ("FGM").
    topic = question
    if len(themes) == 1:
        narrow = narrowed_to(question, themes[0])
        topic = themes[0].name if not narrow else narrow[0] if len(narrow) == 1 else question
    led = ledger(retriever, topic, filters)
    stems, spans = tokens(question)
    asked: list[str] = []
    uncovered: list[str] = []
    guessed: list[str] = []
    context: list[str] = []
    everyday = False
    related: dict[str, tuple[str, ...]] = {}
    for theme in themes:
        found = {t: find_term(question, stems, spans, t) for t in evidence_terms(theme)}
        named = [t for t, at in found.items() if at]
        # Named as the question words it: "FGM", "female genital mutilation".
        label = max((question[s:e] for t in named for s, e in found[t]), key=len) if named else theme.name
        # Named by a synonym, any of the theme's terms shows a review addresses it; named by a narrower term alone
        # ("FGM" of harmful practices), that term or its variants must appear ("forced marriage" is another topic).
        addressed = bool(reviews_with(retriever, asked_terms(question, theme)))
        if not named and not addressed:
            # Reached through everyday wording or meaning: a guess at the topic, not what it names, so it refuses
            # nothing; but an answer says no review addresses it.
            guessed.append(theme.name)
            continue
        everyday = everyday or not named
        asked.append(label)
        if theme.kind != "issue":
            context.append(label)
        if not addressed:
            uncovered.append(label)
            for rid in theme.related:
                other = theme_by_id(rid)
                kinds = tuple(e.hit.chunk.kind for e in ledger(retriever, other.name).entries)
                if kinds:  # its records, as `rla ledger` and `rla themes` count them
                    related[other.name] = kinds
    core = topic_core(clean_query(question))
    short = 0 < len(phrase_stems(core)) <= _MAX_PHRASE_WORDS
    # A question naming a record ("What did the Merton review say?") asks about it: its words are no topic.
    if not themes and short and not retriever.named.named(question):
        asked.append(core)
        if not led.entries:
            uncovered.append(core)
    # What the covered reviews address, in words: its themes, or its short topic. A longer question naming no
    # theme is matched as a whole (`ledger`), and is not quoted back as if it were a topic.
    # Named by one narrower term alone, the count is that term's: "special guardianship orders", not kinship care.
    label = "; ".join(t.name for t in themes) if themes else core if short else "this question"
    label = topic if len(themes) == 1 and topic != question else label
    covered_related = tuple(sorted(related.items(), key=lambda kv: -len(kv[1])))
    unknown = unknown_words(retriever, question)
    keyworded = (
        tuple(
            (r.id, r.title)
            for r in retriever.data.reviews.values()
            if any(phrase_spans(k, (*uncovered, *guessed)) for k in r.keywords)
        )
        if uncovered or guessed
        else ()
    )
    return Coverage(
        led.topic,
        label,
        led,
        tuple(asked),
        tuple(uncovered),
        covered_related,
        unknown,
        everyday,
        unknown_share(retriever, question, unknown),
        _context_share(retriever, question, themes, tuple(asked)),
        unknown_focus(retriever, question, unknown),
        tuple(context),
        _named_unknown(unknown, core),
        keyworded,
        tuple(guessed),
    )


# Verbs that carry no topic of their own ("who gets free school meals", "police getting called out"): a refusal
# does not name them as what no review addresses.
_LIGHT_VERBS = frozenset(
    "get gets getting got gotten make makes making made take takes taking took taken keep keeps keeping kept go goes "  # noqa: SIM905
    "going went gone come comes coming came put puts putting do does doing did done give gives giving gave given "
    "say says saying said".split()
)


def _named_unknown(unknown: tuple[str, ...], core: str) -> tuple[str, ...]:
    """The unknown words a refusal names: those of the question's topic (`core`), not its framing (the others
    when none is), and never a light verb."""
    words = [w for w in unknown if w.lower() not in _LIGHT_VERBS]
    return tuple(w for w in words if re.search(rf"(?iu)\b{re.escape(w)}\b", core)) or tuple(words)


def _context_share(retriever: Retriever, question: str, themes: tuple[Theme, ...], asked: tuple[str, ...]) -> float:
    if not themes or not asked or any(t.kind == "issue" for t in themes):
        return 1.0
    q, *named = retriever.embed_queries([question, *asked])
    return max(float(q @ v) for v in named)


def unknown_words(retriever: Retriever, text: str) -> tuple[str, ...]:
    """The text's content words (as written, each once) that no title, text or record detail (area,
    partnership, type) in the index contains, and that the vocabulary does not know as everyday wording.
    Remembered per index, as the question's themes are."""
    return _remembered(_memo(retriever).unknown, text, lambda: _unknown_words(retriever, text))


def _unknown_words(retriever: Retriever, text: str) -> tuple[str, ...]:
    out: dict[str, None] = {}
    known = _memo(retriever).known_words(retriever)
    words = [w for w in _WORD_AS_WRITTEN.findall(text) if not _NEGATION.fullmatch(w)]
    for word, stems in zip(words, stem_tokens_many(words), strict=True):
        # An everyday word the vocabulary translates ("mum" → "mother", "not crawling" → "non-mobile")
        # names nothing new.
        if stems and not stems <= known and not retriever.mentions(word).any():
            out.setdefault(word, None)
    return tuple(out)


def unknown_share(retriever: Retriever, text: str, unknown: tuple[str, ...]) -> float:
    """Cosine between the text and the text without its unknown words: near 1 when they are incidental
    ("Mum barely speaks our language…"), low when they are what it asks about ("…type 1 diabetes and insulin")."""
    if not unknown:
        return 1.0
    rest = _without(text, unknown)
    if not _WORD.search(rest):
        return 0.0
    a, b = retriever.embed_queries([text, rest])
    return float(a @ b)


def _without(text: str, words: tuple[str, ...]) -> str:
    gone = re.compile(r"(?iu)\b(?:" + "|".join(re.escape(w) for w in words) + r")\b")
    return " ".join(gone.sub(" ", text).split())


def _with_unknown_texts(retriever: Retriever, question: str) -> list[str]:
    """The question, and what coverage compares it with when it has unknown words (`unknown_share`,
    `unknown_focus`): embedded in one model call, not three (each call costs ~6 ms however short the text)."""
    unknown = unknown_words(retriever, question)
    return [question, _without(question, unknown), " ".join(unknown)] if unknown else [question]


def unknown_focus(retriever: Retriever, text: str, unknown: tuple[str, ...]) -> float:
    """Cosine between the text and its unknown words alone: high when they are what it asks about ("trampoline"
    for "Are trampoline parks safe for young children?"), low when incidental ("barely", "our", "wrong")."""
    if not unknown:
        return 0.0
    a, b = retriever.embed_queries([text, " ".join(unknown)])
    return float(a @ b)


def _vocabulary_stems() -> frozenset[str]:
    """Stems of the words the vocabulary knows: everyday words it translates into the reviews' words
    (LAY_TERMS' phrases), and the themes' names, aliases and narrower terms — a question naming a theme no review
    addresses ("FGM") is answered by coverage, which names the theme. (Known only where the question names the
    alias or term as a phrase, they refused two held-out answerable questions, for "knife" of "knife crime" and
    "Gypsy" of "Gypsy, Roma and Traveller": eval/README.md, "Aliases and narrower terms".)"""
    words = [*LAY_TERMS, *(term for theme in load_themes() for term in evidence_terms(theme))]
    return frozenset(s for stems in stem_tokens_many(words) for s in stems)


@dataclass
class _Memo:
    """What the ledger works out once per loaded index: theme vectors, and the themes of questions asked."""

    theme_vectors: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    themes: dict[str, tuple[Theme, ...]] = field(default_factory=dict)
    known: frozenset[str] | None = None
    unknown: dict[str, tuple[str, ...]] = field(default_factory=dict)
    ledgers: dict[tuple[str, Filters | None], Ledger] = field(default_factory=dict)
    reviews: dict[tuple[str, ...], frozenset[str]] = field(default_factory=dict)

    def known_words(self, retriever: Retriever) -> frozenset[str]:
        """Stems no question word needs to find in the text: the records' details and the vocabulary's words."""
        if self.known is None:
            details = [
                " ".join(x for x in (r.area, r.partnership, r.type, r.child) if x)
                for r in retriever.data.reviews.values()
            ]
            self.known = frozenset(s for stems in stem_tokens_many(details) for s in stems) | _vocabulary_stems()
        return self.known


# Keyed weakly by retriever, so an index generation the web app has moved on from is freed with its retriever.
_MEMO: weakref.WeakKeyDictionary[Retriever, _Memo] = weakref.WeakKeyDictionary()
_MEMO_LOCK = threading.Lock()


_K = TypeVar("_K", bound=Hashable)
_T = TypeVar("_T")


def _remembered(memo: dict[_K, _T], key: _K, work: Callable[[], _T]) -> _T:
    """What `work` gives for the key (a question, a topic…), worked out once per loaded index (up to 512 keys at a
    time). Safe for the web app's threads: two asking at once may both work it out, and get equal answers."""
    try:
        return memo[key]
    except KeyError:
        pass
    value = work()
    if len(memo) >= 512:
        memo.clear()
    memo[key] = value  # returned from here, not read back: another thread may clear the memo meanwhile
    return value


def _memo(retriever: Retriever) -> _Memo:
    with _MEMO_LOCK:
        return _MEMO.setdefault(retriever, _Memo())


def _theme_vectors(retriever: Retriever) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One vector per theme description, everyday phrasing, alias and narrower term; the theme index of each row;
    and which rows are bare terms (scored `theme_alias_discount` lower than a sentence).

    Embedded once per model and vocabulary, then kept in the cache folder (`settings.cache/themes/`)."""
    memo = _memo(retriever)
    if memo.theme_vectors is None:
        texts, owner, alias = [], [], []
        for i, theme in enumerate(load_themes()):
            rows = [(f"{theme.name}: {theme.definition}", False), *((p, False) for p in theme.phrasings)]
            for text, is_alias in (*rows, *((a, True) for a in (*theme.aliases, *theme.narrower))):
                texts.append(text)
                owner.append(i)
                alias.append(is_alias)
        model = [retriever.data.manifest.model.name, str(retriever.data.manifest.model.sha256)]
        if getattr(retriever.embedder, "quantised", False):  # the int8 query encoder's vectors are its own
            model.append("int8")
        digest = hashlib.sha256("\n".join([*model, *texts]).encode()).hexdigest()[:24]
        path = retriever.settings.cache / "themes" / f"{digest}.npy"
        vectors = None
        try:
            vectors = np.load(path)  # allow_pickle is off by default
            if vectors.shape != (len(texts), retriever.data.dim):
                vectors = None
        except (OSError, ValueError):
            pass
        if vectors is None:
            vectors = retriever.embed_queries(texts)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{os.getpid()}.tmp")
                with open(tmp, "wb") as f:
                    np.save(f, vectors, allow_pickle=False)
                os.replace(tmp, path)
            except OSError:
                pass  # a read-only cache only costs the embedding again next time
        memo.theme_vectors = (vectors, np.asarray(owner), np.asarray(alias, dtype=bool))
    return memo.theme_vectors


def _review_share(retriever: Retriever, term: str) -> float:
    """The share of the collection's reviews that contain the term as a phrase."""
    return len(reviews_with(retriever, (term,))) / (len(reviews_with(retriever, ())) or 1)


def reviews_with(retriever: Retriever, phrases: tuple[str, ...]) -> frozenset[str]:
    """The reviews of the whole collection (whatever the filters) one of whose chunks contains one of the phrases
    (`phrase_rows`); with no phrases, every review. Remembered per loaded index: themes' terms recur in every
    question about them."""

    def work() -> frozenset[str]:
        chunks = retriever.data.chunks
        if not phrases:
            return frozenset(c.review_id for c in chunks)
        return frozenset(chunks[r].review_id for r in phrase_rows(retriever, phrases, np.ones(len(chunks), bool)))

    return _remembered(_memo(retriever).reviews, phrases, work)


def detect_themes(retriever: Retriever, question: str) -> tuple[Theme, ...]:
    """The themes a question is about (`theme_scores`): the best-scoring of those it words (by a term of theirs)
    or whose score reaches `settings.theme_cosine`, any other of them within `settings.theme_margin` of it, and
    any issue the question names by its name or an alias. Remembered per index: answers, coverage and the ledger ask
    about the same question."""
    return _remembered(_memo(retriever).themes, question, lambda: _detect_themes(retriever, question))


def _detect_themes(retriever: Retriever, question: str) -> tuple[Theme, ...]:
    themes = load_themes()
    settings = retriever.settings
    scored = theme_scores(retriever, question)
    scores = scored.scores
    # A theme the question words is a candidate whatever its score; one reached by meaning alone needs
    # `theme_cosine`.
    candidates = [i for i in range(len(themes)) if i in scored.worded or scores[i] >= settings.theme_cosine]
    if not candidates:
        return ()
    best = max(candidates, key=lambda i: float(scores[i]))
    floor = max(settings.theme_cosine, float(scores[best]) - settings.theme_margin)
    chosen = [best, *(i for i in candidates if i != best and scores[i] >= floor)]
    # An issue the question names outright ("fathers and hidden men") is one of its topics even when another
    # scores higher.
    chosen += [i for i in scored.named if i not in chosen and themes[i].kind == "issue"]
    return tuple(themes[i] for i in chosen)


@dataclass(frozen=True)
class ThemeScores:
    scores: np.ndarray  # per theme, in vocabulary order
    worded: frozenset[int]  # themes one of whose terms the question contains (a word most reviews contain aside)
    named: tuple[int, ...]  # themes it names by their name or an alias, in vocabulary order


def theme_scores(retriever: Retriever, question: str) -> ThemeScores:
    """Every theme's score for the question, in vocabulary order, and the themes it names by their name or an
    alias. A score is the best cosine between the question and the theme's description or everyday phrasings,
    plus a bonus when the question contains one of the theme's terms as a phrase (`theme_phrase_bonus` for a
    term of several words, `theme_word_bonus` for one word that most reviews do not contain: "assessment" names
    nothing). A service or group the question names that way loses `theme_context_penalty`: it is the setting
    a question is asked in rather than what it asks about ("fathers get left out when the health visitor assesses"
    is about fathers)."""
    settings = retriever.settings
    themes = load_themes()
    vectors, owner, alias = _theme_vectors(retriever)
    cos = (
        vectors @ retriever.embed_queries(_with_unknown_texts(retriever, question))[0]
        - settings.theme_alias_discount * alias
    )
    scores = np.full(len(themes), -1.0)
    np.maximum.at(scores, owner, cos)
    stems, spans = tokens(question)
    named: list[int] = []
    worded: set[int] = set()
    for i, theme in enumerate(themes):
        bonus = 0.0
        evidence = set(evidence_terms(theme))
        for term in terms(theme):
            if not find_term(question, stems, spans, term):
                continue
            if len(phrase_stems(term)) > 1:
                bonus = max(bonus, settings.theme_phrase_bonus)
            elif _review_share(retriever, term) <= _GENERIC_SHARE:
                bonus = max(bonus, settings.theme_word_bonus)
            else:
                continue
            worded.add(i)
            if term in evidence and i not in named:  # named outright, by its name or an alias
                named.append(i)
        if bonus > 0 and theme.kind != "issue":  # a service or group the question names is its setting
            bonus -= settings.theme_context_penalty
        scores[i] += bonus
    return ThemeScores(scores, frozenset(worded), tuple(named))
