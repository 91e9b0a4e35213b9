"""Hits → the statements an answer quotes: whole statements, learning first, near-duplicates merged, by theme."""

from __future__ import annotations

import re
import threading
import weakref
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from rag.models import SECTION_ALIASES, SECTION_KINDS, Hit, SectionKind
from rag.retrieve import Retriever
from rag.story import case_names, goes_on, points_back, prescribes, tells_case_fact
from rag.themes import Theme, evidence_terms, find_phrase, load_themes, phrase_stems, tokens

ASKS_FOR_RECOMMENDATIONS = re.compile(r"\brecommend\w*", re.IGNORECASE)
# What a review learned: its findings, learning, good practice and recommendations; key issues next.
LEARNING = frozenset({SectionKind.LEARNING, SectionKind.RECOMMENDATIONS, SectionKind.GOOD_PRACTICE})
NARRATIVE = frozenset({SectionKind.BACKGROUND, SectionKind.SUMMARY, SectionKind.METHODOLOGY, SectionKind.OTHER})
_WORDS = re.compile(r"(?u)\b\w+\b")
MIN_WORDS = 6  # a shorter quote is a fragment of a list, not a statement
_MARK = re.compile(r"\s*(?:[>•▪◦]\s+)+")  # a block quote's or a bullet's mark before a sentence, as extracted
# "Learning includes:", "Key issues:", "Recommendations include the need to:" — a label before a colon.
_LEAD_IN = re.compile(r"\s*((?:[^\s.;:]+\s+){0,5}?[^\s.;:]+):\s+", re.IGNORECASE)
# A lead-in is a label, to be left out, when every word of it names a part of a review or joins such names;
# "Recommendations include improved arrangements for:" says what the list is about and stays in the quote.
_LABEL_WORDS = frozenset(w for name in (*SECTION_KINDS, *SECTION_ALIASES) for w in name.split()) | frozenset(
    "the a an of for to in on and or need needs include includes including included are is were was made "  # noqa: SIM905
    "around about following main key area areas point points theme themes issue issues lesson lessons "
    "finding recommendation identified summary there".split()
)


@dataclass(frozen=True)
class Statement:
    """One quotable statement: a verbatim span of a hit's chunk, how close it is to the question, and its
    vector (for finding other reviews that make the same point)."""

    hit: Hit
    start: int
    end: int
    text: str
    cos: float  # cosine to the question
    score: float  # cos with the preferences for learning and for the question's themes
    vector: np.ndarray = field(compare=False, repr=False)
    narrative: bool = False  # it tells the case (`is_narrative`), not what was learned from it


@dataclass(frozen=True)
class Bullet:
    """A point the answer makes: one quote, and the other reviews that make the same point."""

    main: Statement
    also: tuple[Statement, ...] = ()


def is_label(lead_in: str) -> bool:
    return all(w.lower() in _LABEL_WORDS for w in _WORDS.findall(lead_in))


def statement_span(text: str, start: int, end: int) -> tuple[int, int]:
    """The sentence without a quotation or bullet mark before it ("> Encouraging …", "• …") and without a label
    lead-in ("Learning includes: …", "Key issues:") when a statement follows."""
    mark = _MARK.match(text, start, end)
    start = mark.end() if mark else start
    m = _LEAD_IN.match(text, start, end)
    if m and is_label(m.group(1)) and len(_WORDS.findall(text[m.end() : end])) >= MIN_WORDS:
        return m.end(), end
    return start, end


def item_shown(text: str, s: int, e: int) -> tuple[int, int]:
    """A statement as it is shown and quoted: without its list's punctuation ("…disguised compliance by
    parents;" → "…by parents"), still a verbatim span. Whether it is a statement is judged as printed, with its
    end (`is_statement`)."""
    while e > s and text[e - 1] in ";,: \n\t":
        e -= 1
    return s, e


_CONTINUES = re.compile(r"(?:and|or|but|as well as)\s")
_LAST_ITEM = re.compile(r";\s+(?:and|or)\s")  # a short item merged with the list's last one ("x; and y.")
MAX_STATEMENT_WORDS = 80


