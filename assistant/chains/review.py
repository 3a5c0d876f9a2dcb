"""What a piece of writing must satisfy, checked by rules: the writing chain's self-review.

`make_brief` reads the request (length, sentences, tone, audience, points to mention, "add the
numbers"), the recalled style preferences ("The user prefers short sentences.") and the figures in
other chains' artifacts. `review` checks a text against the brief with the deterministic text tools
(word/sentence counts, reading level). `enforce` makes the hard requirements true when a model did
not: trims to the length at a sentence boundary, splits over-long sentences, drops a chatty
preamble and a closing note about the changes, expands contractions for a formal tone, and
appends the required figures it left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

from assistant.events import Artifact, RecalledMemory

NUMBER = re.compile(r"[+-]?\d[\d,]*(?:\.\d+)?%?")
_WORD_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
_PREAMBLE = re.compile(r"^\s*(?:(?:sure|certainly|of course|okay|ok|here(?:'s| is| are)|below is)\b[^\n]*?[:!.]|"
                       r"[^\n:]{0,40}\b(?:text|draft|version|intro(?:duction)?|post|revision|revised|rewritten|rewrite|"
                       r"output|answer|result)\b[^\n:]{0,30}:)[ \t]*\n+", re.I)  # "Sure! Here it is:" / "Revised text:"
# A closing paragraph about the text rather than part of it ("In this version, I made several changes
# to…", "Changes made: …", "Note: I kept…"): small models add one to rewrites. Only a paragraph after
# the first, so a text is never emptied; a blog post's own call to action ("Let me know…") is kept.
_AFTERWORD = re.compile(r"\n[ \t]*\n[ \t]*(?:\*\*)?(?:in\s+this\s+(?:version|revision|rewrite|revised|rewritten|updated|new)\b|"
                        r"(?:the\s+|these\s+|key\s+|main\s+)?changes\s+(?:made|i\s+made|include)\b|"
                        r"here(?:'s|\s+is|\s+are)\s+(?:what|the\s+changes)\b|"
                        r"this\s+(?:version|revision|rewrite|revised\s+(?:version|text|draft)|updated\s+(?:version|text|draft))\s+"
                        r"(?:is|has|keeps|uses|adds|removes|includes|makes|maintains|focuses)\b|"
                        r"i\s+(?:have\s+)?(?:made|revised|rewrote|rewritten|edited|adjusted|updated|rephrased|incorporated|"
                        r"changed|added|removed|replaced|kept)\s+(?:several|some|a\s+few|the\s+following|a\s+number\s+of|"
                        r"minor|small|the)?\s*(?:changes|edits|adjustments|improvements|revisions|text|draft|intro|"
                        r"introduction|wording|tone|structure|figures|numbers|statistics)\b|note\s*:|"
                        r"(?:please\s+)?note\s+that\s+the\s+(?:original|revised|rewritten|updated|new|above)\s+"
                        r"(?:text|version|draft|intro|introduction)\b)[\s\S]*\Z", re.I)
_CONTRACTIONS = [(r"\bcan't\b", "cannot"), (r"\bwon't\b", "will not"), (r"\b(\w+)n't\b", r"\1 not"),
                 (r"\b(\w+)'re\b", r"\1 are"), (r"\b(\w+)'ll\b", r"\1 will"), (r"\b(\w+)'ve\b", r"\1 have"),
                 (r"\bI'm\b", "I am"), (r"\b(it|that|there|what|here)'s\b", r"\1 is")]
_SLANG = re.compile(r"\b(?:gonna|wanna|gotta|kinda|hey|guys|awesome|cool|stuff|super)\b", re.I)
_NUMBERS_ASKED = re.compile(r"\b(?:add|include|with|use|using|mention|put in|work in|quote|cite)\b[^.?!]{0,40}\b"
                            r"(?:numbers|figures|results|stats|statistics|findings|growth|data|analysis)\b", re.I)
_MENTION = re.compile(r"\b(?:mention|include|cover|talk about|refer to|highlight)\s+(?:that\s+|the\s+)?"
                      r"([^,.;:!?\n]{3,60}?)(?=\s+(?:and|but|in|with)\b|[,.;:!?\n]|$)", re.I)
PARAGRAPH_WORDS = 150
_BY_RULE = {"sentence length", "formal tone", "figures", "no preamble", "no afterword"}  # what `enforce` fixes without loss
_TRIM_FACTOR = 1.5  # over a limit by more than this, trimming would drop too much: a revision does better
_STOPWORDS = {"the", "a", "an", "our", "my", "your", "their", "its", "of", "to", "and", "in", "on", "for", "that"}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""  # the instruction for a revision when it failed


@dataclass(frozen=True)
class Brief:
    max_words: int | None = None
    min_words: int | None = None
    max_sentences: int | None = None
    max_sentence_words: int | None = None
    min_ease: float | None = None
    formal: bool = False
    casual: bool = False
    points: tuple[str, ...] = ()
    facts: tuple[str, ...] = ()  # sentences with the figures to use, from other chains' work
    must_include: tuple[str, ...] = ()  # figures that must appear
    reasons: tuple[str, ...] = field(default=(), compare=False)

    def requirements(self) -> list[str]:
        """The brief as short instructions for a prompt."""
        items = list(self.reasons)
        if self.facts:
            items.append("Use these figures exactly: " + " ".join(self.facts))
        return items


def _count(word: str) -> int:
    return int(word) if word.isdigit() else _WORD_NUMBERS.get(word.lower(), 0)


def words_of(text: str) -> int:
    from tools.text import word_count

    return word_count(text)


def sentences_of(text: str) -> list[str]:
    from tools.text import _sentences

    return _sentences(text)


def make_brief(request: str, memories: Sequence[RecalledMemory], previous: Artifact | None,
               sources: Sequence[Artifact]) -> Brief:
    """Requirements from the request, remembered preferences and other chains' artifacts."""
    text = request.lower()
    found: dict = {}
    reasons: list[str] = []
    if m := re.search(r"\b(?:under|at most|no more than|fewer than|less than|max(?:imum)?(?: of)?|within|up to)\s+(\d+)\s+words", text):
        found["max_words"] = int(m.group(1))
        reasons.append(f"At most {m.group(1)} words.")
    elif m := re.search(r"\b(\d+)[- ]words?\b", text):
        n = int(m.group(1))
        found.update(max_words=round(n * 1.15), min_words=round(n * 0.7))
        reasons.append(f"About {n} words.")
    if m := re.search(r"\b(?:at least|more than|over|minimum of)\s+(\d+)\s+words", text):
        found["min_words"] = int(m.group(1))
        reasons.append(f"At least {m.group(1)} words.")
    if m := re.search(r"\b(one|two|three|four|five|six|\d+)\s+sentences?\b", text):
        found["max_sentences"] = _count(m.group(1)) or None
        reasons.append(f"{m.group(1).title()} sentence(s).")
    elif re.search(r"\b(?:a|one|single)\s+sentence\b", text):
        found["max_sentences"] = 1
        reasons.append("One sentence.")
    previous_words = words_of(previous.content) if previous else 0
    if previous and re.search(r"\bshort(?:er|en)\b|\bmore concise\b|\btighten\b|\btrim\b|\bcut\b", text):
        found.setdefault("max_words", max(10, round(previous_words * 0.7)))
        reasons.append(f"Shorter than before: at most {found['max_words']} words (it was {previous_words}).")
    elif previous and re.search(r"\blonger\b|\bexpand\b|\bmore detail", text):
        found.setdefault("min_words", round(previous_words * 1.3))
        reasons.append(f"Longer than before: at least {found['min_words']} words (it was {previous_words}).")
    elif re.search(r"\b(?:a|one|single)[\s-]+(?:short\s+)?paragraph\b", text):
        found.setdefault("max_words", PARAGRAPH_WORDS)
        reasons.append(f"One paragraph: at most {PARAGRAPH_WORDS} words.")
    elif re.search(r"\b(?:keep it (?:short|brief)|brief|short (?:intro|introduction|email|note|paragraph|post|bio|summary|message))\b", text):
        found.setdefault("max_words", 120)
        reasons.append("Short: at most 120 words.")
    if re.search(r"\b(?:formal|professional)\b", text):
        found["formal"] = True
        reasons.append("Formal tone: no contractions, no exclamation marks, no slang.")
    elif re.search(r"\b(?:casual|informal|friendly|relaxed|conversational)\b", text):
        found["casual"] = True
        reasons.append("Casual, friendly tone.")
    if re.search(r"\bfor (?:kids|children|a \d+[- ]year[- ]old)", text):
        found["min_ease"] = 80.0
        reasons.append("Easy enough for children: short words and sentences.")
    elif re.search(r"\bplain english\b|\bsimple (?:language|words)\b|\bsimpler\b|\bfor (?:beginners|everyone|non-experts|a general audience)", text):
        found["min_ease"] = 60.0
        reasons.append("Plain English for a general reader.")
    _preferences(memories, found, reasons)
    points = tuple(p.strip() for p in _MENTION.findall(request) if not _NUMBERS_ASKED.search("add " + p))
    reasons += [f"Mention {p}." for p in points]
    facts: tuple[str, ...] = ()
    must: tuple[str, ...] = ()
    if _NUMBERS_ASKED.search(request) or (sources and re.search(r"\bnumbers?\b|\bfigures?\b", text)):
        facts = key_facts(sources, request)
        must = tuple(dict.fromkeys(n for fact in facts for n in _key_numbers(fact)))
    return Brief(points=points, facts=facts, must_include=must, reasons=tuple(reasons), **found)


