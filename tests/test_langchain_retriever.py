"""rag.langchain_retriever: the index as a LangChain retriever returning verbatim review text."""

from __future__ import annotations

import asyncio
import json

from langchain_core.documents import Document
from langchain_core.runnables import RunnableLambda

from rag.langchain_retriever import ReviewRetriever
from rag.retrieve import Filters, Retriever


def test_invoke_returns_documents_whose_content_is_verbatim_source_text(retriever: Retriever) -> None:
    docs = ReviewRetriever(retriever=retriever, k=4).invoke("disguised compliance")

    assert len(docs) == 4 and all(isinstance(d, Document) for d in docs)
    assert [d.page_content for d in docs] == [h.chunk.text for h in retriever.search("disguised compliance", k=4)]
    for d in docs:
        m = d.metadata
        assert retriever.data.sources[m["source"]].text[m["start"] : m["end"]] == d.page_content
        assert d.id == m["chunk_id"] and m["review_id"] == m["chunk_id"].split("#")[0]
        assert {"title", "year", "area", "type", "section", "page", "score", "rank", "keywords"} <= set(m)
        json.dumps(m)  # plain values only: safe for any vector store or tracer


def test_filters_and_mode_are_passed_through(retriever: Retriever) -> None:
    docs = ReviewRetriever(retriever=retriever, k=5, mode="bm25", filters=Filters(year_from=2018)).invoke("fathers")
    assert docs and all(d.metadata["year"] is not None and d.metadata["year"] >= 2018 for d in docs)
    assert [d.page_content for d in docs] == [
        h.chunk.text for h in retriever.search("fathers", k=5, mode="bm25", filters=Filters(year_from=2018))
    ]


def test_batch_async_and_a_chain(retriever: Retriever) -> None:
    reviews = ReviewRetriever(retriever=retriever, k=3)
    assert [len(docs) for docs in reviews.batch(["fathers", "neglect"])] == [3, 3]
    assert len(asyncio.run(reviews.ainvoke("fathers"))) == 3

    numbered = reviews | RunnableLambda(
        lambda docs: "\n".join(f"[{i}] {d.page_content}" for i, d in enumerate(docs, 1))
    )
    text = numbered.invoke("was not brought")
    assert text.startswith("[1] ") and "\n[3] " in text
