"""The index as a LangChain retriever: Documents whose page_content is the verbatim review text.

Use it in your own chains; each Document's metadata says where its text comes from::

    from rag.langchain_retriever import ReviewRetriever

    reviews = ReviewRetriever.from_settings(k=5)                       # ./index, or env RLA_INDEX
    docs = reviews.invoke("disguised compliance")
    for d in docs:
        print(d.metadata["title"], d.metadata["year"], d.metadata["source"], d.page_content[:80])

    # In an LCEL chain, number the excerpts so the model can cite them:
    from langchain_core.runnables import RunnableLambda
    numbered = reviews | RunnableLambda(
        lambda docs: "\\n".join(f"[{i}] {d.page_content}" for i, d in enumerate(docs, 1))
    )
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from rag.models import Hit
from rag.retrieve import Filters, Retriever
from rag.settings import Settings


def hit_document(hit: Hit) -> Document:
    """page_content is the chunk's verbatim text; metadata holds every other field of the hit."""
    meta = {k: v for k, v in hit.to_dict().items() if k != "text"}
    meta["chunk_id"] = hit.chunk.id
    meta["keywords"] = list(hit.chunk.keywords)
    return Document(page_content=hit.chunk.text, metadata=meta, id=hit.chunk.id)


class ReviewRetriever(BaseRetriever):
    """Hybrid (or dense, or BM25) search over an rla index, with the same filters as `rla search`."""

    retriever: Retriever
    k: int = 6
    mode: str | None = None  # None: the settings' mode (hybrid)
    filters: Filters | None = None

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **kwargs: Any) -> ReviewRetriever:
        return cls(retriever=Retriever(settings or Settings.from_env()), **kwargs)

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        hits = self.retriever.search(query, k=self.k, mode=self.mode, filters=self.filters)
        return [hit_document(h) for h in hits]
