"""The coding chain with LangChain's fake chat model and the real sandbox: approval, runs, tests,
rule-based fixes, bounded model repairs, artifacts."""

from __future__ import annotations

from langchain_core.messages import HumanMessage, SystemMessage

from assistant import Assistant
from assistant.chains.base import ChainRun
from assistant.chains.coding import coding_chain
from assistant.events import (
    ApprovalNeeded,
    ArtifactSaved,
    Token,
    ToolFinished,
    ToolStarted,
)
from assistant.sessions import Session

from .fakes import RecordingFakeChat, drain

TESTS = "Write fizzbuzz(n).\nassert fizzbuzz(3) == 'Fizz'\nassert fizzbuzz(5) == 'Buzz'\nassert fizzbuzz(4) == '4'"
WRONG = "```python\ndef fizzbuzz(n):\n    return str(n)\n```\nReturns the number."
RIGHT = ("```python\ndef fizzbuzz(n):\n    if n % 3 == 0:\n        return 'Fizz'\n    if n % 5 == 0:\n"
         "        return 'Buzz'\n    return str(n)\n```\nChecks 3, then 5.")


def drive(request, responses, tmp_path, **options):
    fake = RecordingFakeChat(responses=responses)
    run = ChainRun(request=request, session=Session("s", "u"), workspace=tmp_path / "ws", model=fake, **options)
    chain = coding_chain()
    chain.timeout = 3
    steps = chain.run(run, [SystemMessage("You write code."), HumanMessage(request)])
    return (*drain(steps), fake)


def test_a_failing_test_is_fed_back_and_the_repair_passes(tmp_path):
    events, result, fake = drive(TESTS, [WRONG, RIGHT], tmp_path, auto_run=True)
    runs = [e for e in events if isinstance(e, ToolFinished)]
    assert [r.result["summary"] for r in runs] == ["1/3 tests passed", "3/3 tests passed"]
    assert len(fake.prompts) == 2
    repair_prompt = fake.prompts[1][-1].content
    assert "fizzbuzz(3) returned '3'" in repair_prompt  # the failure, as the model reads it
    assert "def fizzbuzz(n):\n    return str(n)" in fake.prompts[1][-2].content  # its own failed code
    assert not any(isinstance(e, ApprovalNeeded) for e in events)  # auto-run asks nobody
    assert "3/3 tests passed" in result.text and "if n % 3 == 0" in result.text
    code, output = result.artifacts
    assert (code.kind, code.title) == ("code", "fizzbuzz.py") and "n % 5" in code.content
    assert output.kind == "output" and "PASS assert fizzbuzz(3) == 'Fizz'" in output.content


def test_repairs_are_bounded_and_the_best_attempt_is_kept(tmp_path):
    half = "```python\ndef fizzbuzz(n):\n    return 'Fizz' if n % 3 == 0 else str(n)\n```"
    worse = "```python\ndef fizzbuzz(n):\n    return None\n```"
    worst = "```python\ndef fizzbuzz(n):\n    raise ValueError(n)\n```"
    events, result, fake = drive(TESTS, [half, worse, worst, RIGHT], tmp_path, auto_run=True)
    assert len(fake.prompts) == 3  # the answer and two repairs, never the fourth
    assert sum(isinstance(e, ToolStarted) for e in events) == 3
    assert "2/3 tests passed" in result.text and "best of 3 attempts: first answer" in result.text
    assert result.artifacts[0].content == "def fizzbuzz(n):\n    return 'Fizz' if n % 3 == 0 else str(n)"


def test_approval_is_asked_before_every_run_and_a_no_stops(tmp_path):
    asked = []

    def approve(code):
        asked.append(code)
        return len(asked) == 1  # yes to the first run, no to the repair

    events, result, fake = drive(TESTS, [WRONG, RIGHT], tmp_path, approve=approve)
    approvals = [e for e in events if isinstance(e, ApprovalNeeded)]
    assert len(approvals) == 2 and [a.code for a in approvals] == asked
    assert "# --- tests from your request ---" in asked[0] and "assert fizzbuzz(3) == 'Fizz'" in asked[0]
    assert sum(isinstance(e, ToolStarted) for e in events) == 1  # the declined repair never ran
    assert "1/3 tests passed" in result.text


def test_without_approver_or_auto_run_nothing_runs_and_it_says_how(tmp_path):
    events, result, _ = drive(TESTS, [RIGHT], tmp_path)
    assert not any(isinstance(e, (ToolStarted, ApprovalNeeded)) for e in events)
    assert "**Not run:**" in result.text and "--auto-run" in result.text and "against the 3 tests" in result.text
    assert [a.kind for a in result.artifacts] == ["code"]
    assert not (tmp_path / "ws").exists() or not any((tmp_path / "ws").iterdir())


def test_a_declined_run_says_so(tmp_path):
    _, result, _ = drive("Write add(a, b)", ["```python\ndef add(a, b):\n    return a + b\n```"], tmp_path,
                         approve=lambda code: False)
    assert "**Not run:** you declined" in result.text


