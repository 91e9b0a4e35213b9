"""Safeguarding themes: the practitioners' vocabulary, loaded and checked from rag/data/themes.toml."""

from __future__ import annotations

import difflib
import functools
import hashlib
import re
import tomllib
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from importlib.resources import files
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from rag.errors import RlaError
from rag.lexical import expand_query
from rag.models import Chunk, Review

NSPCC_SOURCE = "NSPCC case review keywords"
# The named sources a theme may cite; any other name is a typo or an unvetted source.
SOURCES: tuple[str, ...] = (
    NSPCC_SOURCE,
    "Triennial analysis of SCRs 2011–14 (Brandon et al.)",
    "Child Safeguarding Practice Review Panel annual reports / national reviews",
    "Working Together to Safeguard Children 2023",
    "Ofsted/joint targeted area inspections",
)

_TEXT_FIELDS = ("id", "name", "definition")
_LIST_FIELDS = ("aliases", "phrasings", "nspcc_keywords", "related", "sources")
_OPTIONAL_LIST_FIELDS = ("narrower",)
# What a theme names: an issue (the default: neglect, hidden men), or the context a question is asked in —
# a service ("health visitor", "GP", "school") or a group of children ("babies", "teenagers").
KINDS = ("issue", "service", "group")
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


class ThemeError(RlaError):
    """The theme vocabulary file is missing or malformed."""


@dataclass(frozen=True)
class Theme:
    id: str
    name: str
    definition: str
    aliases: tuple[str, ...]
    phrasings: tuple[str, ...]
    nspcc_keywords: tuple[str, ...]
    related: tuple[str, ...]
    sources: tuple[str, ...]
    kind: str = "issue"  # one of KINDS
    # Distinct sub-topics of the theme ("FGM" of harmful practices): evidence that a text addresses the theme, but
    # a question naming one is covered only by a review that mentions it (`aliases` are synonyms of the theme).
    narrower: tuple[str, ...] = ()


@dataclass(frozen=True)
class Vocabulary:
    """Every theme in file order, and the NSPCC keywords deliberately left without one (keyword → reason)."""

    themes: tuple[Theme, ...]
    unmapped: Mapping[str, str]


def load_themes(path: Path | None = None) -> tuple[Theme, ...]:
    """The themes in file order; `path` defaults to the file shipped in the package."""
    return load_vocabulary(path).themes


