"""The web app's entry point: parse arguments, load the index, serve. The app itself lives in rag/web/."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

# Gradio's queue rebuilds a pandas summary of every event it has kept (up to 10,000) after each event, for a
# monitoring page this app does not serve: 2.4 ms of the server's CPU an event after 100 events, 14 ms after 10,000
# (README: "Web app"). Once in a billion events is never. Set before gradio is imported, unless given.
GRADIO_DEFAULTS = {"GRADIO_ANALYTICS_CACHE_FREQUENCY": "1000000000"}

EXAMPLES = """examples:
  python app.py                                   ./index and ./corpus, on http://127.0.0.1:7860
  python app.py --index /data/rla/index --corpus /data/rla/corpus --port 8080
  RLA_AUTH="trainer:long-passphrase" python app.py --host 0.0.0.0 --allowed-hosts rla.example.org
                                                  shared on the network, behind a login

environment: RLA_INDEX, RLA_CORPUS, RLA_QUESTIONS, RLA_ALLOWED_HOSTS (defaults for the options),
RLA_AUTH="user:password", RLA_CACHE (where the app keeps its private folder of uploads and downloads),
RLA_ANSWER_WORKERS (processes that answer questions; default one per core, at most 4, none on one core; 0: none)
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="app.py",
        description="rla web app: ask the case reviews, browse them, ledger, briefings, evaluation and the corpus.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--index", type=Path, help="index folder (default ./index, env RLA_INDEX)")
    p.add_argument(
        "--corpus", type=Path, help="corpus folder that uploads are saved to (default ./corpus, env RLA_CORPUS)"
    )
    p.add_argument("--questions", type=Path, help="evaluation set (default eval/questions.jsonl, env RLA_QUESTIONS)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this computer only)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument(
        "--allowed-hosts",
        metavar="NAMES",
        help="comma-separated host names the app answers to besides localhost, 127.0.0.1, ::1 and --host "
        "(env RLA_ALLOWED_HOSTS); requests for any other name are refused",
    )
    p.add_argument(
        "--keep-files",
        metavar="MINUTES",
        type=float,
        default=30.0,
        help="minutes an upload not yet added, or a generated download, stays on the server (default 30)",
    )
    return p


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """RLA_AUTH="user:password" → (user, password); unset or empty → no login."""
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise SystemExit('app.py: RLA_AUTH must look like "user:password"')
    return user, password


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    auth = parse_auth(os.environ.get("RLA_AUTH"))
    if args.keep_files <= 0:
        raise SystemExit("app.py: --keep-files must be a positive number of minutes")

    from rag.settings import Settings
    from rag.web.scratch import Scratch
    from rag.web.security import WILDCARDS, allowed_hosts

    names = (args.allowed_hosts or os.environ.get("RLA_ALLOWED_HOSTS") or "").split(",")
    try:
        hosts = allowed_hosts(args.host, [n for n in names if n.strip()])
    except ValueError as e:
        raise SystemExit(f"app.py: --allowed-hosts: {e}") from None
    workers = os.environ.get("RLA_ANSWER_WORKERS", "").strip()
    if workers and not (workers.isascii() and workers.isdigit()):
        raise SystemExit(
            f"app.py: RLA_ANSWER_WORKERS must be a whole number of processes (0: answer in the server's own "
            f"process), not {workers!r}"
        )
    settings = Settings.from_env(corpus=args.corpus, index=args.index, answer_workers=int(workers) if workers else None)
    questions = args.questions or Path(os.environ.get("RLA_QUESTIONS", "eval/questions.jsonl"))
    if args.host not in ("127.0.0.1", "localhost", "::1") and auth is None:
        print(f"app.py: warning: listening on {args.host} without a login; set RLA_AUTH=user:password", file=sys.stderr)
    if args.host in WILDCARDS and not args.allowed_hosts and not os.environ.get("RLA_ALLOWED_HOSTS"):
        print(
            "app.py: warning: only requests for localhost are answered; name this computer with --allowed-hosts",
            file=sys.stderr,
        )

    # Uploads and downloads live in a private folder of this process, removed at exit; Gradio reads these
    # variables when it is imported, so they are set first. No usage statistics leave this machine.
    scratch = Scratch.create(settings.cache, max_age_s=args.keep_files * 60)
    os.environ["GRADIO_TEMP_DIR"] = str(scratch.root)
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    for key, value in GRADIO_DEFAULTS.items():
        os.environ.setdefault(key, value)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))  # until the server takes over
    try:
        from rag.web.app import serve
        from rag.web.library import Library

        lib = Library(settings, questions)
        scratch.start(every_s=min(60.0, args.keep_files * 30))
        serve(lib, scratch, args.host, args.port, auth, hosts)
    finally:
        scratch.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
