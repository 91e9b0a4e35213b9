"""Source text → review records: one per review entry, with typed sections and offsets."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import PurePosixPath

from rag.layout import MD_HEADING, masked
from rag.metadata import Cover, cover_text, has_cover, read_cover
from rag.models import MARKDOWN_KINDS, Review, Section, SourceText

# "Learning includes:", "Key findings:", "Recommendations  include:" … → section kind.
_LABELS = [
    (r"Learning(?: (?:includes?|focuses on))?", "learning"),
    (r"(?:Key )?Findings(?: identified)?(?: includes?)?", "learning"),
    (r"Key lessons", "learning"),
    (r"Key issues", "key issues"),
    (r"Background", "background"),
    (r"Recommendations(?:\s+includes?)?", "recommendations"),
    (r"Good practice(?: identified)?", "good practice"),
    (r"Model|Methodology", "methodology"),
    (r"Keywords", "keywords"),
]
_LABEL_RE = re.compile(
    r"(?:^|(?<=[.;!?])[ \t]+)(?P<label>" + "|".join(f"(?:{p})" for p, _ in _LABELS) + r")[ \t]*:",
    re.MULTILINE | re.IGNORECASE,
)
_LABEL_KIND = [(re.compile(f"^(?:{p})$", re.IGNORECASE), k) for p, k in _LABELS]
# A paragraph that opens with a section word but no colon ("Recommendations include improved …").
_OPENER_RE = re.compile(
    r"^(?:No recommendations|There are no recommendations|Recommendations include\b)", re.IGNORECASE
)
_LINK_RE = re.compile(
    r"^[^\S\n]*(?:>[^\S\n]*)?(?:Read\s(?:the|full|learning)\s|Other resources\b)", re.IGNORECASE | re.MULTILINE
)
_DATED_RE = re.compile(r"^(?P<year>(?:19|20)\d\d)\s*[-–]\s*(?P<rest>\S.*)$", re.MULTILINE)
_NUMBERED_RE = re.compile(r"^(?P<n>\d{1,2})\.[ \t]+(?P<title>\S.{2,100})$", re.MULTILINE)
_LESSONS_RE = re.compile(
    r"^Learning from Serious Case Review[ \t]+(?P<title>\S.*?)(?:[ \t]*\((?P<year>\d{4})\))?[ \t]*$", re.MULTILINE
)
_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_MONTH_YEAR_RE = re.compile(rf"\b(?:{_MONTHS})\s+((?:19|20)\d\d)\b")
_AREA_RE = re.compile(r"\b([A-Z][A-Za-z ]{2,40}?) (?:Safeguarding Children (?:Partnership|Board)|LSCB)\b")

# Type phrases, longest first; matched case-insensitively in titles.
_TYPES = [
    ("local child safeguarding practice review", "child safeguarding practice review"),
    ("child safeguarding practice review", "child safeguarding practice review"),
    ("serious case review", "serious case review"),
    ("learning review", "learning review"),
    ("learning summary", "learning summary"),
    ("learning briefing", "learning briefing"),
    ("practice review", "practice review"),
]
# Words dropped from a title to leave the review's name (for ids).
_TITLE_NOISE = re.compile(
    r"\b(?:local child safeguarding practice review|child safeguarding practice review|serious case review(?: of)?"
    r"|learning review(?: report)?|learning summary|learning briefing|\(?full overview report\)?|overview report"
    r"|review report)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _Para:
    start: int
    end: int
    text: str


def parse_source(src: SourceText) -> list[Review]:
    """Split one source into review records; the format is recognised from its structure.

    Page furniture and footnotes are blanked first (same offsets), so no heading, title or section edge comes from
    them.
    """
    oracle = contents_oracle(src.text, src.furniture)
    footers = "\n".join(src.text[s:e] for s, e in src.furniture if "\n" in src.text[s:e] or len(src.text[s:e]) > 3)
    if src.hidden:
        src = replace(src, text=masked(src.text, src.hidden))
    for parser in (_parse_dated, _parse_lessons_page, _parse_numbered, _parse_headed_listing):
        reviews = parser(src)
        if reviews:
            return _unique_ids(reviews)
    return _unique_ids(_parse_document(src, oracle, footers))


# --- helpers -------------------------------------------------------------------------------


def slugify(text: str) -> str:
    text = text.lower().replace("’", "").replace("'", "")
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:80] or "review"


def _paragraphs(text: str, start: int, end: int) -> list[_Para]:
    out = []
    for m in re.finditer(r"[^\n]*\S[^\n]*(?:\n[^\n]*\S[^\n]*)*", text[start:end]):
        s, e = start + m.start(), start + m.end()
        out.append(_Para(s, e, text[s:e]))
    return out


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _furniture(text: str) -> set[str]:
    """Paragraph openings that repeat in a document are page furniture (contact blocks, boilerplate)."""
    counts = Counter(_key(p.text) for p in _paragraphs(text, 0, len(text)))
    return {k for k, n in counts.items() if n > 1 and len(k) > 12}


def _key(paragraph: str) -> str:
    return " ".join(paragraph.split())[:80].lower()


def _label_kind(label: str) -> str:
    label = " ".join(label.split())
    for rx, kind in _LABEL_KIND:
        if rx.match(label):
            return kind
    return "other"


def _doc_year(text: str, end: int = 400) -> int | None:
    """The listing's publication month, when its header gives one ("NSPCC Repository – March 2022")."""
    m = _MONTH_YEAR_RE.search(text[: min(end, 400)])
    return int(m.group(1)) if m else None


