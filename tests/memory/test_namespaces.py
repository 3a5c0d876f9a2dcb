"""Namespaces never leak, under random interleavings of add, search and forget."""

from __future__ import annotations

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
    ),
    min_size=1,
    max_size=12,
)


@pytest.fixture(scope="module")
def shared_path(tmp_path_factory):
    return tmp_path_factory.mktemp("namespaces") / "mem"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_random_interleavings_never_leak(shared_path, ops):
    run = uuid.uuid4().hex[:8]
    embedder = HashEmbedder()
    stores = {ns: MemoryStore(shared_path, namespace=f"{run}-{ns}", embedder=embedder) for ns in "ab"}
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
