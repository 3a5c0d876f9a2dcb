"""A deterministic stand-in embedder for tests that need speed, not meaning.

Loaded with `runpy.run_path` (by conftest and by test subprocesses) rather than imported, so it
never depends on sys.path.
"""

from __future__ import annotations

import hashlib

import numpy as np


class HashEmbedder:
    """Bag of words hashed into 64 dimensions, L2-normalised: shared words mean similar vectors."""

    dimensions = 64

    def __init__(self) -> None:
        self.batches: list[int] = []

    def embed(self, texts):
        self.batches.append(len(texts))
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in (text.lower().split() or [""]):
                digest = hashlib.blake2b(word.encode("utf-8"), digest_size=4).digest()
                out[row, int.from_bytes(digest, "little") % self.dimensions] += 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)
