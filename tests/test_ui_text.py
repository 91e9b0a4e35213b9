"""Plain-text views: `rla reviews` lists every record with the columns the README promises, nothing cut."""

from __future__ import annotations

from rag.cli import main
from rag.settings import Settings
from rag.store import open_index
from rag.ui_text import review_rows


def test_rla_reviews_lists_every_record_whole(built_index: Settings, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["--index", str(built_index.index), "reviews"]) == 0
    out = capsys.readouterr().out
    flat = " ".join(out.split())
    rows = review_rows(open_index(built_index.index))
    for r in rows:
        assert r["id"] in out and r["source"] in out
        assert " ".join(r["title"].split()) in flat  # wrapped on word boundaries, never cut
        assert all(k in flat for k in r["keywords"])
    assert max(len(line) for line in out.splitlines()) <= 120
    assert out.splitlines()[-1] == "1 analysis, 86 listing entries"