def test_rule_based_fixes_need_no_model_call(tmp_path):
    answer = "```python\ndef plus(a, b):\n    return a + b\nprint(plus(x, 1))\n```"
    events, result, fake = drive("Write a function. add(1, 2) should return 3", [answer], tmp_path, auto_run=True)
    assert len(fake.prompts) == 1
    assert "The tests call: add" in fake.prompts[0][-1].content
    summaries = [e.result["summary"] for e in events if isinstance(e, ToolFinished)]
    assert summaries == ["the code failed to load: NameError: name 'x' is not defined", "1/1 tests passed"]
    assert "add = plus" in result.artifacts[0].content and "print(plus(x, 1))" not in result.artifacts[0].content


def test_code_without_tests_runs_as_a_script_and_its_output_is_kept(tmp_path):
    answer = "```python\nfor i in range(3):\n    print(i * i)\n```"
    _, result, _ = drive("Print the first three squares", [answer], tmp_path, auto_run=True)
    assert "ran without errors" in result.text and "```text\n0\n1\n4\n```" in result.text
    assert "Output:\n0\n1\n4" in result.artifacts[1].content


def test_bad_code_ends_in_a_tool_error_not_a_crash(tmp_path):
    loop = "```python\nwhile True:\n    pass\n```"
    escape = "```python\nimport shutil\nshutil.rmtree('/tmp')\n```"
    events, result, _ = drive("Loop forever", [loop, escape, escape], tmp_path, auto_run=True)
    summaries = [e.result["summary"] for e in events if isinstance(e, ToolFinished)]
    assert summaries[0] == "the run was stopped (timeout limit)"
    # the audit hook refuses it; under the kernel sandbox the filesystem is read-only there
    assert ("PermissionError" in summaries[1] and "sandbox" in summaries[1]) or "Read-only file system" in summaries[1]
    assert "Still failing" in result.text


def test_non_python_answers_are_not_run(tmp_path):
    events, result, _ = drive("Write a SQL query", ["```sql\nSELECT 1;\n```"], tmp_path, auto_run=True)
    assert not any(isinstance(e, ToolStarted) for e in events)
    assert result.text == "```sql\nSELECT 1;\n```"


def test_through_the_assistant_code_and_output_are_saved_in_the_workspace(tmp_path):
    fake = RecordingFakeChat(responses=[WRONG, RIGHT])
    bot = Assistant(data_dir=tmp_path / "data", chat_model=fake, auto_run=True)
    events = list(bot.stream("/code " + TESTS, session="c"))
    saved = [e.artifact for e in events if isinstance(e, ArtifactSaved)]
    assert [(a.kind, a.title) for a in saved] == [("code", "fizzbuzz.py"), ("output", "fizzbuzz.py run")]
    workspace = bot.sessions.workspace("c")
    assert all(a.path.startswith(str(workspace)) for a in saved)
    streamed = "".join(e.text for e in events if isinstance(e, Token))
    assert "**Repair 1/2:**" in streamed and "3/3 tests passed" in streamed


def test_an_answer_without_code_gets_one_more_ask_when_tests_were_given(tmp_path):
    events, result, fake = drive(TESTS, ["You could use the modulo operator.", RIGHT], tmp_path, auto_run=True)
    assert len(fake.prompts) == 2
    assert fake.prompts[1][-1].content.startswith("Write the Python code now")
    assert "assert fizzbuzz(3) == 'Fizz'" in fake.prompts[1][-1].content
    streamed = "".join(e.text for e in events if isinstance(e, Token))
    assert "**Repair 1/2:** the answer has no Python code" in streamed and "3/3 tests passed" in result.text


def test_a_repair_that_repeats_itself_is_not_rerun_and_the_next_one_varies(tmp_path, monkeypatch):
    varied = []
    monkeypatch.setattr("assistant.chains.coding.tuned", lambda model, **options: varied.append(options) or model)
    events, result, fake = drive(TESTS, [WRONG, WRONG, RIGHT], tmp_path, auto_run=True)
    assert len(fake.prompts) == 3
    assert varied == [{"temperature": 0.7}]  # only the call after the repeat samples
    assert sum(isinstance(e, ToolStarted) for e in events) == 2  # the repeat never ran
    streamed = "".join(e.text for e in events if isinstance(e, Token))
    assert "repeated an earlier attempt; trying a varied one" in streamed
    assert "3/3 tests passed" in result.text


def test_code_first_with_a_stray_closing_fence_is_fenced_properly():
    from assistant.chains.fences import ensure_fenced, main_block

    text = "def f(s):\n    return s[::-1]\n```\n\nReverses it."
    assert main_block(ensure_fenced(text)) == ("python", "def f(s):\n    return s[::-1]")


def test_per_call_options_reach_only_local_models():
    from assistant.chains.steps import tuned
    from assistant.models import build_chat_model

    fake = RecordingFakeChat(responses=["x"])
    assert tuned(fake, temperature=0.7) is fake  # an API model would reject unknown options
    local = tuned(build_chat_model("bundled"), temperature=0.7)
    assert local.kwargs == {"temperature": 0.7}

