"""Tables (pandas DataFrames) to the float rows a model takes, and back.

A table's columns are described once, when a model is fitted, as plain JSON
(:func:`describe_columns`): each column's name, kind (``"numeric"`` or ``"categorical"``),
dtype and, for a categorical column, its categories in a fixed order. With that description

- :func:`encode_table` turns any table with those columns into *coded rows*: one float
  column per table column, numbers as they are and each category as its index in the
  description (``-1`` for a category the description does not know, such as a service
  first seen after fitting);
- :func:`decode_table` turns coded rows back into a DataFrame with the original columns,
  dtypes and category values.

Booleans are categories (``False``, ``True``); a missing category (``None``, ``NaN``,
``pd.NA``) is a category of its own when the fitted table had one. Missing numbers stay
``NaN`` here: what to do with them is the estimator's ``missing`` parameter.

pandas is imported only when a table is given, so arrays never pay for it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..core.checks import format_indices
from .formatted import WARNED, conversion, number_format, read_options

__all__ = ["MISSING", "check_column_names", "decode_table", "describe_columns",
           "doubtful_categories", "encode_table", "is_table", "unknown_categories"]

MISSING = None
"""How a missing category is written in a column description (JSON ``null``)."""


def is_table(X) -> bool:
    """Whether ``X`` is a pandas DataFrame (checked without importing pandas)."""
    return type(X).__module__.split(".")[0] == "pandas" and hasattr(X, "columns") \
        and hasattr(X, "dtypes")


def check_column_names(X) -> None:
    """Check that every column of a table has a name of its own that a model can keep.

    Parameters
    ----------
    X : pandas.DataFrame

    Raises
    ------
    ValueError
        Naming the columns and the fix, for names given to several columns (a name would
        stand for two; scikit-learn's check fails on them with its dataframe library's
        message) and names neither strings nor integers (a MultiIndex's tuples, floats,
        booleans: a model would keep them as text, so its outputs came back renamed and
        columns swapped among them went unnoticed).
    """
    columns = X.columns
    if not columns.is_unique:
        twice = [repr(n) for n in columns[columns.duplicated()].unique()]
        raise ValueError(
            f"X has {len(twice)} column name(s) given to several columns: "
            f"{format_indices(twice)}; give each column a name of its own (X.columns = "
            "[...]), or drop the copies (X.loc[:, ~X.columns.duplicated()])")
    if columns.inferred_type in ("string", "integer", "empty"):  # the usual names, at once
        return
    odd = [n for n in columns if isinstance(n, (bool, np.bool_))
           or not isinstance(n, (str, int, np.integer))]
    if odd:
        fix = ("X.columns = ['_'.join(map(str, c)) for c in X.columns]"
               if isinstance(odd[0], tuple) else "X.columns = X.columns.map(str)")
        raise ValueError(
            f"X has {len(odd)} column name(s) that are neither strings nor integers: "
            f"{format_indices([repr(n) for n in odd])} ({type(odd[0]).__name__}); name the "
            f"columns with strings (the feature names) or integers (positions), e.g. {fix}")


def _kind(name, dtype) -> str:
    import pandas as pd

    api = pd.api.types
    if api.is_bool_dtype(dtype):
        return "categorical"
    if api.is_numeric_dtype(dtype) and not api.is_complex_dtype(dtype):
        return "numeric"
    if isinstance(dtype, pd.CategoricalDtype) or api.is_string_dtype(dtype) \
            or api.is_object_dtype(dtype):
        return "categorical"
    raise ValueError(
        f"column {name!r} holds {dtype} values, which aekit can neither scale nor treat as "
        "categories; convert it to numbers (e.g. a timestamp's .astype('int64') or its "
        "parts) or to strings, or drop it"
    )


def _json_value(value):
    """A category as a JSON value: numbers and booleans as they are, others as strings."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    return value if isinstance(value, str) else str(value)


