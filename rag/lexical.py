"""BM25 over chunks (bm25s, stored as NumPy arrays and JSON) and the safeguarding synonym map."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from rag.models import Chunk, Review

# Terms that vary between agencies or changed over time. Each group is expanded as a whole:
# a query that says one of them also searches for the others.
SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("serious case review", "scr", "child safeguarding practice review", "cspr", "case review"),
    ("lscb", "local safeguarding children board", "safeguarding partnership", "safeguarding children partnership"),
    ("did not attend", "dna", "was not brought", "wnb", "non-attendance", "missed appointments", "not brought"),
    ("disguised compliance", "false compliance", "superficial cooperation", "superficial co-operation"),
    ("nai", "non-accidental injury", "non-accidental injuries"),
    ("nahi", "non-accidental head injury", "abusive head trauma", "shaken baby", "shaking"),
    ("cse", "child sexual exploitation", "sexual exploitation"),
    ("sudi", "sudden unexpected death in infancy", "sudden infant death", "cot death"),
    ("co-sleeping", "safe sleeping", "unsafe sleeping", "sleeping behaviour"),
    ("fii", "fabricated or induced illness", "perplexing presentations"),
    ("camhs", "child and adolescent mental health services"),
    ("sgo", "special guardianship order"),
    ("cin", "child in need"),
    ("cp plan", "child protection plan"),
    ("lac", "cla", "looked after child", "child in care", "children in care"),
    ("marac", "multi-agency risk assessment conference"),
    ("mash", "multi-agency safeguarding hub", "safeguarding hub"),
    ("dv", "domestic violence", "domestic abuse"),
    ("hsb", "harmful sexual behaviour"),
    ("unknown men", "invisible men", "hidden men", "fathers", "male partners"),
    ("think family", "whole family approach"),
    ("voice of the child", "child's voice", "views of the child", "lived experience"),
    ("professional curiosity", "respectful uncertainty", "healthy scepticism"),
)

# Everyday words practitioners and parents use → the reviews' professional vocabulary. One-way:
# a query saying "dad" also searches for "father"; the reviews rarely say "dad".
LAY_TERMS: dict[str, str] = {
    "dad": "father",
    "dads": "fathers",
    "stepdad": "stepfather mother's partner",
    "mum": "mother",
    "mums": "mothers",
    "boyfriend": "mother's partner",
    "kid": "child",
    "kids": "children",
    "teen": "adolescent young person",
    "teens": "adolescents young people",
    "teenager": "adolescent young person",
    "teenagers": "adolescents young people",
    "toddler": "young child",
    "newborn": "infant baby",
    "grandparents": "kinship carers family members",
    "relatives": "kinship carers family members",
    "took their own life": "suicide",
    "take their own life": "suicide",
    "killed himself": "suicide",
    "killed herself": "suicide",
    "hurting themselves": "self-harm",
    "cutting": "self-harm",
    "drugs": "substance misuse drug use",
    "drinking": "alcohol misuse",
    "drunk": "alcohol",
    "bruises": "bruising injuries",
    "marks": "bruising injuries",
    "broken bones": "fractures",
    "shaken": "non-accidental head injury shaking",
    "hit": "physical abuse",
    "beaten": "physical abuse",
    "missed appointments": "was not brought non-attendance",
    "missing appointments": "was not brought non-attendance",
    "missing their appointments": "was not brought non-attendance",
    "check-ups": "health appointments",
    "didn't turn up": "did not attend non-attendance",
    "cooperate": "compliance engagement",
    "too optimistic": "over-optimism",
    "nosy": "professional curiosity",
    "ask questions": "professional curiosity",
    "escalate": "escalation",
    "talk to each other": "information sharing communication",
    "pass on": "information sharing",
    "passing on": "information sharing",
    "moved house": "transfer move local authority",
    "moving area": "transfer between local authorities",
    "foster parents": "foster carers",
    "in care": "looked after child",
    "care leaver": "care leavers",
    "groomed": "grooming exploitation",
    "online": "technology-assisted online",
    "gangs": "criminal exploitation",
    "asylum": "unaccompanied asylum seeking",
    "refugee": "migrant immigrant",
    "interpreter": "interpreters language",
    "english isn't their first language": "interpreters language",
    "religion": "faith culture",
    "learning disability": "learning disabilities",
    "disabled": "disability",
    "fits": "epilepsy seizures",
    "locked up": "custody secure young offender institution",
    "prison": "custody prison",
    "sleeping in the parents' bed": "co-sleeping",
    "sharing a bed": "co-sleeping",
    "on the sofa": "co-sleeping sofa",
    "cot death": "sudden infant death",
    "hiding the pregnancy": "concealed pregnancy",
    "looking after a parent": "young carers",
    "caring for a parent": "young carers",
    "not crawling": "non-mobile",
    "immobile": "non-mobile",
    "depressed": "depression mental health",
    "postnatal": "post-natal depression",
    "isolated": "isolation",
    "no support": "isolation support",
    "overweight": "obesity",
    "made up illness": "fabricated or induced illness",
    "making the child ill": "fabricated or induced illness",
    "sexting": "online sexual abuse",
    "domestic": "domestic abuse",
    "violent partner": "domestic abuse",
    "controlling": "coercive control",
    "workload": "caseloads",
}

_TOKEN = r"(?u)\b\w\w+\b"


@lru_cache(maxsize=1)
def _stemmer():  # type: ignore[no-untyped-def]
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=4096)
def expand_query(query: str) -> str:
    """The query plus the other names of any synonym group it mentions (whole-word, case-insensitive)."""
    low = query.lower().replace("’", "'")
    extra: list[str] = []
    for lay, professional in LAY_TERMS.items():
        if re.search(rf"(?<!\w){re.escape(lay)}(?!\w)", low) and professional not in low:
            extra.append(professional)
    for group in SYNONYMS:
        if any(re.search(rf"(?<!\w){re.escape(term)}(?!\w)", low + " " + " ".join(extra)) for term in group):
            extra.extend(t for t in group if t not in low and t not in extra)
    return query if not extra else f"{query} ({'; '.join(extra)})"


def bm25_document(chunk: Chunk, review: Review | None) -> str:
    """What BM25 indexes for a chunk: the verbatim text plus its review's title and keywords."""
    parts = [chunk.title, " ".join(chunk.keywords), chunk.text]
    if review is not None and review.methodology:
        parts.append(review.methodology)
    return "\n".join(parts)