def _type_of(text: str) -> str | None:
    low = text.lower()
    for phrase, kind in _TYPES:
        if phrase in low:
            return kind
    return None


def _name_of(title: str) -> str:
    name = _TITLE_NOISE.sub(" ", title)
    name = re.sub(r"[“”\"()]", " ", name)
    name = re.sub(r"\s*:\s*", " ", name)
    return " ".join(name.split()).strip(" .:-") or title


def _review_id(year: int | None, area: str, name: str) -> str:
    parts = [str(year)] if year else []
    if area and area not in ("Anonymous", "National"):
        parts.append(area)
    if name != area:
        parts.append(name)
    return slugify(" ".join(parts))


def _unique_ids(reviews: list[Review]) -> list[Review]:
    seen: Counter[str] = Counter()
    out = []
    for r in reviews:
        seen[r.id] += 1
        if seen[r.id] > 1:
            r = Review(**{**r.__dict__, "id": f"{r.id}-{seen[r.id]}"})
        out.append(r)
    return out


def _body_sections(text: str, start: int, end: int, furniture: set[str]) -> list[Section]:
    """Sections of one entry body: leading narrative is the summary; labels open sections.

    A link line ("> Read the overview report") or a furniture paragraph ends the entry.
    """
    link = _LINK_RE.search(text, start, end)
    if link:
        end = link.start()
    for p in _paragraphs(text, start, end):
        if _key(p.text) in furniture:
            end = p.start
            break
    cuts: list[tuple[int, int, str, str]] = []  # (section start, body start, kind, label)
    for m in _LABEL_RE.finditer(text, start, end):
        label = m.group("label")
        cuts.append((m.start("label"), m.end(), _label_kind(label), " ".join(label.split())))
    for p in _paragraphs(text, start, end):
        if _OPENER_RE.match(p.text) and not any(c[0] == p.start for c in cuts):
            cuts.append((p.start, p.start, "recommendations", "Recommendations"))
    cuts.sort()
    sections: list[Section] = []
    first = cuts[0][0] if cuts else end
    s, e = _strip_span(text, start, first)
    if e > s:
        sections.append(Section("summary", "Summary", s, e))
    for i, (_, body, kind, label) in enumerate(cuts):
        stop = cuts[i + 1][0] if i + 1 < len(cuts) else end
        s, e = _strip_span(text, body, stop)
        if e > s:
            sections.append(Section(kind, label, s, e))
    return sections


def _has_learning(sections: list[Section]) -> bool:
    return any(s.kind in ("learning", "recommendations", "key issues") for s in sections)


def _make_review(
    src: SourceText,
    *,
    title: str,
    year: int | None,
    area: str,
    rtype: str | None,
    start: int,
    sections: list[Section],
    kind: str = "listing entry",
) -> Review:
    text = src.text
    keywords: tuple[str, ...] = ()
    methodology = None
    kept = []
    for s in sections:
        body = text[s.start : s.end]
        if s.kind == "keywords":
            keywords = tuple(" ".join(k.split()).rstrip(".") for k in re.split(r"[;,]", body) if k.strip(" .\n"))
            continue
        if s.kind == "methodology" and kind == "listing entry":  # a listing's "Methodology:" line
            methodology = " ".join(body.split())
            s = Section("other", s.label, s.start, s.end)
        kept.append(s)
    end = max(s.end for s in sections)
    name = _name_of(title)
    return Review(
        id=_review_id(year, area, name),
        title=title,
        year=year,
        area=area,
        type=rtype,
        keywords=keywords,
        methodology=methodology,
        source=src.path,
        start=start,
        end=end,
        sections=tuple(kept),
        page=src.page_at(start),
        kind=kind,
    )


def _entries(src: SourceText, heads: list[tuple[int, int]]) -> Iterator[tuple[int, int, int]]:
    """(heading start, body start, body end) for heading spans in order."""
    for i, (hs, he) in enumerate(heads):
        nxt = heads[i + 1][0] if i + 1 < len(heads) else len(src.text)
        yield hs, he, nxt