def _sorted_values(values) -> list:
    try:
        return sorted(values)
    except TypeError:  # mixed types (1 and "a"): by type name, then by value as text
        return sorted(values, key=lambda v: (type(v).__name__, str(v)))


def describe_columns(frame) -> list[dict]:
    """The JSON description of a table's columns that a fitted model keeps.

    Parameters
    ----------
    frame : pandas.DataFrame

    Returns
    -------
    columns : list of dict
        One per column, in order: ``name``, ``kind`` (``"numeric"`` or
        ``"categorical"``), ``dtype`` (as pandas names it); for categorical columns also
        ``categories`` (a categorical dtype's own order, else the sorted values seen, with
        ``None`` last when values are missing) and ``ordered``.

    Raises
    ------
    ValueError
        For a column of a type that is neither numbers nor categories (dates, complex...),
        naming the column.
    """
    import pandas as pd

    columns = []
    for name in frame.columns:
        series = frame[name]
        kind = _kind(name, series.dtype)
        # Names as JSON keeps them: strings, or the integers of a frame without a header.
        label = int(name) if isinstance(name, (int, np.integer)) and not isinstance(
            name, (bool, np.bool_)) else str(name)
        entry = {"name": label, "kind": kind, "dtype": str(series.dtype)}
        if kind == "categorical":
            present = series[series.notna()]
            if isinstance(series.dtype, pd.CategoricalDtype):
                values = list(series.dtype.categories)
                entry["ordered"] = bool(series.dtype.ordered)
            else:
                values = _sorted_values(pd.unique(present.to_numpy(dtype=object)))
                entry["ordered"] = False
            categories = [_json_value(v) for v in values]
            if len(present) < len(series):
                categories.append(MISSING)
            entry["categories"] = categories
        columns.append(entry)
    return columns


def encode_table(frame, columns: Sequence[dict], *, dtype=None) -> np.ndarray:
    """Coded rows of ``frame``: numbers as they are (``NaN`` where missing), categories as
    their index in ``columns`` (``-1`` for a category it does not know).

    Parameters
    ----------
    frame : pandas.DataFrame
        With the columns of ``columns``, in that order (the caller matches them).
    columns : list of dict
        From :func:`describe_columns`.
    dtype : numpy dtype, optional
        Default: float32 when every numeric column is float32, else float64.

    Returns
    -------
    rows : ndarray of shape (n_samples, len(columns))
    """
    import pandas as pd

    if dtype is None:
        numeric = [c for c in columns if c["kind"] == "numeric"]
        dtype = np.float32 if numeric and all(c["dtype"] == "float32" for c in numeric) \
            else np.float64
    out = np.empty((len(frame), len(columns)), dtype=dtype)
    for j, col in enumerate(columns):
        series = frame.iloc[:, j]
        if col["kind"] == "numeric":
            try:
                out[:, j] = series.to_numpy(dtype=np.float64, na_value=np.nan)
            except (TypeError, ValueError):
                raise ValueError(_not_numbers(series, col["name"])) from None
            continue
        known = [v for v in col["categories"] if v is not MISSING]
        values = series.to_numpy(dtype=object)
        missing = np.asarray(series.isna())
        index = pd.Index(known, dtype=object)
        codes = index.get_indexer(values)
        retry = (codes == -1) & ~missing
        if retry.any():  # a category that describe_columns wrote as text (a date, a Decimal)
            codes[retry] = index.get_indexer([_json_value(v) for v in values[retry]])
        if MISSING in col["categories"]:
            codes[missing] = col["categories"].index(MISSING)
        else:
            codes[missing] = -1
        out[:, j] = codes
    return out


FEW_CATEGORIES = 20
"""A column with at most this many categories is never doubted (codes, levels, flags)."""

NUMBER_SHARE = 0.9
"""A text column more of whose values than this share are numbers is doubted."""

UNIQUE_SHARE = 0.5
"""A column with more categories than this share of its rows is doubted (an identifier)."""


