"""A pack's themes: the vocabulary themes (rag/data/themes.toml) its learning points address, and the
discussion questions asked about them (prompts/brief_questions.txt)."""

from __future__ import annotations

from collections.abc import Sequence

from rag.brief.model import Theme
from rag.brief.questions import QuestionTemplates
from rag.brief.select import Candidate
from rag.ledger import detect_themes
from rag.retrieve import Retriever
from rag.themes import Theme as VocabularyTheme
from rag.themes import load_themes, masked, pseudonyms, tag_text

MAX_THEMES = 5  # themes besides the topic's own; points on others are listed under the topic's theme


class PointThemes:
    """Which vocabulary themes a learning point addresses, by the rule a chunk is tagged by (rag.themes.tag_text):
    the point names the theme by its name, or by another of its terms in a passage on the theme (its chunk is
    tagged with it), so "preventive" work is not "Prevent". A child's pseudonym is not a theme ("Infant D" does
    not say "infants")."""

    def __init__(self, retriever: Retriever) -> None:
        self.retriever = retriever
        self.themes = {t.id: t for t in load_themes()}

    def of(self, point: Candidate) -> tuple[str, ...]:
        data = self.retriever.data
        text = masked(point.text, pseudonyms(data.reviews[point.review_id]))
        return tag_text(text, on_topic=frozenset(data.chunks[point.row].themes))


def group_points(
    retriever: Retriever, topic: str, points: list[Candidate], scope: Sequence[str]
) -> list[tuple[VocabularyTheme | None, list[Candidate]]]:
    """The points grouped under the vocabulary themes they address, the themes ranked by how many reviews' points
    address them (on a tie, the topic's own theme first, then by how many of the `scope` reviews are tagged with
    them).

    A point goes to the best-ranked theme it addresses other than the topic's own (which every point is about),
    among the MAX_THEMES best; a point that addresses no such theme is listed under the topic's theme. A topic
    that names no theme lists those points last, under no theme (None).
    """
    tagger = PointThemes(retriever)
    own = [t.id for t in detect_themes(retriever, topic)]
    tags = [tagger.of(p) for p in points]
    reviews: dict[str, set[str]] = {}
    for p, ids in zip(points, tags, strict=True):
        for t in ids:
            reviews.setdefault(t, set()).add(p.review_id)
    in_scope = {t: sum(t in retriever.data.reviews[r].themes for r in scope) for t in reviews}
    order = {t.id: i for i, t in enumerate(load_themes())}

    def rank(t: str) -> tuple[int, bool, int, int]:
        return (-len(reviews.get(t, ())), t not in own, -in_scope.get(t, 0), order[t])

    others = sorted((t for t in reviews if t not in own), key=rank)[:MAX_THEMES]
    groups: dict[str | None, list[Candidate]] = {}
    for p, ids in zip(points, tags, strict=True):
        home = next((t for t in others if t in ids), None)
        if home is None:
            home = next((t for t in own if t in ids), own[0] if own else None)
        groups.setdefault(home, []).append(p)
    named = sorted((t for t in groups if t is not None), key=rank)
    out: list[tuple[VocabularyTheme | None, list[Candidate]]] = [(tagger.themes[t], groups[t]) for t in named]
    if None in groups:
        out.append((None, groups[None]))
    return out


def discussion_questions(
    themes: tuple[Theme, ...], recommendations: bool, vignettes: bool, templates: QuestionTemplates
) -> tuple[str, ...]:
    """One question per theme, from the templates, in the vocabulary's words (its name and definition); then
    one on the vignettes and one on the recommendations when the pack has them. Questions only, never findings."""
    vocabulary = {t.id: t for t in load_themes()}
    qs = [templates.about(vocabulary[t.id], n) for n, t in enumerate(t for t in themes if t.id)]
    if vignettes:
        qs.append(templates.vignettes[0])
    if recommendations:
        qs.append(templates.recommendations[0])
    return tuple(qs or templates.fallback[:1])