# --- formats -------------------------------------------------------------------------------


def _parse_dated(src: SourceText) -> list[Review]:
    """NSPCC listing: `2017 – Durham – Baby Bailey`, then a summary and labelled lines."""
    text = src.text
    matches = list(_DATED_RE.finditer(text))
    if len(matches) < 3:
        return []
    furniture = _furniture(text)
    reviews = []
    for m, (hs, he, nxt) in zip(matches, _entries(src, [(m.start(), m.end()) for m in matches]), strict=True):
        sections = _body_sections(text, he, nxt, furniture)
        if not _has_learning(sections):
            continue
        area, title = _split_area_title(m.group("rest"))
        rtype = _type_of(title)
        reviews.append(
            _make_review(
                src, title=title, year=int(m.group("year")), area=area, rtype=rtype, start=hs, sections=sections
            )
        )
    return reviews


def _split_area_title(rest: str) -> tuple[str, str]:
    rest = rest.strip()
    parts = re.split(r"\s*–\s*|\s+-\s*|\s*-\s+", rest, maxsplit=1)
    if len(parts) == 1 and re.match(r"^Anonymous-", rest):
        parts = rest.split("-", 1)
    if len(parts) == 1:
        return rest, rest
    area, title = parts[0].strip(), parts[1].strip()
    area = re.sub(r"\s+Safeguarding Children Board$", "", area)
    return area, title


def _parse_numbered(src: SourceText) -> list[Review]:
    """NSPCC monthly listing: `3. Child Safeguarding Practice Review: Child YS`."""
    text = src.text
    heads = [m for m in _NUMBERED_RE.finditer(text) if not _LABEL_RE.search(m.group("title"))]
    if len(heads) < 2:
        return []
    furniture = _furniture(text)
    year = _doc_year(text, heads[0].start())
    reviews = []
    for m, (hs, he, nxt) in zip(heads, _entries(src, [(m.start(), m.end()) for m in heads]), strict=True):
        sections = _body_sections(text, he, nxt, furniture)
        if not _has_learning(sections):
            continue
        title = m.group("title").strip()
        reviews.append(
            _make_review(
                src, title=title, year=year, area="Anonymous", rtype=_type_of(title), start=hs, sections=sections
            )
        )
    return reviews if len(reviews) >= 2 else []


def _parse_headed_listing(src: SourceText) -> list[Review]:
    """Listing whose entries open with a short heading line (`Baby C`, `Child F1: serious case review`)."""
    text = src.text
    paras = _paragraphs(text, 0, len(text))
    heads = [
        (p.start, p.end)
        for p in paras
        if "\n" not in p.text
        and len(p.text.strip()) <= 80
        and not p.text.lstrip().startswith(("•", "-", ">", "*"))
        and not _LINK_RE.match(p.text)
        and not _LABEL_RE.match(p.text.strip())
    ]
    if len(heads) < 2:
        return []
    furniture = _furniture(text)
    year = _doc_year(text, heads[0][0])
    reviews = []
    for hs, he, nxt in _entries(src, heads):
        sections = _body_sections(text, he, nxt, furniture)
        if not _has_learning(sections) or not any(s.kind == "summary" for s in sections):
            continue
        title = text[hs:he].strip().rstrip(".").strip()
        summary = text[sections[0].start : sections[0].end]
        rtype = _type_of(title) or _type_of(summary[:200])
        reviews.append(
            _make_review(src, title=title, year=year, area="Anonymous", rtype=rtype, start=hs, sections=sections)
        )
    return reviews if len(reviews) >= 2 else []


def _parse_lessons_page(src: SourceText) -> list[Review]:
    """Local partnership page: `Learning from Serious Case Review George (2020)`, a story, numbered lessons."""
    text = src.text
    heads = list(_LESSONS_RE.finditer(text))
    if not heads or "Lessons to be learned" not in text:
        return []
    furniture = _furniture(text)
    area_m = _AREA_RE.search(text)
    area = area_m.group(1).strip() if area_m else "Anonymous"
    reviews = []
    for m, (hs, he, nxt) in zip(heads, _entries(src, [(m.start(), m.end()) for m in heads]), strict=True):
        title = m.group("title").strip()
        published = re.search(r"\(published [^)]*?(\d{4})\)", text[he:nxt])
        year = int(published.group(1)) if published else (int(m.group("year")) if m.group("year") else None)
        sections = []
        for sm in re.finditer(
            r"^(?:(?P<story>.+?’s Story|.+?'s Story)|(?P<lessons>Lessons to be learned from .+))[ \t]*$",
            text[:nxt],
            re.MULTILINE,
        ):
            if sm.start() < he:
                continue
            body_end = nxt
            for p in _paragraphs(text, sm.end(), nxt):
                if _key(p.text) in furniture or re.match(r"^(?:Lessons to be learned|.+’s Story|.+'s Story)", p.text):
                    body_end = p.start
                    break
            s, e = _strip_span(text, sm.end(), body_end)
            if e > s:
                kind = "summary" if sm.group("story") else "learning"
                sections.append(Section(kind, sm.group(0).strip(), s, e))
        if not sections:
            continue
        reviews.append(
            _make_review(
                src, title=title, year=year, area=area, rtype="serious case review", start=hs, sections=sections
            )
        )
    return reviews


