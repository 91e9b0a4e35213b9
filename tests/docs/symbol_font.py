"""A "SymbolMT" TrueType font whose bullet sits at U+F0B7, as in Word's Symbol font, built from reportlab's Vera.

Word draws list bullets with the Symbol font, whose cmap puts its glyphs in the private-use range
(U+F020-U+F0FF); the embedded subset's ToUnicode map then sends the bullet to U+F0B7, which is what
pypdf extracts from real Word-made reports. reportlab maps a TrueType subset back to the code points
the font's cmap gives, so a font that maps U+F0B7 to a bullet glyph reproduces it exactly. The glyph
is Bitstream Vera's bullet (Vera ships inside reportlab, so nothing depends on system fonts); the
renamed font keeps only that glyph and the space.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import reportlab
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont, TTFontFile

FONTS = Path(reportlab.__file__).parent / "fonts"
WORD_BULLET = "\uf0b7"


def _checksum(data: bytes) -> int:
    data = data + b"\0" * (-len(data) % 4)
    return int(sum(struct.unpack(f">{len(data) // 4}L", data))) & 0xFFFFFFFF


def _read_tables(data: bytes) -> dict[str, bytes]:
    (count,) = struct.unpack(">H", data[4:6])
    tables = {}
    for i in range(count):
        tag, _, offset, length = struct.unpack(">4sLLL", data[12 + 16 * i : 28 + 16 * i])
        tables[tag.decode("ascii")] = data[offset : offset + length]
    return tables


def _sfnt(tables: dict[str, bytes]) -> bytes:
    tags = sorted(tables)
    count = len(tags)
    selector = count.bit_length() - 1
    search_range = (1 << selector) * 16
    head = bytearray(struct.pack(">LHHHH", 0x00010000, count, search_range, selector, count * 16 - search_range))
    body = bytearray()
    start = 12 + 16 * count
    for tag in tags:
        data = tables[tag]
        head += struct.pack(">4sLLL", tag.encode("ascii"), _checksum(data), start + len(body), len(data))
        body += data + b"\0" * (-len(data) % 4)
    return bytes(head + body)


def _cmap(mapping: dict[int, int]) -> bytes:
    """A Windows Unicode cmap (format 4) with one segment per code point."""
    segments = [(code, (mapping[code] - code) & 0xFFFF) for code in sorted(mapping)] + [(0xFFFF, 1)]
    count = len(segments)
    selector = count.bit_length() - 1
    search_range = 2 * (1 << selector)
    table = struct.pack(">HHHHHHH", 4, 16 + 8 * count, 0, 2 * count, search_range, selector, 2 * count - search_range)
    table += b"".join(struct.pack(">H", code) for code, _ in segments) + b"\0\0"
    table += b"".join(struct.pack(">H", code) for code, _ in segments)
    table += b"".join(struct.pack(">H", delta) for _, delta in segments)
    table += b"\0\0" * count
    return struct.pack(">HHHHL", 0, 1, 3, 1, 12) + table


def _names(names: dict[int, str]) -> bytes:
    records = b""
    strings = b""
    for name_id, text in sorted(names.items()):
        encoded = text.encode("utf-16-be")
        records += struct.pack(">HHHHHH", 3, 1, 0x409, name_id, len(encoded), len(strings))
        strings += encoded
    return struct.pack(">HHH", 0, len(names), 6 + len(records)) + records + strings


def symbol_font_bytes() -> bytes:
    """The TrueType file: Vera's tables with a new cmap (space, U+F0B7) and a new name ("SymbolMT")."""
    vera_path = FONTS / "Vera.ttf"
    vera = TTFontFile(str(vera_path))
    tables = _read_tables(vera_path.read_bytes())
    tables["cmap"] = _cmap({0x20: vera.charToGlyph[0x20], ord(WORD_BULLET): vera.charToGlyph[0x2022]})
    tables["name"] = _names({1: "Symbol", 2: "Regular", 4: "Symbol", 6: "SymbolMT"})
    return _sfnt(tables)


def register_fonts() -> None:
    """Register SymbolMT and the Vera family (an Arial-like TrueType face, embedded as Word embeds Arial)."""
    if "SymbolMT" in pdfmetrics.getRegisteredFontNames():
        return
    pdfmetrics.registerFont(TTFont("SymbolMT", io.BytesIO(symbol_font_bytes())))
    for name, file in (("Vera", "Vera.ttf"), ("Vera-Bold", "VeraBd.ttf"), ("Vera-Italic", "VeraIt.ttf")):
        pdfmetrics.registerFont(TTFont(name, str(FONTS / file)))
