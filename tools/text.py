"""Deterministic text tools for the writing chain: counts, readability, outline, diff.

Heuristics, stated so results can be checked by hand:
- a word is a run of letters/digits, joined across ' ’ or - ("don't", "well-known" are one word);
  a number with a decimal point or thousands separator ("3.14", "1,000") is one word;
- a sentence ends at . ! ? (repeated, optionally followed by a closing quote or bracket) before
  whitespace or the end, and at a blank line; abbreviations ("e.g. this") do split;
- syllables: vowel groups (a e i o u y, up to two letters each) after dropping a silent final
  "e"/"es"/"ed" and a leading "y"; words of three letters or fewer count one; at least one each.
"""

from __future__ import annotations

import difflib
import re
from tools.base import tool

__all__ = ["diff_texts", "outline", "reading_level", "sentence_count", "syllables", "word_count"]

_WORD = re.compile(r"\d+(?:[.,]\d+)+|[^\W_]+(?:['’-][^\W_]+)*")
_SENTENCE_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s|$)|\n[ \t]*\n")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_SETEXT = re.compile(r"^(=+|-+)\s*$")
_LABELS = ((90, "very easy"), (80, "easy"), (70, "fairly easy"), (60, "standard"),
           (50, "fairly difficult"), (30, "difficult"))


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if _WORD.search(s)]


def syllables(word: str) -> int:
    """Syllables in one word by the heuristic in the module docstring (0 for no word)."""
    letters = re.sub(r"[^a-z]", "", word.lower())
    if not letters:
        return 1 if _WORD.search(word) else 0
    if len(letters) <= 3:
        return 1
    letters = re.sub(r"(?:[^laeiouy]es|[^laeiouy]ed|[^laeiouy]e)$", "", letters)
    letters = re.sub(r"^y", "", letters)
    return max(1, len(re.findall(r"[aeiouy]{1,2}", letters)))


@tool
def word_count(text: str) -> int:
    """Count the words in a text."""
    return len(_words(text))


@tool
def sentence_count(text: str) -> int:
    """Count the sentences in a text (ends at . ! ? or a blank line)."""
    return len(_sentences(text))


@tool
def reading_level(text: str) -> dict[str, object]:
    """Readability of a text: Flesch reading ease and Flesch-Kincaid grade level.

    Higher reading ease is easier (60-70 is plain English); the grade is a US school grade.
    """
    words = _words(text)
    if not words:
        raise ValueError("reading_level needs a text with at least one word")
    n_sentences = max(1, len(_sentences(text)))
    n_syllables = sum(syllables(w) for w in words)
    words_per_sentence = len(words) / n_sentences
    syllables_per_word = n_syllables / len(words)
    ease = 206.835 - 1.015 * words_per_sentence - 84.6 * syllables_per_word
    grade = 0.39 * words_per_sentence + 11.8 * syllables_per_word - 15.59
    label = next((name for floor, name in _LABELS if ease >= floor), "very difficult")
    return {
        "words": len(words),
        "sentences": n_sentences,
        "syllables": n_syllables,
        "flesch_reading_ease": round(ease, 2),
        "flesch_kincaid_grade": round(grade, 2),
        "label": label,
    }


@tool
def outline(text: str) -> list[str]:
    """Outline a (Markdown) text: its headings and the first sentence of each paragraph.

    Headings keep their "#" marks; paragraph lines are "- first sentence", indented two
    spaces per level of the heading they sit under. Fenced code blocks are skipped.
    """
    items: list[str] = []
    level = 0
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            first = _first_sentence(" ".join(paragraph))
            if first:
                items.append("  " * level + "- " + first)
            paragraph.clear()

    in_fence = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            flush()
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        heading = _HEADING.match(stripped)
        setext = _SETEXT.match(stripped) if len(paragraph) == 1 else None
        if heading:
            flush()
            level = len(heading.group(1))
            items.append(f"{heading.group(1)} {heading.group(2)}")
        elif setext:
            level = 1 if setext.group(1)[0] == "=" else 2
            items.append("#" * level + " " + paragraph.pop().strip())
        elif not stripped:
            flush()
        else:
            paragraph.append(stripped)
    flush()
    return items


@tool
def diff_texts(a: str, b: str, context: int = 3) -> str:
    """Unified diff from text a to text b ("" when they are equal).

    Args:
        a: the original text.
        b: the changed text.
        context: unchanged lines shown around each change.
    """
    lines = difflib.unified_diff(a.splitlines(), b.splitlines(), fromfile="a", tofile="b",
                                 n=max(0, context), lineterm="")
    out = "\n".join(lines)
    return out + "\n" if out else ""


def _first_sentence(text: str, limit: int = 200) -> str:
    text = re.sub(r"^(?:[-*+]|\d+[.)])\s+", "", text)
    if not _WORD.search(text):
        return ""
    match = _SENTENCE_END.search(text)
    first = text[: match.end()].strip() if match else text.strip()
    first = re.sub(r"\s+", " ", first)
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"