# --- documents without a listing: headed briefings, full review reports ---------------------

_CONTINUES = {"and", "or", "of", "to", "from", "not", "the", "in", "for", "with", "a", "an"}


def _is_heading(lines: list[str], i: int, nxt: str) -> bool:
    line = lines[i].strip()
    words = line.split()
    if not (3 <= len(line) <= 80) or not (1 <= len(words) <= 12) or "\t" in line:
        return False
    if not line[0].isupper() or line[-1] in ".,;" or line.startswith((">", "•", "\uf0b7", "\x7f")):
        return False
    if re.search(r"\(p\d+|https?://|\bn=\d", line) or line.isdigit():
        return False
    # Wrapped body lines that happen to start a sentence: a clause after a comma, a verb, a dangling word.
    question = line.endswith("?") or (re.match(r"(?:What|How|Why|Who|When|Where)\b", line) and len(words) <= 6)
    if re.search(r", [a-z]", line) or (re.search(r"\b(?:is|was|were|are|has|have)\b", line) and not question):
        return False
    if words[-1].lower() in _CONTINUES - {"not"}:
        return False
    prev = lines[i - 1].strip() if i > 0 else ""
    if prev and prev[-1] not in ".?!)’'\":" and not _is_heading_shape(prev):
        return False
    if re.search(r"\b(?:reviewer|author|published|publication|chair|completed|presented|date)\b[^:]*:", line, re.I):
        return False  # a cover's "Lead reviewer: …" line
    return bool(nxt) and (nxt[0].isupper() or nxt[0].isdigit() or nxt[0] in '‘“"•\uf0b7\x7f')


def _is_heading_shape(line: str) -> bool:
    """A line that could itself be a heading: short, capitalised, not a clause of a sentence."""
    return (
        3 <= len(line) <= 80
        and line[:1].isupper()
        and line[-1] not in ".,;"
        and not re.search(r", [a-z]|\b(?:is|was|were|are|has|had|have)\b", line)
    )


def _parse_document(src: SourceText, oracle: frozenset[str] = frozenset(), footers: str = "") -> list[Review]:
    """A document that is not a listing is one record: its headings open its sections (else its pages do).

    Its metadata comes from its cover (rag.metadata); headings on the cover are not sections.
    """
    text = src.text
    cover_end = len(cover_text(text, src.page_starts))
    stem = PurePosixPath(src.path).stem
    opening = text[:3000]
    kind = _document_kind(opening)
    cover = read_cover(text[:cover_end], kind, footers)
    heads, md_title = _document_heads(src, oracle, cover_end)
    heads = _without_banner(text, heads, cover)
    doc_type = cover.type or ("briefing" if "briefing" in opening.lower() else _type_of(opening))
    if kind == "analysis" and "briefing" in opening.lower():
        doc_type = "briefing"
    area = cover.area or ("National" if kind == "analysis" or doc_type == "briefing" else "Anonymous")
    sections = _split_labels(text, _document_sections(src, heads, kind))
    if not sections:
        return []
    first = heads[0].title if heads else ""
    generic = bool(heads) and (_heading_kind(first) != "other" or first.lower() in _GENERIC_HEADINGS)
    if md_title and src.kind in MARKDOWN_KINDS:
        title = md_title  # a Markdown file's title is its first "#" heading (a Word document's, its Title style)
    elif cover.title:
        title = cover.title
    elif heads and heads[0].start < 200 and not generic:
        title = first
    else:
        title = stem.replace("-", " ").replace("_", " ").strip().capitalize()
    r = _make_review(
        src, title=title, year=cover.year, area=area, rtype=doc_type, start=0, sections=sections, kind=kind
    )
    extra = {"child": cover.child, "author": cover.author, "month": cover.month, "partnership": cover.partnership}
    return [Review(**{**r.__dict__, "id": slugify(stem), **extra})]


