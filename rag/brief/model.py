"""The records of a briefing pack: references, verbatim quotes, themes, vignettes and the pack itself (plain data)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from rag.errors import RlaError


class BriefError(RlaError):
    """A briefing pack cannot be made or written (unreadable question templates, unknown format, unwritable path)."""


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
    partnership: str | None = None  # the safeguarding partnership or board, when the review names one
    places: tuple[str, ...] = ()  # where the pack quotes it: "learning", "Finding 2: …, para 4.12, p. 11"
    url: str | None = None  # where it is published (corpus/catalogue.csv)


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
    """A vocabulary theme (rag/data/themes.toml) and the learning points that address it."""

    name: str  # the theme's name in the vocabulary ("" for points on a topic that names no theme)
    points: tuple[Quote, ...]
    id: str = ""  # the theme's id in the vocabulary


@dataclass(frozen=True)
class Vignette:
    heading: str
    ref: int
    quotes: tuple[Quote, ...]


@dataclass(frozen=True)
class Brief:
    topic: str
    filters: dict[str, Any]
    kinds: tuple[str, ...]  # the record kind of each record on the topic's ledger (reviews, briefings, analyses)
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

    @property
    def reviews(self) -> int:
        """How many records the topic's ledger lists."""
        return len(self.kinds)

    def quotes(self) -> Iterator[Quote]:
        for t in self.themes:
            yield from t.points
        yield from self.recommendations
        for v in self.vignettes:
            yield from v.quotes

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "reviews": self.reviews}
