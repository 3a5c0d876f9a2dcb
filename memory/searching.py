"""The store's side of a search: filter masks over the mirror, the query's embeddings, Chroma's
vector lists and turning ranked rows into `Hit`s (see `memory.retrieval` for the ranking)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, Callable

from memory import chroma_backend as backend
from memory.mirror import Mirror
from memory.records import KINDS, Hit, as_utc, check_kind
from memory.retrieval import Weights, hybrid_rank, parse_query
from memory.vector_copy import VectorCopy


def hybrid_search(
    collection: Any,
    mirror: Mirror,
    query: str,
    k: int,
    filters: dict[str, Any],
    now: datetime,
    embed: Callable[[list[str]], Any],
    weights: Weights,
    namespace: str,
    server: bool,
    place: str,
    copy: VectorCopy | None = None,
) -> list[Hit]:
    """The hybrid search proper, under the store's lock with its mirror caught up.

    With `copy` (the mirror's vectors, complete), Chroma is not called: the vectors are ranked
    exactly over the copy (see `memory.vector_copy`). Filters on metadata (`where`) need Chroma
    and are not given then."""
    import numpy as np

    parsed = parse_query(query, mirror, now, weights)
    vectors = embed([parsed.embed[0]])  # alone, as always: batch-mates would shift an int8 vector
    if len(parsed.embed) > 1:
        vectors = np.concatenate([np.asarray(vectors), np.asarray(embed(list(parsed.embed[1:])))])
    rows = mask(mirror, collection, filters, place)
    if not rows.any():
        return []
    if copy is not None:
        cosines = copy.similarities(np.asarray(vectors), mirror.size)

        def vector_search(start, end, n, which):
            return exact_rows(mirror, cosines, rows, n, which, _later(filters["since"], start), _earlier(filters["until"], end))

        ranked = hybrid_rank(mirror, parsed, k, rows, vector_search, now, weights)
        return [Hit(dataclasses.replace(mirror.rows[r.row], namespace=namespace), r.score, _cosine(cosines[r.row, 0]),
                    tuple(r.sources)) for r in ranked]

    def vector_search(start, end, n, which):
        since = _later(filters["since"], start)
        until = _earlier(filters["until"], end)
        where = backend.build_where(**dict(filters, since=since, until=until))
        return vector_rows(collection, mirror, [vectors[i] for i in which], n, where, place)

    ranked = hybrid_rank(mirror, parsed, k, rows, vector_search, now, weights)
    return hits(collection, mirror, ranked, vectors[:1], namespace, server, place)


def exact_rows(mirror: Mirror, cosines, rows, n: int, which, since: datetime | None, until: datetime | None
               ) -> list[list[tuple[int, float]]]:
    """`vector_rows` over the copy's cosines (rows x query vectors): the exact top `n` of the
    rows passing the filters, one list per query vector in `which`."""
    import numpy as np

    allowed = rows.copy()
    if since is not None:
        allowed &= mirror.created >= as_utc(since).timestamp()
    if until is not None:
        allowed &= mirror.created < as_utc(until).timestamp()
    allowed &= ~np.isnan(cosines[:, 0])
    candidates = np.flatnonzero(allowed)
    lists = []
    for i in which:
        scores = cosines[candidates, i]
        top = min(n, len(candidates))
        best = np.argpartition(-scores, top - 1)[:top] if top else np.array([], dtype=np.int64)
        best = best[np.argsort(-scores[best], kind="stable")]
        lists.append([(int(candidates[b]), _cosine(scores[b])) for b in best])
    return lists


def _cosine(value) -> float | None:
    value = float(value)
    return None if value != value else max(-1.0, min(1.0, value))


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

def vector_rows(collection, mirror: Mirror, vectors, n: int, where, place: str) -> list[list[tuple[int, float]]]:
    """Chroma's top `n` by cosine as (mirror row, cosine), one list per query vector (one
    Chroma call for them all)."""
    with backend.translate_errors(place):
        found = collection.query(query_embeddings=vectors, n_results=n, where=where, include=["distances"])
    lists = []
    for ids, distances in zip(found["ids"], found["distances"]):
        rows = []
        for id, distance in zip(ids, distances):
            row = mirror.row_of.get(id)
            if row is not None:
                rows.append((row, max(-1.0, min(1.0, 1.0 - float(distance)))))
        lists.append(rows)
    return lists

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


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(as_utc(a), as_utc(b))


def _earlier(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return min(as_utc(a), as_utc(b))
