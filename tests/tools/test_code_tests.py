"""Finding tests in a request (rules) and running them against code in the real sandbox."""

from __future__ import annotations

import pytest

from tools import confinement
from tools.code_tests import extract_tests, run_tests, run_tests_tool

FIZZBUZZ = '''def fizzbuzz(n):
    if n % 15 == 0:
        return "FizzBuzz"
    if n % 3 == 0:
        return "Fizz"
    if n % 5 == 0:
        return "Buzz"
    return str(n)
'''

REQUEST = """Write fizzbuzz(n). Make these tests pass:
```python
from solution import fizzbuzz

def test_three():
    assert fizzbuzz(3) == "Fizz"

assert fizzbuzz(15) == "FizzBuzz"
```
>>> fizzbuzz(7)
'7'
Also fizzbuzz(5) should return "Buzz".
"""


def test_every_kind_of_test_in_a_request_is_found():
    suite = extract_tests(REQUEST)
    kinds = sorted(case.kind for case in suite.cases)
    assert kinds == ["assert", "assert", "doctest", "function"]
    sources = {case.source for case in suite.cases}
    assert 'assert fizzbuzz(15) == "FizzBuzz"' in sources
    assert 'assert fizzbuzz(5) == "Buzz"' in sources  # stated in prose
    assert ">>> fizzbuzz(7)\n'7'" in sources  # the doctest's expected output stops at the prose
    assert suite.setup == "from solution import fizzbuzz"
    assert suite.calls == ("fizzbuzz",)


def test_no_tests_means_an_empty_suite():
    suite = extract_tests("Write a function that reverses a string, please.")
    assert not suite and len(suite) == 0 and suite.calls == ()


def test_unittest_classes_and_plain_assert_lines():
    request = ("Fix my code so this passes\n```python\nimport unittest\n\nclass TestAdd(unittest.TestCase):\n"
               "    def test_small(self):\n        self.assertEqual(add(1, 2), 3)\n```\nassert add(0, 0) == 0\n")
    suite = extract_tests(request)
    assert [c.kind for c in suite.cases] == ["unittest", "assert"]
    assert suite.calls == ("add",)


def test_passing_code_passes_every_case(tmp_path):
    report = run_tests(FIZZBUZZ + 'print("loaded")\n', extract_tests(REQUEST), workspace=tmp_path)
    assert report.ok and report.passed == 4 and report.failed == 0
    assert report.summary() == "4/4 tests passed"
    assert report.stdout.strip() == "loaded"  # the code's own output, without the report line


def test_failures_say_what_the_code_returned(tmp_path):
    report = run_tests("def fizzbuzz(n):\n    return str(n)\n", extract_tests(REQUEST), workspace=tmp_path)
    assert not report.ok and report.passed == 1 and report.failed == 3
    errors = report.errors_text()
    assert "but fizzbuzz(15) returned '15'" in errors
    assert "but fizzbuzz(3) returned '3'" in errors  # inside a test_ function too


def test_a_hanging_case_is_cut_off_and_the_rest_marked_not_run(tmp_path):
    suite = extract_tests("assert f(1) == 1\nassert f(2) == 2\n")
    report = run_tests("def f(n):\n    while True:\n        pass\n", suite, workspace=tmp_path)
    assert [r.ok for r in report.results] == [False, False]
    assert "took longer than" in report.results[0].error
    assert report.results[1].error == "not run: an earlier test timed out"


def test_code_that_does_not_load_is_a_load_error(tmp_path):
    report = run_tests("def f(:\n    pass", extract_tests("assert f() is None"), workspace=tmp_path)
    assert not report.ok and "SyntaxError" in report.load_error and report.results == ()
    report = run_tests("print(undefined_name)", extract_tests(""), workspace=tmp_path)
    assert "NameError: name 'undefined_name' is not defined" in report.load_error
    assert report.summary().startswith("the code failed to load: NameError")


def test_without_tests_the_code_runs_as_main(tmp_path):
    report = run_tests('if __name__ == "__main__":\n    print("main ran")\n', extract_tests(""), workspace=tmp_path)
    assert report.ok and report.stdout.strip() == "main ran" and report.summary() == "ran without errors"


def test_tests_run_only_inside_the_workspace(tmp_path):
    workspace = tmp_path / "ws"
    outside = tmp_path / "outside.txt"
    report = run_tests(f"open({str(outside)!r}, 'w').write('x')\n", extract_tests(""), workspace=workspace)
    if not confinement.confinement().processes:  # the audit hook refuses; the kernel layer's private /tmp takes it
        assert "PermissionError" in report.load_error and "sandbox" in report.load_error
    assert not outside.exists()
    inside = run_tests("open('notes.txt', 'w').write('x')\n", extract_tests(""), workspace=workspace)
    assert inside.ok and (workspace / "notes.txt").read_text() == "x"


