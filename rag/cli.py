"""The `rla` command: parse arguments, call the library, print. No retrieval logic lives here."""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import RlaError
from rag.facets import BY
from rag.models import DOCUMENT_KINDS, SECTION_KINDS
from rag.settings import Settings

if TYPE_CHECKING:
    from rag.retrieve import Filters

EXAMPLES = """examples:
  rla ingest                                  build or update the index from ./corpus
  rla reviews                                 list every review
  rla reviews --check                         records with doubtful metadata, and the catalogue.csv line to add
  rla show 2017-durham-baby-bailey            one review with its sections
  rla search "disguised compliance" --k 5     cited excerpts
  rla search --queries questions.txt --json   one JSON line per query
  rla ask "what did reviews say about fathers?"
  rla ledger "was not brought" --json         every review on a topic, counted by year and area
  rla themes                                  the safeguarding themes with their review counts
  rla ask "..." --theme hidden-men            only chunks tagged with a theme
  rla brief "fathers" --out fathers.docx      a briefing pack for trainers (.md, .html or .docx)
  rla ask "what about fathers?" --llm         written by a language model (env RLA_LLM_*), citations checked
  rla eval --mode all                         score the evaluation set
"""


# Filter options: (Filters field, metavar, help). Their names and values go straight to Filters.parse.
FILTER_OPTIONS = (
    ("year_from", "YEAR", "only reviews published in or after YEAR"),
    ("year_to", "YEAR", "only reviews published in or before YEAR"),
    ("area", "AREA", 'e.g. "Croydon" or "Anonymous"'),
    ("type", "TYPE", 'e.g. "serious case review"'),
    ("keyword", "KEYWORD", 'a review keyword, e.g. "disguised compliance"'),
    ("section", "SECTION", ", ".join(SECTION_KINDS)),
    ("theme", "THEME", 'a theme id or name, e.g. "hidden-men" (rla themes lists them)'),
    ("kind", "KIND", "what the record is: " + ", ".join(DOCUMENT_KINDS)),
)


def _add_filters(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("filters")
    for name, metavar, text in FILTER_OPTIONS:
        g.add_argument("--" + name.replace("_", "-"), dest=f"filter_{name}", metavar=metavar, help=text)


def _add_llm(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--llm",
        action="store_true",
        help="let a language model write the text from the excerpts (every sentence must cite them, or the "
        "extractive text is used); configure with env RLA_LLM_PROVIDER (openai|ollama), RLA_LLM_MODEL, "
        "RLA_LLM_BASE_URL, RLA_LLM_API_KEY",
    )


def _llm(args: argparse.Namespace) -> Any:
    if not args.llm:
        return None
    from rag.llm import load_llm

    return load_llm()


def _filters(args: argparse.Namespace) -> Filters:
    from rag.retrieve import Filters

    return Filters.parse({name: getattr(args, f"filter_{name}") for name, _, _ in FILTER_OPTIONS})


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rla",
        description="Review learning assistant: what did child safeguarding case reviews say about X?",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--corpus", type=Path, help="corpus folder (default ./corpus, env RLA_CORPUS)")
    p.add_argument("--index", type=Path, help="index folder (default ./index, env RLA_INDEX)")
    p.add_argument(
        "--model", help="sentence-transformers model name or folder (default: bundled all-MiniLM-L6-v2; env RLA_MODEL)"
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("ingest", help="build or update the index from the corpus folder")
    s.add_argument("paths", nargs="*", type=Path, help="only (re)read these files or folders")
    s.add_argument("--rebuild", action="store_true", help="ignore the existing index and embed everything again")
    s.add_argument(
        "--wait", type=float, default=0.0, metavar="SECONDS", help="wait this long for another ingest to finish"
    )
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_ingest)

    s = sub.add_parser("reviews", help="list every review in the index")
    s.add_argument(
        "--check",
        action="store_true",
        help="only records with missing or doubtful metadata, each with the catalogue.csv line that corrects it",
    )
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_reviews)

    s = sub.add_parser("show", help="one review record with its sections")
    s.add_argument("review_id")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_show)

    s = sub.add_parser("search", help="excerpts that match a query")
    s.add_argument("query", nargs="?")
    s.add_argument("--queries", type=Path, metavar="FILE", help="one query per line, answered in one process")
    s.add_argument("--k", type=int, default=10)
    s.add_argument("--mode", choices=("dense", "bm25", "hybrid"), default="hybrid")
    s.add_argument("--per-review", type=int, metavar="N", help="at most N excerpts from one review (default 1)")
    _add_filters(s)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_search)

    s = sub.add_parser("ask", help="a cited answer made of review excerpts")
    s.add_argument("question")
    s.add_argument("--k", type=int, default=10, help="at most this many quoted statements (default 10)")
    s.add_argument("--mode", choices=("dense", "bm25", "hybrid"), default="hybrid")
    _add_llm(s)
    _add_filters(s)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_ask)

    s = sub.add_parser("ledger", help="every review that addresses a topic, counted by year and area")
    s.add_argument("topic")
    _add_filters(s)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_ledger)

    s = sub.add_parser("themes", help="the safeguarding themes, each with the number of reviews that name it")
    _add_filters(s)
    s.add_argument("--all", action="store_true", help="also the themes no review names")
    s.add_argument("--by", choices=BY, help="split each theme's count by year, area, kind or type")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_themes)

    s = sub.add_parser(
        "brief",
        help="a briefing pack for trainers on a topic: themed learning points, recommendations, vignettes, questions",
        epilog='example: rla brief "disguised compliance" --year-from 2017 --out disguised-compliance.docx',
    )
    s.add_argument("topic")
    s.add_argument(
        "--out", type=Path, metavar="FILE", help="write to FILE: .md, .html or .docx (default: Markdown on stdout)"
    )
    _add_llm(s)
    _add_filters(s)
    s.add_argument("--json", action="store_true", help="the pack as JSON on stdout")
    s.set_defaults(func=cmd_brief)

    s = sub.add_parser("eval", help="score retrieval, answers and the ledger on the evaluation set")
    s.add_argument("--mode", choices=("dense", "bm25", "hybrid", "all"), default="all")
    s.add_argument("--questions", type=Path, default=Path("eval/questions.jsonl"))
    s.add_argument("--json", action="store_true", help="the full report, per question too")
    s.add_argument("--csv", type=Path, metavar="FILE", help="also write the metrics as CSV")
    s.set_defaults(func=cmd_eval)

    return p


