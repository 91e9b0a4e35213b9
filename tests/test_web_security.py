"""The web app's guards: host names (DNS rebinding), cross-origin writes, server paths, uploads left in the cache.

Unit tests of rag/web/security.py, then raw HTTP against the real app on 127.0.0.1.
"""

from __future__ import annotations

import http.client
import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_app_api import AppServer, running_app

from rag.settings import Settings
from rag.web.security import HostGuard, PublicPaths, allowed_hosts, host_name

# --- units -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("localhost:7860", "localhost"),
        ("LOCALHOST.", "localhost"),
        ("[::1]:7860", "::1"),
        ("::1", "::1"),
        ("127.0.0.1", "127.0.0.1"),
        ("rla.example.org:443", "rla.example.org"),
        ("localhost:notaport", None),
        ("", None),
        ("  ", None),
    ],
)
def test_host_name_of_a_host_header(value: str, name: str | None) -> None:
    assert host_name(value) == name


def test_allowed_hosts_are_this_computer_the_bound_address_and_the_names_given() -> None:
    assert allowed_hosts("127.0.0.1") == {"localhost", "127.0.0.1", "::1"}
    assert allowed_hosts("0.0.0.0") == {"localhost", "127.0.0.1", "::1"}  # a wildcard names no host
    assert allowed_hosts("192.0.2.7", ["RLA.example.org", " team-box "]) == {
        "localhost",
        "127.0.0.1",
        "::1",
        "192.0.2.7",
        "rla.example.org",
        "team-box",
    }
    with pytest.raises(ValueError, match="not a host name"):
        allowed_hosts("127.0.0.1", ["bad:port:x:"])


def test_same_site_is_an_allowed_name_on_the_apps_port_or_the_host_itself() -> None:
    guard = HostGuard(app=None, hosts=allowed_hosts("127.0.0.1", ["rla.example.org"]), port=7860)  # type: ignore[arg-type]
    host = "127.0.0.1:7860"
    for origin in (
        "http://127.0.0.1:7860",
        "http://localhost:7860",
        "http://[::1]:7860",
        "https://rla.example.org:7860",
    ):
        assert guard.same_site(origin, host), origin
    assert guard.same_site("https://rla.example.org", "rla.example.org")  # through a proxy that keeps Host
    for origin in (
        "http://attacker.example:7860",
        "http://localhost:3000",  # another program on this computer
        "https://rla.example.org",  # port 443, sent to 127.0.0.1:7860
        "null",
        "file://",
        "ftp://localhost:7860",
        "http://localhost:99999",
        "",
    ):
        assert not guard.same_site(origin, host), origin


def test_public_paths_show_folders_by_their_own_names(tmp_path: Path) -> None:
    corpus, index, questions = tmp_path / "corpus", tmp_path / "data" / "index", tmp_path / "q" / "questions.jsonl"
    public = PublicPaths.of({corpus: "corpus", index: "index"}, {questions: "questions.jsonl"})
    assert public(f"{corpus}/x.pdf: not a PDF") == "corpus/x.pdf: not a PDF"
    assert public(f"no index at {index}; build one") == "no index at index/; build one"
    assert public(f"no index at {index}.") == "no index at index/."
    assert public(f"file {index}/gen-000002/chunks.jsonl is damaged") == "file index/gen-000002/chunks.jsonl is damaged"
    assert public(f"no evaluation set at {questions}") == "no evaluation set at questions.jsonl"
    assert public(f"'{corpus}'") == "'corpus/'"
    # Only whole path components, and relative paths are left as they are.
    assert public(f"{corpus}2/x.pdf") == f"{corpus}2/x.pdf"
    assert public("corpus/x.pdf and index") == "corpus/x.pdf and index"
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "data")
    assert PublicPaths.of({link / "index": "index"})(f"{index}/CURRENT") == "index/CURRENT"


# --- the real app ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app(built_index: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    with running_app(tmp_path_factory.mktemp("web-security"), built_index) as server:
        yield server