def test_the_tool_returns_an_error_result_instead_of_raising(tmp_path):
    bound = run_tests_tool.bind(workspace=tmp_path)
    result = bound.invoke({"code": FIZZBUZZ, "tests": "assert fizzbuzz(3) == 'Fizz'"})
    assert result.ok and result.output["passed"] == 1
    empty = bound.invoke({"code": FIZZBUZZ, "tests": "no tests here"})
    assert not empty.ok and empty.error.startswith("ValueError: no tests found")


@pytest.mark.parametrize("prose, statement", [
    ("is_even(4) returns True", "assert is_even(4) == True"),
    ("square(3) -> 9", "assert square(3) == 9"),
    ("total([1, 2]) should give 3", "assert total([1, 2]) == 3"),
    ("add(1, 2) ➞ 3", "assert add(1, 2) == 3"),
    ("For example: choose(12, 15) = 14.", "assert choose(12, 15) == 14"),
    ("split([1, 2]) ==> [[1], [2]]", "assert split([1, 2]) == [[1], [2]]"),
    ("count('a b') == {'a': 1, 'b': 1}", "assert count('a b') == {'a': 1, 'b': 1}"),
    ("pair([1, 2]) == (1, 2), in order", "assert pair([1, 2]) == (1, 2)"),
])
def test_examples_stated_in_prose_become_asserts(prose, statement):
    assert [c.source for c in extract_tests(prose).cases] == [statement]


def test_several_examples_on_a_line_and_only_values_become_tests():
    assert [c.source for c in extract_tests("sq(2) should return 4, and sq(3) returns 9.").cases] == [
        "assert sq(2) == 4", "assert sq(3) == 9"]
    # a name where a value should be (the code's own variables) is not an example
    assert not extract_tests("f(2) returns x, and g(y) == 3").cases
    # a pasted line of 50,000 characters after "=" is not read to its end (each length is parsed)
    assert not extract_tests("f(1) = " + "ab " * 50_000).cases


def test_examples_in_a_pasted_functions_docstring_count_but_its_code_does_not():
    pasted = ('```python\ndef halve(n):\n    """Half of n, rounded down.\n\n    halve(5) ➞ 2\n    halve(8) ➞ 4\n'
              '    """\n    if halve(0) == 1:\n        pass\n```')
    assert [c.source for c in extract_tests(pasted).cases] == ["assert halve(5) == 2", "assert halve(8) == 4"]


def test_examples_given_as_named_inputs_and_an_output_become_asserts():
    leetcode = ('Complete this Python function: def two_sum(nums: list[int], target: int) -> list[int]:\n'
                '    """Example 1:\n        Input: nums = [2, 7, 11, 15], target = 9\n        Output: [0, 1]\n'
                '    Example 2:\n        Input:\n            nums : [3, 2, 4]\n            target : 6\n'
                '        Output: [1, 2]\n    """')
    assert [c.source for c in extract_tests(leetcode).cases] == [
        "assert two_sum([2, 7, 11, 15], 9) == [0, 1]", "assert two_sum([3, 2, 4], 6) == [1, 2]"]
    prose = ('def sum_squares(lst):\n    """For lst = [1,2,3] the output should be 14\n'
             '    For lst = [] the output should be 0\n    Input: 5\n    Output: 25 (one argument, unnamed)"""')
    assert [c.source for c in extract_tests(prose).cases] == [
        "assert sum_squares([1,2,3]) == 14", "assert sum_squares([]) == 0", "assert sum_squares(5) == 25"]


def test_inputs_that_do_not_name_the_functions_parameters_are_not_examples():
    # the docstring names a parameter the function does not have: no call can be written
    assert not extract_tests('def fill(grid, capacity):\n    """Input: grid : [[1]]\n    bucket : 1\n'
                             '    Output: 1"""').cases
    # words, not values, on either side
    assert not extract_tests('def sq(x):\n    """For each number x the output should be its square."""').cases
    assert not extract_tests('def sq(x):\n    """Input: x = 3\n    Output: the square of x"""').cases


def test_brief_errors_are_one_line_per_problem(tmp_path):
    suite = extract_tests("assert f(0) == 1\nassert f(2) == 2")
    report = run_tests("def f(n):\n    raise ValueError('negative')\n", suite, workspace=tmp_path)
    assert report.brief_errors() == "assert f(0) == 1 -> ValueError: negative\nassert f(2) == 2 -> ValueError: negative"
    wrong = run_tests("def f(n):\n    return 0\n", suite, workspace=tmp_path)
    assert wrong.brief_errors().splitlines()[0] == "assert f(0) == 1  # but f(0) returned 0"
