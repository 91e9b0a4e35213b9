"""A topic → a briefing pack for trainers: cited learning points by theme, recommendations, vignettes, questions."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np

from rag.brief_write import BriefError, check_output, render_html, render_markdown, write_brief
from rag.chunk import sentence_spans
from rag.ledger import Ledger, ledger
from rag.lexical import SYNONYMS, expand_query
from rag.llm import LLM, Excerpt, Prompt, ask_model, check_generated, fit_excerpts, load_prompt, render_excerpts
from rag.models import location
from rag.retrieve import Filters, Retriever

# The writers live in rag/brief_write.py; callers import them from here with the pack they write.
__all__ = [
    "Brief",
    "BriefError",
    "Quote",
    "Reference",
    "Theme",
    "Vignette",
    "build_brief",
    "check_output",
    "write_brief",
]

POINT_SECTIONS = ("learning", "key issues", "good practice")
# A sentence is a learning point or recommendation on the topic when it names the topic (or a synonym), or
# when its score (cosine to the topic, plus the bonuses below) reaches MIN_SCORE and is within RELATIVE_FLOOR
# of the best sentence's. Set by reading packs on "fathers", "disguised compliance", "was not brought",
# "neglect", "mental health" and "information sharing".
MIN_SCORE = 0.40
RELATIVE_FLOOR = 0.30
LEARNING_BONUS = 0.05  # a "learning" section states learning; "key issues" often states facts of the case
TOPIC_WORD_BONUS = 0.05  # the sentence says the topic (or a synonym) in so many words
MAX_POINTS, MAX_POINTS_PER_REVIEW = 14, 2
MAX_RECOMMENDATIONS = 8
MAX_THEMES = 5
MAX_VIGNETTES = 5
VIGNETTE_WORDS = 90  # summary sentences are added while the vignette is shorter than this
SHORT_SUMMARY_WORDS = 25  # below this, the first sentences of the background follow the summary

# Words a theme is never named after: function words, and words nearly every review uses.
_STOP_WORDS = """a about above across after again against all also although an and any are around as at be because been before
    being between both but by can could did do does doing done due during each either even every for from further
    had has have having he her here his how however i if in into is it its may might more most much must no nor not
    of off on once only or other our out over own per same she should since so some such than that the their them
    then there these they this those though through thus to too under until up upon very was we were what when where
    whether which while who whom whose why will with within without would"""
_STOP = frozenset(_STOP_WORDS.split())
_GENERIC_WORDS = """practitioner practitioners professional professionals agency agencies child children family families parent
    parents need needs needed ensure ensuring review reviews learning lesson lessons case cases work working worked
    services service staff people person important importance issue issues include includes including identified
    identify identifies highlight highlights highlighted consider considering considered role roles use used using
    make making made time times way ways level levels example examples local lack lacking well good better poor
    particularly particular always often sometimes many within across around key clear clearly able"""
_GENERIC = frozenset(_GENERIC_WORDS.split())
# Practice themes a group of learning points can be named after (besides the synonym groups and the
# reviews' own keywords). A theme's name is always the words as they appear in one of its quotes.
THEME_TERMS = (
    "assessment",
    "information sharing",
    "professional curiosity",
    "challenge",
    "supervision",
    "multi-agency",
    "communication",
    "recording",
    "record keeping",
    "risk",
    "engagement",
    "escalation",
    "training",
    "threshold",
    "planning",
    "strategy meeting",
    "referral",
    "early help",
    "health visitor",
    "midwife",
    "midwifery",
    "GP",
    "school",
    "education",
    "police",
    "housing",
    "hospital",
    "emergency department",
    "disability",
    "pregnancy",
    "unborn baby",
    "mental health",
    "substance misuse",
    "drug",
    "alcohol",
    "neglect",
    "physical abuse",
    "sexual abuse",
    "bruising",
    "injury",
    "lived experience",
    "wishes and feelings",
    "parenting capacity",
    "optimism",
    "culture",
    "interpreter",
    "poverty",
    "transition",
    "transfer",
    "young people",
    "adolescent",
    "siblings",
    "care proceedings",
    "foster care",
    "kinship care",
    "self-harm",
    "suicide",
    "trauma",
    "online",
    "bullying",
    "leadership",
    "guidance",
    "procedures",
    "history",
    "family members",
    "partner",
)
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]|[A-Za-z]")
# A list number, bullet or "… include:" lead-in at the start of a sentence (matched at the sentence's offset).
_LEAD = re.compile(r"(?:\d{1,2}[.)]\s+|[•>*-]\s+|(?:[\w’' ]{0,30}?\b)?includes?:\s+)+", re.IGNORECASE)
_QUESTIONS = (
    "Where have you met “{term}” in your own work, and what did you do next?",
    "What would help you and your team to notice “{term}” earlier in a case?",
    "Which agencies would need to know about “{term}” in a family you work with, and how would you tell them?",
    "Which learning point on “{term}” would change your own practice most, and why?",
    "What gets in the way of acting on the learning about “{term}”, and what could help?",
)


@dataclass(frozen=True)
class Reference:
    n: int
    review_id: str
    title: str
    year: int | None
    area: str
    type: str | None
    source: str
    page: int | None

    def label(self) -> str:
        bits = [
            self.title,
            str(self.year) if self.year else "year not stated",
            self.area,
            self.type or "type not stated",
        ]
        return f"{'. '.join(bits)}. Source: {location(self.source, self.page)} ({self.review_id})"


@dataclass(frozen=True)
class Quote:
    """A verbatim span of a source: `text == retriever.data.sources[source].text[start:end]`."""

    text: str
    ref: int  # Reference.n
    review_id: str
    section: str
    source: str
    start: int
    end: int
    page: int | None = None

    @property
    def display(self) -> str:
        return " ".join(self.text.split())


@dataclass(frozen=True)
class Theme:
    name: str  # a term, as written in at least one of its quotes ("" for the points that share none)
    points: tuple[Quote, ...]

    @property
    def heading(self) -> str:
        return self.name[:1].upper() + self.name[1:] if self.name else "Other learning points"


@dataclass(frozen=True)
class Vignette:
    heading: str
    ref: int
    quotes: tuple[Quote, ...]


@dataclass(frozen=True)
class Brief:
    topic: str
    filters: dict[str, Any]
    reviews: int  # on the ledger for the topic
    by_year: dict[str, int]
    by_area: dict[str, int]
    themes: tuple[Theme, ...]
    recommendations: tuple[Quote, ...]
    vignettes: tuple[Vignette, ...]
    questions: tuple[str, ...]
    references: tuple[Reference, ...]
    others: tuple[Reference, ...] = ()  # on the topic but not quoted; numbered after the references
    overview: str | None = None  # written by a language model, each sentence citing references [n]
    notice: str | None = None

    def quotes(self) -> Iterator[Quote]:
        for t in self.themes:
            yield from t.points
        yield from self.recommendations
        for v in self.vignettes:
            yield from v.quotes

    def scope(self) -> str:
        if not self.reviews:
            return f"No review in the index addresses “{self.topic}”" + (
                f" with filters {_filters_text(self.filters)}." if self.filters else "."
            )
        years = [int(y) for y in self.by_year if y.isdigit()]
        span = "" if not years else f", {min(years)}" + (f"–{max(years)}" if max(years) != min(years) else "")
        text = f"{self.reviews} review{'s' if self.reviews != 1 else ''} in the index address{'es' if self.reviews == 1 else ''} “{self.topic}”{span}"
        text += f", from {len(self.by_area)} area{'s' if len(self.by_area) != 1 else ''}."
        if self.filters:
            text += f" Filters: {_filters_text(self.filters)}."
        return text + f" This pack quotes {len(self.references)} of them."

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_markdown(self) -> str:
        return render_markdown(self)

    def to_html(self) -> str:
        return render_html(self)


def _filters_text(filters: dict[str, Any]) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in filters.items())


# --- building ------------------------------------------------------------------------------


@dataclass
class _Candidate:
    review_id: str
    section: str
    start: int
    end: int
    text: str
    score: float = 0.0
    says_topic: bool = False


def build_brief(retriever: Retriever, topic: str, filters: Filters | None = None, llm: LLM | None = None) -> Brief:
    """Every fact in the pack is a verbatim, cited quote; `llm` adds an overview that must cite them too."""
    prompts = (load_prompt("brief_system"), load_prompt("brief_user")) if llm is not None else None  # fail fast
    led = ledger(retriever, topic, filters)
    filt = {k: v for k, v in (filters.__dict__ if filters else {}).items() if v is not None}
    if not led.entries:
        return Brief(led.topic, filt, 0, {}, {}, (), (), (), (), ())
    data = retriever.data
    # The section filter picks which reviews are on the ledger; within them, every section is read.
    within = replace(filters, section=None) if filters else None
    rows: dict[str, list[int]] = {}
    for row, c in enumerate(data.chunks):
        if within is None or within.match(c):
            rows.setdefault(c.review_id, []).append(row)
    on = [e.review_id for e in led.entries]
    qv = retriever.embed_queries([expand_query(led.topic)])[0]  # the vector dense retrieval uses for the topic
    terms = _topic_pattern(led.topic)
    points = _pick(_best_sentences(retriever, qv, terms, rows, on, POINT_SECTIONS), MAX_POINTS, MAX_POINTS_PER_REVIEW)
    recs = _pick(_best_sentences(retriever, qv, terms, rows, on, ("recommendations",)), MAX_RECOMMENDATIONS, 1)
    vignettes = _vignettes(retriever, led)

    refs: dict[str, int] = {}
    themes = tuple(
        Theme(name, tuple(_quote(retriever, c, refs) for c in group))
        for name, group in _themes(retriever, led.topic, points)
    )
    rec_quotes = tuple(_quote(retriever, c, refs) for c in recs)
    vig = tuple(
        Vignette(head, _ref(refs, cs[0].review_id), tuple(_quote(retriever, c, refs) for c in cs))
        for head, cs in vignettes
    )
    references = tuple(_reference(retriever, rid, n) for rid, n in refs.items())
    others = tuple(
        _reference(retriever, rid, len(refs) + i) for i, rid in enumerate((r for r in on if r not in refs), 1)
    )
    brief = Brief(
        led.topic,
        filt,
        len(led.entries),
        led.by_year,
        led.by_area,
        themes,
        rec_quotes,
        vig,
        _questions(themes, bool(rec_quotes), bool(vig)),
        references,
        others,
    )
    return _with_overview(brief, llm, *prompts) if llm is not None and prompts else brief


def _best_sentences(
    retriever: Retriever,
    qv: np.ndarray,
    terms: re.Pattern[str],
    rows: dict[str, list[int]],
    reviews: list[str],
    sections: tuple[str, ...],
) -> list[_Candidate]:
    """Every sentence of the reviews' chunks in these sections that is on the topic, scored with its stored vector."""
    data = retriever.data
    out: list[_Candidate] = []
    for rid in reviews:
        for row in rows.get(rid, []):
            c = data.chunks[row]
            if c.section not in sections:
                continue
            text = data.sources[c.source].text
            for s, e, cos in retriever.sentence_scores(row, qv):
                s, e = _trim(text, s, e)
                if e <= s or not _is_point(text[s:e]):
                    continue
                says_topic = bool(terms.search(text[s:e]))
                score = cos + LEARNING_BONUS * (c.section == "learning") + TOPIC_WORD_BONUS * says_topic
                out.append(_Candidate(rid, c.section, s, e, text[s:e], score, says_topic))
    floor = max(MIN_SCORE, max((c.score for c in out), default=0.0) - RELATIVE_FLOOR)
    return [c for c in out if c.score >= floor or c.says_topic]


