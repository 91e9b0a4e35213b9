"""Optional generative answers: a language model writes from numbered excerpts, and every sentence is checked."""

from __future__ import annotations

import os
import re
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any, Protocol

from rag.answer import (
    answer_coverage,
    answer_from,
    answer_passages,
    cached_coverage,
    coverage_line,
    notices,
    retrieve_for_answer,
    with_notices,
)
from rag.chunk import count_tokens, sentence_spans
from rag.errors import RlaError
from rag.ledger import detect_themes
from rag.models import Answer, Citation
from rag.retrieve import Filters, Retriever

# At most this many cl100k tokens of excerpts go to the model (the delimiters and labels count too).
# Six 120-token chunks take about 1,000; the budget leaves room for longer chunks and the brief's points.
CONTEXT_TOKENS = 3000
# A generated answer is kept only if at least this share of its sentences carry a valid citation.
MIN_CITED_SHARE = 0.5
# Each prompt file and the variables it must use, exactly. The files are the repository's prompts/ folder,
# installed as the package rag.prompts (pyproject.toml maps one to the other), so a wheel carries them.
PROMPT_VARIABLES: dict[str, frozenset[str]] = {
    "answer_system": frozenset(),
    "answer_user": frozenset({"question", "excerpts"}),
    "brief_system": frozenset(),
    "brief_user": frozenset({"topic", "excerpts"}),
}


class LLMError(RlaError):
    """The language model is not configured, not installed, or a prompt file is invalid."""


class LLM(Protocol):
    """What rla needs from a language model: one system + user turn in, plain text out."""

    name: str

    def complete(self, system: str, user: str) -> str: ...


# --- configuration and backends ------------------------------------------------------------


@dataclass(frozen=True)
class LLMConfig:
    provider: str = "openai"
    model: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    timeout_s: float = 120.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LLMConfig:
        env = os.environ if env is None else env
        return cls(
            provider=(env.get("RLA_LLM_PROVIDER") or "openai").strip().lower(),
            model=env.get("RLA_LLM_MODEL") or None,
            base_url=env.get("RLA_LLM_BASE_URL") or None,
            api_key=env.get("RLA_LLM_API_KEY") or None,
        )


class ChatModelLLM:
    """Any LangChain chat model (ChatOpenAI, ChatOllama, or one of your own)."""

    def __init__(self, chat_model: Any, name: str) -> None:
        self.chat_model = chat_model
        self.name = name

    def complete(self, system: str, user: str) -> str:
        from langchain_core.messages import HumanMessage, SystemMessage

        reply = self.chat_model.invoke([SystemMessage(system), HumanMessage(user)])
        return str(reply.text)


def _openai(cfg: LLMConfig, model: str) -> Any:
    try:
        from langchain_openai import ChatOpenAI
    except ImportError:
        raise LLMError(
            "RLA_LLM_PROVIDER=openai needs the langchain-openai package: pip install 'rla[openai]'"
        ) from None
    from pydantic import SecretStr

    if cfg.base_url is None and cfg.api_key is None and not os.environ.get("OPENAI_API_KEY"):
        raise LLMError("set RLA_LLM_API_KEY, or RLA_LLM_BASE_URL for a local OpenAI-compatible server")
    key = cfg.api_key or ("unused" if cfg.base_url else None)
    # Chat Completions, not the Responses API: it is what OpenAI-compatible servers implement.
    return ChatOpenAI(
        model=model,
        base_url=cfg.base_url,
        api_key=SecretStr(key) if key is not None else None,
        temperature=0,
        max_retries=1,
        timeout=cfg.timeout_s,
        use_responses_api=False,
    )


def _ollama(cfg: LLMConfig, model: str) -> Any:
    try:
        from langchain_ollama import ChatOllama
    except ImportError:
        raise LLMError(
            "RLA_LLM_PROVIDER=ollama needs the langchain-ollama package: pip install 'rla[ollama]'"
        ) from None
    return ChatOllama(model=model, base_url=cfg.base_url, temperature=0)


PROVIDERS: dict[str, Callable[[LLMConfig, str], Any]] = {"openai": _openai, "ollama": _ollama}


def load_llm(cfg: LLMConfig | None = None) -> LLM:
    """The configured model (env RLA_LLM_PROVIDER, RLA_LLM_MODEL, RLA_LLM_BASE_URL, RLA_LLM_API_KEY)."""
    cfg = cfg or LLMConfig.from_env()
    if cfg.provider not in PROVIDERS:
        raise LLMError(f"RLA_LLM_PROVIDER={cfg.provider!r} is not supported; choose one of: {', '.join(PROVIDERS)}")
    if not cfg.model:
        raise LLMError("--llm needs a model name: set RLA_LLM_MODEL (e.g. gpt-4o-mini, or llama3.1 for Ollama)")
    try:
        chat_model = PROVIDERS[cfg.provider](cfg, cfg.model)
    except LLMError:
        raise
    except Exception as e:  # the provider's own validation (pydantic, missing key): one clear line
        raise LLMError(f"cannot set up the {cfg.provider} model {cfg.model!r}: {e}") from e
    return ChatModelLLM(chat_model, f"{cfg.provider}:{cfg.model}")