def _document_heads(src: SourceText, oracle: frozenset[str], cover_end: int) -> tuple[list[_Heading], str | None]:
    """The document's headings (not its cover's lines) and, for Markdown, its "#" title."""
    text = src.text
    heads = _headings(text, oracle, frozenset(a for a, _ in src.heading_lines))
    if has_cover(text, src.page_starts):
        heads = [h for h in heads if h.start >= cover_end]  # the cover's lines are its title, not headings
    elif not src.page_starts:
        block = re.search(r"\S[^\n]*(?:\n[ \t]*\S[^\n]*)+", text[:1500])  # a text file's opening block of lines
        cover_lines = block.group().split("\n") if block else []
        if block and text[: block.start()].strip() == "" and not any(x.rstrip().endswith(".") for x in cover_lines):
            heads = [h for h in heads if not block.start() <= h.start < block.end()]
    if sum(1 for h in heads if text[h.start] == "#") >= 2:
        heads = [h for h in heads if text[h.start] == "#"]  # a Markdown file's own headings are its structure
    md_titles = [h for h in heads if text[h.start] == "#" and h.level == 1]
    if len(md_titles) == 1 and src.kind in MARKDOWN_KINDS:
        heads = [h for h in heads if h is not md_titles[0]]  # the title: part of the opening, not of every path
    return heads, (md_titles[0].title if md_titles else None)


_SENTENCE_END = re.compile(r"[a-z”’)]\.(?:\s|$)")
_DATE_ONLY = re.compile(rf"^(?:\d{{1,2}}\s+)?(?:{_MONTHS})\s+(?:19|20)\d\d$")


def _without_banner(text: str, heads: list[_Heading], cover: Cover) -> list[_Heading]:
    """A briefing's banner at the top of its first page (no cover page of its own): the lines the title, the
    partnership's name and the date were read from are the title block, not headings. A heading that is the
    whole title ("Learning briefing: Child T") stays one."""
    first_sentence = _SENTENCE_END.search(text)
    end = first_sentence.start() if first_sentence else len(text)
    title = " ".join((cover.title or "").split())
    partnership = cover.partnership or ""

    def banner_piece(piece: str) -> bool:
        return bool(piece) and (piece in title or piece in partnership or _DATE_ONLY.match(piece) is not None)

    return [
        h
        for h in heads
        if h.start >= end
        or h.title == title
        or not all(banner_piece(" ".join(x.split())) for x in h.title.split(" — "))
    ]


def _document_sections(src: SourceText, heads: list[_Heading], kind: str) -> list[Section]:
    """One section per heading (else per page), with its kind (its own, else its parent's) and heading path."""
    text = src.text
    bounds = heads or [_Heading(ps, ps, f"Page {i + 1}", 1) for i, ps in enumerate(src.page_starts)]
    sections = []
    s0, e0 = _strip_span(text, 0, bounds[0].start if bounds else len(text))
    if e0 > s0:
        sections.append(Section("summary", "Cover" if has_cover(text, src.page_starts) else "Opening", s0, e0))
    stack: list[tuple[int, str, str]] = []  # (level, title, kind) of the headings above this one
    for i, h in enumerate(bounds):
        while stack and stack[-1][0] >= h.level:
            stack.pop()
        own = _heading_kind(h.title)
        sk = own if own != "other" else next((k for _, _, k in reversed(stack) if k != "other"), "other")
        if kind == "analysis" and sk not in ("recommendations", "good practice", "key issues"):
            sk = "learning"  # an analysis's chapters are its learning
        elif kind == "briefing" and heads and sk not in _SEED_KINDS:
            sk = "learning"  # so are a briefing's
        stack.append((h.level, h.title, sk))
        stop = bounds[i + 1].start if i + 1 < len(bounds) else len(text)
        s, e = _strip_span(text, h.end, stop)
        if e > s:
            path = " › ".join(t for _, t, _ in stack) if len(stack) > 1 else ""
            sections.append(Section(sk, h.title, s, e, path))
    return sections


_LINE_LABEL = re.compile(
    r"^[ \t]*(?P<label>" + "|".join(f"(?:{p})" for p, _ in _LABELS) + r")[ \t]*:[ \t]*(?:\n|(?=\S))",
    re.MULTILINE | re.IGNORECASE,
)