def _trim(text: str, s: int, e: int) -> tuple[int, int]:
    """Drop a list number or "include:" lead-in and the trailing ; or , — what is left is still verbatim."""
    m = _LEAD.match(text, s, e)
    if m:
        s = m.end()
    while e > s and text[e - 1] in ";,: \n\t":
        e -= 1
    return s, e


def _is_point(sentence: str) -> bool:
    """A sentence worth quoting: six words or more, mostly words (not a table row or a list of headings)."""
    tokens = sentence.split()
    words = [t for t in tokens if re.search(r"[A-Za-z]{2}", t)]
    return (
        len(words) >= 6
        and len(words) >= 0.8 * len(tokens)
        and sentence.count(">") < 2
        and "](" not in sentence
        and not sentence.rstrip().endswith(":")
    )


def _topic_pattern(topic: str) -> re.Pattern[str]:
    terms = [t.strip() for t in re.split(r"[;()]", expand_query(topic)) if len(t.strip()) > 2]
    return re.compile("|".join(rf"(?<!\w){re.escape(t)}(?!\w)" for t in terms) or r"(?!x)x", re.IGNORECASE)


def _pick(cands: list[_Candidate], limit: int, per_review: int) -> list[_Candidate]:
    """Best first, at most `per_review` from one review, no sentence twice (chunks overlap by a sentence)."""
    out: list[_Candidate] = []
    per: dict[str, int] = {}
    seen: set[str] = set()
    for c in sorted(cands, key=lambda c: -c.score):
        key = " ".join(c.text.split()).lower()
        if per.get(c.review_id, 0) >= per_review or key in seen:
            continue
        seen.add(key)
        per[c.review_id] = per.get(c.review_id, 0) + 1
        out.append(c)
        if len(out) == limit:
            break
    return out


