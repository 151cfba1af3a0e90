"""The side-by-side comparison with PCA and the sweep over code sizes (the errors it is
built on, :mod:`aekit.evaluation.errors`, and the probes on codes,
:mod:`aekit.evaluation.probes`, are re-exported here; its per-column errors are
:mod:`aekit.evaluation.columns`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA
from sklearn.utils.validation import check_is_fitted
from sklearn.exceptions import NotFittedError

from ..core.checks import InputWarning, user_warning
from ..core.fitted import as_fitted
from .errors import (  # noqa: F401 -- re-exported
    element_errors,
    explained_variance,
    r2_central,
    r2_per_feature,
    reconstruction_errors,
    row_errors,
)
from .diagnostics import check_autoencoder
from .columns import cell_errors, column_errors, column_slots, observed_rows
from .probes import CodeQuality, code_quality, probe_codes, sample_rows  # noqa: F401


@dataclass(frozen=True)
class PCAComparison:
    """Test reconstruction errors of an autoencoder and of PCA with the same code size,
    the same split and the same scaling.

    The headline (``ratio``, ``winner``, ``verdict``) compares ``ae_scaled`` and
    ``pca_scaled``: the mean squared error in the model's scaled units (its
    ``to_scaled``), where the autoencoder is trained and where PCA is fitted, summed over
    each row's columns and divided by their number (a categorical column counts by the
    squared error of its probabilities against its one-hot). There every column counts
    alike, whatever its units. ``ae_r2`` / ``pca_r2`` give each column's R² (variance
    explained) there too: for a column scaled affinely (``"standard"``, ``"robust"``,
    ``"minmax"``) the same as in the caller's units; for a column ``scaler="auto"``
    log-transforms, in log units, where its bulk counts and not only its few extreme rows;
    for a categorical column, of its one-hot block. ``accuracy`` gives each categorical
    column's share of rows given back exactly. ``ae_mse``,
    ``pca_mse`` and the row sums are in the caller's raw units (numeric columns only),
    where the widest column decides everything: kept for reference, never the headline.

    ``ratio`` is ``ae_scaled / pca_scaled`` (the raw ratio for comparisons made without a
    scaled space): below 1 the autoencoder wins.
    """

    n_components: int
    ae_mse: float
    pca_mse: float
    ae_row_sse: float
    pca_row_sse: float
    ae_scaled: float | None = None
    pca_scaled: float | None = None
    columns: tuple = ()
    ae_r2: tuple = ()
    pca_r2: tuple = ()
    accuracy: tuple = ()
    """``(column, autoencoder accuracy, PCA accuracy)`` per categorical column."""
    ratio_interval: tuple | None = None
    """95% interval of ``ratio``: a paired bootstrap over the test rows (both models' errors
    on the same resampled rows); None when not computed (PCA exact, fewer than
    :data:`MIN_TEST_ROWS` test rows)."""
    n_test: int = 0
    """Test rows compared (0: not known, as in a sweep's PCA-only entries)."""
    shared_unit: bool = False
    """Every column is in the same unit (an image's pixels): the caller's units lead,
    where errors mean what the user measures, and scaled units follow."""
    pca_exact: bool = False
    """``n_components`` is at least the number of features PCA sees: PCA reconstructs
    exactly (an over-complete code is compared with that exact reconstruction)."""
    model: str = "autoencoder"
    """What the compared model is, as the table names its row (:func:`model_name`:
    ``"variational autoencoder"`` for a VariationalAutoEncoder)."""

    @property
    def ae_error(self) -> float:
        """The autoencoder's error in the headline's unit (scaled, else raw)."""
        return self.ae_mse if self.unit == "raw" else self.ae_scaled

    @property
    def pca_error(self) -> float:
        """PCA's error in the headline's unit (scaled, else raw)."""
        return self.pca_mse if self.unit == "raw" else self.pca_scaled

    @property
    def unit(self) -> str:
        """``"scaled"`` or ``"raw"``: the unit of ``ae_error``, ``pca_error`` and ``ratio``:
        raw (the caller's) for comparisons without a scaled space and for columns sharing
        one unit (``shared_unit``), else scaled."""
        return "raw" if self.ae_scaled is None or self.shared_unit else "scaled"

    @property
    def ratio(self) -> float:
        return self.ae_error / self.pca_error if self.pca_error > 0 else float("inf")

    @property
    def winner(self) -> str:
        return "autoencoder" if self.ae_error < self.pca_error else "PCA"

    @property
    def too_few_rows(self) -> bool:
        """Fewer than :data:`MIN_TEST_ROWS` test rows: too few to call a winner."""
        return 0 < self.n_test < MIN_TEST_ROWS

    @property
    def clear(self) -> bool:
        """Whether the winner is clear: the ratio's interval lies on one side of 1. False
        with fewer than :data:`MIN_TEST_ROWS` test rows (``too_few_rows``); True where PCA
        is exact (its error is 0) and where no interval was computed for another reason."""
        if self.pca_exact:
            return True
        if self.too_few_rows:
            return False
        lo, hi = self.ratio_interval or (0.0, 0.0)
        return self.ratio_interval is None or not lo <= 1.0 <= hi

    def _units_disagree(self) -> bool:
        """The caller's units (when all columns share one: in mixed units the widest
        column decides, so they are no verdict) and the scaled ones rank the two models
        in opposite orders."""
        if not self.shared_unit or self.ae_scaled is None or not (
                np.isfinite(self.ae_mse) and np.isfinite(self.pca_mse)):
            return False
        raw, scaled = np.sign(self.ae_mse - self.pca_mse), np.sign(self.ae_scaled
                                                                    - self.pca_scaled)
        return raw * scaled < 0

    @property
    def columns_better(self) -> tuple[int, int]:
        """(columns where the autoencoder's R² is higher, columns compared)."""
        pairs = [(a, p) for a, p in zip(self.ae_r2, self.pca_r2)
                 if np.isfinite(a) and np.isfinite(p)]
        return sum(a > p for a, p in pairs), len(pairs)

    @property
    def verdict(self) -> str:
        """The comparison in words, e.g. ``"31% lower error than PCA (scaled units; 95%
        interval of the ratio 0.62-0.75 over 400 test rows), better R² on 5 of 6
        columns"``, or ``"no clear winner: ..."`` when the ratio's interval spans 1 or there
        are fewer than :data:`MIN_TEST_ROWS` test rows: what the report's summary and
        ``aekit demo`` say."""
        unit = {"scaled": " (scaled units)", "raw": " (your units)" if self.shared_unit
                else ""}[self.unit]
        if self.pca_exact:
            text = (f"PCA is exact here (n_components={self.n_components} is at least the "
                    f"number of features, so it reconstructs without error); the "
                    f"autoencoder's error is {self.ae_error:.3g}{unit}")
            return text
        ratio = self.ratio
        if ratio <= 0.5:
            text = f"{1 / ratio:.3g}x lower error than PCA{unit}" if ratio > 0 else \
                f"no error, PCA's is {self.pca_error:.3g}{unit}"
        elif ratio >= 2:
            text = f"{ratio:.3g}x higher error than PCA{unit}"
        elif self.winner == "autoencoder":
            text = f"{1 - ratio:.0%} lower error than PCA{unit}"
        else:
            text = f"{ratio - 1:.0%} higher error than PCA{unit}"
        if self.too_few_rows:
            rows = f"{self.n_test} test row{'s' if self.n_test > 1 else ''}"
            text = (f"no clear winner: {text} on {rows}, too few to tell (at least "
                    f"{MIN_TEST_ROWS} are needed for a 95% interval of the ratio)")
        elif self.ratio_interval is not None:
            lo, hi = self.ratio_interval
            span = f"95% interval of the ratio {lo:.3g}-{hi:.3g} over {self.n_test} test rows"
            if not self.clear:
                text = f"no clear winner: {text}, but the {span} includes 1"
            elif text.endswith(")"):  # "(scaled units)": one parenthesis for both
                text = f"{text[:-1]}; {span})"
            else:
                text = f"{text} ({span})"
        if self._units_disagree():
            other = "scaled units" if self.unit == "raw" else "your units"
            a, p = ((self.ae_scaled, self.pca_scaled) if self.unit == "raw"
                    else (self.ae_mse, self.pca_mse))
            text += (f"; in {other} the order is reversed ({a:.3g} against PCA's "
                     f"{p:.3g})")
        better, n = self.columns_better
        return text + (f", better R² on {better} of {n} columns" if n else "")

    def to_dict(self) -> dict:
        return {
            "n_components": self.n_components,
            "unit": self.unit,
            "ae_error": self.ae_error,
            "pca_error": self.pca_error,
            "ratio": self.ratio,
            "ratio_interval": None if self.ratio_interval is None
            else [float(v) for v in self.ratio_interval],
            "winner": self.winner,
            "clear_winner": self.clear,
            "pca_exact": self.pca_exact,
            "ae_scaled": self.ae_scaled,
            "pca_scaled": self.pca_scaled,
            "ae_mse": self.ae_mse,
            "pca_mse": self.pca_mse,
            "ae_row_sse": self.ae_row_sse,
            "pca_row_sse": self.pca_row_sse,
            "r2": {"columns": list(self.columns), "autoencoder": _nan_none(self.ae_r2),
                   "pca": _nan_none(self.pca_r2)},
            "accuracy": [{"column": c, "autoencoder": a, "pca": p}
                         for c, a, p in self.accuracy],
        }

    def __str__(self) -> str:
        k = self.n_components
        head = ("model", "scaled error", "MSE / element", "SSE / row")
        rows = [head,
                (f"{self.model} (k={k})", _g(self.ae_scaled), _g(self.ae_mse),
                 _g(self.ae_row_sse)),
                (f"PCA (k={k})", _g(self.pca_scaled), _g(self.pca_mse), _g(self.pca_row_sse))]
        lines = _table(rows)
        lines.append(f"AE / PCA error ratio: {self.ratio:.3f} in {self.unit} units; "
                     f"{self.verdict}")
        if self.columns and len(self.columns) <= 60:
            lines += ["", "per column (test split)       R² AE    R² PCA"]
            accuracy = {c: (a, p) for c, a, p in self.accuracy}
            for name, a, p in zip(self.columns, self.ae_r2, self.pca_r2):
                line = f"{name[:28]:<28} {a:8.3f}  {p:8.3f}"
                if name in accuracy:
                    line += (f"   accuracy {accuracy[name][0]:.3f} vs "
                             f"{accuracy[name][1]:.3f}")
                lines.append(line)
        better, n = self.columns_better
        if n:
            lines.append(f"the autoencoder's R² is higher on {better} of {n} columns")
        return "\n".join(lines)


def _g(value) -> str:
    return "—" if value is None else f"{value:.6g}"


def _nan_none(values) -> list:
    return [None if not np.isfinite(v) else float(v) for v in values]


def _table(rows) -> list[str]:
    w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join([f"{r[0]:<{w[0]}}"] + [f"{c:>{w[i + 1]}}" for i, c in enumerate(r[1:])])
             for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    return lines


def _numeric_values(X, names: list[str]) -> np.ndarray:
    """The numeric columns ``names`` of rows ``X`` (a DataFrame or an array), float64."""
    if hasattr(X, "columns"):
        return X[names].to_numpy(dtype=np.float64, na_value=np.nan) if names \
            else np.zeros((len(X), 0))
    X = np.asarray(X, dtype=np.float64)
    return X.reshape(len(X), -1)


BOOTSTRAP_DRAWS = 1000
"""Resamples of the test rows behind :attr:`PCAComparison.ratio_interval`."""

MIN_TEST_ROWS = 20
"""Fewest test rows on which :class:`PCAComparison` names a winner and computes
:attr:`~PCAComparison.ratio_interval`. Below it the bootstrap's 95% interval covers the
true ratio far less often than 95% (0.76-0.88 on 3-10 rows, 0.91 from 20 on;
``bench/interval_coverage.py``, docs/decisions.md): a winner named on a handful of rows
would be chance read as a fact."""


def ratio_interval(ae_errors, pca_errors, observed=None, *, n_draws: int = BOOTSTRAP_DRAWS,
                   random_state=0, min_rows: int = MIN_TEST_ROWS
                   ) -> tuple[float, float] | None:
    """95% interval of the ratio of two models' errors by a paired bootstrap over rows: the
    same resampled rows for both models, so what the rows have in common cancels out.

    Parameters
    ----------
    ae_errors, pca_errors : array-like of shape (n_rows,) or (n_rows, n_columns)
        Each row's error (the ratio is ``sum(ae_errors) / sum(pca_errors)``), or each
        cell's (:func:`~aekit.evaluation.columns.cell_errors`; the ratio is that of
        :func:`~aekit.evaluation.columns.column_errors`' headline: the mean over columns of
        each column's mean over its observed cells).
    observed : array-like of bool of shape (n_rows, n_columns), optional
        Which cells are observed (default: all); the others are left out.
    n_draws, random_state : int
        Resamples, and the seed that draws them.
    min_rows : int, default=MIN_TEST_ROWS
        Fewest rows to compute an interval on (at least 2).

    Returns
    -------
    (low, high) or None
        None with fewer than ``min_rows`` rows or no error to divide by.
    """
    a, p = (np.asarray(e, np.float64).reshape(len(e), -1) for e in (ae_errors, pca_errors))
    seen = np.ones(a.shape, dtype=bool) if observed is None else \
        np.asarray(observed, dtype=bool).reshape(a.shape)
    a, p = np.where(seen, a, 0.0), np.where(seen, p, 0.0)
    n = len(a)
    if n < max(min_rows, 2) or not (np.isfinite(a).all() and np.isfinite(p).all()) \
            or p.sum() <= 0:
        return None
    # Columns observed on every row have n rows in every resample: their column means sum
    # to the row sums' mean. Only the others need their own row counts per resample.
    full = seen.all(0)
    a_full, p_full = a[:, full].sum(1), p[:, full].sum(1)
    a_part, p_part, s_part = a[:, ~full], p[:, ~full], seen[:, ~full].astype(np.float64)
    rng = np.random.default_rng(random_state)
    ratios = []
    chunk = max(1, min(n_draws, 4_000_000 // n))  # bounded memory on large test sets
    for start in range(0, n_draws, chunk):
        m = min(chunk, n_draws - start)
        idx = rng.integers(0, n, size=(m, n))
        # How often each row is drawn in each resample (m, n).
        W = np.bincount((idx + n * np.arange(m)[:, None]).ravel(),
                        minlength=m * n).reshape(m, n).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            count = W @ s_part  # a column unobserved in a resample drops out of both
            top = W @ a_full / n + np.nansum(W @ a_part / count, axis=1)
            bottom = W @ p_full / n + np.nansum(W @ p_part / count, axis=1)
            ratios.append(top / bottom)
    lo, hi = np.nanquantile(np.concatenate(ratios), [0.025, 0.975])
    return float(lo), float(hi)


def compare_reconstructions(k, slots, X_test, X_ae, X_pca, S_test, S_ae, S_pca, *,
                            shared_unit: bool = False,
                            model: str = "autoencoder") -> PCAComparison:
    """A :class:`PCAComparison` from the test rows and both models' reconstructions, in the
    caller's units (``X_*``: arrays or DataFrames) and in scaled units (``S_*``, arrays of
    the slots ``slots`` describe, see :func:`~aekit.evaluation.columns.column_slots`).
    Missing cells of ``X_test`` are left out of every number
    (:func:`~aekit.evaluation.columns.observed_rows`). With ``k`` at least the number of
    scaled features PCA is exact, and ``S_pca`` is taken as ``S_test`` (no rounding error
    to divide by). ``shared_unit``: every column is in the caller's one unit (pixels),
    which then leads. ``model``: what the model is (:func:`model_name`)."""
    numeric = [name for name, kind, _ in slots if kind == "numeric"]
    table = hasattr(X_test, "columns")
    exact = k >= np.shape(S_test)[1]
    if exact:
        S_pca, X_pca = np.array(S_test, dtype=np.float64), X_test
    X, A, P = (_numeric_values(M, numeric if table else []) for M in (X_test, X_ae, X_pca))
    nan = {"mse": float("nan"), "row_sse": float("nan")}  # no numeric column: no raw error
    ae_err, pca_err = (reconstruction_errors(X, M) if X.shape[1] else nan for M in (A, P))
    # Each column's R² where the error is measured: the same as in the caller's units for a
    # column scaled affinely, in log units for a log-transformed one (whose few extreme rows
    # would decide it in raw units), of the one-hot block for a categorical one.
    rows = observed_rows(X_test, slots)
    ae_scaled, ae_r2 = column_errors(S_test, S_ae, slots, rows)
    pca_scaled, pca_r2 = column_errors(S_test, S_pca, slots, rows)
    accuracy = [(name, _agreement(X_test[name], X_ae[name]), _agreement(X_test[name],
                                                                         X_pca[name]))
                for name, kind, _ in slots if kind == "categorical" and table]
    shared_unit = bool(shared_unit) and X.shape[1] == len(slots)  # numbers only
    # The interval resamples the headline's own statistic: in the caller's units, the sum
    # over observed cells (the same cells for both models); in scaled units, the mean over
    # columns of each column's mean over its observed cells.
    if shared_unit:
        ae_cells, pca_cells = (np.nansum((M - X) ** 2, axis=1) for M in (A, P))
        seen = None
    else:
        (ae_cells, seen), (pca_cells, _) = (cell_errors(S_test, M, slots, rows)
                                            for M in (S_ae, S_pca))
    interval = None if exact else ratio_interval(ae_cells, pca_cells, seen)
    return PCAComparison(k, ae_err["mse"], pca_err["mse"], ae_err["row_sse"],
                         pca_err["row_sse"], ae_scaled, pca_scaled,
                         tuple(name for name, _, _ in slots), tuple(ae_r2), tuple(pca_r2),
                         tuple(accuracy), interval, len(S_test), shared_unit, exact, model)


def model_name(estimator) -> str:
    """What ``estimator`` is, in words, as tables and figures name it beside PCA: a class
    named ``...AutoEncoder`` in words (``"variational autoencoder"``), else
    ``"autoencoder"``; a subclass of the caller's (``MyVAE``) is named as the aekit class
    it builds on. From the class's name: this package imports no estimator."""
    name = next((cls.__name__ for cls in type(estimator).__mro__
                 if cls.__module__.startswith("aekit.") and cls.__name__.endswith("AutoEncoder")),
                "AutoEncoder")
    words = re.findall(r"[A-Z][a-z0-9]*", name.removesuffix("AutoEncoder"))
    return " ".join([*(word.lower() for word in words), "autoencoder"])


def _agreement(truth, values) -> float:
    """Share of rows where ``values`` equals ``truth`` (two missing values agree)."""
    import pandas as pd

    t, v = pd.Series(np.asarray(truth, dtype=object)), pd.Series(np.asarray(values, dtype=object))
    return float(((t == v) | (t.isna() & v.isna())).mean())


def _row_hashes(S: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each row of the 2-D array ``S``: equal rows, equal hashes."""
    import pandas as pd

    return pd.util.hash_pandas_object(pd.DataFrame(S), index=False).to_numpy()


def _warn_shared_rows(S_train: np.ndarray, S_test: np.ndarray) -> None:
    """An :class:`~aekit.core.checks.InputWarning` when test rows are also training rows
    (compared as the models see them, scaled): scored there, both models are measured on
    rows they were fitted on, and the one that memorises more looks better."""
    shared = int(np.isin(_row_hashes(S_test), _row_hashes(S_train)).sum())
    if shared:
        user_warning(
            f"{shared} of the {len(S_test)} test rows ({shared / len(S_test):.0%}) are also "
            "in X_train: on them both models are scored on rows they were fitted on, which "
            "flatters the one that memorises more, so the comparison is not a test error. "
            "Pass rows held out from fitting as X_test (e.g. from "
            "sklearn.model_selection.train_test_split), without the duplicates of training "
            "rows.", InputWarning)


def compare_with_pca(estimator, X_train, X_test, *, fit: bool | None = None,
                     shared_unit: bool | None = None) -> PCAComparison:
    """Compare an autoencoder with PCA: same code size, same split, same scaling, same
    metric.

    PCA with ``estimator.n_components`` components is fitted on ``X_train`` as the
    autoencoder sees it (``estimator.to_scaled``: its in-model scaling, categories
    one-hot); both models reconstruct ``X_test`` and are scored in those scaled units
    (the headline), per column by R² in those scaled units (log units for a log-scaled
    column, the one-hot block for a categorical one), and in raw units.

    Parameters
    ----------
    estimator : AutoEncoder
        Fitted, or unfitted (then it is fitted on ``X_train`` in place). An object without
        ``to_scaled`` is compared in the caller's units.
    X_train : array-like or DataFrame of shape (n_train, n_features)
    X_test : array-like or DataFrame of shape (n_test, n_features)
    fit : bool, optional
        Force (True) or forbid (False) fitting the estimator; default: fit if unfitted.
    shared_unit : bool, optional
        Whether every column is in one unit (an image's pixels): then the headline is in
        the caller's units, where the user judges errors, and scaled units follow (both
        are shown where they rank the models differently). Default: True for a model
        fitted on images (``input_shape_`` of 2 or 3 dimensions), else False.

    Warns
    -----
    InputWarning
        When rows of ``X_test`` are also rows of ``X_train`` (the same values as the model
        sees them): the comparison is then no test error.

    Returns
    -------
    PCAComparison
        Prints as a table; ``ratio < 1`` means the autoencoder reconstructs better, with a
        95% bootstrap interval over the test rows (``ratio_interval``): "no clear winner"
        when it spans 1, or with fewer than :data:`MIN_TEST_ROWS` test rows. With
        ``n_components`` at least the number of features, PCA is exact and the comparison
        says so (an over-complete code is compared with the exact reconstruction).

    Raises
    ------
    TypeError
        For a classifier, a detector or a Pipeline, with what to compare instead.
    """
    check_autoencoder(estimator, "compare_with_pca compares an autoencoder's "
                      "reconstructions with PCA's", {
                          "encoder": "compare the autoencoder it was built on, its "
                                     "autoencoder_",
                          "detector": "its page compares its scores with the classic "
                                      "detectors': aekit.report.build_detector_report("
                                      "detector, X, anomaly=y)",
                          "classifier": "a classifier reconstructs nothing; compare an "
                                        "AutoEncoder"})
    if fit is None:
        try:
            check_is_fitted(estimator)
            fit = False
        except NotFittedError:
            fit = True
    if fit:
        estimator.fit(X_train)
    k = as_fitted(estimator).n_components  # the codes' width as fitted
    scaled = callable(getattr(estimator, "to_scaled", None))
    if scaled:
        S_train, S_test = estimator.to_scaled(X_train), estimator.to_scaled(X_test)
    else:
        S_train, S_test = (np.asarray(X, np.float64).reshape(len(X), -1)
                           for X in (X_train, X_test))
    S_train, S_test = np.asarray(S_train, np.float64), np.asarray(S_test, np.float64)
    _warn_shared_rows(S_train, S_test)
    check_pca_rows(k, S_train.shape)
    if k >= S_train.shape[1]:  # PCA is exact (compare_reconstructions takes S_test)
        S_pca = S_test
    else:
        pca = PCA(n_components=k, svd_solver="full").fit(S_train)
        S_pca = pca.inverse_transform(pca.transform(S_test))
    X_ae = estimator.reconstruct(X_test)
    if scaled:
        S_ae = estimator.reconstruct_scaled(X_test)
        X_pca = estimator.from_scaled(S_pca, like=X_test)
    else:
        S_ae, X_pca = np.asarray(X_ae, np.float64).reshape(len(S_test), -1), S_pca
    if not hasattr(X_test, "columns"):
        X_pca = np.asarray(X_pca).reshape(np.shape(X_ae))
    slots = column_slots(estimator, S_test.shape[1])
    if shared_unit is None:
        shared_unit = len(getattr(estimator, "input_shape_", ()) or ()) >= 2
    return compare_reconstructions(k, slots, X_test, X_ae, X_pca, S_test, S_ae, S_pca,
                                   shared_unit=shared_unit, model=model_name(estimator))


def check_pca_rows(k: int, shape: tuple[int, int]) -> None:
    """Refuse a PCA baseline of ``k`` components on training rows of ``shape`` (in scaled
    units) that cannot have them: fewer rows than ``k`` where ``k`` is below the number of
    features. (``k`` at least the number of features is compared with PCA's exact
    reconstruction, whatever the rows.) A PCA of fewer components is no baseline at the
    same code size."""
    if shape[1] > k > shape[0]:
        raise ValueError(
            f"PCA cannot have n_components={k} with X_train of shape {tuple(shape)}; "
            "PCA needs n_components <= min(n_samples, n_features): give at least "
            f"{k} training rows"
        )


# --------------------------------------------------------------------------- sweeps over k
def pca_sweep(
    X_train,
    X_test,
    ks: Iterable[int],
    estimator_factory: Callable[[int], object] | None = None,
    *,
    pca: PCA | None = None,
    scaled_by=None,
    shared_unit: bool = False,
) -> list[PCAComparison]:
    """Test error of the autoencoder and of PCA for each code size ``k``.

    Parameters
    ----------
    X_train : array-like of shape (n_train, n_features)
    X_test : array-like of shape (n_test, n_features)
    ks : iterable of int
        Code sizes, each ``<= min(n_train, n_features)``.
    estimator_factory : callable, optional
        ``estimator_factory(k)`` returns an *unfitted* estimator with ``n_components=k``; it
        is fitted on ``X_train`` and compared as :func:`compare_with_pca` does (PCA in its
        scaled units). ``None`` sweeps PCA only (the autoencoder fields are NaN).
    pca : PCA, optional
        A PCA already fitted on ``X_train`` (in ``scaled_by``'s scaled units, if given)
        with at least ``max(ks)`` components, to reuse; default: one is fitted here.
    scaled_by : fitted estimator, optional
        A PCA-only sweep in this model's scaled units (its ``to_scaled``), to draw beside
        its own error; default: the caller's units.
    shared_unit : bool, default=False
        With ``scaled_by``: every column shares the caller's unit (pixels), which leads,
        as in :func:`compare_with_pca`.

    Returns
    -------
    sweep : list of PCAComparison
        One per ``k``, in the order given; :func:`aekit.plotting.error_vs_k` draws it.
    """
    S_train, S_test = (scaled_by.to_scaled(X) if scaled_by is not None else X
                       for X in (X_train, X_test))
    S_train, S_test = (np.asarray(S, dtype=np.float64).reshape(len(S), -1)
                       for S in (S_train, S_test))
    ks = [int(k) for k in ks]
    bad = [k for k in ks if not 1 <= k <= min(S_train.shape)]
    if bad or not ks:
        raise ValueError(
            f"ks={ks} must be non-empty, each k in [1, {min(S_train.shape)}] for X_train of "
            f"shape {S_train.shape} (PCA needs k <= min(n_samples, n_features))"
        )
    if estimator_factory is not None:
        return [compare_with_pca(estimator_factory(k), X_train, X_test, fit=True) for k in ks]
    # PCA's first k components do not depend on how many more are fitted: one fit serves all k.
    if pca is None:
        pca = PCA(n_components=max(ks), svd_solver="full").fit(S_train)
    elif pca.n_components_ < max(ks):
        raise ValueError(f"pca has {pca.n_components_} components; the sweep needs {max(ks)}")
    if scaled_by is not None:
        slots = column_slots(scaled_by, S_test.shape[1])
        rows = observed_rows(X_test, slots)  # imputed cells are no error, as in the headline
    out = []
    nan = float("nan")
    for k in ks:
        view = _PCAView(pca, k)
        S_pca = view.inverse_transform(view.transform(S_test))
        scaled = None
        if scaled_by is not None:
            scaled = column_errors(S_test, S_pca, slots, rows)[0]
            X_pca = scaled_by.from_scaled(S_pca, like=X_test)
            numeric = [name for name, kind, _ in slots if kind == "numeric"]
            table = hasattr(X_test, "columns")
            X_num = _numeric_values(X_test, numeric if table else [])
            pca_err = reconstruction_errors(X_num, _numeric_values(
                X_pca, numeric if table else [])) if X_num.shape[1] else {"mse": nan,
                                                                         "row_sse": nan}
        else:
            pca_err = reconstruction_errors(S_test, S_pca)
        out.append(PCAComparison(k, nan, pca_err["mse"], nan, pca_err["row_sse"],
                                 None if scaled is None else nan, scaled,
                                 shared_unit=shared_unit and scaled is not None))
    return out


class _PCAView:
    """The first ``k`` components of a fitted PCA, with PCA's transform / inverse_transform."""

    def __init__(self, pca: PCA, k: int):
        self.n_components = self.n_components_ = k
        self.mean_ = pca.mean_
        self.components_ = pca.components_[:k]

    def transform(self, X) -> np.ndarray:
        return (np.asarray(X, dtype=np.float64) - self.mean_) @ self.components_.T

    def inverse_transform(self, Z) -> np.ndarray:
        return np.asarray(Z, dtype=np.float64) @ self.components_ + self.mean_


class ScaledPCA:
    """A PCA fitted in an estimator's scaled units (its ``to_scaled``), with
    ``transform``, ``inverse_transform`` and ``reconstruct`` in the caller's units: the PCA
    :func:`compare_with_pca` measures, for plots and probes beside the estimator.

    Parameters
    ----------
    estimator : fitted AutoEncoder
    pca : fitted PCA, in ``estimator``'s scaled units
    n_components : int, optional
        Use the first ``n_components`` of ``pca`` (a PCA with that many components: one
        fit serves every smaller one); default all of them. At least the number of scaled
        features: PCA is exact, as :func:`compare_with_pca` takes it, and ``reconstruct``
        gives the rows themselves (``exact``), even where ``pca`` has fewer components (a
        fit on fewer rows than features); the codes are all of ``pca``'s.
    """

    def __init__(self, estimator, pca, n_components: int | None = None):
        # An over-complete code is compared with PCA's exact reconstruction (all the
        # components there are), so its plots must draw that, not a PCA of fewer rows.
        self.exact = n_components is not None and n_components >= pca.components_.shape[1]
        if n_components is not None:
            pca = _PCAView(pca, min(n_components, pca.n_components_))
        self.estimator, self.pca = estimator, pca
        self.n_components = self.n_components_ = pca.n_components_

    def to_scaled(self, X) -> np.ndarray:
        return self.estimator.to_scaled(X)

    def transform(self, X) -> np.ndarray:
        return self.pca.transform(np.asarray(self.to_scaled(X), dtype=np.float64))

    def inverse_transform(self, Z):
        return self.estimator.from_scaled(self.pca.inverse_transform(Z))

    def reconstruct_scaled(self, X) -> np.ndarray:
        return self.rebuild(np.asarray(self.to_scaled(X), dtype=np.float64))

    def rebuild(self, S) -> np.ndarray:
        """The reconstruction, in scaled units, of rows ``S`` already in scaled units."""
        if self.exact:
            return np.array(S, dtype=np.float64)
        return self.pca.inverse_transform(self.pca.transform(S))

    def reconstruct(self, X):
        return self.estimator.from_scaled(self.reconstruct_scaled(X), like=X)
