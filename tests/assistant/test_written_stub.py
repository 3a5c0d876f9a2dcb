"""A function asked for in words with its examples becomes a stub the model continues
(assistant.chains.written_stub), and the coding chain then completes it like a pasted stub: in
completion mode, candidates checked against the examples in the real sandbox."""

from __future__ import annotations

import ast

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from assistant.chains.base import ChainRun
from assistant.chains.coding import coding_chain
from assistant.chains.written_stub import written_stub
from assistant.sessions import Session
from tools.code_tests import extract_tests

from .fakes import FakeLocal, drain


def stub_for(request: str):
    return written_stub(request, extract_tests(request))


def test_the_signature_the_request_writes_and_its_examples_as_doctests():
    stub = stub_for("Write a Python function is_palindrome(s) that tells whether a string reads the same "
                    "backwards.\nassert is_palindrome('racecar')\nassert not is_palindrome('hello')")
    assert stub.name == "is_palindrome"
    assert stub.prefix == ('def is_palindrome(s):\n    """Tells whether a string reads the same backwards.\n\n'
                           "    >>> is_palindrome('racecar')\n    True\n    >>> is_palindrome('hello')\n    False\n"
                           '    """\n')
    ast.parse(stub.prefix + "    pass\n")


def test_without_a_written_signature_the_parameters_are_named_by_the_examples_values():
    stub = stub_for("Write a function to find the shared elements from the given two lists.\n"
                    "assert similar_elements((3, 4, 5, 6), (5, 7, 4, 10)) == (4, 5)")
    assert stub.prefix.startswith('def similar_elements(items1, items2):\n    """Find the shared elements')
    assert stub_for("Write a function that repeats a word\nassert repeat('ab', 3) == 'ababab'").prefix.startswith(
        "def repeat(s, n):")


def test_a_doctest_in_the_request_stays_an_example_and_its_output_is_not_prose():
    stub = stub_for("Write word_frequencies(text) returning a dict of how often each word occurs.\n"
                    ">>> word_frequencies('a b a')\n{'a': 2, 'b': 1}")
    assert '"""Returning a dict of how often each word occurs.\n\n    >>> word_frequencies' in stub.prefix
    assert stub.prefix.count("{'a': 2, 'b': 1}") == 1


@pytest.mark.parametrize("request_text", [
    "Write a JavaScript function add(a, b).\nassert add(1, 2) == 3",               # another language
    "Write a class Stack with push and pop.\nassert size([]) == 0",                 # not one function
    "Explain why fib(10) == 55.\nassert fib(10) == 55",                             # asks something else
    "Fix this:\n```python\ndef add(a, b):\n    return a - b\n```\nassert add(1, 2) == 3",  # pastes code
    "Write a function that adds two numbers",                                      # no example to check
    "Write helpers.\nassert add(1, 2) == 3\nassert mul(2, 2) == 4",                 # two functions
])
def test_requests_that_are_not_one_function_in_words_keep_the_chat_path(request_text):
    assert stub_for(request_text) is None


def test_the_coding_chain_completes_a_function_asked_for_in_words(tmp_path):
    request = "Write a Python function add_one(nums) that adds 1 to every number.\nassert add_one([1, 2]) == [2, 3]"
    fake = FakeLocal(responses=[" return nums", " nums", " return [n + 1 for n in nums]", " return None"])
    run = ChainRun(request=request, session=Session("s", "u"), workspace=tmp_path / "ws", model=fake, auto_run=True)
    events, result = drain(coding_chain().run(run, [SystemMessage("You write code."), HumanMessage(request)]))
    assert all([m.type for m in p] == ["ai"] for p in fake.prompts)   # continued as text, no chat prompt
    assert fake.prompts[0][0].content.startswith('def add_one(nums):\n    """Adds 1 to every number.')
    assert result.artifacts[0].content.endswith("    return [n + 1 for n in nums]\n")
    assert "1/1 tests passed" in result.text


def test_when_no_continuation_passes_the_chat_answer_joins_the_second_round(tmp_path):
    request = "Write a Python function add_one(nums) that adds 1 to every number.\nassert add_one([1, 2]) == [2, 3]"
    wrong = [" return nums"] * 7   # the first round's 4 candidates and the second round's 3 samples
    chat = "Here it is:\n```python\ndef add_one(nums):\n    return [n + 1 for n in nums]\n```"
    fake = FakeLocal(responses=[*wrong, chat])
    run = ChainRun(request=request, session=Session("s", "u"), workspace=tmp_path / "ws", model=fake, auto_run=True)
    events, result = drain(coding_chain().run(run, [SystemMessage("You write code."), HumanMessage(request)]))
    asked = fake.prompts[7]   # the chat prompt, with the hint naming the function the tests call
    assert [m.type for m in asked] == ["system", "human"] and "(The tests call: add_one." in asked[-1].content
    assert result.artifacts[0].content.strip() == "def add_one(nums):\n    return [n + 1 for n in nums]"
    assert "1/1 tests passed" in result.text and "chat answer" in result.text


def test_a_backslash_or_triple_quotes_in_the_request_keep_the_stub_valid():
    stub = stub_for('Write digits(s) that finds r"\\d+" runs, """quoted""" too.\nassert digits("a1b22") == ["1", "22"]')
    assert stub.prefix.startswith('def digits(s):\n    r"""Finds r"\\d+" runs, \'\'\'quoted\'\'\' too.')
    compile(stub.prefix + "    pass\n", "<stub>", "exec")
