"""Plain frozen records that travel between the pipeline's stages."""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from rag.layout import markdown_markup, merge


class SectionKind(StrEnum):
    """What a section of a review is, in the order a review usually presents them. The one list."""

    SUMMARY = "summary"
    INTRODUCTION = "introduction"
    SCOPE = "scope"  # terms of reference
    METHODOLOGY = "methodology"
    BACKGROUND = "background"  # the family, the child
    CHRONOLOGY = "chronology"  # key practice episodes, summary of events
    ANALYSIS = "analysis"
    KEY_ISSUES = "key issues"
    LEARNING = "learning"  # findings, lessons
    GOOD_PRACTICE = "good practice"
    RECOMMENDATIONS = "recommendations"
    APPENDIX = "appendix"  # glossary, appendices
    OTHER = "other"


SECTION_KINDS: tuple[str, ...] = tuple(k.value for k in SectionKind)
# Words users say for a section kind.
SECTION_ALIASES = {
    "findings": "learning",
    "learning points": "learning",
    "recommendation": "recommendations",
    "key practice episodes": "chronology",
    "terms of reference": "scope",
    "glossary": "appendix",
    "family": "background",
}


# What a record is: a review report (or its executive summary), a learning brief about one or more reviews,
# a national or thematic analysis, or one entry of a listing of many reviews (the NSPCC-style pages).
DOCUMENT_KINDS: tuple[str, ...] = ("review", "briefing", "analysis", "listing entry")
# Every review type a record may have: what parsing finds on covers (rag.metadata, rag.parse) and what a
# catalogue row may set (rag.catalogue). tests/test_catalogue.py checks the parsers name no other.
REVIEW_TYPES: tuple[str, ...] = (
    "serious case review",
    "child safeguarding practice review",
    "rapid review",
    "learning review",
    "practice review",
    "child practice review",
    "significant case review",
    "national review",
    "thematic analysis",
    "learning summary",
    "learning brief",
    "learning briefing",
    "7-minute briefing",
    "six-step briefing",
    "briefing",
)


# What counts of records name, in the order they are shown: reviews, then briefings and analyses beside them.
COUNTED_KINDS: tuple[str, ...] = ("review", "briefing", "analysis")


def counted_as(kind: str) -> str:
    """What a record counts as when reviews are counted: a review report and a listing's entry are each one
    review; briefings and analyses are counted beside them, never as reviews."""
    return "review" if kind in ("review", "listing entry") else kind


def location(source: str, page: int | None) -> str:
    """The one citation location label: "file.pdf, p. 4" (no page for text files)."""
    return source + (f", p. {page}" if page else "")


# The kinds of source whose text is Markdown: a .md file's own, and what rag.word and rag.webpage write.
MARKDOWN_KINDS = ("md", "docx", "html")


