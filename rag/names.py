"""Which records a question names: by their area ("the Durham review") or their child ("Child M", "Baby Bailey")."""

from __future__ import annotations

import re
from collections.abc import Iterable

from rag.models import Review

# A child's pseudonym as titles print it: "Child M", "Baby ON16", "Young person Rachel", "Family S".
_PSEUDONYM = re.compile(r"\b(?:Child|Baby|Infant|Young [Pp]erson|Family|Siblings?)\s+[A-Z0-9][\w-]*")
# A listing entry's title that is a name alone ("George", "Nolan"); one letter ("'A'") names nothing.
_NAME_ONLY = re.compile(r"[A-Z][a-z]+(?:-[A-Z][a-z]+)?")
# Areas that are not places a question would name.
_NO_PLACE = {"", "anonymous", "national", "unknown"}


def record_names(review: Review) -> set[str]:
    """What a question may call a record by: its area and its child's pseudonym, as printed."""
    names = {review.area} if review.area.strip().lower() not in _NO_PLACE else set()
    if review.child:
        names.add(review.child)
    names.update(m.group(0) for m in _PSEUDONYM.finditer(review.title))
    if _NAME_ONLY.fullmatch(review.title.strip()):
        names.add(review.title.strip())
    return {n.strip() for n in names if len(n.strip()) > 1}


class NamedRecords:
    """Names → record ids over one index, matched in a question as whole words in the case printed ("Kent" is a
    place, "hull" is not); a name of several words may start in lower case ("child M", "baby Bailey")."""

    def __init__(self, reviews: Iterable[Review]) -> None:
        self._ids: dict[str, set[str]] = {}
        for r in reviews:
            for name in record_names(r):
                self._ids.setdefault(name, set()).add(r.id)
        names = sorted(self._ids, key=len, reverse=True)
        alternatives = "|".join(
            f"[{re.escape(n[0])}{re.escape(n[0].lower())}]{re.escape(n[1:])}" if " " in n else re.escape(n)
            for n in names
        )
        self._pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)") if names else None
        self._by_first_lower = {n[0].lower() + n[1:]: n for n in names if " " in n}

    def named(self, question: str) -> frozenset[str]:
        """Ids of the records the question names (none for most questions)."""
        if self._pattern is None:
            return frozenset()
        found: set[str] = set()
        for m in self._pattern.finditer(question):
            text = m.group(0)
            name = text if text in self._ids else self._by_first_lower.get(text[0].lower() + text[1:])
            found |= self._ids.get(name or "", set())
        return frozenset(found)