def _vignettes(retriever: Retriever, led: Ledger) -> list[tuple[str, list[_Candidate]]]:
    """The closest reviews that have a summary: its first sentences, verbatim (plus background if it is short)."""
    out = []
    for e in led.entries:
        review = retriever.data.reviews[e.review_id]
        text = retriever.data.sources[review.source].text
        picked: list[_Candidate] = []
        words = 0
        for kind in ("summary", "background"):
            if kind == "background" and words >= SHORT_SUMMARY_WORDS:
                break
            for sec in (s for s in review.sections if s.kind == kind):
                for s, en in sentence_spans(text, sec.start, sec.end):
                    s, en = _trim(text, s, en)
                    n = len(text[s:en].split())
                    if n < 4 or "](" in text[s:en] or words >= VIGNETTE_WORDS or (words and words + n > VIGNETTE_WORDS):
                        continue
                    picked.append(_Candidate(e.review_id, kind, s, en, text[s:en]))
                    words += n
        if picked and any(c.section == "summary" for c in picked):
            where = ", ".join(str(x) for x in (review.area, review.year) if x and str(x) not in review.title)
            out.append((f"{review.title} ({where})" if where else review.title, picked))
        if len(out) == MAX_VIGNETTES:
            break
    return out


def _ref(refs: dict[str, int], review_id: str) -> int:
    return refs.setdefault(review_id, len(refs) + 1)


