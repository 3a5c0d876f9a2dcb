"""The transparent half of routing: lexical cues, the instruction part of a pasted request, and
what makes a request a follow-up. Kept apart from the similarity model so the rules can be read
(and argued with) on their own; `routing.py` weighs them as evidence, never as overrides."""

from __future__ import annotations

import re

FOLLOW_UP_MAX_WORDS = 15

# -- lexical cues -----------------------------------------------------------------------------

def _rx(pattern: str, flags: int = re.IGNORECASE) -> re.Pattern[str]:
    return re.compile(pattern, flags)


def _words(*words: str) -> str:
    # Lookarounds rather than \b, so that terms ending in a symbol ("c++", "c#") can match.
    return r"(?<!\w)(?:" + "|".join(words) + r")(?!\w)"


# The word lists of the lexical cues. Every term must occur in some routing example (tested):
# a term no example has is a rule nobody measured.
TERMS: dict[str, tuple[str, ...]] = {
    "programming-language": (
        "python", "javascript", "typescript", "java", "kotlin", "swift", "rust", "golang", r"c\+\+", "c#", "ruby",
        "php", "perl", "bash", "shell", "powershell", "react", "vue", "angular", r"node(?:\.js)?", "django", "flask",
        "fastapi", r"express(?:\.js)?", "rails", "pandas", "numpy", "matplotlib", "selenium", "terraform", "nginx",
        "vba", "assembly", "scala", "haskell", "lua", "matlab", "sql", "html", "css", "graphql", "regex",
    ),
    "programming-words": (
        "code", "coding", "function", "functions", "method", "script", "program", "snippet", "compile", "compiler",
        "syntax", "bug", "debug", "debugging", "refactor", "unit tests?", "pytest", "regular expression",
        "algorithm", "recursion", "api", "endpoint", "query", "database", "git", "commit", "repo", "docker",
        "kubernetes", "yaml", "json", "npm", "pip", "virtual environment", "library", "framework", "variable",
        "loop", "array", "integer", "pointer", "class", "interface", "thread", "async", "dependency injection",
        "design patterns?", "object[- ]oriented", "oop", "data structures?", "linked list", r"hash ?map",
        "closure", "decorator", "generator", "metaclass", "inheritance", "polymorphism", "big o",
        "time complexity", "memory leak", "programming", "developer",
    ),
    "data-source": (
        "data", "dataset", "datasets", "csv", "xlsx?", "spreadsheet", "excel", "google sheets", "table", "column",
        "columns", "rows", "cells?", "the attached", "export", "log file", "survey (?:data|results|responses)",
    ),
    "chart": (
        "chart", "graph", "plot", "plots", "histogram", r"scatter ?plot", "heatmap", r"box ?plot", "pie",
        r"visuali[sz]\w*", "dashboard",
    ),
    "statistics": (
        "average", "mean", "median", "mode", "standard deviation", "variance", "quartiles?", "percentiles?",
        "interquartile", r"correlat\w+", "regression", "trends?", r"forecast\w*", r"statistic\w*",
        r"significan\w+", "p-value", "confidence interval", "margin of error", "sample size", "probability",
        "distribution", "outliers?", r"anomal\w+", "percentage", "percent", "growth rate", "pivot", "cohort",
        "churn", "retention", "funnel", "conversion rates?", "roi", "kpis?", "year over year", "yoy",
        "calculate", "compute", "solve",
    ),
    "prose-form": (
        "e-?mails?", "letter", "essay", "story", "stories", "poem", "poetry", "haiku", "sonnet", "limerick",
        "ballad", "villanelle", "lyrics", "song", "rap", "verse", "speech", "toast", "eulogy", "obituary", "vows",
        "cover letter", "resume", "résumé", "cv", "bio", "blog(?: post)?", "article", "caption", "captions",
        "tagline", "slogan", "headlines?", "subject line", "newsletter", "press release", "review", "message",
        "card", "monologue", "dialogue", "scene", "chapter", "novel", "fairy tale", "outline", "paragraph",
        "sentence", "intro", "introduction", "conclusion", "abstract", "copy", "announcement", "invitation",
        "apology", "reply", "text message", "wording", "tone", "grammar", "spelling", "typos?",
    ),
    "prose-edit": (
        "rewrite", "rephrase", "reword", "paraphrase", "proofread", "polish", "edit",
        "shorten", "condense", r"summari[sz]e", "summary", r"tl;?dr", "translate", "translation", "draft",
        "compose",
    ),
    "creative-form": (
        "roleplay", "role-play", "pretend you are", "fan ?fiction", "crossover", "sitcom", "sketch",
        "episode", "encounter", "quest", "campaign", "d&d", "dnd", "rpg", "tabletop", "riddles?", "jokes?",
        "lore", "characters?", "villain", "plot twists?", "greentext", "backstory", "fictional", "imagine",
        "ode", "playlist", "trailer", "lyrics",
    ),
    "subject-words": (
        "law", "legal", "illegal", "court", "crime", "felony", "rights", "constitution", "history", "war",
        "empire", "revolution", "century", "economy", "inflation", "recession", "central bank", "disease",
        "symptoms?", "cells?", "immune system", "evolution", "species", "physics", "force", "energy",
        "gravity", "chemical", "reactions?", "planets?", "philosophy", "religion", "symboli[sz]e", "themes?",
        "significance", "masterpiece", "painting", "painted", "symphony",
    ),
}

