"""Errors raised by the memory package.

    MemoryStoreError            base: anything the memory layer cannot do
    ├── EmbeddingUnavailable    the bundled embedding model is missing or broken
    ├── StoreUnavailable        the data dir cannot be opened/written, or the server is unreachable
    ├── StoreCorrupt            the data dir exists but cannot be read as a memory store
    └── StoreBusy               another process holds the embedded store's lock

Each message says what went wrong and what to do; the assistant's CLI and TUI show it as is.
`memory` never imports `assistant`, so the agent maps these into its own tree at the edge.
"""


class MemoryStoreError(Exception):
    """Anything the memory layer cannot do."""


class EmbeddingUnavailable(MemoryStoreError):
    """The bundled embedding model is missing or cannot be loaded."""


class StoreUnavailable(MemoryStoreError):
    """The store cannot be reached: unwritable data dir or unreachable Chroma server."""


class StoreCorrupt(MemoryStoreError):
    """The data dir holds something that is not a readable memory store."""


class StoreBusy(MemoryStoreError):
    """Another process holds the embedded store; use server mode for concurrent access."""