def _quote(retriever: Retriever, c: _Candidate, refs: dict[str, int]) -> Quote:
    src = retriever.data.sources[retriever.data.reviews[c.review_id].source]
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


def _reference(retriever: Retriever, review_id: str, n: int) -> Reference:
    r = retriever.data.reviews[review_id]
    return Reference(n, r.id, r.title, r.year, r.area, r.type, r.source, r.page)


# --- themes: the term the learning points share ---------------------------------------------


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def _stems(text: str) -> tuple[list[re.Match[str]], list[str]]:
    words = list(_WORD.finditer(text))
    return words, _stemmer().stemWords([re.sub(r"['’]s$", "", w.group(0).lower()) for w in words])


def _vocabulary(retriever: Retriever, topic: str) -> dict[tuple[str, ...], str]:
    """Theme terms as stem sequences → the group they count for: THEME_TERMS, synonym groups, review keywords.

    Terms that share a stem with the topic (or its synonyms) are left out: every point would share them.
    """
    excluded = set(_stems(expand_query(topic))[1])
    vocab: dict[tuple[str, ...], str] = {}
    groups = [(g[0], g) for g in SYNONYMS] + [(t, (t,)) for t in THEME_TERMS]
    groups += [(k, (k,)) for r in retriever.data.reviews.values() for k in r.keywords]
    for name, terms in groups:
        keys = [tuple(_stems(t)[1]) for t in terms]
        if any(excluded & set(k) for k in keys):
            continue
        for k in keys:
            if k:
                vocab.setdefault(k, name)
    return vocab