def _split_labels(text: str, sections: list[Section]) -> list[Section]:
    """A line opening with a label ("Learning: …", "Recommendations: …", "Keywords: …") starts a section of its
    own inside the section it is in (its heading path kept); "Keywords:" lines become the record's keywords."""
    out = []
    for sec in sections:
        cuts = [m for m in _LINE_LABEL.finditer(text, sec.start, sec.end)]
        if not cuts:
            out.append(sec)
            continue
        s, e = _strip_span(text, sec.start, cuts[0].start())
        if e > s:
            out.append(Section(sec.kind, sec.label, s, e, sec.path))
        for i, m in enumerate(cuts):
            stop = cuts[i + 1].start() if i + 1 < len(cuts) else sec.end
            rest = stop
            if text[m.end() - 1] not in "\n":  # "Label: text" runs to its paragraph's end, the rest is the parent's
                blank = re.compile(r"\n[ \t]*\n").search(text, m.end(), stop)
                stop = blank.start() if blank else stop
            s, e = _strip_span(text, m.end(), stop)
            if e > s:
                label = " ".join(m.group("label").split())
                path = f"{sec.path or sec.label} › {label}"
                out.append(Section(_label_kind(label), label, s, e, path))
            s, e = _strip_span(text, stop, rest)
            if e > s:
                out.append(Section(sec.kind, sec.label, s, e, sec.path))
    return out


_SEED_KINDS = {"summary", "background", "key issues", "learning", "recommendations", "good practice", "methodology"}
_GENERIC_HEADINGS = {"introduction", "contents", "foreword", "executive summary", "overview"}


def _document_kind(opening: str) -> str:
    low = " ".join(opening.split()).lower()
    if re.search(
        r"\b(?:triennial|biennial|national|thematic) analysis\b|\banalysis of serious case reviews\b"
        r"|\bnational (?:thematic )?review\b|\bthematic review\b",  # the Panel's national reviews, of many cases
        low,
    ):
        return "analysis"
    if re.search(r"\bbriefing\b|\blearning brief\b|\b7[- ]minute\b|\bsix[- ]step\b", low):
        return "briefing"
    return "review"


@dataclass(frozen=True)
class _Heading:
    start: int
    end: int
    title: str
    level: int


# "# Title" (Markdown: layout.MD_HEADING), "2.3.4 Title" (numbered), "Finding 2: …" / "Key practice episode 1: …"
# (labelled).
LIST_NUMBER = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,3})\.?[ \t]+(?=\S)")  # "4.", "4.2", "2.3.4": a heading's number
_LABELLED = re.compile(
    r"^(?:\d{1,2}(?:\.\d{1,2}){0,3}\.?[ \t]+)?(?:Finding|Key practice episode|Practice episode|Episode"
    r"|Learning point|Learning theme|Theme|Appendix|Annex)[ \t]+\d{1,2}[a-z]?[ \t]*[:.–—-][ \t]*\S",
    re.IGNORECASE,
)


def contents_oracle(text: str, furniture: tuple[tuple[int, int], ...]) -> frozenset[str]:
    """The headings a contents page lists, leaders and page numbers dropped; an entry wrapped over two
    lines is listed joined (its halves too: harmless, they match no heading line on their own)."""
    for s, e in furniture:
        lines = [" ".join(x.split()) for x in text[s:e].split("\n") if x.strip()]
        if not lines or not re.match(r"^(?:Table of )?Contents:?$", lines[0], re.IGNORECASE):
            continue
        out: set[str] = set()
        pending = ""
        for line in lines[1:]:
            for entry in (line, f"{pending} {line}" if pending else ""):
                title = re.sub(r"(?:\s*\.{2,}|\s*…+)?\s*\d{1,3}$", "", entry).strip()
                if title:
                    out.add(title)
            pending = "" if re.search(r"\d$", line) else line
        return frozenset(out)
    return frozenset()


