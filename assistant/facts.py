"""Cheap fact extraction: stable things a person says about themselves, caught by rules.

No model call at write time (writes stay cheap and deterministic). Each fact has a key, so a new
statement of the same thing ("call me Sam" after "my name is Samuel") replaces the old fact rather
than piling up beside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Fact:
    key: str
    text: str


_RULES: list[tuple[str, re.Pattern[str], str]] = [
    ("name", re.compile(r"\b(?i:my name is|call me|i am called|i'm called)\s+([A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)?)"), "The user's name is {0}."),
    ("job", re.compile(r"\bi (?:work as|am working as)\s+(?:an?\s+)?([^.,;!?\n]{2,60})", re.I), "The user works as {0}."),
    ("employer", re.compile(r"\bi work (?:at|for)\s+([^.,;!?\n]{2,60})", re.I), "The user works at {0}."),
    ("location", re.compile(r"\bi live in\s+([^.,;!?\n]{2,60})", re.I), "The user lives in {0}."),
    ("pref:{0}", re.compile(r"\bmy favou?rite\s+([\w ]{2,30}?)\s+is\s+([^.,;!?\n]{1,60})", re.I), "The user's favourite {0} is {1}."),
    ("prefer:{0}", re.compile(r"\bi (?:prefer|like|love|want)\s+([^.;!?\n]{3,80})", re.I), "The user prefers {0}."),
    ("remember:{0}", re.compile(r"\b(?:please\s+)?remember(?:\s+that)?\s+([^\n]{3,200}?)(?:[.!?]|$)", re.I), "{0}."),
]


def _key(template: str, groups: tuple[str, ...]) -> str:
    if "{0}" not in template:
        return template
    words = re.findall(r"\w+", groups[0].lower())[:4]
    return template.format("-".join(words))


def extract_facts(text: str) -> list[Fact]:
    """Facts stated in one request, at most one per key."""
    facts: dict[str, Fact] = {}
    for template, pattern, sentence in _RULES:
        for match in pattern.finditer(text):
            groups = tuple(g.strip() for g in match.groups())
            if template.startswith("prefer") and re.match(r"(?:to know|you to|it if)\b", groups[0], re.I):
                continue  # "I want you to…" is a request, not a preference
            key = _key(template, groups)
            said = sentence.format(*groups)
            facts.setdefault(key, Fact(key=key, text=said[:1].upper() + said[1:]))
    return list(facts.values())
