"""The store's side of a search: filter masks over the mirror, Chroma's vector lists and turning
ranked rows into `Hit`s (see `memory.retrieval` for the ranking itself)."""

from __future__ import annotations

import dataclasses
from typing import Any

from memory import chroma_backend as backend
from memory.mirror import Mirror
from memory.records import KINDS, Hit, as_utc, check_kind


def mask(mirror: Mirror, collection: Any, filters: dict[str, Any], place: str) -> Any:
    """Rows of `mirror` that pass the search filters (`where` is asked of Chroma)."""
    import numpy as np

    mask = mirror.alive.copy()
    kind = filters["kind"]
    if kind is not None:
        kinds = [kind] if isinstance(kind, str) else list(kind)
        mask &= np.isin(mirror.kinds, [KINDS.index(check_kind(k)) for k in kinds])
    if filters["session"] is not None:
        rows = [row for _, row in mirror.sessions.get(filters["session"], [])]
        in_session = np.zeros_like(mask)
        in_session[rows] = True
        mask &= in_session
    if filters["since"] is not None:
        mask &= mirror.created >= as_utc(filters["since"]).timestamp()
    if filters["until"] is not None:
        mask &= mirror.created < as_utc(filters["until"]).timestamp()
    if filters["where"]:
        with backend.translate_errors(place):
            allowed = collection.get(where=backend.build_where(where=filters["where"]), include=[])["ids"]
        chosen = np.zeros_like(mask)
        chosen[[mirror.row_of[id] for id in allowed if id in mirror.row_of]] = True
        mask &= chosen
    return mask

def vector_rows(collection, mirror: Mirror, vector, n: int, where, place: str) -> list[tuple[int, float]]:
    """Chroma's top `n` by cosine as (mirror row, cosine)."""
    with backend.translate_errors(place):
        found = collection.query(query_embeddings=vector, n_results=n, where=where, include=["distances"])
    rows = []
    for id, distance in zip(found["ids"][0], found["distances"][0]):
        row = mirror.row_of.get(id)
        if row is not None:
            rows.append((row, max(-1.0, min(1.0, 1.0 - float(distance)))))
    return rows

def vector_hits(collection, vector, k: int, where, namespace: str, place: str) -> list[Hit]:
    """mode="vector": plain cosine top-k, straight from Chroma."""
    with backend.translate_errors(place):
        found = collection.query(
            query_embeddings=vector, n_results=k, where=where, include=["documents", "metadatas", "distances"]
        )
    rows = zip(found["ids"][0], found["documents"][0], found["metadatas"][0], found["distances"][0])
    hits = []
    for id, text, meta, distance in rows:
        similarity = max(-1.0, min(1.0, 1.0 - float(distance)))
        hits.append(Hit(backend.decode(id, text, meta, namespace), similarity, similarity, ("vector",)))
    return hits

def hits(collection, mirror: Mirror, ranked, vector, namespace: str, server: bool, place: str) -> list[Hit]:
    """Hits for `ranked` rows: cosine filled in for rows only BM25 found; rows Chroma no longer
    has (deleted by another server client) dropped."""
    import numpy as np

    ids = [mirror.rows[r.row].id for r in ranked]
    missing = [mirror.rows[r.row].id for r in ranked if r.similarity is None]
    present: set[str] | None = None
    cosines: dict[str, float] = {}
    if missing or server:
        with backend.translate_errors(place):
            found = collection.get(ids=ids if server else missing, include=["embeddings"])
        present = set(found["ids"]) if server else None
        query = np.asarray(vector[0], dtype=np.float32)
        for id, emb in zip(found["ids"], found["embeddings"]):
            if id in missing:
                cosines[id] = float(np.dot(np.asarray(emb, dtype=np.float32), query))
    hits = []
    for r in ranked:
        memory = mirror.rows[r.row]
        if present is not None and memory.id not in present:
            mirror.delete(memory.id)
            continue
        similarity = r.similarity if r.similarity is not None else cosines.get(memory.id)
        hits.append(Hit(dataclasses.replace(memory, namespace=namespace), r.score, similarity, tuple(r.sources)))
    return hits
