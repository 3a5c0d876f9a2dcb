"""The rule-based repairs for generated code: each applies where it should and nowhere else."""

from __future__ import annotations

from tools.code_fixes import (
    add_missing_imports,
    alias_functions,
    keep_definitions,
    parses,
    static_fixes,
    strip_prompts,
    trim_incomplete,
)


def test_repl_prompts_are_removed_with_their_output_lines():
    code = ">>> def double(x):\n...     return 2 * x\n>>> double(2)\n4"
    assert strip_prompts(code) == "def double(x):\n    return 2 * x\ndouble(2)"
    assert strip_prompts("x = 1\n") == "x = 1\n"


def test_doctest_examples_in_a_docstring_are_not_taken_for_a_repl():
    code = 'def double(x):\n    """Twice x.\n\n    >>> double(2)\n    4\n    """\n    return 2 * x\n'
    assert strip_prompts(code) == code


def test_a_cut_off_answer_is_trimmed_until_it_parses():
    code = "def f(x):\n    return x + 1\n\ndef g(y):\n    return (y +"
    fixed = trim_incomplete(code)
    assert parses(fixed) and "def f" in fixed and "def g" not in fixed


def test_a_prose_line_inside_the_code_is_dropped():
    code = "def f(x):\n    return x\nThis function returns its argument unchanged.\nprint(f(1))"
    assert trim_incomplete(code) == "def f(x):\n    return x\nprint(f(1))"


def test_missing_imports_are_added_for_known_names_only():
    code = "def f(xs):\n    return Counter(xs), math.sqrt(4), reduce(max, xs), mystery(xs)"
    fixed = add_missing_imports(code)
    head = fixed.splitlines()[:3]
    assert sorted(head) == ["from collections import Counter", "from functools import reduce", "import math"]
    assert "mystery" not in "\n".join(head)
    assert add_missing_imports("import math\nprint(math.pi)") == "import math\nprint(math.pi)"


def test_a_renamed_function_gets_the_alias_the_tests_call():
    code = "def palindrome(s):\n    return s == s[::-1]"
    assert alias_functions(code, ("is_palindrome",)).endswith("is_palindrome = palindrome  # the tests call is_palindrome()\n")
    # two candidates: no guessing
    two = "def a(s):\n    return s\n\ndef b(s):\n    return s"
    assert alias_functions(two, ("c",)) == two
    assert alias_functions(code, ("palindrome",)) == code


def test_keep_definitions_drops_top_level_demo_code():
    code = ("import os\ndef f():\n    return 1\nprint(f(undefined))\nfor i in range(3):\n    print(i)\nX = 3\n"
            "if __name__ == '__main__':\n    f()\n")
    assert keep_definitions(code) == ("import os\ndef f():\n    return 1\nX = 3\n"
                                      "if __name__ == '__main__':\n    f()\n")


def test_static_fixes_report_what_they_did():
    code, notes = static_fixes(">>> def f(x):\n...     return sqrt(x)", ("g",))
    assert parses(code) and "from math import sqrt" in code and "g = f" in code
    assert notes == ["removed REPL prompts", "added missing imports", "aliased the function the tests call"]
    assert static_fixes("def f():\n    return 1\n") == ("def f():\n    return 1\n", [])
