"""The widened planner: per-column and per-group slots, 'without them', all groups, dates, encoding,
classification, and the unit conversion it declines — each on a small real DataFrame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from tools.classify import fit_logistic
from tools.plan_steps import plan_steps
from tools.plan_widen import out_of_scope
from tools.run_steps import StepError, run_steps

RNG = np.random.RandomState(3)
BIRDS = pd.DataFrame({
    "species": ["Adelie", "Gentoo", "Chinstrap", "Adelie", "Gentoo", "Adelie", "Chinstrap", "Gentoo", "Adelie", "Gentoo"] * 4,
    "sex": ["male", "female", None, "female", "male", "male", "female", "female", "male", None] * 4,
    "laid": ["2007-11-11", "2007-11-16", "2008-12-01", "2008-11-09", "2009-01-20"] * 8,
    "mass_g": RNG.normal(4000, 600, 40).round(),
    "flipper_mm": RNG.normal(200, 12, 40).round(),
    "bill": RNG.normal(44, 5, 40).round(1),
})
BIRDS.loc[[3, 17], "mass_g"] = np.nan
BIRDS.loc[5, "bill"] = 90.0  # an outlier


def answer(frame: pd.DataFrame, request: str) -> dict[str, str]:
    plan = plan_steps(frame, request)
    assert plan is not None, "the rules found no plan"
    return run_steps(frame, plan, "t.csv").values


def test_missing_values_in_each_column_one_slot_per_column():
    got = answer(BIRDS, "How many missing values are there in each column? @species[count] @sex[count] @mass_g[count]")
    assert got == {"species": "0", "sex": "8", "mass_g": "2"}


def test_a_value_for_each_group_with_slots_named_by_the_groups():
    got = answer(BIRDS, "Calculate the average mass_g for each species. @Adelie[mean] @Gentoo[mean] two decimal places")
    means = BIRDS.groupby("species").mass_g.mean()
    assert got == {"Adelie": str(round(means["Adelie"], 2)), "Gentoo": str(round(means["Gentoo"], 2))}


def test_without_them_means_without_the_outliers_just_found():
    got = answer(BIRDS, "Identify the outliers in bill with the IQR method and count them; then give the mean of bill "
                        "without them. @n_outliers[count] @mean_bill[mean] two decimals")
    q1, q3 = BIRDS.bill.quantile(0.25), BIRDS.bill.quantile(0.75)
    keep = BIRDS.bill.between(q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1))
    assert got == {"n_outliers": str(int((~keep).sum())), "mean_bill": str(round(BIRDS.bill[keep].mean(), 2))}


def test_groups_named_only_as_the_classes_of_a_column_are_all_compared():
    frame = BIRDS.rename(columns={"species": "class"})
    got = answer(frame, "Use a Kruskal-Wallis test to check whether flipper_mm differs across the classes. "
                        "@h[statistic] two decimal places")
    h = stats.kruskal(*[g.flipper_mm for _, g in frame.groupby("class")]).statistic
    assert got == {"h": str(round(h, 2))}


def test_a_month_extracted_from_a_date_column_and_filtered_by_its_name():
    got = answer(BIRDS, "Convert laid to datetime and extract the month. How many rows fall in November? @november[count]")
    assert got == {"november": str(int((pd.to_datetime(BIRDS.laid).dt.month == 11).sum()))}


def test_days_between_the_earliest_and_the_latest_date():
    got = answer(BIRDS, "How many days are there between the earliest and the latest laid date? @days[number]")
    assert got == {"days": str((pd.to_datetime(BIRDS.laid).max() - pd.to_datetime(BIRDS.laid).min()).days)}


def test_a_label_encoded_text_feature_in_a_linear_regression():
    got = answer(BIRDS, "Label-encode the sex column, then fit a linear regression to predict mass_g from flipper_mm "
                        "and sex. @r_squared[value] three decimal places")
    data = BIRDS[["flipper_mm", "sex", "mass_g"]].dropna()
    x = np.column_stack([np.ones(len(data)), data.flipper_mm, (data.sex == "male").astype(float)])
    coef = np.linalg.lstsq(x, data.mass_g, rcond=None)[0]
    r2 = 1 - ((data.mass_g - x @ coef) ** 2).sum() / ((data.mass_g - data.mass_g.mean()) ** 2).sum()
    assert got == {"r_squared": str(round(r2, 3))}


def test_a_text_feature_nobody_asked_to_encode_is_an_error_not_a_number():
    plan = plan_steps(BIRDS, "Fit a linear regression to predict mass_g from flipper_mm and sex. @r2[value]")
    with pytest.raises(StepError, match="encode"):
        run_steps(BIRDS, plan)


def test_logistic_regression_fit_is_the_penalised_optimum_and_scores_the_test_rows():
    x = BIRDS[["flipper_mm", "bill"]].to_numpy(float)
    x = (x - x.mean(axis=0)) / x.std(axis=0)  # well conditioned: the 100 lbfgs steps reach the optimum
    y = (BIRDS.species == "Gentoo").to_numpy()
    classes, w = fit_logistic(x, y)

    def penalised(v):  # sklearn's documented objective: C·Σ log-loss + ½‖w‖², intercept unpenalised
        raw = x @ v[:-1] + v[-1]
        return (np.logaddexp(0, raw) - y * raw).sum() + 0.5 * v[:-1] @ v[:-1]

    best = optimize.minimize(penalised, np.zeros(3), method="BFGS", options={"gtol": 1e-9}).x
    assert classes == [False, True] and np.allclose(w, best, atol=1e-3)
    frame = BIRDS.assign(flipper_mm=x[:, 0], bill=x[:, 1])
    got = answer(frame, "Use logistic regression to classify species from flipper_mm and bill. Split the data 70:30 "
                        "with random_state 42. @accuracy[value] two decimal places")
    assert 0 <= float(got["accuracy"]) <= 1


def test_logistic_regression_matches_scikit_learn_when_it_is_installed():
    sklearn = pytest.importorskip("sklearn.linear_model")
    x = BIRDS[["flipper_mm", "bill"]].to_numpy(float)
    labels = BIRDS.species.to_numpy()
    model = sklearn.LogisticRegression().fit(x, labels)
    classes, w = fit_logistic(x, labels)
    assert classes == list(model.classes_) and np.allclose(w[:, :-1], model.coef_, atol=1e-3)


def test_a_unit_conversion_is_declined_with_a_reason_not_a_number():
    request = "What is the mean mass_g in kilograms of the Adelie birds? @mean_kg[value]"
    assert plan_steps(BIRDS, request) is None
    assert "unit conversion (to kilograms)" in out_of_scope(BIRDS, request)
    assert out_of_scope(BIRDS, "How many birds have flipper_mm above 200 in mm? @n[count]") is None


def test_a_difference_of_two_date_columns_is_in_days():
    frame = BIRDS.assign(hatched=pd.to_datetime(BIRDS.laid) + pd.to_timedelta(np.arange(40) % 7 + 30, unit="D"))
    frame["hatched"] = frame.hatched.dt.strftime("%Y-%m-%d")
    got = answer(frame, "Create a new column 'wait' as the difference between hatched and laid. "
                        "@mean_wait[mean] two decimal places")
    assert got == {"mean_wait": str(round((np.arange(40) % 7 + 30).mean(), 2))}


def test_the_mean_of_every_numeric_column_reads_the_statistic_from_the_placeholder():
    got = answer(BIRDS, "Calculate the statistics of every numeric column. @flipper_mm[mean] @bill[median] three decimal places")
    assert got == {"flipper_mm": str(round(BIRDS.flipper_mm.mean(), 3)), "bill": str(round(BIRDS.bill.median(), 3))}


def test_per_column_counts_asked_in_one_slot_get_no_plan_rather_than_the_tables_total():
    assert plan_steps(BIRDS, "How many missing values are there in each column? @missing[count]") is None
