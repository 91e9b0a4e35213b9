"""Answers and ledgers kept as Markdown and Word with full references; an evaluator's question set, checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.errors import RlaError
from rag.ui_text import answer_text
from rag.web.export import write_answer, write_ledger
from rag.web.questions import load_question_set

CITE = {
    "n": 1,
    "title": "Child Z",
    "area": "Exampleshire",
    "year": 2024,
    "type": "serious case review",
    "section": "learning",
    "page": 7,
    "source": "child-z.pdf",
    "quote": "Professionals should record what they see at the school gate.",
    "review_id": "2024-exampleshire-child-z",
    "text": "Professionals should record what they see at the school gate.",
    "start": 0,
    "end": 10,
}
ANSWER = {
    "question": "What did reviews say about the school gate?",
    "answer": "1 review addresses this.\nLearning:\n"
    "- Professionals should record what they see at the school gate. [1]",
    "citations": [CITE],
    "abstained": False,
}
REFERENCE = "Child Z. Exampleshire. 2024. serious case review. section: learning, page 7. source file: child-z.pdf."


def test_copied_answer_ends_with_its_full_references() -> None:
    text = answer_text(ANSWER)
    assert text.startswith("Question: What did reviews say about the school gate?")
    assert text.rstrip().endswith(f"[1] {REFERENCE}")


def test_answer_exports_open_and_carry_the_references(tmp_path: Path) -> None:
    import docx

    md, word = write_answer(ANSWER, tmp_path)
    assert md.suffix == ".md" and word.suffix == ".docx"
    assert "## References" in md.read_text(encoding="utf-8")
    paragraphs = [p.text for p in docx.Document(str(word)).paragraphs]
    assert paragraphs[0] == ANSWER["question"]
    assert paragraphs[paragraphs.index("References") + 1] == f"[1] {REFERENCE}"
    assert "Professionals should record what they see at the school gate. [1]" in paragraphs


def test_word_paragraphs_keep_their_styles_in_every_file(tmp_path: Path) -> None:
    import docx

    # Styles are looked up once for all files (rag.web.export): the second file must be styled as the first.
    for folder in (tmp_path / "first", tmp_path / "second"):
        folder.mkdir()
        word = write_answer(ANSWER, folder)[1]
        styles = [(p.style.name, p.text) for p in docx.Document(str(word)).paragraphs]
        assert styles == [
            ("Heading 1", ANSWER["question"]),
            ("Normal", "1 review addresses this."),
            ("Heading 2", "Learning:"),
            ("List Bullet", "Professionals should record what they see at the school gate. [1]"),
            ("Heading 2", "References"),
            ("Normal", f"[1] {REFERENCE}"),
        ]


def test_ledger_exports_number_each_review_with_its_reference(tmp_path: Path) -> None:
    import docx

    md, word = write_ledger("school gate", [CITE, {**CITE, "title": "Child Y", "page": None}], tmp_path)
    text = md.read_text(encoding="utf-8")
    assert "1. **Child Z**" in text and "2. **Child Y**" in text and "source file: child-z.pdf" in text
    paragraphs = [p.text for p in docx.Document(str(word)).paragraphs]
    refs = paragraphs[paragraphs.index("References") + 1 :]
    assert refs == [
        f"[1] {REFERENCE}",
        "[2] Child Y. Exampleshire. 2024. serious case review. section: learning. source file: child-z.pdf.",
    ]


def test_a_csv_question_set_is_read_with_gold_ids_and_learning_points(tmp_path: Path) -> None:
    f = tmp_path / "mine.csv"
    f.write_text(
        "question,gold review ids,learning points\n"
        '"What about fathers?",a; b,include fathers | record them\n'
        "What about bread?,,\n",
        encoding="utf-8",
    )
    qs = load_question_set(f, "mine.csv", {"a", "b"})
    assert [q.gold for q in qs] == [("a", "b"), ()]
    assert qs[0].learning_points == ("include fathers", "record them")
    assert [q.kind for q in qs] == ["topic", "unanswerable"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("a.csv", "query,gold\nx,a\n", "a.csv, line 1: the header needs a 'question' column"),
        ("a.csv", "question,gold\nfine,a\n,a\n", "a.csv, line 3: the question is empty"),
        ("a.csv", "question,gold\nfine,a,extra\n", "a.csv, line 2: 3 cells where the header has 2"),
        ("a.csv", "question,gold\nfine,nope\n", "a.csv, question row2: gold review 'nope' is not in the index"),
        ("a.jsonl", '{"id": "q1", "question": "x"}\n{"id": "q2"}\n', "a.jsonl, line 2: not a valid question"),
        ("a.txt", "question\n", "give a .jsonl file"),
    ],
)
def test_a_bad_question_set_is_refused_with_its_line(tmp_path: Path, name: str, content: str, message: str) -> None:
    f = tmp_path / name
    f.write_text(content, encoding="utf-8")
    with pytest.raises(RlaError) as err:
        load_question_set(f, name, {"a"})
    assert message in str(err.value)
