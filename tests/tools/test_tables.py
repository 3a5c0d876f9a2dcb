import json

import pandas as pd
import pytest

from tools.tables import (
    TableError, answer_simple_question, inline_csv, load_table, mentioned_paths, profile_table,
)


@pytest.fixture
def sales():
    return pd.DataFrame({"month": ["Jan", "Feb", "Mar"], "revenue": [100, 120, 150], "unit_price": [1.5, 2.0, None]})


def test_mentioned_paths():
    assert mentioned_paths('plot sales.csv and data/x.jsonl, then "q3.xlsx" and sales.csv') == [
        "sales.csv", "data/x.jsonl", "q3.xlsx"]
    assert mentioned_paths("no files here, just csv talk") == []


def test_inline_csv_finds_the_pasted_block():
    df = inline_csv("What is the average age?\nname,age\nAna,30\nBo,40\nthanks!")
    assert list(df.columns) == ["name", "age"] and df["age"].tolist() == [30, 40]
    assert inline_csv("Hello, world. Nice, day.") is None


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".json", ".jsonl"])
def test_load_table_formats(tmp_path, sales, suffix):
    path = tmp_path / f"t{suffix}"
    if suffix == ".csv":
        sales.to_csv(path, index=False)
    elif suffix == ".tsv":
        sales.to_csv(path, index=False, sep="\t")
    elif suffix == ".json":
        path.write_text(sales.to_json(orient="records"))
    else:
        path.write_text("\n".join(json.dumps(r) for r in sales.to_dict(orient="records")))
    assert load_table(path)["revenue"].tolist() == [100, 120, 150]


def test_load_table_errors(tmp_path):
    with pytest.raises(TableError, match="no table file"):
        load_table(tmp_path / "missing.csv")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(TableError, match="cannot parse bad.json"):
        load_table(bad)


def test_profile_is_exact(sales):
    text = profile_table(sales, "sales.csv").text
    assert text.splitlines()[0] == "Table sales.csv: 3 rows × 3 columns."
    assert "- revenue (numeric): mean 123.3, median 120, min 100, max 150, sum 370" in text
    assert "- unit_price (numeric, 1 missing): mean 1.75" in text
    assert "- month (text, 3 distinct)" in text


def test_simple_questions_are_answered_exactly(sales):
    assert answer_simple_question(sales, "What is the average revenue?", "sales.csv") == (
        "The average revenue in sales.csv is 123.3, over 3 values.")
    assert answer_simple_question(sales, "Which month had the highest revenue?") == (
        "The maximum revenue in the table is 150 (month: Mar), over 3 values.")
    both = answer_simple_question(sales, "total revenue and mean unit price").splitlines()
    assert sorted(both) == sorted(["The average unit_price in the table is 1.75, over 2 values.",
                                   "The total revenue in the table is 370, over 3 values."])
    assert answer_simple_question(sales, "how many rows are there?") == "the table has 3 rows."
    assert answer_simple_question(sales, "What is the trend over time?") is None
    assert answer_simple_question(sales, "What is the average profit?") is None
