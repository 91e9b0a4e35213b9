"""Grouping learning points into themes named by a term they share, and discussion questions from the themes."""

from __future__ import annotations

import re

from rag.brief.model import Theme
from rag.brief.select import Candidate
from rag.lexical import expand_query, stem_words
from rag.retrieve import Retriever
from rag.vocabulary import SYNONYMS, THEME_TERMS

MAX_THEMES = 5

# Words a theme is never named after: function words, and words nearly every review uses. Not BM25's stop
# words (bm25s's 33-word English list, rag/lexical.py): with those, phrases such as "concerns about" name themes.
_STOP_WORDS = """
    a about above across after again against all also although an and any are around as at be because been
    before being between both but by can could did do does doing done due during each either even every for from
    further had has have having he her here his how however i if in into is it its may might more most much must
    no nor not of off on once only or other our out over own per same she should since so some such than that
    the their them then there these they this those though through thus to too under until up upon very was we
    were what when where whether which while who whom whose why will with within without would
"""
_STOP = frozenset(_STOP_WORDS.split())
_GENERIC_WORDS = """
    practitioner practitioners professional professionals agency agencies child children family families parent
    parents need needs needed ensure ensuring review reviews learning lesson lessons case cases work working
    worked services service staff people person important importance issue issues include includes including
    identified identify identifies highlight highlights highlighted consider considering considered role roles
    use used using make making made time times way ways level levels example examples local lack lacking well
    good better poor particularly particular always often sometimes many within across around key clear clearly
    able
"""
_GENERIC = frozenset(_GENERIC_WORDS.split())
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]|[A-Za-z]")
_QUESTIONS = (
    "Where have you met “{term}” in your own work, and what did you do next?",
    "What would help you and your team to notice “{term}” earlier in a case?",
    "Which agencies would need to know about “{term}” in a family you work with, and how would you tell them?",
    "Which learning point on “{term}” would change your own practice most, and why?",
    "What gets in the way of acting on the learning about “{term}”, and what could help?",
)


def group_points(retriever: Retriever, topic: str, points: list[Candidate]) -> list[tuple[str, list[Candidate]]]:
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
    out: list[tuple[str, list[Candidate]]] = []
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


def discussion_questions(themes: tuple[Theme, ...], recommendations: bool, vignettes: bool) -> tuple[str, ...]:
    """Prompts for the group, templated from the theme names: questions only, never statements of fact."""
    qs = [_QUESTIONS[i % len(_QUESTIONS)].format(term=t.name) for i, t in enumerate(t for t in themes if t.name)]
    if vignettes:
        qs.append(
            "Choose one of the case vignettes: what would you have wanted to know about this child, "
            "and who could you have asked?"
        )
    if recommendations:
        qs.append(
            "Which of the recommendations quoted here applies to your agency, "
            "and how would you know it had made a difference?"
        )
    if not qs:
        qs.append("What would you want colleagues to take from these reviews into their next home visit or meeting?")
    return tuple(qs[:6])


def _stems(text: str) -> tuple[list[re.Match[str]], list[str]]:
    """The words of a text (with their positions) and their stems, a possessive 's dropped."""
    words = list(_WORD.finditer(text))
    return words, stem_words([re.sub(r"['’]s$", "", w.group(0).lower()) for w in words])


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
