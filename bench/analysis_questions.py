"""Data-analysis questions for the honest analysis bench, on tables this project did not write.

The tables are CSVs bundled inside installed PyPI packages (palmerpenguins: penguins.csv and
penguins-raw.csv; scikit-learn: the wine, diabetes, iris and breast-cancer data), copied into a temp
workspace with the packages' own column names. The questions were written in the DABench style
(question, constraints, answer format with precision) apart from the planner's rules, and each
expected answer is computed here, once, with plain pandas/scipy — never through the chain's code.

Each question: (file, question, constraints, answer format, expected(frames) -> {slot: value},
decimals per slot). Text values are compared case-insensitively; numbers after rounding.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats


def install_tables(workspace: Path) -> list[str]:
    """Write the bench tables into `workspace`; returns their file names. Needs the bench extra."""
    import palmerpenguins
    from sklearn import datasets

    data = Path(palmerpenguins.__file__).parent / "data"
    pd.read_csv(data / "penguins.csv").to_csv(workspace / "penguins.csv", index=False)
    pd.read_csv(data / "penguins-raw.csv").to_csv(workspace / "penguins_raw.csv", index=False)
    for name, loader, label in (("wine", datasets.load_wine, "class"), ("iris", datasets.load_iris, "species"),
                                ("breast_cancer", datasets.load_breast_cancer, "diagnosis")):
        bunch = loader()
        frame = pd.DataFrame(bunch.data, columns=bunch.feature_names)
        frame[label] = [bunch.target_names[t] for t in bunch.target]
        frame.to_csv(workspace / f"{name}.csv", index=False)
    diabetes = datasets.load_diabetes(scaled=False)
    frame = pd.DataFrame(diabetes.data, columns=diabetes.feature_names)
    frame["progression"] = diabetes.target
    frame.to_csv(workspace / "diabetes.csv", index=False)
    return ["penguins.csv", "penguins_raw.csv", "wine.csv", "iris.csv", "breast_cancer.csv", "diabetes.csv"]


def _iqr_outliers(s: pd.Series) -> pd.Series:
    q1, q3 = s.quantile(0.25), s.quantile(0.75)
    return (s < q1 - 1.5 * (q3 - q1)) | (s > q3 + 1.5 * (q3 - q1))


def _z(s: pd.Series) -> pd.Series:
    return pd.Series(np.abs(stats.zscore(s, nan_policy="omit")), index=s.index)


def _ols(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    design = np.column_stack([np.ones(len(x)), x])
    coef = np.linalg.solve(design.T @ design, design.T @ y)
    resid = y - design @ coef
    return coef, 1 - (resid ** 2).sum() / ((y - y.mean()) ** 2).sum()


def _split_rmse_r2(frame: pd.DataFrame, target: str, features: list[str], test: float, seed: int) -> tuple[float, float]:
    from sklearn.linear_model import LinearRegression
    from sklearn.metrics import mean_squared_error, r2_score
    from sklearn.model_selection import train_test_split

    data = frame[features + [target]].dropna()
    x_tr, x_te, y_tr, y_te = train_test_split(data[features], data[target], test_size=test, random_state=seed)
    predicted = LinearRegression().fit(x_tr, y_tr).predict(x_te)
    return float(np.sqrt(mean_squared_error(y_te, predicted))), float(r2_score(y_te, predicted))


def _logistic_accuracy(frame: pd.DataFrame, target: str, features: list[str], test: float, seed: int) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    data = frame[features + [target]].dropna()
    x_tr, x_te, y_tr, y_te = train_test_split(data[features], data[target], test_size=test, random_state=seed)
    return float((LogisticRegression().fit(x_tr, y_tr).predict(x_te) == y_te).mean())


def _q(file, question, constraints, fmt, expected, decimals):
    return {"file": file, "question": question, "constraints": constraints, "format": fmt, "expected": expected,
            "decimals": decimals}


P, R, W, I, B, D = "penguins.csv", "penguins_raw.csv", "wine.csv", "iris.csv", "breast_cancer.csv", "diabetes.csv"

QUESTIONS = [
    _q(P, "What are the mean and the standard deviation of the body mass of the penguins?",
       "Ignore missing values. Round both to two decimal places.",
       "@mean_body_mass[mean] @std_body_mass[std]",
       lambda t: {"mean_body_mass": t[P].body_mass_g.mean(), "std_body_mass": t[P].body_mass_g.std()}, 2),
    _q(P, "How many records have no value recorded for the sex of the penguin?", "Count null entries only.",
       "@missing_sex[count] where count is an integer.", lambda t: {"missing_sex": int(t[P].sex.isna().sum())}, 0),
    _q(P, "Create a new column named 'bill_ratio' by dividing the bill length by the bill depth for every penguin. "
          "What are the mean and median of bill_ratio?", "Skip rows where either measurement is missing. Round to three decimal places.",
       "@mean_bill_ratio[mean] @median_bill_ratio[median]",
       lambda t: {"mean_bill_ratio": (t[P].bill_length_mm / t[P].bill_depth_mm).mean(),
                  "median_bill_ratio": (t[P].bill_length_mm / t[P].bill_depth_mm).median()}, 3),
    _q(P, "Among Gentoo penguins only, is flipper length correlated with body mass?",
       "Use the Pearson correlation coefficient and its two-sided p-value; drop rows with missing values.",
       "@correlation_coefficient[r] rounded to two decimal places, @p_value[p] rounded to four decimal places.",
       lambda t: dict(zip(("correlation_coefficient", "p_value"), stats.pearsonr(
           *t[P][t[P].species == "Gentoo"][["flipper_length_mm", "body_mass_g"]].dropna().T.values))),
       {"correlation_coefficient": 2, "p_value": 4}),
    _q(P, "Do male and female penguins differ in body mass? Use the Mann-Whitney U test.",
       "Rows with a missing sex or body mass are excluded. Significance level alpha = 0.05.",
       "@p_value[p] rounded to four decimal places. @significant[answer] where answer is 'yes' or 'no'.",
       lambda t: (lambda p: {"p_value": p, "significant": "yes" if p < 0.05 else "no"})(stats.mannwhitneyu(
           t[P][t[P].sex == "male"].body_mass_g.dropna(), t[P][t[P].sex == "female"].body_mass_g.dropna()).pvalue),
       {"p_value": 4, "significant": 0}),
    _q(P, "Does the mean flipper length differ among the three species? Perform a one-way ANOVA.",
       "Ignore missing flipper lengths. Report the F statistic to two decimal places.",
       "@f_statistic[F]",
       lambda t: {"f_statistic": stats.f_oneway(*[g.flipper_length_mm.dropna() for _, g in t[P].groupby("species")])[0]},
       2),
    _q(P, "Impute the missing values in the bill length column with the median bill length, then compute the mean "
          "bill length.", "Round to two decimal places.", "@mean_bill_length[mean]",
       lambda t: {"mean_bill_length": t[P].bill_length_mm.fillna(t[P].bill_length_mm.median()).mean()}, 2),
    _q(P, "How many outliers does the bill depth column contain according to the interquartile range rule?",
       "An outlier lies below Q1 - 1.5*IQR or above Q3 + 1.5*IQR. Missing values are not outliers.",
       "@outlier_count[count]", lambda t: {"outlier_count": int(_iqr_outliers(t[P].bill_depth_mm.dropna()).sum())}, 0),
    _q(P, "Describe the shape of the flipper length distribution with its skewness and kurtosis.",
       "Use the sample skewness and excess kurtosis as pandas computes them; ignore missing values; two decimal places.",
       "@skewness[value] @kurtosis[value]",
       lambda t: {"skewness": t[P].flipper_length_mm.skew(), "kurtosis": t[P].flipper_length_mm.kurt()}, 2),
    _q(P, "For Adelie penguins, does bill depth follow a normal distribution?",
       "Use the Shapiro-Wilk test with alpha 0.05; missing values excluded.",
       "@p_value[p] rounded to four decimal places. @normality[result] where result is 'normal' or 'not normal'.",
       lambda t: (lambda p: {"p_value": p, "normality": "normal" if p >= 0.05 else "not normal"})(
           stats.shapiro(t[P][t[P].species == "Adelie"].bill_depth_mm.dropna()).pvalue), {"p_value": 4, "normality": 0}),
    _q(P, "Is the species of a penguin independent of the island where it was observed?",
       "Use a chi-square test of independence on the species × island contingency table.",
       "@chi2_statistic[value] rounded to two decimal places.",
       lambda t: {"chi2_statistic": stats.chi2_contingency(pd.crosstab(t[P].species, t[P].island))[0]}, 2),
    _q(P, "Fit a simple linear regression that predicts body mass from flipper length using all complete rows.",
       "Ordinary least squares with an intercept. Two decimal places.",
       "@slope[value] @intercept[value] @r_squared[value]",
       lambda t: (lambda d: (lambda c, r2: {"slope": c[1], "intercept": c[0], "r_squared": r2})(
           *_ols(d.flipper_length_mm.values, d.body_mass_g.values)))(t[P][["flipper_length_mm", "body_mass_g"]].dropna()),
       2),
    _q(P, "How many penguins observed on Biscoe island weigh more than 5000 grams?", "Use the body_mass_g column.",
       "@count[number]", lambda t: {"count": int(((t[P].island == "Biscoe") & (t[P].body_mass_g > 5000)).sum())}, 0),
    _q(P, "What is the median flipper length of female Chinstrap penguins?", "Round to one decimal place.",
       "@median_flipper_length[value]",
       lambda t: {"median_flipper_length": t[P][(t[P].species == "Chinstrap") & (t[P].sex == "female")]
                  .flipper_length_mm.median()}, 1),
    _q(P, "How many bill length values lie within two standard deviations of the mean bill length?",
       "Use the sample standard deviation; missing values are not counted.", "@within_two_std[count]",
       lambda t: (lambda s: {"within_two_std": int(((s - s.mean()).abs() <= 2 * s.std()).sum())})(
           t[P].bill_length_mm.dropna()), 0),
    _q(R, 'What is the Spearman rank correlation between "Delta 15 N (o/oo)" and "Delta 13 C (o/oo)"?',
       "Use only rows where both isotope values are present. Round to two decimal places.", "@spearman_rho[rho]",
       lambda t: {"spearman_rho": stats.spearmanr(*t[R][["Delta 15 N (o/oo)", "Delta 13 C (o/oo)"]].dropna().T.values)[0]},
       2),
    _q(R, 'What is the average culmen length of the birds whose "Clutch Completion" is "No"?',
       "Ignore missing lengths. Two decimal places.", "@mean_culmen_length[mean]",
       lambda t: {"mean_culmen_length": t[R][t[R]["Clutch Completion"] == "No"]["Culmen Length (mm)"].mean()}, 2),
    _q(R, 'Add a feature called "Culmen Area" equal to the product of the culmen length and the culmen depth. '
          "Report its mean.", "Rows with missing measurements do not count. Round to two decimal places.",
       "@mean_culmen_area[mean]",
       lambda t: {"mean_culmen_area": (t[R]["Culmen Length (mm)"] * t[R]["Culmen Depth (mm)"]).mean()}, 2),
    _q(R, 'Drop every row that lacks a "Delta 15 N (o/oo)" measurement. How many rows remain?', "",
       "@remaining_rows[count]", lambda t: {"remaining_rows": int(t[R]["Delta 15 N (o/oo)"].notna().sum())}, 0),
    _q(W, "Is there a linear relationship between alcohol and proline?",
       "Compute the Pearson r and its p-value. The relationship is 'linear' if p < 0.05 and |r| >= 0.5, "
       "'nonlinear' if p < 0.05 and |r| < 0.5, and 'none' if p >= 0.05.",
       "@correlation_coefficient[r] rounded to two decimal places. @relationship_type[type] where type is 'linear', "
       "'nonlinear' or 'none'.",
       lambda t: (lambda r, p: {"correlation_coefficient": r, "relationship_type":
                                "none" if p >= 0.05 else ("linear" if abs(r) >= 0.5 else "nonlinear")})(
           *stats.pearsonr(t[W].alcohol, t[W].proline)), {"correlation_coefficient": 2, "relationship_type": 0}),
    _q(W, "Remove the outliers of magnesium with the Z-score method and report how many were removed, then the mean "
          "and standard deviation of magnesium after removal.",
       "An outlier has an absolute Z-score above 3. Round the statistics to two decimal places.",
       "@outliers_removed[count] @mean_magnesium[mean] @std_magnesium[std]",
       lambda t: (lambda keep: {"outliers_removed": int((~keep).sum()), "mean_magnesium": t[W].magnesium[keep].mean(),
                                "std_magnesium": t[W].magnesium[keep].std()})(_z(t[W].magnesium) <= 3),
       {"outliers_removed": 0, "mean_magnesium": 2, "std_magnesium": 2}),
    _q(W, "Compare the color intensity of class_0 and class_1 wines with an independent two-sample t-test.",
       "Assume equal variances. Round the t statistic to two decimal places and the p-value to four.",
       "@t_statistic[t] @p_value[p]",
       lambda t: dict(zip(("t_statistic", "p_value"), stats.ttest_ind(
           t[W][t[W]["class"] == "class_0"].color_intensity, t[W][t[W]["class"] == "class_1"].color_intensity))),
       {"t_statistic": 2, "p_value": 4}),
    _q(W, "Train a linear regression model that predicts alcohol using color_intensity and hue. Split the data into 70% "
          "training and 30% testing with random_state 0, and evaluate on the test set.",
       "Report the RMSE and the R-squared of the test predictions, rounded to three decimal places.",
       "@rmse[value] @r_squared[value]",
       lambda t: dict(zip(("rmse", "r_squared"), _split_rmse_r2(t[W], "alcohol", ["color_intensity", "hue"], 0.3, 0))), 3),
    _q(W, "Which wine class has the highest average proline, and what is that average?", "Round to two decimal places.",
       "@class_name[name] @mean_proline[value]",
       lambda t: (lambda g: {"class_name": g.idxmax(), "mean_proline": g.max()})(t[W].groupby("class").proline.mean()),
       {"class_name": 0, "mean_proline": 2}),
    _q(D, "Create a feature 'bp_per_bmi' as the blood pressure divided by the body mass index, and find its Pearson "
          "correlation with disease progression.", "Round to three decimal places.", "@correlation[r]",
       lambda t: {"correlation": stats.pearsonr(t[D].bp / t[D].bmi, t[D].progression)[0]}, 3),
    _q(D, "What is the mean disease progression of patients with a bmi above 30?", "Two decimal places.",
       "@mean_progression[mean]", lambda t: {"mean_progression": t[D][t[D].bmi > 30].progression.mean()}, 2),
    _q(D, "What percentage of patients have a progression value above 200?", "Round to two decimal places.",
       "@percentage[value]", lambda t: {"percentage": (t[D].progression > 200).mean() * 100}, 2),
    _q(D, "Exclude the outliers of s5 using the IQR rule (1.5 times the IQR beyond the quartiles), then compute the "
          "median of s5.", "Round to four decimal places.", "@median_s5[median]",
       lambda t: {"median_s5": t[D].s5[~_iqr_outliers(t[D].s5)].median()}, 4),
    _q(I, "Create a new feature 'petal_area' as petal length times petal width. What is the average petal_area of the "
          "versicolor flowers?", "Round to three decimal places.", "@mean_petal_area[mean]",
       lambda t: {"mean_petal_area": (lambda v: (v["petal length (cm)"] * v["petal width (cm)"]).mean())(
           t[I][t[I].species == "versicolor"])}, 3),
    _q(I, "For setosa flowers only, calculate the Pearson correlation between sepal length and sepal width.",
       "Round to two decimal places.", "@r_setosa[r]",
       lambda t: {"r_setosa": t[I][t[I].species == "setosa"][["sepal length (cm)", "sepal width (cm)"]].corr().iloc[0, 1]},
       2),
    _q(B, 'Is there a significant difference in "mean radius" between malignant and benign tumours? Use the '
          "Mann-Whitney U test at alpha 0.05.",
       "Report the U statistic to one decimal place.",
       "@u_statistic[U] @result[answer] where answer is 'significant' or 'not significant'.",
       lambda t: (lambda r: {"u_statistic": r.statistic, "result": "significant" if r.pvalue < 0.05 else "not significant"})(
           stats.mannwhitneyu(t[B][t[B].diagnosis == "malignant"]["mean radius"],
                              t[B][t[B].diagnosis == "benign"]["mean radius"])), {"u_statistic": 1, "result": 0}),
    _q(B, 'Count the outliers of "worst area" using the Z-score method with a threshold of 3.', "",
       "@outlier_count[count]", lambda t: {"outlier_count": int((_z(t[B]["worst area"]) > 3).sum())}, 0),
    _q(B, 'Fit a linear regression of "mean area" on "mean radius". What are the slope and the coefficient of '
          "determination?", "Round both to two decimal places.", "@slope[value] @r_squared[value]",
       lambda t: (lambda c, r2: {"slope": c[1], "r_squared": r2})(*_ols(t[B]["mean radius"].values, t[B]["mean area"].values)),
       2),
]


# Written after the rules were fixed on the questions above, and run once without changing the rules:
# the held-out slice (the figure to trust).
HELDOUT = [
    _q(P, "Calculate the variance of bill depth for penguins from Dream island.", "Round to three decimal places.",
       "@variance_bill_depth[value]", lambda t: {"variance_bill_depth": t[P][t[P].island == "Dream"].bill_depth_mm.var()}, 3),
    _q(P, "What is the correlation between bill length and flipper length after removing the rows where sex is missing?",
       "Pearson correlation, rounded to two decimal places.", "@correlation[r]",
       lambda t: {"correlation": t[P].dropna(subset=["sex"])[["bill_length_mm", "flipper_length_mm"]].corr().iloc[0, 1]}, 2),
    _q(W, "Determine whether the malic acid values are normally distributed using the Shapiro-Wilk test.",
       "Significance level alpha = 0.05.", "@shapiro_p[p] rounded to four decimal places. @is_normal[answer] where answer "
       "is 'yes' or 'no'.",
       lambda t: (lambda p: {"shapiro_p": p, "is_normal": "yes" if p >= 0.05 else "no"})(stats.shapiro(t[W].malic_acid).pvalue),
       {"shapiro_p": 4, "is_normal": 0}),
    _q(W, "Using a Kruskal-Wallis test, check whether flavanoids differ across the three wine classes.",
       "Report the H statistic rounded to two decimal places.", "@h_statistic[H]",
       lambda t: {"h_statistic": stats.kruskal(*[g.flavanoids for _, g in t[W].groupby("class")])[0]}, 2),
    _q(D, "Compare bmi between the two sex groups with Welch's t-test.", "Do not assume equal variances.",
       "@p_value[p] rounded to four decimal places.",
       lambda t: {"p_value": stats.ttest_ind(*[g.bmi for _, g in t[D].groupby("sex")], equal_var=False).pvalue}, 4),
    _q(D, "Create a new variable 'tc_hdl_ratio' by dividing s1 by s3. What are its maximum and minimum?",
       "Round to two decimal places.", "@max_tc_hdl_ratio[value] @min_tc_hdl_ratio[value]",
       lambda t: {"max_tc_hdl_ratio": (t[D].s1 / t[D].s3).max(), "min_tc_hdl_ratio": (t[D].s1 / t[D].s3).min()}, 2),
    _q(D, "Fit a linear regression to predict progression using bmi, bp and s5 with an 80/20 train-test split "
          "(random_state=42). Report the test RMSE.", "Two decimal places.", "@rmse[value]",
       lambda t: {"rmse": _split_rmse_r2(t[D], "progression", ["bmi", "bp", "s5"], 0.2, 42)[0]}, 2),
    _q(I, "How many flowers have a sepal width greater than 3.5 cm?", "", "@count[number]",
       lambda t: {"count": int((t[I]["sepal width (cm)"] > 3.5).sum())}, 0),
    _q(I, "Compute the kurtosis of petal width for virginica flowers.", "Use pandas' excess kurtosis; three decimals.",
       "@kurtosis_petal_width[value]",
       lambda t: {"kurtosis_petal_width": t[I][t[I].species == "virginica"]["petal width (cm)"].kurt()}, 3),
    _q(B, "What is the median of 'worst concavity' among benign tumours?", "Round to four decimal places.",
       "@median_worst_concavity[value]",
       lambda t: {"median_worst_concavity": t[B][t[B].diagnosis == "benign"]["worst concavity"].median()}, 4),
    _q(B, "Identify the outliers in 'mean texture' with the IQR method and report how many there are; then give the "
          "mean of 'mean texture' without them.", "Outliers lie beyond 1.5 IQR from the quartiles. Two decimals.",
       "@num_outliers[count] @mean_texture_clean[mean]",
       lambda t: (lambda out: {"num_outliers": int(out.sum()), "mean_texture_clean": t[B]["mean texture"][~out].mean()})(
           _iqr_outliers(t[B]["mean texture"])), {"num_outliers": 0, "mean_texture_clean": 2}),
    _q(R, "What proportion of the birds have a 'Body Mass (g)' of at least 4500?", "Round to three decimal places.",
       "@proportion[value]", lambda t: {"proportion": (t[R]["Body Mass (g)"] >= 4500).mean()}, 3),
    _q(P, "What is the mean body mass, in kilograms, of the penguins observed in 2008?", "Round to two decimal places.",
       "@mean_mass_kg[value]", lambda t: {"mean_mass_kg": t[P][t[P].year == 2008].body_mass_g.mean() / 1000}, 2),
    _q(W, "Which wine class has the lowest median hue?", "", "@class[name]",
       lambda t: {"class": t[W].groupby("class").hue.median().idxmin()}, 0),
]

# Written before the planner learned per-column counts, per-group values, dates, encoding and
# classification (issue 13, second round); run before and after that work.
HELDOUT_2 = [
    _q(P, "How many missing values are there in each column of the dataset?", "Count null entries.",
       "@species[count] @bill_depth_mm[count] @sex[count]",
       lambda t: {c: int(t[P][c].isna().sum()) for c in ("species", "bill_depth_mm", "sex")}, 0),
    _q(P, "Calculate the average body mass for each species.", "Ignore missing values. Round to two decimal places.",
       "@Adelie[mean] @Chinstrap[mean] @Gentoo[mean]",
       lambda t: t[P].groupby("species").body_mass_g.mean().to_dict(), 2),
    _q(R, "Convert 'Date Egg' to datetime and extract the month. How many nests had their egg laid in November?", "",
       "@november_count[count]",
       lambda t: {"november_count": int((pd.to_datetime(t[R]["Date Egg"]).dt.month == 11).sum())}, 0),
    _q(R, "How many days are there between the earliest and the latest 'Date Egg'?", "", "@days[number]",
       lambda t: {"days": int((pd.to_datetime(t[R]["Date Egg"]).max() - pd.to_datetime(t[R]["Date Egg"]).min()).days)}, 0),
    _q(B, "Use sklearn's LogisticRegression with default parameters to classify the diagnosis from 'mean radius' and "
          "'mean texture'. Split the data 70:30 into training and testing sets with random_state 42.",
       "Report the accuracy on the test set rounded to two decimal places.", "@accuracy[value]",
       lambda t: {"accuracy": _logistic_accuracy(t[B], "diagnosis", ["mean radius", "mean texture"], 0.3, 42)}, 2),
    _q(P, "Label-encode the sex column, then use a linear regression to predict body mass from flipper length and sex. "
          "Use a 70/30 train-test split with random_state 42 and drop rows with missing values.",
       "Report the R-squared on the test set to three decimal places.", "@r_squared[value]",
       lambda t: {"r_squared": _split_rmse_r2(t[P].dropna(subset=["sex", "flipper_length_mm", "body_mass_g"]).assign(
           sex=lambda f: f.sex.astype("category").cat.codes), "body_mass_g", ["flipper_length_mm", "sex"], 0.3, 42)[1]}, 3),
]
HELDOUT += HELDOUT_2  # scored with the held-out slice


def request(q: dict) -> str:
    """The question as a user sends it: the file, the question, its constraints and the answer format."""
    parts = [f"/analyze {q['file']}: {q['question']}"]
    if q["constraints"]:
        parts.append(f"Constraints: {q['constraints']}")
    parts.append(f"Answer format: {q['format']}")
    return " ".join(parts)
