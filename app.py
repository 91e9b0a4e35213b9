"""The web app's entry point: parse arguments, load the index, launch. The app itself lives in rag/webapp.py."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

EXAMPLES = """examples:
  python app.py                                   ./index and ./corpus, on http://127.0.0.1:7860
  python app.py --index /data/rla/index --corpus /data/rla/corpus --port 8080
  RLA_AUTH="trainer:long-passphrase" python app.py --host 0.0.0.0   shared on the network, behind a login

environment: RLA_INDEX, RLA_CORPUS, RLA_QUESTIONS (defaults for the options), RLA_AUTH="user:password"
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
    # Before gradio is imported: no usage statistics leave this machine.
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

    from rag.settings import Settings
    from rag.webapp import Library, build_app, launch_options

    settings = Settings.from_env(corpus=args.corpus, index=args.index)
    questions = args.questions or Path(os.environ.get("RLA_QUESTIONS", "eval/questions.jsonl"))
    if args.host not in ("127.0.0.1", "localhost", "::1") and auth is None:
        print(f"app.py: warning: listening on {args.host} without a login; set RLA_AUTH=user:password", file=sys.stderr)
    lib = Library(settings, questions)
    print(f"app.py: loading the index at {settings.index} …", file=sys.stderr, flush=True)
    lib.try_load()
    demo = build_app(lib)
    demo.queue(default_concurrency_limit=2)
    demo.launch(**launch_options(settings, args.host, args.port, auth))
    return 0


if __name__ == "__main__":
    sys.exit(main())