def tokenize(texts: list[str]) -> Any:
    import bm25s

    return bm25s.tokenize(texts, stopwords="en", stemmer=_stemmer(), token_pattern=_TOKEN, show_progress=False)


def save_bm25(chunks: list[Chunk], reviews: list[Review], folder: Path) -> None:
    import bm25s

    by_id = {r.id: r for r in reviews}
    retriever = bm25s.BM25()
    docs = [bm25_document(c, by_id.get(c.review_id)) for c in chunks] or [""]
    retriever.index(tokenize(docs), show_progress=False)
    retriever.save(str(folder), allow_pickle=False)


def stem_tokens_many(texts: list[str]) -> list[set[str]]:
    """Stemmed content words (stop words dropped) of each text, as BM25 sees them."""
    import bm25s

    if not texts:
        return []
    toks = bm25s.tokenize(
        texts, stopwords="en", stemmer=_stemmer(), token_pattern=_TOKEN, return_ids=False, show_progress=False
    )
    return [set(t) for t in toks]


def stem_tokens(text: str) -> set[str]:
    return stem_tokens_many([text])[0]


def stem_words(words: list[str]) -> list[str]:
    """Each word's stem, with the stemmer BM25 uses (stop words kept, order kept)."""
    return list(_stemmer().stemWords(words))


# Question framing that is not part of the topic ("which reviews mention …").
_FRAMING = re.compile(
    r"^(?:(?:which|what|how many|do|did|does|are there|have)\s+(?:any\s+|the\s+|these\s+)?(?:\w+\s+){0,2}?"
    r"(?:reviews?|cases?)\s+(?:\w+\s+){0,2}?"
    r"(?:mention|mentions|discuss|discusses|raise|raises|address|addresses|cover|covers|look at|looked at|talk about"
    r"|say about|said about|about|on|involve|involving)\s+"
    r"|what (?:did|do|does|have) (?:the )?reviews? (?:say|said|find|found|learn|learned|recommend|recommended) (?:about|on)\s+"
    r"|(?:any )?learning (?:on|about)\s+)",
    re.IGNORECASE,
)


def topic_core(text: str) -> str:
    """The topic of a question: "which reviews mention disguised compliance?" → "disguised compliance"."""
    return _FRAMING.sub("", text).rstrip(" ?.") or text


def topic_variants(topic: str) -> list[str]:
    """The topic and every name of each synonym group it mentions."""
    low = topic.lower()
    out = [topic]
    for group in SYNONYMS:
        if any(re.search(rf"(?<!\w){re.escape(term)}(?!\w)", low) for term in group):
            out.extend(group)
    return out


class Bm25:
    """Loaded BM25 index; `scores` gives a dense score vector over all chunks."""

    def __init__(self, folder: Path, n_chunks: int) -> None:
        import bm25s

        self._r = bm25s.BM25.load(str(folder), allow_pickle=False, load_corpus=False)
        self.n = n_chunks

    def scores(self, query: str) -> np.ndarray:
        import bm25s

        toks = bm25s.tokenize(
            [query], stopwords="en", stemmer=_stemmer(), token_pattern=_TOKEN, return_ids=False, show_progress=False
        )[0]
        if not toks or self.n == 0:
            return np.zeros(self.n, dtype=np.float32)
        return np.asarray(self._r.get_scores(toks), dtype=np.float32)[: self.n]
