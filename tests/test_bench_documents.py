"""The benchmark's document measurements on tiny inputs: the synthetic text, the scanned PDF, the table rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from tests_support import load_eval_script

documents = load_eval_script("bench_documents")
bench = load_eval_script("bench")


def test_synthetic_text_has_the_lines_asked_for_and_is_the_same_each_time() -> None:
    text = documents.synthetic_text(1000)
    assert text.count("\n") == 1000 and text == documents.synthetic_text(1000)
    assert "Date Agency Event" in text and "Practice Matters Here" in text  # a table, heading-like lines


def test_measure_text_parses_one_record_with_its_sections() -> None:
    got = documents.measure_text(2000)
    assert got["lines"] == 2000 and got["records"] == 1 and got["sections"] > 50
    assert got["lines_per_s"] > 0


def test_scanned_pdf_has_pages_of_pictures_and_no_text(tmp_path: Path) -> None:
    pytest.importorskip("reportlab")
    made = documents.make_pdfs(3, tmp_path, scanned=2)
    text_pdf, scan_pdf = PdfReader(made["pdf"]), PdfReader(made["scan"])
    assert len(text_pdf.pages) == 3 and "Page 2 of 3" in text_pdf.pages[1].extract_text()
    assert len(scan_pdf.pages) == 2
    for page in scan_pdf.pages:
        assert page.extract_text().strip() == "" and len(page.images) == 1


def _doc(rate_10k: float, rate_1m: float) -> dict[str, Any]:
    text = [
        {"lines": 10_000, "lines_per_s": rate_10k, "wall_s": 1.0, "maxrss_mb": 50.0},
        {"lines": 1_000_000, "lines_per_s": rate_1m, "wall_s": 90.0, "maxrss_mb": 900.0},
    ]
    pdf = {"pages": 60, "pages_per_s": 20.0, "seconds": 3.0}
    scan = {"pages": 60, "pages_per_s": 0.5, "seconds": 120.0, "ocr_page_timeout_s": 60.0}
    return {"text": text, "pdf": {"pdf": pdf, "scan": scan}}


def test_document_rows_judge_linearity_and_say_what_fits_the_ocr_limit() -> None:
    rows = bench._document_rows(_doc(15_000, 12_000))
    assert [r.result for r in rows[:2]] == ["", "PASS"]
    assert rows[-1].pipeline == "0.50 (120 s)" and "2 s a page; ocr_page_timeout_s allows 60 s" in rows[-1].target
    assert rows[-1].ratio == "40× slower"
    assert bench._document_rows(_doc(15_000, 5_000))[1].result == "FAIL"  # a third of the rate: not linear
