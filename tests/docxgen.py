"""Write a Word document (.docx) the way Word saves one, for tests: the parts, relationships and XML Word writes —
styles with numbered headings, a multi-level list, Symbol-font bullets, a contents field, a text box with its
compatibility copy, footnotes, tracked changes, hidden text, comments, running heads and footers.

A document is a list of blocks: ("title" | "h1" | "h2" | "p" | "para" | "bullet" | "sub-bullet" | "rec" |
"normal", text), ("table", rows), ("page-break",), ("contents",), ("box", text). In a text, "[^n]" cites footnote
n, "[+…+]" is a tracked insertion, "[-…-]" a tracked deletion and "[h…h]" hidden text.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
NS = (
    f'xmlns:w="{W_NS}" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" '
    'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
    'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" '
    'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
    'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" '
    'xmlns:v="urn:schemas-microsoft-com:vml" '
    'mc:Ignorable="wps"'
)
HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

STYLES = f"""{HEAD}<w:styles {NS}>
<w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/></w:style>
<w:style w:type="paragraph" w:styleId="Title"><w:name w:val="Title"/><w:basedOn w:val="Normal"/></w:style>
<w:style w:type="paragraph" w:styleId="Heading1"><w:name w:val="heading 1"/><w:basedOn w:val="Normal"/>
  <w:pPr><w:keepNext/><w:numPr><w:numId w:val="1"/></w:numPr><w:outlineLvl w:val="0"/></w:pPr></w:style>
<w:style w:type="paragraph" w:styleId="Heading2"><w:name w:val="heading 2"/><w:basedOn w:val="Normal"/>
  <w:pPr><w:keepNext/><w:outlineLvl w:val="1"/></w:pPr></w:style>
<w:style w:type="paragraph" w:styleId="ListParagraph"><w:name w:val="List Paragraph"/><w:basedOn w:val="Normal"/>
</w:style>
<w:style w:type="paragraph" w:styleId="NumberedPara"><w:name w:val="Numbered Para"/><w:basedOn w:val="Normal"/>
  <w:pPr><w:numPr><w:ilvl w:val="1"/><w:numId w:val="1"/></w:numPr></w:pPr></w:style>
<w:style w:type="paragraph" w:styleId="TOCHeading"><w:name w:val="TOC Heading"/><w:basedOn w:val="Heading1"/>
  <w:pPr><w:numPr><w:numId w:val="0"/></w:numPr></w:pPr></w:style>
<w:style w:type="paragraph" w:styleId="TOC1"><w:name w:val="toc 1"/><w:basedOn w:val="Normal"/></w:style>
<w:style w:type="paragraph" w:styleId="TOC2"><w:name w:val="toc 2"/><w:basedOn w:val="Normal"/></w:style>
<w:style w:type="paragraph" w:styleId="Header"><w:name w:val="header"/><w:basedOn w:val="Normal"/></w:style>
<w:style w:type="paragraph" w:styleId="FootnoteText"><w:name w:val="footnote text"/><w:basedOn w:val="Normal"/>
</w:style>
<w:style w:type="character" w:styleId="FootnoteReference"><w:name w:val="footnote reference"/>
  <w:rPr><w:vertAlign w:val="superscript"/></w:rPr></w:style>
</w:styles>"""

NUMBERING = f"""{HEAD}<w:numbering {NS}>
<w:abstractNum w:abstractNumId="0"><w:multiLevelType w:val="multilevel"/>
  <w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="decimal"/><w:pStyle w:val="Heading1"/>
    <w:lvlText w:val="%1."/></w:lvl>
  <w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="decimal"/><w:lvlText w:val="%1.%2"/></w:lvl>
</w:abstractNum>
<w:abstractNum w:abstractNumId="1"><w:multiLevelType w:val="hybridMultilevel"/>
  <w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="bullet"/><w:lvlText w:val="\uf0b7"/>
    <w:rPr><w:rFonts w:ascii="Symbol" w:hAnsi="Symbol" w:hint="default"/></w:rPr></w:lvl>
  <w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="bullet"/><w:lvlText w:val="o"/>
    <w:rPr><w:rFonts w:ascii="Courier New" w:hAnsi="Courier New"/></w:rPr></w:lvl>
</w:abstractNum>
<w:abstractNum w:abstractNumId="2"><w:multiLevelType w:val="singleLevel"/>
  <w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="decimal"/><w:lvlText w:val="Recommendation %1:"/></w:lvl>