def settings_from(args: argparse.Namespace, **more: Any) -> Settings:
    return Settings.from_env(corpus=args.corpus, index=args.index, model=args.model, **more)


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False))


def cmd_ingest(args: argparse.Namespace) -> int:
    from rag.ingest import ingest
    from rag.ui_text import ingest_summary, progress_bar

    settings = settings_from(args)
    with progress_bar(enabled=not args.json) as progress:
        report = ingest(settings, args.paths or None, rebuild=args.rebuild, progress=progress, wait_s=args.wait)
    if args.json:
        _print_json(report.to_dict())
    else:
        print(ingest_summary(report, settings))
        for warning in report.warnings:
            print(f"rla: warning: {warning}", file=sys.stderr)
    return 0


def cmd_reviews(args: argparse.Namespace) -> int:
    from rag.store import open_index
    from rag.ui_text import review_rows, reviews_text

    data = open_index(settings_from(args).index)
    if args.check:
        from rag.catalogue_check import doubts, doubts_text

        found = doubts(data.reviews.values())
        if args.json:
            _print_json([d.to_dict() for d in found])
        else:
            print(doubts_text(found, len(data.reviews)))
        return 0
    rows = review_rows(data)
    if args.json:
        _print_json(rows)
    else:
        print(reviews_text(rows))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from rag.store import open_index
    from rag.ui_text import review_record, review_text

    data = open_index(settings_from(args).index)
    if args.review_id not in data.reviews:
        raise RlaError(f"no review {args.review_id!r}; list ids with: rla reviews")
    if args.json:
        _print_json(review_record(data, args.review_id))
    else:
        print(review_text(data, args.review_id))
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from rag.retrieve import Retriever
    from rag.ui_text import hits_text

    if (args.query is None) == (args.queries is None):
        raise RlaError('give a QUERY or --queries FILE (one query per line), e.g. rla search "fathers"')
    queries = [args.query] if args.queries is None else _read_queries(args.queries)
    retriever = Retriever(settings_from(args))
    results = retriever.search_many(
        queries, k=args.k, mode=args.mode, filters=_filters(args), per_review=args.per_review
    )
    for q, hits in zip(queries, results, strict=True):
        if args.json:
            _print_json({"query": q, "hits": [h.to_dict() for h in hits]})
        else:
            print(hits_text(q, hits))
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from rag.answer import answer, answer_markdown
    from rag.retrieve import Retriever

    llm, filters = _llm(args), _filters(args)
    retriever = Retriever(settings_from(args))
    if llm is not None:
        from rag.llm import generate_answer

        ans = generate_answer(retriever, args.question, llm, k=args.k, filters=filters, mode=args.mode)
    else:
        ans = answer(retriever, args.question, k=args.k, filters=filters, mode=args.mode)
    if args.json:
        _print_json(ans.to_dict())
    else:
        print(answer_markdown(ans))
    return 0


