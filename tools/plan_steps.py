"""From a data question to a multi-step `StepPlan`, by rules — no model, no numbers of its own.

    plan_steps(df, 'Create "Range" as the difference between High and Low; remove outliers (Z-score > 3). '
                   'Report @mean_range[mean] rounded to two decimal places.')
    # StepPlan(derives=(Range = High - Low,), cleans=(outliers in Range,), measures=(mean of Range, 2 dp))

It reads what a question sets up (new columns, missing-value handling, outlier removal, filters) and
what it asks for: the slots of a requested answer format (`@name[value]`), or, when the question sets
something up but gives no format, the statistics it names. When a requested value cannot be tied to
a statistic and its columns, the answer is None: the chain's other paths take over — never a guess.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tools.analysis_plan import (
    Clean,
    Derive,
    Measure,
    StepPlan,
    answer_slots,
    decimals_in,
)
from tools.column_match import columns_in, name_words, squash
from tools.plan_widen import (
    date_conditions,
    date_derives,
    date_span,
    each_column,
    out_of_scope,
    per_column_measure,
    per_group_measure,
)
from tools.step_measures import body_test, measure_for, stat_words

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["plan_steps", "sentences"]

_NEW = re.compile(r"\b(?:new|create|creat\w+|generat\w+|add|derive\w*|calculat\w+ a)\b[^.;]{0,40}?\b"
                  r"(?:column|feature|variable|field|attribute)\b", re.I)
_CALLED = re.compile(r"(?:called|named|as|column|feature|variable)\s+[\"'“‘`]([^\"'”’`]{1,60})[\"'”’`]", re.I)
_MISSING = re.compile(r"\b(?:missing|null|nan|na|empty|blank)\b|\bnon-?null|\bnot null|\black(?:s|ing)?\b", re.I)
_FILL = re.compile(r"\b(?:fill|replac|imput|substitut)\w*", re.I)
_DROP = re.compile(r"\b(?:drop|remov|delet|exclud|ignor|omit|discard|dismiss|disregard|deletion|without)\w*|"
                   r"\bnot (?:be )?(?:taken|included|considered|counted)|\bonly (?:non|rows|the rows|valid)", re.I)
_NOT_A_FILTER = re.compile(r"z[- ]?score|\biqr\b|p[- ]?value|\bp\s*[<>=]|alpha|\|r\||\br\s*[<>=]|decimal|standard dev|"
                           r"significan|threshold|correlat|outlier", re.I)
_THEM = re.compile(r"\b(?:without|after (?:remov|exclud|drop|discard)\w*|(?:remov|exclud|drop|discard)\w*)\s+"
                   r"(?:them|these|those|the outliers|such (?:values|rows|outliers))\b", re.I)
_OUTLIER = re.compile(r"\bz[- ]?scores?\b|\biqr\b|\binter-?quartile", re.I)


def sentences(text: str) -> list[str]:
    """Sentences (and clauses after ';'), keeping decimals like 0.05 whole."""
    return [s for s in re.split(r"(?<=[.;!?])(?!\d)\s*|\n+", text) if s.strip()]


def plan_steps(df: "pd.DataFrame", request: str) -> StepPlan | None:
    """The plan for `request` over `df`, or None when some asked-for value cannot be planned."""
    slots = answer_slots(request)
    first_slot = re.search(r"@[A-Za-z_][\w.-]*\[", request)
    body = request[:first_slot.start()] if first_slot else request
    if out_of_scope(df, request):
        return None
    dated = date_derives(df, body)
    derives = _derives(df, body) + dated
    columns = [str(c) for c in df.columns] + [d.name for d in derives]
    cleans = _cleans(columns, body, derives)
    conditions = _filters(df, body) + date_conditions(dated, body)
    test = body_test(body)
    default_decimals = decimals_in(body) if decimals_in(body) is not None else decimals_in(request)
    setup = [s for s in sentences(body) if _NEW.search(s)] if derives else []
    rest = " ".join(s for s in sentences(body) if s not in setup)
    inputs = {c for d in derives for c in d.columns} | {d.name for d in derives}
    named = [d.name for d in derives if d not in dated] + [c for c, _ in columns_in(columns, rest) if c not in inputs] + \
        [c for c, _ in columns_in(columns, " ".join(setup)) if c not in inputs]
    measures: list[Measure] = []
    if slots:
        for name, description in slots:
            places = decimals_in(description) if decimals_in(description) is not None else default_decimals
            measure = per_column_measure(df, name, description, body, places) or \
                per_group_measure(df, columns, name, description, body, places) or date_span(df, name, body) or \
                measure_for(df, columns, name, description, body, test, named, places)
            if measure is None or (measure.stat == "count_missing" and not measure.columns and each_column(body)):
                return None  # per-column counts in a slot that names no column: its layout cannot be told
            measures.append(measure)
    elif derives or cleans or test in ("normality", "mannwhitney", "ttest", "welch", "anova", "kruskal", "chi2"):
        for stat, column in stat_words(columns, body, derives):
            measure = measure_for(df, columns, f"{stat}_{column}", "", body, test, named,
                                  default_decimals if default_decimals is not None else 2)
            if measure is None:
                return None
            measures.append(measure)
    if not measures:
        return None
    return StepPlan(tuple(derives), tuple(cleans), tuple(conditions), tuple(measures), formatted=bool(slots))


def _derives(df: "pd.DataFrame", body: str) -> list[Derive]:
    found: list[Derive] = []
    for sentence in sentences(body):
        if not _NEW.search(sentence):
            continue
        called = _CALLED.search(sentence)
        name = called.group(1).strip() if called else None
        if name is None:
            named = re.search(r"(?:column|feature|variable)\s+(?:called|named)\s+([A-Za-z_][\w-]*)", sentence, re.I)
            name = named.group(1) if named else None
        if name is None or name in df.columns:
            continue
        text = sentence.replace(called.group(0), " ") if called else sentence
        quoted = [c for q in re.findall(r"[\"'“‘`]([^\"'”’`]{1,60})[\"'”’`]", text) for c, _ in columns_in(df.columns, q)]
        used = quoted if quoted else [c for c, _ in columns_in(df.columns, text) if c != name]
        derive = _derive_op(name, text.lower(), used)
        if derive is not None:
            found.append(derive)
    return found


def _derive_op(name: str, text: str, used: list[str]) -> Derive | None:
    if not used:
        return None
    if re.search(r"percent(?:age)? change|pct_change|% change|\breturn\b|change from the previous|growth rate", text):
        scale = 100.0 if re.search(r"percent|%|\* ?100|times 100", text) else 1.0
        return Derive(name, "pct_change", (used[0],), scale)
    if re.search(r"\blog(?:arithm\w*)?\b|\blog10\b|\bln\b", text):
        return Derive(name, "log10" if re.search(r"base[- ]?10|log10|common log", text) else "ln", (used[0],))
    if len(used) < 2:
        return None
    if re.search(r"\bdifference\b|\bsubtract\w*|\bminus\b|\brange\b|\bgap\b", text):
        return Derive(name, "difference", tuple(used[:2]))
    if re.search(r"\bratio\b|\bdivid\w*|\bper\b|\bdivided\b|\bproportion\b", text):
        return Derive(name, "ratio", tuple(used[:2]))
    if re.search(r"\bproduct\b|\bmultipl\w*|\btimes\b", text):
        return Derive(name, "product", tuple(used[:2]))
    if re.search(r"\bsum\b|\badd\w*\b|\bcombin\w*|\btotal\b|\bplus\b|\+", text):
        plus = re.search(r"(?:\+|plus|add(?:ing)?)\s*(\d+(?:\.\d+)?|one)\b(?!\s*(?:column|other))", text)
        self_too = re.search(r"\b(?:themselves|himself|herself|oneself|the passenger|the person|self)\b", text)
        constant = (1.0 if plus.group(1) == "one" else float(plus.group(1))) if plus else (1.0 if self_too else 0.0)
        return Derive(name, "sum", tuple(used), constant)
    return None


def _cleans(columns: list[str], body: str, derives: list[Derive]) -> list[Clean]:
    found: list[Clean] = []
    derived = [d.name for d in derives]
    seen: Clean | None = None
    for sentence in sentences(body):
        named = [c for c, _ in columns_in(columns, sentence)]
        if _MISSING.search(sentence) and _FILL.search(sentence):
            how = re.search(r"\b(mean|median|mode|most frequent|average)\b", sentence, re.I)
            if how:
                method = {"average": "mean", "most frequent": "mode"}.get(how.group(1).lower(), how.group(1).lower())
                found.append(Clean("fill", tuple(named), method))
        elif _MISSING.search(sentence) and _DROP.search(sentence) and not re.search(r"\bhow many\b|\bcount", sentence, re.I):
            found.append(Clean("dropna", tuple(named)))
        if _OUTLIER.search(sentence):
            iqr = re.search(r"\biqr\b|inter-?quartile", sentence, re.I)
            number = re.search(r"(?:threshold|greater than|more than|exceed\w*|above|beyond|>|of)\s*(?:of\s*)?(\d+(?:\.\d+)?)",
                               sentence, re.I)
            threshold = float(number.group(1)) if number else (1.5 if iqr else 3.0)
            if not (0 < threshold <= 10):
                threshold = 1.5 if iqr else 3.0
            targets = tuple(named) or (seen.columns if seen else tuple(derived[-1:]))
            seen = Clean("outliers", targets, "iqr" if iqr else "zscore", threshold)
            if re.search(r"\b(?:remov|exclud|drop|filter|without|discard|clean|eliminat|after)\w*", sentence, re.I):
                found.append(seen)
        elif seen is not None and seen not in found and _THEM.search(sentence):
            found.append(seen)  # 'identify the outliers …; then the mean without them'
    return found


def _filters(df: "pd.DataFrame", body: str) -> list:
    """Row filters the question states: category values, comparisons, 'X = value', 'greater than the average X'."""
    import pandas as pd

    from tools.analysis_ops import Condition
    from tools.questions import COMPARISON, COMPARISON_OPS, conditions_in

    q = " ".join(body.lower().split())
    numeric = [str(c) for c in df.columns if pd.api.types.is_numeric_dtype(df[c])]
    conditions, _ = conditions_in(df, q, None, None, numeric)
    for match in re.finditer(r"([\w .()-]{1,40}?)\s*(?:=|==|equals?|equal to|value of|is equal to)\s*[\"']?([\w.-]+)[\"']?",
                             body, re.I):
        named = columns_in(df.columns, match.group(1))
        if not named:
            continue
        column = named[-1][0]
        raw = match.group(2)
        if pd.api.types.is_numeric_dtype(df[column]):
            try:
                value = float(raw)
            except ValueError:
                continue
            condition = Condition(column, "==", value)
        else:
            condition = Condition(column, "in", (raw,))
        if not any(c.column == column for c in conditions):
            conditions.append(condition)
    named = [c for c, _ in columns_in(df.columns, body) if c in numeric]
    loose = [m for sentence in sentences(q) if not _NOT_A_FILTER.search(sentence)
             for m in re.finditer(rf"{COMPARISON}\s*\$?(-?\d[\d,]*\.?\d*)", sentence)]
    if len(named) == 1 and len(loose) == 1 and not any(c.column == named[0] for c in conditions):
        match = loose[0]  # 'weigh more than 5000 grams' with the one number column the question names
        conditions.append(Condition(named[0], COMPARISON_OPS.get(match.group("op"), match.group("op")),
                                    float(match.group(2).replace(",", ""))))
    for column in numeric:  # yes/no as 0/1: 'passengers who survived' → Survived == 1
        if set(df[column].dropna().unique()) <= {0, 1} and not any(c.column == column for c in conditions):
            said = re.search(rf"\b(?:who|that|which)\s+(did not |didn't |not |never )?{re.escape(squash(column))}\b", q)
            if said:
                conditions.append(Condition(column, "==", 0.0 if said.group(1) else 1.0))
    for column in numeric:
        words = "|".join(re.escape(w) for w in [" ".join(name_words(column))] if w)
        pattern = (rf"\b(?:{words})s?\s+(?:is\s+|are\s+|was\s+|were\s+)?(greater|more|higher|above|less|lower|below)"
                   r"(?:\s+than)?\s+(?:the\s+)?(average|mean|median)")
        match = re.search(pattern, q)
        if match:
            series = df[column].dropna()
            value = float(series.median() if match.group(2) == "median" else series.mean())
            op = ">" if match.group(1) in ("greater", "more", "higher", "above") else "<"
            conditions.append(Condition(column, op, value))
    return conditions
