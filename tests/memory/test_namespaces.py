"""Namespaces never leak, under random interleavings of add, search, forget and export, in
embedded mode and against a real `chroma run` server."""

from __future__ import annotations

import io
import json
import runpy
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memory import Memory, MemoryStore

HashEmbedder = runpy.run_path(str(Path(__file__).with_name("memory_fakes.py")))["HashEmbedder"]
WORDS = ["alpha", "beta", "gamma", "delta", "prose", "revenue", "chart"]

operations = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.sampled_from("ab"), st.lists(st.sampled_from(WORDS), min_size=1, max_size=3)),
        st.tuples(st.just("search"), st.sampled_from("ab"), st.sampled_from(WORDS)),
        st.tuples(st.just("forget"), st.sampled_from("ab"), st.integers(min_value=0, max_value=20)),
        st.tuples(st.just("export"), st.sampled_from("ab"), st.none()),
    ),
    min_size=1,
    max_size=12,
)


@pytest.fixture(scope="module")
def shared_path(tmp_path_factory):
    return tmp_path_factory.mktemp("namespaces") / "mem"


@pytest.fixture(params=["embedded", pytest.param("server", marks=pytest.mark.server)])
def place(request, shared_path):
    """Where the stores live: {"path": ...} or {"url": ...} (one server for the whole session)."""
    if request.param == "server":
        return {"url": request.getfixturevalue("chroma_server")}
    return {"path": shared_path}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_random_interleavings_never_leak(place, ops):
    run = uuid.uuid4().hex[:8]
    embedder = HashEmbedder()
    stores = {ns: MemoryStore(**place, namespace=f"{run}-{ns}", embedder=embedder) for ns in "ab"}
    model: dict[str, list[str]] = {"a": [], "b": []}
    all_ids: list[str] = []
    try:
        for op, ns, arg in ops:
            store, own = stores[ns], model[ns]
            if op == "add":
                own.append(store.add(Memory(" ".join(arg))))
                all_ids.append(own[-1])
            elif op == "search":
                hits = store.search(arg, k=50)
                assert {hit.memory.id for hit in hits} == set(own)
                assert all(hit.memory.namespace == f"{run}-{ns}" for hit in hits)
                assert {h.memory.id for h in store.search(arg, k=50, mode="vector")} == set(own)
            elif op == "export":
                buffer = io.StringIO()
                assert store.export_jsonl(buffer) == len(own)
                records = [json.loads(line) for line in buffer.getvalue().splitlines()]
                assert {r["id"] for r in records} == set(own)
                assert {r["namespace"] for r in records} <= {f"{run}-{ns}"}
            elif all_ids:
                # Forget any id ever made, ours or the other namespace's: only ours may go.
                target = all_ids[arg % len(all_ids)]
                assert store.forget(target) is (target in own)
                if target in own:
                    own.remove(target)
            assert store.count() == len(own)
        for ns, store in stores.items():
            assert sorted(memory.id for memory in store.all()) == sorted(model[ns])
    finally:
        for store in stores.values():
            store.close()
