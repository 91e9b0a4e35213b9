"""The web app's /ask endpoint, called with gradio_client against the real app running in a subprocess.

This module also holds `running_app`, which starts that app; the browser and security tests import it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
START_TIMEOUT_S = 240


@dataclass
class AppServer:
    url: str
    port: int
    proc: subprocess.Popen[bytes]
    corpus: Path
    index: Path
    questions: Path
    log: Path

    @property
    def scratch(self) -> Path:
        """The app's private folder for uploads and downloads (rag/web/scratch.py)."""
        return Path(os.environ["RLA_CACHE"]) / f"web-{self.proc.pid}"

    def log_tail(self, n: int = 40) -> str:
        return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-n:])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_questions(settings: Settings, path: Path) -> Path:
    """A three-question evaluation set drawn from the index itself: quick to score, valid whatever the parser does."""
    from rag.store import open_index

    data = open_index(settings.index)
    by_keyword: dict[str, list[str]] = {}
    for r in data.reviews.values():
        for k in r.keywords:
            by_keyword.setdefault(k, []).append(r.id)
    keyword, ids = max(by_keyword.items(), key=lambda kv: (len(kv[1]), kv[0]))
    first = next(iter(data.reviews.values()))
    rows = [
        {"id": "t1", "question": f"What did reviews say about {keyword}?", "kind": "topic", "gold": sorted(ids)},
        {"id": "t2", "question": first.title, "kind": "title", "gold": [first.id]},
        {"id": "t3", "question": "What is the best recipe for sourdough bread?", "kind": "unanswerable", "gold": []},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@contextlib.contextmanager
def running_app(
    workdir: Path,
    settings: Settings,
    *args: str,
    with_index: bool = True,
    corpus_files: list[str] | None = None,
    env: dict[str, str] | None = None,
    script: Path = ROOT / "app.py",
) -> Iterator[AppServer]:
    """`python app.py` (or `script`, a wrapper of it) on a free port, over private copies of the session index and
    the bundled corpus (or no index at all, and only some corpus files)."""
    index, corpus = workdir / "index", workdir / "corpus"
    if with_index:
        shutil.copytree(settings.index, index)
    if corpus_files is None:
        shutil.copytree(CORPUS, corpus)
    else:
        corpus.mkdir()
        for name in corpus_files:
            shutil.copy(CORPUS / name, corpus / name)
    questions = write_questions(settings, workdir / "questions.jsonl")
    port = free_port()
    log = workdir / "app.log"
    full_env = {k: v for k, v in os.environ.items() if k != "RLA_AUTH"}
    full_env.update(env or {})
    cmd = [sys.executable, str(script), "--index", str(index), "--corpus", str(corpus)]
    cmd += ["--questions", str(questions), "--port", str(port), *args]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=full_env)
    server = AppServer(f"http://127.0.0.1:{port}/", port, proc, corpus, index, questions, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"app.py exited with {proc.returncode}:\n{server.log_tail()}")
            try:
                with urllib.request.urlopen(server.url + "gradio_api/info", timeout=5) as r:
                    if r.status == 200:
                        break
            except urllib.error.HTTPError as e:
                if e.code == 401:  # up, behind a login
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"app.py did not start within {START_TIMEOUT_S} s:\n{server.log_tail()}")
            time.sleep(0.5)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def app(built_index: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    with running_app(tmp_path_factory.mktemp("app-api"), built_index) as server:
        yield server


@pytest.fixture(scope="module")
def client(app: AppServer):  # type: ignore[no-untyped-def]
    from gradio_client import Client

    return Client(app.url, verbose=False)


# Questions the bundled corpus answers with and without filters (the abstention threshold is calibrated).
QUESTION = "What did reviews learn about fathers and men in the household?"
FILTERED_QUESTION = "What did reviews find about neglect and parental substance misuse?"


def _check_quotes(ans: dict) -> None:  # type: ignore[type-arg]
    for c in ans["citations"]:
        # The quote is verbatim: it sits at its offsets inside the cited excerpt.
        assert c["text"][c["quote_start"] - c["start"] : c["quote_end"] - c["start"]] == c["quote"]


def test_ask_returns_an_answer_with_numbered_citations(client) -> None:  # type: ignore[no-untyped-def]
    ans = client.predict(question=QUESTION, api_name="/ask")
    assert ans["abstained"] is False
    assert ans["question"] == QUESTION
    assert len(ans["citations"]) >= 2
    assert [c["n"] for c in ans["citations"]] == list(range(1, len(ans["citations"]) + 1))
    for c in ans["citations"]:
        assert f"[{c['n']}]" in ans["answer"]
        assert c["title"] and c["review_id"] and c["source"]
    _check_quotes(ans)


def test_ask_applies_filters(client) -> None:  # type: ignore[no-untyped-def]
    ans = client.predict(question=FILTERED_QUESTION, section="recommendations", api_name="/ask")
    assert ans["citations"], ans["answer"]
    assert {c["section"] for c in ans["citations"]} == {"recommendations"}
    ans = client.predict(question=FILTERED_QUESTION, year_from="2017", year_to="2017", api_name="/ask")
    assert ans["citations"], ans["answer"]
    assert {c["year"] for c in ans["citations"]} == {2017}
    _check_quotes(ans)


def test_ask_abstains_on_a_question_the_reviews_do_not_cover(client) -> None:  # type: ignore[no-untyped-def]
    ans = client.predict(question="What is the best recipe for sourdough bread?", api_name="/ask")
    assert ans["abstained"] is True
    assert ans["citations"] == []
    assert ans["answer"].startswith("No review in this collection addresses “best recipe for sourdough bread”")


def test_ask_abstains_when_no_review_matches_the_filters(client) -> None:  # type: ignore[no-untyped-def]
    ans = client.predict(question=QUESTION, area="Nowhere-on-Sea", api_name="/ask")
    assert ans["abstained"] is True
    assert "no review matches the filters" in ans["answer"]


@pytest.mark.parametrize("question", ["", "   ", "\x00\x07"])
def test_empty_question_is_a_clear_error(client, question: str) -> None:  # type: ignore[no-untyped-def]
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as err:
        client.predict(question=question, api_name="/ask")
    message = str(err.value)
    assert "the query is empty" in message
    assert "Traceback" not in message


def test_bad_filter_is_a_clear_error(client) -> None:  # type: ignore[no-untyped-def]
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as err:
        client.predict(question=QUESTION, year_from="last year", api_name="/ask")
    assert "year_from must be a year" in str(err.value)
    with pytest.raises(AppError) as err:
        client.predict(question=QUESTION, year_from="2020", year_to="2017", api_name="/ask")
    assert "put the earlier year first" in str(err.value)


def test_only_the_intended_endpoints_are_public(client) -> None:  # type: ignore[no-untyped-def]
    named = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert "/ask" in named
    assert named <= {"/ask", "/ledger", "/brief", "/evaluate", "/add_files", "/load_example"}
    assert "/ask_1" not in named and "/ledger_1" not in named


def test_ledger_endpoint_counts_reviews(client) -> None:  # type: ignore[no-untyped-def]
    led = client.predict(topic="was not brought", api_name="/ledger")
    assert led["topic"] == "was not brought" and led["reviews"]
    assert sum(led["by_year"].values()) == sum(led["by_area"].values()) == len(led["reviews"])
    assert len({e["review_id"] for e in led["reviews"]}) == len(led["reviews"])  # one excerpt per review
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="type a topic to find every review that addresses it"):
        client.predict(topic=" \x07 ", api_name="/ledger")


