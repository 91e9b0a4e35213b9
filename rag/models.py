"""Plain frozen records that travel between the pipeline's stages."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class SectionKind(StrEnum):
    """What a section of a review is, in the order a review usually presents them. The one list."""

    SUMMARY = "summary"
    BACKGROUND = "background"
    KEY_ISSUES = "key issues"
    LEARNING = "learning"
    RECOMMENDATIONS = "recommendations"
    GOOD_PRACTICE = "good practice"
    METHODOLOGY = "methodology"
    OTHER = "other"


SECTION_KINDS: tuple[str, ...] = tuple(k.value for k in SectionKind)
# Words users say for a section kind.
SECTION_ALIASES = {"findings": "learning", "learning points": "learning", "recommendation": "recommendations"}


def location(source: str, page: int | None) -> str:
    """The one citation location label: "file.pdf, p. 4" (no page for text files)."""
    return source + (f", p. {page}" if page else "")


@dataclass(frozen=True)
class SourceText:
    """The decoded text of one corpus file.

    `page_starts[i]` is the character offset where page i+1 begins (PDFs only);
    every offset elsewhere in the pipeline points into `text`.
    """

    path: str  # relative to the corpus folder, with forward slashes
    text: str
    sha256: str  # of the file's bytes
    kind: str  # "txt", "md" or "pdf"
    page_starts: tuple[int, ...] = ()

    def page_at(self, offset: int) -> int | None:
        if not self.page_starts:
            return None
        page = 1
        for i, start in enumerate(self.page_starts):
            if start <= offset:
                page = i + 1
            else:
                break
        return page


@dataclass(frozen=True)
class Section:
    kind: str  # one of SECTION_KINDS
    label: str  # the heading as written, e.g. "Learning includes"
    start: int  # character offsets of the body in SourceText.text
    end: int


@dataclass(frozen=True)
class Review:
    id: str
    title: str
    year: int | None
    area: str
    type: str | None
    keywords: tuple[str, ...]
    methodology: str | None
    source: str
    start: int
    end: int
    sections: tuple[Section, ...]
    page: int | None = None
    themes: tuple[str, ...] = ()  # vocabulary theme ids (rag/data/themes.toml) its chunks name, tagged at ingest

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["keywords"] = list(self.keywords)
        d["sections"] = [asdict(s) for s in self.sections]
        d["themes"] = list(self.themes)
        if not self.themes:  # untagged (as parsed, before ingest): the record as it always was
            del d["themes"]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Review:
        sections = tuple(Section(**s) for s in d["sections"])
        themes = tuple(str(t) for t in d.get("themes", ()))
        return cls(**{**d, "keywords": tuple(d["keywords"]), "sections": sections, "themes": themes})


@dataclass(frozen=True)
class Chunk:
    id: str  # "<review_id>#<n>"
    review_id: str
    section: str  # section kind
    source: str
    start: int
    end: int
    text: str  # == SourceText.text[start:end]
    page: int | None
    title: str
    year: int | None
    area: str
    type: str | None
    keywords: tuple[str, ...] = field(default=())
    # Sentence spans inside the chunk, each a quotable unit with its own vector (when more than one).
    sentences: tuple[tuple[int, int], ...] = field(default=())
    # Vocabulary theme ids (rag/data/themes.toml) whose name or an alias the chunk contains, tagged at ingest.
    themes: tuple[str, ...] = field(default=())

    @property
    def review_label(self) -> str:
        """ "Title, 2017, Area": the review a quote comes from."""
        return ", ".join(str(x) for x in (self.title, self.year, self.area) if x)

    @property
    def citation_label(self) -> str:
        """ "Title, 2017, Area, learning — file.pdf, p. 4": the one way a citation is labelled."""
        return f"{', '.join(x for x in (self.review_label, self.section) if x)} — {location(self.source, self.page)}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["keywords"] = list(self.keywords)
        d["sentences"] = [list(x) for x in self.sentences]
        d["themes"] = list(self.themes)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Chunk:
        sentences = tuple((int(a), int(b)) for a, b in d.get("sentences", []))
        themes = tuple(str(t) for t in d.get("themes", ()))
        return cls(**{**d, "keywords": tuple(d["keywords"]), "sentences": sentences, "themes": themes})


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float
    rank: int

    def to_dict(self) -> dict[str, Any]:
        c = self.chunk
        return {
            "rank": self.rank,
            "score": round(float(self.score), 6),
            "review_id": c.review_id,
            "title": c.title,
            "year": c.year,
            "area": c.area,
            "type": c.type,
            "section": c.section,
            "source": c.source,
            "page": c.page,
            "start": c.start,
            "end": c.end,
            "text": c.text,
        }


@dataclass(frozen=True)
class Citation:
    n: int
    quote: str  # verbatim span of the source text
    hit: Hit
    start: int  # offsets of the quote itself in the source text
    end: int

    def to_dict(self) -> dict[str, Any]:
        d = self.hit.to_dict()
        d.update({"n": self.n, "quote": self.quote, "quote_start": self.start, "quote_end": self.end})
        return d


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    citations: tuple[Citation, ...]
    abstained: bool
    notice: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "question": self.question,
            "answer": self.text,
            "citations": [c.to_dict() for c in self.citations],
            "abstained": self.abstained,
        }
        if self.notice:
            d["notice"] = self.notice
        return d
