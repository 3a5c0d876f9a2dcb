"""Deterministic repairs for generated Python: the mistakes small models make every day.

Each fix is a pure function `code -> code` that changes nothing when it does not apply, so they can
run before the first execution (static fixes) and after a failure (fixes keyed on the error):

- `strip_prompts`: REPL prompts (`>>> `, `... `) pasted into code;
- `trim_incomplete`: an answer cut off mid-statement (the token limit) or a stray prose line inside
  the block — lines are dropped from the end, or the offending prose line removed, until it parses;
- `add_missing_imports`: names used but never defined that a well-known module provides
  (`math`, `Counter`, `reduce`, `List`, …) get their import;
- `alias_functions`: tests call `is_palindrome` but the code defines `palindrome`: an alias is added
  when there is exactly one candidate;
- `keep_definitions`: top-level demo code (calls, prints, loops) that crashes while the module loads
  is dropped when tests exist, keeping imports, definitions and assignments.
"""

from __future__ import annotations

import ast
import builtins
import re

__all__ = ["add_missing_imports", "alias_functions", "keep_definitions", "static_fixes", "strip_prompts",
           "trim_incomplete"]

_MODULES = {"math", "re", "os", "sys", "json", "random", "itertools", "functools", "collections", "string",
            "statistics", "datetime", "time", "heapq", "bisect", "operator", "typing", "fractions", "decimal",
            "copy", "textwrap", "csv", "io", "pathlib", "dataclasses", "enum", "hashlib", "calendar",
            "unicodedata", "numbers", "array", "struct", "uuid"}
_FROM = {
    "collections": ["Counter", "defaultdict", "deque", "OrderedDict", "namedtuple", "ChainMap"],
    "functools": ["reduce", "lru_cache", "cache", "partial", "wraps", "cmp_to_key", "total_ordering"],
    "typing": ["List", "Dict", "Optional", "Tuple", "Set", "Any", "Iterable", "Iterator", "Callable",
               "Union", "Sequence", "Mapping", "Generator", "FrozenSet"],
    "math": ["sqrt", "floor", "ceil", "pi", "gcd", "inf", "isclose", "log", "log2", "log10", "prod",
             "factorial", "comb", "perm", "isqrt", "hypot", "exp", "e"],
    "datetime": ["date", "timedelta", "timezone"],
    "itertools": ["permutations", "combinations", "product", "chain", "accumulate", "groupby",
                  "zip_longest", "islice", "count", "cycle", "repeat", "pairwise"],
    "dataclasses": ["dataclass", "field", "asdict"],
    "statistics": ["mean", "median", "mode", "stdev", "pstdev", "variance"],
    "fractions": ["Fraction"],
    "decimal": ["Decimal"],
    "pathlib": ["Path"],
    "enum": ["Enum"],
    "heapq": ["heappush", "heappop", "heapify", "nlargest", "nsmallest"],
    "bisect": ["bisect_left", "bisect_right", "insort"],
}
_NAME_TO_IMPORT = {name: f"from {module} import {name}" for module, names in _FROM.items() for name in names}
_NAME_TO_IMPORT.update({module: f"import {module}" for module in _MODULES})
_BUILTINS = set(dir(builtins))
_KEEP = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign,
         ast.AnnAssign)


def parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def strip_prompts(code: str) -> str:
    """Remove `>>> ` / `... ` prompts (and the output lines between prompted lines) from REPL-style code.

    Code that parses is left alone: its prompts are doctest examples in a docstring, not a REPL."""
    lines = code.splitlines()
    if not any(line.lstrip().startswith(">>>") for line in lines) or parses(code):
        return code
    kept = [re.sub(r"^(\s*)(?:>>>|\.\.\.) ?", r"\1", line) for line in lines
            if re.match(r"\s*(?:>>>|\.\.\.)", line)]
    return "\n".join(kept)


def trim_incomplete(code: str, max_steps: int = 40) -> str:
    """Make cut-off or prose-polluted code parse by dropping the offending or trailing lines."""
    if parses(code):
        return code
    lines = code.splitlines()
    for _ in range(max_steps):
        source = "\n".join(lines)
        try:
            ast.parse(source)
            return source
        except SyntaxError as exc:
            bad = (exc.lineno or len(lines)) - 1
            if 0 <= bad < len(lines) and _looks_like_prose(lines[bad]):
                del lines[bad]
            elif lines:
                lines.pop()
            if not lines:
                return code
    return code


def _looks_like_prose(line: str) -> bool:
    text = line.strip()
    words = re.findall(r"[A-Za-z]+", text)
    return len(words) >= 4 and not re.search(r"[=():\[\]{}]|^\s*(?:def|class|return|if|for|while|import)\b", text)


def add_missing_imports(code: str) -> str:
    """Add the import for each known name the code uses but never defines or imports."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    defined: set[str] = set()
    used: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            defined.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            used.append(node.id)
        elif isinstance(node, ast.Name):
            defined.add(node.id)
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            defined.add(node.name)
    missing = [n for n in dict.fromkeys(used) if n not in defined and n not in _BUILTINS and n in _NAME_TO_IMPORT]
    if not missing:
        return code
    imports = "\n".join(_NAME_TO_IMPORT[n] for n in missing)
    return imports + "\n" + code


def top_level_functions(code: str) -> list[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]


def alias_functions(code: str, wanted: tuple[str, ...] | list[str]) -> str:
    """If tests call a function the code does not define, and exactly one top-level function of the
    code is not called by the tests, make the wanted name an alias of it."""
    defined = top_level_functions(code)
    if not defined:
        return code
    missing = [name for name in wanted if name not in defined and not re.search(rf"^\s*{re.escape(name)}\s*=", code, re.M)]
    spare = [name for name in defined if name not in wanted and not name.startswith("_")]
    if len(missing) != 1 or len(spare) != 1:
        return code
    return f"{code.rstrip()}\n\n{missing[0]} = {spare[0]}  # the tests call {missing[0]}()\n"


def keep_definitions(code: str) -> str:
    """Only imports, definitions, assignments and `if __name__ == "__main__":` blocks, in order."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    lines = code.splitlines()
    kept: list[str] = []
    changed = False
    for node in tree.body:
        main_guard = isinstance(node, ast.If) and "__name__" in ast.unparse(node.test)
        if isinstance(node, _KEEP) or main_guard:
            start = min([d.lineno for d in getattr(node, "decorator_list", [])] + [node.lineno]) - 1
            kept.append("\n".join(lines[start:node.end_lineno]))
        else:
            changed = True
    return "\n".join(kept) + "\n" if changed and kept else code


def static_fixes(code: str, wanted: tuple[str, ...] | list[str] = ()) -> tuple[str, list[str]]:
    """All fixes that need no run, in a safe order; returns (code, what was done)."""
    notes = []
    steps = [(strip_prompts, "removed REPL prompts"), (trim_incomplete, "dropped an unfinished or prose line"),
             (add_missing_imports, "added missing imports"),
             (lambda c: alias_functions(c, wanted), "aliased the function the tests call")]
    for fix, note in steps:
        fixed = fix(code)
        if fixed != code:
            code = fixed
            notes.append(note)
    return code, notes
