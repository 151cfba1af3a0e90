"""What a fitted model takes as input: :class:`InputSchema`, made once in ``fit``.

Every estimator turns what the caller passes into the float rows its network computes on
through one schema, so all of them take the same inputs and answer the same way:

- NumPy arrays and anything :func:`numpy.asarray` takes (float32 stays float32, other
  numbers become float64); images ``(n, H, W)`` / ``(n, C, H, W)`` only for a model that
  takes images (flattened to rows);
- SciPy sparse matrices, made dense once (the networks compute on dense rows);
- pandas DataFrames with numeric, boolean, text and categorical columns: described once
  (:func:`aekit.data.tables.describe_columns`) and coded into float rows, categories as
  indices; outputs in the caller's units come back as a DataFrame of those columns;
- files and memory maps read in chunks (:meth:`InputSchema.fit_stream`); a Parquet file's
  columns are matched by name, as a DataFrame's (:meth:`InputSchema.stream_chunk`);
- missing numbers (``NaN``) as ``missing`` says: an error naming their rows and columns
  (``"error"``), or each filled with its column's training median (``"impute"``), where
  they are then reported so the loss can leave them out.

Feature names follow scikit-learn's conventions (``n_features_in_``,
``feature_names_in_``; :func:`sklearn.utils.validation.validate_data` checks them against
the estimator that owns the schema): a DataFrame given to a model fitted on an array, or
an array given to a model fitted on a DataFrame, gives scikit-learn's warning and works;
columns renamed, missing, added or in another order are a ValueError naming them. Column
names that are all strings are feature names; names that are all integers (a file read
without a header) are positions, as scikit-learn takes them; a mix of both is refused, and
so are names given to two columns and names of other types (a MultiIndex's tuples, floats).

This module imports no estimator: an estimator is passed in as the ``owner`` whose
``n_features_in_`` and ``feature_names_in_`` are set and checked.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.utils import check_array
from sklearn.utils.validation import validate_data

from ..core.checks import (InputWarning, channels_last_hint, check_finite, format_indices,
                           user_warning)
from .tables import (
    MISSING,
    check_column_names,
    decode_table,
    describe_columns,
    doubtful_categories,
    encode_table,
    is_table,
    unknown_categories,
)

__all__ = ["InputSchema", "Rows"]

ROWS, TABLE = "rows", "table"
"""The two kinds of schema: rows of numbers (arrays, sparse, streams) or a table."""

_NOT_CELLS = (list, tuple, dict, set, frozenset, np.ndarray)
"""Cell values a table column cannot hold (neither a number nor a category)."""


@dataclass
class Rows:
    """Validated input: what every method of an estimator computes on.

    ``values``: (n, n_features) finite floats; ``sample_shape``: the shape of one sample as
    given ((n_features,), or an image's); ``missing``: where numbers were imputed
    ((n, n_features) bool) or None; ``index``: a DataFrame's index, or None.
    """

    values: np.ndarray
    sample_shape: tuple
    missing: np.ndarray | None = None
    index: object = None


class InputSchema:
    """The inputs a fitted model takes, and the way from them to its rows.

    Parameters
    ----------
    missing : {"error", "impute"}, default="error"
        What a missing number (NaN) is: an error naming its rows and columns, or filled
        with its column's training median.
    image_shape : callable or None, default=None
        For a model that takes images: maps the shape of one sample as ``fit`` sees it to
        the ``(C, H, W)`` of its images (raising a ValueError when it cannot). None: images
        are refused (flatten them to rows first).
    images_advice : str, default=""
        Appended to the error for images given to a model that takes none.

    Attributes
    ----------
    kind : {"rows", "table"}
        Rows of numbers (arrays, sparse matrices, streams) or a DataFrame.
    n_features : int
        Columns of the rows the network takes (a table's columns, coded).
    sample_shape : tuple of int
        One sample as ``fit`` saw it: ``(n_features,)``, ``(H, W)`` or ``(C, H, W)``.
    image_shape : tuple of int or None
        ``(C, H, W)`` for a model that takes images.
    feature_names : ndarray of str or None
        The column names, when they were all strings.
    columns : list of dict or None
        A table's column description (:func:`aekit.data.tables.describe_columns`).
    fill_values : list of float or None
        With ``missing="impute"``: each column's training median.
    """

    def __init__(self, missing: str = "error", *, image_shape=None, images_advice: str = ""):
        if missing not in ("error", "impute"):
            raise ValueError(f"missing must be 'error' or 'impute', got {missing!r}")
        self.missing = missing
        self._image_shape_of = image_shape
        self._images_advice = images_advice
        self.kind: str | None = None
        self.n_features: int | None = None
        self.sample_shape: tuple = ()
        self.image_shape: tuple | None = None
        self.feature_names = None
        self.columns: list[dict] | None = None
        self.fill_values: list[float] | None = None

    def __repr__(self) -> str:
        what = f"{len(self.columns)} columns" if self.columns else f"shape {self.sample_shape}"
        return f"InputSchema({self.kind}, {what}, missing={self.missing!r})"

    @property
    def has_categories(self) -> bool:
        """Whether the model was fitted on a table with categorical columns."""
        return bool(self.columns) and any(c["kind"] == "categorical" for c in self.columns)

    # ------------------------------------------------------------------ fit
    def fit_rows(self, X, owner) -> Rows:
        """Describe ``X`` (whatever the caller passes to ``fit``) and return its rows.

        Sets ``owner.n_features_in_`` and ``owner.feature_names_in_`` (scikit-learn's
        attributes) as the schema's.
        """
        if is_table(X):
            frame = _checked_frame(X)
            validate_data(owner, frame, reset=True, skip_check_array=True)
            self.kind, self.columns = TABLE, _coded(frame, describe_columns)
            values, sample_shape, index = _coded(
                frame, lambda f: encode_table(f, self.columns)), (frame.shape[1],), frame.index
            doubts = doubtful_categories(frame, self.columns)
            if doubts:
                user_warning(f"X has {len(doubts)} column(s) unlikely to be meant as "
                             f"categories: {'; '.join(doubts)}.", InputWarning)
        else:
            self.kind, self.columns, index = ROWS, None, None
            values, sample_shape = self._array(X, owner, reset=True)
        self.n_features, self.sample_shape = values.shape[1], tuple(sample_shape)
        self.image_shape = None
        if self._image_shape_of is not None:
            self.image_shape = tuple(int(s) for s in self._image_shape_of(self.sample_shape))
        self.feature_names = getattr(owner, "feature_names_in_", None)
        values, missing = self._fill(values, index, fit=True, owner=owner)
        return Rows(values, self.sample_shape, missing, index)

    def fit_stream(self, source, owner) -> None:
        """Describe rows read from disk (a :class:`~aekit.data.files.RowSource`) from their
        shape and dtype alone, without reading any."""
        self.fit_rows(np.zeros((1, *source.sample_shape), source.dtype), owner)
        self.fill_values = None  # a stream's cells are checked chunk by chunk: never NaN
        self.name_columns(getattr(source, "columns", None), owner)

    def name_columns(self, names, owner) -> None:
        """Take the column names of the file the rows were read from (a Parquet file's) as
        feature names, as a DataFrame's would be: later files and frames are then matched
        by name. Nothing when there are none, or when they are not all strings."""
        if names is None or len(names) != self.n_features or not all(
                isinstance(n, str) for n in names):
            return
        import pandas as pd

        validate_data(owner, pd.DataFrame(columns=list(names)), reset=True,
                      skip_check_array=True)
        self.feature_names = owner.feature_names_in_

    # ------------------------------------------------------------------ apply
    def rows(self, X, owner) -> Rows:
        """The rows of ``X`` as the fitted model takes them (columns matched, categories
        coded, images flattened, missing numbers as ``missing`` says)."""
        index = X.index if is_table(X) else None
        if self.kind == TABLE and (is_table(X) or self.has_categories):
            values = self._table(X, owner)
            sample_shape = (values.shape[1],)
        else:
            values, sample_shape = self._array(X, owner, reset=False)
        values, missing = self._fill(values, index, fit=False, owner=owner)
        return Rows(values, tuple(sample_shape), missing, index)

    def check_stream(self, source, owner) -> None:
        """Check that rows read from ``source`` fit the model (width, image shape; a Parquet
        file's column names as a DataFrame's, see :meth:`stream_chunk`), before any is read.
        """
        if self.has_categories:
            raise ValueError(
                f"{source.name}: this model was fitted on a table with categorical columns; "
                "pass its rows as a pandas DataFrame (e.g. aekit.data.read_table(path))"
            )
        row = self.stream_chunk(np.zeros((1, source.n_features), source.dtype), source)
        try:
            if is_table(row):
                _check_order(list(row.columns), list(self.feature_names), "the file", (
                    "write the file with its columns in the fitted order, or read it with "
                    "pandas.read_parquet and pass X[list(model.feature_names_in_)]"))
            self.rows(row, owner)
        except ValueError as err:  # the file, not "X", is what the caller named
            raise ValueError(f"{source.name}: {err}") from None

    def stream_chunk(self, rows: np.ndarray, source, start: int = 0):
        """Rows read from ``source`` (a chunk, (n, n_features), its first row ``start``) as
        the model's methods take them.

        A DataFrame of the file's columns when the model was fitted with feature names and
        the file names its columns (Parquet): its columns are then matched by name, as a
        DataFrame's are, and rows in the fitted order draw no warning. Otherwise the rows
        in the shape of one stored sample, their columns taken by position.
        """
        if self.feature_names is None or source.columns is None:
            return rows.reshape(len(rows), *source.sample_shape)
        import pandas as pd

        return pd.DataFrame(rows, columns=source.columns, copy=False,
                            index=pd.RangeIndex(start, start + len(rows)))

    def output(self, X_hat: np.ndarray, index=None, sample_shape=None):
        """Rows in the caller's units (n, n_features) as the caller gave them to ``fit``: a
        DataFrame of the fitted table's columns and dtypes, else rows or images
        (``sample_shape``, default the one ``fit`` saw)."""
        if self.columns is not None:
            return decode_table(X_hat, self.columns, index=index)
        shape = tuple(sample_shape or self.sample_shape or (X_hat.shape[1],))
        return X_hat.reshape(len(X_hat), *shape)

    # ------------------------------------------------------------------ arrays
    def _array(self, X, owner, *, reset: bool) -> tuple[np.ndarray, tuple]:
        """Rows (n, n_features) of an array, sparse matrix or DataFrame of numbers, and the
        shape of one sample as given; feature names checked (or set, on ``reset``)."""
        name = type(owner).__name__
        ndim = getattr(X, "ndim", None)
        if ndim is None and not hasattr(X, "toarray"):  # lists and such: as NumPy sees them
            X = np.asarray(X) if not isinstance(X, str) else X
            ndim = getattr(X, "ndim", 2)
        sample_shape = None
        if ndim > 2:
            X = self._images(np.asarray(X), name, reset=reset)
            sample_shape = X.shape[1:]
            X = X.reshape(len(X), -1)
        frame = X if is_table(X) else None
        if frame is not None:
            check_column_names(frame)
        try:
            values = check_array(X, dtype=[np.float64, np.float32], ensure_all_finite=False,
                                 accept_sparse=("csr", "csc", "coo"), estimator=name)
        except (TypeError, ValueError) as err:
            if "convert" not in str(err) and "could not" not in str(err):
                raise
            raise ValueError(not_numbers_message(X)) from None
        if hasattr(values, "toarray"):  # sparse: dense once (see the module notes)
            values = values.toarray()
        validate_data(owner, frame if frame is not None else values, reset=reset,
                      skip_check_array=True)
        return values, tuple(sample_shape or values.shape[1:])

    def _images(self, X: np.ndarray, name: str, *, reset: bool) -> np.ndarray:
        """Images ``X`` checked against what the model takes."""
        if self._image_shape_of is None and (reset or self.image_shape is None):
            raise ValueError(
                f"X has dim {X.ndim} (shape {X.shape}), but {name} takes rows "
                "(n_samples, n_features); flatten images with X.reshape(len(X), -1)"
                f"{self._images_advice}."
            )
        if X.ndim not in (3, 4):
            raise ValueError(
                f"X has shape {X.shape}; {name} takes images (n, H, W) or (n, C, H, W), or "
                "flat rows (n, C*H*W)."
            )
        if not reset:
            image = (1, *X.shape[1:]) if X.ndim == 3 else tuple(X.shape[1:])
            if image != tuple(self.image_shape):
                raise ValueError(
                    f"X holds images of shape {X.shape[1:]}, but the model was fitted on "
                    f"images of shape {tuple(self.image_shape)} (C, H, W)."
                    f"{channels_last_hint(image) if X.ndim == 4 else ''}"
                )
        return X

    # ------------------------------------------------------------------ tables
    def _table(self, X, owner) -> np.ndarray:
        """Coded rows of a DataFrame (or of rows of values given to a model fitted on a
        table): columns checked by name, count and type."""
        import pandas as pd

        names = [c["name"] for c in self.columns]
        if is_table(X):
            frame = _checked_frame(X)
            _check_order(list(X.columns), names)
            validate_data(owner, X, reset=False, skip_check_array=True)
        else:  # rows of values, in the fitted columns' order
            validate_data(owner, _object_rows(X, len(names)), reset=False,
                          skip_check_array=True)
            # Each column as the type its values share, so that the kinds are checked.
            frame = pd.DataFrame(_object_rows(X, len(names)), columns=names).infer_objects()
        _check_kinds(frame, self.columns)
        rows = _coded(frame, lambda f: encode_table(f, self.columns))
        unknown = unknown_categories(frame, rows, self.columns)
        if unknown:
            user_warning(
                f"{len(unknown)} column(s) of X hold mostly categories the model was not "
                f"fitted on: {'; '.join(unknown)}. An unseen category is coded 'unknown', "
                "of which the model learned nothing: its outputs for those rows mean little.",
                InputWarning)
        return rows

    # ------------------------------------------------------------------ missing numbers
    def _fill(self, X: np.ndarray, index, *, fit: bool, owner=None):
        """``(X, mask)``: missing numbers filled (``missing="impute"``) and where they were,
        or None; otherwise a ValueError naming their rows and columns (and the fixes
        ``owner``, the estimator, offers)."""
        if self.missing == "error":
            if fit:
                self.fill_values = None
            try:
                check_finite(X)  # the fast path: a sum
            except ValueError:
                bad = ~np.isfinite(X)
                if bad.any():  # names the rows (index labels) and columns
                    raise ValueError(self._not_finite(bad, np.isnan(X), index, fit,
                                                      owner)) from None
                raise
            return X, None
        missing = np.isnan(X)
        self._warn_unobserved(missing, index, fit)
        if fit:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN: warned above
                fill = np.nanmedian(np.where(np.isinf(X), np.nan, X), axis=0) if len(X) \
                    else np.zeros(X.shape[1])
            self.fill_values = np.where(np.isfinite(fill), fill, 0.0).tolist()
        bad = ~np.isfinite(X) & ~missing
        if bad.any():
            raise ValueError(self._not_finite(bad, missing, index, fit, owner))
        if missing.any():
            X = np.where(missing, np.asarray(self.fills(X.shape[1]), dtype=X.dtype), X)
        check_finite(X)  # what is left: values beyond float32's range
        return X, (missing if missing.any() else None)

    def fills(self, width: int) -> list[float]:
        """Each of ``width`` columns' value for a missing cell: its training median
        (``fill_values``), or 0 where a fit saw no rows to take one from. What a model with
        ``missing="impute"`` fills, here and in its ONNX graphs (:mod:`aekit.export`)."""
        return [float(v) for v in self.fill_values or [0.0] * width]

    def _warn_unobserved(self, missing: np.ndarray, index, fit: bool) -> None:
        """Warn (:class:`~aekit.core.checks.InputWarning`) about what imputation cannot
        mend: training columns with no observed value (filled with 0, a constant) and rows
        to predict with none (filled with the training medians, a typical row, so an
        outlier score calls them normal)."""
        if not missing.size:
            return
        if fit:
            cols = np.flatnonzero(missing.all(axis=0))
            if len(cols):
                user_warning(
                    f"X has {len(cols)} column(s) {format_indices(self._names(cols))} with no "
                    f"observed value in its {len(missing)} rows: filled with 0, they teach the "
                    "model nothing; drop them.", InputWarning)
            return
        rows = np.flatnonzero(missing.all(axis=1))
        if len(rows):
            labels = list(index[rows]) if index is not None else rows
            user_warning(
                f"X has {len(rows)} row(s) {format_indices(labels)} with no observed value: "
                "imputed, each is the training medians, a typical row, and is encoded and "
                "scored as one; drop them or judge them apart.", InputWarning)

    def _names(self, cols) -> list:
        """Columns ``cols`` by name where the model knows their names, else by position."""
        if self.columns or self.feature_names is not None:
            return [repr(self._column_name(j)) for j in cols]
        return list(cols)

    def _not_finite(self, bad: np.ndarray, missing: np.ndarray, index, fit: bool,
                    owner=None) -> str:
        rows = np.flatnonzero(bad.any(axis=1))
        cols = np.flatnonzero(bad.any(axis=0))
        labels = list(index[rows]) if index is not None else rows
        columns = self._names(cols)
        what = "missing values (NaN)" if missing[bad].all() else "NaN or infinity"
        # Only an estimator with a ``missing`` parameter can impute them itself.
        imputes = owner is None or "missing" in owner.get_params(deep=False)
        if self.missing == "impute" or not missing[bad].all():
            fix = "drop them or clip them first (infinity is never a missing value)"
        elif not imputes:
            fix = ("drop them, or impute them first, e.g. with sklearn.impute.SimpleImputer "
                   "in a Pipeline before the estimator")
        elif fit:
            fix = ("drop them, or pass missing='impute' to fill missing numbers with their "
                   "column's median")
        else:
            fix = ("drop or impute them first (e.g. sklearn.impute.SimpleImputer), or refit "
                   "with missing='impute' to fill them with their column's training median")
        return (
            f"X contains {what} in {len(rows)} row(s) {format_indices(labels)}"
            f"{' (index labels)' if index is not None else ''} and {len(cols)} column(s) "
            f"{format_indices(columns)}; {fix}."
        )

    def _column_name(self, j: int):
        if self.columns:
            return self.columns[j]["name"]
        return str(self.feature_names[j])

    # ------------------------------------------------------------------ saving
    def to_config(self) -> dict:
        """The fitted schema as plain JSON (saved with the model)."""
        names = self.feature_names
        return {
            "kind": self.kind,
            "n_features": int(self.n_features),
            "sample_shape": [int(s) for s in self.sample_shape],
            "image_shape": None if self.image_shape is None else list(self.image_shape),
            "feature_names": None if names is None else [str(n) for n in names],
            "columns": self.columns,
            "fill_values": self.fill_values,
            "missing": self.missing,
        }

    @classmethod
    def from_config(cls, config: dict) -> "InputSchema":
        """A fitted schema from :meth:`to_config`'s JSON; a ValueError naming the first
        field that is not what a schema saves (a damaged or hostile file)."""
        config = check_config(config)
        schema = cls(config["missing"])
        schema.kind, schema.n_features = config["kind"], config["n_features"]
        schema.sample_shape = tuple(config["sample_shape"])
        schema.image_shape = None if config["image_shape"] is None \
            else tuple(config["image_shape"])
        names = config["feature_names"]
        schema.feature_names = None if names is None else np.asarray(names, dtype=object)
        schema.columns, schema.fill_values = config["columns"], config["fill_values"]
        return schema

    @classmethod
    def from_fitted(cls, n_features: int, *, missing: str = "error", feature_names=None,
                    input_shape=None, image_shape=None, columns=None, fill_values=None
                    ) -> "InputSchema":
        """The schema of a model saved before schemas were (its separate fitted fields,
        already checked)."""
        return cls.from_config({
            "kind": TABLE if columns is not None else ROWS, "n_features": n_features,
            "sample_shape": list(input_shape or (n_features,)),
            "image_shape": None if image_shape is None else list(image_shape),
            "feature_names": None if feature_names is None else list(feature_names),
            "columns": columns, "fill_values": fill_values if missing == "impute" else None,
            "missing": missing,
        })


# --------------------------------------------------------------------------- helpers
def _checked_frame(X):
    """``X`` when it has rows and columns, each of its own name
    (:func:`~aekit.data.tables.check_column_names`)."""
    check_column_names(X)
    if X.shape[1] == 0:
        raise ValueError(f"X has 0 columns (shape {X.shape}); at least one feature is "
                         "required")
    if len(X) == 0:
        raise ValueError(f"X has 0 rows (shape {X.shape}); at least one is required")
    return X


def _coded(frame, describe):
    """``describe(frame)`` (a description, or coded rows), with cells that hold a list,
    dict or array (unhashable: neither a number nor a category) named by column and row.
    The cells are scanned only when coding fails, so valid tables pay nothing."""
    try:
        return describe(frame)
    except TypeError:
        for j in range(frame.shape[1]):
            series = frame.iloc[:, j]
            if series.dtype != object:
                continue
            bad = series.map(lambda v: isinstance(v, _NOT_CELLS)).to_numpy(dtype=bool)
            if bad.any():
                first = int(np.flatnonzero(bad)[0])
                value = series.iloc[first]
                raise ValueError(
                    f"column {frame.columns[j]!r} holds {type(value).__name__} values (e.g. "
                    f"row {series.index[first]!r}: {_short(value)}); a cell must hold a "
                    "number, a boolean or a category (text): expand such values into "
                    "columns of their own, or turn them into strings (X[col].astype(str))"
                ) from None
        raise


def _check_order(now: list, names: list, what: str = "X", fix: str | None = None) -> None:
    """A ValueError when the columns named ``now`` are the fitted ``names`` in another order,
    naming both orders and the fix (``fix``, else one for a DataFrame ``what``).

    scikit-learn's error for it names neither order, and integer names (a file read without
    a header) are positions to it, so it would take such columns in the wrong places.
    """
    if now == names or len(now) != len(names) or sorted(map(repr, now)) != sorted(map(repr, names)):
        return
    if all(isinstance(n, int) for n in names):
        shown = format_indices(now), format_indices(names)
        fix = fix or ("integer names are taken as positions, so put them back in order "
                      f"first: {what}[sorted({what}.columns)]")
    else:
        shown = format_indices([repr(n) for n in now]), format_indices([repr(n) for n in names])
        fix = fix or f"select them in the fitted order first: {what}[list(model.feature_names_in_)]"
    raise ValueError(f"{what}'s columns are the fitted ones in another order ({shown[0]} now, "
                     f"{shown[1]} in fit); {fix}")


def _check_kinds(frame, columns: list[dict]) -> None:
    """A ValueError naming the columns that hold numbers where the model was fitted on
    categories that are not numbers, or dates and durations where it was fitted on numbers
    (the other way, :func:`encode_table` names them)."""
    import pandas as pd

    api = pd.api.types
    times = [f"{col['name']!r} ({col['dtype']} then, {frame.dtypes.iloc[j]} now)"
             for j, col in enumerate(columns) if col["kind"] == "numeric" and (
                 api.is_datetime64_any_dtype(frame.dtypes.iloc[j])
                 or api.is_timedelta64_dtype(frame.dtypes.iloc[j])
                 or isinstance(frame.dtypes.iloc[j], pd.PeriodDtype))]
    if times:
        raise ValueError(
            f"column(s) {', '.join(times)} held numbers when the model was fitted but hold "
            "dates or durations now; convert them to numbers as they were for fit (e.g. "
            ".astype('int64') in the same unit)")
    wrong = []
    for j, col in enumerate(columns):
        dtype = frame.dtypes.iloc[j]
        if col["kind"] != "categorical" or api.is_bool_dtype(dtype) or \
                not api.is_numeric_dtype(dtype):
            continue
        known = [v for v in col["categories"] if v is not MISSING]
        if known and not any(isinstance(v, (int, float)) and not isinstance(v, bool)
                             for v in known):
            wrong.append(f"{col['name']!r} ({col['dtype']} then, {dtype} now)")
    if wrong:
        raise ValueError(
            f"column(s) {', '.join(wrong)} held categories (text or booleans) when the model "
            "was fitted but hold numbers now; pass the columns with the types they had in fit "
            "(a flag as True/False, not 1/0)"
        )


def _object_rows(X, n_columns: int) -> np.ndarray:
    """Rows of values (n, n_columns) given to a model fitted on a table."""
    if hasattr(X, "toarray"):
        X = X.toarray()
    X = np.asarray(X, dtype=object)
    if X.ndim != 2:
        # One row taken out of a frame (df.iloc[i], a Series) is 1-D: say how to keep it 2-D.
        raise ValueError(f"X has shape {X.shape}; expected a table (n_samples, {n_columns}); "
                         "for one row, pass df.iloc[[i]] (not df.iloc[i]) or row.reshape(1, -1)")
    return X


def _is_number(value) -> bool:
    """Whether NumPy can make ``value`` a float (NaN counts: a missing number)."""
    try:
        float(value)
    except (TypeError, ValueError, OverflowError):
        return False
    return True


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def not_numbers_message(X) -> str:
    """The error for an array (or a DataFrame given to a model fitted on an array, or a
    ``.npy`` file's) with cells that are not numbers: where the first is, how many there
    are, the fix."""
    names = list(X.columns) if is_table(X) else None
    cells = X.to_numpy(dtype=object) if is_table(X) else np.asarray(X, dtype=object)
    cells = cells.reshape(len(cells), -1) if cells.ndim >= 1 else cells.reshape(1, 1)
    bad = ~np.vectorize(_is_number, otypes=[bool])(cells) if cells.size else \
        np.zeros(cells.shape, bool)
    if not bad.any():
        return "X holds values that are not numbers; convert them to numbers first"
    i, j = (int(v) for v in np.argwhere(bad)[0])
    cols = np.flatnonzero(bad.any(axis=0))
    where = [repr(names[c]) for c in cols] if names is not None else cols
    column = repr(names[j]) if names is not None else j
    return (
        f"X holds values that are not numbers: {int(bad.sum())} cell(s) in column(s) "
        f"{format_indices(where)}, the first at row {i}, column {column}: "
        f"{_short(cells[i, j])}. Convert them to numbers, or fit on a pandas DataFrame "
        "(e.g. aekit.data.read_table(path)), whose text columns are taken as categories."
    )


# --------------------------------------------------------------------------- saved form
def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _fail(field: str, expected: str, value) -> ValueError:
    text = repr(value)
    return ValueError(f"field 'fitted.schema_.{field}' must be {expected}, got "
                      f"{text if len(text) <= 60 else text[:57] + '...'}")


def check_columns(value, n_features: int, where: str = "columns"):
    """A table's column description (:func:`aekit.data.tables.describe_columns`) as a
    saved file holds it, or a ValueError naming ``where``."""
    scalar = (str, int, float, bool, type(None))

    def column_ok(c) -> bool:
        if not (isinstance(c, dict) and isinstance(c.get("name"), (str, int))
                and not isinstance(c.get("name"), bool)
                and isinstance(c.get("dtype"), str) and len(c["dtype"]) < 64):
            return False
        if c.get("kind") == "numeric":
            return set(c) == {"name", "kind", "dtype"}
        categories = c.get("categories")
        return (c.get("kind") == "categorical" and isinstance(c.get("ordered"), bool)
                and isinstance(categories, list) and len(categories) >= 1
                and all(isinstance(v, scalar) for v in categories)
                and len({(type(v), v) for v in categories}) == len(categories)
                and set(c) == {"name", "kind", "dtype", "categories", "ordered"})

    if (not isinstance(value, list) or len(value) != n_features
            or not all(column_ok(c) for c in value)):
        raise ValueError(f"{where} must be a list of n_features column descriptions, got "
                         f"{repr(value)[:60]}")
    return value


def check_config(config) -> dict:
    """:meth:`InputSchema.to_config`'s JSON, checked field by field (see from_config)."""
    fields = {"kind", "n_features", "sample_shape", "image_shape", "feature_names",
              "columns", "fill_values", "missing"}
    if not isinstance(config, dict) or set(config) != fields:
        raise ValueError(f"field 'fitted.schema_' must be an object with the fields "
                         f"{sorted(fields)}, got {repr(config)[:80]}")
    kind, n = config["kind"], config["n_features"]
    if kind not in (ROWS, TABLE):
        raise _fail("kind", "'rows' or 'table'", kind)
    if not (_is_int(n) and n >= 1):
        raise _fail("n_features", "a positive integer", n)
    if config["missing"] not in ("error", "impute"):
        raise _fail("missing", "'error' or 'impute'", config["missing"])
    for field, lengths in (("sample_shape", (1, 2, 3)), ("image_shape", (3,))):
        shape = config[field]
        if shape is None and field == "image_shape":
            continue
        if not (isinstance(shape, list) and len(shape) in lengths
                and all(_is_int(s) and s > 0 for s in shape) and math.prod(shape) == n):
            raise _fail(field, f"a shape of {' or '.join(map(str, lengths))} positive "
                        f"integers holding n_features={n} values", shape)
    names = config["feature_names"]
    if names is not None and not (isinstance(names, list) and len(names) == n
                                  and all(isinstance(s, str) for s in names)):
        raise _fail("feature_names", "null or a list of n_features strings", names)
    columns = config["columns"]
    if (kind == TABLE) != (columns is not None):
        raise _fail("columns", "a description exactly when kind is 'table'", columns)
    if columns is not None:
        try:
            check_columns(columns, n, "field 'fitted.schema_.columns'")
        except ValueError as err:
            raise ValueError(str(err)) from None
        if names is not None and [c["name"] for c in columns] != names:
            raise _fail("columns", "columns named as feature_names", columns)
    fill = config["fill_values"]
    if fill is not None and not (isinstance(fill, list) and len(fill) == n and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            for v in fill)):
        raise _fail("fill_values", "null or a list of n_features finite numbers", fill)
    return config
