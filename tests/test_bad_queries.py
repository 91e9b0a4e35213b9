"""Odd, hostile and empty queries, a missing index, a model mismatch: an answer or one clear line, no traceback."""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path

import pytest
from faults import ROOT, check_one_line_error, rla, rla_command, rla_env

from rag.errors import IndexMismatch, IndexMissing, QueryError
from rag.retrieve import Retriever
from rag.settings import Settings
from rag.store import open_index

EMPTY = {
    "empty": "",
    "spaces": "   ",
    "whitespace": " \t\n\r\f\v ",
    "control only": "\x01\x02\x1b\x7f",
    "nul only": "\x00\x00",
    "zero-width only": "\u200b\u200d\ufeff",
}
ODD = {
    "10,000 characters": ("fathers were not seen by professionals " * 260)[:10_000],
    "10,000 letters, no spaces": "x" * 10_000,
    "arabic": "ما الذي قالته المراجعات عن صوت الطفل؟",
    "chinese": "关于儿童的声音，案例审查说了什么？",
    "emoji": "👶🏽 🏠 😢",
    "mixed scripts": "voice of the child صوت الطفل 儿童 👶",
    "control characters": "disguised\x07compliance\x1b[31m red \x08\x0b",
    "nul inside": "fathers\x00and\x00neglect",
    "lone surrogate": "neglect \ud800 \udfff",
    "combining marks": "ne\u0301glect " + "a\u0300" * 50,
    "right-to-left override": "\u202eneglect\u202c fathers",
    "one letter": "a",
    "stopwords only": "the of and to",
    "punctuation only": "?!.,;:'\"()[]{}",
    "sql and html": "'; DROP TABLE chunks; -- <script>alert(1)</script>",
    "regex metacharacters": r"(a+)+$ .* [^] \d{99999}",
    "format strings": "{0} %s %(x)s {__class__}",
    "path": "../../../../etc/passwd",
}


def assert_normal_answer(hits: list, retriever: Retriever, k: int) -> None:  # type: ignore[type-arg]
    assert len(hits) <= k
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    ids = {c.id for c in retriever.data.chunks}
    for h in hits:
        assert math.isfinite(h.score)
        assert h.chunk.id in ids


# --- the library ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EMPTY))
@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_empty_queries_raise_a_clear_query_error(retriever: Retriever, name: str, mode: str) -> None:
    with pytest.raises(QueryError, match="the query is empty"):
        retriever.search(EMPTY[name], mode=mode)


@pytest.mark.parametrize("name", sorted(ODD))
@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_odd_queries_get_a_normal_answer(retriever: Retriever, name: str, mode: str) -> None:
    hits = retriever.search(ODD[name], k=5, mode=mode)
    assert_normal_answer(hits, retriever, 5)
    if mode != "bm25":
        assert hits  # dense retrieval always ranks something


def test_a_query_of_10000_characters_still_finds_its_topic(retriever: Retriever) -> None:
    hits = retriever.search(ODD["10,000 characters"], k=5)
    assert any("father" in h.chunk.text.lower() or "men" in h.chunk.text.lower() for h in hits)


def test_a_batch_mixing_scripts_answers_each_query(retriever: Retriever) -> None:
    queries = [ODD["arabic"], ODD["chinese"], ODD["emoji"], "fathers"]
    results = retriever.search_many(queries, k=3)
    assert len(results) == 4 and all(len(r) <= 3 for r in results)
    assert results[3] == retriever.search("fathers", k=3)


@pytest.mark.parametrize("query", [None, 5, b"fathers", ["fathers"]])
def test_a_query_that_is_not_text_is_refused(retriever: Retriever, query: object) -> None:
    with pytest.raises(QueryError, match="must be text"):
        retriever.search(query, mode="bm25")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "k",
    [0, -1],
)
def test_k_below_one_is_refused(retriever: Retriever, k: int) -> None:
    with pytest.raises(QueryError, match="k must be at least 1"):
        retriever.search("fathers", k=k)


def test_unknown_mode_is_refused(retriever: Retriever) -> None:
    with pytest.raises(QueryError, match="unknown mode 'fuzzy'"):
        retriever.search("fathers", mode="fuzzy")


# --- the command line ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["empty", "spaces", "whitespace", "control only"])
def test_rla_search_empty_query_is_one_line(built_index: Settings, name: str) -> None:
    proc = rla("search", EMPTY[name], index=built_index.index)
    assert proc.stdout == ""
    check_one_line_error(proc, "the query is empty")


@pytest.mark.parametrize(
    ("command", "said"),
    [("ledger", "type a topic to find every review that addresses it"), ("brief", "type a topic for the briefing")],
)
def test_rla_ledger_and_brief_say_an_empty_topic_in_their_own_words(
    built_index: Settings, command: str, said: str
) -> None:
    proc = rla(command, EMPTY["control only"], index=built_index.index)
    assert proc.stdout == ""
    check_one_line_error(proc, said)


