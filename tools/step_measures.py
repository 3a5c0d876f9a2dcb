"""One requested value → one `Measure`: which statistic, over which columns, with which options.

The slot's own name says the most (`@mean_fare`, `@p_value`, `@outlier_count`, `@r_squared`), its
description next (options like "'normal' or 'not normal'", the precision), then the question (the
test it names, "between A and B", "predict Y from X", a train/test split and seed).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tools.analysis_plan import Derive, Measure
from tools.column_match import columns_in, name_words, squash
from tools.plan_widen import classify_measure, encoding

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["body_test", "measure_for", "stat_words"]

# (stat, pattern over the slot name's words joined by spaces) — first match wins
_SLOT_STATS = [
    ("pvalue", r"\bp ?values?\b|\bpvalue\b|\bp ?val\b|^p\b|\bp$|\bsignificance value\b"),
    ("count_outliers", r"\boutliers?\b"), ("accuracy", r"\baccuracy\b|\bacc\b"),
    ("count_missing", r"\bmissing\b|\bnull\b|\bnan\b|\bnulls\b"),
    ("within", r"\bwithin\b"),
    ("r2", r"\br2\b|\br squared\b|\brsquared\b|\bdetermination\b|\br sq\b"),
    ("rmse", r"\brmse\b|\broot mean squared?\b"), ("mse", r"\bmse\b|\bmean squared error\b"),
    ("mae", r"\bmae\b|\bmean absolute error\b"),
    ("intercept", r"\bintercept\b"), ("slope", r"\bslope\b|\bcoef\w*\b(?=.*\b(?:regress|predict)\b)|\bweight\b(?=.*\bregress)"),
    ("correlation", r"\bcorr\w*\b|\bpearson\b|\bspearman\b|\bkendall\b|\br value\b|^r\b|\brho\b|\bcoefficient\b"),
    ("skew", r"\bskew\w*\b"), ("kurtosis", r"\bkurt\w*\b"),
    ("statistic", r"\bstat\w*\b|\b[utfwh] (?:value|score)\b|\bchi2?\b|\bchi square\b|^[utfwh]$|\bu\b|\bf value\b"),
    ("mean", r"\bmean\b|\baverage\b|\bavg\b"), ("median", r"\bmedian\b"),
    ("std", r"\bstd\b|\bstandard deviation\b|\bsd\b|\bstdev\b|\bstddev\b|\bdeviation\b"),
    ("var", r"\bvariance\b|\bvar\b"), ("max", r"\bmax\w*\b|\bhighest\b|\blargest\b"),
    ("min", r"\bmin\b|\bminimum\b|\blowest\b|\bsmallest\b"), ("sum", r"\bsum\b|\btotal\b"),
    ("mode", r"\bmode\b"), ("nunique", r"\bunique\b|\bdistinct\b"),
    ("percent", r"\bpercent\w*\b|\bproportion\b|\bshare\b|\bfraction\b|\bpct\b"),
    ("count", r"\bcount\b|\bnumber\b|\bnum\b|\bn\b|\brows\b|\bsize\b|\bhow many\b"),
]
_VERDICT = re.compile(r"normal|relationship|significan|correlat|distribution|result|decision|direction|hypothes|"
                      r"outcome|conclusion|type|difference|association|trend|effect", re.I)
_TESTS = [("mannwhitney", r"mann[- ]?whitney|wilcoxon rank[- ]sum|\bu[- ]test"), ("welch", r"\bwelch"),
          ("ttest", r"\bt[- ]?test|\bstudent'?s t\b|\bindependent samples?\b"), ("anova", r"\banova\b|analysis of variance|f_oneway"),
          ("kruskal", r"kruskal"), ("chi2", r"chi[- ]?squared?|\bchi2\b|χ²"),
          ("regression", r"\bregression\b|\bpredict\w*\b"),
          ("normality", r"shapiro|normality|normal(?:ly)? distribut|normal distribution|\bgaussian\b"),
          ("correlation", r"correlat|pearson|spearman|kendall")]
_EXTREME = re.compile(r"\b(?:highest|largest|most|maximum|greatest|biggest|top|lowest|smallest|least|minimum|fewest)\b",
                      re.I)
_AGG_WORDS = [("mean", r"\bmean\b|\baverage\b|\bavg\b"), ("median", r"\bmedian\b"), ("sum", r"\btotal\b|\bsum\b"),
              ("std", r"standard deviation|\bstd\b"), ("skew", r"\bskew\w*"), ("count", r"\bnumber of\b|\bcount\b")]
_QUESTION_STATS = [("mean", r"\bmean\b|\baverage\b"), ("median", r"\bmedian\b"), ("std", r"standard deviation|\bstd\b"),
                   ("var", r"\bvariance\b"), ("skew", r"\bskew\w*"), ("kurtosis", r"\bkurtosis\b")]


def body_test(body: str) -> str | None:
    """The test or model a question names, if any (first in a fixed priority order)."""
    return next((name for name, pattern in _TESTS if re.search(pattern, body, re.I)), None)


def stat_words(columns: list[str], body: str, derives: list[Derive]) -> list[tuple[str, str]]:
    """(stat, column) for each statistic a question names, with the column named next after it."""
    named = columns_in(columns, body)
    words = body.lower()
    out: list[tuple[str, str]] = []
    for stat, pattern in _QUESTION_STATS:
        for match in re.finditer(pattern, words):
            at = len(re.findall(r"[a-z0-9]+", words[:match.start()]))
            after = [c for c, pos in named if pos > at]
            column = after[0] if after else (derives[-1].name if derives else (named[0][0] if named else None))
            if column and (stat, column) not in out:
                out.append((stat, column))
    return out


def measure_for(df: "pd.DataFrame", columns: list[str], slot: str, description: str, body: str,
                test: str | None, named: list[str], decimals: int | None) -> Measure | None:
    """The measure a slot asks for, or None when its statistic or columns cannot be told. `named`:
    the columns the question names for its measures (new ones first, not the inputs of new ones)."""
    words = " ".join(name_words(slot))
    placeholder = description.split(" ", 1)[0]
    stat = next((s for s, pattern in _SLOT_STATS if re.search(pattern, words)), None) or \
        next((s for s, pattern in _SLOT_STATS if re.search(pattern, " ".join(name_words(placeholder)))), None)
    options = [o for o in _options(description) if squash(o) not in (squash(slot), squash(placeholder))]
    options = options if len(options) >= 2 else []
    if options and _VERDICT.search(words + " " + description) and stat in (None, "correlation", "count", "statistic"):
        stat = "verdict"
    own = [c for c, _ in columns_in(columns, slot.replace("_", " "))]
    label = [c for c in own if c in df.columns and not _numeric(df[c])]
    if label and stat in (None, "max", "min") and _EXTREME.search(body):
        return _group_extreme(df, label[0], slot, body, named)
    if stat is None:
        return None
    body_cols = named
    places = 2 if decimals is None else decimals
    opts: dict = {"alpha": _alpha(body + " " + description)}
    if options:
        opts["choices"] = options
    kind = test
    if stat in ("pvalue", "statistic", "verdict"):
        if kind is None:
            kind = "correlation" if len(body_cols) >= 2 else ("normality" if body_cols else None)
        if kind is None:
            return None
    if stat == "accuracy":
        opts["test_size"] = _test_share(body)
        return classify_measure(columns, slot, body, places, opts)
    if stat == "correlation" or (stat in ("pvalue", "statistic", "verdict") and kind == "correlation"):
        pair = _pair(own, columns, body) or _pair(body_cols, columns, body)
        if pair is None:
            return None
        method = next((m for m in ("spearman", "kendall") if m in (body + description).lower()), "pearson")
        threshold = re.search(r"(?:absolute|\|r\|)[^.]{0,60}?(0\.\d+)", body + " " + description, re.I)
        opts.update(method=method, test="correlation", strong=float(threshold.group(1)) if threshold else 0.5)
        return Measure(slot, stat, pair, places, opts)
    if kind == "regression" and stat in ("slope", "intercept", "r2", "rmse", "mse", "mae", "pvalue", "statistic",
                                         "correlation") or stat in ("r2", "rmse", "mse", "mae", "intercept", "slope"):
        return _regression(columns, slot, own, body, stat, places, opts)
    if stat in ("pvalue", "statistic", "verdict") and kind in ("mannwhitney", "ttest", "welch", "anova", "kruskal", "chi2"):
        return _group_measure(df, slot, stat, kind, own, body_cols, body, places, opts)
    if stat in ("pvalue", "statistic", "verdict"):  # normality
        target = own or body_cols
        if not target:
            return None
        test_name = "normaltest" if re.search(r"d'?agostino|normaltest", body, re.I) else (
            "ks" if re.search(r"kolmogorov|\bk-?s\b", body, re.I) else "shapiro")
        opts.update(test="normality", method=test_name)
        return Measure(slot, stat, (target[0],), places, opts)
    if stat in ("mean", "median", "std", "var", "sum", "skew", "kurtosis", "within", "count_outliers"):
        body_cols = [c for c in body_cols if c not in df.columns or _numeric(df[c])]
    target = own or body_cols
    if stat == "within":
        k = re.search(r"within\s+(\d+(?:\.\d+)?|one|two|three)\s+(?:standard|std|sd)", (description + " " + body).lower())
        opts["k"] = {"one": 1.0, "two": 2.0, "three": 3.0}.get(k.group(1), None) if k else 1.0
        opts["k"] = opts["k"] if opts["k"] is not None else float(k.group(1))
    if stat == "count_outliers":
        iqr = re.search(r"\biqr\b|inter-?quartile", body + " " + description, re.I)
        number = re.search(r"(?:threshold|greater than|more than|exceed\w*|beyond|>)\s*(?:of\s*)?(\d+(?:\.\d+)?)", body, re.I)
        opts.update(how="iqr" if iqr else "zscore", threshold=float(number.group(1)) if number else (1.5 if iqr else 3.0))
    if stat == "percent":
        scale = 100.0 if re.search(r"percent|pct", words + " " + description + " " + body, re.I) else 1.0
        return Measure(slot, stat, (), places, {**opts, "scale": scale})
    if stat in ("count", "count_missing") and not own:
        return Measure(slot, stat, tuple(target[:1]) if stat == "count_missing" else (), 0, opts)
    if not target:
        return None
    if stat.startswith("count") or stat in ("within", "nunique"):
        places = 0
    return Measure(slot, stat, (target[0],), places, opts)


def _options(description: str) -> list[str]:
    quoted = re.findall(r"[\"'“‘]([^\"'”’]{1,30})[\"'”’]", description)
    return [q for q in quoted if not q.strip().isdigit()] if len(quoted) >= 2 else []


def _alpha(text: str) -> float:
    match = re.search(r"(?:alpha|significance level|level of significance|significance)\D{0,20}(0?\.\d+)", text, re.I)
    return float(match.group(1)) if match else 0.05


def _pair(found: list[str], columns: list[str], body: str) -> tuple[str, str] | None:
    between = re.search(r"\bbetween\b(.+?)(?:[.;?]\s|$)", body, re.I | re.S)
    if between:
        inside = [c for c, _ in columns_in(columns, between.group(1))]
        if len(inside) >= 2 and set(found[:2]) <= set(inside):
            return inside[0], inside[1]
    return (found[0], found[1]) if len(found) >= 2 else None


def _regression(columns, slot, own, body, stat, places, opts) -> Measure | None:
    predict = re.search(r"predict\w*\s+(?:the\s+)?(.+?)\s+(?:based on|using|from|with|by|given)\s+(.+?)(?:[.;]\s|$)", body,
                        re.I | re.S)
    if predict:
        target = [c for c, _ in columns_in(columns, predict.group(1))]
        features = [c for c, _ in columns_in(columns, predict.group(2)) if c not in target]
    else:
        on = re.search(r"regress\w*\s+(?:of\s+)?(.+?)\s+on\s+(.+?)(?:[.;]\s|$)", body, re.I | re.S)
        if not on:
            return None
        target = [c for c, _ in columns_in(columns, on.group(1))]
        features = [c for c, _ in columns_in(columns, on.group(2)) if c not in target]
    if not target or not features:
        return None
    opts.update(test_size=_test_share(body), encode=encoding(body))
    seed = re.search(r"random[_ ]?state\D{0,6}(\d+)|seed\D{0,6}(\d+)", body, re.I)
    coef_of = [c for c in own if c in features]
    opts.update(target=target[0], features=tuple(features),
                seed=int(seed.group(1) or seed.group(2)) if seed else None,
                coef=coef_of[0] if coef_of else features[0])
    return Measure(slot, "slope" if stat in ("correlation",) else stat, (target[0], *features), places, opts)


def _group_measure(df, slot, stat, kind, own, body_cols, body, places, opts) -> Measure | None:
    """A test between groups: the measure (numbers) and the grouping (few distinct values)."""
    import pandas as pd

    present = [c for c in (own + body_cols) if c in df.columns]
    few = [c for c in present if df[c].nunique() <= min(12, len(df) // 2)]
    few.sort(key=lambda c: not _group_values(df[c], body))  # the column whose groups are named first
    if kind == "chi2":
        if len(few) < 2:
            return None
        opts.update(test="chi2")
        return Measure(slot, stat, (few[0], few[1]), places, opts)
    if not few:  # the groups named by their values: 'malignant and benign' → diagnosis
        few = [str(c) for c in df.columns if df[c].nunique() <= min(12, len(df) // 2) and _group_values(df[c], body)]
    numbers = [c for c in present if pd.api.types.is_numeric_dtype(df[c]) and c not in few[:1]]
    group = next((c for c in few if c not in numbers[:1]), None)
    measure = next((c for c in numbers if c != group), None)
    if group is None or measure is None:
        return None
    opts.update(test=kind, group=group, groups=_group_values(df[group], body))
    return Measure(slot, stat, (measure, group), places, opts)


def _group_values(series: "pd.Series", body: str) -> tuple:
    """The groups a question names ('male and female', '1st and 3rd class'); () means all of them."""
    import pandas as pd

    text = body.lower()
    values = list(series.dropna().unique())
    if pd.api.types.is_numeric_dtype(series):
        ordinals = [float(n) for n in re.findall(r"\b(\d+)(?:st|nd|rd|th)\b", text)]
        named = [v for v in values if float(v) in ordinals]
    else:
        hits = [(m.start(), v) for v in values for m in [re.search(rf"(?<![\w-]){re.escape(str(v).lower())}s?(?![\w-])", text)] if m]
        named = [v for _, v in sorted(hits)]
    return tuple(named) if len(named) >= 2 else ()


def _numeric(series: "pd.Series") -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(series)


def _test_share(body: str) -> float | None:
    """The test share of a train/test split: '30% testing', 'test size 0.2', '80:20', '80% training'."""
    text = body.lower()
    for pattern, read in ((r"(\d+)\s*%\s*(?:of (?:the )?(?:data|rows)\s*)?(?:for |as |in |into )?(?:the |a )?test", lambda m: int(m[1]) / 100),
                          (r"test\w*(?:\s+(?:set|size|split|data|portion))?\s*(?:of|=|:|is)?\s*(\d+)\s*%", lambda m: int(m[1]) / 100),
                          (r"test_?size\s*(?:of|=|:)?\s*(0?\.\d+)", lambda m: float(m[1])),
                          (r"(\d+)\s*%\s*(?:of (?:the )?data\s*)?(?:for |as )?(?:the )?train", lambda m: 1 - int(m[1]) / 100),
                          (r"\b(\d{2})\s*[:/]\s*(\d{2})\b", lambda m: int(m[2]) / (int(m[1]) + int(m[2])))):
        match = re.search(pattern, text)
        if match:
            return read(match)
    return None


def _group_extreme(df: "pd.DataFrame", group: str, slot: str, body: str, named: list[str]) -> Measure | None:
    """'Which class has the highest average proline': the group whose aggregate is the extreme one."""
    measure = next((c for c in named if c != group and c in df.columns and _numeric(df[c])), None)
    if measure is None:
        return None
    agg = next((name for name, pattern in _AGG_WORDS if re.search(pattern, body, re.I)), "sum")
    low = re.search(r"\b(?:lowest|smallest|least|minimum|fewest)\b", body, re.I)
    return Measure(slot, "group_extreme", (group, measure), 0, {"agg": agg, "ascending": bool(low)})
