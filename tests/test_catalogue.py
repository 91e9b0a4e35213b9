"""corpus/catalogue.csv: rows checked line by line, applied after parsing, undone when removed, never re-embedding;
and `rla reviews --check`, which lists what to correct with the line to add."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import rag.embed
from rag.catalogue import (
    COLUMNS,
    Catalogue,
    CatalogueError,
    apply_catalogue,
    as_parsed,
    parse_rows,
    read_catalogue,
    save_rows,
    warnings,
    with_catalogue,
)
from rag.catalogue_check import doubts, doubts_text
from rag.cli import main
from rag.ingest import ingest
from rag.models import REVIEW_TYPES, Chunk, Review, Section
from rag.settings import Settings
from rag.store import current_generation, open_index

HEADER = "file,id,title,area,partnership,year,month,type,kind,child,author,url,keywords\n"


def _review(**kw: Any) -> Review:
    base: dict[str, Any] = {
        "id": "child-m",
        "title": "Serious Case Review: Child M",
        "year": 2019,
        "area": "Northshire",
        "type": "serious case review",
        "keywords": ("neglect",),
        "methodology": None,
        "source": "northshire-scr-child-m.pdf",
        "start": 0,
        "end": 100,
        "sections": (Section("learning", "Findings", 0, 100),),
        "child": "Child M",
    }
    return Review(**{**base, **kw})


def _chunk(r: Review) -> Chunk:
    return Chunk(f"{r.id}#0", r.id, "learning", r.source, 0, 10, "x" * 10, None, r.title, r.year, r.area, r.type)


def _catalogue(text: str, tmp_path: Path) -> Catalogue:
    path = tmp_path / "catalogue.csv"
    path.write_text(text, encoding="utf-8")
    return read_catalogue(path)


# --- reading and checking --------------------------------------------------------------------------------


def test_a_row_sets_each_field_in_its_type() -> None:
    rows = parse_rows(
        "file,title,area,published,type,kind,child,author,url,keywords\n"
        'a.pdf,"Child M, the review",Northshire,March 2019,SCR,review,Child M,J. Smith,https://example.org/m.pdf,'
        "neglect; fathers ;neglect\n",
        "catalogue.csv",
    )
    (row,) = rows
    assert (row.line, row.file, row.id) == (2, "a.pdf", None)
    assert row.as_dict() == {
        "title": "Child M, the review",
        "area": "Northshire",
        "month": "March",
        "year": 2019,
        "type": "serious case review",
        "kind": "review",
        "child": "Child M",
        "author": "J. Smith",
        "url": "https://example.org/m.pdf",
        "keywords": ("neglect", "fathers"),
    }


def test_blank_cells_keep_what_parsing_found_and_a_dash_says_none() -> None:
    (row,) = parse_rows("file,id,title,child,type\nlisting.txt,2022-emma,,-,-\n", "c.csv")
    assert row.id == "2022-emma"
    assert row.as_dict() == {"child": None, "type": None}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("file,colour\na.pdf,red\n", "c.csv:1: unknown column 'colour'; the columns are file, id, title"),
        ("title\nChild M\n", "c.csv:1: no file column"),
        ("file,year\na.pdf,2019\nb.pdf,20019\n", "c.csv:3: year '20019' is not a year from 1900 to"),
        ("file,year\na.pdf,2008-ish\n", "c.csv:2: year '2008-ish' is not a year"),
        ("file,kind\na.pdf,report\n", "c.csv:2: kind 'report' is not one of review, briefing, analysis, listing entry"),
        ("file,type\na.pdf,inquiry\n", "c.csv:2: type 'inquiry' is not a known review type; use one of"),
        ("file,url\na.pdf,javascript:alert(1)\n", "c.csv:2: url 'javascript:alert(1)' is not a web address"),
        ("file,month\na.pdf,Smarch\n", "c.csv:2: month 'Smarch' is not a month"),
        ("file,published\na.pdf,soon\n", "c.csv:2: published 'soon' is not a date"),
        ("file,area\na.pdf,-\n", 'c.csv:2: area cannot be "-"'),
        ("file,area\n,Northshire\n", "c.csv:2: no file; name the corpus file"),
        ("file,area\n../etc/passwd,X\n", "c.csv:2: file '../etc/passwd' is not a path inside the corpus folder"),
        ("file,area\na.pdf,X\n\na.pdf,Y\n", "c.csv:4: a.pdf already has a row (line 2); merge the two rows"),
        ("file,area\na.pdf,X,Y\n", "c.csv:2: 3 cells for 2 columns; quote a value that holds a comma"),
        ("file,area,area\na.pdf,X,Y\n", "c.csv:1: a column is named twice"),
        ("file,area,\na.pdf,X,\n", "c.csv:1: column 3 has no name; name it or delete the empty column"),
    ],
)
def test_a_bad_catalogue_is_refused_in_one_line_naming_its_line_and_the_fix(text: str, says: str) -> None:
    with pytest.raises(CatalogueError) as e:
        parse_rows(text, "c.csv")
    assert str(e.value).startswith(says)
    assert "\n" not in str(e.value)


def test_a_catalogue_that_is_not_utf8_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.csv"
    path.write_bytes(b"file,area\na.pdf,X\nb.pdf,Caf\xe9\n")
    with pytest.raises(CatalogueError, match=r"catalogue.csv:3: not UTF-8 text; save the file as CSV UTF-8"):
        read_catalogue(path)


def test_no_catalogue_is_an_empty_one(tmp_path: Path) -> None:
    cat = read_catalogue(tmp_path / "catalogue.csv")
    assert (cat.digest, cat.rows) == (None, ())


def test_every_type_the_parsers_name_is_a_type_the_catalogue_accepts() -> None:
    from rag import metadata, parse

    named = {t for _, t in metadata._TYPES} | {t for _, t in parse._TYPES}
    assert named <= set(REVIEW_TYPES)


# --- applying and undoing -----------------------------------------------------------------------------------


def test_a_row_overrides_a_record_and_its_chunks_and_removing_it_restores_what_parsing_found(tmp_path: Path) -> None:
    parsed = _review(area="Anonymous", child=None)
    cat = _catalogue(HEADER + "northshire-scr-child-m.pdf,,,Northshire,,2020,,,,Child M,,https://x.org/m,\n", tmp_path)
    (r,), (c,), changed = apply_catalogue(cat, [parsed], [_chunk(parsed)])
    assert changed == {"child-m"}
    assert (r.area, r.year, r.child, r.url) == ("Northshire", 2020, "Child M", "https://x.org/m")
    assert (c.area, c.year, c.url) == ("Northshire", 2020, "https://x.org/m")
    assert dict(r.parsed) == {"area": "Anonymous", "year": 2019, "child": None, "url": None}
    # Stored and read back, the record still knows what parsing found.
    again = Review.from_dict(json.loads(json.dumps(r.to_dict())))
    assert again == r
    assert as_parsed(again) == parsed
    # The row gone: every value parsing found comes back, without reading the file.
    (back,), (c2,), changed = apply_catalogue(_catalogue(HEADER, tmp_path), [again], [c])
    assert back == parsed and changed == {"child-m"}
    assert (c2.area, c2.year, c2.url) == ("Anonymous", 2019, None)


def test_a_record_row_wins_over_its_file_row_and_other_records_keep_theirs(tmp_path: Path) -> None:
    a, b = _review(id="a", source="list.txt"), _review(id="b", source="list.txt")
    cat = _catalogue("file,id,area,url\nlist.txt,b,Eastmere,\nlist.txt,,Westhaven,https://x.org/list\n", tmp_path)
    ra, rb = (with_catalogue(r, cat) for r in (a, b))
    assert (ra.area, ra.url) == ("Westhaven", "https://x.org/list")
    assert (rb.area, rb.url) == ("Eastmere", "https://x.org/list")


def test_a_record_as_parsed_is_stored_as_it_always_was() -> None:
    d = _review().to_dict()
    assert "parsed" not in d and "url" not in d


def test_rows_naming_no_corpus_file_or_record_are_warnings_not_errors(tmp_path: Path) -> None:
    cat = _catalogue(
        "file,id,area\nnorthshire-scr-child-m.pdf,,X\ngone.pdf,,Y\nnorthshire-scr-child-m.pdf,nope,Z\n", tmp_path
    )
    assert warnings(cat, [_review()], ["northshire-scr-child-m.pdf"]) == [
        "catalogue.csv:3: gone.pdf is not in the corpus folder; fix the name or remove the row",
        "catalogue.csv:4: northshire-scr-child-m.pdf has no record nope; "
        "see its ids with rla reviews, or remove the row",
    ]


def test_saving_rows_merges_cells_and_refuses_a_bad_edit_without_writing(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.csv"
    path.write_text("file,area,published\na.pdf,Northshire,March 2019\n", encoding="utf-8")
    cat = save_rows(path, [{"file": "a.pdf", "title": "Child M", "area": ""}, {"file": "b.pdf", "year": "2021"}])
    assert [r.as_dict() for r in cat.rows] == [
        {"title": "Child M", "area": "Northshire", "year": 2019, "month": "March"},
        {"year": 2021},
    ]
    before = path.read_bytes()
    with pytest.raises(CatalogueError, match=r"catalogue.csv:3: year '21' is not a year"):
        save_rows(path, [{"file": "b.pdf", "year": "21"}])
    assert path.read_bytes() == before


# --- what to correct ----------------------------------------------------------------------------------------


def test_doubtful_records_come_with_their_reasons_and_a_line_to_fill_in() -> None:
    records = [
        _review(),  # nothing to doubt
        _review(id="w", source="w.pdf", title="Microsoft Word - SCR final v3.docx", area="Anonymous", year=None),
        _review(id="g", source="g.pdf", title="SERIOUS CASE REVIEW", year=1975, type=None, child=None),
        _review(id="f", source="x/child-q-report.pdf", title="Child q report"),
        _review(id="c", source="c.pdf", title="The Overview Report into a"),
        _review(id="a", source="a.pdf", title="Baby A", kind="listing entry", child=None),
    ]
    found = {d.review_id: d for d in doubts(records, this_year=2026)}
    assert set(found) == {"w", "g", "f", "c"}
    assert found["w"].reasons == (
        "no year",
        "no area (Anonymous)",
        'title "Microsoft Word - SCR final v3.docx" is a word processor\'s window title',
    )
    assert found["g"].reasons == (
        "year 1975 is outside 1989–2026",
        "no type",
        'title "SERIOUS CASE REVIEW" does not say which review',
        "a review with no child named",
    )
    assert "looks like a file name" in found["f"].reasons[0]
    assert "looks cut mid-line" in found["c"].reasons[0]
    # The line holds what parsing found and leaves the doubtful cells blank; it is a valid catalogue row.
    assert found["w"].line == "w.pdf,,,,,,,serious case review,review,Child M,,,neglect"
    (row,) = parse_rows(",".join(COLUMNS) + "\n" + found["w"].line + "\n", "c.csv")
    assert row.as_dict() == {
        "type": "serious case review",
        "kind": "review",
        "child": "Child M",
        "keywords": ("neglect",),
    }
    assert "4 of 6 records have missing or doubtful metadata" in doubts_text(list(found.values()), 6)


# --- in ingest: the real parser, the real model, a real index ---------------------------------------------------


@pytest.fixture()
def counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many texts the embedding model is asked for, whoever loads it."""
    texts: list[int] = []
    real = rag.embed.load_embedder

    def counting(name: str) -> Any:
        embedder = real(name)
        inner = embedder.embed_batch

        def embed_batch(batch: list[str], *a: Any, **kw: Any) -> Any:
            texts.append(len(batch))
            return inner(batch, *a, **kw)

        embedder.embed_batch = embed_batch  # type: ignore[method-assign,assignment]
        return embedder

    monkeypatch.setattr(rag.embed, "load_embedder", counting)
    return texts


