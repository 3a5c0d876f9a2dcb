"""The analysis chain through the agent: fake chat model, real pandas, real matplotlib, real sandbox."""

from __future__ import annotations

import pandas as pd
import pytest

from assistant import Assistant
from assistant.chains.steps import is_small_model
from assistant.events import ApprovalNeeded, ArtifactSaved, ToolStarted

from .fakes import RecordingFakeChat

SALES = pd.DataFrame({
    "date": [f"2024-{m:02d}-01" for m in range(1, 7) for _ in range(2)],
    "region": ["North", "South"] * 6,
    "orders": [10, 5, 11, 6, 12, 6, 14, 7, 15, 8, 16, 8],
    "revenue": [100.0, 50.0, 110.0, 60.0, 120.0, 60.0, 140.0, 70.0, 150.0, 80.0, 160.0, 80.0],
})
MONTHLY = SALES.groupby("date").revenue.sum()  # 150, 170, 180, 210, 230, 240


def make_bot(tmp_path, responses, **options):
    fake = RecordingFakeChat(responses=responses)
    bot = Assistant(data_dir=tmp_path / "data", chat_model=fake, **options)
    SALES.to_csv(bot.sessions.workspace("a") / "sales.csv", index=False)
    return bot, fake


def turn(bot, text, **kwargs):
    events = list(bot.stream(text, session="a", **kwargs))
    return events, [e.artifact for e in events if isinstance(e, ArtifactSaved)], events[-1]


def test_group_by_answers_come_from_pandas_without_a_model_call(tmp_path):
    bot, fake = make_bot(tmp_path, ["North is big."])
    events, artifacts, finished = turn(bot, "/analyze What is the total revenue by region in sales.csv?")
    assert finished.text.startswith("Total revenue by region: North 780 (66%); South 400 (34%).")
    assert "Table sales.csv: 12 rows × 4 columns." in finished.text
    assert fake.prompts == []
    assert [a.kind for a in artifacts] == ["analysis"]
    started = [e for e in events if isinstance(e, ToolStarted)]
    assert started[0].name == "analyze_table" and started[0].arguments["op"] == "group"


