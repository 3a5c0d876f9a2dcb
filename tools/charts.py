"""Charts to PNG with matplotlib, headless (the Agg backend; no display needed).

    path = render_chart(table, kind="bar", x="region", y="revenue", title="Revenue by region",
                        path=workspace / "charts" / "revenue-by-region.png")

`kind` is "bar", "line", "scatter", "hist", "pie" or "auto" (line over time or periods, bar for
labels, scatter for two numbers, histogram for one). matplotlib is imported on first use; a chart
is drawn on its own Figure (never pyplot's global state), so charts can be made from any thread.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tools.base import tool

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CHART_KINDS", "chart_path", "plot_table", "render_chart"]

CHART_KINDS = ("auto", "bar", "line", "scatter", "hist", "pie")
MAX_BARS = 40


def chart_path(directory: Path, title: str) -> Path:
    """A new file name under `directory` from the title: 'revenue-by-region.png', '-2' if taken."""
    stem = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:50] or "chart"
    directory.mkdir(parents=True, exist_ok=True)
    path, n = directory / f"{stem}.png", 1
    while path.exists():
        n += 1
        path = directory / f"{stem}-{n}.png"
    return path


def _auto(table: "pd.DataFrame", x: str | None, y: str | None) -> str:
    import pandas as pd

    if x is None:
        return "hist"
    if pd.api.types.is_numeric_dtype(table[x]) and y is not None and x != y:
        return "scatter"
    if pd.api.types.is_datetime64_any_dtype(table[x]) or x == "period":
        return "line"
    return "bar"


def render_chart(table: "pd.DataFrame", *, kind: str = "auto", x: str | None, y: str | None, title: str,
                 path: str | Path) -> Path:
    """Draw `table` (x against y, or y's distribution) and write it as a PNG; returns the path."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    if kind not in CHART_KINDS:
        raise ValueError(f"unknown chart kind {kind!r}; use one of {', '.join(CHART_KINDS)}")
    if y is None or y not in table.columns:
        raise ValueError(f"no column {y!r} to plot; columns: {', '.join(map(str, table.columns))}")
    kind = _auto(table, x, y) if kind == "auto" else kind
    data = table.dropna(subset=[c for c in (x, y) if c])
    if data.empty:
        raise ValueError("nothing to plot: every row is missing a value")
    figure = Figure(figsize=(7, 4), dpi=100)
    axes = figure.add_subplot()
    if kind == "hist":
        axes.hist(data[y], bins=min(20, max(5, len(data) // 3)), color="#4c72b0", edgecolor="white")
        axes.set_xlabel(y)
        axes.set_ylabel("count")
    elif kind == "scatter":
        axes.scatter(data[x], data[y], color="#4c72b0")
        axes.set_xlabel(x)
        axes.set_ylabel(y)
    elif kind == "pie":
        top = data.head(12)
        axes.pie(top[y], labels=top[x].astype(str), autopct="%1.0f%%")
        axes.axis("equal")
    elif kind == "line":
        axes.plot(data[x].astype(str) if x == "period" else data[x], data[y], marker="o", color="#4c72b0")
        axes.set_xlabel(x)
        axes.set_ylabel(y)
    else:
        bars = data.head(MAX_BARS)
        labels = bars[x].astype(str) if x else bars.index.astype(str)
        axes.bar(labels, bars[y], color="#4c72b0")
        axes.set_xlabel(x or "")
        axes.set_ylabel(y)
    if kind in ("line", "bar"):
        for label in axes.get_xticklabels():
            label.set_rotation(45)
            label.set_horizontalalignment("right")
    axes.set_title(title)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path


@tool(name="plot_table", injected=("workspace",))
def plot_table(path: str, y: str, workspace: str | Path, x: str = "", kind: str = "auto",
               title: str = "") -> dict[str, Any]:
    """Draw a chart of a table file in the workspace to a PNG under charts/; returns the image path.

    Args:
        path: the table file (CSV, TSV, JSON, JSON Lines, Excel, Parquet), relative to the workspace.
        y: the column to plot (the values).
        x: the column for the x axis or labels; empty for a histogram of y.
        kind: auto, bar, line, scatter, hist or pie.
        title: the chart's title.
    """
    from tools.files import resolve_in_workspace
    from tools.tables import load_table

    source = resolve_in_workspace(path, workspace)
    table = load_table(source)
    title = title or (f"{y} by {x}" if x else f"Distribution of {y}")
    out = chart_path(Path(workspace) / "charts", title)
    render_chart(table, kind=kind, x=x or None, y=y, title=title, path=out)
    return {"path": str(out), "kind": kind, "rows": len(table)}
