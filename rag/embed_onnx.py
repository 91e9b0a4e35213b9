"""The query encoder as an ONNX graph run by onnxruntime: the same weights and vectors, without torch.

One short query through eager PyTorch costs ~20–30 ms on a laptop core, most of it per-operator
overhead; onnxruntime runs the same graph in about a third of that, and starting it takes a fraction
of torch's import. Ingest, which has the PyTorch model loaded anyway, exports the graph once per
model into the cache folder (`encoders/<weights sha256>/`) after checking that it gives the same
vectors as sentence-transformers on probe texts. Search uses it while its checksum and probe vectors match,
and otherwise falls back to the PyTorch model — so the file can only ever make search faster.

Queries go through an int8 copy of the graph when `Settings.quantised_queries` is on: its MatMul weights quantised
per channel by onnxruntime (`quantize_dynamic`, no download), made once beside the export from it (so from the same
weights; `int8.json` names the export's checksum) and used while its probe vectors stay within
`QUANTISED_MIN_COSINE` of the model's. A third of the encoder's CPU per question (README: "Performance"); documents
stay embedded by the full model.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.store import sha256_file

if TYPE_CHECKING:
    from rag.embed import SentenceTransformerEmbedder

# Texts of different lengths, one with padding in its batch: a graph that mishandles any of them fails.
PROBES = (
    "Was not brought: missed health appointments for a disabled child.",
    "fathers",
    (
        "The review found that professionals accepted the mother's account of the bruising without question, "
        "did not speak to the child alone, and closed the case after three visits in 2017."
    ),
)
TOLERANCE = 1e-4
FORMAT = 1  # of encoder.json; another number means "export again"
QUANTISED = "model.int8.onnx"
QUANTISED_FORMAT = 1  # of int8.json; another number means "quantise again"
# An int8 vector is within this cosine of the model's on each probe, or the int8 graph is not used. Measured on the
# 174 evaluation questions (search and coverage texts): min 0.989, mean 0.994; without per-channel scales 0.939.
QUANTISED_MIN_COSINE = 0.98
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class EncoderUnavailable(Exception):
    """The ONNX encoder cannot be made or used; the message says why (shown in the ingest report)."""


# What a missing package, a partial or damaged file, a read-only cache or an unexportable model raise
# (onnxruntime's and the exporter's own errors are RuntimeErrors). Anything else is a bug, and is not hidden.
_EXPECTED = (OSError, ValueError, KeyError, TypeError, ImportError, RuntimeError)


def encoder_dir(cache: Path, weights_sha256: str) -> Path:
    return cache / "encoders" / weights_sha256[:16]


def exported(folder: Path) -> bool:
    """An encoder of this format is there (cheap: its checksum and probes are checked when it is loaded)."""
    try:
        return json.loads((folder / "encoder.json").read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def quantised_made(folder: Path) -> bool:
    """An int8 encoder of this format is there (cheap: checked when it is loaded)."""
    try:
        return json.loads((folder / "int8.json").read_text(encoding="utf-8")).get("format") == QUANTISED_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


@dataclass
class OnnxEncoder:
    name: str
    dim: int
    max_tokens: int
    weights_sha256: str | None
    _session: Any
    _tokenizer: Any
    _inputs: tuple[str, ...]
    quantised: bool = False  # the int8 graph (rag.embed.load_query_embedder)

    @classmethod
    def load(cls, folder: Path, threads: int = 0) -> OnnxEncoder | None:
        """The encoder in `folder`, or None when it is missing, unreadable or no longer matches its probes."""
        try:
            return cls.open(folder, threads=threads)
        except EncoderUnavailable:
            return None

    @classmethod
    def open(cls, folder: Path, quantised: bool = False, threads: int = 0) -> OnnxEncoder:
        """The encoder in `folder` (its int8 graph when `quantised`), running `threads` threads a call (0: as many
        as onnxruntime chooses); raises EncoderUnavailable saying why it cannot be used."""
        try:
            return cls._open(folder, quantised, threads)
        except _EXPECTED as e:
            raise EncoderUnavailable(f"{type(e).__name__}: {e}"[:200]) from e

    @classmethod
    def _open(cls, folder: Path, quantised: bool, threads: int) -> OnnxEncoder:
        if not (folder / "encoder.json").exists():
            raise EncoderUnavailable("not exported yet")
        meta = json.loads((folder / "encoder.json").read_text(encoding="utf-8"))
        # The checksum catches damage the probes may not touch (rows of the vocabulary they never use).
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise EncoderUnavailable("an encoder of another format")
        graph = folder / "model.onnx"
        if quantised:
            graph = folder / QUANTISED
            if not (folder / "int8.json").exists():
                raise EncoderUnavailable("not quantised yet")
            made = json.loads((folder / "int8.json").read_text(encoding="utf-8"))
            if not isinstance(made, dict) or made.get("format") != QUANTISED_FORMAT:
                raise EncoderUnavailable("an int8 encoder of another format")
            # Made from this export, so from the weights the folder is named after.
            source = (made.get("weights_sha256"), made.get("from_onnx_sha256"))
            if source != (meta["weights_sha256"], meta["onnx_sha256"]):
                raise EncoderUnavailable(f"{QUANTISED} was made from another export")
            if sha256_file(graph) != made["onnx_sha256"]:
                raise EncoderUnavailable(f"{QUANTISED} does not match its checksum")
        elif sha256_file(graph) != meta["onnx_sha256"]:
            raise EncoderUnavailable("model.onnx does not match its checksum")
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = threads  # 0: onnxruntime's choice (Settings.query_threads)
        # Idle threads sleep rather than spin: a spinning pool steals the cores from whatever runs next
        # (the web server, a benchmark's other side); measured on 2 cores, it also slowed queries by 45 %.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        try:
            tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        except Exception as e:  # the tokenizers library raises a bare Exception for a bad file
            raise EncoderUnavailable(f"tokenizer.json cannot be read ({e})") from e
        tokenizer.enable_truncation(max_length=int(meta["max_tokens"]))
        tokenizer.enable_padding(pad_id=int(meta["pad_id"]), pad_token=str(meta["pad_token"]))
        names = tuple(i.name for i in session.get_inputs())
        enc = cls(
            meta["name"],
            int(meta["dim"]),
            int(meta["max_tokens"]),
            meta["weights_sha256"],
            session,
            tokenizer,
            names,
            quantised,
        )
        got = enc.embed_batch(list(meta["probes"]))
        want = np.asarray(meta["vectors"], dtype=np.float32)
        if got.shape != want.shape:
            raise EncoderUnavailable("its vectors have another shape than the model's")
        if quantised and (got * want).sum(axis=1).min() < QUANTISED_MIN_COSINE:
            raise EncoderUnavailable(f"its vectors are further than cosine {QUANTISED_MIN_COSINE} from the model's")
        if not quantised and np.abs(got - want).max() > TOLERANCE:
            raise EncoderUnavailable("its vectors no longer match the model's on the probe texts")
        return enc

    def fits(self, text: str) -> bool:
        """True when the model sees the whole text (nothing cut off by truncation)."""
        return not self._tokenizer.encode(text).overflowing

    def embed_batch(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # In order of length, as sentence-transformers does: a batch is padded to its longest text, so mixing
        # definitions with two-word aliases costs 3× (the theme vectors: 7.0 s → 2.1 s).
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = []
        for start in range(0, len(texts), batch_size):
            encoded = self._tokenizer.encode_batch([texts[i] for i in order[start : start + batch_size]])
            feeds = {
                "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64),
            }
            hidden = self._session.run(None, {k: feeds[k] for k in self._inputs})[0]
            mask = feeds["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
            out.append(pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12))
        vectors = np.empty((len(texts), self.dim), dtype=np.float32)
        vectors[order] = np.concatenate(out)
        return vectors


def export(embedder: SentenceTransformerEmbedder, cache: Path) -> Path | None:
    """Write the ONNX encoder of a loaded sentence-transformers embedder; None when it cannot match it."""
    try:
        return export_or_explain(embedder, cache)
    except EncoderUnavailable:
        return None


def export_or_explain(embedder: SentenceTransformerEmbedder, cache: Path) -> Path:
    """Write the ONNX encoder of a loaded sentence-transformers embedder; raises EncoderUnavailable saying why not.

    Only models whose vectors are the mean of the transformer's token outputs, normalised (as the
    bundled all-MiniLM-L6-v2), pass the probe check; others keep using PyTorch for queries.
    """
    if not embedder.weights_sha256:
        raise EncoderUnavailable("the model's weights have no checksum to file the export under")
    folder = encoder_dir(cache, embedder.weights_sha256)
    with contextlib.suppress(EncoderUnavailable):
        OnnxEncoder.open(folder)
        return folder
    tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
    try:
        _remove_orphans(folder)
        return _export(embedder, folder, tmp)
    except _EXPECTED as e:
        raise EncoderUnavailable(f"{type(e).__name__}: {e}"[:200]) from e
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _export(embedder: SentenceTransformerEmbedder, folder: Path, tmp: Path) -> Path:
    import onnx  # noqa: F401  (torch's exporter needs it; without it there is nothing to do)
    import torch

    st = embedder._model
    tokenizer = st.tokenizer
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    sample = tokenizer(["a query", "a longer sample text"], padding=True, return_tensors="pt")
    names = [n for n in INPUTS if n in sample]
    model = _hidden_states(st[0].auto_model, names).eval()
    axes = {n: {0: "batch", 1: "tokens"} for n in [*names, "hidden"]}
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            tuple(sample[n] for n in names),
            str(tmp / "model.onnx"),
            input_names=names,
            output_names=["hidden"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    tokenizer.backend_tokenizer.save(str(tmp / "tokenizer.json"))
    expected = embedder.embed_batch(list(PROBES))
    meta = {
        "format": FORMAT,
        "name": embedder.name,
        "weights_sha256": embedder.weights_sha256,
        "dim": embedder.dim,
        "max_tokens": embedder.max_tokens,
        "pad_id": int(tokenizer.pad_token_id),
        "pad_token": str(tokenizer.pad_token),
        "onnx_sha256": sha256_file(tmp / "model.onnx"),
        "probes": list(PROBES),
        "vectors": expected.tolist(),
    }
    (tmp / "encoder.json").write_text(json.dumps(meta), encoding="utf-8")
    OnnxEncoder.open(tmp)
    shutil.rmtree(folder, ignore_errors=True)
    with contextlib.suppress(OSError):  # another process has just put one there
        os.replace(tmp, folder)
    OnnxEncoder.open(folder)
    return folder


def quantise(folder: Path, threads: int = 0) -> OnnxEncoder:
    """The int8 encoder of the export in `folder`, made the first time (kept beside it); raises EncoderUnavailable
    saying why it cannot be made or used.

    Another process may be making it at the same time: each writes its own temporary file and renames it into place.
    """
    with contextlib.suppress(EncoderUnavailable):
        return OnnxEncoder.open(folder, quantised=True, threads=threads)
    tmp = folder / f"{QUANTISED}.tmp-{os.getpid()}"
    try:
        _quantise(folder, tmp)
    except _EXPECTED as e:
        raise EncoderUnavailable(f"{type(e).__name__}: {e}"[:200]) from e
    finally:
        tmp.unlink(missing_ok=True)
    return OnnxEncoder.open(folder, quantised=True, threads=threads)


def _quantise(folder: Path, tmp: Path) -> None:
    meta = json.loads((folder / "encoder.json").read_text(encoding="utf-8"))
    if sha256_file(folder / "model.onnx") != meta["onnx_sha256"]:
        raise EncoderUnavailable("model.onnx does not match its checksum")
    for orphan in folder.glob(f"{QUANTISED}.tmp-*"):
        pid = orphan.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            orphan.unlink(missing_ok=True)
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logger = logging.getLogger()  # the quantiser warns on the root logger that it was not pre-processed
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        # MatMuls only (the embedding table stays fp32: a gathered row is cheap already), one scale per output
        # channel: per-tensor scales gave cosine 0.939 to the model's vectors at worst, per-channel 0.989.
        quantize_dynamic(
            folder / "model.onnx", tmp, op_types_to_quantize=["MatMul"], per_channel=True, weight_type=QuantType.QInt8
        )
    finally:
        logger.setLevel(level)
    made = {
        "format": QUANTISED_FORMAT,
        "weights_sha256": meta["weights_sha256"],
        "from_onnx_sha256": meta["onnx_sha256"],
        "onnx_sha256": sha256_file(tmp),
    }
    note = folder / f"int8.json.tmp-{os.getpid()}"
    note.write_text(json.dumps(made), encoding="utf-8")
    # The graph first, then the note naming its checksum: a reader between the two sees a mismatch, not a wrong graph.
    os.replace(tmp, folder / QUANTISED)
    os.replace(note, folder / "int8.json")


def _remove_orphans(folder: Path) -> None:
    """Temp folders left by exports that were killed (their process is gone)."""
    for tmp in folder.parent.glob(f"{folder.name}.tmp-*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(tmp, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # someone else's process, or not a pid we can ask about: leave its folder
    return True


def _hidden_states(model: Any, names: list[str]) -> Any:
    """The transformer with positional inputs and one output, as the exporter wants it."""
    import torch

    class HiddenStates(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: Any) -> Any:
            return self.model(**dict(zip(names, inputs, strict=True))).last_hidden_state

    return HiddenStates()
