"""The router: prefixes, follow-ups, similarity on held-out requests, plugins, the example cache.

Uses the real bundled embedder (loaded once per session); the held-out files were written apart
from the examples in assistant/chains/examples/ and never copied into them."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from assistant.routing import (
    BUILTIN_ROUTES, SAFE_BELOW, Route, Router, _safe_choice, is_follow_up, load_examples, split_prefix,
)
from assistant.routing_calibration import calibrate_safe_below, cross_validated
from assistant.routing_cues import CUES, TERMS, _words, cue_vector
from memory.embeddings import default_embedder

DATA = Path(__file__).parents[1] / "data"
HELD_OUT = ["route_heldout.jsonl", "route_heldout2.jsonl"]


def read_held_out(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]


class CountingEmbedder:
    """The real embedder, counting how many texts it is asked to embed."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.dimensions = inner.dimensions
        self.texts = 0

    def embed(self, texts):
        self.texts += len(texts)
        return self.inner.embed(texts)


@pytest.fixture(scope="session")
def embedder():
    return default_embedder()


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("routing-cache")


@pytest.fixture(scope="session")
def router(embedder, cache_dir):
    router = Router(load_examples(), embedder, cache_dir=cache_dir)
    router.warm()
    return router


# -- prefixes ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/code reverse a list", ("coding", "reverse a list")),
        ("/write a haiku about rain", ("writing", "a haiku about rain")),
        ("/analyze: sales.csv by region", ("analysis", "sales.csv by region")),
        ("/analyse sales.csv", ("analysis", "sales.csv")),
        ("/chat   how are you?", ("chat", "how are you?")),
        ("  /CODE Fix this\nprint(x", ("coding", "Fix this\nprint(x")),
        ("/Write", ("writing", "")),
        ("/foo bar", (None, "/foo bar")),
        ("/codex write a function", (None, "/codex write a function")),
        ("/code/lib is missing", (None, "/code/lib is missing")),
        ("run /code now", (None, "run /code now")),
        ("code: reverse a list", (None, "code: reverse a list")),
    ],
)
def test_split_prefix(text, expected):
    assert split_prefix(text) == expected


def test_split_prefix_with_route_names():
    assert split_prefix("/translate hola", ["translate", "coding"]) == ("translate", "hola")
    assert split_prefix("/code x", ["translate", "coding"]) == ("coding", "x")
    assert split_prefix("/write x", ["translate", "coding"]) == (None, "/write x")


def test_prefix_beats_similarity_and_follow_up(router):
    assert router.route("/chat write a python script to parse logs") == Route(
        "chat", 1.0, "prefix", "write a python script to parse logs"
    )
    assert router.route("/analyse make it shorter", current="writing").name == "analysis"
    assert router.route("/coding x").name == "coding"   # a route's own name is a prefix too


def test_registry_prefixes_extend_the_defaults(embedder, cache_dir):
    registry = {"/write": "writing", "/code": "coding", "/analyze": "analysis", "/chat": "chat", "/py": "coding"}
    router = Router(load_examples(), embedder, cache_dir=cache_dir, prefixes=registry)
    assert router.route("/analyse x") == Route("analysis", 1.0, "prefix", "x")
    assert router.route("/Analyze x").name == "analysis"
    assert router.route("/py x").name == "coding"


def test_unknown_prefix_is_ordinary_text(router):
    route = router.route("/foo plot sales by region from sales.csv")
    assert route.why == "similarity" and route.name == "analysis"
    assert route.text == "/foo plot sales by region from sales.csv"


# -- empty text -------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text_routes_to_chat_by_default(router, text):
    assert router.route(text) == Route("chat", 0.0, "default", "")
    assert router.route(text, current="coding").why == "default"


def test_bare_prefix_keeps_empty_text(router):
    assert router.route("/code") == Route("coding", 1.0, "prefix", "")