def _headings(text: str, oracle: frozenset[str] = frozenset(), shown: frozenset[int] = frozenset()) -> list[_Heading]:
    """The heading lines of a document, with their level; a heading wrapped over two lines is joined. `shown`:
    where the lines the document shows as headings start (a PDF's, `SourceText.heading_lines`)."""
    lines = text.split("\n")
    offsets = []
    pos = 0
    for line in lines:
        offsets.append(pos)
        pos += len(line) + 1
    next_text = _next_nonblank(lines)
    heads: list[_Heading] = []
    numbered = 0  # level of the last numbered heading, for unnumbered ones below it
    tables = _Tables()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        nxt_line = lines[i + 1].strip() if i + 1 < len(lines) else ""
        wrapped = f"{line} {nxt_line}" if nxt_line else ""
        s = offsets[i] + (len(lines[i]) - len(lines[i].lstrip()))
        level = 0
        title = line
        end_line = i
        md = MD_HEADING.match(line)
        if md:
            title, level = md.group(2).strip(), len(md.group(1))
        elif line and (" ".join(line.split()) in oracle or (wrapped and " ".join(wrapped.split()) in oracle)):
            if wrapped and " ".join(wrapped.split()) in oracle and not LIST_NUMBER.match(nxt_line):
                title, end_line = wrapped, i + 1
            level = _number_level(title) or 1
        elif _LABELLED.match(line) and len(line) <= 180:
            if nxt_line and nxt_line[0].islower() and len(nxt_line) <= 60 and line[-1] not in ".;:?!":
                title, end_line = wrapped, i + 1
            level = (_number_level(title) or numbered or 1) + (0 if _number_level(title) else 1)
            if title.lower().startswith(("appendix", "annex")):
                level = 1
        elif _is_numbered_heading(line, next_text[i]) and (not oracle or len(line.split()) <= 7):
            level = _number_level(line)
        elif offsets[i] in shown and _SHOWN_HEADING.match(line):
            title, end_line = _shown_heading(lines, offsets, i, shown)
            level = numbered + 1 if numbered else 1
        elif _is_heading(lines, i, next_text[i]) and tables.heading(line, _block_after(lines, i, _TABLE_WINDOW)):
            level = numbered + 1 if numbered else 1
        tables.saw(line, bool(level))
        if not level:
            i += 1
            continue
        if _number_level(title):
            numbered = _number_level(title)
        e = offsets[end_line] + len(lines[end_line])
        prev = heads[-1] if heads else None
        # A title-like heading wrapped over two lines ("Recognising risk and vulnerability" / "Groups of …").
        if (
            prev
            and i > 0
            and prev.end == offsets[i - 1] + len(lines[i - 1])
            and not (md or _number_level(title) or _number_level(prev.title) or _LABELLED.match(prev.title))
            and prev.title == lines[i - 1].strip()
        ):
            joiner = " " if prev.title.split()[-1].lower() in _CONTINUES else " — "
            heads.pop()
            title, s, level = prev.title.rstrip(":") + joiner + title, prev.start, prev.level
        heads.append(_Heading(s, e, title, level))
        i = end_line + 1
    return heads


# A line shown as a heading (display type, a bookmark) that reads as one: no more than 150 characters, not starting
# in lower case, with a word of three letters, not ending as a sentence or a clause does ("Fathers were not spoken
# to"; a large pull quote ends with its full stop).
_SHOWN_HEADING = re.compile(r"^(?![a-z])(?=.*[^\W\d_]{3}).{1,150}(?<![.,;”\"’'])$")


def _shown_heading(lines: list[str], offsets: list[int], i: int, shown: frozenset[int]) -> tuple[str, int]:
    """A heading the document shows as one, and its last line: the next line too when it is shown so and carries
    on the same words ("…seeing the baby undressed at every" / "contact")."""
    line = lines[i].strip()
    nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
    if nxt[:1].islower() and offsets[i + 1] in shown and _SHOWN_HEADING.match(f"{line} {nxt}"):
        return f"{line} {nxt}", i + 1
    return line, i


def _number_level(line: str) -> int:
    m = LIST_NUMBER.match(line)
    return m.group(1).count(".") + 1 if m else 0


def _is_numbered_heading(line: str, nxt: str) -> bool:
    """ "4. Findings", "2.3 Scope": a number, then a short title (not a numbered paragraph's first line)."""
    m = LIST_NUMBER.match(line)
    if not m or len(line) > 80:
        return False
    rest = line[m.end() :]
    words = rest.split()
    if not rest[:1].isupper() or not (1 <= len(words) <= 9) or rest[-1] in ".,;:":
        return False
    if re.search(r"[.;!?]\s+[A-Z]|, [a-z]", rest) or re.search(r"\b(?:is|was|were|are|has|had|have)\b", rest):
        return False
    if words[-1].lower() in _CONTINUES:
        return False
    return bool(nxt) and not nxt[0].islower()


_TABLE_WINDOW = 12  # lines after a header row looked at for its rows
_ROW_SHAPES = (
    ("date", re.compile(r"^\d{1,2}/\d{1,2}/\d{2,4}\b")),
    ("period", re.compile(rf"^(?:{_MONTHS}|Spring|Summer|Autumn|Winter)\w*\s+(?:19|20)\d\d\b")),
    ("number", re.compile(r"^\d{1,3}\.?[ \t]+[A-Z]")),
    ("word", re.compile(r"^[A-Z]")),
)
# Words a column header never holds but a heading often does ("About this briefing", "Review at a glance").
_PHRASE_WORDS = _CONTINUES | {"this", "that", "these", "our", "your", "their", "his", "her", "its", "at", "on", "by"}


def _row_shape(line: str) -> str | None:
    """What a table row opens with: a date, a month or season and year, a number, a capitalised word."""
    return next((name for name, rx in _ROW_SHAPES if rx.match(line)), None)