def whole_item(text: str, spans: list[tuple[int, int]], i: int) -> tuple[int, int] | None:
    """Sentence i, grown back to the start of its list when it only continues one ("…; and professionals'
    understanding of neglect."), and back over the sentences of its paragraph it goes on from ("This curiosity
    should be supplemented …" with the sentence that named the curiosity: `rag.story.goes_on`), and over a
    quotation it is part of, to the sentences that open and close it. Not grown past `MAX_STATEMENT_WORDS`
    words: then the sentence alone, or None when it goes on from one before and its subject only points back
    ("It is this combination of multiple risks …", "This should be communicated …": `rag.story.points_back`)."""
    s, e = spans[i]
    j = i
    # The sentence before may lie before the chunk (spans are a chunk's), where a quote cannot reach.
    before = spans[i - 1][1] if i else _end_before(text, s)
    leans = before > 0 and text[before - 1] in ".!?" and goes_on(text, (before, before), spans[i])
    if _CONTINUES.match(text, s) or (text[s].islower() and _LAST_ITEM.search(text, s, e)):
        j = _list_start(text, spans, j)
    # Over whole sentences: each item of a list is quoted on its own.
    while j > 0 and text[spans[j - 1][1] - 1] in ".!?" and goes_on(text, spans[j - 1], spans[j]):
        j -= 1
        if text[spans[j][0]].islower():  # the last clause of a list item: the item from its start
            j = _list_start(text, spans, j)
    # A quotation is quoted whole: from the sentence that opens it to the one that closes it ("‘Many of these
    # families appear to have led chaotic lives, … Substance and alcohol misuse was common, …’ (p59).").
    opened = _open_quotation(text, spans[0][0], spans[j][0])
    if opened is not None:
        j = max(k for k in range(j + 1) if spans[k][0] <= opened)
    k = i
    if _open_quotation(text, spans[j][0], e) is not None:
        para = text.find("\n\n", e, spans[-1][1])
        close = _closing(text, e, para if para >= 0 else spans[-1][1])
        if close is not None:
            k = max(k for k in range(len(spans)) if spans[k][0] <= close)
    if (
        (leans and j == i)
        or _mid_list(text, spans, j)
        or len(_WORDS.findall(text[spans[j][0] : spans[k][1]])) > MAX_STATEMENT_WORDS
    ):
        if leans and points_back(text, s):
            return None
        # A list's item whose list is out of reach, without the "and" that joined it: "medical staff did not
        # consider the possibility of child abuse …", not "and medical staff did not consider …".
        conjunction = _CONTINUES.match(text, s)
        return (conjunction.end() if conjunction else s), e
    return spans[j][0], spans[k][1]


def _mid_list(text: str, spans: list[tuple[int, int]], j: int) -> bool:
    """Sentence j continues a list ("or poor engagement with services …") that starts before the chunk (within
    it, `_list_start` has gone back to the list's start)."""
    if j:
        return False
    start, before = spans[0][0], _end_before(text, spans[0][0])
    continues = bool(_CONTINUES.match(text, start)) or text[start].islower()
    return continues and before > 0 and text[before - 1] in ";,"


def _end_before(text: str, pos: int) -> int:
    """Where the text before `pos` ends, spacing left out."""
    while pos > 0 and text[pos - 1].isspace():
        pos -= 1
    return pos


_OPENING = "‘“"
# An opening quotation mark, or a closing one (not an apostrophe: "children’s", though "parents’ needs" reads as
# a close and leaves the quotation as it was).
_QUOTE_MARK = re.compile(r"[‘“]|[’”](?!\w)")


def _open_quotation(text: str, start: int, pos: int) -> int | None:
    """Where the quotation still open at `pos` opens (its ‘ or “; the outer one of a quotation within a
    quotation), looking back to `start` or the paragraph's start; None when none is."""
    para = text.rfind("\n\n", start, pos)
    opened: list[int] = []
    for m in _QUOTE_MARK.finditer(text, para + 2 if para >= 0 else start, pos):
        if m.group() in _OPENING:
            opened.append(m.start())
        elif opened:
            opened.pop()
    return opened[0] if opened else None


