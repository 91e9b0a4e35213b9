"""The web app's attack surface: file routes, uploads into the corpus, the address it binds, and load."""

from __future__ import annotations

import http.client
import importlib.util
import json
import statistics
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from test_app_api import ROOT, AppServer, running_app

from rag.settings import Settings


@pytest.fixture(scope="module")
def app(built_index: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    with running_app(tmp_path_factory.mktemp("app-security"), built_index) as server:
        yield server


def _get(app: AppServer, raw_path: str) -> tuple[int, bytes]:
    """GET a path exactly as written: no client-side normalisation of '..' or percent-escapes."""
    conn = http.client.HTTPConnection("127.0.0.1", app.port, timeout=30)
    try:
        conn.putrequest("GET", raw_path, skip_accept_encoding=True)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _traversal_paths(app: AppServer) -> list[str]:
    secret_files = ["/etc/passwd", "/proc/self/environ", str(app.index / "CURRENT"), str(ROOT / "app.py")]
    secret_files += [str(p) for p in sorted(app.corpus.iterdir())[:1]]
    paths = []
    for prefix in ("/gradio_api/file=", "/file=", "/gradio_api/file/"):
        for f in secret_files:
            paths.append(prefix + f)
    paths += [
        "/gradio_api/file=../../../../etc/passwd",
        "/file=../../etc/passwd",
        "/gradio_api/file=..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "/gradio_api/file=%2Fetc%2Fpasswd",
        "/gradio_api/file=%252Fetc%252Fpasswd",
        "/gradio_api/file=....//....//....//etc/passwd",
        "/gradio_api/file=/etc/./passwd",
        "/gradio_api/file=//etc/passwd",
        "/gradio_api/file=\\etc\\passwd",
        "/gradio_api/file=file:///etc/passwd",
        f"/gradio_api/file=http://127.0.0.1:{app.port}/gradio_api/info",
        "/gradio_api/file=http://169.254.169.254/latest/meta-data/",
        "/static/../../../../etc/passwd",
        "/assets/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "/gradio_api/upload?upload_id=../../etc",
    ]
    return paths


def test_file_routes_refuse_traversal_and_files_the_app_does_not_serve(app: AppServer) -> None:
    served = []
    for path in _traversal_paths(app):
        status, body = _get(app, path)
        if not (400 <= status < 500) or b"root:" in body:
            served.append((path, status, body[:80]))
    assert not served, f"served what it should refuse: {served}"


def test_the_index_and_corpus_are_blocked_paths(app: AppServer) -> None:
    status, _ = _get(app, "/gradio_api/file=" + str(app.corpus.resolve() / "cumbria-lessons-from-scrs.txt"))
    assert status == 403


def _settings(tmp_path: Path, **kw: object) -> Settings:
    corpus = tmp_path / "corpus"
    corpus.mkdir(exist_ok=True)
    return replace(Settings(), corpus=corpus, index=tmp_path / "index", **kw)  # type: ignore[arg-type]


def _upload(tmp_path: Path, name: str, data: bytes) -> str:
    """A file as Gradio hands it to a handler: in a folder of its own, under the name the user gave."""
    folder = Path(tempfile.mkdtemp(dir=tmp_path, prefix="upload-"))
    (folder / name).write_bytes(data)
    return str(folder / name)


TEXT = b"Serious case review: Child Q\n\nLearning\nProfessionals should talk to each other.\n"


def test_handler_refuses_other_types_big_files_and_binaries(tmp_path: Path) -> None:
    from rag.web.uploads import save_uploads

    settings = _settings(tmp_path, max_file_mb=1)
    paths = [
        _upload(tmp_path, "setup.exe", b"MZ\x90\x00" + b"\x00" * 100),
        _upload(tmp_path, "page.js", b"<script>alert(1)</script>"),
        _upload(tmp_path, "noext", TEXT),
        _upload(tmp_path, "big.txt", b"word " * (300 * 1024)),  # 1.5 MB
        _upload(tmp_path, "binary.txt", bytes(range(256)) * 16),
        _upload(tmp_path, "fake.pdf", b"this is not a pdf"),
        _upload(tmp_path, "fake.docx", b"this is not a Word document"),
        _upload(tmp_path, "locked.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)),
    ]
    results = save_uploads(paths, settings)
    assert [r.saved for r in results] == [None] * len(paths)
    reasons = [r.reason for r in results]
    assert [r.split(":")[0] for r in reasons] == [Path(p).name for p in paths]
    assert "not accepted" in reasons[0] and "not accepted" in reasons[1] and "not accepted" in reasons[2]
    assert "over the 1 MB limit" in reasons[3]
    assert "not valid" in reasons[4]
    assert "not a PDF" in reasons[5]
    assert "not a Word .docx file (not a zip package)" in reasons[6]
    assert "a password-protected or old-format (.doc) Word file" in reasons[7]
    assert list(settings.corpus.iterdir()) == []


def test_handler_saves_under_a_safe_new_name_inside_the_corpus(tmp_path: Path) -> None:
    from rag.web.uploads import safe_name, save_uploads

    settings = _settings(tmp_path)
    (settings.corpus / "review.txt").write_bytes(b"already here")
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"do not touch")
    (settings.corpus / "linked.txt").symlink_to(outside)
    paths = [
        _upload(tmp_path, "review.txt", TEXT),
        _upload(tmp_path, "review.txt", TEXT.replace(b"Q", b"R")),
        _upload(tmp_path, "linked.txt", TEXT.replace(b"Q", b"S")),
        _upload(tmp_path, ".hidden.md", TEXT.replace(b"Q", b"T")),
        _upload(tmp_path, "Ünïcode <name>?.md", TEXT.replace(b"Q", b"U")),
        _upload(tmp_path, "copy.txt", TEXT),  # the same bytes as the first upload
    ]
    results = save_uploads(paths, settings)
    saved = [r.saved.name if r.saved else None for r in results]
    assert saved == ["review-2.txt", "review-3.txt", "linked-2.txt", "hidden.md", "Unicode-name.md", None]
    assert "refused as a copy: same content as corpus/review-2.txt" in results[-1].reason
    assert (settings.corpus / "review.txt").read_bytes() == b"already here"
    assert outside.read_bytes() == b"do not touch"
    for r in results:
        if r.saved:
            assert r.saved.resolve().parent == settings.corpus.resolve()
    # Whatever the browser or a client sends as a name, the result is a plain file name.
    for evil in [
        "../../etc/passwd.txt",
        "..\\..\\win.ini.md",
        "/abs/path.pdf",
        "a/../../b.txt",
        "...txt",
        "",
        "\x00.txt",
    ]:
        name = safe_name(evil)
        assert "/" not in name and "\\" not in name and not name.startswith(".") and name not in ("", "..")


def test_handler_refuses_a_copy_of_any_file_in_the_corpus_folder(tmp_path: Path) -> None:
    from rag.web.uploads import save_uploads

    settings = _settings(tmp_path)
    (settings.corpus / "reviews").mkdir()
    (settings.corpus / "reviews" / "child-q.txt").write_bytes(TEXT)  # indexed or not, it is in the folder
    (settings.corpus / "notes.bin").write_bytes(TEXT.replace(b"Q", b"V"))  # a file ingest would skip
    results = save_uploads(
        [_upload(tmp_path, "again.txt", TEXT), _upload(tmp_path, "renamed.md", TEXT.replace(b"Q", b"V"))], settings
    )
    assert [r.saved for r in results] == [None, None]
    assert results[0].reason == "again.txt: refused as a copy: same content as corpus/reviews/child-q.txt"
    assert results[1].reason == "renamed.md: refused as a copy: same content as corpus/notes.bin"
    assert sorted(p.name for p in settings.corpus.rglob("*")) == ["child-q.txt", "notes.bin", "reviews"]


def test_the_same_file_uploaded_again_and_again_is_saved_once(tmp_path: Path) -> None:
    from rag.web.uploads import save_uploads

    settings = _settings(tmp_path)
    results = [save_uploads([_upload(tmp_path, "child-q.txt", TEXT)], settings)[0] for _ in range(3)]
    assert [r.saved.name if r.saved else None for r in results] == ["child-q.txt", None, None]
    assert all("same content as corpus/child-q.txt" in r.reason for r in results[1:])
    assert [p.name for p in settings.corpus.iterdir()] == ["child-q.txt"]


def test_client_upload_of_other_types_is_refused_and_nothing_is_saved(app: AppServer, tmp_path: Path) -> None:
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    before = sorted(p.name for p in app.corpus.iterdir())
    client = Client(app.url, verbose=False)
    for name, data in (("tool.exe", b"MZ\x90\x00binary"), ("page.html", b"<html><script>alert(1)</script></html>")):
        f = tmp_path / name
        f.write_bytes(data)
        with pytest.raises(AppError) as err:
            client.predict(files=[handle_file(str(f))], rebuild=False, api_name="/add_files")
        assert "Traceback" not in str(err.value)
    assert sorted(p.name for p in app.corpus.iterdir()) == before


def test_a_server_path_cannot_be_passed_off_as_an_upload(app: AppServer) -> None:
    # Raw HTTP: gradio_client would upload a local file named like this, which is not the attack.
    before = sorted(p.name for p in app.corpus.iterdir())
    for path in ("/etc/passwd", str(app.index / "CURRENT")):
        forged = {"path": path, "orig_name": "review.txt", "meta": {"_type": "gradio.FileData"}}
        body = json.dumps({"data": [[forged], False, None]}).encode()
        req = urllib.request.Request(app.url + "gradio_api/call/add_files", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            event_id = json.load(r)["event_id"]
        with urllib.request.urlopen(f"{app.url}gradio_api/call/add_files/{event_id}", timeout=60) as r:
            stream = r.read().decode()
        assert "event: error" in stream and "event: complete" not in stream, stream[:300]
    assert sorted(p.name for p in app.corpus.iterdir()) == before


def test_server_refuses_uploads_over_the_size_limit(app: AppServer) -> None:
    limit = Settings().max_file_mb * 1024 * 1024
    boundary = "rla-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()
    body = head + b"a" * (limit + 1024) + f"\r\n--{boundary}--\r\n".encode()
    conn = http.client.HTTPConnection("127.0.0.1", app.port, timeout=60)
    try:
        conn.request(
            "POST",
            "/gradio_api/upload",
            body=body,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        status = conn.getresponse().status
    finally:
        conn.close()
    assert status == 413


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on `port`, from /proc/net/tcp{,6} (hex, as the kernel writes them)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, hex_port = local.split(":")
            if int(hex_port, 16) == port and state == "0A":  # 0A: LISTEN
                found.add(addr)
    return found


def _entry_point():  # type: ignore[no-untyped-def]
    """The repository root's app.py, which is not on sys.path under pytest."""
    spec = importlib.util.spec_from_file_location("rla_app_entry", ROOT / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_binds_localhost_by_default(app: AppServer) -> None:
    entry = _entry_point()
    assert entry.build_parser().parse_args([]).host == "127.0.0.1"
    assert "--host" not in app.proc.args  # type: ignore[operator]
    assert _listening_addresses(app.port) == {"0100007F"}  # 127.0.0.1, and nothing else


def test_rla_auth_puts_the_app_and_its_files_behind_a_login(built_index: Settings, tmp_path: Path) -> None:
    import httpx
    from gradio_client import Client

    env = {"RLA_AUTH": "trainer:correct horse battery"}
    with running_app(tmp_path, built_index, with_index=False, corpus_files=[], env=env) as server:
        for path in ("gradio_api/info", "config", "gradio_api/file=/etc/passwd", "gradio_api/queue/status"):
            r = httpx.get(server.url + path, timeout=30)
            assert r.status_code in (401, 403), (path, r.status_code)
        bad = httpx.post(server.url + "login", data={"username": "trainer", "password": "wrong"}, timeout=30)
        assert bad.status_code >= 400
        with httpx.Client(base_url=server.url, timeout=30) as session:
            good = session.post("login", data={"username": "trainer", "password": "correct horse battery"})
            assert good.status_code == 200
            assert session.get("gradio_api/info").status_code == 200
        client = Client(server.url, auth=("trainer", "correct horse battery"), verbose=False)
        assert "/ask" in client.view_api(print_info=False, return_format="dict")["named_endpoints"]


def test_auth_setting_is_parsed_strictly() -> None:
    entry = _entry_point()
    assert entry.parse_auth(None) is None
    assert entry.parse_auth("") is None
    assert entry.parse_auth("trainer:pa:ss") == ("trainer", "pa:ss")
    for bad in ("nopassword", ":secret", "user:"):
        with pytest.raises(SystemExit):
            entry.parse_auth(bad)


USERS = 16
LOAD_SECONDS = 60
LOAD_QUESTIONS = [
    "What did reviews say about professional curiosity?",
    "What did reviews learn about fathers and men in the household?",
    "What do reviews say about children who were not brought to appointments?",
    "What is the best recipe for sourdough bread?",
    "What did reviews find about neglect and parental substance misuse?",
]


@pytest.mark.slow
def test_sixteen_concurrent_users_for_a_minute(app: AppServer) -> None:
    from gradio_client import Client

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + LOAD_SECONDS

    def user(n: int) -> None:
        try:
            client = Client(app.url, verbose=False)
        except Exception as e:
            with lock:
                errors.append(f"user {n} connect: {type(e).__name__}: {e}")
            return
        i = n
        while time.monotonic() < stop_at:
            q = LOAD_QUESTIONS[i % len(LOAD_QUESTIONS)]
            i += 1
            t0 = time.perf_counter()
            try:
                ans = client.predict(question=q, api_name="/ask")
                ok = isinstance(ans, dict) and (ans["abstained"] or ans["citations"])
                if not ok:
                    raise AssertionError(f"bad answer {str(ans)[:100]}")
            except Exception as e:
                with lock:
                    errors.append(f"user {n}: {type(e).__name__}: {e}")
                continue
            with lock:
                latencies.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=user, args=(n,)) for n in range(USERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=LOAD_SECONDS + 300)
    assert latencies, errors[:5]
    cuts = statistics.quantiles(latencies, n=20)
    p50, p95 = statistics.median(latencies), cuts[18]
    print(
        f"\nload: {USERS} users × {LOAD_SECONDS} s: {len(latencies)} answers, {len(errors)} errors, "
        f"{len(latencies) / LOAD_SECONDS:.2f} answers/s, p50 {p50:.2f} s, p95 {p95:.2f} s, max {max(latencies):.2f} s"
    )
    assert errors == [], errors[:5]
