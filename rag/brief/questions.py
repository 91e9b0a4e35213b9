"""Discussion question templates (prompts/brief_questions.txt), checked when loaded, filled from the vocabulary."""

from __future__ import annotations

import functools
import string
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.resources.abc import Traversable

from rag.brief.model import BriefError
from rag.llm import shipped_prompts
from rag.themes import Theme as VocabularyTheme

QUESTIONS_FILE = "brief_questions.txt"
# Section → the variables its lines may use, and the one each line must use.
_SECTIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "theme": (frozenset({"theme", "definition"}), "theme"),
    "vignettes": (frozenset(), None),
    "recommendations": (frozenset(), None),
    "fallback": (frozenset(), None),
}


@dataclass(frozen=True)
class QuestionTemplates:
    """The checked templates: questions asked about each theme in turn, and the pack-level questions."""

    theme: tuple[str, ...]
    vignettes: tuple[str, ...]
    recommendations: tuple[str, ...]
    fallback: tuple[str, ...]

    def about(self, theme: VocabularyTheme, n: int) -> str:
        """The n-th theme question, about this theme, in the vocabulary's words."""
        return self.theme[n % len(self.theme)].format(theme=theme.name, definition=theme.definition)


@functools.cache
def load_questions(folder: Traversable | None = None) -> QuestionTemplates:
    """Read the templates from `folder` (default: the installed prompts, rag.prompts) and check each line:
    a known section, only that section's variables, {theme} in every theme question, a question mark at the end."""
    path = (shipped_prompts() if folder is None else folder).joinpath(QUESTIONS_FILE)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise BriefError(f"cannot read the discussion questions {path}: {getattr(e, 'strerror', None) or e}") from e
    found: dict[str, list[str]] = {}
    section: str | None = None
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path}, line {n}"
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            if section not in _SECTIONS:
                raise BriefError(f"{where}: unknown section [{section}]; use {_names(_SECTIONS)}")
            found.setdefault(section, [])
            continue
        if section is None:
            raise BriefError(f"{where}: a question before any section; start with one of {_names(_SECTIONS)}")
        _check(line, section, where)
        found[section].append(line)
    missing = [s for s in _SECTIONS if not found.get(s)]
    if missing:
        raise BriefError(f"{path}: no questions under [{missing[0]}]; add at least one line there")
    return QuestionTemplates(**{s: tuple(found[s]) for s in _SECTIONS})


def _check(line: str, section: str, where: str) -> None:
    allowed, required = _SECTIONS[section]
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(line) if f is not None}
    except ValueError as e:
        raise BriefError(f"{where}: {e}; write a literal brace as {{{{ or }}}}") from None
    takes = ", ".join(f"{{{v}}}" for v in sorted(allowed)) or "no variables"
    for f in sorted(fields):
        if f not in allowed:
            raise BriefError(f"{where}: unknown variable {{{f}}}; [{section}] questions take {takes}")
    if required and required not in fields:
        raise BriefError(f"{where}: a [{section}] question must name {{{required}}}")
    if not line.endswith("?"):
        raise BriefError(f"{where}: not a question; end it with a question mark")


def _names(sections: Iterable[str]) -> str:
    return ", ".join(f"[{s}]" for s in sections)