# -- similarity -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Write a poem about autumn", "writing"),
        ("Fix the bug in this function: def last(xs):\n    return xs[len(xs)]", "coding"),
        ("What is the average age in this CSV?", "analysis"),
        ("Summarise this article", "writing"),
        ("Implement quicksort", "coding"),
        ("Plot sales by month", "analysis"),
        ("What is the capital of Peru?", "chat"),
    ],
)
def test_canonical_requests(router, text, expected):
    route = router.route(text)
    assert (route.name, route.why) == (expected, "similarity")
    assert route.score > 0.5
    assert route.text == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("explain what a Python decorator is", "coding"),
        ("Write a SQL query that lists customers with no orders", "coding"),
        ("write a Python script to merge PDFs in a folder", "coding"),
        ("analyze this code: for i in range(10): print(i)", "coding"),
        ("Write a blog post about why we moved our backend to Rust", "writing"),
        ("Summarise this dataset for me: 300 rows of orders with price, region and date", "analysis"),
        ("Who painted The Starry Night?", "chat"),
        # Prose that merely starts with a code keyword ("Update", "For", "If") is not code.
        ("Update the intro with the numbers", "writing"),
        ("update the intro with the numbers", "writing"),
        ("For my essay on rivers, write a conclusion", "writing"),
        ("UPDATE users SET name = 'x' WHERE id = 3 fails with a syntax error", "coding"),
        # A question about earlier turns is answered from memory, even when it names a document.
        ("What did we decide about the blog post?", "chat"),
        ("Which poem did I like best?", "chat"),
        ("What did Alice plan for the budget report?", "chat"),
    ],
)
def test_documented_boundaries(router, text, expected):
    assert router.route(text).name == expected


@pytest.mark.parametrize("name", HELD_OUT)
def test_held_out_accuracy(router, name):
    items = read_held_out(name)
    counts = Counter(item["route"] for item in items)
    assert len(items) >= 240 and min(counts[r] for r in BUILTIN_ROUTES) >= 50
    wrong = [(i["route"], router.route(i["text"]).name, i["text"][:80]) for i in items]
    wrong = [w for w in wrong if w[0] != w[1]]
    accuracy = 1 - len(wrong) / len(items)
    print(f"\n{name}: accuracy {accuracy:.4f} ({len(items) - len(wrong)}/{len(items)}); misses: {wrong}")
    assert accuracy >= 0.95, f"{name}: accuracy {accuracy:.4f}, misses: {wrong}"


def test_scores_are_probabilities(router):
    for text in ["hello", "Implement quicksort", "what about the thing", "Plot it?"]:
        route = router.route(text)
        assert 0.0 <= route.score <= 1.0


def test_routing_is_deterministic(router, embedder, cache_dir):
    texts = ["Plot sales by month", "tell me about the data", "make it shorter", "Write a haiku"]
    first = [router.route(t, current="writing") for t in texts]
    assert [router.route(t, current="writing") for t in texts] == first
    other = Router(load_examples(), embedder, cache_dir=cache_dir)
    assert [other.route(t, current="writing") for t in texts] == first


# -- follow-ups -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "current"),
    [
        ("make it shorter", "writing"),
        ("make it shorter", "coding"),
        ("now run it", "coding"),
        ("now run it", "analysis"),
        ("add a conclusion", "writing"),
        ("add a conclusion", "analysis"),
        ("what about March?", "analysis"),
        ("try again", "chat"),
        ("try again", "coding"),
        ("ok can you make it punchier", "writing"),
        ("use a dict instead", "coding"),
        ("and for 2023?", "analysis"),
        ("why?", "analysis"),
    ],
)
def test_short_follow_up_stays_on_current_route(router, text, current):
    route = router.route(text, current=current)
    assert (route.name, route.why) == (current, "follow-up")
    assert 0.5 <= route.score <= 1.0