def test_api_parameters_are_typed_and_documented(client) -> None:  # type: ignore[no-untyped-def]
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    for name in ("/ask", "/ledger", "/brief"):
        params = {p["parameter_name"]: p for p in api[name]["parameters"]}
        assert {"year_from", "year_to", "area", "review_type", "keyword", "section", "kind", "theme"} <= set(params)
        assert api[name]["description"]  # the docstring's first paragraph
        assert params["year_from"]["python_type"]["type"].replace(" ", "").count("int") == 1
        assert "None" in params["year_from"]["python_type"]["type"]
        assert params["area"]["python_type"]["type"] == "str"
        assert "Literal['']" not in str(params)


@pytest.mark.parametrize(
    ("year_from", "message"), [("2030", "year_from must be a year from 1900 to"), (1850, "from 1900")]
)
def test_years_outside_1900_to_this_year_are_refused(client, year_from: object, message: str) -> None:  # type: ignore[no-untyped-def]
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as err:
        client.predict(question=QUESTION, year_from=year_from, api_name="/ask")
    assert message in str(err.value) and "Traceback" not in str(err.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"year_from": 2030}, "year_from must be a year from 1900 to"),
        ({"year_from": 1850}, "from 1900"),
        ({"year_from": 2020, "year_to": 2017}, "put the earlier year first"),
        ({"section": "minutes"}, "unknown section 'minutes'; choose one of:"),
        ({"kind": "minutes"}, "unknown kind 'minutes'; choose one of: review, briefing"),
        ({"theme": "hiden men"}, "unknown theme 'hiden men'; did you mean 'hidden-men'?"),
        ({"topic": "  "}, "type a topic for the briefing"),
    ],
)
def test_brief_refuses_bad_values_with_the_clis_one_line_messages(client, kwargs: dict, message: str) -> None:  # type: ignore[no-untyped-def,type-arg]
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as err:
        client.predict(**{"topic": "fathers", **kwargs}, api_name="/brief")
    assert message in str(err.value) and "Traceback" not in str(err.value) and "\n" not in str(err.value)