def _cli(settings: Settings, *argv: str) -> list[str]:
    return ["--corpus", str(settings.corpus), "--index", str(settings.index), *argv]


def test_a_catalogue_change_re_embeds_nothing_and_its_metadata_is_served(
    small_copy: Settings, counted: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    from rag.retrieve import Filters, Retriever

    catalogue = small_copy.corpus / "catalogue.csv"
    catalogue.write_text(
        "file,id,area,partnership,url\n"
        "nspcc-repository-march-2022.txt,2022-emma,Exampleton,Exampleton Safeguarding Children Partnership,"
        "https://example.org/emma.pdf\n"
        "cumbria-lessons-from-scrs.txt,,,,https://example.org/cumbria\n",
        encoding="utf-8",
    )
    before = current_generation(small_copy.index)
    report = ingest(small_copy)
    assert sum(counted) == 0 and report.embedded == 0
    assert {f.source: f.status for f in report.files} == {
        "cumbria-lessons-from-scrs.txt": "updated",
        "nspcc-repository-march-2022.txt": "updated",
    }
    assert report.changed and current_generation(small_copy.index) != before
    data = open_index(small_copy.index)
    assert data.manifest.catalogue == hashlib.sha256(catalogue.read_bytes()).hexdigest()
    emma = data.reviews["2022-emma"]
    assert (emma.area, emma.partnership, emma.url) == (
        "Exampleton",
        "Exampleton Safeguarding Children Partnership",
        "https://example.org/emma.pdf",
    )
    assert all(r.url == "https://example.org/cumbria" for r in data.reviews.values() if r.source.startswith("cumbria"))

    hits = Retriever(small_copy).search("learning from the review", k=5, filters=Filters(area="exampleton"))
    assert hits and {h.chunk.review_id for h in hits} == {"2022-emma"}
    assert hits[0].to_dict()["area"] == "Exampleton"
    assert hits[0].to_dict()["url"] == "https://example.org/emma.pdf"

    assert main(_cli(small_copy, "show", "2022-emma")) == 0
    shown = capsys.readouterr().out
    assert "area: Exampleton" in shown and "url: https://example.org/emma.pdf" in shown
    assert "corrected in catalogue.csv; parsing found: area 'Anonymous', partnership (none), url (none)" in shown

    # Unchanged again: nothing written; the row removed: what parsing found is back, still nothing embedded.
    assert not ingest(small_copy).changed
    catalogue.write_text("file,id,area\n", encoding="utf-8")
    report = ingest(small_copy)
    assert sum(counted) == 0 and report.changed
    emma = open_index(small_copy.index).reviews["2022-emma"]
    assert (emma.area, emma.url, emma.parsed) == ("Anonymous", None, ())


def test_a_bad_catalogue_stops_ingest_in_one_line_and_the_live_index_stays(
    small_copy: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    (small_copy.corpus / "catalogue.csv").write_text("file,year\ncumbria-lessons-from-scrs.txt,19\n", encoding="utf-8")
    before = current_generation(small_copy.index)
    assert main(_cli(small_copy, "ingest")) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rla: ") and "catalogue.csv:2: year '19' is not a year from 1900" in err
    assert "\n" not in err
    assert current_generation(small_copy.index) == before
    assert main(_cli(small_copy, "reviews")) == 0


def test_a_row_for_a_missing_file_is_a_warning_and_the_rest_applies(
    small_copy: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    (small_copy.corpus / "catalogue.csv").write_text(
        "file,id,area\nnot-here.pdf,,Nowhere\nnspcc-repository-march-2022.txt,2022-liam,Eastmere\n", encoding="utf-8"
    )
    assert main(_cli(small_copy, "ingest")) == 0
    out = capsys.readouterr()
    assert "rla: warning: catalogue.csv:2: not-here.pdf is not in the corpus folder" in out.err
    assert open_index(small_copy.index).reviews["2022-liam"].area == "Eastmere"


def test_check_lists_what_to_correct_and_its_line_once_filled_in_settles_it(
    small_copy: Settings, counted: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_cli(small_copy, "reviews", "--check", "--json")) == 0
    found = {d["id"]: d for d in json.loads(capsys.readouterr().out)}
    emma = found["2022-emma"]
    assert "no area (Anonymous)" in emma["reasons"]
    assert emma["line"].startswith("nspcc-repository-march-2022.txt,2022-emma,Emma Learning Review Report,,")
    assert main(_cli(small_copy, "reviews", "--check")) == 0
    text = capsys.readouterr().out
    assert "2022-emma  (nspcc-repository-march-2022.txt)" in text and emma["line"] in text

    row = dict(emma["row"], area="Westhaven")
    save_rows(small_copy.corpus / "catalogue.csv", [{k: str(v) for k, v in row.items()}])
    assert main(_cli(small_copy, "ingest")) == 0
    assert sum(counted) == 0
    capsys.readouterr()
    assert main(_cli(small_copy, "reviews", "--check", "--json")) == 0
    after = {d["id"]: d for d in json.loads(capsys.readouterr().out)}
    assert "2022-emma" not in after


# --- the Corpus tab's tables (rag/web/catalogue.py) ---------------------------------------------------------------

DOCS = Path(__file__).resolve().parent / "docs"


def test_an_upload_is_described_as_ingest_would_parse_it(tmp_path: Path) -> None:
    from rag.web.catalogue import describe_upload

    expected = json.loads((DOCS / "expected" / "northshire-scr-child-m.json").read_text(encoding="utf-8"))
    row = describe_upload(DOCS / "northshire-scr-child-m.pdf", "child m.pdf", Settings(corpus=tmp_path))
    assert row["file"] == "child m.pdf"
    for key in ("title", "area", "partnership", "type", "kind"):
        assert row[key] == expected[key]
    assert (row["year"], row["url"]) == (str(expected["year"]), "")
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 not really")
    assert describe_upload(broken, "broken.pdf", Settings(corpus=tmp_path))["note"].startswith("cannot be read: ")


def test_an_upload_added_before_its_parse_finished_shows_no_fields_again(tmp_path: Path) -> None:
    """ "Add" clicked while an upload was still being parsed: the add discards the server's copy, and the parse
    finishing after it must not show the file's catalogue fields again (nothing is left to add)."""
    from rag.web.admin import Keeper
    from rag.web.library import Library
    from rag.web.scratch import Scratch

    settings = Settings(corpus=tmp_path / "corpus", index=tmp_path / "index")
    scratch = Scratch(tmp_path / "scratch", 60)
    keeper = Keeper(Library(settings, tmp_path / "questions.jsonl"), scratch)
    kept, added = tmp_path / "scratch" / "a" / "child q.md", tmp_path / "scratch" / "b" / "child r.md"
    for f in (kept, added):
        f.parent.mkdir(parents=True)
        f.write_text(f"# {f.stem} review\n\nLearning: the school saw the bruises.\n", encoding="utf-8")
    shown, rows, _ = keeper.describe([str(kept), str(added)])
    assert shown["visible"] and [r["file"] for r in rows] == ["child q.md", "child r.md"]
    assert scratch.discard(added)  # what an add does with each upload once it is saved or refused
    shown, rows, _ = keeper.describe([str(kept), str(added)])
    assert shown["visible"] and [r["file"] for r in rows] == ["child q.md"]
    scratch.discard(kept)
    shown, rows, _ = keeper.describe([str(kept), str(added)])
    assert not shown["visible"] and rows == []


def test_only_the_cells_a_keeper_changed_become_catalogue_cells(tmp_path: Path) -> None:
    from rag.web.catalogue import check_edits, doubt_edits, upload_edits

    parsed = [{"file": "a b.pdf", "title": "Child M", "area": "Anonymous", "year": "2019", "url": ""}]
    edited = [{**parsed[0], "area": "Northshire", "url": " https://x.org/m.pdf "}]
    saved = [("a b.pdf", tmp_path / "corpus" / "a-b.pdf")]
    assert upload_edits(saved, edited, parsed, tmp_path / "corpus") == [
        {"file": "a-b.pdf", "area": "Northshire", "url": "https://x.org/m.pdf"}
    ]
    assert upload_edits(saved, parsed, parsed, tmp_path / "corpus") == []

    shown = [
        {"file": "l.txt", "id": "2022-emma", "why": "no area", "area": "", "year": "2022", "row_id": "2022-emma"},
        {"file": "one.pdf", "id": "one", "why": "no year", "area": "X", "year": "", "row_id": ""},
    ]
    edited_rows = [{**shown[0], "area": "Eastmere"}, {**shown[1], "year": "2020", "area": ""}]
    assert doubt_edits(edited_rows, shown) == [
        {"file": "l.txt", "id": "2022-emma", "area": "Eastmere"},
        {"file": "one.pdf", "id": "", "year": "2020"},  # one record in its file: named by the file alone
    ]
    with pytest.raises(CatalogueError, match=r"^one.pdf: year '20x0' is not a year"):
        check_edits([{"file": "one.pdf", "id": "", "year": "20x0"}])


def test_a_reference_carries_the_catalogue_url() -> None:
    from rag.ui_text import reference_line

    cited = {"title": "Child M", "year": 2019, "area": "Northshire", "source": "m.pdf", "page": 4}
    assert reference_line(cited).endswith("source file: m.pdf.")
    assert reference_line({**cited, "url": "https://x.org/m.pdf"}).endswith(
        "source file: m.pdf. Available at https://x.org/m.pdf"
    )


def test_vectors_come_from_the_records_as_parsed_so_a_rebuild_gives_the_same_index(small_copy: Settings) -> None:
    import numpy as np

    (small_copy.corpus / "catalogue.csv").write_text(
        "file,id,title,area\nnspcc-repository-march-2022.txt,2022-liam,Learning Review: Liam and his father,Eastmere\n",
        encoding="utf-8",
    )
    assert ingest(small_copy).embedded == 0
    incremental = open_index(small_copy.index)
    vectors, titles = incremental.vectors.copy(), [c.title for c in incremental.chunks]
    assert "Learning Review: Liam and his father" in titles
    assert ingest(small_copy, rebuild=True).embedded == len(titles)
    rebuilt = open_index(small_copy.index)
    assert [c.title for c in rebuilt.chunks] == titles
    assert np.allclose(rebuilt.vectors, vectors, atol=1e-5)
    assert rebuilt.reviews["2022-liam"] == incremental.reviews["2022-liam"]


def test_a_corrected_title_leaves_the_record_s_themes_as_its_text_gives_them(tmp_path: Path) -> None:
    """A record's themes are what its text addresses (rag.themes.tag_text), not what a catalogue title says."""
    parsed = replace(_review(title="Serious Case Review: Child M"), themes=("neglect",))
    chunk = replace(_chunk(parsed), themes=("neglect",))
    cat = _catalogue("file,title\nnorthshire-scr-child-m.pdf,Child M: domestic abuse and the baby's father\n", tmp_path)
    (r,), (c,), changed = apply_catalogue(cat, [parsed], [chunk])
    assert changed == {"child-m"} and r.title.startswith("Child M: domestic abuse")
    assert r.themes == c.themes == ("neglect",)


def test_a_manifest_whose_catalogue_digest_is_not_a_sha256_is_refused(small_index: Settings) -> None:
    from rag.errors import IndexCorrupt
    from rag.manifest import Manifest

    data = open_index(small_index.index)
    obj = data.manifest.to_json()
    assert "catalogue" not in obj  # built without a catalogue: the manifest keeps its old shape
    digest = "ab" * 32
    assert Manifest.parse({**obj, "catalogue": digest}, data.path).catalogue == digest
    with pytest.raises(IndexCorrupt, match=r"catalogue is 'nope', not a SHA-256"):
        Manifest.parse({**obj, "catalogue": "nope"}, data.path)


def test_the_corpus_tab_refuses_to_add_files_while_the_catalogue_is_broken_and_says_why(
    small_copy: Settings, tmp_path: Path
) -> None:
    from rag.web.admin import Keeper
    from rag.web.library import Library
    from rag.web.scratch import Scratch

    lib = Library(small_copy, tmp_path / "questions.jsonl")
    keeper = Keeper(lib, Scratch(tmp_path / "scratch", 60))
    _, rows, note = keeper.load_doubts()
    assert any(r["id"] == "2022-emma" for r in rows) and "records have missing or doubtful metadata" in note

    (small_copy.corpus / "catalogue.csv").write_text("file,colour\nx.pdf,red\n", encoding="utf-8")
    upload = tmp_path / "child-q.md"
    upload.write_text("# Child Q review\n\nLearning: the school saw the bruises.\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"catalogue.csv:1: unknown column 'colour'"):
        keeper.add([str(upload)], False, lambda *a, **k: None, False)
    assert upload.exists() and not (small_copy.corpus / "child-q.md").exists()  # nothing saved, nothing lost
    assert "unknown column 'colour'" in keeper.load_doubts()[2]
