"""Function completion in the coding chain: the model continues the stub (completion mode, a begun
reply with nothing before it), candidates are run against the docstring's examples in the real
sandbox, and the one that passes most is kept. LangChain's fake chat model stands in for a local
model (it declares the local model type, so the chain treats it as one that continues text)."""

from __future__ import annotations

from langchain_core.messages import HumanMessage, SystemMessage

from assistant.chains.base import ChainRun
from assistant.chains.coding import coding_chain
from assistant.chains import coding, completion
from assistant.chains.completion import add_candidate, candidate_code, completion_stub, find_stub
from assistant.events import ToolFinished, ToolStarted
from assistant.sessions import Session

from .fakes import FakeLocal, drain

STUB = ('def add_one(nums):\n    """Add 1 to every number.\n\n    >>> add_one([1, 2])\n    [2, 3]\n'
        '    >>> add_one([])\n    []\n    """\n')
REQUEST = f"Complete this Python function:\n```python\n{STUB}```"


def test_a_stub_is_found_with_its_imports_and_without_a_body():
    stub = find_stub("Complete it:\n```python\nimport math\n\ndef area(r):\n    '''Area of a circle.'''\n    pass\n```")
    assert stub is not None and stub.name == "area"
    assert stub.prefix.startswith("import math") and stub.prefix.rstrip().endswith("'''Area of a circle.'''")
    assert find_stub("Write a function that adds one to each number") is None
    assert find_stub("```python\ndef done(x):\n    '''Doc.'''\n    return x\n```") is None   # has a body


def test_a_stub_written_on_the_requests_own_line_keeps_its_imports():
    doc = '    """Sum of xs.\n\n    >>> total([1, 2])\n    3\n    """\n'
    stub = find_stub("Complete this Python function: from typing import List\n\n\ndef total(xs: List[int]) -> int:\n" + doc)
    assert stub is not None and stub.prefix.startswith("from typing import List\n") and stub.name == "total"
    stub = find_stub("Complete this Python function: def total(xs):\n" + doc)
    assert stub is not None and stub.prefix.startswith("def total(xs):")
    assert completion_stub("Explain this Python function: def total(xs):\n" + doc) is None


def test_a_continuation_becomes_the_function_and_stray_top_level_code_is_dropped():
    code = candidate_code(find_stub(REQUEST), " return [n + 1 for n in nums]\n\nadd_one(oops")
    assert code.endswith("    return [n + 1 for n in nums]\n") and code.startswith("def add_one(nums):")


def chain_run(tmp_path, responses: list[str], request: str = REQUEST):
    fake = FakeLocal(responses=responses)
    run = ChainRun(request=request, session=Session("s", "u"), workspace=tmp_path / "ws", model=fake, auto_run=True)
    events, result = drain(coding_chain().run(run, [SystemMessage("You write code."), HumanMessage(request)]))
    return fake, events, result


def test_candidates_are_chosen_by_the_docstring_examples_in_one_sandboxed_run(tmp_path):
    # greedy, the one-line hint (the body begun with "return"), two samples
    fake, events, result = chain_run(tmp_path, [" return nums", " nums", " return [n + 1 for n in nums]", " return None"])
    runs = [e for e in events if isinstance(e, ToolFinished)]
    assert [e.result["summary"] for e in runs] == ["1/2 tests passed, 2/2 tests passed, 0/2 tests passed"]
    assert len(fake.prompts) == 4 and all([m.type for m in p] == ["ai"] for p in fake.prompts)   # completion mode
    assert fake.prompts[0][0].content.startswith(STUB) and fake.prompts[1][0].content.endswith(" return")
    assert result.artifacts[0].content.endswith("    return [n + 1 for n in nums]\n")
    assert "2/2 tests passed" in result.text   # one passes: no second round, no repair


VOWELS = ('def count_vowels(s):\n    """How many vowels (a, e, i, o, u) the text has.\n\n'
          '    >>> count_vowels("hello")\n    2\n    >>> count_vowels("")\n    0\n    """\n')


def test_among_candidates_that_pass_the_examples_the_behaviour_most_share_wins_over_the_shortest(tmp_path):
    wrong = " return len(s) // 2"                                   # passes both examples, greedy, shortest
    fake, events, result = chain_run(tmp_path, [
        wrong,
        " len([c for c in s.lower() if c in 'aeiou'])",               # the hint's
        " return sum(c in 'aeiou' for c in s.lower())",
        " return sum(ch in 'aeiou' for ch in s.lower())",
    ], f"Complete this Python function:\n```python\n{VOWELS}```")
    summary = next(e.result["summary"] for e in events if isinstance(e, ToolFinished))
    assert summary == ", ".join(["2/2 tests passed"] * 4)
    started = next(e for e in events if isinstance(e, ToolStarted))
    assert started.arguments["probes"] >= 3   # "olleh", "ello", "HELLO", ...: where the four disagree
    assert result.artifacts[0].content.endswith("    return sum(c in 'aeiou' for c in s.lower())\n")