def cmd_ledger(args: argparse.Namespace) -> int:
    from rag.ledger import ledger, ledger_text
    from rag.retrieve import EMPTY_LEDGER_TOPIC, Retriever, clean_query

    topic = clean_query(args.topic, EMPTY_LEDGER_TOPIC)
    led = ledger(Retriever(settings_from(args)), topic, filters=_filters(args))
    if args.json:
        _print_json(led.to_dict())
    else:
        print(ledger_text(led))
    return 0


def cmd_themes(args: argparse.Namespace) -> int:
    from rag.facets import by_counted_kind, records_by_theme, theme_table
    from rag.models import COUNTED_KINDS
    from rag.retrieve import Retriever
    from rag.themes import load_themes
    from rag.ui_text import count_noun

    retriever = Retriever(settings_from(args))
    allowed = retriever.mask(_filters(args))
    counts = {
        tid: by_counted_kind(retriever.data, ids) for tid, ids in records_by_theme(retriever.data, allowed).items()
    }
    split = theme_table(retriever.data, allowed, args.by) if args.by else {}
    rows = [(t, counts.get(t.id, Counter())) for t in load_themes()]
    rows = sorted((r for r in rows if r[1] or args.all), key=lambda r: (-r[1]["review"], -r[1].total(), r[0].name))
    if args.json:
        out = [
            {"id": t.id, "name": t.name, **{f"{k}s" if k != "analysis" else "analyses": c[k] for k in COUNTED_KINDS}}
            for t, c in rows
        ]
        for d in out if args.by else ():
            d[f"by_{args.by}"] = dict(sorted(split.get(str(d["id"]), {}).items()))
        _print_json(out)
        return 0
    if not counts:
        print("No chunk in this index is tagged with a theme; rebuild it with: rla ingest --rebuild")
    print("reviews  theme  (id)  [briefings and analyses beside]")
    for t, c in rows:
        beside = ", ".join(count_noun(c[k], k) for k in COUNTED_KINDS[1:] if c[k])
        print(f"{c['review']:7d}  {t.name}  ({t.id}){f'  [+ {beside}]' if beside else ''}")
        if args.by and c:
            parts = sorted(split[t.id].items(), key=lambda kv: (kv[0], 0) if args.by == "year" else (-kv[1], kv[0]))
            line = " · ".join(f"{value} {n}" for value, n in parts)
            print(textwrap.fill(line, 100, initial_indent=" " * 9, subsequent_indent=" " * 9))
    return 0


def cmd_brief(args: argparse.Namespace) -> int:
    from rag.brief import build_brief, check_output, render_markdown, write_brief
    from rag.retrieve import EMPTY_BRIEF_TOPIC, Retriever, clean_query
    from rag.ui_text import records_text

    if args.out:
        check_output(args.out)
    topic = clean_query(args.topic, EMPTY_BRIEF_TOPIC)
    llm, filters = _llm(args), _filters(args)
    pack = build_brief(Retriever(settings_from(args)), topic, filters if filters.active() else None, llm=llm)
    if args.out:
        path = write_brief(pack, args.out)
        print(f"wrote {path}: {records_text(pack.kinds)} on the topic, {len(pack.references)} quoted", file=sys.stderr)
        if pack.notice:
            print(f"note: {pack.notice}", file=sys.stderr)
    elif args.json:
        _print_json(pack.to_dict())
    else:
        print(render_markdown(pack), end="")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from rag.evaluate import evaluate, load_questions, report_csv, report_table
    from rag.retrieve import MODES, Retriever

    modes = list(MODES) if args.mode == "all" else [args.mode]
    report = evaluate(Retriever(settings_from(args)), load_questions(args.questions), modes)
    if args.csv:
        args.csv.write_text(report_csv(report), encoding="utf-8")
    if args.json:
        _print_json(report.to_dict())
    else:
        print(report_table(report))
    return 0


def _read_queries(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise RlaError(f"cannot read queries file {path}: {e}") from e
    # Blank lines, and lines of nothing but control characters (a stray NUL), are not queries.
    queries = [line.strip() for line in lines if line.strip() and any(ch.isprintable() for ch in line.strip())]
    if not queries:
        raise RlaError(f"{path} has no queries (one per line)")
    return queries


def main(argv: list[str] | None = None) -> int:
    # A terminal that cannot show a character (an ASCII locale, say) gets an escape, not a crash.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except RlaError as e:
        print(f"rla: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (`rla themes | head`): nothing to say, and nothing more to flush
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:  # a disk, permission or file problem the library did not foresee
        print(
            f"rla: {e.strerror or e}{f' ({e.filename})' if e.filename else ''}; check the file and try again",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print("rla: interrupted; the index is unchanged unless a new generation was completed", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
