"""Tool results for people: each tool's output as a few styled lines, never a Python repr.

`render_result(name, result)` turns what a `ToolFinished` event carries into Rich `Text` lines
(so the transcript can fold long output by line): checks become ✓/✗ lines, rows of records become
an aligned table (numbers right-aligned), a diff is coloured, a sandbox run shows its output and
exit status. A plugin tool may bring its own view (`Tool.render`, see tools/base.py): whatever it
returns — a string or any Rich renderable — is shown instead. Everything else gets a tidy generic
view: a mapping as aligned `key  value` lines, a list as bullets. All text is `clean()`ed.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rich.text import Text

from assistant.tui.safe import clean, one_line

Renderer = Callable[[Any], Any]
CELL_WIDTH = 40
DIFF_STYLES = (("+++", "bold"), ("---", "bold"), ("@@", "cyan"), ("+", "green"), ("-", "red"))
_plugin_renderers: dict[str, Renderer] = {}


def use_renderers(renderers: Mapping[str, Renderer]) -> None:
    """The tools' own renderers (name → `Tool.render`), collected once the registry is loaded."""
    _plugin_renderers.clear()
    _plugin_renderers.update(renderers)


def render_result(name: str, result: Any) -> list[Text] | Any:
    """`result` of tool `name` as Text lines, or a plugin's own Rich renderable."""
    custom = _plugin_renderers.get(name)
    if custom is not None:
        shown = custom(result)
        return _lines(clean(shown)) if isinstance(shown, str) else shown
    return view(_plain(result))


def view(value: Any) -> list[Text]:
    """The built-in views, chosen by the shape of the data."""
    if value is None:
        return []
    if isinstance(value, str):
        return _lines(clean(value))
    if isinstance(value, Mapping):
        if "diff" in value:
            return diff_view(value)
        if "stdout" in value or "stderr" in value:
            return run_view(value)
        if set(value) == {"path"}:
            return [Text.assemble(("▣ ", "bold"), clean(value["path"]))]
        return key_values(value)
    if isinstance(value, Sequence):
        items = list(value)
        if items and all(isinstance(i, Mapping) and "ok" in i for i in items):
            return checks_view(items)
        if items and all(isinstance(i, Mapping) for i in items):
            return table_lines(items)
        return [Text.assemble(("• ", "dim"), one_line(item, 200)) for item in items]
    return _lines(clean(value))


def checks_view(checks: list[Mapping[str, Any]]) -> list[Text]:
    """[{check, ok, detail}] → `✓ not empty   225 words` lines, the names in one column."""
    width = max(len(one_line(c.get("check") or c.get("name") or "", 30)) for c in checks)
    lines = []
    for c in checks:
        ok = bool(c.get("ok"))
        label = one_line(c.get("check") or c.get("name") or "", 30)
        lines.append(Text.assemble(
            ("✓ " if ok else "✗ ", "bold green" if ok else "bold red"), label.ljust(width),
            ("   " + one_line(c.get("detail") or "", 120), "dim"),
        ))
    return lines


def diff_view(value: Mapping[str, Any]) -> list[Text]:
    """A text diff's summary line, then the unified diff coloured by line kind."""
    summary = {k: v for k, v in value.items() if k != "diff"}
    added, removed = summary.pop("lines_added", None), summary.pop("lines_removed", None)
    head = Text()
    if added is not None or removed is not None:
        head.append(f"+{added or 0}", "bold green").append(" ").append(f"-{removed or 0}", "bold red")
    for key, item in summary.items():
        head.append(f"  {_label(key)} ", "dim").append(one_line(item, 40))
    lines = [head] if head.plain else []
    for line in clean(value.get("diff") or "").splitlines():
        style = next((s for prefix, s in DIFF_STYLES if line.startswith(prefix)), "")
        lines.append(Text(line, style))
    return lines


def run_view(value: Mapping[str, Any]) -> list[Text]:
    """A sandbox run or a test run: its verdict, then stdout, then stderr (dimmed red)."""
    parts: list[tuple[str, str]] = []
    if value.get("summary"):
        parts.append((one_line(value["summary"], 100), "bold"))
    if "passed" in value or "failed" in value:
        parts.append((f"✓ {value.get('passed', 0)} passed", "green"))
        if value.get("failed"):
            parts.append((f"✗ {value['failed']} failed", "bold red"))
    if value.get("timed_out"):
        parts.append(("timed out", "bold red"))
    elif value.get("exit_code") not in (None, 0):
        parts.append((f"exit code {value['exit_code']}", "bold red"))
    lines = [Text("  ").join(Text(text, style) for text, style in parts)] if parts else []
    lines += _lines(clean(value.get("stdout") or "").rstrip("\n"))
    lines += [Text(line, "red") for line in clean(value.get("stderr") or "").rstrip("\n").splitlines()]
    return lines


def key_values(value: Mapping[str, Any]) -> list[Text]:
    """`key  value` lines: keys in one column, numbers right-aligned in theirs."""
    if not value:
        return [Text("(empty)", "dim")]
    keys = [_label(k) for k in value]
    width = max(len(k) for k in keys)
    cells = [_cell(v) for v in value.values()]
    num_width = max((len(c) for c, v in zip(cells, value.values()) if _is_number(v)), default=0)
    return [
        Text.assemble((k.ljust(width) + "  ", "dim"), c.rjust(num_width) if _is_number(v) else c)
        for k, c, v in zip(keys, cells, value.values())
    ]


def table_lines(rows: list[Mapping[str, Any]]) -> list[Text]:
    """Records as a table: a bold header, a rule, aligned columns (numbers right-aligned)."""
    columns: list[str] = []
    for row in rows:
        columns += [str(k) for k in row if str(k) not in columns]
    cells = [[_cell(row.get(c, "")) for c in columns] for row in rows]
    numeric = [all(_is_number(row.get(c)) for row in rows if row.get(c) not in (None, "")) for c in columns]
    widths = [max(len(_label(c)), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]

    def line(values: list[str], style: str = "") -> Text:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)]
        return Text("  ".join(parts).rstrip(), style)

    return [line([_label(c) for c in columns], "bold"), Text("  ".join("─" * w for w in widths), "dim"),
            *(line(r) for r in cells)]


# -- helpers -------------------------------------------------------------------------------------

def _plain(value: Any) -> Any:
    """Objects as data: dataclasses and objects with `to_dict` become mappings (a DataFrame rows)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict) and hasattr(value, "columns"):
        return to_dict("records")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value.is_integer():
            return f"{value:,.0f}"
        return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, Mapping):
        return one_line(", ".join(f"{_label(k)}={_cell(v)}" for k, v in value.items()), CELL_WIDTH)
    if isinstance(value, (list, tuple)):
        return one_line(", ".join(_cell(v) for v in value), CELL_WIDTH)
    return one_line("" if value is None else value, CELL_WIDTH)


def _label(key: Any) -> str:
    return one_line(key, 30).replace("_", " ")


def _lines(text: str) -> list[Text]:
    return [Text(line) for line in text.rstrip("\n").splitlines()]
