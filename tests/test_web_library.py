"""The served index follows index/CURRENT: an ingest from anywhere is served from the next request on.

In process over the real two-file index, then against the real app with an ingest from this (another) process.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from test_app_api import QUESTION, AppServer, running_app

from rag.errors import RlaError
from rag.ingest import ingest
from rag.settings import Settings
from rag.web.library import Library

REMOVED = "cumbria-lessons-from-scrs.txt"
KEPT = "nspcc-repository-march-2022.txt"


def test_a_new_generation_is_served_from_the_next_request(small_copy: Settings, tmp_path: Path) -> None:
    lib = Library(small_copy, tmp_path / "questions.jsonl")
    first = lib.current()
    old_gen = first.data.path.name
    assert lib.current() is first  # CURRENT unchanged: nothing reloaded
    assert {c.source for c in first.data.chunks} == {REMOVED, KEPT}

    (small_copy.corpus / REMOVED).unlink()
    report = ingest(small_copy)
    assert report.changed and report.generation != old_gen

    served, status = lib.view()
    assert served is not None and served is not first
    assert served.data.path.name == report.generation
    assert {c.source for c in served.data.chunks} == {KEPT}
    assert report.generation in status and f"**{report.totals['reviews']} reviews**" in status
    # A request that began before the switch keeps its snapshot whole.
    assert first.data.path.name == old_gen
    assert {h.chunk.source for h in first.search("fathers", k=20)} >= {REMOVED}


def test_a_damaged_new_generation_is_not_papered_over_with_the_old_one(small_copy: Settings, tmp_path: Path) -> None:
    lib = Library(small_copy, tmp_path / "questions.jsonl")
    old_gen = lib.current().data.path.name
    (small_copy.corpus / REMOVED).unlink()
    new_gen = ingest(small_copy).generation
    assert new_gen is not None
    with open(small_copy.index / new_gen / "chunks.jsonl", "a", encoding="utf-8") as f:
        f.write("\n")

    with pytest.raises(RlaError) as err:
        lib.current()  # never the old generation, which still cites the removed file
    message = str(err.value)
    assert f"index/{new_gen}/chunks.jsonl does not match its manifest checksum" in message
    assert str(tmp_path) not in message  # server paths stay in the log
    assert "No index loaded" in lib.status()

    # When CURRENT moves again (here: back), that generation is served.
    (small_copy.index / "CURRENT").write_text(old_gen, encoding="utf-8")
    assert lib.current().data.path.name == old_gen


def _sources(ans: dict) -> set[str]:  # type: ignore[type-arg]
    return {c["source"] for c in ans["citations"]}


@pytest.fixture(scope="module")
def app(built_index: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    env = {"RLA_ALLOWED_HOSTS": "rla.test, Reviews.Example.org."}
    with running_app(tmp_path_factory.mktemp("app-library"), built_index, env=env) as server:
        yield server
    assert not server.scratch.exists()  # the private folder goes with the app


def test_app_stops_citing_a_file_removed_by_an_ingest_from_the_command_line(
    app: AppServer, built_index: Settings
) -> None:
    from gradio_client import Client

    client = Client(app.url, verbose=False)
    before = client.predict(question=QUESTION, api_name="/ask")
    withdrawn = sorted(_sources(before))[0]
    assert app.scratch.is_dir()

    (app.corpus / withdrawn).unlink()
    report = ingest(replace(built_index, corpus=app.corpus, index=app.index))
    assert report.changed and any(f.source == withdrawn and f.status == "removed" for f in report.files)

    after = client.predict(question=QUESTION, api_name="/ask")
    assert after["citations"] and withdrawn not in _sources(after)
    # The Corpus tab now says the index is up to date at the generation it serves, with the same counts.
    summary, _table, status = client.predict(files=[], rebuild=False, api_name="/add_files")
    assert f"Index is up to date ({report.generation})" in summary
    assert f"{report.totals['reviews']} reviews" in summary
    assert report.generation in status and f"**{report.totals['reviews']} reviews**" in status


def test_app_answers_to_the_host_names_it_is_given(app: AppServer) -> None:
    for host in (f"rla.test:{app.port}", "reviews.example.org", f"localhost:{app.port}", f"[::1]:{app.port}"):
        req = urllib.request.Request(app.url + "gradio_api/info", headers={"Host": host})
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 200 and "named_endpoints" in json.load(r), host


def test_a_background_load_lets_the_page_say_loading_and_the_first_question_wait(
    small_copy: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app serves its page before the index and the model are loaded: the status says so without waiting,
    and a question asked meanwhile waits for that one load, then is answered from it."""
    import threading

    import rag.web.library as library

    release, started = threading.Event(), threading.Event()
    real = library.Retriever

    def slow(settings: Settings) -> object:
        started.set()
        assert release.wait(60)
        return real(settings)

    monkeypatch.setattr(library, "Retriever", slow)
    lib = Library(small_copy, tmp_path / "questions.jsonl")
    server_up = threading.Event()
    thread = lib.load_in_background(after=server_up.is_set)
    assert lib.loading
    assert lib.view(wait=False) == (None, library.LOADING)  # at once, while nothing has loaded
    assert not started.wait(0.3)  # the load waits for the server
    server_up.set()
    assert started.wait(30)

    got: list[object] = []
    asker = threading.Thread(target=lambda: got.append(lib.current()))
    asker.start()
    asker.join(0.5)
    assert asker.is_alive() and not got  # the first question waits for the load …
    release.set()
    asker.join(60)
    thread.join(60)
    assert not lib.loading and len(got) == 1
    retriever, status = lib.view(wait=False)
    assert got[0] is retriever  # … and is answered from it: one load, not two
    assert retriever is not None and "reviews" in status


def test_without_a_background_load_the_first_request_loads_the_index(small_copy: Settings, tmp_path: Path) -> None:
    lib = Library(small_copy, tmp_path / "questions.jsonl")
    assert not lib.loading
    retriever, status = lib.view(wait=False)
    assert retriever is not None and retriever.data.path.name in status