def _preferences(memories: Sequence[RecalledMemory], found: dict, reasons: list[str]) -> None:
    """Style preferences remembered as facts; the request's own wishes win."""
    for memory in memories:
        said = memory.text.lower()
        if "prefer" not in said and "like" not in said:
            continue
        if "short sentences" in said or "shorter sentences" in said:
            found.setdefault("max_sentence_words", 14)
            reasons.append("Short sentences (the user prefers short sentences).")
        if re.search(r"\bformal\b", said) and not found.get("casual"):
            found.setdefault("formal", True)
            reasons.append("Formal tone (a remembered preference).")
        if re.search(r"\b(?:casual|informal)\b", said) and not found.get("formal"):
            found.setdefault("casual", True)
            reasons.append("Casual tone (a remembered preference).")
        if re.search(r"\b(?:concise|brief)\b", said):
            found.setdefault("max_words", 150)
            reasons.append("Concise (a remembered preference).")
        if re.search(r"\b(?:simple|plain) (?:language|english|words)\b", said):
            found.setdefault("min_ease", 60.0)
            reasons.append("Plain language (a remembered preference).")


def key_facts(sources: Sequence[Artifact], request: str, limit: int = 3) -> tuple[str, ...]:
    """The sentences with figures in other chains' results (analysis findings first), best first:
    short ones, and those sharing words with the request ("Q3")."""
    wanted = {w for w in re.findall(r"[a-z0-9]+", request.lower()) if len(w) >= 2 and w not in _STOPWORDS}
    scored = []
    for rank, artifact in enumerate(sorted(sources, key=lambda a: a.kind != "analysis")):
        if artifact.kind not in ("analysis", "output"):
            continue
        findings = re.split(r"\n\s*Table [^\n]*rows ×", artifact.content)[0]
        for sentence in re.split(r"(?<=[.!?])\s+(?=[A-Z])", findings):
            sentence = " ".join(sentence.split())
            if not NUMBER.search(sentence) or len(sentence) < 12 or sentence.startswith(("Chart saved", "- ")):
                continue
            overlap = len(wanted & set(re.findall(r"[a-z0-9]+", sentence.lower())))
            scored.append((-overlap, rank, "%" not in sentence, len(sentence) > 220, len(sentence), sentence))
    return tuple(s[-1] if len(s[-1]) <= 240 else s[-1][:239] + "…" for s in sorted(scored)[:limit])