def theme_by_id(theme_id: str, path: Path | None = None) -> Theme:
    themes = {t.id: t for t in load_themes(path)}
    if theme_id in themes:
        return themes[theme_id]
    close = difflib.get_close_matches(theme_id, themes, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else "; see rag/data/themes.toml for the ids"
    raise ThemeError(f"no theme with id {theme_id!r}{hint}")


def theme_named(text: str, path: Path | None = None, aliases: bool = False) -> Theme | None:
    """The theme the text is the id or the name of ("hidden-men", "Hidden men"), or with `aliases` an alias of
    no other theme ("fathers", "invisible men"), or None."""
    key = " ".join(text.lower().split())
    named = next((t for t in load_themes(path) if key in (t.id, t.name.lower())), None)
    if named is not None or not aliases:
        return named
    aliased = [t for t in load_themes(path) if key in {_key(a) for a in t.aliases}]
    return aliased[0] if len(aliased) == 1 else None


@functools.cache  # a theme's terms are read for every theme on every question
def terms(theme: Theme) -> tuple[str, ...]:
    """Name, aliases, narrower terms and phrasings, lower-cased with spaces collapsed, each once, in that order."""
    out: dict[str, None] = {}
    for t in (theme.name, *theme.aliases, *theme.narrower, *theme.phrasings):
        out.setdefault(_key(t), None)
    return tuple(out)


@functools.cache
def load_vocabulary(path: Path | None = None) -> Vocabulary:
    label = str(path) if path is not None else "rag/data/themes.toml"
    try:
        source = path if path is not None else files("rag") / "data" / "themes.toml"
        raw = tomllib.loads(source.read_bytes().decode())
    except (OSError, UnicodeDecodeError) as e:
        raise ThemeError(f"{label}: cannot read the theme vocabulary ({e})") from None
    except tomllib.TOMLDecodeError as e:
        raise ThemeError(f"{label}: not valid TOML ({e}); fix the syntax") from None
    return _check(raw, label)


def _check(raw: dict[str, Any], label: str) -> Vocabulary:
    extra = set(raw) - {"theme", "unmapped"}
    if extra:
        raise ThemeError(f"{label}: unknown top-level key(s) {sorted(extra)}; only [[theme]] and [unmapped] belong")
    entries = raw.get("theme")
    if not isinstance(entries, list) or not entries:
        raise ThemeError(f"{label}: no [[theme]] entries; add at least one")
    themes: list[Theme] = []
    for i, entry in enumerate(entries, 1):
        theme = _theme(entry, label, i)
        if any(t.id == theme.id for t in themes):
            raise ThemeError(f"{label}: theme {theme.id!r}: duplicate id; each id must be unique")
        themes.append(theme)
    unmapped = _unmapped(raw.get("unmapped", {}), label)
    _check_links(themes, unmapped, label)
    return Vocabulary(tuple(themes), MappingProxyType(unmapped))


def _theme(entry: object, label: str, number: int) -> Theme:
    if not isinstance(entry, dict):
        raise ThemeError(f"{label}: theme #{number}: must be a table of fields")
    theme_id = entry.get("id")
    # Name the theme by its id when it has one, else by its position in the file.
    where = f"{label}: theme {theme_id!r}" if isinstance(theme_id, str) and theme_id else f"{label}: theme #{number}"
    fields: dict[str, Any] = {}
    for name in _TEXT_FIELDS:
        value = entry.get(name)
        if value is None:
            raise ThemeError(f"{where}: missing field {name!r}")
        if not isinstance(value, str) or not value.strip():
            raise ThemeError(f"{where}: field {name!r} must be a non-empty string, not {value!r}")
        fields[name] = value.strip()
    for name in (*_LIST_FIELDS, *_OPTIONAL_LIST_FIELDS):
        fields[name] = _strings(entry, name, where)
    fields["kind"] = _kind(entry, where)
    unknown = sorted(set(entry) - set(_TEXT_FIELDS) - set(_LIST_FIELDS) - set(_OPTIONAL_LIST_FIELDS) - {"kind"})
    if unknown:
        allowed = ", ".join((*_TEXT_FIELDS, *_LIST_FIELDS, *_OPTIONAL_LIST_FIELDS, "kind"))
        raise ThemeError(f"{where}: unknown field(s) {unknown}; allowed: {allowed}")
    theme = Theme(**fields)
    if not _SLUG.fullmatch(theme.id):
        raise ThemeError(f"{where}: field 'id' must be a lower-case slug like 'hidden-men'")
    if not theme.aliases and not theme.phrasings:
        raise ThemeError(f"{where}: fields 'aliases' and 'phrasings' are both empty; give at least one")
    both = sorted({_key(t) for t in theme.aliases} & {_key(t) for t in theme.narrower})
    if both:
        raise ThemeError(
            f"{where}: {both[0]!r} is in both 'aliases' and 'narrower'; keep it in one: 'aliases' if it names the "
            "theme in other words, 'narrower' if it names a distinct kind of it"
        )
    if not theme.sources:
        raise ThemeError(f"{where}: field 'sources' is empty; name at least one of: {'; '.join(SOURCES)}")
    for source in theme.sources:
        if source not in SOURCES:
            raise ThemeError(f"{where}: field 'sources' names {source!r}; allowed: {'; '.join(SOURCES)}")
    if bool(theme.nspcc_keywords) != (NSPCC_SOURCE in theme.sources):
        raise ThemeError(f"{where}: field 'sources' must name {NSPCC_SOURCE!r} exactly when 'nspcc_keywords' is set")
    return theme


def _strings(entry: dict[str, Any], name: str, where: str) -> tuple[str, ...]:
    value = entry.get(name, [] if name in _OPTIONAL_LIST_FIELDS else None)
    if value is None:
        raise ThemeError(f"{where}: missing field {name!r} (use [] for none)")
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ThemeError(f"{where}: field {name!r} must be a list of non-empty strings, not {value!r}")
    return tuple(v.strip() for v in value)


def _key(term: str) -> str:
    return " ".join(term.lower().split())


def _kind(entry: dict[str, Any], where: str) -> str:
    kind = entry.get("kind", "issue")
    if kind not in KINDS:
        raise ThemeError(f"{where}: field 'kind' must be one of {', '.join(KINDS)}, not {kind!r}")
    return str(kind)


def _unmapped(value: object, label: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(r, str) and r.strip() for r in value.values()):
        raise ThemeError(f"{label}: [unmapped] must map each NSPCC keyword to a non-empty reason")
    return {k.lower(): r for k, r in value.items()}


def _check_links(themes: list[Theme], unmapped: dict[str, str], label: str) -> None:
    """Related ids exist; a term or NSPCC keyword is shared only by themes that name each other as related."""
    by_id = {t.id: t for t in themes}
    owners: dict[str, list[Theme]] = {}
    for t in themes:
        for rel in t.related:
            if rel not in by_id or rel == t.id:
                raise ThemeError(f"{label}: theme {t.id!r}: field 'related' names {rel!r}, which is not another theme")
        for term in terms(t):
            for other in owners.setdefault(term, []):
                if not (other.id in t.related and t.id in other.related):
                    raise ThemeError(
                        f"{label}: theme {t.id!r}: term {term!r} is also a term of {other.id!r}; "
                        "drop it from one, or list each theme in the other's 'related'"
                    )
            owners[term].append(t)
        for kw in t.nspcc_keywords:
            if kw.lower() in unmapped:
                raise ThemeError(f"{label}: theme {t.id!r}: NSPCC keyword {kw!r} is also listed in [unmapped]")


# --- phrases: a topic found as a phrase, never as a bag of words ---------------------------------

# "A&E" is one word, not the article "a" and "e"; so is "non-accidental" (or "non accidental"), whose "accidental
# injury" is no accident.
_TOKEN = re.compile(r"(?u)(?i:non[- ](?=\w))?\w+(?:['’&]\w+)*")
_ARTICLES = frozenset({"a", "an", "the"})
PHRASE_GAP = 1  # other words allowed between two words of a phrase: "sharing the information", not "brought to live"
# Where a phrase cannot run on: a list's or a clause's punctuation, a sentence's end, a blank line. "young people,
# carers" is not "young carers", nor "parents/carers" "parent carers". (A hyphen or a line break is not one.)
_PHRASE_STOP = re.compile(r"[,;:/()\[\]|]|[.!?](?=\s)|\n[ \t]*\n")
_BREAK = ""  # the stem `tokens` puts where a phrase cannot run on: no word's stem
# Inside a phrase one preposition stands for another: "bruising to non-mobile babies" is "bruising in non-mobile
# babies", "capacity for change" "capacity to change".
_PREPOSITIONS = frozenset({"in", "to", "on", "of", "for", "with", "at", "among", "from"})


@functools.lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


# An acronym's plural ("GPs", "SCRs", "DSLs"): the stemmer keeps the "s" of a word without a vowel, so "GPs" and
# "GP" would be two words.
_ACRONYM_PLURAL = re.compile(r"[A-Z]{2,}s")


def _norm_word(word: str) -> str:
    if _ACRONYM_PLURAL.fullmatch(word):
        word = word[:-1]
    return word.lower().replace("’", "'").replace("non ", "non-", 1).removesuffix("'s")


@functools.lru_cache(maxsize=8192)
def phrase_stems(phrase: str) -> tuple[str, ...]:
    """The phrase as stemmed words, function words kept but articles left out: "was not brought" →
    ("was", "not", "brought"); "the voice of the child" → ("voic", "of", "child")."""
    return tuple(tokens(phrase)[0])


@functools.lru_cache(maxsize=16384)
def tokens(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """Stemmed words of a text, articles left out ("the voice of a child" is "the voice of the child"), and
    their character spans (shared: callers read them, never change them); between two words a phrase cannot
    run on across (`_PHRASE_STOP`), `_BREAK` and the span of what parts them.

    Cached because every answer's coverage line runs the ledger, which looks for the topic's phrases in the same
    chunk texts again and again: stemming them each time was 3/4 of an answer's CPU (web app, 16 users)."""
    found = [m for m in _TOKEN.finditer(text) if _norm_word(m.group()) not in _ARTICLES]
    words = _stemmer().stemWords([_norm_word(m.group()) for m in found])
    stems: list[str] = []
    spans: list[tuple[int, int]] = []
    for k, m in enumerate(found):
        if k and _PHRASE_STOP.search(text, found[k - 1].end(), m.start()):
            stems.append(_BREAK)
            spans.append((found[k - 1].end(), m.start()))
        stems.append(words[k])
        spans.append(m.span())
    return stems, spans


def _match_at(stems: list[str], i: int, phrase: tuple[str, ...], gap: int) -> int | None:
    """The index of the phrase's last word when it starts at word i, else None."""
    if stems[i] != phrase[0]:
        return None
    pos, n = i, len(stems)
    for word in phrase[1:]:
        nxt = None
        for j in range(pos + 1, min(n, pos + gap + 2)):
            if stems[j] == word or (word in _PREPOSITIONS and stems[j] in _PREPOSITIONS):
                nxt = j
                break
            if stems[j] == _BREAK:
                return None
        if nxt is None:
            return None
        pos = nxt
    return pos


def _plain(word: str) -> str:
    """A word without its plural or possessive ending: "babies" → "baby", "GPs" → "gp", "house" → "house"."""
    w = _norm_word(word)
    for end, repl in (("ies", "y"), ("sses", "ss"), ("shes", "sh"), ("ches", "ch"), ("xes", "x"), ("s", "")):
        if w.endswith(end) and len(w) > len(end) + 1 and not w.endswith("ss"):
            return w[: -len(end)] + repl
    return w


def find_term(text: str, stems: list[str], spans: list[tuple[int, int]], term: str) -> list[tuple[int, int]]:
    """`find_phrase` for a vocabulary term in a question. A one-word term matches only its own plural or
    possessive: stemming alone would make a question about "the house" one about housing, and "prevention"
    one about the Prevent strategy. (In the reviews' text a term's stem is evidence enough: "groomed".)"""
    phrase = phrase_stems(term)
    if not phrase or phrase[0] not in stems:  # most terms of the vocabulary, for any one question: no call
        return []
    found = find_phrase(stems, spans, phrase)
    if len(phrase) != 1:
        return found
    plain = _plain(term)
    return [(s, e) for s, e in found if _plain(text[s:e]) == plain]


def find_phrase(
    stems: list[str], spans: list[tuple[int, int]], phrase: tuple[str, ...], gap: int = PHRASE_GAP
) -> list[tuple[int, int]]:
    """Character spans where the phrase's words occur in order, at most `gap` other words between two."""
    if not phrase:
        return []
    out: list[tuple[int, int]] = []
    i = -1
    while True:  # from one occurrence of the phrase's first word to the next (list.index runs in C)
        try:
            i = stems.index(phrase[0], i + 1)
        except ValueError:
            return out
        end = _match_at(stems, i, phrase, gap)
        if end is not None:
            out.append((spans[i][0], spans[end][1]))


def tag_text(text: str, on_topic: Container[str] = frozenset(), path: Path | None = None) -> tuple[str, ...]:
    """Ids of the themes the text addresses, in vocabulary order. The one rule for a theme: a text addresses it
    when it says the theme's name or a term its name says (`own_terms`), or another of its terms (an alias, a
    narrower term) while its passage is on the theme (`on_topic`: the ids of the themes it is close to in
    meaning, `themes_on_topic`), so "preventive" work is not "Prevent" and a case summary's "mother's partner"
    alone is not hidden men. The chunks it tags are the theme's ledger (`rla ledger "<theme>"`), its count in
    `rla themes` and what the theme filter keeps."""
    stems, _ = tokens(text)
    starts: dict[str, list[int]] = {}
    for i, stem in enumerate(stems):
        starts.setdefault(stem, []).append(i)
    out = []
    for theme in load_themes(path):
        for term in evidence_terms(theme) if theme.id in on_topic else own_terms(theme):
            phrase = phrase_stems(term)
            if phrase and any(_match_at(stems, i, phrase, PHRASE_GAP) is not None for i in starts.get(phrase[0], ())):
                out.append(theme.id)
                break
    return tuple(out)


_NAME_PARTS = re.compile(r",\s*|\s+(?:and|or)\s+")


@functools.cache
def own_terms(theme: Theme) -> tuple[str, ...]:
    """The theme's name and, for a name of parts joined by "and", "or" or commas, those of its terms that are a
    part ("fathers and male carers": "fathers", "male carers"): they count wherever a text says them; its other
    names only in a passage on the theme ("assessment" is a word of "assessment quality", not a part of it)."""
    parts = {phrase_stems(p) for p in (theme.name, *_NAME_PARTS.split(theme.name))}
    return tuple(t for t in evidence_terms(theme) if phrase_stems(t) in parts)


def gate_texts(path: Path | None = None) -> list[str]:
    """Per theme, in vocabulary order, what a passage is compared with to say it is on the theme: the theme's name
    with its synonyms, as `rla ledger "<name>"` searches for it."""
    return [expand_query(t.name) for t in load_themes(path)]


def themes_on_topic(scores: np.ndarray, threshold: float) -> list[frozenset[str]]:
    """Per chunk, the ids of the themes it is on: its dense score for the theme's gate text (`gate_texts`;
    `rag.store.passage_scores`, one column per theme) is at least `threshold` (`settings.theme_passage_cosine`)."""
    ids = [t.id for t in load_themes()]
    return [frozenset(ids[j] for j in np.flatnonzero(row >= threshold)) for row in scores]


# Raised when the way chunks are tagged changes (tag_text, phrase matching), so that ingest re-tags kept chunks.
# 2: articles do not break a phrase; 3: an acronym's plural is its singular ("GPs"); 4: a term other than the
# theme's name counts only in a passage on the theme, the text alone (not its title), pseudonyms blanked out;
# 5: a phrase does not run on across a comma, a slash or a sentence's end (`_PHRASE_STOP`); 6: inside a phrase one
# preposition stands for another (`_PREPOSITIONS`); 7: "non-" and its word are one word ("non-accidental injury" is not
# "accidental injury").
TAGGING_VERSION = 7


def vocabulary_digest(threshold: float) -> str:
    """What chunks' themes depend on: the shipped vocabulary's bytes, the texts a passage is compared with
    (`gate_texts`: the synonym groups are in them), the tagging rule's version and its threshold
    (`settings.theme_passage_cosine`). An index tagged under another digest is re-tagged at the next ingest (no
    text re-read, nothing re-embedded)."""
    data = (files("rag") / "data" / "themes.toml").read_bytes()
    rule = "\n".join([*gate_texts(), f"tagging {TAGGING_VERSION} {threshold!r}"])
    return hashlib.sha256(data + b"\n" + rule.encode()).hexdigest()


def tag_records(
    reviews: list[Review], chunks: list[Chunk], on_topic: Sequence[Container[str]]
) -> tuple[list[Review], list[Chunk]]:
    """Each chunk tagged with the themes its text addresses (`tag_text`; `on_topic` per chunk, from
    `themes_on_topic`), its review's pseudonyms blanked out ("Infant D" does not say "infants"); each review with
    its chunks' themes."""
    names = {r.id: pseudonyms(r) for r in reviews}
    tagged = [
        replace(c, themes=tag_text(masked(c.text, names.get(c.review_id, ())), near))
        for c, near in zip(chunks, on_topic, strict=True)
    ]
    by_review: dict[str, dict[str, None]] = {}
    for c in tagged:
        by_review.setdefault(c.review_id, {}).update(dict.fromkeys(c.themes))
    order = {t.id: i for i, t in enumerate(load_themes())}
    return [replace(r, themes=tuple(sorted(by_review.get(r.id, {}), key=order.__getitem__))) for r in reviews], tagged


# A child's pseudonym ("Child D", "Infant J", "Babies A and B"): a name, not words of a theme.
PSEUDONYM = re.compile(r"\b(?:Child(?:ren)?|Bab(?:y|ies)|Infant|Siblings?|Young Person|Family)\s+[A-Z][A-Z0-9]{0,3}\b")


def pseudonyms(review: Review) -> tuple[str, ...]:
    """The name a review's record gives its child, besides the "Child D" forms `PSEUDONYM` finds."""
    return (review.child,) if review.child else ()


def masked(text: str, names: Iterable[str]) -> str:
    """The text with every pseudonym and each of `names` blanked out, offsets kept."""
    spans = [m.span() for m in PSEUDONYM.finditer(text)]
    for name in names:
        at = text.find(name)
        while at >= 0:
            spans.append((at, at + len(name)))
            at = text.find(name, at + 1)
    chars = list(text)
    for s, e in spans:
        chars[s:e] = " " * (e - s)
    return "".join(chars)


def phrase_spans(text: str, phrases: tuple[str, ...], gap: int = PHRASE_GAP) -> list[tuple[int, int]]:
    """Every span of the text where one of the phrases occurs (sorted, overlaps merged)."""
    stems, spans = tokens(text)
    found = sorted(s for p in phrases for s in find_phrase(stems, spans, phrase_stems(p), gap))
    merged: list[tuple[int, int]] = []
    for s, e in found:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


@functools.cache
def evidence_terms(theme: Theme) -> tuple[str, ...]:
    """What shows a text addresses the theme: its name, aliases and narrower terms (everyday phrasings are how
    people ask)."""
    out: dict[str, None] = {}
    for t in (theme.name, *theme.aliases, *theme.narrower):
        out.setdefault(_key(t), None)
    return tuple(out)


@functools.cache
def narrower_terms(theme: Theme) -> tuple[str, ...]:
    """The theme's narrower terms, lower-cased with spaces collapsed."""
    return tuple(dict.fromkeys(_key(t) for t in theme.narrower))


def question_themes(question: str, path: Path | None = None) -> tuple[Theme, ...]:
    """The themes a question names, by any of their terms (name, aliases, everyday phrasings) as a phrase."""
    stems, spans = tokens(question)
    return tuple(t for t in load_themes(path) if any(find_term(question, stems, spans, term) for term in terms(t)))
