"""Which recalled memories a prompt's budget goes to: the fitted relevance order and the budget, not
a fixed count. Real Chroma in a temp dir; LangChain's fake chat model for the turn."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from assistant import Assistant
from assistant.events import Recalled
from assistant.memories import by_relevance, one_version_each, related
from memory import Hit, Memory

from .fakes import RecordingFakeChat


def _hit(text: str, score: float, sources: tuple[str, ...], similarity: float = 0.5) -> Hit:
    return Hit(Memory(text=text, kind="turn"), score, similarity, sources)


def test_the_line_the_named_person_said_goes_before_a_slightly_higher_ranked_one():
    """Fused rank puts a hit that only the vector found first; the model weighs that the other was
    said by the person the question names (the speaker signal) and found by its words too."""
    other = _hit("Assistant: marathons are popular in spring", 0.50, ("vector",))
    said = _hit("User: I ran my first marathon in April", 0.48, ("vector", "bm25", "speaker"))
    assert by_relevance([other, said]) == [said, other]


def test_a_hit_far_behind_the_leader_stays_behind_it():
    lead = _hit("User: I ran my first marathon in April", 0.9, ("vector", "bm25"))
    tail = _hit("User: my shoes were new", 0.1, ("vector", "speaker"))
    assert by_relevance([lead, tail]) == [lead, tail]


def _bot(tmp_path, **settings) -> tuple[Assistant, RecordingFakeChat]:
    fake = RecordingFakeChat(responses=["ok"])
    return Assistant(data_dir=tmp_path / "data", user="alice", chat_model=fake, **settings), fake


def _recalled(bot: Assistant, text: str) -> tuple:
    return next(e for e in bot.stream(text, session="fresh") if isinstance(e, Recalled)).memories


def test_short_related_memories_fill_the_budget_past_sixteen(tmp_path):
    """How many memories a turn gets is the budget's call: 24 short related notes all fit in the
    default budget, so a fixed ceiling of 16 would cut a third of them."""
    bot, _ = _bot(tmp_path)
    start = datetime(2026, 3, 1, 9, tzinfo=timezone.utc)
    bot.store.add_many([
        Memory(text=f"User: marathon training, week {i}: I ran {10 + i} km", kind="turn", session=f"w{i}",
               metadata={"speaker": "user"}, created_at=start + timedelta(days=7 * i))
        for i in range(24)
    ])
    recalled = _recalled(bot, "/chat How did my marathon training go?")
    assert len(recalled) > 16
    assert all("marathon training" in m.text for m in recalled)


def test_the_turn_recalls_in_the_relevance_order(tmp_path):
    """The agent hands the context builder its memories in the fitted relevance order (then drops
    repeats and unrelated hits), not in the search's order."""
    bot, _ = _bot(tmp_path)
    start = datetime(2026, 3, 1, 9, tzinfo=timezone.utc)
    notes = [("assistant", "Assistant: A marathon? Good luck with the marathon!"),
             ("user", "User: I finally ran my first marathon in April, in the rain, and finished in a little "
                      "over four hours, with my sister cheering at the last kilometre"),
             ("assistant", "Assistant: marathon shoes should be replaced every 600 km"),
             ("user", "User: my sister wants to run a marathon too")]
    bot.store.add_many([
        Memory(text=text, kind="turn", session=f"s{i}", metadata={"speaker": who},
               created_at=start + timedelta(days=i))
        for i, (who, text) in enumerate(notes)
    ])
    query = "How did the marathon go?"
    hits = bot.store.search(query, k=32)
    expected = [h.memory.id for h in one_version_each(by_relevance(hits)) if related(h)]
    searched = [h.memory.id for h in one_version_each(hits) if related(h)]
    assert expected != searched   # the case tells the two orders apart
    assert [m.id for m in _recalled(bot, "/chat " + query)] == expected