# --- prompts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prompt:
    name: str
    template: str
    variables: frozenset[str]

    def render(self, **values: str) -> str:
        if set(values) != self.variables:
            raise LLMError(f"prompt {self.name} takes {sorted(self.variables)}, was given {sorted(values)}")
        return self.template.format(**values)


def load_prompt(name: str, folder: Traversable | None = None) -> Prompt:
    """Read <name>.txt from `folder` (default: the installed package rag.prompts) and check it uses exactly the
    variables rla fills in."""
    if name not in PROMPT_VARIABLES:
        raise LLMError(f"unknown prompt {name!r}; rla has: {', '.join(PROMPT_VARIABLES)}")
    path = (shipped_prompts() if folder is None else folder).joinpath(f"{name}.txt")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise LLMError(f"cannot read prompt file {path}: {e.strerror or e}") from e
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
    except ValueError as e:
        raise LLMError(f"{path}: {e}; write a literal brace as {{{{ or }}}}") from e
    for f in fields:
        if not f.isidentifier():  # "{}", "{0}", "{x.attr}", "{x[0]}": not plain names
            raise LLMError(f"{path}: {{{f}}} is not a variable name; use one of {_names(PROMPT_VARIABLES[name])}")
    used, wanted = set(fields), PROMPT_VARIABLES[name]
    if used - wanted:
        raise LLMError(f"{path}: unknown variable {{{min(used - wanted)}}}; this prompt takes {_names(wanted)}")
    if wanted - used:
        raise LLMError(f"{path}: missing variable {{{min(wanted - used)}}}; this prompt takes {_names(wanted)}")
    return Prompt(name, text, wanted)


def shipped_prompts() -> Traversable:
    """The prompt files installed with rla (the package rag.prompts, i.e. the repository's prompts/ folder)."""
    try:
        return files("rag.prompts")
    except ModuleNotFoundError:
        raise LLMError(
            "the prompt templates (package rag.prompts, the repository's prompts/ folder) are not installed: "
            "install rla with pip install -e . (or from its wheel)"
        ) from None


def _names(variables: frozenset[str]) -> str:
    return ", ".join(f"{{{v}}}" for v in sorted(variables)) or "no variables"


# --- excerpts in, checked sentences out ----------------------------------------------------


@dataclass(frozen=True)
class Excerpt:
    n: int
    label: str  # which review, e.g. "Child BW, 2017, Blackpool"
    section: str
    text: str  # verbatim source text (possibly a leading part of a longer span, to fit the budget)


_CITE_LIKE = re.compile(r"\[\s*(\d{1,3}(?:\s*[,;–-]\s*\d{1,3})*)\s*\]")


def _neutralise(text: str) -> str:
    """Source text as inert data: no tags or citation markers of its own, no control characters."""
    text = "".join(ch if ch in "\n\t" or ch.isprintable() else " " for ch in text)
    text = text.replace("<", "‹").replace(">", "›")
    return _CITE_LIKE.sub(lambda m: f"({m.group(1)})", text)


def _attr(text: str) -> str:
    return " ".join(_neutralise(text).replace('"', "'").split())


def render_excerpt(e: Excerpt) -> str:
    return (
        f'<excerpt n="{e.n}" review="{_attr(e.label)}" section="{_attr(e.section)}">\n{_neutralise(e.text)}\n</excerpt>'
    )


def render_excerpts(excerpts: Sequence[Excerpt]) -> str:
    return "<excerpts>\n" + "\n".join(render_excerpt(e) for e in excerpts) + "\n</excerpts>"


def fit_excerpts(excerpts: Sequence[Excerpt], budget: int = CONTEXT_TOKENS) -> list[Excerpt]:
    """The leading excerpts whose rendered form fits the token budget, in rank order.

    The first excerpt is always sent: if it alone is over budget, its leading sentences that fit.
    """
    out: list[Excerpt] = []
    used = count_tokens("<excerpts>\n\n</excerpts>")
    for e in excerpts:
        cost = count_tokens(render_excerpt(e)) + 1
        if used + cost > budget:
            if not out:
                out.append(_leading_part(e, budget - used))
            break
        out.append(e)
        used += cost
    return out


def _leading_part(e: Excerpt, budget: int) -> Excerpt:
    spans = sentence_spans(e.text, 0, len(e.text))
    best = spans[0][1] if spans else len(e.text)
    for _, end in spans:
        if count_tokens(render_excerpt(replace(e, text=e.text[:end]))) > budget:
            break
        best = end
    return replace(e, text=e.text[:best])


