"""Function completion in the coding chain: the model continues the stub (completion mode, a begun
reply with nothing before it), candidates are run against the docstring's examples in the real
sandbox, and the one that passes most is kept. LangChain's fake chat model stands in for a local
model (it declares the local model type, so the chain treats it as one that continues text)."""

from __future__ import annotations

from langchain_core.messages import HumanMessage, SystemMessage

from assistant.chains.base import ChainRun
from assistant.chains.coding import coding_chain
from assistant.chains.completion import candidate_code, find_stub
from assistant.chains.steps import LOCAL_MODEL_TYPE
from assistant.events import ToolFinished
from assistant.sessions import Session

from .fakes import RecordingFakeChat, drain

STUB = ('def add_one(nums):\n    """Add 1 to every number.\n\n    >>> add_one([1, 2])\n    [2, 3]\n'
        '    >>> add_one([])\n    []\n    """\n')
REQUEST = f"Complete this Python function:\n```python\n{STUB}```"


class FakeLocal(RecordingFakeChat):
    @property
    def _llm_type(self) -> str:
        return LOCAL_MODEL_TYPE


def test_a_stub_is_found_with_its_imports_and_without_a_body():
    stub = find_stub("Complete it:\n```python\nimport math\n\ndef area(r):\n    '''Area of a circle.'''\n    pass\n```")
    assert stub is not None and stub.name == "area"
    assert stub.prefix.startswith("import math") and stub.prefix.rstrip().endswith("'''Area of a circle.'''")
    assert find_stub("Write a function that adds one to each number") is None
    assert find_stub("```python\ndef done(x):\n    '''Doc.'''\n    return x\n```") is None   # has a body


def test_a_continuation_becomes_the_function_and_stray_top_level_code_is_dropped():
    code = candidate_code(find_stub(REQUEST), " return [n + 1 for n in nums]\n\nadd_one(oops")
    assert code.endswith("    return [n + 1 for n in nums]\n") and code.startswith("def add_one(nums):")


def test_candidates_are_chosen_by_the_docstring_examples(tmp_path):
    fake = FakeLocal(responses=[" return nums", " return [n + 1 for n in nums]", " return None"])
    run = ChainRun(request=REQUEST, session=Session("s", "u"), workspace=tmp_path / "ws", model=fake, auto_run=True)
    events, result = drain(coding_chain().run(run, [SystemMessage("You write code."), HumanMessage(REQUEST)]))
    runs = [e.result["summary"] for e in events if isinstance(e, ToolFinished)]
    assert runs == ["1/2 tests passed", "2/2 tests passed"]   # the greedy one, then a sample that passes all
    assert len(fake.prompts) == 2 and [m.type for m in fake.prompts[0]] == ["ai"]   # completion mode: the stub alone
    assert fake.prompts[0][0].content.startswith(STUB)
    assert result.artifacts[0].content.endswith("    return [n + 1 for n in nums]\n")
    assert "2/2 tests passed" in result.text
