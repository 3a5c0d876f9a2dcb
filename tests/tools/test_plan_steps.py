"""Multi-step analysis plans: parsed from a request by rules, run with pandas/scipy on real frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tools.analysis_plan import answer_slots, decimals_in, format_value
from tools.column_match import columns_in
from tools.plan_steps import plan_steps
from tools.run_steps import StepError, run_steps
from tools.stat_tests import split_indices

PRICES = pd.DataFrame({
    "Date": [f"2024-01-{d:02d}" for d in range(1, 9)],
    "High Price": [10.0, 12.0, 11.5, 13.0, 12.5, 14.0, 13.5, 40.0],
    "Low Price": [9.0, 10.5, 10.0, 11.0, 11.5, 12.0, 12.5, 13.0],
    "Close": [9.5, 11.0, 11.0, 12.0, 12.0, 13.0, 13.0, 14.0],
    "Volume": [100, 150, np.nan, 120, 130, np.nan, 160, 170],
})
PEOPLE = pd.DataFrame({
    "PassengerId": range(1, 13),
    "Survived": [1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 1, 0],
    "Pclass": [1, 3, 1, 3, 3, 1, 2, 3, 1, 3, 2, 3],
    "Sex": ["female", "male", "female", "female", "male", "male", "male", "male", "female", "male", "male", "female"],
    "Age": [38.0, 22.0, 35.0, np.nan, 54.0, 2.0, 27.0, 14.0, 4.0, np.nan, 58.0, 20.0],
    "SibSp": [1, 1, 0, 1, 0, 3, 0, 1, 1, 0, 0, 1],
    "Parch": [0, 0, 0, 2, 0, 1, 2, 0, 1, 0, 0, 5],
    "Fare": [71.3, 7.25, 53.1, 11.1, 51.9, 21.1, 13.0, 30.1, 16.7, 8.05, 60.6, 31.3],
})


def answer(frame: pd.DataFrame, request: str) -> dict[str, str]:
    plan = plan_steps(frame, request)
    assert plan is not None, "the rules found no plan"
    return run_steps(frame, plan, "t.csv").values


def test_a_derived_column_then_its_statistics_rounded_as_asked():
    got = answer(PRICES, 'Create a new feature called "Range" as the difference between "High Price" and "Low Price". '
                         "Calculate the mean and standard deviation of Range. @mean_range[mean] @std_range[std] "
                         "rounded to three decimal places.")
    spread = PRICES["High Price"] - PRICES["Low Price"]
    assert got == {"mean_range": str(round(spread.mean(), 3)), "std_range": str(round(spread.std(), 3))}


def test_percentage_change_from_the_previous_row():
    got = answer(PRICES, 'Create a new column "Daily Return" with the percentage change in Close from the previous day. '
                         "@mean_return[mean] rounded to two decimal places")
    assert got == {"mean_return": str(round((PRICES.Close.pct_change() * 100).mean(), 2))}


def test_family_size_is_a_sum_plus_the_passenger_and_correlates_with_a_named_column():
    got = answer(PEOPLE, "Create a new feature 'FamilySize' by adding 'SibSp' and 'Parch' plus one for the passenger. "
                         "What is the Pearson correlation between FamilySize and Survived? @r[value] to two decimal places")
    family = PEOPLE.SibSp + PEOPLE.Parch + 1
    assert got == {"r": str(round(family.corr(PEOPLE.Survived), 2))}


def test_filters_by_category_by_a_yes_no_column_and_by_the_average():
    got = answer(PEOPLE, "What is the median age of male passengers who survived and paid a fare greater than the "
                         "average fare? Only ages that are not null. @median_age[value] rounded to two decimal places")
    rows = PEOPLE[(PEOPLE.Sex == "male") & (PEOPLE.Survived == 1) & (PEOPLE.Fare > PEOPLE.Fare.mean())]
    assert got == {"median_age": str(round(rows.Age.median(), 2))}


def test_outliers_are_counted_before_and_statistics_taken_after_removal():
    got = answer(PRICES, "Remove outliers in the High Price column using the IQR method, then report the mean High Price. "
                         "@outliers[count] @mean_high[mean] rounded to two decimal places")
    high = PRICES["High Price"]
    q1, q3 = high.quantile(0.25), high.quantile(0.75)
    keep = high.between(q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1))
    assert got == {"outliers": str(int((~keep).sum())), "mean_high": str(round(high[keep].mean(), 2))}


def test_missing_values_filled_with_the_median_before_the_mean():
    got = answer(PRICES, "Fill the missing values in Volume with the median. Then calculate the mean volume. "
                         "@mean_volume[value] two decimal places")
    assert got == {"mean_volume": str(round(PRICES.Volume.fillna(PRICES.Volume.median()).mean(), 2))}


def test_a_group_test_picks_the_groups_named_and_the_option_its_p_value_supports():
    got = answer(PEOPLE, "Is there a significant difference in fare between 1st class and 3rd class? Use the "
                         "Mann-Whitney U test with alpha 0.05. @p_value[p] rounded to four decimal places. "
                         "@significance[result] where result is 'significant' or 'not significant'.")
    p = stats.mannwhitneyu(PEOPLE.Fare[PEOPLE.Pclass == 1], PEOPLE.Fare[PEOPLE.Pclass == 3]).pvalue
    assert got == {"p_value": str(round(p, 4)), "significance": "significant" if p < 0.05 else "not significant"}


def test_normality_verdict_follows_shapiro_wilk():
    got = answer(PEOPLE, "Does Fare follow a normal distribution? Shapiro-Wilk test, alpha 0.05. "
                         '@normality[answer] where "answer" is a string: "normal" or "not normal"')
    p = stats.shapiro(PEOPLE.Fare).pvalue
    assert got == {"normality": "normal" if p >= 0.05 else "not normal"}


def test_regression_with_a_seeded_split_scores_the_test_rows():
    got = answer(PEOPLE, "Predict Fare based on Pclass and SibSp with linear regression. Use a 25% test set with "
                         "random_state 7. @rmse[value] rounded to two decimal places")
    train, test = split_indices(len(PEOPLE), 0.25, 7)
    x = np.column_stack([np.ones(len(PEOPLE)), PEOPLE[["Pclass", "SibSp"]].to_numpy(float)])
    coef = np.linalg.lstsq(x[train], PEOPLE.Fare.to_numpy()[train], rcond=None)[0]
    rmse = np.sqrt(((x[test] @ coef - PEOPLE.Fare.to_numpy()[test]) ** 2).mean())
    assert got == {"rmse": str(round(rmse, 2))}


def test_the_split_matches_scikit_learns_train_test_split():
    # train_test_split(range(10), test_size=0.3, random_state=42) and (range(7), 0.2, 0), as sklearn 1.9 gives
    assert split_indices(10, 0.3, 42) == ([0, 7, 2, 9, 4, 3, 6], [8, 1, 5])
    assert split_indices(7, 0.2, 0) == ([1, 3, 0, 5, 4], [6, 2])


def test_which_group_is_highest_and_its_value():
    got = answer(PEOPLE, "Which Sex has the highest average Fare, and what is that average? "
                         "@sex[name] @mean_fare[value] rounded to two decimal places")
    means = PEOPLE.groupby("Sex").Fare.mean()
    assert got == {"sex": means.idxmax(), "mean_fare": str(round(means.max(), 2))}


def test_the_statistic_can_come_from_the_placeholder():
    got = answer(PRICES, "Drop the rows with missing Volume, then describe Volume. @volume[median_value] to 1 decimal")
    assert got == {"volume": str(round(PRICES.Volume.dropna().median(), 1))}


def test_an_unknown_requested_value_means_no_plan_not_a_guess():
    assert plan_steps(PEOPLE, "Tell me about the fares. @vibe[value]") is None
    assert plan_steps(PEOPLE, "What is the average fare?") is None  # one step: the single-step rules answer it


def test_a_step_that_cannot_run_says_why():
    plan = plan_steps(PEOPLE, "How many passengers of 2nd class paid more than 500? @count[n]")
    with pytest.raises(StepError):
        run_steps(PEOPLE, plan)


def test_columns_are_matched_by_any_spelling_and_by_distinctive_words():
    columns = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "WINDSPEED", "Pclass", "bmi", "PassengerId"]
    text = "bill length over wind speed by passenger class for passengers, and body mass index"
    assert [c for c, _ in columns_in(columns, text)] == ["bill_length_mm", "WINDSPEED", "Pclass", "bmi"]


def test_answer_format_slots_and_precision():
    slots = answer_slots("@mean_fare[mean] where mean is rounded to two decimal places. @n[count] an integer.")
    assert [name for name, _ in slots] == ["mean_fare", "n"]
    assert decimals_in(slots[0][1]) == 2 and decimals_in("to the nearest integer") == 0 and decimals_in("") is None
    assert format_value(3.14159, 2) == "3.14" and format_value(7.0, 0) == "7" and format_value(12, 2) == "12"
