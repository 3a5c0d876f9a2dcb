"""Long-term memory for Throughline: memories in ChromaDB, searched by meaning.

Public API only; see `memory.store` for the store and `memory.errors` for the error tree.
Importing this package is cheap: chromadb and the embedding model load on first use.
"""

from memory.doctor import DoctorReport, doctor
from memory.embeddings import Embedder, default_embedder
from memory.errors import EmbeddingUnavailable, MemoryStoreError, StoreBusy, StoreCorrupt, StoreUnavailable
from memory.jsonl import ImportFileError
from memory.records import Hit, Memory, StoreStats
from memory.store import MemoryStore

__all__ = [
    "DoctorReport",
    "Embedder",
    "EmbeddingUnavailable",
    "Hit",
    "ImportFileError",
    "Memory",
    "MemoryStore",
    "MemoryStoreError",
    "StoreBusy",
    "StoreCorrupt",
    "StoreStats",
    "StoreUnavailable",
    "default_embedder",
    "doctor",
]