def _terms(text: str, vocab: dict[tuple[str, ...], str], excluded: set[str]) -> dict[str, str]:
    """The theme terms a sentence uses → the words as written: vocabulary terms, and 2–3 word phrases
    that start and end with a content word (not a stop word, not a word every review uses)."""
    words, stems = _stems(text)
    longest = max((len(k) for k in vocab), default=0)
    out: dict[str, str] = {}

    def said(i: int, n: int) -> str:
        return " ".join(text[words[i].start() : words[i + n - 1].end()].split())

    for i in range(len(words)):
        for n in range(min(longest, len(words) - i), 0, -1):
            group = vocab.get(tuple(stems[i : i + n]))
            if group is not None:
                out.setdefault(group, said(i, n))
                break
        for n in (2, 3):
            if i + n > len(words) or any(
                text[words[k].end() : words[k + 1].start()].strip() for k in range(i, i + n - 1)
            ):
                break  # a phrase does not run across punctuation
            edges = {words[i].group(0).lower(), words[i + n - 1].group(0).lower()}
            key = tuple(stems[i : i + n])
            if not (edges & (_STOP | _GENERIC) or excluded & set(key)):
                out.setdefault(" ".join(key), said(i, n))
    return out


def _themes(retriever: Retriever, topic: str, points: list[_Candidate]) -> list[tuple[str, list[_Candidate]]]:
    """Greedy cover: the term shared by the most points not yet grouped names the next theme (two points at least).

    Terms are the vocabulary (THEME_TERMS, the synonym groups, the reviews' keywords; matched on word stems) and
    two- or three-word phrases; vocabulary terms, then longer ones, win ties. The topic's own words never name a
    theme (every point would share them). Points that share no term with another are listed last, unnamed.
    """
    vocab = _vocabulary(retriever, topic)
    excluded = set(_stems(expand_query(topic))[1])
    terms = [_terms(p.text, vocab, excluded) for p in points]
    in_vocab = set(vocab.values())
    left = set(range(len(points)))
    out: list[tuple[str, list[_Candidate]]] = []
    while left and len(out) < MAX_THEMES:
        counts: dict[str, list[int]] = {}
        for i in sorted(left):
            for group in terms[i]:
                counts.setdefault(group, []).append(i)
        if not counts:
            break
        group, members = max(counts.items(), key=lambda kv: (len(kv[1]), kv[0] in in_vocab, len(kv[0].split()), kv[0]))
        if len(members) < 2:
            break
        out.append((terms[members[0]][group], [points[i] for i in members]))
        left -= set(members)
    if left:
        out.append(("", [points[i] for i in sorted(left, key=lambda i: -points[i].score)]))
    return out


def _questions(themes: tuple[Theme, ...], recommendations: bool, vignettes: bool) -> tuple[str, ...]:
    """Prompts for the group, templated from the theme names: questions only, never statements of fact."""
    qs = [_QUESTIONS[i % len(_QUESTIONS)].format(term=t.name) for i, t in enumerate(t for t in themes if t.name)]
    if vignettes:
        qs.append(
            "Choose one of the case vignettes: what would you have wanted to know about this child, and who could you have asked?"
        )
    if recommendations:
        qs.append(
            "Which of the recommendations quoted here applies to your agency, and how would you know it had made a difference?"
        )
    if not qs:
        qs.append("What would you want colleagues to take from these reviews into their next home visit or meeting?")
    return tuple(qs[:6])


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