@pytest.mark.parametrize(
    ("text", "current", "expected"),
    [
        ("Now plot revenue by month from sales.csv", "writing", "analysis"),
        ("now write a python function that parses it", "analysis", "coding"),
        ("now turn that into a blog post", "analysis", "writing"),
        ("What is the capital of Peru?", "coding", "chat"),
        ("Is it safe to eat raw eggs?", "coding", "chat"),
        ("Summarise this article", "coding", "writing"),
        ("Implement quicksort", "writing", "coding"),
    ],
)
def test_clear_switch_leaves_current_route(router, text, current, expected):
    route = router.route(text, current=current)
    assert (route.name, route.why) == (expected, "similarity")


@pytest.mark.parametrize(
    ("text", "current", "expected"),
    [
        ("Update the intro with the numbers", "analysis", "writing"),
        ("put the numbers in the draft", "analysis", "writing"),
        ("now fix the function", "analysis", "coding"),
        ("make the chart bigger", "writing", "analysis"),
        ("make the intro shorter", "writing", "writing"),
    ],
)
def test_follow_up_that_names_another_routes_result_goes_back_to_it(router, text, current, expected):
    assert router.route(text, current=current).name == expected  # by the named result, or by a task cue


def test_follow_up_needs_a_current_route(router):
    assert router.route("make it shorter").why == "similarity"
    assert router.route("make it shorter", current="no-such-route").why == "similarity"


def test_follow_up_detection():
    assert is_follow_up("what about March?") and is_follow_up("try again")
    assert not is_follow_up("Is it safe to eat raw eggs before a long run?")
    assert not is_follow_up("make it shorter\nand punchier")


# -- plugins ----------------------------------------------------------------------------------

TRANSLATE = [
    "Translate this into French: see you tomorrow",
    "how do you say 'thank you very much' in Japanese",
    "translate to German please: where is the train station?",
    "What's the Spanish for 'I would like the bill'?",
    "Put this sentence into Italian: the meeting is postponed",
    "translate 'bonjour tout le monde' to English",
    "Can you translate my menu into Portuguese?",
    "How would I say 'good luck on your exam' in Korean?",
]


def test_add_route_makes_a_plugin_chain_routable(embedder, cache_dir):
    router = Router(load_examples(), embedder, cache_dir=cache_dir)
    assert router.route("Translate 'happy birthday, my friend' into Dutch").name == "writing"
    router.add_route("translate", TRANSLATE, prefix="tr")
    assert router.routes[-1] == "translate"
    assert router.route("Translate 'happy birthday, my friend' into Dutch").name == "translate"
    assert router.route("how do I say 'where is the bathroom' in Greek?").name == "translate"
    assert router.route("Implement quicksort").name == "coding"
    assert router.route("Write a poem about autumn").name == "writing"
    assert router.route("/tr good night") == Route("translate", 1.0, "prefix", "good night")
    assert router.route("/translate good night").name == "translate"


def test_routes_need_examples(embedder):
    with pytest.raises(ValueError):
        Router({}, embedder)
    with pytest.raises(ValueError):
        Router({"writing": ["  ", ""]}, embedder)


# -- the example cache ------------------------------------------------------------------------

def small_examples() -> dict[str, list[str]]:
    return {name: texts[:6] for name, texts in load_examples().items()}


def test_example_embeddings_are_cached_and_reused(embedder, tmp_path):
    examples = small_examples()
    total = sum(len(texts) for texts in examples.values())
    first = CountingEmbedder(embedder)
    Router(examples, first, cache_dir=tmp_path).warm()
    assert first.texts == total
    files = sorted(tmp_path.iterdir())
    assert len(files) == len(examples) and all(f.suffix == ".npy" for f in files)

    second = CountingEmbedder(embedder)
    again = Router(examples, second, cache_dir=tmp_path)
    again.warm()
    assert second.texts == 0
    again.route("Plot sales by month")
    assert second.texts == 1      # only the query
    assert sorted(tmp_path.iterdir()) == files

    examples["chat"] = examples["chat"] + ["what is the tallest tree?"]
    third = CountingEmbedder(embedder)
    Router(examples, third, cache_dir=tmp_path).warm()
    assert third.texts == len(examples["chat"])    # only the changed route is embedded again


