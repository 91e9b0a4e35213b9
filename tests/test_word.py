"""Word documents (.docx) as a user holds them: a fictional practice review saved by Word — cover with a text box,
contents field, numbered headings and paragraphs from a multi-level list, Symbol bullets, a table, a footnote,
tracked changes, hidden text, a comment, running head and footer — read by the real reader, parsed, chunked and
indexed with the real model."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from docxgen import LIST_STYLE_NUMBERING, docx

from rag.errors import SourceError
from rag.settings import Settings
from rag.sources import read_source

REPORT = [
    ("title", "Child Safeguarding Practice Review: Child D"),
    ("normal", "Westmarsh Safeguarding Children Partnership"),
    ("normal", "Lead reviewer: Ruth Okafor"),
    ("normal", "Published: May 2022"),
    ("box", "OFFICIAL – for publication"),
    ("page-break",),
    ("contents",),
    ("page-break",),
    ("h1", "Introduction"),
    ("para", "Child D was eleven weeks old when she was taken to hospital with a fractured skull and bruising."),
    (
        "para",
        "This review was carried out under the national guidance[^1] and looks at the six months before her "
        "admission.[h DRAFT: check these dates with the police h]",
    ),
    ("h1", "The family and the agencies involved"),
    (
        "para",
        "Child D lived with her mother and her mother's partner, Mr E, who was not known to the health visitor as a "
        "member of the household.",
    ),
    ("para", "The agencies that contributed to the review are listed below."),
    (
        "table",
        [
            ["Agency", "Contribution"],
            ["Westmarsh Community Health", "Health visiting; chronology"],
            ["Westmarsh Children's Services", "Early help | chronology"],
        ],
    ),
    ("h1", "Findings"),
    ("h2", "Finding 1: A bruise on a baby who could not crawl"),
    (
        "para",
        "A small bruise on Child D's cheek was seen by a nursery nurse at seven weeks. A bruise on a baby who is not "
        "yet mobile is rare and must always be referred for a safeguarding assessment under the bruising protocol.",
    ),
    ("para", "The nursery nurse accepted the mother's account that Child D had hit herself with a toy. Practitioners:"),
    ("bullet", "did not know the bruising protocol applied to a baby at nursery;"),
    ("bullet", "did not share the observation with the health visitor; and"),
    ("sub-bullet", "the health visitor's record was not updated"),
    ("h2", "Finding 2: Appointments missed"),
    (
        "para",
        "Child D [-did not attend-][+was not brought to+] two appointments at the baby clinic. Each was recorded as "
        "the family's choice.",
    ),
    ("h1", "Recommendations"),
    ("rec", "The Partnership should make sure every practitioner who works with babies knows the bruising protocol."),
    ("rec", "Health services should treat a baby who was not brought to an appointment as a safeguarding concern."),
]
NOTES = {1: "HM Government (2018) Working Together to Safeguard Children, chapter 4."}


def report_docx(**kw: str) -> bytes:
    """The fictional review as Word saves it (`tests/docxgen.py`; `kw`: its options)."""
    return docx(
        REPORT,
        NOTES,
        header="Westmarsh CSPR Child D – OFFICIAL",
        footer="Westmarsh Safeguarding Children Partnership",
        comment="Panel to confirm the nursery's account.",
        **kw,
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("word-corpus")
    (folder / "westmarsh-cspr-child-d.docx").write_bytes(report_docx())
    return folder


@pytest.mark.parametrize("numbering", ["list", "list style"])
def test_the_text_reads_as_word_shows_it(corpus: Path, tmp_path: Path, numbering: str) -> None:
    path = corpus / "westmarsh-cspr-child-d.docx"
    if numbering == "list style":  # the heading numbers defined by a list style, as corporate templates do
        path = tmp_path / path.name
        path.write_bytes(report_docx(numbering=LIST_STYLE_NUMBERING))
    src = read_source(path, path.parent, Settings())
    text = src.text
    assert src.kind == "docx"
    blocks = text.split("\n\n")
    # The cover page is one block of lines, its text box once (not again from its compatibility copy).
    assert blocks[0].split("\n") == [
        "# Child Safeguarding Practice Review: Child D",
        "Westmarsh Safeguarding Children Partnership",
        "Lead reviewer: Ruth Okafor",
        "Published: May 2022",
        "OFFICIAL – for publication",
    ]
    # A list's items are one block of lines.
    assert (
        "- did not know the bruising protocol applied to a baby at nursery;\n"
        "- did not share the observation with the health visitor; and\n"
        "- the health visitor's record was not updated"
    ) in blocks
    assert text.count("OFFICIAL – for publication") == 1
    # Numbered headings and paragraphs as Word numbers them; runs split mid-word join up.
    for line in (
        "## 1. Introduction",
        "1.1 Child D was eleven weeks old when she was taken to hospital with a fractured skull and bruising.",
        "## 2. The family and the agencies involved",
        "2.1 Child D lived with her mother",
        "## 3. Findings",
        "### Finding 1: A bruise on a baby who could not crawl",
        "3.1 A small bruise on Child D's cheek",
        "3.2 The nursery nurse accepted",
        "- did not know the bruising protocol applied to a baby at nursery;",
        "- the health visitor's record was not updated",
        "3.3 Child D was not brought to two appointments at the baby clinic.",
        "## 4. Recommendations",
        "Recommendation 1: The Partnership should make sure",
        "Recommendation 2: Health services should treat",
        "| Agency | Contribution |",
        "| Westmarsh Children's Services | Early help \\| chronology |",
    ):
        assert any(b.startswith(line) or line in b.split("\n") for b in blocks), line
    # What Word does not print in the body: the contents list, running head and footer, comments, deleted and
    # hidden text, field codes.
    for absent in (
        "Contents",
        "Westmarsh CSPR Child D",
        "Page 1",
        "Panel to confirm",
        "did not attend",
        "DRAFT",
        "PAGEREF",
        "TOC",
        "\uf0b7",
    ):
        assert absent not in text, absent
    # The footnote follows the paragraph citing it, as a note: a span of the text, numbered as Word numbers it.
    ((start, end),) = src.notes
    assert text[start:end] == "1 HM Government (2018) Working Together to Safeguard Children, chapter 4."
    assert text[:start].rstrip().endswith("the six months before her admission.")


def test_a_briefing_laid_out_in_a_table_reads_box_by_box(tmp_path: Path) -> None:
    """A 7-minute briefing made in Word as a table of boxes, each a numbered heading and paragraphs: read as the
    boxes' paragraphs in order (row by row), not as table rows joining two boxes' text; a table of data stays one."""
    boxes = [
        (
            "Background",
            ["Baby F was six weeks old when she was admitted with a skull fracture.", "She lived with both parents."],
        ),
        ("Why it matters", ["Babies who are not yet mobile rarely bruise or break bones by accident."]),
        ("Information", ["The GP saw a bruise on her ear at the six-week check and did not refer."]),
        ("Questions", ["Do you know your bruising protocol?", "Who would you call?"]),
    ]
    cells = [[("h1", title), *(("normal", text) for text in texts)] for title, texts in boxes]
    data = docx(
        [
            ("title", "7-minute briefing: Baby F"),
            ("normal", "Eastholm Safeguarding Children Partnership, March 2024"),
            ("table", [cells[:2], cells[2:]]),
            ("table", [["Date", "Event"], ["12 March 2023", "Six-week check"]]),
        ]
    )
    path = tmp_path / "eastholm-7-minute-briefing-baby-f.docx"
    path.write_bytes(data)
    blocks = read_source(path, tmp_path, Settings()).text.split("\n\n")
    assert blocks[2:10] == [
        "## 1. Background",
        "Baby F was six weeks old when she was admitted with a skull fracture.",
        "She lived with both parents.",
        "## 2. Why it matters",
        "Babies who are not yet mobile rarely bruise or break bones by accident.",
        "## 3. Information",
        "The GP saw a bruise on her ear at the six-week check and did not refer.",
        "## 4. Questions",
    ]
    assert blocks[-1] == "| Date | Event |\n|---|---|\n| 12 March 2023 | Six-week check |\n"


def test_a_word_report_becomes_one_record_with_its_structure(tmp_path: Path, corpus: Path) -> None:
    from rag.ingest import ingest
    from rag.retrieve import Retriever

    settings = Settings(corpus=corpus, index=tmp_path / "index")
    ingest(settings)
    retriever = Retriever(settings)
    (review,) = retriever.data.reviews.values()
    assert (review.kind, review.title, review.year, review.area) == (
        "review",
        "Child Safeguarding Practice Review: Child D",
        2022,
        "Westmarsh",
    )
    hit = retriever.search("bruise on a baby who is not yet mobile", k=1)[0]
    assert hit.chunk.para == "3.1"
    assert hit.chunk.heading.endswith("Finding 1: A bruise on a baby who could not crawl")
    chunks = retriever.data.chunks
    assert not any("Working Together" in c.text for c in chunks)  # the footnote: shown in context, never quoted
    recs = [c for c in chunks if "Recommendation 2:" in c.text]
    assert recs and recs[0].section == "recommendations"
    # Opened in context (the app's citation panel): the quote highlighted, the footnote set apart after its section.
    from rag.web.html import record_html

    html = record_html(retriever.data, review.id, (hit.chunk.start, hit.chunk.end))
    assert "<mark>3.1 A small bruise" in html
    assert "<span class='rla-note'>1 HM Government (2018) Working Together to Safeguard Children" in html


def test_rla_show_prints_the_note_after_its_section(
    tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rag.cli import main

    index = tmp_path / "index"
    assert main(["--corpus", str(corpus), "--index", str(index), "ingest"]) == 0
    capsys.readouterr()
    assert main(["--corpus", str(corpus), "--index", str(index), "show", "westmarsh-cspr-child-d"]) == 0
    out = capsys.readouterr().out
    assert "Notes: 1 HM Government (2018) Working Together" in out
    assert out.index("the six months before her") < out.index("Notes: 1 HM Government")


def _zip(parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return out.getvalue()


def _with_part(name: str, data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(report_docx())) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    return _zip({**parts, name: data})


@pytest.mark.parametrize(
    "data,message",
    [
        (b"Just some text saved with the wrong name.", r"not a Word \.docx file \(not a zip package\); save it again"),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600),
            r"a password-protected or old-format \(\.doc\) Word file; open it in Word and save it as \.docx",
        ),
        (_zip({"[Content_Types].xml": b"<Types/>"}), r"not a Word document \(no word/document\.xml\)"),
        (report_docx()[:2000], r"not a Word \.docx file|corrupt Word file"),
        (_with_part("word/document.xml", b"<w:document><w:body><w:p>"), r"corrupt Word file \(.*\); open it in Word"),
        (
            _with_part(
                "word/document.xml",
                b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
                b"<lolz>&lol2;</lolz>",
            ),
            r"word/document\.xml declares a DTD, which Word never writes",
        ),
    ],
    ids=["not-a-zip", "ole-password-or-doc", "no-document", "truncated", "bad-xml", "dtd"],
)
def test_a_bad_word_file_is_one_clear_message(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "report.docx"
    path.write_bytes(data)
    with pytest.raises(SourceError, match=rf"^report\.docx: (?:{message})"):
        read_source(path, tmp_path, Settings())


def test_ingest_skips_a_bad_word_file_and_keeps_the_rest(
    tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rag.cli import main

    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "westmarsh-cspr-child-d.docx").write_bytes(report_docx())
    (folder / "locked.docx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600))
    (folder / "~$stmarsh-cspr-child-d.docx").write_bytes(bytes(162))  # Word's owner file while the report is open
    index = tmp_path / "index"
    main(["--corpus", str(folder), "--index", str(index), "ingest"])
    out = capsys.readouterr()
    said = out.out + out.err
    assert "locked.docx: a password-protected or old-format (.doc) Word file" in said
    assert "Traceback" not in said and "~$" not in said
    from rag.retrieve import Retriever

    assert [r.id for r in Retriever(Settings(corpus=folder, index=index)).data.reviews.values()] == [
        "westmarsh-cspr-child-d"
    ]


def test_a_document_that_unpacks_far_beyond_its_size_stops_at_the_memory_limit(tmp_path: Path) -> None:
    """A .docx whose XML unpacks from under 1 MB to 60 MB (a zip bomb, or a huge export) is read in the sandboxed
    worker under `pdf_memory_mb`: refused with what to do, the reading process and the server unharmed."""
    from dataclasses import replace

    paragraph = b"<w:p><w:r><w:t>The review found that agencies did not share information.</w:t></w:r></w:p>"
    body = paragraph * (60 * 2**20 // len(paragraph))
    xml = b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
    path = tmp_path / "huge.docx"
    path.write_bytes(_zip({"word/document.xml": xml + body + b"</w:body></w:document>"}))
    assert path.stat().st_size < 2**20
    with pytest.raises(SourceError, match=r"^huge\.docx: the document could not be read \(it needs more than 200 MB"):
        read_source(path, tmp_path, replace(Settings(), pdf_memory_mb=200))


def _mutants(count: int = 36, seed: int = 20261201) -> list[tuple[str, bytes]]:
    """The report with one of its XML parts damaged: cut short, or well-formed but wrong — an element dropped, an
    attribute dropped or given a value Word would never write (a list that does not exist, level 99, "%9")."""
    import random
    from xml.etree import ElementTree as ET

    rng = random.Random(seed)
    with zipfile.ZipFile(io.BytesIO(report_docx())) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    out = []
    for i in range(count):
        name = ("word/document.xml", "word/styles.xml", "word/numbering.xml", "word/footnotes.xml")[i % 4]
        how = ("cut", "element", "attribute", "value")[i // 4 % 4]
        if how == "cut":
            xml = parts[name][: rng.randrange(len(parts[name]))]
        else:
            root = ET.fromstring(parts[name])
            parent = rng.choice([e for e in root.iter() if len(e)])
            child = rng.choice(list(parent))
            if how == "element":
                parent.remove(child)
            elif child.attrib:
                key = rng.choice(sorted(child.attrib))
                if how == "attribute":
                    del child.attrib[key]
                else:
                    child.attrib[key] = rng.choice(["", "0", "-1", "99", "abc", "%9", "\uf0b7"])
            xml = ET.tostring(root)
        out.append((f"{i:02d}-{name.split('/')[1]}-{how}", _zip({**parts, name: xml})))
    return out


@pytest.mark.parametrize("name,data", _mutants(), ids=[n for n, _ in _mutants()])
def test_a_damaged_word_file_is_read_or_refused_in_one_line(tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / "damaged.docx"
    path.write_bytes(data)
    try:
        src = read_source(path, tmp_path, Settings())
    except SourceError as e:
        assert str(e).startswith("damaged.docx: ") and "\n" not in str(e) and "Traceback" not in str(e)
        assert str(e).rstrip().endswith(("again", "save it as PDF", "password")), str(e)
    else:
        assert src.kind == "docx" and src.text.strip()
        if not name.endswith("document.xml-cut"):  # the body is whole: its words are all read, whatever else is damaged
            assert "fractured skull" in src.text or "document.xml" in name
