"""A Word document (.docx) → the record's text, as Word shows it: headings with their numbers, numbered and bulleted
paragraphs, tables, text boxes and footnotes; never its running heads and footers (parts of their own), its
contents list, deleted or hidden text, comments or field codes.

The text is written the way the Markdown twin of a report reads (tests/docs/*.md), which rag.parse already reads
by its "#" headings: the Title style is "# …", Heading 1 "## …", Heading 2 "### …"; a paragraph numbered by Word
("4.2") carries its number; a bullet is "- …"; a table is a Markdown table; a cover page (what comes before the
first page break, when no heading does) is one block of lines. Each footnote follows the paragraph that cites it,
as "1 Working Together…", and is returned as a span of the text (`SourceText.notes`: shown in context, in no
chunk or quote). Read with the standard library's zipfile and ElementTree: no package is needed, and a document
with a DTD (which Word never writes; the "billion laughs" need one) is refused before it is parsed. Called in the
sandboxed worker, under the PDF limits (rag.sources.markdown_written).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from io import BytesIO
from xml.etree import ElementTree as ET

from rag.layout import MarkdownText, write_blocks

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an old .doc, or a .docx under a password (Word wraps it in OLE)
_MAX_PART_MB = 200  # a part's XML unpacked, at most: refused unread beyond (the worker's memory limit stops less)
_SKIPPED = {f"{_W}del", f"{_W}instrText", f"{_W}delText", f"{_MC}Fallback", f"{_W}rPr", f"{_W}pPr"}
_COVER_MAX_PARAGRAPHS = 25


class WordError(Exception):
    """The .docx cannot be read; the message says why and what to do (the caller adds the file's name)."""


def read_docx(data: bytes) -> MarkdownText:
    """The document's text and where its footnotes are; raises WordError saying what is wrong."""
    if data.startswith(_OLE):
        raise WordError(
            "a password-protected or old-format (.doc) Word file; open it in Word and save it as .docx without a "
            "password"
        )
    try:
        with zipfile.ZipFile(BytesIO(data)) as z:
            names = set(z.namelist())
            parts = {name: _xml(z, name, lenient=name != _BODY) for name in _PARTS if name in names}
    except zipfile.BadZipFile:
        raise WordError("not a Word .docx file (not a zip package); save it again as .docx from Word") from None
    except (ET.ParseError, zipfile.LargeZipFile, EOFError, ValueError, RuntimeError, OSError) as e:
        raise WordError(f"corrupt Word file ({e}); open it in Word and save it again") from None
    body = parts.get(_BODY)
    if body is None:
        raise WordError("not a Word document (no word/document.xml); save it again as .docx from Word")
    doc = _Document(
        _styles(parts.get("word/styles.xml")),
        _Numbering(parts.get("word/numbering.xml")),
        {**_notes(parts.get("word/footnotes.xml"), "footnote"), **_notes(parts.get("word/endnotes.xml"), "endnote")},
    )
    found = body.find(f"{_W}body")
    if found is None:
        raise WordError("not a Word document (no body); save it again as .docx from Word")
    return doc.write(found)


_BODY = "word/document.xml"
_PARTS = (_BODY, "word/styles.xml", "word/numbering.xml", "word/footnotes.xml", "word/endnotes.xml")


def _xml(z: zipfile.ZipFile, name: str, lenient: bool) -> ET.Element | None:
    """A part's XML. A damaged part other than the body (styles, numbering, notes) is read as missing, as Word
    repairs a document: its text is still read, without what that part gave (heading levels, list numbers)."""
    info = z.getinfo(name)
    if info.file_size > _MAX_PART_MB * 2**20:
        raise WordError(f"{name} is over {_MAX_PART_MB} MB unpacked; split the document")
    raw = z.read(name)
    if b"<!DOCTYPE" in raw[:4096] or b"<!ENTITY" in raw:
        raise WordError(f"{name} declares a DTD, which Word never writes; open it in Word and save it again")
    try:
        return ET.fromstring(raw)
    except ET.ParseError:
        if lenient:
            return None
        raise


# ---- styles: which paragraph styles are headings, the contents list, or numbered --------------------------------


@dataclass(frozen=True)
class _Style:
    level: int | None  # 0: Title; 1–9: Heading 1–9 (or an outline level); None: body text
    contents: bool  # "TOC 1", "TOC Heading": the contents list, left out
    num: tuple[str, int | None] | None  # the numbering the style applies: (numId, level)


def _styles(root: ET.Element | None) -> dict[str, _Style]:
    if root is None:
        return {}
    raw: dict[str, tuple[str, str | None, ET.Element]] = {}
    for s in root.iter(f"{_W}style"):
        if s.get(f"{_W}type") not in (None, "paragraph"):
            continue
        sid = s.get(f"{_W}styleId") or ""
        name = _val(s.find(f"{_W}name")) or sid
        raw[sid] = (name.lower(), _val(s.find(f"{_W}basedOn")), s)

    def resolve(sid: str, depth: int = 0) -> _Style:
        name, based, el = raw.get(sid, ("", None, ET.Element("x")))
        parent = resolve(based, depth + 1) if based and based in raw and depth < 20 else _Style(None, False, None)
        heading = re.fullmatch(r"heading ([1-9])", name)
        outline = _val(el.find(f"{_W}pPr/{_W}outlineLvl"))
        level = 0 if name == "title" else int(heading.group(1)) if heading else None
        if level is None and outline is not None and outline.isdigit() and int(outline) < 9:
            level = int(outline) + 1
        contents = name.startswith("toc") or name == "table of figures"
        return _Style(
            level if level is not None else parent.level,
            contents or parent.contents,
            _num_ref(el.find(f"{_W}pPr/{_W}numPr")) or parent.num,
        )

    return {sid: resolve(sid) for sid in raw}


def _num_ref(num_pr: ET.Element | None) -> tuple[str, int | None] | None:
    """(numId, level) of a paragraph's or a style's numbering; the level None when not given (a heading style's
    level is then the list level linked to the style)."""
    if num_pr is None:
        return None
    num_id = _val(num_pr.find(f"{_W}numId"))
    ilvl = _val(num_pr.find(f"{_W}ilvl"))
    if num_id is None:
        return None
    return num_id, int(ilvl) if ilvl is not None and ilvl.isdigit() else None


def _val(el: ET.Element | None) -> str | None:
    return None if el is None else el.get(f"{_W}val")


# ---- numbering: Word's list counters, as it prints them ("4.", "4.2", "(b)", "iii") -----------------------------


@dataclass(frozen=True)
class _Level:
    start: int
    fmt: str  # decimal, lowerLetter, upperLetter, lowerRoman, upperRoman, bullet, none, …
    text: str  # "%1.%2"
    style: str | None  # the paragraph style linked to this level ("Heading2"), if any


class _Numbering:
    def __init__(self, root: ET.Element | None) -> None:
        self.abstract: dict[str, dict[int, _Level]] = {}
        self.nums: dict[str, tuple[str, dict[int, int]]] = {}  # numId → (abstractNumId, level → start override)
        self.counters: dict[str, list[int]] = {}  # per abstract list: each level's last number
        self.restarted: set[str] = set()
        if root is None:
            return
        # A list defined by a list style ("Report headings"): an abstract list that only names the style
        # (numStyleLink) takes the levels, and the counters, of the one that defines it (styleLink).
        uses = {a.get(f"{_W}abstractNumId"): _val(a.find(f"{_W}numStyleLink")) for a in root.iter(f"{_W}abstractNum")}
        defines = {_val(a.find(f"{_W}styleLink")): a.get(f"{_W}abstractNumId") for a in root.iter(f"{_W}abstractNum")}
        for a in root.iter(f"{_W}abstractNum"):
            levels = {}
            for lvl in a.iter(f"{_W}lvl"):
                start = _val(lvl.find(f"{_W}start")) or "1"
                levels[int(lvl.get(f"{_W}ilvl") or 0)] = _Level(
                    int(start) if start.lstrip("-").isdigit() else 1,
                    _val(lvl.find(f"{_W}numFmt")) or "decimal",
                    _val(lvl.find(f"{_W}lvlText")) or "",
                    _val(lvl.find(f"{_W}pStyle")),
                )
            self.abstract[a.get(f"{_W}abstractNumId") or ""] = levels
        for n in root.iter(f"{_W}num"):
            overrides = {}
            for o in n.iter(f"{_W}lvlOverride"):
                restart = _val(o.find(f"{_W}startOverride"))
                if restart is not None and restart.isdigit():
                    overrides[int(o.get(f"{_W}ilvl") or 0)] = int(restart)
            abstract = _val(n.find(f"{_W}abstractNumId")) or ""
            linked = defines.get(uses.get(abstract)) if uses.get(abstract) else None
            self.nums[n.get(f"{_W}numId") or ""] = (linked or abstract, overrides)

    def level_of(self, num_id: str, style_id: str) -> int:
        """The list level a paragraph style is linked to (a numbered Heading 2 is often level 1 that way)."""
        levels = self.abstract.get(self.nums.get(num_id, ("", {}))[0], {})
        return next((i for i, lvl in levels.items() if lvl.style == style_id), 0)

    def label(self, num_id: str, ilvl: int) -> str | None:
        """The next number of this list at this level as printed ("4.2"); "-" for a bullet; None for none."""
        if num_id == "0" or num_id not in self.nums:
            return None
        abstract, overrides = self.nums[num_id]
        levels = self.abstract.get(abstract, {})
        if ilvl not in levels:
            return None
        counters = self.counters.setdefault(abstract, [levels[i].start - 1 if i in levels else 0 for i in range(9)])
        if overrides and num_id not in self.restarted:  # a list restarted at a number of its own
            self.restarted.add(num_id)
            for i, start in overrides.items():
                counters[i] = start - 1
        counters[ilvl] += 1
        for deeper in range(ilvl + 1, 9):
            counters[deeper] = levels[deeper].start - 1 if deeper in levels else 0
        level = levels[ilvl]
        if level.fmt == "bullet":
            return "-"
        if level.fmt == "none" or not level.text:
            return None

        def number(m: re.Match[str]) -> str:
            i = int(m.group(1)) - 1
            return _format(counters[i], levels[i].fmt if i in levels else "decimal") if 0 <= i < 9 else ""

        return re.sub(r"%([1-9])", number, level.text).strip() or None


def _format(n: int, fmt: str) -> str:
    if fmt in ("lowerLetter", "upperLetter"):
        letter = chr(ord("a") + (n - 1) % 26) * ((n - 1) // 26 + 1) if n > 0 else ""
        return letter.upper() if fmt == "upperLetter" else letter
    if fmt in ("lowerRoman", "upperRoman"):
        roman = _roman(n)
        return roman.upper() if fmt == "upperRoman" else roman
    if fmt == "decimalZero":
        return f"{n:02d}"
    return str(n)


def _roman(n: int) -> str:
    out = ""
    for value, digits in ((1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"), (50, "l")):
        out, n = out + digits * (n // value), n % value
    for value, digits in ((40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")):
        out, n = out + digits * (n // value), n % value
    return out


# ---- footnotes and endnotes -----------------------------------------------------------------------------------


def _notes(root: ET.Element | None, kind: str) -> dict[tuple[str, str], str]:
    if root is None:
        return {}
    out = {}
    for note in root.iter(f"{_W}{kind}"):
        if note.get(f"{_W}type") in ("separator", "continuationSeparator", "continuationNotice"):
            continue
        text = " ".join("".join(_runs(p)) for p in note.iter(f"{_W}p"))
        out[(kind, note.get(f"{_W}id") or "")] = " ".join(text.split())
    return out


# ---- the body ---------------------------------------------------------------------------------------------------


def _runs(p: ET.Element) -> Iterator[str]:
    """A paragraph's text as Word shows it, in order: inserted text but not deleted, field results but not their
    codes, no hidden runs, and not the text of text boxes anchored in it (`_Document` writes those apart)."""
    for el in p:
        tag = el.tag
        if tag in _SKIPPED or tag == f"{_W}txbxContent":
            continue
        if tag == f"{_W}r" and _hidden(el):
            continue
        if tag == f"{_W}t":
            yield el.text or ""
        elif tag in (f"{_W}tab", f"{_W}ptab"):
            yield "\t"
        elif tag in (f"{_W}br", f"{_W}cr"):
            yield "" if el.get(f"{_W}type") == "page" else "\n"
        elif tag == f"{_W}noBreakHyphen":
            yield "-"
        elif tag == f"{_W}sym":
            char = el.get(f"{_W}char") or ""
            code = int(char, 16) if re.fullmatch(r"[0-9A-Fa-f]{1,4}", char) else 0
            yield chr(code) if code and not 0xE000 <= code <= 0xF8FF else ""
        else:
            yield from _runs(el)


def _hidden(run: ET.Element) -> bool:
    vanish = run.find(f"{_W}rPr/{_W}vanish")
    return vanish is not None and (_val(vanish) or "true") not in ("0", "false")


def _own(el: ET.Element) -> Iterator[ET.Element]:
    """What is inside `el`, in order, but not inside its text boxes (written apart) or compatibility copies."""
    for child in el:
        if child.tag not in (f"{_MC}Fallback", f"{_W}txbxContent"):
            yield child
            yield from _own(child)


def _page_break(p: ET.Element) -> bool:
    """The paragraph ends its page, or begins a new one: a page break, a section starting a new page."""
    if any(el.tag == f"{_W}br" and el.get(f"{_W}type") == "page" for el in _own(p)):
        return True
    sect = p.find(f"{_W}pPr/{_W}sectPr")
    return sect is not None and _val(sect.find(f"{_W}type")) in (None, "nextPage", "oddPage", "evenPage")


def _layout_cell(tc: ET.Element) -> bool:
    """A cell holding prose rather than a value: more than one paragraph with text, or over 300 characters."""
    texts = ["".join(_runs(p)).strip() for p in tc.findall(f"{_W}p")]
    return sum(1 for t in texts if t) > 1 or sum(len(t) for t in texts) > 300


def _boxes(el: ET.Element) -> Iterator[ET.Element]:
    """The text boxes anchored in `el` (not those of its compatibility copy, mc:Fallback, which repeats them)."""
    for child in el:
        if child.tag == f"{_MC}Fallback":
            continue
        if child.tag == f"{_W}txbxContent":
            yield child
        else:
            yield from _boxes(child)


@dataclass
class _Document:
    styles: dict[str, _Style]
    numbering: _Numbering
    notes: dict[tuple[str, str], str]
    blocks: list[tuple[str, bool]] = field(default_factory=list)  # (text, is a note)
    cited: list[tuple[str, str]] = field(default_factory=list)

    def write(self, body: ET.Element) -> MarkdownText:
        self._blocks(body)
        return write_blocks(self._with_cover())

    def _blocks(self, parent: ET.Element) -> None:
        for el in parent:
            if el.tag == f"{_W}p":
                self._paragraph(el)
            elif el.tag == f"{_W}tbl":
                self._table(el)
            elif el.tag == f"{_W}sdt":
                if not self._contents_control(el):
                    content = el.find(f"{_W}sdtContent")
                    if content is not None:
                        self._blocks(content)
            elif el.tag in (f"{_W}customXml", f"{_MC}AlternateContent", f"{_MC}Choice"):
                self._blocks(el)

    def _contents_control(self, sdt: ET.Element) -> bool:
        gallery = sdt.find(f"{_W}sdtPr/{_W}docPartObj/{_W}docPartGallery")
        return _val(gallery) == "Table of Contents"

    def _paragraph(self, p: ET.Element) -> None:
        for box in _boxes(p):
            self._blocks(box)
        style_id = _val(p.find(f"{_W}pPr/{_W}pStyle")) or ""
        style = self.styles.get(style_id, _Style(None, False, None))
        if style.contents:
            return
        if p.find(f"{_W}pPr/{_W}pageBreakBefore") is not None:
            self.blocks.append(("\f", False))
        text = re.sub(r"[ \t]*\n[ \t]*", "\n", re.sub(r" {2,}", " ", "".join(_runs(p)))).strip()
        num = _num_ref(p.find(f"{_W}pPr/{_W}numPr")) or style.num
        label = None
        if num and text:
            num_id, ilvl = num
            label = self.numbering.label(num_id, self.numbering.level_of(num_id, style_id) if ilvl is None else ilvl)
        if style.level is not None and text:
            text = "#" * min(6, style.level + 1) + " " + (f"{label} {text}" if label and label != "-" else text)
        elif label == "-":
            text = f"- {text}"
        elif label:
            text = f"{label} {text}"
        self.blocks.append((text, False))
        self.blocks.append(("\f" if _page_break(p) else "", False))  # a page ends here: the cover's end
        for ref in _own(p):
            if ref.tag in (f"{_W}footnoteReference", f"{_W}endnoteReference"):
                kind = "footnote" if ref.tag == f"{_W}footnoteReference" else "endnote"
                key = (kind, ref.get(f"{_W}id") or "")
                if key in self.notes:
                    self.cited.append(key)
                    n = sum(1 for k in self.cited if k[0] == kind)
                    mark = str(n) if kind == "footnote" else _roman(n)
                    self.blocks.append((f"{mark} {self.notes[key]}", True))

    def _table(self, tbl: ET.Element) -> None:
        """A table of data as a Markdown table; a table used for layout (a 7-minute briefing's boxes: cells of
        several paragraphs, or long ones) as its cells' paragraphs, row by row, cell by cell."""
        boxes = [tc for tr in tbl.findall(f"{_W}tr") for tc in tr.findall(f"{_W}tc")]
        if any(_layout_cell(tc) for tc in boxes):
            for tc in boxes:
                self._blocks(tc)
            return
        rows = []
        for tr in tbl.findall(f"{_W}tr"):
            cells = []
            for tc in tr.findall(f"{_W}tc"):
                cell = " ".join(" ".join("".join(_runs(p)).split()) for p in tc.iter(f"{_W}p"))
                cells.append(" ".join(cell.split()).replace("|", "\\|"))
            if any(cells):
                rows.append("| " + " | ".join(cells) + " |")
        if rows:
            width = rows[0].count(" | ") + 1
            rows.insert(1, "|" + "---|" * width)
            self.blocks.append(("\n".join(rows), False))

    def _with_cover(self) -> list[tuple[str, bool]]:
        """A cover page — what comes before the first page break, when it is short and no heading but the title
        is on it — as one block of lines, the way a report's cover reads."""
        blocks = [b for b in self.blocks if b[0]]
        end = next((i for i, (t, _) in enumerate(blocks) if t == "\f"), None)
        plain = [b for b in blocks if b[0] != "\f"]
        if end is None or end == 0 or end > _COVER_MAX_PARAGRAPHS:
            return plain
        cover = blocks[:end]
        if any(t.startswith("##") or note for t, note in cover):
            return plain
        return [("\n".join(t for t, _ in cover), False), *(b for b in blocks[end:] if b[0] != "\f")]