def _raw(
    app: AppServer, method: str, path: str, headers: dict[str, str], body: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    """A request with exactly these headers (Host included, when given), and its status, headers and body."""
    conn = http.client.HTTPConnection("127.0.0.1", app.port, timeout=60)
    try:
        conn.putrequest(method, path, skip_host="Host" in headers, skip_accept_encoding=True)
        for k, v in {**headers, "Content-Length": str(len(body or b""))}.items():
            conn.putheader(k, v)
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


ASK = json.dumps({"data": ["What did reviews say about fathers?", "", "", "", "", "", "", "hybrid"]}).encode()
JSON = {"Content-Type": "application/json"}


def _multipart(name: str, data: bytes) -> tuple[bytes, dict[str, str]]:
    boundary = "rla-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def test_requests_for_another_host_name_are_refused(app: AppServer) -> None:
    """DNS rebinding: a page at attacker.example whose name now resolves to 127.0.0.1."""
    rebound = {"Host": f"attacker.example:{app.port}", "Origin": f"http://attacker.example:{app.port}"}
    for method, path, body in (
        ("GET", "/", None),
        ("GET", "/config", None),
        ("GET", "/gradio_api/info", None),
        ("POST", "/gradio_api/call/ask", ASK),
        ("OPTIONS", "/gradio_api/call/ask", None),
    ):
        headers = {**rebound, **JSON, "Access-Control-Request-Method": "POST"}
        status, got, content = _raw(app, method, path, headers, body)
        assert status == 400, (method, path, status)
        assert "access-control-allow-origin" not in got
        assert b"named_endpoints" not in content and b"event_id" not in content and b"<html" not in content
    status, _, _ = _raw(app, "GET", "/gradio_api/info", {"Host": ""})
    assert status == 400
    status, _, content = _raw(app, "GET", "/gradio_api/info", {"Host": f"127.0.0.1:{app.port}"})
    assert status == 200 and b"named_endpoints" in content


def test_writes_from_another_site_are_refused(app: AppServer) -> None:
    body, multipart = _multipart("review.txt", b"Serious case review: Child Q\n\nLearning\nTalk to each other.\n")
    before = sorted(p.name for p in app.scratch.rglob("*"))
    for origin in (
        "http://attacker.example",
        f"http://attacker.example:{app.port}",
        "http://localhost:3000",
        "null",
    ):
        status, _, _ = _raw(app, "POST", "/gradio_api/upload", {"Origin": origin, **multipart}, body)
        assert status == 403, origin
        status, _, content = _raw(app, "POST", "/gradio_api/call/ask", {"Origin": origin, **JSON}, ASK)
        assert status == 403 and b"event_id" not in content, origin
    assert sorted(p.name for p in app.scratch.rglob("*")) == before  # nothing was stored
    for same in ({"Origin": f"http://127.0.0.1:{app.port}"}, {"Origin": f"http://localhost:{app.port}"}, {}):
        status, _, content = _raw(app, "POST", "/gradio_api/call/ask", {**same, **JSON}, ASK)
        assert status == 200 and b"event_id" in content, same


def test_other_sites_may_not_read_responses(app: AppServer) -> None:
    evil = {"Origin": "http://attacker.example"}
    status, headers, _ = _raw(app, "GET", "/gradio_api/info", evil)
    assert status == 200 and "access-control-allow-origin" not in headers
    preflight = {**evil, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    _, headers, _ = _raw(app, "OPTIONS", "/gradio_api/call/ask", preflight)
    assert headers.get("access-control-allow-origin") not in ("http://attacker.example", "*")


def _upload(app: AppServer, name: str, data: bytes) -> str:
    body, headers = _multipart(name, data)
    status, _, content = _raw(app, "POST", "/gradio_api/upload", headers, body)
    assert status == 200, content[:200]
    (path,) = json.loads(content)
    return str(path)


def _call(app: AppServer, api: str, data: list[Any]) -> tuple[str, Any]:
    """Call a named endpoint as the browser does; the final event ("complete" or "error") and its data."""
    with httpx.Client(base_url=app.url, timeout=600) as http:
        event_id = http.post(f"gradio_api/call/{api}", json={"data": data}).json()["event_id"]
        stream = http.get(f"gradio_api/call/{api}/{event_id}").text
    blocks = [b for b in stream.split("\n\n") if b.startswith("event: complete") or b.startswith("event: error")]
    assert blocks, stream[:500]
    event, _, payload = blocks[-1].partition("\ndata: ")
    return event.removeprefix("event: "), json.loads(payload) if payload.strip() not in ("", "null") else None


UPLOAD = b"""Serious case review: Child W (Westshire)

Published May 2023 by Westshire Safeguarding Children Partnership.

Learning
The review found that the school nurse noticed the weight loss but the referral was lost.
"""
BROKEN_PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage, not a document\n"


def test_uploads_leave_the_cache_once_added_and_no_server_path_is_shown(app: AppServer) -> None:
    assert stat.S_IMODE(app.scratch.stat().st_mode) == 0o700
    server_root = str(app.corpus.resolve().parent)  # holds the corpus, index and questions of this app
    paths = [_upload(app, "Child W.txt", UPLOAD), _upload(app, "broken.pdf", BROKEN_PDF)]
    for p in paths:
        assert Path(p).resolve().is_relative_to(app.scratch.resolve()) and Path(p).exists()
        assert httpx.get(f"{app.url}gradio_api/file={p}", timeout=30).status_code == 200

    files = [{"path": p, "orig_name": Path(p).name, "meta": {"_type": "gradio.FileData"}} for p in paths]
    event, (summary, table, status) = _call(app, "add_files", [files, False, None])
    assert event == "complete"
    assert "saved as <code>Child-W.txt</code>" in summary and "saved as <code>broken.pdf</code>" in summary
    rows = {row[0]: row for row in table["data"]}
    assert rows["Child-W.txt"][1] == "indexed"
    assert rows["broken.pdf"][1] == "skipped"
    assert rows["broken.pdf"][4].startswith("broken.pdf: ")  # the reason names the file by its corpus key
    for text in (summary, json.dumps(table), status):
        assert server_root not in text

    # The uploads now live in the corpus only: the server's cache copies and their URLs are gone.
    assert (app.corpus / "Child-W.txt").read_bytes() == UPLOAD
    for p in paths:
        assert not Path(p).exists()
        assert 400 <= httpx.get(f"{app.url}gradio_api/file={p}", timeout=30).status_code < 500

    # The same file again is refused as a copy, whatever its name.
    again = _upload(app, "another name.txt", UPLOAD)
    event, payload = _call(app, "add_files", [[{"path": again, "meta": {"_type": "gradio.FileData"}}], False, None])
    assert event == "error" and "same content as corpus/Child-W.txt" in json.dumps(payload)
    assert not Path(again).exists()

    config = httpx.get(f"{app.url}config", timeout=30).text
    assert server_root not in config and str(app.corpus) not in config and str(app.index) not in config