_ASK = _words("write", "create", "implement", "build", "generate", "make", "code", "draft", "compose", "give me",
              "show me", "need", "want", "turn", "convert")


# Route-agnostic features of a request: (name, strength, pattern). Which routes a cue speaks for
# is counted from the example requests that fire it (see _Model), never hard-wired.
CUES: tuple[tuple[str, float, re.Pattern[str]], ...] = (
    # Case-sensitive and shaped like code: a sentence that starts "Update the intro…" or "For my
    # essay…" is prose, while `UPDATE users SET` or `for x in xs:` is not.
    ("code-in-text", 2.0, _rx(r"```|^\s*(?:(?:def|class)\s+\w+\s*[(:]|import\s+[\w.]+(?:\s+as\s+\w+)?\s*$"
                              r"|from\s+[\w.]+\s+import\s|(?:function|const|let|var)\s+\w+\s*[=(]"
                              r"|(?:public|private|protected)\s+(?:static|void|class|final|int|String)\b|#include\b"
                              r"|(?:SELECT|INSERT|UPDATE|DELETE)\s|(?:for|while|if|elif|else)\b.*[:{]\s*$"
                              r"|return\b.*$)", re.M)),
    ("code-error", 2.0, _rx(r"\b[A-Z]\w*(?:Error|Exception)\b|Traceback \(most recent|\bE[A-Z]{4,}\b|segfault"
                            r"|segmentation fault|stack ?trace", 0)),
    ("code-syntax", 1.5, _rx(r"\w\(\)|\w+\([^()\n]*\)\s*[:{;]|=>|===|!==|\w+\.\w+\(|__\w+__|`[^`\n]+`"
                             r"|\b\w+\.(?:py|js|ts|tsx|jsx|java|cpp|go|rs|rb|php|sh|cs|kt|swift|ya?ml)\b")),
    ("code-deliverable", 2.0, _rx(_ASK + r"(?:\W+\w+){0,3}?\W+(?:script|function|program|class|method|query|sql|"
                                  r"regex|app|bot|component|endpoint|api|unit tests?|module|cli|macro|dockerfile|"
                                  r"config|hook|decorator|server|game|one-liner|schema|workflow|pipeline)s?\b")),
    ("programming-language", 1.0, _rx(_words(*TERMS["programming-language"]))),
    ("programming-words", 1.0, _rx(_words(*TERMS["programming-words"]))),
    ("data-source", 1.5, _rx(_words(*TERMS["data-source"]))),
    ("chart", 1.5, _rx(_words(*TERMS["chart"]))),
    ("statistics", 1.0, _rx(_words(*TERMS["statistics"]))),
    ("group-by", 1.0, _rx(r"\b(?:by|per|each) (?:month|week|day|hour|year|quarter|region|country|state|city|"
                          r"category|department|product|channel|customer|age group|device|store|team|gender)s?\b"
                          r"|\bbreak(?:\s*it)?\s*down\b|\bbreakdown\b|\bover time\b|\bover the (?:last|past)\b")),
    ("numbers", 1.0, _rx(r"\d[\d.,]*\s*(?:%|k\b)|[$€£]\s?\d|\d+(?:[.,:]\d+)?(?:\s*[,;]\s*\d+(?:[.,:]\d+)?){3,}"
                         r"|^[^\n,]+(?:,[^\n,]+)+\n[^\n,]+(?:,[^\n,]+)+$|^\s*\|.*\|\s*$", re.I | re.M)),
    ("prose-deliverable", 2.0, _rx(_ASK + r"(?:\W+\w+){0,3}?\W+(?:e-?mail|letter|essay|story|poem|haiku|sonnet|"
                                   r"limerick|lyrics|song|speech|toast|eulogy|cover letter|resume|cv|bio|blog post|"
                                   r"article|post|caption|tagline|slogan|headline|newsletter|press release|review|"
                                   r"message|note|card|monologue|dialogue|scene|chapter|novel|outline|paragraph|"
                                   r"intro|introduction|conclusion|announcement|invitation|apology|reply|ad)s?\b")),
    ("prose-form", 1.0, _rx(_words(*TERMS["prose-form"]))),
    ("prose-edit", 1.5, _rx(_words(*TERMS["prose-edit"]))),
    ("prose-style", 1.0, _rx(r"\bmake (?:this|it|my)\b.*\b(?:sound|polite|formal|friendly|professional|concise|"
                             r"warmer|punchier)\b|\b(?:in|into|to) (?:french|spanish|german|italian|japanese|chinese|"
                             r"english|portuguese|british english|plain english)\b")),
    ("creative-form", 1.5, _rx(_words(*TERMS["creative-form"]))),
    ("media-script", 2.0, _rx(r"\b(?:screenplay|teleplay|script (?:of|about|where|in which)\b|script for (?:an? |the |my |our )?"
                              r"(?:\w+[ -]){0,3}?(?:video|film|movie|episode|scene|play|skit|sketch|show|podcast|ad|"
                              r"advert|commercial|trailer|radio|comic|intro)s?\b)")),
    ("subject-words", 1.0, _rx(_words(*TERMS["subject-words"]))),
    ("social", 2.0, _rx(r"^\s*(?:hi|hello|hey|yo|good (?:morning|evening|night|afternoon)|thanks|thank you|thx|"
                        r"bye|cheers)\b(?!.*\b(?:write|code|plot|data|function)\b).{0,40}$")),
    # A question about something past ("what did we decide…", "who did I say…"): in an assistant
    # with memory, usually about earlier turns, answered from what was recalled.
    ("past-question", 2.0, _rx(r"^\s*(?:(?:what|which|who|when|where|how (?:many|much|long))\s+(?:\w+\s+){0,2}?"
                               r"(?:did\b|(?:was|were|had)\b(?=.*\b(?:i|we|you|my|our|me|us)\b))"
                               r"|do you remember\b|remind me\b|did (?:i|we|you)\b)")),
    ("everyday-question", 0.5, _rx(r"^\s*(?:who|when|where|why|is it|are there|can you recommend|should i|do you|"
                                   r"what's a good|what are some|any tips)\b")),
)