def doubtful_categories(frame, columns: Sequence[dict]) -> list[str]:
    """Why categorical columns of ``frame`` (described by ``columns``) are unlikely to be
    what the caller meant as categories, one text per such column: numbers written as
    spreadsheets format them (``"2,244.80"``, ``"$5"``, ``"55.1%"``, ``"(12.5)"``:
    :mod:`aekit.data.formatted`, whose decimal-mark rule applies; not said again of the
    columns :func:`aekit.data.read_table` warned of when it read ``frame``), numbers stored
    as text or objects (a column read with an ``"n/a"`` cell, say), numbers written with a
    decimal comma (``"0,134"``), dates as text (``"2024-03-01"``: every date after fit is a
    new category), a value per row (an identifier), or no value at all. Either way the model
    learns one category per value, and new rows' values are categories it never saw.
    Columns with a categorical dtype, booleans and columns of at most
    :data:`FEW_CATEGORIES` categories are not doubted.
    """
    import pandas as pd

    reasons = []
    warned = frame.attrs.get(WARNED, {})  # by the reader, with the file's decimal mark
    for j, col in enumerate(columns):
        series = frame.iloc[:, j]
        known = [v for v in col.get("categories", ()) if v is not MISSING]
        if col["kind"] == "categorical" and not series.notna().any():
            # A number column so is an error, or warned of under missing="impute"
            reasons.append(f"{col['name']!r} has no value in its {len(series)} rows (all "
                           "missing): one category, it teaches the model nothing; drop it")
            continue
        if col["kind"] != "categorical" or len(known) <= FEW_CATEGORIES or isinstance(
                series.dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(series.dtype):
            continue
        present = series[series.notna()]
        name = col["name"]
        read = warned.get(str(name)) if isinstance(warned, dict) else None
        fmt = number_format(present, read) if isinstance(present.iloc[0], str) else None
        if fmt is not None:
            if read is None:  # else the reader said it, with the file's pandas call
                reasons.append(_formatted_reason(name, fmt, len(present), len(known)))
            continue
        numbers = pd.to_numeric(present, errors="coerce").notna().to_numpy()
        if numbers.mean() > NUMBER_SHARE:
            others = pd.unique(present[~numbers].to_numpy(dtype=object))[:3]
            rest = f"; the others: {', '.join(map(repr, others))}" if len(others) else ""
            stored = "text" if isinstance(present.iloc[0], str) else "objects"
            reasons.append(
                f"{name!r} holds numbers as {stored} "
                f"({int(numbers.sum())} of {len(present)} values{rest}), taken as {len(known)} "
                f"categories; if it is a number column make it one (X[{name!r}] = "
                f"pd.to_numeric(X[{name!r}], errors='coerce'): what is not a number becomes "
                "missing, for missing='impute')")
        elif (commas := _decimal_commas(present)).mean() > NUMBER_SHARE:
            example = next(v for v in present.astype(str) if "," in v)
            reasons.append(
                f"{name!r} holds numbers written with a decimal comma ({example!r}: "
                f"{int(commas.sum())} of {len(present)} values), taken as {len(known)} "
                "categories; read the file with the comma as its decimal mark (aekit's "
                "read_table does in a file separated by ';'; pandas: read_csv(..., "
                f"decimal=',')), or convert the column (X[{name!r}] = pd.to_numeric("
                f"X[{name!r}].str.replace(',', '.'), errors='coerce'))"
                + _or_thousands(present, name))
        elif (dates := _dates_as_text(known[:DATES_SAMPLE])).mean() > NUMBER_SHARE:
            example = next(v for v, d in zip(known, dates) if d)
            reasons.append(
                f"{name!r} holds dates as text ({example!r}: {int(dates.sum())} of the "
                f"{len(dates)} categories tried), taken as {len(known)} categories: a date "
                "not seen in fit is a category the model knows nothing of; make it a number "
                f"(X[{name!r}] = (pd.to_datetime(X[{name!r}]) - pd.Timestamp('2000-01-01'))"
                ".dt.days) or numbers of its parts (month, weekday), or drop it")
        elif len(known) > UNIQUE_SHARE * len(present):
            reasons.append(
                f"{name!r} has {len(known)} distinct values in {len(present)} rows, nearly one "
                "a row (an identifier?): as categories they carry nothing to new rows, whose "
                "values the model never saw; drop it")
    return reasons


def _or_thousands(present, name) -> str:
    """For a column whose every comma may as well separate thousands (``1,234`` and no
    ``0,5``: :mod:`aekit.data.formatted` leaves it to the caller), the other reading's fix;
    else nothing."""
    cells = present.astype(str).str.strip()
    commas = cells[cells.str.contains(",", regex=False)]
    if commas.empty or not commas.str.fullmatch(r"[-+]?[1-9]\d{0,2}(?:,\d{3})+").all():
        return ""
    return (f"; unless the comma separates thousands there ({commas.iloc[0]!r} for "
            f"{commas.iloc[0].replace(',', '')}): then read_csv(..., thousands=','), or "
            f"X[{name!r}] = pd.to_numeric(X[{name!r}].str.replace(',', ''))")


def _formatted_reason(name, fmt, n_present: int, n_known: int) -> str:
    """:func:`doubtful_categories`' text for a column of formatted numbers (``fmt``)."""
    options = read_options([fmt], fmt.decimal)
    if options is not None and fmt.decimal == ",":
        options += ", decimal=','"
    read = f" (a file: pd.read_csv(..., {options.removeprefix(', ')}))" if options else ""
    return (f"{name!r} holds numbers written with {fmt.describe()} ({fmt.example!r}; all "
            f"{n_present} values), taken as {n_known} categories; make it a number column: "
            f"X[{name!r}] = {conversion(f'X[{name!r}]', fmt)}{read}")


DATES_SAMPLE = 200
"""Categories of a column :func:`doubtful_categories` tries as dates (parsing is slow)."""


def _dates_as_text(values: list) -> np.ndarray:
    """Which of ``values`` (categories) are text that reads as a date or time. Text of at
    least 6 characters: shorter codes ("T1", "1-2") read as dates too."""
    import warnings

    import pandas as pd

    text = pd.Series([v if isinstance(v, str) and len(v.strip()) >= 6 else None
                      for v in values], dtype=object)
    with warnings.catch_warnings():  # pandas' notes on formats it will stop reading
        warnings.simplefilter("ignore")
        dates = pd.to_datetime(text, errors="coerce", format="mixed")
    return dates.notna().to_numpy()


def _decimal_commas(values) -> np.ndarray:
    """Which of ``values`` (a Series) are numbers once a comma is read as the decimal
    point."""
    import pandas as pd

    points = values.astype(str).str.replace(",", ".", regex=False)
    return pd.to_numeric(points, errors="coerce").notna().to_numpy()


UNKNOWN_ROWS = 10
"""Rows of unseen categories in one column that :func:`unknown_categories` needs (unless
they are the fitted categories as another type: one such row is a changed column)..."""

UNKNOWN_SHARE = 0.5
"""...and the share of the rows they must be (a single new category in a few rows is
what a detector scores; most of a column unseen is a changed column)."""


def unknown_categories(frame, rows: np.ndarray, columns: Sequence[dict]) -> list[str]:
    """The categorical columns most of whose rows of ``frame`` (coded as ``rows`` by
    :func:`encode_table`) hold categories the description ``columns`` does not know (or
    any row, when those are the fitted categories as another type: ``"True"`` for
    ``True``), one text per column naming examples and, where it sees one, the likely
    cause (the column's type or letter case changed, or it is missing where fit saw no
    missing value)."""
    reasons = []
    for j, col in enumerate(columns):
        unknown = rows[:, j] == -1
        n_unknown = int(unknown.sum())
        if col["kind"] != "categorical" or n_unknown < UNKNOWN_SHARE * len(rows) \
                or n_unknown == 0:
            continue
        series = frame.iloc[:, j][unknown]
        seen = [v for v in col["categories"] if v is not MISSING]
        # Not v == v to leave the missing out: pd.NA == pd.NA is NA, whose truth raises.
        values = list(dict.fromkeys(series[series.notna()].to_numpy(dtype=object)))
        text = {str(v) for v in seen}
        lower = {t.lower() for t in text}
        retyped = bool(values) and all(str(v) in text for v in values)
        if n_unknown < UNKNOWN_ROWS and not retyped:  # a few new values: what is scored
            continue
        if not values:
            cause = "; they are missing, and the column had no missing value in fit"
        elif retyped:
            cause = (f"; they are the fitted categories as another type ({series.dtype} now, "
                     f"{col['dtype']} in fit): pass the column as it was in fit")
        elif all(str(v).lower() in lower for v in values):
            cause = "; they differ from the fitted categories only in letter case"
        else:
            cause = ""
        shown = ", ".join(map(repr, values[:3])) + (", ..." if len(values) > 3 else "")
        known = ", ".join(map(repr, seen[:5])) + (", ..." if len(seen) > 5 else "")
        reasons.append(f"{col['name']!r}: {n_unknown} of {len(rows)} rows "
                       f"({shown or 'missing'}; fitted: {known}){cause}")
    return reasons


def _not_numbers(series, name) -> str:
    import pandas as pd

    bad = pd.to_numeric(series, errors="coerce").isna() & series.notna()
    rows = list(series.index[np.asarray(bad)])
    return (f"column {name!r} was numeric when the model was fitted but holds values that are "
            f"not numbers in row(s) {format_indices(rows)} (e.g. {series[bad].iloc[0]!r})")


def decode_table(rows: np.ndarray, columns: Sequence[dict], index=None):
    """A DataFrame from coded rows: the columns, dtypes and categories of ``columns``.

    Integer columns are rounded; a category index outside the known ones gives a missing
    value.

    Parameters
    ----------
    rows : ndarray of shape (n_samples, len(columns))
    columns : list of dict
        From :func:`describe_columns`.
    index : pandas Index or array-like, optional
        The rows' index (e.g. the input's, for a reconstruction).

    Returns
    -------
    frame : pandas.DataFrame
    """
    import pandas as pd

    data = {}
    for j, col in enumerate(columns):
        values = rows[:, j]
        dtype = pd.api.types.pandas_dtype(col["dtype"])
        if col["kind"] == "numeric":
            if pd.api.types.is_integer_dtype(dtype):
                info = np.iinfo(dtype.numpy_dtype if hasattr(dtype, "numpy_dtype") else dtype)
                values = np.clip(np.rint(values), info.min, info.max)
            data[col["name"]] = _as_dtype(values, dtype)
            continue
        cats = col["categories"]
        codes = np.asarray(values, dtype=np.int64)
        codes[(codes < 0) | (codes >= len(cats))] = -1
        if isinstance(dtype, pd.CategoricalDtype):
            known = [v for v in cats if v is not MISSING]
            missing = cats.index(MISSING) if MISSING in cats else -2
            codes[codes == missing] = -1
            data[col["name"]] = pd.Categorical.from_codes(
                codes, categories=known, ordered=col.get("ordered", False))
            continue
        table = np.array(list(cats) + [None], dtype=object)  # -1 -> the trailing None
        decoded = table[codes]
        if dtype == np.bool_ and any(v is None for v in decoded):
            dtype = pd.BooleanDtype()  # a missing flag cannot be a numpy bool
        data[col["name"]] = _as_dtype(decoded, dtype)
    return pd.DataFrame(data, index=index)


def _as_dtype(values: np.ndarray, dtype):
    import pandas as pd

    if isinstance(dtype, np.dtype):
        return values if dtype == np.object_ else values.astype(dtype)
    return pd.array(values, dtype=dtype)