def test_rla_search_one_query_with_everything_odd_in_argv(built_index: Settings) -> None:
    """One process (each search starts the model): a leading dash, bytes that are not UTF-8, several scripts,
    control characters, and 10,000 characters in all, passed the way a shell passes them."""
    odd = " ".join(ODD[n] for n in ("arabic", "chinese", "emoji", "control characters", "right-to-left override"))
    query = os.fsencode("-" + odd) + b" caf\xe9 \xff\xfe fathers " + b"neglect " * 1250
    query = query[:10_000]
    cmd = [os.fsencode(a) for a in rla_command()]
    cmd += [b"--index", os.fsencode(built_index.index), b"search", b"--k", b"3", b"--json", b"--", query]
    proc = subprocess.run(cmd, cwd=ROOT, env=rla_env(), capture_output=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert b"Traceback" not in proc.stderr
    out = json.loads(proc.stdout.decode("utf-8", "surrogateescape"))
    assert 1 <= len(out["hits"]) <= 3


def test_rla_search_queries_file_with_every_odd_query(built_index: Settings, tmp_path: Path) -> None:
    """One process, hybrid with the real model: NUL and other characters argv cannot carry arrive in a file."""
    odd = [q for name, q in sorted(ODD.items()) if name != "lone surrogate"]  # a file cannot hold one in UTF-8
    path = tmp_path / "queries.txt"
    path.write_text("\n".join(q.replace("\n", " ") for q in odd) + "\n", encoding="utf-8")
    proc = rla("search", "--queries", path, "--k", "3", "--json", index=built_index.index, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(lines) == len(odd)
    assert all(1 <= len(line["hits"]) <= 3 for line in lines)  # hybrid always has the dense list


def test_rla_search_queries_file_skips_a_line_of_control_characters(built_index: Settings, tmp_path: Path) -> None:
    path = tmp_path / "queries.txt"
    path.write_bytes(b"fathers\n\x00\x00\nneglect\n")
    proc = rla("search", "--queries", path, "--json", index=built_index.index)
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line)["query"] for line in proc.stdout.splitlines()] == ["fathers", "neglect"]


def test_rla_search_per_review_below_one_is_refused(built_index: Settings) -> None:
    check_one_line_error(rla("search", "fathers", "--per-review", "-1", index=built_index.index), "per-review")


@pytest.mark.parametrize("data", [b"", b"\n \n", "fathers".encode("utf-16")])
def test_rla_search_unusable_queries_file_is_one_line(built_index: Settings, tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "queries.txt"
    path.write_bytes(data)
    check_one_line_error(rla("search", "--queries", path, index=built_index.index), str(path))


@pytest.mark.slow  # starts the model in a second process
def test_rla_search_on_a_non_utf8_terminal(built_index: Settings) -> None:
    env = rla_env(PYTHONIOENCODING="ascii")
    proc = rla("search", ODD["chinese"], "--mode", "bm25", "--k", "1", index=built_index.index, env=env)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr


# --- the index itself: missing, or built with another model -----------------------------------------


@pytest.mark.parametrize("command", [["search", "fathers"], ["reviews"], ["show", "some-review"]])
def test_missing_index_says_how_to_build_one(tmp_path: Path, command: list[str]) -> None:
    missing = tmp_path / "no-index-here"
    proc = rla(*command, index=missing)
    check_one_line_error(proc, f"no index at {missing}", "rla ingest")
    assert not missing.exists()  # reading never creates the folder


def test_missing_index_in_the_library(tmp_path: Path) -> None:
    with pytest.raises(IndexMissing, match=r"no index at .*rla ingest"):
        Retriever(Settings(index=tmp_path / "none"))


OTHER_MODEL = "sentence-transformers/all-mpnet-base-v2"


def test_model_mismatch_via_flag_names_both_models(built_index: Settings) -> None:
    proc = rla("--model", OTHER_MODEL, "search", "fathers", index=built_index.index)
    check_one_line_error(proc, "all-MiniLM-L6-v2", OTHER_MODEL)


def test_model_mismatch_via_environment_names_both_models(built_index: Settings) -> None:
    proc = rla("search", "fathers", index=built_index.index, env=rla_env(RLA_MODEL=OTHER_MODEL))
    check_one_line_error(proc, "all-MiniLM-L6-v2", OTHER_MODEL)


def test_model_mismatch_on_ingest_names_both_models(index_copy: Settings) -> None:
    before = (index_copy.index / "CURRENT").read_text()
    proc = rla("--model", OTHER_MODEL, "ingest", index=index_copy.index, corpus=index_copy.corpus)
    check_one_line_error(proc, "all-MiniLM-L6-v2", OTHER_MODEL, "--rebuild")
    assert (index_copy.index / "CURRENT").read_text() == before


def test_model_mismatch_in_the_library(built_index: Settings) -> None:
    with pytest.raises(
        IndexMismatch, match=rf"built with all-MiniLM-L6-v2 \(384-d\) but settings ask for {OTHER_MODEL}"
    ):
        open_index(built_index.index, model_name=OTHER_MODEL)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ('{"id": "a", "question": "fathers"}\n{"id": "b", "question": \n', "line 2: not a valid question"),
        ('{"id": "a"}\n', "line 1: not a valid question (missing field 'question')"),
        ("[1, 2]\n", "line 1: not a valid question (not a JSON object)"),
        ("\n\n", "has no questions"),
    ],
)
def test_rla_eval_with_a_broken_questions_file_is_one_line(
    built_index: Settings, tmp_path: Path, content: str, fragment: str
) -> None:
    path = tmp_path / "questions.jsonl"
    path.write_text(content, encoding="utf-8")
    check_one_line_error(rla("eval", "--questions", path, "--mode", "bm25", index=built_index.index), fragment)


def test_rla_search_refuses_a_year_outside_1900_to_this_year(built_index: Settings) -> None:
    check_one_line_error(rla("search", "fathers", "--year-from", "2999", index=built_index.index), "year_from must be")