@dataclass(frozen=True)
class Checked:
    """A generated text after the check: the sentences kept, each with the excerpts it cites."""

    sentences: tuple[tuple[str, tuple[int, ...]], ...]  # (text without markers, excerpt numbers)
    paragraph_ends: tuple[int, ...]  # indexes of kept sentences that end a paragraph
    total: int  # sentences before the check
    removed: tuple[str, ...]  # what was removed, one phrase each

    @property
    def ok(self) -> bool:
        return len(self.sentences) >= 1 and len(self.sentences) >= MIN_CITED_SHARE * self.total

    def cited(self) -> list[int]:
        """Excerpt numbers in order of first citation."""
        seen: list[int] = []
        for _, ns in self.sentences:
            seen.extend(n for n in ns if n not in seen)
        return seen

    def text(self, renumber: Mapping[int, int]) -> str:
        paras: list[list[str]] = [[]]
        for i, (s, ns) in enumerate(self.sentences):
            marks = "".join(f"[{n}]" for n in sorted({renumber[n] for n in ns}))
            s = s.rstrip()
            m = re.search(r"[.!?]+[\"'”’)]*$", s)
            paras[-1].append(f"{s[: m.start()]} {marks}{m.group(0)}" if m else f"{s} {marks}")
            if i in self.paragraph_ends:
                paras.append([])
        return "\n\n".join(" ".join(p) for p in paras if p)

    def summary(self) -> str:
        return "; ".join(self.removed)


_SCRIPTS = re.compile(r"<(script|style)\b.*?</\1\s*>|<!--.*?-->", re.IGNORECASE | re.DOTALL)
_MD_IMAGE = re.compile(r"!\[[^\]\n]*\]\s*(?:\([^)\n]*\)|\[[^\]\n]*\])")
_HTML_IMAGE = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_MD_LINK = re.compile(r"(?<!!)\[([^\]\n]*)\]\s?\(([^)\n]*)\)")
_MD_REF_DEF = re.compile(r"^[ \t]*\[[^\]\n]+\]:[ \t]*\S+.*$", re.MULTILINE)
_HTML_LINK = re.compile(r"<a\b[^>]*>(.*?)</a\s*>", re.IGNORECASE | re.DOTALL)
_HTML_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_URL = re.compile(r"\b(?:https?|ftp|file|data|javascript|mailto):[^\s<>\"'\])]*|\bwww\.[^\s<>\"'\])]+", re.IGNORECASE)
_MD_MARKUP = re.compile(r"^[ \t]*(?:#{1,6}[ \t]+|>[ \t]*|[-*+•][ \t]+|\d{1,2}[.)][ \t]+)|\*\*|__|`+", re.MULTILINE)
_EMPHASIS = re.compile(r"(?<![\w*])\*(?=\S)|(?<=\S)\*(?![\w*])|(?<!\w)_(?=\S)|(?<=\S)_(?!\w)")
_SENTENCE = re.compile(r"\S.*?(?:[.!?]+[\"'”’)]*(?:[ \t]*\[[^\]\n]*\])*(?=\s|$)|$)")


def _strip_markup(raw: str) -> tuple[str, list[str]]:
    counts: dict[str, int] = {}

    def sub(pattern: re.Pattern[str], what: str, text: str, repl: Any = "") -> str:
        text, n = pattern.subn(repl, text)
        if n:
            counts[what] = counts.get(what, 0) + n
        return text

    text = sub(_SCRIPTS, "script or comment", raw)
    text = sub(_MD_IMAGE, "image", text)
    text = sub(_HTML_IMAGE, "image", text)
    # A link keeps its words (or its citation, if that is what it wrapped) and loses its address.
    text = sub(_MD_LINK, "link", text, lambda m: f"[{m.group(1)}]" if m.group(1).strip().isdigit() else m.group(1))
    text = sub(_MD_REF_DEF, "link", text)
    text = sub(_HTML_LINK, "link", text, r"\1")
    text = sub(_HTML_TAG, "HTML tag", text)
    text = sub(_URL, "web address", text)
    text = _EMPHASIS.sub("", _MD_MARKUP.sub("", text))
    return text, [f"{n} {what}{'s' if n > 1 else ''}" for what, n in counts.items()]


def _numbers(inside: str) -> list[int]:
    out: list[int] = []
    for part in re.split(r"\s*[,;]\s*", inside.strip()):
        m = re.fullmatch(r"(\d{1,3})\s*[–-]\s*(\d{1,3})", part)
        if m and 0 <= int(m.group(2)) - int(m.group(1)) < 10:
            out.extend(range(int(m.group(1)), int(m.group(2)) + 1))
        elif part.isdigit():
            out.append(int(part))
    return out