def test_identical_programs_run_once_and_count_as_two_votes(tmp_path):
    fake, events, result = chain_run(tmp_path, [
        " return len(s) // 2", " len(s)//2   # half", " return len([c for c in s if c in 'aeiou'])", " return 0"],
        f"Complete this Python function:\n```python\n{VOWELS}```")
    started = next(e for e in events if isinstance(e, ToolStarted))
    assert started.arguments["candidates"] == 3   # the hint wrote the greedy program again
    # both pass the examples and disagree on the probes: two votes beat one, though longer loses anyway
    assert result.artifacts[0].content.endswith("    return len(s) // 2\n")
    assert add_candidate(pool := [], "def f():\n    return 1\n", "greedy") and not add_candidate(
        pool, "def f():\n    return (1)  # same\n", "hint") and pool[0].written == 2


def test_the_budget_stops_new_candidates_and_repairs_only_start_when_none_passes(tmp_path, monkeypatch):
    fake, events, result = chain_run(tmp_path, [" return nums"] * 7 + ["```python\n" + STUB + "    return [n + 1 for n in nums]\n```"])
    assert len(fake.prompts) == 8   # 4 + 3 candidates, none passes, then one repair: a chat prompt
    assert [m.type for m in fake.prompts[-1]][:2] == ["system", "human"]
    assert result.artifacts[0].content.rstrip().endswith("    return [n + 1 for n in nums]")

    monkeypatch.setattr(completion, "BUDGET_S", 0.0)
    monkeypatch.setattr(coding, "BUDGET_S", 0.0)
    fake, events, result = chain_run(tmp_path / "spent", [" return nums", " nums", " return nums[:1]",
                                                          " return nums * 2", " return [n + 1 for n in nums]"])
    # the first round always runs whole (there is nothing to select among otherwise); once the
    # budget is spent no second round starts and no repair either
    assert len(fake.prompts) == 4
    assert "1/2 tests passed" in result.text


def test_sampled_candidates_are_cut_shorter_than_the_greedy_one(tmp_path):
    fake, events, result = chain_run(tmp_path, [" return nums", " nums", " return nums[:1]", " return [n + 1 for n in nums]"])
    limits = [options.get("max_new_tokens") for options in fake.options]
    assert limits[:2] == [completion.BODY_TOKENS] * 2 and limits[2:4] == [completion.SAMPLE_TOKENS] * 2
    assert completion.SAMPLE_TOKENS < completion.BODY_TOKENS


def test_a_function_pasted_to_be_explained_is_not_completed():
    code = f"```python\n{STUB}```"
    assert completion_stub(f"Complete this Python function:\n{code}") is not None
    assert completion_stub(f"Implement the body:\n{code}") is not None
    assert completion_stub(f"Explain what this function is for:\n{code}") is None
    assert completion_stub(f"Write unit tests for this:\n{code}") is None


class FakeBatching(FakeLocal):
    """A local model that also decodes several samples together: its samples come in one call."""

    batches: list[int] = []
    samples: list[str] = []

    def __init__(self, samples: list[str], **kwargs) -> None:
        super().__init__(**kwargs)
        self.batches, self.samples = [], list(samples)

    def sample_replies(self, messages, n, *, max_new_tokens, temperature, stop=None):
        assert [m.type for m in messages] == ["ai"] and temperature > 0 and max_new_tokens == completion.SAMPLE_TOKENS
        self.batches.append(n)
        taken, self.samples = self.samples[:n], self.samples[n:]
        return taken, 5 * n


def test_a_model_that_batches_samples_gets_a_round_of_them_in_one_call(tmp_path, monkeypatch):
    monkeypatch.setattr(completion, "BUDGET_S", 600.0)   # rounds counted here, not the clock: a loaded CI is slow
    samples = [" return nums"] * 5 + [" return [n + 1 for n in nums]"] + [" return []"] * 10
    fake = FakeBatching(samples, responses=[" return nums", " nums"])
    run = ChainRun(request=REQUEST, session=Session("s", "u"), workspace=tmp_path / "ws", model=fake, auto_run=True)
    events, result = drain(coding_chain().run(run, [SystemMessage("You write code."), HumanMessage(REQUEST)]))
    assert fake.batches == [completion.BATCH] and len(fake.prompts) == 2   # greedy and hint, then one batch
    started = next(e for e in events if isinstance(e, ToolStarted))
    assert started.arguments["candidates"] == 3   # the batch's copies of the greedy program count as votes
    assert result.artifacts[0].content.endswith("    return [n + 1 for n in nums]\n")

    fake = FakeBatching([f" return [{i}]" for i in range(40)], responses=[" return nums", " nums"])
    run = ChainRun(request=REQUEST, session=Session("s", "u"), workspace=tmp_path / "ws2", model=fake, auto_run=True)
    drain(coding_chain().run(run, [SystemMessage("You write code."), HumanMessage(REQUEST)]))
    # none passes: more rounds, batched too, up to BATCH_ROUNDS within the budget
    assert fake.batches == [completion.BATCH] * completion.BATCH_ROUNDS