</w:abstractNum>
<w:num w:numId="1"><w:abstractNumId w:val="0"/></w:num>
<w:num w:numId="2"><w:abstractNumId w:val="1"/></w:num>
<w:num w:numId="3"><w:abstractNumId w:val="2"/></w:num>
</w:numbering>"""

STYLE_OF = {"title": "Title", "h1": "Heading1", "h2": "Heading2", "para": "NumberedPara", "normal": "Normal"}
# The same numbering as a corporate template defines it: the heading list is a list style ("Report headings"); the
# abstract list the paragraphs use only names it, and another defines its levels.
LIST_STYLE_NUMBERING = NUMBERING.replace(
    '<w:abstractNum w:abstractNumId="0"><w:multiLevelType w:val="multilevel"/>',
    '<w:abstractNum w:abstractNumId="0"><w:multiLevelType w:val="multilevel"/>'
    '<w:numStyleLink w:val="ReportHeadings"/></w:abstractNum>'
    '<w:abstractNum w:abstractNumId="7"><w:multiLevelType w:val="multilevel"/><w:styleLink w:val="ReportHeadings"/>',
)
NUM_OF = {"bullet": (2, 0), "sub-bullet": (2, 1), "rec": (3, 0)}


def _runs(text: str) -> str:
    out = []
    for piece in re.split(r"(\[\^\d+\]|\[\+.*?\+\]|\[-.*?-\]|\[h.*?h\])", text):
        if not piece:
            continue
        if m := re.fullmatch(r"\[\^(\d+)\]", piece):
            out.append(
                '<w:r><w:rPr><w:rStyle w:val="FootnoteReference"/></w:rPr>'
                f'<w:footnoteReference w:id="{m.group(1)}"/></w:r>'
            )
        elif piece.startswith("[+"):
            out.append(
                f'<w:ins w:id="90" w:author="Reviewer" w:date="2022-03-01T10:00:00Z">{_run(piece[2:-2])}</w:ins>'
            )
        elif piece.startswith("[-"):
            deleted = f'<w:r><w:delText xml:space="preserve">{escape(piece[2:-2])}</w:delText></w:r>'
            out.append(f'<w:del w:id="91" w:author="Reviewer" w:date="2022-03-01T10:00:00Z">{deleted}</w:del>')
        elif piece.startswith("[h"):
            out.append(f'<w:r><w:rPr><w:vanish/></w:rPr><w:t xml:space="preserve">{escape(piece[2:-2])}</w:t></w:r>')
        else:
            out.append(_run(piece))
    return "".join(out)


def _run(text: str) -> str:
    # Word splits runs at every formatting or editing change: split mid-word to show that runs join without spaces.
    half = len(text) // 2
    return "".join(
        f'<w:r><w:rPr><w:rFonts w:ascii="Arial"/></w:rPr><w:t xml:space="preserve">{escape(part)}</w:t></w:r>'
        for part in (text[:half], text[half:])
        if part
    )


def _paragraph(kind: str, text: str) -> str:
    ppr = ""
    if kind in STYLE_OF:
        ppr = f'<w:pStyle w:val="{STYLE_OF[kind]}"/>'
    elif kind in NUM_OF:
        num, lvl = NUM_OF[kind]
        ppr = f'<w:pStyle w:val="ListParagraph"/><w:numPr><w:ilvl w:val="{lvl}"/><w:numId w:val="{num}"/></w:numPr>'
    return f"<w:p><w:pPr>{ppr}</w:pPr>{_runs(text)}</w:p>"


def _table(rows: Sequence[Sequence[Any]]) -> str:
    """A cell is a text (one paragraph) or a list of (kind, text) blocks (a layout table's box)."""

    def cell(c: Any) -> str:
        paragraphs = _paragraph("normal", c) if isinstance(c, str) else "".join(_paragraph(k, t) for k, t in c)
        return f'<w:tc><w:tcPr><w:tcW w:w="3000" w:type="dxa"/></w:tcPr>{paragraphs}</w:tc>'

    body = "".join("<w:tr>" + "".join(cell(c) for c in row) + "</w:tr>" for row in rows)
    return f'<w:tbl><w:tblPr><w:tblStyle w:val="TableGrid"/></w:tblPr>{body}</w:tbl>'


def _contents(headings: list[str]) -> str:
    entries = []
    for i, h in enumerate(headings):
        field = (
            '<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText xml:space="preserve">'
            ' TOC \\o "1-3" \\h \\z \\u </w:instrText></w:r><w:r><w:fldChar w:fldCharType="separate"/></w:r>'
            if i == 0
            else ""
        )
        entries.append(
            f'<w:p><w:pPr><w:pStyle w:val="TOC1"/></w:pPr>{field}<w:r><w:t>{escape(h)}</w:t></w:r><w:r><w:tab/></w:r>'
            f'<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText> PAGEREF _Toc{i} \\h </w:instrText></w:r>'
            f'<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>{i + 3}</w:t></w:r>'
            '<w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>'
        )
    entries.append('<w:p><w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>')
    return (
        '<w:sdt><w:sdtPr><w:docPartObj><w:docPartGallery w:val="Table of Contents"/><w:docPartUnique/>'
        '</w:docPartObj></w:sdtPr><w:sdtContent><w:p><w:pPr><w:pStyle w:val="TOCHeading"/></w:pPr>'
        f"<w:r><w:t>Contents</w:t></w:r></w:p>{''.join(entries)}</w:sdtContent></w:sdt>"
    )


def _box(text: str) -> str:
    """A text box as Word 2010+ saves it: the DrawingML shape, and a VML copy for older readers."""
    inner = f"<w:txbxContent>{_paragraph('normal', text)}</w:txbxContent>"
    return (
        '<w:p><w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><wp:anchor><a:graphic>'
        f"<a:graphicData><wps:wsp><wps:txbx>{inner}</wps:txbx></wps:wsp></a:graphicData></a:graphic></wp:anchor>"
        f"</w:drawing></mc:Choice><mc:Fallback><w:pict><v:shape><v:textbox>{inner}</v:textbox></v:shape></w:pict>"
        "</mc:Fallback></mc:AlternateContent></w:r></w:p>"
    )


def _notes(notes: dict[int, str]) -> str:
    body = "".join(
        f'<w:footnote w:id="{i}"><w:p><w:pPr><w:pStyle w:val="FootnoteText"/></w:pPr><w:r><w:rPr>'
        f'<w:rStyle w:val="FootnoteReference"/></w:rPr><w:footnoteRef/></w:r><w:r><w:t xml:space="preserve"> '
        f"{escape(text)}</w:t></w:r></w:p></w:footnote>"
        for i, text in notes.items()
    )
    separators = (
        '<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:footnote>'
        '<w:footnote w:type="continuationSeparator" w:id="0"><w:p><w:r><w:continuationSeparator/></w:r></w:p>'
        "</w:footnote>"
    )
    return f"{HEAD}<w:footnotes {NS}>{separators}{body}</w:footnotes>"


def _header_footer(tag: str, text: str) -> str:
    page = (
        '<w:r><w:t xml:space="preserve">Page </w:t></w:r><w:fldSimple w:instr=" PAGE "><w:r><w:t>1</w:t></w:r>'
        "</w:fldSimple>"
    )
    return f'{HEAD}<w:{tag} {NS}><w:p><w:pPr><w:pStyle w:val="Header"/></w:pPr>{_run(text)}{page}</w:p></w:{tag}>'


def docx(
    blocks: Sequence[tuple[Any, ...]],
    notes: dict[int, str] | None = None,
    header: str = "",
    footer: str = "",
    comment: str = "",
    title_property: str = "Report template",
    numbering: str = NUMBERING,
) -> bytes:
    """A .docx of these blocks (see the module's docstring)."""
    body = []
    for block in blocks:
        kind = block[0]
        if kind == "table":
            body.append(_table(block[1]))
        elif kind == "page-break":
            body.append('<w:p><w:r><w:br w:type="page"/></w:r></w:p>')
        elif kind == "contents":
            body.append(_contents([b[1] for b in blocks if b[0] == "h1"]))
        elif kind == "box":
            body.append(_box(block[1]))
        else:
            body.append(_paragraph(kind, block[1]))
    if comment:
        body.append(
            '<w:p><w:commentRangeStart w:id="5"/><w:r><w:t>Reviewed.</w:t></w:r><w:commentRangeEnd w:id="5"/>'
            '<w:r><w:commentReference w:id="5"/></w:r></w:p>'
        )
    sect = (
        '<w:sectPr><w:headerReference w:type="default" r:id="rIdH"/><w:footerReference w:type="default" '
        'r:id="rIdF"/><w:pgSz w:w="11906" w:h="16838"/></w:sectPr>'
    )
    document = f"{HEAD}<w:document {NS}><w:body>{''.join(body)}{sect}</w:body></w:document>"
    rels = (
        f'{HEAD}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rIdS" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" '
        'Target="styles.xml"/>'
        '<Relationship Id="rIdN" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/numbering" '
        'Target="numbering.xml"/>'
        '<Relationship Id="rIdFn" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/footnotes" '
        'Target="footnotes.xml"/>'
        '<Relationship Id="rIdH" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/header" '
        'Target="header1.xml"/>'
        '<Relationship Id="rIdF" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/footer" '
        'Target="footer1.xml"/>'
        '<Relationship Id="rIdC" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/comments" '
        'Target="comments.xml"/></Relationships>'
    )
    comments = (
        f'{HEAD}<w:comments {NS}><w:comment w:id="5" w:author="Panel chair"><w:p><w:r><w:t>{escape(comment)}</w:t>'
        "</w:r></w:p></w:comment></w:comments>"
    )
    core = (
        f'{HEAD}<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:title>{escape(title_property)}</dc:title><dc:creator>Business Unit</dc:creator>"
        '<dcterms:created xsi:type="dcterms:W3CDTF">2014-01-06T09:00:00Z</dcterms:created></cp:coreProperties>'
    )
    types = (
        f'{HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/word/document.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
    )
    package_rels = (
        f'{HEAD}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
        'Target="word/document.xml"/></Relationships>'
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", types)
        z.writestr("_rels/.rels", package_rels)
        z.writestr("docProps/core.xml", core)
        z.writestr("word/document.xml", document)
        z.writestr("word/_rels/document.xml.rels", rels)
        z.writestr("word/styles.xml", STYLES)
        z.writestr("word/numbering.xml", numbering)
        z.writestr("word/footnotes.xml", _notes(notes or {}))
        z.writestr("word/header1.xml", _header_footer("hdr", header))
        z.writestr("word/footer1.xml", _header_footer("ftr", footer))
        z.writestr("word/comments.xml", comments)
    return out.getvalue()
