"""What tells a case's story rather than what was learned from it, shared by answers (`rag.quotes`) and briefing
packs (`rag.brief.select`): a sentence naming the child or a person without saying what practice should be, a
dated one, and a sentence that goes on from the one before it."""

from __future__ import annotations

import re

from rag.models import Review
from rag.themes import PSEUDONYM

# A narrative of a case names a child, a family member or a person; "Learning is embedded within the
# recommendations." names nobody. The child words also find the sentence that opens the case.
_CHILD = (
    r"child(?:ren)?|bab(?:y|ies)|infants?|boys?|girls?|sons?|daughters?|siblings?|brothers?|sisters?|toddlers?"
    r"|young (?:person|people|man|woman)|teenagers?|\d+[- ]?(?:years?|months?|weeks?|days?)[- ]old|aged \d+"
)
_PERSON = (
    _CHILD + r"|mother|father|parents?|partner|carers?|grand(?:mother|father|parents?)|mum|dad|step\w+|uncle|aunt"
    r"|man|woman|men|women|he|she|his|her|him|they|their|them"
)
_CHILD_WORD = re.compile(rf"\b(?:{_CHILD})\b", re.IGNORECASE)
_PERSON_WORD = re.compile(rf"\b(?:{_PERSON})\b", re.IGNORECASE)
# What practice should be, or could be, is learning, not the story of a case ("the need for robust assessment …",
# "… could be improved by addressing cultural competence").
_PRESCRIPTIVE = re.compile(
    r"\b(?:should|must|ought|needs? (?:to|for)|importance|ensure|ensuring|could (?:be|have been) improved)\b",
    re.IGNORECASE,
)
# A case is told in the past ("Parents had a history of …", "Mother became involved …"); "young teenagers are
# often unclear about consent" says what is so of many cases.
_PAST = re.compile(r"\b(?:was|were|had|did|died|became|began|left|took|went|told|\w{3,}ed)\b", re.IGNORECASE)
# A review weighing what may have been so ("mother's disguised compliance may have added to the optimistic view
# of her intentions") is its analysis, a finding, though it speaks of a person in the past.
_WEIGHS = re.compile(r"\b(?:may|might|could|would) (?:well )?have\b", re.IGNORECASE)
# A date as a case's story gives it: "in November 2012", "in Spring 2015", "in 2014".
_DATED = re.compile(
    r"\b(?:January|February|March|April|May|June|July|August|September|October|November|December|spring|summer"
    r"|autumn|winter)\s+(?:19|20)\d{2}\b|\bin (?:19|20)\d{2}\b",
    re.IGNORECASE,
)
# A sentence that leans on the one before: a list's next clause (lower case), or a pronoun or demonstrative for
# what was named there ("This curiosity should be supplemented …", "He was visiting adult chat rooms …", "In some
# cases this may be compounded …").
# ("It is important that …" points at nothing: only "It is this …" goes on.)
_GOES_ON = re.compile(
    r"[a-z]|(?:He|She|They|His|Her|Their|Him|Them|It (?:is|was) this|This|These|Those|Such"
    r"|In (?:these|such|both) cases|In \w+ cases,? (?:this|these|it|they))\b"
)
# One whose subject is only a word pointing back ("This should be communicated …", "She was placed …"), not a
# word with its noun ("Such presentations provide midwives … with opportunities …"): alone it says nothing.
_POINTS_BACK = re.compile(
    r"(?:He|She|They|It (?:is|was) this|In \w+ cases,? (?:this|these|it|they)"
    r"|(?:This|These|Those) (?:is|was|are|were|should|must|may|might|can|could|will|would|has|have|had|also|means"
    r"|meant|led|leads|represents|suggests|shows|requires|required|appears|appeared|seems|seemed|indicates"
    r"|highlights))\b"
)
# Between two sentences of one paragraph: spacing and punctuation, and no blank line or new list item.
_NEW_PARAGRAPH = re.compile(r"\n\s*\n|\n\s*(?:\d{1,2}[.)]|[•▪◦*>-])\s")


def case_names(review: Review) -> tuple[str, ...]:
    """How the review names its child: its pseudonym, and its title when the title is just a name ("Nolan")."""
    out = [review.child] if review.child else []
    if len(review.title.split()) <= 3:
        out.append(review.title)
    return tuple(n for n in out if n)


def names_own_child(sentence: str, names: tuple[str, ...]) -> bool:
    """The sentence names the review's child by pseudonym ("Child J", "Young Person", "Nolan")."""
    return bool(PSEUDONYM.search(sentence)) or any(n in sentence for n in names)


def names_child(sentence: str, names: tuple[str, ...]) -> bool:
    return bool(_CHILD_WORD.search(sentence)) or names_own_child(sentence, names)


def tells_case(sentence: str, names: tuple[str, ...]) -> bool:
    """A sentence of a case's story: it names a person and does not say what practice should be."""
    return (bool(_PERSON_WORD.search(sentence)) or names_child(sentence, names)) and not prescribes(sentence)


def tells_case_fact(sentence: str, names: tuple[str, ...]) -> bool:
    """A key issue that is a fact of the case, not learning: it names the child ("Child J died of …"), tells in
    the past of a person ("Mother and her partner were imprisoned …", "Parents had a history of domestic abuse")
    without weighing what may have been so, or is dated ("An initial assessment was carried out in November
    2012")."""
    return (
        names_own_child(sentence, names)
        or (tells_case(sentence, names) and bool(_PAST.search(sentence)) and not _WEIGHS.search(sentence))
        or bool(_DATED.search(sentence))
    )


def prescribes(sentence: str) -> bool:
    """The sentence says what practice should (or could) be."""
    return bool(_PRESCRIPTIVE.search(sentence))


def points_back(text: str, start: int) -> bool:
    """The sentence at `start` has only a word pointing back for its subject: alone, it says nothing."""
    return bool(_POINTS_BACK.match(text, start))


def goes_on(text: str, before: tuple[int, int], after: tuple[int, int]) -> bool:
    """Sentence `after` goes on from sentence `before` of the same paragraph: it opens with a list's next clause
    or a word standing for what `before` named, with nothing but spacing or punctuation between them."""
    gap = text[before[1] : after[0]]
    return bool(_GOES_ON.match(text, after[0])) and not re.search(r"\w", gap) and not _NEW_PARAGRAPH.search(gap)