def test_brief_endpoint_returns_the_pack_and_its_markdown(client, app: AppServer) -> None:  # type: ignore[no-untyped-def]
    from rag.brief import build_brief, render_markdown
    from rag.retrieve import Filters, Retriever

    got = client.predict(topic="professional curiosity", year_from=2015, api_name="/brief")
    pack = build_brief(
        Retriever(Settings(corpus=app.corpus, index=app.index)), "professional curiosity", Filters(year_from=2015)
    )
    assert got["topic"] == "professional curiosity"
    assert got["markdown"] == render_markdown(
        pack
    )  # the same pack as `rla brief "professional curiosity" --year-from 2015`
    assert got["pack"]["references"] and got["pack"]["filters"] == {"year_from": 2015}


def test_ask_and_ledger_filter_by_kind_and_theme(client, app: AppServer) -> None:  # type: ignore[no-untyped-def]
    from rag.store import open_index

    reviews = open_index(app.index).reviews
    ans = client.predict(question=QUESTION, kind="listing entry", theme="fathers-and-male-carers", api_name="/ask")
    assert ans["citations"]
    for c in ans["citations"]:
        r = reviews[c["review_id"]]
        assert r.kind == "listing entry" and "fathers-and-male-carers" in r.themes
    led = client.predict(topic="neglect", kind="analysis", api_name="/ledger")
    assert {reviews[e["review_id"]].kind for e in led["reviews"]} <= {"analysis"}


def test_a_plausible_year_with_no_review_says_no_review_matches(client) -> None:  # type: ignore[no-untyped-def]
    ans = client.predict(question=QUESTION, year_from=1950, year_to=1951, api_name="/ask")
    assert ans["abstained"] is True and "no review matches the filters" in ans["answer"]


def test_without_an_index_the_app_starts_and_builds_one_from_the_corpus(built_index: Settings, tmp_path: Path) -> None:
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    files = ["cumbria-lessons-from-scrs.txt"]  # one small file: quick to embed
    with running_app(tmp_path, built_index, with_index=False, corpus_files=files) as server:
        client = Client(server.url, verbose=False)
        with pytest.raises(AppError) as err:
            client.predict(question=QUESTION, api_name="/ask")
        assert "No index at" in str(err.value) and "Corpus" in str(err.value)

        summary, table, status = client.predict(files=[], rebuild=False, api_name="/add_files")
        assert "Index updated" in summary
        assert sorted(row[0] for row in table["data"]) == sorted(files)
        assert {row[1] for row in table["data"]} == {"indexed"}
        assert "reviews" in status and "No index" not in status

        ans = client.predict(question="What did reviews say about professional curiosity?", api_name="/ask")
        assert ans["citations"], ans["answer"]  # the new index is live
        assert {c["source"] for c in ans["citations"]} <= set(files)