def cue_vector(text: str) -> list[float]:
    """The strength of each cue in CUES that the text fires (0.0 when it does not)."""
    return [strength if pattern.search(text) else 0.0 for _, strength, pattern in CUES]


def instruction(text: str, min_payload: int = 30) -> str:
    """The instruction part of "Instruction: <pasted payload>", else the whole text."""
    text = text.strip()
    match = re.search(r"[:\n]", text)
    if match and match.start() >= 8 and len(text) - match.end() >= min_payload:
        return text[: match.start()].strip()
    return text


# -- follow-ups -------------------------------------------------------------------------------

_LEAD = (r"^\W*(?:(?:ok(?:ay)?|great|thanks|perfect|cool|nice|good|hmm+)\W+)?"   # "ok, can you make it ..."
         r"(?:(?:can|could|would) you\W+|please\W+|pls\W+)?")
_CONTINUES = _rx(_LEAD + _words(   # opens by continuing or editing the last result
    "now", "also", "and", "then", "next", "but", "actually", "instead", "again", "same", "plus", "make", "try",
    "do", "redo", "add", "remove", "delete", "drop", "cut", "change", "use", "include", "keep", "shorten",
    "expand", "fix", "run", "rerun", "re-run", "explain", "translate", "split", "sort", "rename", "show",
    "what about", "how about", "why not", "more", "less"))
_REFERS_BACK = _rx(_words(         # points at the last result
    "it", "its", "it's", "that", "this", "these", "those", "them", "again", "instead", "as well", "shorter",
    "longer", "simpler", r"the (?:same|above|previous|last|draft|code|script|function|chart|plot|graph|table|"
    r"data|numbers|results?|output|email|essay|story|poem|text|intro|ending|list|one)"))


# What a follow-up points at names the task it continues: "update the intro with the numbers"
# after an analysis goes back to the writing that made the intro.
_OBJECTS = (
    ("writing", _rx(r"\b(?:the|that|this|my|our) (?:draft|email|essay|story|poem|intro|introduction|"
                    r"opening|conclusion|ending|paragraph|blog(?: post)?|post|letter|article|speech|bio|"
                    r"cover letter|summary|headline|tagline|caption)\b")),
    ("coding", _rx(r"\b(?:the|that|this|my|our) (?:code|script|function|program|snippet|class|method|"
                   r"tests?|regex|query)\b")),
    ("analysis", _rx(r"\b(?:the|that|this|my|our) (?:chart|plot|graph|histogram|table|data|dataset|csv|"
                     r"spreadsheet|analysis)\b")),
)


def referenced_route(text: str) -> str | None:
    """The built-in route whose kind of result `text` names first ("the intro" -> writing)."""
    found = [(match.start(), route) for route, rx in _OBJECTS if (match := rx.search(text))]
    return min(found)[1] if found else None


def is_follow_up(text: str) -> bool:
    """A short request that leans on what came before ("make it shorter", "what about March?")."""
    words = len(text.split())
    if "\n" in text.strip() or words > FOLLOW_UP_MAX_WORDS:
        return False
    return words <= 1 or bool(_CONTINUES.search(text)) or (words <= 6 and bool(_REFERS_BACK.search(text)))