def test_a_chart_is_a_png_artifact_with_its_path(tmp_path):
    bot, _ = make_bot(tmp_path, ["unused"])
    reply = bot.ask("/analyze Show a bar chart of revenue by region in sales.csv", session="a")
    charts = [a for a in reply.artifacts if a.kind == "chart"]
    assert len(charts) == 1
    chart = charts[0]
    assert chart.path.endswith(".png") and chart.path.startswith(str(bot.sessions.workspace("a") / "charts"))
    assert open(chart.path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert {"id": chart.id, "kind": "chart", "title": chart.title, "path": chart.path} in reply.to_json()["artifacts"]
    assert f"Chart saved: {chart.path}" in reply.text


def test_what_the_data_cannot_answer_gets_an_honest_answer_and_no_model_call(tmp_path):
    bot, fake = make_bot(tmp_path, ["The average profit is 42."])
    reply = bot.ask("/analyze What was the average profit per region in sales.csv?", session="a")
    assert reply.text.startswith("I cannot tell from this data: the table has no column for 'profit'")
    assert "42" not in reply.text and fake.prompts == []


def test_growth_has_month_and_quarter_figures(tmp_path):
    bot, _ = make_bot(tmp_path, ["unused"])
    reply = bot.ask("/analyze What was the month-over-month growth of revenue in sales.csv?", session="a")
    feb = (MONTHLY.iloc[1] / MONTHLY.iloc[0] - 1) * 100
    q2_on_q1 = (MONTHLY.iloc[3:].sum() / MONTHLY.iloc[:3].sum() - 1) * 100
    assert f"Feb 2024 {feb:+.1f}%" in reply.text
    assert f"Q2 2024 was {q2_on_q1:+.1f}% on Q1 2024" in reply.text


GROWTH_CODE = ("```python\ndef growth(values):\n    return [(b - a) / a for a, b in zip(values, values[1:])]\n```\n"
               "Computes growth.")


def test_the_threads_function_is_run_on_the_data_and_checked(tmp_path):
    bot, fake = make_bot(tmp_path, [GROWTH_CODE], auto_run=True)
    bot.ask("/code Write a function growth(values) for month-over-month growth", session="a")
    events, artifacts, finished = turn(bot, "/analyze Use that function on sales.csv for the revenue growth")
    applied = [e for e in events if isinstance(e, ToolStarted) and e.name == "run_python"]
    assert len(applied) == 1 and applied[0].arguments["purpose"] == "apply growth to the 6 monthly values of revenue"
    assert "Your function growth() from growth.py, run on the 6 monthly values of revenue, returned: [0.1333" in finished.text
    assert "It agrees with the growth pandas computes." in finished.text
    assert len(fake.prompts) == 1  # only the coding turn asked the model


def test_a_wrong_thread_function_is_called_out(tmp_path):
    wrong = "```python\ndef growth(values):\n    return [b - a for a, b in zip(values, values[1:])]\n```"
    bot, _ = make_bot(tmp_path, [wrong], auto_run=True)
    bot.ask("/code Write a function growth(values) for month-over-month growth", session="a")
    reply = bot.ask("/analyze Apply growth to sales.csv revenue", session="a")
    assert "returned: [20.0, 10.0, 30.0, 20.0, 10.0]" in reply.text
    assert "does not agree with the growth pandas computes" in reply.text


def test_the_threads_function_runs_only_after_approval(tmp_path):
    bot, _ = make_bot(tmp_path, [GROWTH_CODE])
    bot.ask("/code Write a function growth(values) for month-over-month growth", session="a")
    asked = []
    events, _, finished = turn(bot, "/analyze Use that function on sales.csv", approve=lambda c: asked.append(c) or False)
    assert any(isinstance(e, ApprovalNeeded) for e in events) and "def growth(values)" in asked[0]
    assert not any(isinstance(e, ToolStarted) and e.name == "run_python" for e in events)
    assert "was not run on the 6 monthly values of revenue: you declined" in finished.text


PANDAS_CODE = ("```python\nimport pandas as pd\ndf = pd.read_csv('sales.csv')\n"
               "print('share North:', round(100 * (df.region == 'North').mean(), 1))\n```")


def test_a_capable_model_writes_pandas_code_that_runs_in_the_sandbox(tmp_path):
    bot, fake = make_bot(tmp_path, [PANDAS_CODE], auto_run=True)
    reply = bot.ask("/analyze What percentage of rows in sales.csv are from North?", session="a")
    assert "Computed with generated pandas code (run in the sandbox):\n```text\nshare North: 50.0\n```" in reply.text
    assert "'sales.csv'" in fake.prompts[0][-1].content  # the model is told where the table is


def test_the_small_bundled_model_only_reads_the_profile(tmp_path, monkeypatch):
    monkeypatch.setattr("assistant.chains.analysis.is_small_model", lambda model: True)
    bot, fake = make_bot(tmp_path, ["North sells most."], auto_run=True)
    reply = bot.ask("/analyze What percentage of rows in sales.csv are from North?", session="a")
    assert reply.text.endswith("North sells most.") and "Table sales.csv" in reply.text
    assert "mean 98.33" in fake.last_system  # the profile is in the prompt as data


def test_is_small_model_knows_the_bundled_model():
    from assistant.models import build_chat_model

    assert is_small_model(build_chat_model("bundled"))
    assert not is_small_model(RecordingFakeChat(responses=["x"]))


def test_without_a_named_file_the_workspace_table_is_used(tmp_path):
    bot, _ = make_bot(tmp_path, ["unused"])
    reply = bot.ask("/analyze total orders by region", session="a")
    assert reply.text.startswith("Total orders by region: North 78")


def test_inline_numbers_are_a_table_too(tmp_path):
    bot, fake = make_bot(tmp_path, ["unused"])
    reply = bot.ask("/analyze Calculate the median of these numbers: 4, 8, 15, 16, 23, 42", session="b")
    assert reply.text.startswith("The median value in the numbers given is 15.5")
    assert fake.prompts == []


@pytest.mark.parametrize("suffix", [".tsv", ".jsonl", ".xlsx"])
def test_other_table_formats_load_from_the_workspace(tmp_path, suffix):
    if suffix == ".xlsx":
        pytest.importorskip("openpyxl")
    bot, _ = make_bot(tmp_path, ["unused"])
    path = bot.sessions.workspace("a") / f"data{suffix}"
    {".tsv": lambda: SALES.to_csv(path, sep="\t", index=False),
     ".jsonl": lambda: SALES.to_json(path, orient="records", lines=True),
     ".xlsx": lambda: SALES.to_excel(path, index=False)}[suffix]()
    reply = bot.ask(f"/analyze total revenue by region in data{suffix}", session="a")
    assert reply.text.startswith("Total revenue by region: North 780")


def test_a_tool_that_raises_is_an_error_result_and_the_turn_goes_on(tmp_path, monkeypatch):
    from assistant.events import Finished, ToolFinished

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("tools.charts.render_chart", broken)
    bot, _ = make_bot(tmp_path, ["unused"])
    events, artifacts, finished = turn(bot, "/analyze bar chart of revenue by region in sales.csv")
    failed = [e for e in events if isinstance(e, ToolFinished) and e.name == "plot_table"]
    assert failed and failed[0].error == "OSError: disk full" and failed[0].result is None
    assert isinstance(finished, Finished) and finished.text.startswith("Total revenue by region")
    assert [a.kind for a in artifacts] == ["analysis"]  # no chart, no crash


def test_a_multi_step_question_is_planned_by_rules_and_answered_in_the_format_asked(tmp_path):
    bot, fake = make_bot(tmp_path, ["The mean is 42."])
    request = ('/analyze In sales.csv, create a new column called "margin" as the difference between revenue and '
               "orders. Use only the North rows. What are the mean and the standard deviation of margin? "
               "@mean_margin[mean] @std_margin[std] rounded to three decimal places.")
    events, artifacts, finished = turn(bot, request)
    north = SALES[SALES.region == "North"]
    margin = north.revenue - north.orders
    assert f"@mean_margin[{round(margin.mean(), 3)}]" in finished.text
    assert f"@std_margin[{round(margin.std(), 3)}]" in finished.text
    assert "margin = revenue - orders" in finished.text and "42" not in finished.text
    assert fake.prompts == []  # the numbers come from pandas; the model was not asked to compute
    started = [e for e in events if isinstance(e, ToolStarted)]
    assert started[0].name == "analyze_steps"
    assert started[0].arguments["values"] == ["mean(margin)", "std(margin)"]
    assert [a.kind for a in artifacts] == ["analysis"]


def test_a_value_per_group_through_the_agent_and_a_unit_conversion_declined(tmp_path):
    bot, fake = make_bot(tmp_path, ["The mean is 42."])
    events, _, finished = turn(bot, "/analyze sales.csv: Calculate the average revenue for each region. "
                                    "Answer format: @North[mean] @South[mean] rounded to one decimal place.")
    means = SALES.groupby("region").revenue.mean()
    assert f"@North[{round(means['North'], 1)}]" in finished.text and f"@South[{round(means['South'], 1)}]" in finished.text
    _, _, finished = turn(bot, "/analyze sales.csv: What is the mean revenue in thousands? Answer format: @mean_k[value]")
    assert finished.text.startswith("The question asks for a unit conversion (to thousands)")  # then the profile
    assert "@mean_k[" not in finished.text and "42" not in finished.text
    assert fake.prompts == []