def _table_header(line: str, rows: list[str]) -> str | None:
    """The row shape of the table whose header row `line` is ("Date Agency Event", "Term Meaning"), else None.

    A header row is a few column names (no phrase words, no colon or question mark) over rows: either rows that
    open with a date, a period or a number (the first row and at least one more in the lines that follow), or,
    for names in capitals that name no section, lines most of which open with a capital, as rows do and the
    wrapped lines of a paragraph do not. Positions are not available in the text, so the rows tell."""
    words = line.split()
    if not (2 <= len(words) <= 6) or re.search(r"[:?]", line) or not rows:
        return None
    if {w.lower().strip(".") for w in words} & _PHRASE_WORDS:
        return None
    first = _row_shape(rows[0])
    if first in ("date", "period", "number") and sum(_row_shape(r) == first for r in rows) >= 2:
        return first
    capitals = [w for w in words if w[:1].isupper()]
    if (
        len(capitals) >= 2
        and len(capitals) * 2 >= len(words)
        and not any(len(w) == 1 for w in words)  # "Child T", "Baby R": a name, not columns
        and not re.match(r"(?:What|How|Why|Who|When|Where|Which)\b", line)
        and _heading_kind(line) == "other"
        and sum(r[:1].isupper() for r in rows[:6]) >= 3
        and first == "word"
    ):
        return "word"
    return None


@dataclass
class _Tables:
    """Tables met while reading a document's lines: a heading-like line may be a header row or a cell."""

    shape: str | None = None  # the row shape of the table being read, once its header row was seen
    after_sentence: bool = False  # the last non-blank line ended a sentence ("… listed below.")
    after_heading: bool = False  # … or was a heading
    read_prose: bool = False  # a sentence has been read: the cover is behind

    def heading(self, line: str, rows: list[str]) -> bool:
        """Whether a line that looks like a heading is one (not a table's header row or a cell on its own line)."""
        if self.shape and _in_table(self.shape, rows):
            return False  # a cell of the table above (a wrapped "Lead" column, the last row's tail)
        if self.read_prose and (self.after_sentence or self.after_heading):
            header = _table_header(line, rows)
            if header:
                self.shape = header
                return False
        return True

    def saw(self, line: str, heading: bool) -> None:
        if heading:
            self.shape, self.after_sentence, self.after_heading = None, False, True  # a heading ends any table
        elif line:
            self.after_sentence, self.after_heading = line[-1] in ".:", False
            self.read_prose = self.read_prose or line[-1] == "."
        elif self.shape == "word":
            self.shape = None  # rows told only by their capitals end at a blank line (a page break in a PDF)


def _in_table(shape: str, rows: list[str]) -> bool:
    """A heading-like line inside a table is a cell when a row of the table's shape follows (the cell may wrap
    onto one more line), or a numbered paragraph does (the table's last row); a heading has prose under it."""
    return not rows or rows[0][:1].isdigit() or any(_row_shape(r) == shape for r in rows[:2])


def _block_after(lines: list[str], i: int, n: int) -> list[str]:
    """Up to n lines after line i, stripped, as far as the next blank line: the rows of a table printed under
    its header row (a text file's heading has a blank line under it; a PDF's page break is one too)."""
    out = []
    for line in lines[i + 1 : i + 1 + n]:
        if not line.strip():
            break
        out.append(line.strip())
    return out


def _next_nonblank(lines: list[str]) -> list[str]:
    """For each line, the next non-blank line after it (stripped), in one pass from the end: linear."""
    out = [""] * len(lines)
    nxt = ""
    for i in range(len(lines) - 1, -1, -1):
        out[i] = nxt
        if lines[i].strip():
            nxt = lines[i].strip()
    return out


def _heading_kind(label: str) -> str:
    """The section kind a heading names ("Key practice episodes" → chronology); "other" when it names none."""
    low = label.lower()
    for words, kind in _HEADING_KINDS:
        if re.search(words, low):
            return kind
    return "other"


_HEADING_KINDS = (
    (r"^(?:appendix|annex)\b", "appendix"),
    (r"recommend|improving systems|actions? for|what (?:the board|we) (?:is|are|will be) doing", "recommendations"),
    (r"good practice|what went well", "good practice"),
    (r"finding|learning|lesson|what did the reviews? tell|key messages?", "learning"),
    (r"key issue", "key issues"),
    (r"practice episode|chronolog|timeline|summary of events|circumstances|what happened|episode \d", "chronology"),
    (r"analysis", "analysis"),
    (r"background|family|the child\b|child and family|pen picture|about the child", "background"),
    (r"methodolog|\bmethod\b|approach|process of the review", "methodology"),
    (r"terms of reference|\bscope\b", "scope"),
    (r"introduction|why this review|legal context|purpose of (?:the|this) review", "introduction"),
    (r"glossary|appendix|annex|abbreviations|references", "appendix"),
    (r"summary|at a glance|overview", "summary"),
)