def _closing(text: str, pos: int, end: int) -> int | None:
    """Where the quotation open at `pos` closes, before `end` (a quotation within it opening and closing first)."""
    depth = 1
    for m in _QUOTE_MARK.finditer(text, pos, end):
        depth += 1 if m.group() in _OPENING else -1
        if depth == 0:
            return m.start()
    return None


def _list_start(text: str, spans: list[tuple[int, int]], j: int) -> int:
    """The first of the list's items sentence j belongs to: back through sentences ending in ";" or ","."""
    while j > 0 and text[spans[j - 1][1] - 1] in ";,":
        j -= 1
    return j


# What a review says of itself, not of practice: "There are no recommendations in this overview.", "This briefing
# is based on the findings of …", "makes a number of recommendations related to …", "The report looks in detail
# at 17 SCRs …", "Explores the voice of those affected …".
_ABOUT_THE_REVIEW = re.compile(
    r"\s*(?:there (?:are|were|is) no recommendations|(?:makes )?no recommendations"
    r"|makes (?:a number of |several |some |\d+ )?recommendations (?:relat\w* to|about|on|for|around|including)"
    r"|(?:(?:this|the) (?:briefing|report|review|summary|overview|analysis) )?"
    r"(?:is based on|was based on|looks (?:in detail )?at|examines|explores|describes|sets out))\b",
    re.IGNORECASE,
)
_ENDS_LIKE_A_SENTENCE = re.compile(r"""[.;:!?,)\]"'’”]\s*$""")
_WORDLIKE = re.compile(r"[A-Za-z]{2}")


def is_statement(text: str) -> bool:
    """Something said, worth quoting (answers and briefing packs alike): six words or more, and ending as a
    sentence or a list item does — a short line without an end ("Model: Multi-Agency Child Practice Review
    methodology", a heading) is a label or a title, not a statement; nor is a run of list items none of which is
    six words ("hidden men; safeguarding children with disabilities;"): topics named, not something said about
    them; nor a lead-in ("The review identified the following:"), a table row or a line of links (a fifth of its
    tokens or more not words, or Markdown's "](" and "> ")."""
    tokens = text.split()
    if (
        sum(1 for t in tokens if _WORDLIKE.search(t)) < 0.8 * len(tokens)
        or text.count(">") >= 2
        or "](" in text
        or text.rstrip(" >\n\t").endswith((":", "?"))
    ):
        return False
    if _ABOUT_THE_REVIEW.match(text):
        return False
    words = len(_WORDS.findall(text))
    items = [n for n in (len(_WORDS.findall(item)) for item in text.split(";")) if n]
    if len(items) > 1 and max(items) < MIN_WORDS:
        return False
    return words >= MIN_WORDS and (words >= 2 * MIN_WORDS or bool(_ENDS_LIKE_A_SENTENCE.search(text)))


def statements(
    retriever: Retriever,
    hits: list[Hit],
    qv: np.ndarray,
    themes: tuple[Theme, ...],
    recommend: bool = False,
) -> list[Statement]:
    """Every whole statement of the hits' chunks, scored against the question. Learning, findings and
    recommendations are preferred (`settings.answer_learning_bonus`) and case narrative (`is_narrative`) held
    back as much, whatever the question's words ("What happens when mum's new boyfriend moves in?" asks what
    reviews learned as much as "what did reviews say…"); a chunk tagged with one of the question's themes is
    preferred (`settings.answer_theme_bonus`). A question about what reviews recommended (`recommend`) prefers
    recommendations by as much again."""
    st = retriever.settings
    wanted = {t.id for t in themes}
    out: list[Statement] = []
    seen: set[tuple[str, int, int]] = set()
    for hit in hits:
        chunk = hit.chunk
        row = retriever.row_of[chunk.id]
        text = retriever.data.sources[chunk.source].text
        review = retriever.data.reviews.get(chunk.review_id)
        names = case_names(review) if review else ()
        bonus = st.answer_theme_bonus if wanted & set(chunk.themes) else 0.0
        if recommend and chunk.section == SectionKind.RECOMMENDATIONS:
            bonus += st.answer_learning_bonus  # "what did reviews recommend": recommendations before findings
        vectors = retriever.sentence_vectors(row)
        for i, s, e, cos in whole_statements(text, retriever.sentence_scores(row, qv)):
            if (chunk.source, s, e) in seen:
                continue
            seen.add((chunk.source, s, e))
            vec = vectors[i]
            narrative = is_narrative(chunk.section, text[s:e], names)
            prior = st.answer_learning_bonus * (1.0 if chunk.section in LEARNING else -1.0 if narrative else 0.0)
            out.append(Statement(hit, s, e, text[s:e], cos, cos + prior + bonus, vec, narrative))
    return out