# A fictional review, written for this test.
UPLOADED = """Learning from the review of Child Z

Summary
Child Z, aged 9, lived with his grandmother under a special guardianship order. His school noticed he often
arrived hungry and in unwashed clothes, but the concerns were not shared with children's social care.

Learning
Schools should share concerns about a child who repeatedly arrives hungry with children's social care.
Special guardians need support and review after the order is made.
"""


def test_add_files_api_takes_catalogue_fields_and_refuses_a_wrong_one(built_index: Settings, tmp_path: Path) -> None:
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    upload = tmp_path / "child-z-learning.txt"
    upload.write_text(UPLOADED, encoding="utf-8")
    with running_app(tmp_path / "app", built_index) as server:
        client = Client(server.url, verbose=False)
        before = sorted(p.name for p in server.corpus.iterdir())
        with pytest.raises(AppError) as err:
            client.predict(
                files=[handle_file(str(upload))],
                catalogue=[{"file": upload.name, "town": "Nowhere"}],
                api_name="/add_files",
            )
        assert "unknown field 'town'" in str(err.value) and "Traceback" not in str(err.value)
        assert sorted(p.name for p in server.corpus.iterdir()) == before  # nothing saved

        fields = {"file": upload.name, "title": "Child Z: learning brief", "area": "Westmoor", "year": "2024"}
        summary, table, _status = client.predict(
            files=[handle_file(str(upload))], rebuild=False, catalogue=[fields], api_name="/add_files"
        )
        assert "Index updated" in summary, summary
        assert [row[1] for row in table["data"] if row[0] == upload.name] == ["indexed"]
        catalogue = (server.corpus / "catalogue.csv").read_text(encoding="utf-8")
        assert "Child Z: learning brief" in catalogue and "Westmoor" in catalogue

        ans = client.predict(
            question="What did reviews say about children arriving at school hungry?", area="Westmoor", api_name="/ask"
        )
        assert ans["citations"], ans["answer"]
        cited = {(c["title"], c["area"], c["year"]) for c in ans["citations"]}
        assert cited == {("Child Z: learning brief", "Westmoor", 2024)}


@pytest.mark.slow
def test_sixteen_users_asking_at_once_are_answered_quickly(app: AppServer) -> None:
    """16 simulated users, 5 questions each, over the plain HTTP API: every answer arrives; the latency is
    printed (p95 target 0.5 s on 2 quiet cores; a loaded machine is slower, so only errors fail the test)."""
    import asyncio
    import statistics

    import httpx

    questions = [QUESTION, FILTERED_QUESTION, "What did reviews say about professional curiosity?"]

    async def one(c: httpx.AsyncClient, q: str) -> float:
        t = time.perf_counter()
        r = await c.post(f"{app.url}gradio_api/call/ask", json={"data": [q, None, None, "", "", "", "", "hybrid"]})
        event = r.json()["event_id"]
        body = (await c.get(f"{app.url}gradio_api/call/ask/{event}")).text
        assert "event: complete" in body and '"citations"' in body, body[:300]
        return time.perf_counter() - t

    async def run() -> list[float]:
        async with httpx.AsyncClient(timeout=60) as c:
            await one(c, QUESTION)

            async def user(i: int) -> list[float]:
                return [await one(c, questions[(i + j) % len(questions)]) for j in range(5)]

            return [x for xs in await asyncio.gather(*(user(i) for i in range(16))) for x in xs]

    lat = sorted(asyncio.run(run()))
    p95 = lat[round(0.95 * (len(lat) - 1))]
    print(f"16 users × 5: p50 {statistics.median(lat):.3f} s, p95 {p95:.3f} s, load {os.getloadavg()}")
    assert len(lat) == 80