@dataclass(frozen=True)
class SourceText:
    """The decoded text of one corpus file.

    `page_starts[i]` is the character offset where page i+1 begins (PDFs only);
    every offset elsewhere in the pipeline points into `text`.
    """

    path: str  # relative to the corpus folder, with forward slashes
    text: str
    sha256: str  # of the file's bytes
    kind: str  # "txt", "pdf", or one of MARKDOWN_KINDS
    page_starts: tuple[int, ...] = ()
    # Page furniture (running headers/footers, page numbers, contents pages, bullet glyphs): spans of `text`
    # that stay in it, so offsets and quotes remain verbatim, but that no chunk, sentence or quote includes.
    furniture: tuple[tuple[int, int], ...] = ()
    ocr_pages: tuple[int, ...] = ()  # pages (1-based) with no text layer, read by Tesseract OCR
    # A PDF's footnotes (rag.pdfworker.page_text): kept in `text` and shown in context, but like furniture in no
    # chunk, sentence or quote, so that a paragraph running over a page is not cut by them. Not furniture: a
    # footnote's dates are not the document's.
    notes: tuple[tuple[int, int], ...] = ()
    # The lines a PDF shows as headings (rag.pdfworker.heading_lines): set in display type, larger than its body
    # text, or named by its bookmarks. Heading candidates, so that a designed brief's "Fathers were not spoken to"
    # is a heading although it reads like a sentence.
    heading_lines: tuple[tuple[int, int], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """As stored in sources.jsonl and sent to the parse worker."""
        return {
            "path": self.path,
            "sha256": self.sha256,
            "kind": self.kind,
            "page_starts": list(self.page_starts),
            "furniture": [list(x) for x in self.furniture],
            "ocr_pages": list(self.ocr_pages),
            "notes": [list(x) for x in self.notes],
            "heading_lines": [list(x) for x in self.heading_lines],
            "text": self.text,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SourceText:
        def spans(key: str) -> tuple[tuple[int, int], ...]:
            return tuple((int(a), int(b)) for a, b in d.get(key, []))

        return cls(
            d["path"],
            d["text"],
            d["sha256"],
            d["kind"],
            tuple(int(x) for x in d.get("page_starts", [])),
            spans("furniture"),
            tuple(int(x) for x in d.get("ocr_pages", [])),
            spans("notes"),
            spans("heading_lines"),
        )

    @functools.cached_property
    def hidden(self) -> tuple[tuple[int, int], ...]:
        """The furniture and the footnotes, sorted: what no chunk or quote includes (worked out once: chunking and
        `rla show` ask for it section by section)."""
        if not self.notes:
            return self.furniture
        return merge(self.text, [*self.furniture, *self.notes])

    @functools.cached_property
    def markup(self) -> tuple[tuple[int, int, str], ...]:
        """The Markdown markup of a text written as Markdown (rag.layout.markdown_markup), found once: what the
        app shows as the structure it marks up; none for other text."""
        return markdown_markup(self.text) if self.kind in MARKDOWN_KINDS else ()

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
    path: str = ""  # the heading path when headings nest: "4. Findings › Finding 2: Men in the household"


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
    kind: str = "review"  # one of DOCUMENT_KINDS
    child: str | None = None  # the child's pseudonym ("Child M")
    author: str | None = None  # the independent reviewer
    month: str | None = None  # of publication ("March")
    partnership: str | None = None  # "Northshire Safeguarding Children Board"
    themes: tuple[str, ...] = ()  # vocabulary theme ids (rag/data/themes.toml) its chunks name, tagged at ingest
    url: str | None = None  # where the document is published (from the catalogue; parsing never sets it)
    # What parsing found for each field a catalogue row overrides (rag/catalogue.py), so the row can be undone.
    parsed: tuple[tuple[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["keywords"] = list(self.keywords)
        d["sections"] = [asdict(s) for s in self.sections]
        d["themes"] = list(self.themes)
        # Absent rather than empty, so that a record as parsed keeps the shape it always had.
        for key in ("themes", "url", "parsed"):
            if not d[key]:
                del d[key]
        if self.parsed:
            d["parsed"] = {k: list(v) if isinstance(v, tuple) else v for k, v in self.parsed}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Review:
        sections = tuple(Section(**s) for s in d["sections"])
        themes = tuple(str(t) for t in d.get("themes", ()))
        parsed = tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in d.get("parsed", {}).items())
        return cls(**{**d, "keywords": tuple(d["keywords"]), "sections": sections, "themes": themes, "parsed": parsed})


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
    kind: str = "review"  # the record's kind, one of DOCUMENT_KINDS
    heading: str = ""  # the section's heading path, as written ("6. Analysis and findings › Finding 1: …")
    para: str | None = None  # the paragraph number where the report numbers them ("4.12")
    # Vocabulary theme ids (rag/data/themes.toml) whose name or an alias the chunk contains, tagged at ingest.
    themes: tuple[str, ...] = field(default=())
    url: str | None = None  # the record's, from the catalogue

    @property
    def review_label(self) -> str:
        """ "Title, 2017, Area": the review a quote comes from."""
        return ", ".join(str(x) for x in (self.title, self.year, self.area) if x)

    @property
    def citation_label(self) -> str:
        """ "Title, 2017, Area, learning — file.pdf, p. 4": the one way a citation is labelled.

        A document's chapter is named by its heading ("…, Domestic abuse — file.txt"), a numbered paragraph
        by its number ("…, para 4.12 — file.pdf, p. 11").
        """
        where = self.heading.rsplit(" › ", 1)[-1] if self.kind != "listing entry" and self.heading else self.section
        para = f"para {self.para}" if self.para else ""
        return f"{', '.join(x for x in (self.review_label, where, para) if x)} — {location(self.source, self.page)}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["keywords"] = list(self.keywords)
        d["sentences"] = [list(x) for x in self.sentences]
        d["themes"] = list(self.themes)
        if not self.url:
            del d["url"]
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
            "kind": c.kind,
            "section": c.section,
            "source": c.source,
            "page": c.page,
            "start": c.start,
            "end": c.end,
            "text": c.text,
            **({"url": c.url} if c.url else {}),
        }


@dataclass(frozen=True)
class Citation:
    n: int
    quote: str  # verbatim span of the source text
    hit: Hit
    start: int  # offsets of the quote itself in the source text
    end: int
    # Another review making the same point as the bullet citing [also_of]: cited "also [n]", its own quote
    # still openable, not shown in the answer's text.
    also_of: int | None = None
    theme: str | None = None  # the theme heading the bullet stands under, when the answer has headings

    def to_dict(self) -> dict[str, Any]:
        d = self.hit.to_dict()
        d.update({"n": self.n, "quote": self.quote, "quote_start": self.start, "quote_end": self.end})
        if self.also_of is not None:
            d["also_of"] = self.also_of
        if self.theme:
            d["theme"] = self.theme
        return d


@dataclass(frozen=True)
class AnswerCoverage:
    """How much of the collection an answer shows: records quoted and records on the ledger, by kind
    ("review", "briefing", "analysis"), and the ledger topic that lists them all."""

    topic: str  # `rla ledger "<topic>"`; the app's Ledger tab pre-filled with it
    label: str  # what the records address, in words ("fathers and male carers")
    shown: tuple[tuple[str, int], ...]  # (kind, records quoted that the ledger lists)
    total: tuple[tuple[str, int], ...]  # (kind, records the ledger lists)
    other: int = 0  # records quoted that the ledger does not list (they match the question in other words)

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "label": self.label,
            "shown": dict(self.shown),
            "total": dict(self.total),
            "other": self.other,
        }


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    citations: tuple[Citation, ...]
    abstained: bool
    notice: str | None = None
    coverage: AnswerCoverage | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "question": self.question,
            "answer": self.text,
            "citations": [c.to_dict() for c in self.citations],
            "abstained": self.abstained,
        }
        if self.notice:
            d["notice"] = self.notice
        if self.coverage:
            d["coverage"] = self.coverage.to_dict()
        return d