def whole_statements(text: str, scores: list[tuple[int, int, float]]) -> Iterator[tuple[int, int, int, float]]:
    """The whole statement of each of a chunk's sentences (`Retriever.sentence_scores`: start, end, cosine), as
    answers and briefing packs quote it: grown to its list's start, over a sentence it goes on from, or over its
    quotation (`whole_item`), without a mark or label lead-in (`statement_span`), judged a statement as printed
    (`is_statement`) and shown without its list's ";" (`item_shown`). Yields (sentence index, start, end, cosine),
    each span once: a statement grown over several sentences comes with the first of them."""
    spans = [(s, e) for s, e, _ in scores]
    seen: set[tuple[int, int]] = set()
    for i, (_, _, cos) in enumerate(scores):
        whole = whole_item(text, spans, i)
        if whole is None:
            continue
        s, e = statement_span(text, *whole)
        if (s, e) in seen or not is_statement(text[s:e]):
            continue
        seen.add((s, e))
        s, e = item_shown(text, s, e)
        yield i, s, e, cos


def is_narrative(section: str, sentence: str, names: tuple[str, ...]) -> bool:
    """Case narrative: a background, summary or methodology section's sentence that does not say what practice
    should be ("… children's help seeking behaviour needs to be understood" is learning wherever it stands), or
    a key issue that is a fact of the case (`rag.story.tells_case_fact`: "Mother became involved with a new
    partner …")."""
    if section in NARRATIVE:
        return not prescribes(sentence)
    return section == SectionKind.KEY_ISSUES and tells_case_fact(sentence, names)


def select(
    retriever: Retriever, cands: list[Statement], max_bullets: int, named: frozenset[str] = frozenset()
) -> list[Bullet]:
    """The best statements, at most `settings.answer_quotes_per_review` from one review, none much weaker than
    the best (`settings.answer_floor`) and none overlapping a better one's words. A statement making the point of
    one already chosen — close in meaning (`settings.duplicate_cosine`) and in words
    (`settings.duplicate_overlap`) — joins it as "also" when it comes from another review, and is dropped when
    it comes from the same one. A record the question names (`named`: "what did Merton learn?") gives as many
    statements as it has."""
    st = retriever.settings
    ranked = sorted(cands, key=lambda c: -c.score)
    if not ranked:
        return []
    floor = ranked[0].score - st.answer_floor
    chosen: list[tuple[Statement, list[Statement]]] = []
    per_review: Counter[str] = Counter()
    taken: list[Statement] = []
    for c in ranked:
        if c.score < floor:
            break
        if any(t.hit.chunk.source == c.hit.chunk.source and t.start < c.end and c.start < t.end for t in taken):
            continue  # a list item and the list it closes: the same words quoted twice
        taken.append(c)
        rid = c.hit.chunk.review_id
        twin = next((b for b in chosen if same_point(b[0], c, st.duplicate_cosine, st.duplicate_overlap)), None)
        if twin is not None:
            cited = {twin[0].hit.chunk.review_id, *(a.hit.chunk.review_id for a in twin[1])}
            if rid not in cited:
                twin[1].append(c)
            continue
        if len(chosen) >= max_bullets or (per_review[rid] >= st.answer_quotes_per_review and rid not in named):
            continue
        chosen.append((c, []))
        per_review[rid] += 1
    return [Bullet(main, tuple(also)) for main, also in chosen]