def _key_numbers(fact: str) -> list[str]:
    numbers = [n for n in NUMBER.findall(fact) if len(n.strip("+-")) >= 2 or n.endswith("%")]
    percents = [n for n in numbers if n.endswith("%")]
    years = re.compile(r"^(?:19|20)\d{2}$")
    return (percents or [n for n in numbers if not years.match(n)])[:2]


def review(text: str, brief: Brief) -> list[Check]:
    """Every requirement of the brief, checked with the deterministic text tools."""
    from tools.text import reading_level

    checks: list[Check] = []
    words = words_of(text)
    sentences = sentences_of(text)
    checks.append(Check("not empty", words > 0, f"{words} words", "Write the text."))
    if brief.max_words:
        checks.append(Check("length", words <= brief.max_words, f"{words} words (limit {brief.max_words})",
                            f"Cut it to at most {brief.max_words} words."))
    if brief.min_words:
        checks.append(Check("length (min)", words >= brief.min_words, f"{words} words (at least {brief.min_words})",
                            f"Expand it to at least {brief.min_words} words."))
    if brief.max_sentences:
        checks.append(Check("sentences", len(sentences) <= brief.max_sentences,
                            f"{len(sentences)} sentences (limit {brief.max_sentences})",
                            f"Use at most {brief.max_sentences} sentence(s)."))
    if brief.max_sentence_words and sentences:
        longest = max(words_of(s) for s in sentences)
        checks.append(Check("sentence length", longest <= brief.max_sentence_words + 6,
                            f"longest sentence {longest} words", "Use short sentences."))
    if brief.min_ease is not None and words:
        ease = float(reading_level(text)["flesch_reading_ease"])
        checks.append(Check("reading level", ease >= brief.min_ease, f"reading ease {ease:.0f} (want ≥ {brief.min_ease:.0f})",
                            "Use shorter words and sentences."))
    if brief.formal:
        informal = len(re.findall(r"\b\w+'(?:t|re|ll|ve|m)\b", text)) + text.count("!") + len(_SLANG.findall(text))
        checks.append(Check("formal tone", informal == 0, f"{informal} informal marks",
                            "Make it formal: no contractions, exclamation marks or slang."))
    for point in brief.points:
        keys = [w for w in re.findall(r"[a-z0-9]+", point.lower()) if w not in _STOPWORDS]
        present = all(re.search(rf"\b{re.escape(k)}", text.lower()) for k in keys)
        checks.append(Check(f"mentions {point}", present, "present" if present else "missing", f"Mention {point}."))
    missing = [n for n in brief.must_include if not _has_number(text, n)]
    if brief.must_include:
        checks.append(Check("figures", not missing, f"missing {', '.join(missing)}" if missing else "all present",
                            "Include these figures exactly: " + " ".join(brief.facts)))
    if _PREAMBLE.match(text):
        checks.append(Check("no preamble", False, "starts with a chatty preamble", "Output only the text itself."))
    if _AFTERWORD.search(text):
        checks.append(Check("no afterword", False, "ends with a note about the changes", "Output only the text itself."))
    return checks