def check_generated(raw: str, n_excerpts: int) -> Checked:
    """Plain text only; every sentence must cite one of excerpts 1..n_excerpts, or it is removed."""
    text, removed = _strip_markup(raw)
    kept: list[tuple[str, tuple[int, ...]]] = []
    ends: list[int] = []
    total = bad_refs = uncited = 0
    invalid: set[int] = set()
    for para in re.split(r"\n", text):
        before = len(kept)
        for m in _SENTENCE.finditer(para):
            sentence = m.group(0).strip()
            cites = [n for c in _CITE_LIKE.finditer(sentence) for n in _numbers(c.group(1))]
            wrong = [n for n in cites if not 1 <= n <= n_excerpts]
            bad_refs += len(wrong)
            invalid.update(wrong)
            words = _CITE_LIKE.sub(" ", sentence)
            if len(re.findall(r"\w+", words)) < 3:  # "Answer:", a stray "[2]": not a sentence
                continue
            total += 1
            valid = tuple(dict.fromkeys(n for n in cites if 1 <= n <= n_excerpts))
            if not valid:
                uncited += 1
                continue
            kept.append((" ".join(words.split()).replace(" .", ".").replace(" ,", ","), valid))
        if len(kept) > before:
            ends.append(len(kept) - 1)
    if bad_refs:
        shown = ", ".join(f"[{n}]" for n in sorted(invalid))
        removed.insert(
            0,
            f"{bad_refs} citation{'s' if bad_refs > 1 else ''} to excerpts that were not given ({shown}; "
            f"only {n_excerpts} were)",
        )
    if uncited:
        removed.insert(1 if bad_refs else 0, f"{uncited} sentence{'s' if uncited > 1 else ''} without a valid citation")
    return Checked(tuple(kept), tuple(ends), total, tuple(removed))


def ask_model(llm: LLM, system: str, user: str) -> tuple[str | None, str | None]:
    """(reply, None), or (None, why) when the call failed: a model that is down is not a crash."""
    try:
        return llm.complete(system, user), None
    except Exception as e:
        return None, f"the language model ({llm.name}) could not be used: {type(e).__name__}: {str(e)[:200]}"


# --- generative ask ------------------------------------------------------------------------


def generate_answer(
    retriever: Retriever,
    question: str,
    llm: LLM,
    k: int = 6,
    filters: Filters | None = None,
    mode: str | None = None,
    budget: int = CONTEXT_TOKENS,
    prompts: Traversable | None = None,
) -> Answer:
    """A model-written answer from the top k excerpts, kept only if it cites them; else the extractive one."""
    system, user_prompt = load_prompt("answer_system", prompts), load_prompt("answer_user", prompts)
    scored = retrieve_for_answer(retriever, question, k, mode, filters)
    extractive = answer_from(retriever, question, scored, k, filters=filters)
    if extractive.abstained:
        return extractive  # the honest "not covered": the model is not asked
    hits = answer_passages(retriever, scored, filters, k)
    excerpts = fit_excerpts(
        [Excerpt(i, h.chunk.review_label, h.chunk.section, h.chunk.text) for i, h in enumerate(hits, 1)], budget
    )
    user = user_prompt.render(question=question, excerpts=render_excerpts(excerpts))
    raw, failure = ask_model(llm, system.render(), user)

    def fallback(why: str) -> Answer:
        return replace(
            extractive,
            notice=f"The language model's answer was not used: {why}. "
            "This answer is made only of sentences quoted from the reviews.",
        )

    if raw is None:
        return fallback(failure or "no reply")
    checked = check_generated(raw, len(excerpts))
    if not checked.ok:
        kept = len(checked.sentences)
        return fallback(
            f"only {kept} of {checked.total} sentences cited the excerpts it was given"
            + (f" (removed: {checked.summary()})" if checked.removed else "")
        )
    order = checked.cited()
    renumber = {old: new for new, old in enumerate(order, 1)}
    citations = []
    for old in order:
        e, hit = excerpts[old - 1], hits[old - 1]
        start = hit.chunk.start
        citations.append(Citation(renumber[old], e.text, hit, start, start + len(e.text)))
    notice = (
        f"Written by a language model ({llm.name}) from {len(excerpts)} retrieved excerpts; "
        "every sentence cites them, but check each against its quoted source."
    )
    if checked.removed:
        notice += f" Removed by the citation check: {checked.summary()}."
    # As the extractive answer: its notices first, then how much of the collection the cited records are.
    cov = cached_coverage(retriever, question, filters)
    answer_cov = answer_coverage(cov, (c.hit for c in citations))
    text = f"{coverage_line(answer_cov)}\n\n{checked.text(renumber)}"
    text = with_notices(notices(retriever, scored, cov, detect_themes(retriever, question)), text)
    return Answer(question, text, tuple(citations), False, notice, coverage=answer_cov)