def test_unreadable_cache_is_recomputed(embedder, tmp_path):
    examples = small_examples()
    Router(examples, embedder, cache_dir=tmp_path).warm()
    for path in tmp_path.iterdir():
        path.write_bytes(b"not an array")
    counting = CountingEmbedder(embedder)
    router = Router(examples, counting, cache_dir=tmp_path)
    assert router.route("Implement quicksort").name == "coding"
    assert counting.texts == sum(len(t) for t in examples.values()) + 1


def test_no_cache_dir_computes_in_memory(embedder, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    counting = CountingEmbedder(embedder)
    router = Router(small_examples(), counting)
    router.warm()
    router.warm()
    assert counting.texts == sum(len(t) for t in small_examples().values())
    assert list(tmp_path.iterdir()) == []


# -- the example files ------------------------------------------------------------------------

def test_example_files():
    examples = load_examples()
    assert sorted(examples) == sorted(BUILTIN_ROUTES)
    assert all(80 <= len(texts) <= 260 for texts in examples.values())
    assert any("\n" in text for text in examples["coding"])            # the \n escape
    assert not any(text.startswith("#") for texts in examples.values() for text in texts)


def test_every_cue_term_occurs_in_some_example():
    """A cue term no example contains is a rule nobody measured: its weight per route is counted
    from the examples that fire it, so with none it only adds the smoothing prior's noise."""
    examples = [text for texts in load_examples().values() for text in texts]
    unused = [
        (name, term) for name, terms in TERMS.items() for term in terms
        if not any(re.search(_words(term), text, re.IGNORECASE) for text in examples)
    ]
    assert unused == []


def test_cue_terms_ending_in_a_symbol_match():
    fired = dict(zip([name for name, _, _ in CUES], cue_vector("How do I overload an operator in C++ or C#?")))
    assert fired["programming-language"] > 0


@pytest.mark.parametrize(
    ("probs", "expected"),
    [
        ((0.50, 0.45, 0.03, 0.02), "chat"),      # unsure between coding and chat: the safe answer
        ((0.70, 0.25, 0.03, 0.02), "coding"),    # sure enough
        ((0.50, 0.02, 0.45, 0.03), "coding"),    # unsure, but between two specialists
        ((0.30, 0.60, 0.05, 0.05), "chat"),
    ],
)
def test_unsure_between_chat_and_a_specialist_goes_to_chat(probs, expected):
    import numpy as np

    assert _safe_choice(("coding", "chat", "writing", "analysis"), np.array(probs)) == expected


def test_safe_threshold_is_the_calibrated_one(embedder):
    """SAFE_BELOW is what calibration on cross-validated example predictions picks (update both
    together when the examples change)."""
    names, predictions = cross_validated(load_examples(), embedder, folds=5)
    assert calibrate_safe_below(names, predictions) == pytest.approx(SAFE_BELOW)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A script of a heist gone wrong in a bakery, told by the getaway driver", "writing"),
        ("Write a script that deletes files older than 30 days", "coding"),
        ("What is the difference between civil disobedience and a riot?", "chat"),
        ("Which county has the highest turnout in elections.csv?", "analysis"),
    ],
)
def test_boundaries_on_requests_written_apart(router, text, expected):
    assert router.route(text).name == expected


@pytest.mark.parametrize("name", HELD_OUT)
def test_held_out_requests_are_not_examples(name):
    seen = {" ".join(t.lower().split()) for texts in load_examples().values() for t in texts}
    leaked = [i["text"] for i in read_held_out(name) if " ".join(i["text"].lower().split()) in seen]
    assert leaked == []
