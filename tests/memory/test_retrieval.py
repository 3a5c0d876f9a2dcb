"""Hybrid retrieval with the real embedder: time words, speakers, neighbouring turns, rare words,
forgetting everywhere, recency and importance. Each case is one a plain cosine top-k gets wrong
or that guards the lexical index's consistency."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import numpy as np

from memory import Memory
from memory.lexical import LexicalIndex

NOW = datetime(2026, 5, 20, 15, tzinfo=timezone.utc)
CHATTER = [
    "The weather was grey all day.", "I had pasta for dinner again.", "Traffic was terrible this morning.",
    "We watched an old sitcom until midnight.", "My phone battery keeps dying.", "The new cafe on the corner is fine.",
    "I cleaned the whole flat on Sunday.", "Work was slow today.", "My neighbour is drilling again.",
    "I forgot my umbrella at the office.", "The queue at the supermarket was endless.", "I slept badly last night.",
]


def test_time_words_pick_the_memory_from_that_time(make_store):
    store = make_store("time")
    weeks = {n: NOW - timedelta(weeks=n, days=1) for n in range(5)}
    ids = store.add_many(
        [Memory(f"We went over the budget spreadsheet together (meeting {n}).", created_at=when) for n, when in weeks.items()]
    )
    hits = store.search("what did we say about the budget last week?", k=3, now=NOW)
    assert hits[0].memory.id == ids[1] and "time" in hits[0].sources
    hits = store.search("the budget meeting 3 weeks ago", k=1, now=NOW)
    assert hits[0].memory.id == ids[3]
    # a window with nothing in it changes nothing (time words boost, never filter)
    assert len(store.search("the budget in 1999", k=5, now=NOW)) == 5


def test_the_named_speaker_comes_first(make_store):
    store = make_store("speakers")
    store.add_many([Memory("Caroline: I really love hiking in the mountains."), Memory("Melanie: I really love hiking in the mountains, too.")]
                   + [Memory(f"{'Caroline' if i % 2 else 'Melanie'}: {t}") for i, t in enumerate(CHATTER)])
    assert store.search("What does Melanie love doing?", k=1)[0].memory.text.startswith("Melanie:")
    assert store.search("What does Caroline love doing?", k=1)[0].memory.text.startswith("Caroline:")


def test_a_neighbouring_turn_comes_with_its_question(make_store):
    store = make_store("context")
    start = NOW - timedelta(days=3)
    turns = ["Melanie: Did you go to the animal shelter in the end?", "Caroline: Yes! We came home with Biscuit, a little beagle mix."]
    rng = random.Random(1)
    script = [f"{rng.choice(['Caroline', 'Melanie'])}: {t}" for t in CHATTER[:6]] + turns + [
        f"{rng.choice(['Caroline', 'Melanie'])}: {t}" for t in CHATTER[6:]
    ]
    ids = store.add_many(
        [Memory(t, session="s1", created_at=start + timedelta(minutes=i)) for i, t in enumerate(script)]
    )
    answer = ids[7]
    hits = store.search("Did Caroline adopt a pet from the animal shelter?", k=3, now=NOW)
    assert ids[6] in [h.memory.id for h in hits]
    assert answer in [h.memory.id for h in hits]
    assert "context" in next(h for h in hits if h.memory.id == answer).sources


def test_rare_words_are_found_lexically(make_store):
    store = make_store("rare")
    store.add_many([Memory(t) for t in CHATTER] + [Memory("Order ZX-4411 shipped to the Leeds warehouse."),
                                                   Memory("Order 7781 was cancelled by the customer.")])
    hit = store.search("ZX-4411", k=1)[0]
    assert hit.memory.text.startswith("Order ZX-4411") and "bm25" in hit.sources
    assert hit.similarity is not None and -1 <= hit.similarity <= 1


def test_forget_removes_a_memory_from_every_index(make_store, embedder):
    store = make_store("forget")
    keep = store.add_many([Memory(t) for t in CHATTER])
    gone = store.add(Memory("The zyzzyva beetle lives in the greenhouse."))
    assert store.search("zyzzyva", k=1)[0].memory.id == gone
    assert store.forget(gone)
    for mode in ("hybrid", "vector"):
        assert gone not in {h.memory.id for h in store.search("zyzzyva beetle greenhouse", k=20, mode=mode)}
    again = make_store("forget")  # a fresh process' view: rebuilt from the journal or the server
    assert gone not in {h.memory.id for h in again.search("zyzzyva beetle greenhouse", k=20)}
    assert len(again.search("anything", k=50)) == len(keep)


def test_recency_and_importance_break_ties(make_store):
    store = make_store("ties")
    old = store.add(Memory("The team prefers async standups.", created_at=NOW - timedelta(days=200)))
    new = store.add(Memory("The team prefers async standups.", created_at=NOW - timedelta(days=1)))
    assert store.search("async standups", k=2, now=NOW)[0].memory.id == new
    fact = store.add(Memory("The team prefers async standups.", kind="fact", created_at=NOW - timedelta(days=1)))
    assert store.search("async standups", k=3, now=NOW)[0].memory.id == fact  # a fact outranks a turn
    assert [h.memory.id for h in store.search("async standups", k=3, now=NOW)][1:] == [new, old]


def test_filters_apply_to_the_lexical_side_too(make_store):
    store = make_store("filters")
    store.add_many([Memory("quarterly revenue table", kind="artifact", session="q3"),
                    Memory("quarterly revenue chat", session="q4"), Memory("unrelated words", kind="fact")])
    assert [h.memory.text for h in store.search("quarterly revenue", k=5, kind="artifact")] == ["quarterly revenue table"]
    assert [h.memory.text for h in store.search("quarterly revenue", k=5, session="q4")] == ["quarterly revenue chat"]
    assert store.search("quarterly revenue", k=5, session="nope") == []


def test_incremental_bm25_scores_like_one_index():
    rng = random.Random(3)
    vocab = [f"w{i}" for i in range(300)]
    docs = [" ".join(rng.choices(vocab, k=12)) for _ in range(600)]
    incremental = LexicalIndex()
    for row, doc in enumerate(docs):
        incremental.add(row, doc)
        if row % 37 == 0:
            incremental.scores("w1", row + 1)  # searches between writes build and merge segments
    assert len(incremental._segments) > 1
    whole = LexicalIndex()
    for row, doc in enumerate(docs):
        whole.add(row, doc)
    for query in ("w1 w2 w3", "w150", "w7 w7 w299"):
        a, b = incremental.scores(query, len(docs)), whole.scores(query, len(docs))
        assert np.corrcoef(a, b)[0, 1] > 0.97
        assert set(np.argsort(-a)[:5]) & set(np.argsort(-b)[:5])
        assert int(np.argmax(a)) == int(np.argmax(b))


def test_neighbours_follow_time_within_a_session_and_close_sessionless_turns():
    from memory.mirror import Mirror

    t0 = NOW - timedelta(days=2)
    memories = [
        Memory("a1", session="a", created_at=t0), Memory("b1", session="b", created_at=t0 + timedelta(minutes=1)),
        Memory("a2", session="a", created_at=t0 + timedelta(minutes=2)), Memory("loose1", created_at=t0),
        Memory("loose2", created_at=t0 + timedelta(minutes=5)), Memory("loose-next-day", created_at=t0 + timedelta(days=1)),
        Memory("a fact", kind="fact", created_at=t0 + timedelta(minutes=6)),
    ]
    mirror = Mirror(memories)
    text = lambda rows: sorted(mirror.rows[r].text for r in rows)  # noqa: E731
    assert text(mirror.neighbours(0)) == ["a2"]
    assert text(mirror.neighbours(3)) == ["loose2"]
    assert text(mirror.neighbours(4)) == ["loose1"]  # the next-day turn is too far, the fact is no turn
    assert mirror.neighbours(6) == []
    mirror.delete(memories[2].id)
    assert mirror.neighbours(0) == []


def test_a_repeated_line_fills_one_place_not_many(make_store):
    store = make_store("repeats")
    start = NOW - timedelta(days=40)
    repeated = [Memory(f"{who}: {opener}we should go to the food market some time.", session=f"s{i}",
                       created_at=start + timedelta(days=i)) for i, (who, opener) in
                enumerate([("Dev", ""), ("Dev", "Lol, "), ("Priya", ""), ("Dev", "Oh, ")])]
    answer = Memory("Dev: Turns out I'm allergic to shellfish, so no more seafood at the market.", session="s9",
                    created_at=start + timedelta(days=9))
    store.add_many(repeated + [answer] + [Memory(t, session="s5", created_at=start + timedelta(days=5)) for t in CHATTER])
    hits = store.search("What food must Dev avoid at the market?", k=3, now=NOW)
    assert answer.id in [h.memory.id for h in hits]
    assert sum("food market" in h.memory.text for h in hits) == 1
    everything = store.search("What food must Dev avoid at the market?", k=30, now=NOW)
    assert {m.id for m in repeated} <= {h.memory.id for h in everything}  # moved back, never dropped


def test_a_question_joining_two_topics_searches_each_topic(make_store):
    store = make_store("topics")
    start = NOW - timedelta(days=60)
    job = Memory("Priya: They called this morning, I got the job! Data analyst at Northwind.", session="a", created_at=start)
    pottery = Memory("Priya: I threw a lopsided bowl on the wheel at my Thursday ceramics class.", session="b",
                     created_at=start + timedelta(days=9))
    frames = [Memory(f"Priya: How did the {t} go?", session=f"c{i}", created_at=start + timedelta(days=20 + i))
              for i, t in enumerate(["meeting", "game", "dentist", "party", "exam", "date"])]
    store.add_many([job, pottery] + frames + [Memory(t, session="d", created_at=start) for t in CHATTER])
    hits = store.search("How did the job interview and the pottery class go for Priya?", k=2, now=NOW)
    assert {h.memory.id for h in hits} == {job.id, pottery.id}
    assert all("part" in h.sources for h in hits)


def test_in_a_user_assistant_chat_my_means_the_users_turns(make_store):
    store = make_store("roles")
    start = NOW - timedelta(days=10)
    said = [("user", "I finally picked a name for the puppy: Biscuit."),
            ("assistant", "Biscuit is a lovely name for a puppy! Popular puppy names this year include Luna and Max."),
            ("user", "What should I cook tonight?"), ("assistant", "How about a quick vegetable curry?")]
    ids = store.add_many([Memory(text, session="s1", created_at=start + timedelta(minutes=i), metadata={"role": role})
                          for i, (role, text) in enumerate(said)])
    assert store.search("What name did I pick for my puppy?", k=1, now=NOW)[0].memory.id == ids[0]
    assert store.search("What did you suggest for dinner?", k=1, now=NOW)[0].memory.id == ids[3]


def test_parse_query_splits_joined_topics_only():
    from memory.mirror import Mirror
    from memory.retrieval import parse_query

    mirror = Mirror([Memory("Dev: hello"), Memory("Priya: hi")])
    assert parse_query("Tell me about Dev's new job and the move.", mirror, NOW).embed[1:] == ("Tell me about new job", "the move.")
    assert parse_query("What did Priya say about the budget?", mirror, NOW).embed == ("What did say about the budget?",)
    assert len(parse_query("apples and bread and cheese or eggs", mirror, NOW).embed) == 1  # an enumeration stays whole
    assert len(parse_query("When Dev went to the parade, who did he go with?", mirror, NOW).embed) == 1  # clauses too
    assert parse_query("what happened last week?", mirror, NOW).window.phrase == "last week"
