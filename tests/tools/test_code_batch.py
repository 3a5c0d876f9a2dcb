"""Several candidates checked in one real sandboxed run: each in its own namespace, each with its
examples' report and its outputs on probes varied from the examples."""

from __future__ import annotations

from tools.code_batch import probe_calls, run_candidates
from tools.code_tests import extract_tests

STUB = ('def add_one(nums):\n    """Add 1 to every number.\n\n    >>> add_one([1, 2])\n    [2, 3]\n'
        '    >>> add_one([])\n    []\n    """\n')
SUITE = extract_tests(f"```python\n{STUB}```")


def test_probes_vary_the_examples_arguments_and_never_repeat_an_example():
    probes = probe_calls(SUITE, "add_one")
    assert "add_one([2, 1])" in probes and "add_one([2])" in probes   # reversed, first dropped
    assert "add_one([1, 2])" not in probes and "add_one([])" not in probes
    assert len(set(probes)) == len(probes)
    assert probe_calls(extract_tests(">>> other(3)\n4"), "add_one") == ()


def test_candidates_share_one_run_but_not_their_globals_and_a_loop_holds_up_no_one(tmp_path):
    probes = ("add_one([5])", "add_one(None)")
    codes = [
        "LEAK = 1\n" + STUB + "    return [n + 1 for n in nums]\n",
        STUB + "    return [n + LEAK for n in nums]\n",           # LEAK is the first candidate's, not its own
        STUB + "    while True:\n        pass\n",
        "def add_one(:\n",
    ]
    checks = run_candidates(codes, SUITE, probes, workspace=tmp_path)
    assert [c.report.summary() for c in checks[:3]] == ["2/2 tests passed", "1/2 tests passed", "0/2 tests passed"]
    assert checks[0].outputs == ("[6]", "!TypeError")
    assert checks[1].outputs == ("!NameError", "!TypeError")
    assert checks[2].outputs == ("!TimeoutError", "!TimeoutError")
    assert "SyntaxError" in checks[3].report.load_error and checks[3].outputs == ()
    assert checks[0].report.duration_s == checks[1].report.duration_s   # one run, its time shared


def test_a_candidate_that_kills_the_interpreter_costs_the_others_nothing(tmp_path):
    codes = [STUB + "    import os\n    os._exit(3)\n", STUB + "    return [n + 1 for n in nums]\n"]
    checks = run_candidates(codes, SUITE, ("add_one([5])",), workspace=tmp_path)
    assert not checks[0].report.ok and checks[0].report.exit_code == 3
    assert checks[1].report.ok and checks[1].outputs == ("[6]",)
