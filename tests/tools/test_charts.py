"""Charts are real PNGs drawn headless by matplotlib; table formats beyond CSV load when their
library is present."""

from __future__ import annotations

import pandas as pd
import pytest

from tools.charts import chart_path, plot_table, render_chart
from tools.tables import load_table

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def table():
    return pd.DataFrame({"region": ["North", "South", "East"], "revenue": [300.0, 200.0, 100.0],
                         "units": [30, 21, 9]})


@pytest.mark.parametrize("kind, x", [("bar", "region"), ("line", "region"), ("pie", "region"),
                                     ("scatter", "units"), ("hist", None), ("auto", "region")])
def test_each_kind_writes_a_png(tmp_path, table, kind, x):
    path = render_chart(table, kind=kind, x=x, y="revenue", title=f"{kind} chart", path=tmp_path / f"{kind}.png")
    data = path.read_bytes()
    assert data.startswith(PNG) and len(data) > 2000


def test_bad_requests_raise_clear_errors(tmp_path, table):
    with pytest.raises(ValueError, match="no column 'profit'"):
        render_chart(table, x="region", y="profit", title="t", path=tmp_path / "a.png")
    with pytest.raises(ValueError, match="unknown chart kind"):
        render_chart(table, kind="radar", x="region", y="revenue", title="t", path=tmp_path / "b.png")


def test_chart_paths_never_overwrite(tmp_path):
    first = chart_path(tmp_path, "Revenue by region!")
    first.write_bytes(b"x")
    assert first.name == "revenue-by-region.png"
    assert chart_path(tmp_path, "Revenue by region!").name == "revenue-by-region-2.png"


def test_the_plot_tool_reads_and_writes_inside_the_workspace(tmp_path, table):
    table.to_csv(tmp_path / "t.csv", index=False)
    result = plot_table.bind(workspace=tmp_path).invoke({"path": "t.csv", "x": "region", "y": "revenue"})
    assert result.ok and result.output["path"].startswith(str(tmp_path / "charts"))
    assert open(result.output["path"], "rb").read(8) == PNG
    outside = plot_table.bind(workspace=tmp_path).invoke({"path": "/etc/passwd", "y": "x"})
    assert not outside.ok and outside.error.startswith("WorkspaceError")


def test_excel_and_parquet_load_when_their_library_is_present(tmp_path, table):
    pytest.importorskip("openpyxl")
    table.to_excel(tmp_path / "t.xlsx", index=False)
    assert load_table(tmp_path / "t.xlsx")["revenue"].tolist() == [300.0, 200.0, 100.0]


def test_parquet_loads_when_pyarrow_is_present(tmp_path, table):
    pytest.importorskip("pyarrow")
    table.to_parquet(tmp_path / "t.parquet")
    assert load_table(tmp_path / "t.parquet")["units"].tolist() == [30, 21, 9]