def same_point(a: Statement, b: Statement, min_cosine: float, min_overlap: float) -> bool:
    """Two statements make the same point: close in meaning and sharing most of their content words. Case
    narrative makes no point ("Death of a 14-month old girl in July 2014." is not "Death of a 16-year-old
    girl."), nor do statements whose numbers differ."""
    if a.narrative or b.narrative:
        return False
    if set(_NUMBER.findall(a.text)) != set(_NUMBER.findall(b.text)):
        return False
    if float(a.vector @ b.vector) < min_cosine:
        return False
    return overlap(a.text, b.text) >= min_overlap


_NUMBER = re.compile(r"\d+")


def overlap(a: str, b: str) -> float:
    """Content-word overlap of two texts: shared words over the shorter text's words (words of 3+ letters)."""
    wa = {w.lower() for w in _WORDS.findall(a) if len(w) > 2}
    wb = {w.lower() for w in _WORDS.findall(b) if len(w) > 2}
    return len(wa & wb) / min(len(wa), len(wb)) if wa and wb else 0.0


def learning_rank(b: Bullet) -> int:
    """Learning and findings first, then recommendations, then key issues, then case narrative."""
    section = b.main.hit.chunk.section
    if section == SectionKind.RECOMMENDATIONS:
        return 1
    if section in LEARNING:
        return 0
    return 3 if b.main.narrative else 2


def by_theme(
    retriever: Retriever, bullets: list[Bullet], themes: tuple[Theme, ...]
) -> list[tuple[Theme | None, list[Bullet]]]:
    """Bullets under theme headings when they span several themes. A bullet stands under one of the
    question's themes its chunk was tagged with at ingest; else under a theme its quote names (a chunk's other
    tags may come from other sentences), when at least two bullets name it and at most half the records carry
    it; the rest under no heading. One group (heading None) when fewer than two headings would have bullets."""
    share = _theme_share(retriever)
    order = {t.id: i for i, t in enumerate(load_themes())}
    by_id = {t.id: t for t in load_themes()}
    left = list(bullets)
    groups: list[tuple[Theme | None, list[Bullet]]] = []
    for theme in themes:
        mine = [b for b in left if theme.id in b.main.hit.chunk.themes]
        if mine:
            groups.append((theme, mine))
            left = [b for b in left if b not in mine]
    named = {id(b): _named(b.main.text, b.main.hit.chunk.themes, share, by_id) for b in left}
    while left:
        counts = Counter(t for b in left for t in named[id(b)])
        best = max(counts.items(), key=lambda kv: (kv[1], -order[kv[0]]), default=None)
        if best is None or best[1] < 2:
            break
        mine = [b for b in left if best[0] in named[id(b)]]
        groups.append((by_id[best[0]], mine))
        left = [b for b in left if b not in mine]
    if len(groups) < 2:
        return [(None, bullets)]
    if left:
        groups.append((None, left))
    return [(theme, sorted(group, key=learning_rank)) for theme, group in groups]


def _named(text: str, tagged: tuple[str, ...], share: dict[str, float], by_id: dict[str, Theme]) -> list[str]:
    """Which of its chunk's themes (`tagged`) a quote itself names, leaving out those most records carry."""
    stems, spans = tokens(text)
    return [
        t
        for t in tagged
        if share.get(t, 0.0) <= _COMMON_THEME
        and any(find_phrase(stems, spans, phrase_stems(term)) for term in evidence_terms(by_id[t]))
    ]


_COMMON_THEME = 0.5  # a theme more than this share of reviews carry ("learning from reviews") heads nothing
_SHARE: weakref.WeakKeyDictionary[Retriever, dict[str, float]] = weakref.WeakKeyDictionary()
_SHARE_LOCK = threading.Lock()


def _theme_share(retriever: Retriever) -> dict[str, float]:
    """The share of the index's records that carry each theme (once per loaded index)."""
    with _SHARE_LOCK:
        if retriever not in _SHARE:
            reviews = list(retriever.data.reviews.values())
            counts = Counter(t for r in reviews for t in r.themes)
            _SHARE[retriever] = {t: n / max(1, len(reviews)) for t, n in counts.items()}
        return _SHARE[retriever]