def _has_number(text: str, number: str) -> bool:
    plain = number.lstrip("+")
    return plain in text or plain.replace(",", "") in text.replace(",", "")


def failed(checks: Sequence[Check]) -> list[Check]:
    return [c for c in checks if not c.ok]


def fixable_by_rule(check: Check, brief: Brief, text: str) -> bool:
    """Whether `enforce` makes `check` pass without losing much: splitting sentences, formal
    spelling, appending figures, dropping a preamble; trimming only a text a little over its limit."""
    if check.name == "length" and brief.max_words:
        return words_of(text) <= brief.max_words * _TRIM_FACTOR
    if check.name == "sentences" and brief.max_sentences:
        return len(sentences_of(text)) <= max(brief.max_sentences + 1, brief.max_sentences * _TRIM_FACTOR)
    return check.name in _BY_RULE


def enforce(text: str, brief: Brief) -> tuple[str, list[str]]:
    """Make the hard requirements true deterministically; returns (text, what was changed)."""
    changes: list[str] = []

    def step(new: str, note: str) -> str:
        if new.strip() != text.strip():
            changes.append(note)
        return new.strip()

    text = step(_without_preambles(text), "dropped the preamble")
    text = step(_AFTERWORD.sub("", text, count=1), "dropped the note about the changes")
    if brief.formal:
        formal = text
        for pattern, repl in _CONTRACTIONS:
            formal = re.sub(pattern, repl, formal, flags=re.I)
        text = step(re.sub(r"!+", ".", formal), "made the tone formal")
    if brief.max_sentence_words:
        text = step(_split_long(text, brief.max_sentence_words + 6), "split long sentences")
    missing = [f for f in brief.facts if any(not _has_number(text, n) for n in _key_numbers(f))]
    if brief.max_words or brief.max_sentences:
        budget = (brief.max_words - sum(words_of(f) for f in missing)) if brief.max_words else 10**6
        sentences = (brief.max_sentences - len(missing)) if brief.max_sentences else None
        text = step(_trim(text, max(budget, 5), sentences), "trimmed to the length")
    if missing:
        joiner = "\n\n" if "\n" in text else " "
        text = step(text + joiner + " ".join(missing), f"added {len(missing)} missing figure sentence(s)")
    return text, changes


def _without_preambles(text: str, most: int = 3) -> str:
    """`text` without its leading preamble lines: small models stack them ("Here is the revised
    intro:" then "Revised:"), and dropping only the first left the second as the draft's opening."""
    for _ in range(most):
        shorter = _PREAMBLE.sub("", text, count=1)
        if shorter == text or not shorter.strip():
            break
        text = shorter
    return text


def _trim(text: str, max_words: int, max_sentences: int | None) -> str:
    sentences = re.split(r"(?<=[.!?])\s+", text.strip())
    kept: list[str] = []
    for sentence in sentences:
        if (max_sentences is not None and len(kept) >= max(max_sentences, 1)) or \
                (kept and words_of(" ".join(kept + [sentence])) > max_words):
            break
        kept.append(sentence)
    result = " ".join(kept)
    if words_of(result) > max_words:  # one long first sentence: cut at a word
        result = " ".join(result.split()[:max_words]).rstrip(",;:") + "…"
    return result if result != " ".join(sentences) else text


def _split_long(text: str, limit: int) -> str:
    def split(match: re.Match) -> str:
        sentence = match.group(0)
        if words_of(sentence) <= limit:
            return sentence
        return re.sub(r"(?<=\w),\s+(and|but|so|which|while)\s+(\w)",
                      lambda m: ". " + m.group(2).upper(), sentence, count=1)
    return re.sub(r"[^.!?\n]+[.!?]?", split, text)
