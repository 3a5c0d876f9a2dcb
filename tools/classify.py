"""Logistic regression as scikit-learn's `LogisticRegression()` fits it by default — in numpy/scipy.

Users ask "use sklearn's LogisticRegression … report the accuracy"; scikit-learn is not a runtime
dependency (only the bench extra has it), so this reproduces its default fit: L2 penalty, C = 1.0,
an unpenalised intercept, the lbfgs solver (scipy's L-BFGS-B with sklearn's options: 100 iterations,
gtol 1e-4, maxls 50) on sklearn's objective mean(log-loss) + ½·‖w‖²/(C·n), from zeros. Two classes
use the binomial loss (the later class in sorted order is positive); more use the multinomial one.
With the same objective, start and solver options the iterates follow sklearn's (identical to ~1e-9
for the first 20 steps on unscaled data); when its 100 iterations stop short of convergence on
ill-conditioned features, rounding makes the last steps drift (coefficients ~5% apart on the
breast-cancer data) while the predicted classes still agree (all rows there, 177/178 on wine).
Text features are encoded first: label codes in sorted order (LabelEncoder) or one-hot (get_dummies).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["encode", "fit_logistic", "predict_logistic"]


def encode(frame: "pd.DataFrame", columns: list[str], how: str = "label") -> tuple["pd.DataFrame", list[str]]:
    """`frame` with its text `columns` encoded; returns it and the feature names that replace `columns`."""
    import pandas as pd

    out = frame.copy()
    names: list[str] = []
    for column in columns:
        if pd.api.types.is_numeric_dtype(out[column]):
            names.append(column)
        elif how == "onehot":
            dummies = pd.get_dummies(out[column], prefix=column, dtype=float)
            out = pd.concat([out.drop(columns=[column]), dummies], axis=1)
            names.extend(dummies.columns)
        else:
            out[column] = out[column].astype("category").cat.codes.astype(float)
            names.append(column)
    return out, names


def _binomial(w: "np.ndarray", x: "np.ndarray", y: "np.ndarray", l2: float) -> tuple[float, "np.ndarray"]:
    import numpy as np

    raw = x @ w[:-1] + w[-1]
    loss = np.logaddexp(0.0, raw) - y * raw
    residual = 1.0 / (1.0 + np.exp(-raw)) - y
    n = len(y)
    grad = np.empty_like(w)
    grad[:-1] = x.T @ residual / n + l2 * w[:-1]
    grad[-1] = residual.sum() / n
    return float(loss.mean() + 0.5 * l2 * (w[:-1] @ w[:-1])), grad


def _multinomial(flat: "np.ndarray", x: "np.ndarray", y: "np.ndarray", l2: float, k: int) -> tuple[float, "np.ndarray"]:
    import numpy as np
    from scipy.special import logsumexp

    w = flat.reshape((k, x.shape[1] + 1), order="F")
    raw = x @ w[:, :-1].T + w[:, -1]
    norm = logsumexp(raw, axis=1)
    n = len(y)
    loss = (norm - raw[np.arange(n), y]).mean()
    prob = np.exp(raw - norm[:, None])
    prob[np.arange(n), y] -= 1.0
    grad = np.empty_like(w)
    grad[:, :-1] = prob.T @ x / n + l2 * w[:, :-1]
    grad[:, -1] = prob.sum(axis=0) / n
    return float(loss + 0.5 * l2 * (w[:, :-1] ** 2).sum()), grad.ravel(order="F")


def fit_logistic(x: "np.ndarray", labels: "np.ndarray", c: float = 1.0, max_iter: int = 100) -> tuple[list, "np.ndarray"]:
    """(classes, weights) of sklearn's default LogisticRegression on features `x` and `labels`."""
    import numpy as np
    from scipy import optimize

    x = np.asarray(x, dtype=float)
    classes, y = np.unique(np.asarray(labels), return_inverse=True)
    if len(classes) < 2:
        raise ValueError("a classifier needs at least two classes in the training rows")
    l2 = 1.0 / (c * len(y))
    options = {"maxiter": max_iter, "maxls": 50, "gtol": 1e-4, "ftol": 64 * np.finfo(float).eps}
    if len(classes) == 2:
        result = optimize.minimize(_binomial, np.zeros(x.shape[1] + 1), method="L-BFGS-B", jac=True,
                                   args=(x, y.astype(float), l2), options=options)
        return list(classes), result.x
    k = len(classes)
    result = optimize.minimize(_multinomial, np.zeros(k * (x.shape[1] + 1)), method="L-BFGS-B", jac=True,
                               args=(x, y, l2, k), options=options)
    return list(classes), result.x.reshape((k, x.shape[1] + 1), order="F")


def predict_logistic(classes: list, weights: "np.ndarray", x: "np.ndarray") -> "np.ndarray":
    """The predicted class of each row of `x`."""
    import numpy as np

    x = np.asarray(x, dtype=float)
    if weights.ndim == 1:
        return np.asarray(classes, dtype=object)[(x @ weights[:-1] + weights[-1] > 0).astype(int)]
    return np.asarray(classes, dtype=object)[np.argmax(x @ weights[:, :-1].T + weights[:, -1], axis=1)]
