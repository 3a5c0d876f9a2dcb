"""Questions → plans by rules, plans → exact pandas answers, and honest "cannot tell"."""

from __future__ import annotations

import pandas as pd
import pytest

from tools.analysis_ops import Condition, Plan, execute, fmt, prepare_frame, table_op
from tools.questions import CannotTell, analyze_table, chart_kind, plan_question


@pytest.fixture
def sales():
    rows = []
    for month in range(1, 7):
        for region, base in (("North", 100), ("South", 50)):
            for product, share in (("Widget", 1.0), ("Gadget", 0.5)):
                rows.append({"date": f"2024-{month:02d}-01", "region": region, "product": product,
                             "units": int(base * share) + month, "revenue": (base * share + month) * 10})
    return pd.DataFrame(rows)


@pytest.fixture
def people():
    return pd.DataFrame({"name": ["Ana", "Bo", "Cy", "Di", "Ed"], "dept": ["Eng", "Eng", "Ops", "Ops", "Ops"],
                         "age": [30, 41, 35, 28, 50], "salary": [100, 120, 80, 70, 90],
                         "email": ["a@x", None, "c@x", None, "e@x"]})


def test_dates_are_parsed_and_found(sales):
    frame, time_col = prepare_frame(sales)
    assert time_col == "date" and str(frame["date"].dtype).startswith("datetime64")
    assert prepare_frame(pd.DataFrame({"code": ["1", "2"], "x": [1, 2]}))[1] is None


def test_group_by_aggregate_is_exact(sales):
    plan = plan_question(sales, "Total revenue by region")
    assert plan == Plan("group", column="revenue", agg="sum", by="region", time="date")
    finding = execute(sales, plan, "sales")
    north = sales[sales.region == "North"].revenue.sum()
    assert finding.values["North"] == north
    assert finding.text.startswith(f"Total revenue by region: North {fmt(north)} (")
    assert list(finding.table.columns) == ["region", "revenue"]


def test_which_label_is_highest_groups_before_ranking(people):
    plan = plan_question(people, "Which dept has the lowest average salary?")
    assert (plan.op, plan.by, plan.agg, plan.ascending, plan.n) == ("top", "dept", "mean", True, 1)
    assert execute(people, plan).text == "Ops had the lowest average salary: 80. Next: Eng (110)."


def test_one_row_per_label_is_left_to_the_plain_answer(people):
    assert plan_question(people, "Which name has the highest salary?") is None


def test_top_n_with_a_quarter_filter(sales):
    plan = plan_question(sales, "top 2 products by units in Q2")
    assert plan.op == "top" and plan.n == 2 and plan.conditions == (Condition("date", "quarter", 2),)
    finding = execute(sales, plan)
    q2 = sales[sales.date.isin(["2024-04-01", "2024-05-01", "2024-06-01"])].groupby("product").units.sum()
    assert finding.values == {"Widget": q2["Widget"], "Gadget": q2["Gadget"]}
    assert " in Q2" in finding.text


def test_filters_by_value_and_by_comparison(sales, people):
    plan = plan_question(sales, "average revenue for Gadget in the North")
    assert set(plan.conditions) == {Condition("region", "in", ("North",)), Condition("product", "in", ("Gadget",))}
    expected = sales[(sales.region == "North") & (sales["product"] == "Gadget")].revenue.mean()
    assert execute(sales, plan).values["mean_revenue"] == pytest.approx(expected)
    count = plan_question(people, "How many people have a salary over 85?")
    assert count.op == "count" and execute(people, count).values == {"count": 3}


def test_correlation_resample_and_growth(sales):
    corr = execute(sales, plan_question(sales, "Is there a correlation between units and revenue?"))
    assert corr.values["r"] == pytest.approx(sales.units.corr(sales.revenue))
    monthly = plan_question(sales, "monthly revenue")
    assert (monthly.op, monthly.freq) == ("resample", "M")
    totals = sales.groupby("date").revenue.sum()
    assert execute(sales, monthly).values["Jan 2024"] == totals.iloc[0]
    growth = execute(sales, plan_question(sales, "What was the month-over-month growth in revenue?"))
    feb = (totals.iloc[1] / totals.iloc[0] - 1) * 100
    assert growth.values["growth Feb 2024"] == pytest.approx(feb)
    assert f"Feb 2024 {feb:+.1f}%" in growth.text
    assert "Q2 2024 was" in growth.text  # the quarter-on-quarter line


def test_missing_values_and_sorting(people):
    assert execute(people, plan_question(people, "How many rows have a missing email?")).text == (
        "2 of 5 rows of the table have a missing email.")
    ordered = execute(people, plan_question(people, "sort by age ascending"))
    assert ordered.table.age.tolist() == [28, 30, 35, 41, 50]


@pytest.mark.parametrize("question, reason", [
    ("What was the average profit per region?", "no column for 'profit'"),
    ("What was revenue in 2019?", "the data covers 2024, not 2019"),
    ("What were total units in Q4?", "no rows in Q4"),
    ("Why did revenue rise in March?", "not why"),
])
def test_questions_the_data_cannot_answer_say_so(sales, question, reason):
    plan = plan_question(sales, question)
    assert isinstance(plan, CannotTell) and reason in plan.reason
    assert plan.text.startswith("I cannot tell from this data:")


def test_pasted_rows_are_not_read_as_filters():
    df = pd.DataFrame({"name": ["Ana", "Bo"], "age": [30, 41]})
    assert plan_question(df, "What is the average age?\nname,age\nAna,30\nBo,41") is None


def test_chart_kinds_are_read_from_the_question():
    assert chart_kind("show a bar chart of revenue by region") == "bar"
    assert chart_kind("plot revenue over time") == "line"
    assert chart_kind("histogram of ages") == "hist"
    assert chart_kind("scatter plot of height vs weight") == "scatter"
    assert chart_kind("what is the average age?") is None


def test_the_tools_work_on_files_inside_the_workspace_only(tmp_path, sales):
    sales.to_csv(tmp_path / "sales.csv", index=False)
    answer = analyze_table.bind(workspace=tmp_path).invoke({"path": "sales.csv", "question": "total units by product"})
    assert answer.ok and answer.output.startswith("Total units by product: Widget")
    op = table_op.bind(workspace=tmp_path).invoke({"path": "sales.csv", "op": "top", "column": "revenue",
                                                   "by": "region", "n": 1})
    assert op.ok and op.output.startswith("North had the highest total revenue")
    (tmp_path / "sub").mkdir()
    escape = analyze_table.bind(workspace=tmp_path / "sub").invoke({"path": "../sales.csv", "question": "x"})
    assert not escape.ok and escape.error.startswith("WorkspaceError")
    bad = table_op.bind(workspace=tmp_path).invoke({"path": "sales.csv", "op": "group", "column": "nope"})
    assert not bad.ok and "no column 'nope'" in bad.error
