"""The statistics a multi-step analysis plan asks for, each a plain function of pandas columns.

scipy gives the tests (correlation p-values, Shapiro-Wilk, Mann-Whitney, t, chi-square, ANOVA,
skewness, kurtosis); numpy the least-squares regression and the seeded train/test split, which
follows scikit-learn's `train_test_split(test_size, random_state)` index for index so that results
match the usual recipe without importing sklearn. Missing values are dropped per call (jointly for
pairs), as pandas does.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["chi_square", "correlation", "group_test", "iqr_mask", "normality", "regression", "shape", "split_indices",
           "within_std", "zscore_mask"]


def correlation(x: "pd.Series", y: "pd.Series", method: str = "pearson") -> tuple[float, float, int]:
    """(coefficient, two-sided p-value, rows used) over the rows where both values are present."""
    import pandas as pd
    from scipy import stats

    pair = pd.concat([x.rename("x"), y.rename("y")], axis=1).dropna()
    test = {"pearson": stats.pearsonr, "spearman": stats.spearmanr, "kendall": stats.kendalltau}[method]
    result = test(pair["x"].astype(float), pair["y"].astype(float))
    return float(result[0]), float(result[1]), len(pair)


def shape(series: "pd.Series", what: str) -> float:
    """Skewness or (excess, Fisher) kurtosis, bias-corrected like pandas' .skew()/.kurt()."""
    values = series.dropna().astype(float)
    return float(values.skew() if what == "skew" else values.kurt())


def normality(series: "pd.Series", test: str = "shapiro") -> tuple[float, float]:
    """(statistic, p-value) of a normality test: Shapiro-Wilk, D'Agostino (normaltest) or K-S."""
    from scipy import stats

    values = series.dropna().astype(float)
    if test == "normaltest":
        result = stats.normaltest(values)
    elif test == "ks":
        result = stats.kstest((values - values.mean()) / values.std(), "norm")
    else:
        result = stats.shapiro(values)
    return float(result[0]), float(result[1])


def group_test(kind: str, groups: list["pd.Series"]) -> tuple[float, float]:
    """(statistic, p-value) comparing groups: mannwhitney, ttest (Welch if asked), anova, kruskal."""
    from scipy import stats

    samples = [g.dropna().astype(float) for g in groups]
    if kind == "mannwhitney":
        result = stats.mannwhitneyu(samples[0], samples[1], alternative="two-sided")
    elif kind in ("ttest", "welch"):
        result = stats.ttest_ind(samples[0], samples[1], equal_var=kind == "ttest")
    elif kind == "kruskal":
        result = stats.kruskal(*samples)
    else:
        result = stats.f_oneway(*samples)
    return float(result[0]), float(result[1])


def chi_square(a: "pd.Series", b: "pd.Series") -> tuple[float, float]:
    """(chi-square, p-value) of independence between two categorical columns (Yates as scipy does)."""
    import pandas as pd
    from scipy import stats

    table = pd.crosstab(a, b)
    result = stats.chi2_contingency(table)
    return float(result[0]), float(result[1])


def zscore_mask(series: "pd.Series", threshold: float = 3.0) -> "pd.Series":
    """True where |z| > threshold (population std, as scipy.stats.zscore); missing values are False."""
    values = series.astype(float)
    z = (values - values.mean()) / values.std(ddof=0)
    return (z.abs() > threshold).fillna(False)


def iqr_mask(series: "pd.Series", k: float = 1.5) -> "pd.Series":
    """True outside [Q1 - k·IQR, Q3 + k·IQR]; missing values are False."""
    values = series.astype(float)
    q1, q3 = values.quantile(0.25), values.quantile(0.75)
    spread = q3 - q1
    return ((values < q1 - k * spread) | (values > q3 + k * spread)).fillna(False)


def within_std(series: "pd.Series", k: float) -> int:
    """How many values lie within k (sample) standard deviations of the mean."""
    values = series.dropna().astype(float)
    return int(((values - values.mean()).abs() <= k * values.std()).sum())


def split_indices(n: int, test_size: float, seed: int) -> tuple[list[int], list[int]]:
    """(train, test) row positions as scikit-learn's train_test_split(test_size, random_state) draws them."""
    import numpy as np

    n_test = math.ceil(test_size * n) if test_size < 1 else int(test_size)
    n_train = n - n_test
    order = np.random.RandomState(seed).permutation(n)
    return order[n_test:n_test + n_train].tolist(), order[:n_test].tolist()


def regression(frame: "pd.DataFrame", target: str, features: list[str], test_size: float | None = None,
               seed: int | None = None) -> dict[str, float]:
    """Ordinary least squares of target on features (numpy). Scores on the test part when split."""
    import numpy as np

    data = frame[features + [target]].dropna().astype(float).reset_index(drop=True)
    train, test = (split_indices(len(data), test_size, seed if seed is not None else 0)
                   if test_size else (list(range(len(data))), list(range(len(data)))))
    x = np.column_stack([np.ones(len(data)), data[features].to_numpy()])
    y = data[target].to_numpy()
    coef, *_ = np.linalg.lstsq(x[train], y[train], rcond=None)
    predicted = x[test] @ coef
    residual = y[test] - predicted
    total = ((y[test] - y[test].mean()) ** 2).sum()
    mse = float((residual ** 2).mean())
    out = {"intercept": float(coef[0]), "r2": float(1 - (residual ** 2).sum() / total) if total else float("nan"),
           "mse": mse, "rmse": math.sqrt(mse), "mae": float(np.abs(residual).mean()), "rows": float(len(data))}
    for name, value in zip(features, coef[1:]):
        out[f"coef_{name}"] = float(value)
    out["slope"] = float(coef[1])
    return out
