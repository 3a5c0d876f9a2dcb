"""Text tools: exact, hand-checkable numbers on fixed inputs."""

from __future__ import annotations

import pytest

from tools.text import diff_texts, outline, reading_level, sentence_count, syllables, word_count


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", 0),
        ("one", 1),
        ("  The quick   brown fox.\n", 4),
        ("Don't stop the well-known show", 5),
        ("Pi is 3.14, and 1,000 is a number.", 8),
        ("Hello—world", 2),
    ],
)
def test_word_count(text, expected):
    assert word_count(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", 0),
        ("No ending punctuation", 1),
        ("Hello world. How are you? Fine!", 3),
        ('He said "hi." Then he left.', 2),
        ("Pi is 3.14 today.", 1),
        ("Wait... what?!", 2),
        ("# Heading\n\nBody text here.", 2),
    ],
)
def test_sentence_count(text, expected):
    assert sentence_count(text) == expected


@pytest.mark.parametrize(
    "word, expected",
    [("cat", 1), ("the", 1), ("table", 2), ("reading", 2), ("jumped", 1), ("simple", 2),
     ("yellow", 2), ("makes", 1), ("syllable", 3), ("happy", 2), ("42", 1), ("—", 0)],
)
def test_syllable_heuristic(word, expected):
    assert syllables(word) == expected


def test_reading_level_exact_figures():
    # 9 words, 2 sentences, 10 syllables (happy = 2):
    # ease  = 206.835 - 1.015 * 4.5 - 84.6 * 10/9 = 108.2675
    # grade = 0.39 * 4.5 + 11.8 * 10/9 - 15.59    = -0.7239
    assert reading_level("The cat sat on the mat. It was happy.") == {
        "words": 9, "sentences": 2, "syllables": 10,
        "flesch_reading_ease": 108.27, "flesch_kincaid_grade": -0.72, "label": "very easy",
    }


def test_reading_level_of_harder_prose():
    text = ("Organizational effectiveness necessitates comprehensive understanding "
            "of interdependent institutional relationships.")
    # organizational 6, effectiveness 5, necessitates 4, comprehensive 4, understanding 4,
    # of 1, interdependent 5, institutional 5, relationships 4
    result = reading_level(text)
    assert (result["words"], result["sentences"], result["syllables"]) == (9, 1, 38)
    assert result["flesch_reading_ease"] == round(206.835 - 1.015 * 9 - 84.6 * 38 / 9, 2) == -159.5
    assert result["flesch_kincaid_grade"] == round(0.39 * 9 + 11.8 * 38 / 9 - 15.59, 2) == 37.74
    assert result["label"] == "very difficult"


def test_reading_level_is_deterministic_and_rejects_empty_text():
    text = "A short one. And another short sentence here!"
    assert reading_level(text) == reading_level(text)
    result = reading_level.invoke({"text": "  "})
    assert result.error == "ValueError: reading_level needs a text with at least one word"


def test_outline_lists_headings_and_first_sentences():
    text = (
        "# Report\n\nThis is the intro. It says more.\n\n"
        "## Numbers\n\nRevenue grew by 3.5 percent! Costs fell.\n\n"
        "```python\nprint('not a heading')\n# nor this\n```\n\n"
        "- first item. more\n- second item\n\n"
        "Setext Title\n------------\nLast paragraph without a stop"
    )
    assert outline(text) == [
        "# Report",
        "  - This is the intro.",
        "## Numbers",
        "    - Revenue grew by 3.5 percent!",
        "    - first item.",
        "## Setext Title",
        "    - Last paragraph without a stop",
    ]
    assert outline("") == []


def test_outline_cuts_long_first_sentences():
    long = "word " * 100
    (line,) = outline(long)
    assert line.startswith("- word word") and line.endswith("…") and len(line) == 2 + 200


def test_diff_texts_is_a_unified_diff():
    a = "one\ntwo\nthree\n"
    b = "one\n2\nthree\nfour\n"
    assert diff_texts(a, b) == (
        "--- a\n+++ b\n@@ -1,3 +1,4 @@\n one\n-two\n+2\n three\n+four\n"
    )
    assert diff_texts(a, b, context=0) == "--- a\n+++ b\n@@ -2 +2 @@\n-two\n+2\n@@ -3,0 +4 @@\n+four\n"
    assert diff_texts(a, a) == ""


def test_text_tools_are_registered_tools_with_schemas():
    assert word_count.invoke({"text": "a b c"}).output == 3
    assert diff_texts.schema()["properties"]["context"]["default"] == 3
    assert diff_texts.schema()["properties"]["a"]["description"] == "the original text."
