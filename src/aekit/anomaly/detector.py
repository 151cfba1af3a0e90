"""Anomaly detection with an ensemble of small autoencoders: :class:`OutlierDetector`.

Reconstruction error alone is a weak anomaly score on real tables: anomalies among the
training rows get learnt, a few extreme values dominate the scaling, and rows that are
reconstructed well but sit where no normal row does go unnoticed. The detector guards
against each (every choice measured on the ADBench tables, ``bench/anomaly.py --ablation``):

- the scaler's statistics come from the rows left once the most outlying 10% are set
  aside (``scaler="trimmed"``), so anomalies do not shrink the normal rows' spread;
- each member trains on its own subsample of at most ``max_samples`` rows (fit time does
  not grow with the data), on inputs clipped to ``±clip`` scaled units, and every 5 epochs
  drops its ``trim_fraction`` worst-reconstructed rows from its loss: the anomalies in the
  training rows stop pulling the network towards them;
- the score adds to the reconstruction error the distance of the row's code to its
  nearest training codes (a density in code space), each on the scale of the member's own
  training rows, averaged over the members.
"""

from __future__ import annotations

import math
import time
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.utils import check_random_state
from sklearn.utils.random import sample_without_replacement
from sklearn.utils.validation import check_is_fitted

from ..core.checks import (
    Interval,
    SizeTuple,
    StrOptions,
    resolve_device,
    seeded_torch_rng,
    to_tensor,
)
from ..training.callbacks import Callback, RunHooks, check_callbacks, fit_hooks
from ..nn.ensemble import SCORE_QUANTILES, EnsembleAutoEncoder, knn_distance
from ..nn.layers import ACTIVATIONS
from ..nn.tabular import TabularScaler
from ..training.objectives import EnsembleReconstruction
from ..training.sanity import check_kept_model
from ..training.loop import autocast_dtype, fit_loop, infer, init_state, make_optimizer
from ..estimators import _tables
from ..estimators._params import TRAINING as _SHARED
from ..estimators._params import loop_callbacks, validate_params
from ..estimators._saving import SavableMixin
from ..estimators._recovery import fit_atomically
from .robust import SCALER_ROWS, auto_threshold, location_scale, scaler_statistics

SCORE_BATCH = 512
"""Rows per forward pass when scoring: small enough that a batch's code distances to every
member's reference codes stay in the CPU's cache (twice as fast as 2,048 rows)."""

THRESHOLD_ROWS = 100_000
"""``offset_`` and the training-score quantiles come from at most this many training rows
(a random sample; all of them below that)."""

TRAINING = _SHARED.override(
    batch_size={"default": 64, "note": "Here: rows per member per step.",
                "why": "64 here: a member trains on at most max_samples=256 rows, 4 steps an "
                       "epoch at 64."},
    max_epochs={"note": "Here: passes over each member's subsample."},
    validation_fraction={"note": "Here: a share of each member's subsample, held out only "
                                 "with early_stopping."},
    early_stopping={"default": False,
                    "note": "Here the hold-out's loss counts its clean-looking rows only "
                            "(each member's\n``trim_fraction`` worst rows left out).",
                    "why": "Off here: it doubled the fit time for no gain in ROC-AUC "
                           "(docs/decisions.md)."},
    patience={"default": 10,
              "why": "10 here: a member's epoch is a few steps, so fewer epochs tell a "
                     "plateau."},
    random_state={"note": "Also seeds each member's subsample."},
)
"""The training parameters as the detector documents them (its own defaults, with why)."""

TRIM_EVERY = 5
"""Epochs between two trimmings of each member's worst-reconstructed rows."""


class _TrimRows(Callback):
    """Every :data:`TRIM_EVERY` epochs, weigh each member's ``share`` worst-reconstructed
    training rows 0 (and the others 1) in the loss.

    ``rows`` (S, M, d) and ``weights`` (S, M) are the training tensors given to the loop;
    the weights are changed in place, the module is not.
    """

    def __init__(self, rows: torch.Tensor, weights: torch.Tensor, share: float):
        self.rows, self.weights, self.share = rows, weights, share

    @torch.no_grad()
    def on_epoch_end(self, state: dict, record: dict) -> None:
        if self.share <= 0 or record["epoch"] % TRIM_EVERY:
            return
        module = state["module"]
        was_training = module.training
        module.eval()
        x = self.rows.transpose(0, 1)  # (M, S, d)
        err = module.column_errors(x, x)[0].mean(2)  # (M, S)
        module.train(was_training)
        n_kept = max(2, round((1 - self.share) * err.shape[1]))
        cut = err.kthvalue(min(n_kept, err.shape[1]), dim=1, keepdim=True).values
        self.weights.copy_((err <= cut).t().to(self.weights.dtype))


@TRAINING.document
class OutlierDetector(_tables.InputMixin, OutlierMixin, SavableMixin, BaseEstimator):
    """Unsupervised anomaly detector: an ensemble of small autoencoders, trained so as not
    to learn the anomalies, scoring reconstruction error and code-space density.

    scikit-learn's outlier-detector API (as :class:`~sklearn.ensemble.IsolationForest`):
    ``fit(X)`` on unlabelled rows (anomalies may be among them), :meth:`score_samples`
    (higher is more normal), :meth:`decision_function` (``score_samples - offset_``,
    negative for outliers), :meth:`predict` (+1 inlier, -1 outlier) and ``fit_predict``.
    The threshold can be moved after fit, without refitting (:meth:`set_threshold`), and
    each row's score is explained per input column (:meth:`feature_scores`,
    :meth:`explain`). Saved without pickle by ``save``; :func:`aekit.load` restores it.

    ``X`` is an array, a sparse matrix or a pandas DataFrame, through the same input schema
    as the autoencoders' (:class:`~aekit.data.schema.InputSchema`): a DataFrame's text,
    categorical and boolean columns are categories (each seen as one-hot columns scaled
    like numbers; a categorical column gets one explanation score; a category unknown at
    fit time is scored, not an error). Missing numbers are as ``missing`` says.

    Parameters
    ----------
    contamination : "auto" or float, default="auto"
        The share of the training rows to flag (sets ``offset_``), or ``"auto"``. ``"auto"``
        flags the rows whose anomaly score is beyond Tukey's outer fence of the training scores
        (third quartile plus 3 interquartile ranges), however many that is. Beyond 100,000
        training rows, the scores of a random 100,000 of them set it.
    n_estimators : int, default=8
        Autoencoders in the ensemble, each trained on its own subsample.
    max_samples : int, default=256
        Rows each member trains on, a subsample of its own (all rows when there are fewer).
        The fit's cost does not grow with the number of rows; 256 is also
        IsolationForest's subsample size. On the ADBench
        tables 256 scored higher than 512 and 1,024 (and on Fashion-MNIST as high), at half
        the time.
    n_components : int, default=None
        Code size of each member; None is ``round(sqrt(n_features))``.
    hidden_layer_sizes : tuple of int or "auto", default="auto"
        Encoder hidden widths (the decoder mirrors them); ``"auto"`` is one layer of
        ``2 * n_features`` units, at least 16 and at most 64.
    activation : {"elu", "relu", "leaky_relu", "selu", "tanh", "sigmoid", "linear"}, default="elu"
        Hidden-layer activation.
    scaler : {"trimmed", "robust", "standard"} or None, default="trimmed"
        Per-column scaling fitted in the model. ``"trimmed"``: mean and standard deviation
        of the rows left once the 10% most outlying (largest mean squared z-score) are set
        aside, so anomalies among the training rows do not inflate the spread.
        ``"robust"``: median and interquartile range. ``"standard"``: all rows' mean and
        standard deviation.
    missing : {"error", "impute"}, default="error"
        A missing number (NaN) is an error naming its rows and columns (``"error"``), or
        is filled with its column's training median (``"impute"``), in fit and scoring.
    clip : float, default=5.0
        Training inputs are clipped to ``±clip`` scaled units, so a few extreme values do
        not dominate the loss; scores use the rows as they are. None: no clipping.
    trim_fraction : float, default=0.1
        Every 5 epochs, each member leaves this share of its worst-reconstructed training
        rows out of its loss (and out of its reference codes).
    density_weight : float, default=1.0
        Weight of the code-space term of the score: the mean distance of a row's code to
        its ``n_neighbors`` nearest training codes, on the scale of the training rows' own
        distances. 0 scores the reconstruction error alone.
    n_neighbors : int, default=5
        Neighbours of the code-space term.
    <training parameters>

    Attributes
    ----------
    offset_ : float
        ``decision_function = score_samples - offset_``; rows below it are outliers.
    threshold_ : float
        ``-offset_``: the threshold on the anomaly score ``-score_samples``.
    module_ : EnsembleAutoEncoder
        The members, the in-model scaler and the state of the scores.
    n_components_, hidden_layer_sizes_ : int, tuple of int
        The members' sizes.
    n_reference_ : int
        Training rows per member (its subsample, less its hold-out).
    n_neighbors_ : int
        Neighbours of the code-space term as fitted (fewer with few rows; 0: no term).
    history_ : list of dict
        One record per epoch (``loss``, ``val_loss``, ``seconds``).
    n_iter_ : int
    fit_seconds_ : float
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` had string column names.
    schema_ : aekit.data.schema.InputSchema
        What the detector takes as input (columns, their kinds and categories, fill
        values), applied by every method.
    device_ : torch.device

    Examples
    --------
    >>> import numpy as np
    >>> from aekit import OutlierDetector
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 4))
    >>> X[:5] += 6  # five anomalies among the training rows
    >>> det = OutlierDetector(contamination=0.01, random_state=0).fit(X)
    >>> det.predict(X[:5]).tolist()
    [-1, -1, -1, -1, -1]
    """

    _parameter_constraints: dict = {
        "contamination": [StrOptions({"auto"}), Interval(Real, 0, 0.5, closed="right")],
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "max_samples": [Interval(Integral, 2, None, closed="left")],
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
        "hidden_layer_sizes": [StrOptions({"auto"}), SizeTuple()],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "scaler": [StrOptions({"trimmed", "robust", "standard"}), None],
        "clip": [Interval(Real, 0, None, closed="neither"), None],
        "trim_fraction": [Interval(Real, 0, 1, closed="left")],
        "density_weight": [Interval(Real, 0, None, closed="left")],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "missing": [StrOptions({"error", "impute"})],
    }

    _saved_attributes = (
        "n_features_in_",
        "feature_names_in_",
        "offset_",
        "n_components_",
        "hidden_layer_sizes_",
        "n_reference_",
        "n_neighbors_",
        "history_",
        "n_iter_",
        "fit_seconds_",
        "schema_",
    )

    def __init__(
        self,
        contamination="auto",
        *,
        n_estimators=8,
        max_samples=256,
        n_components=None,
        hidden_layer_sizes="auto",
        activation="elu",
        scaler="trimmed",
        missing="error",
        clip=5.0,
        trim_fraction=0.1,
        density_weight=1.0,
        n_neighbors=5,
        optimizer=TRAINING.optimizer,
        learning_rate=TRAINING.learning_rate,
        weight_decay=TRAINING.weight_decay,
        batch_size=TRAINING.batch_size,
        max_epochs=TRAINING.max_epochs,
        validation_fraction=TRAINING.validation_fraction,
        early_stopping=TRAINING.early_stopping,
        patience=TRAINING.patience,
        tol=TRAINING.tol,
        random_state=TRAINING.random_state,
        device=TRAINING.device,
        precision=TRAINING.precision,
        verbose=TRAINING.verbose,
        callbacks=TRAINING.callbacks,
    ):
        self.contamination = contamination
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.scaler = scaler
        self.missing = missing
        self.clip = clip
        self.trim_fraction = trim_fraction
        self.density_weight = density_weight
        self.n_neighbors = n_neighbors
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.patience = patience
        self.tol = tol
        self.random_state = random_state
        self.device = device
        self.precision = precision
        self.verbose = verbose
        self.callbacks = callbacks

    # ------------------------------------------------------------------ hooks
    def _check_params(self) -> None:
        """Rules that combine parameters (each parameter's own rule is a constraint)."""

    def _build_module(self, n_features: int) -> EnsembleAutoEncoder:
        """A fresh ensemble of the fitted sizes (used by ``fit`` and by ``load``)."""
        table = None
        if _tables.has_categories(self):  # codes categories; numbers left as they are
            columns = self.columns_
            table = TabularScaler([c["kind"] for c in columns],
                                  [len(c["categories"]) for c in columns
                                   if c["kind"] == "categorical"], None)
        return EnsembleAutoEncoder(
            self.n_estimators, n_features, tuple(self.hidden_layer_sizes_),
            self.n_components_, self.activation, self.n_reference_, table,
        )

    def _width(self, n_features: int) -> int:
        """Columns the members see: ``n_features``, or a table's numbers and categories."""
        if not _tables.has_categories(self):
            return n_features
        return sum(len(c["categories"]) if c["kind"] == "categorical" else 1
                   for c in self.columns_)

    def _sizes(self, n_features: int) -> tuple[int, tuple[int, ...]]:
        k = self.n_components or max(1, round(math.sqrt(n_features)))
        if self.hidden_layer_sizes == "auto":
            return k, (int(min(64, max(16, 2 * n_features))),)
        return k, tuple(int(s) for s in self.hidden_layer_sizes)

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None):
        """Fit the ensemble on the rows of ``X`` and set the threshold.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Unlabelled rows; anomalies may be among them.
        y : ignored

        Returns
        -------
        self : object
            A fit that raises (bad data, divergence, Ctrl-C) leaves the detector as it was:
            still fitted on its previous data, or unfitted.
        """
        validate_params(self)
        return fit_atomically(self, OutlierDetector._fit, X)

    def _fit(self, X):
        """:meth:`fit`, on the working copy :func:`fit_atomically` gives."""
        start = time.perf_counter()
        X = self._check_X(X, reset=True)
        n, d = X.shape
        if n < 2:
            raise ValueError(f"OutlierDetector needs at least 2 rows, got {n} sample(s)")
        self.device_ = resolve_device(self.device)
        rng = check_random_state(self.random_state)
        # Each member's subsample; with early stopping its last rows are its hold-out.
        n_rows = min(n, self.max_samples)
        n_val = int(self.validation_fraction * n_rows) if self.early_stopping else 0
        n_val = n_val if n_rows - n_val >= 2 and n_val >= 1 else 0
        picks = np.stack([sample_without_replacement(n, n_rows, random_state=rng)
                          for _ in range(self.n_estimators)])  # (M, n_rows)
        self.n_components_, self.hidden_layer_sizes_ = self._sizes(self._width(d))
        self.n_reference_ = n_rows - n_val
        seed = int(rng.randint(np.iinfo(np.int32).max))
        callbacks = check_callbacks(self.callbacks)
        with fit_hooks(callbacks, self):
            with seeded_torch_rng(self.device_, seed):
                module = self._build_module(d).to(self.device_)
                self._fit_scaler(module, X, rng)
                # Every member's rows, scaled, as (n_rows, M, d): a batch draw serves all.
                rows = module.scaler(module.expand(self._tensor(X[picks.ravel()]))).reshape(
                    self.n_estimators, n_rows, -1).transpose(0, 1).contiguous()
                with RunHooks(callbacks, self, 0, module) as hooks:
                    weights = self._train(module, rows, n_val, callbacks)
                    hooks.result = {"module": module, "history": self.history_,
                                    "score": None}
            self._fit_threshold(module, X, rows, weights, rng)
            self.fit_seconds_ = time.perf_counter() - start
        return self

    def _fit_threshold(self, module, X: np.ndarray, rows, weights, rng) -> None:
        """The scores' reference and scales from the members' training rows, then
        ``offset_`` from the training rows' scores."""
        n = len(X)
        self.module_ = module.eval()
        check_kept_model(self, X)  # finite garbage: diverged all the same
        self._fit_scores(rows[: self.n_reference_], weights)
        if n > THRESHOLD_ROWS:  # the threshold's quantiles need no more rows than this
            X = X[np.sort(sample_without_replacement(n, THRESHOLD_ROWS, random_state=rng))]
        train_scores = self._anomaly_scores(X)
        self.module_.score_quantiles.copy_(torch.as_tensor(np.quantile(
            train_scores, np.linspace(0, 1, SCORE_QUANTILES))))
        self.offset_ = -float(auto_threshold(train_scores) if self.contamination == "auto"
                              else np.percentile(train_scores, 100 * (1 - self.contamination)))

    def _tensor(self, X: np.ndarray) -> torch.Tensor:
        return to_tensor(X, self.device_)

    def _fit_scaler(self, module: EnsembleAutoEncoder, X: np.ndarray, rng) -> None:
        """Set the in-model scaler's statistics from the rows ``X`` (for a table, from its
        numbers and one-hot categories: :meth:`EnsembleAutoEncoder.expand`)."""
        if len(X) > SCALER_ROWS:
            X = X[np.sort(sample_without_replacement(len(X), SCALER_ROWS, random_state=rng))]
        if module.table is not None:
            module.table.fit(self._tensor(X))
            X = module.expand(self._tensor(X)).double().cpu().numpy()
        offset, scale = scaler_statistics(X, self.scaler, rng)
        module.scaler.offset.copy_(torch.as_tensor(offset))
        module.scaler.scale.copy_(torch.as_tensor(scale))

    def _train(self, module: EnsembleAutoEncoder, rows: torch.Tensor, n_val: int,
               callbacks: list) -> torch.Tensor:
        """Train the members on ``rows`` (n_rows, M, d), network units: the first
        ``n_reference_`` rows of each member, the rest its hold-out; ``callbacks``: the
        fit-wide ones (the user's), after the loop's own. Returns the training
        rows' final weights (n_reference_, M): 0 where the last trimming left a row out."""
        fit_rows = rows[: self.n_reference_]
        if self.clip is not None:
            fit_rows = fit_rows.clamp(-self.clip, self.clip)
        weights = torch.ones(fit_rows.shape[:2], device=self.device_)
        val = None
        if n_val:
            val = rows[self.n_reference_:]
            val = val.clamp(-self.clip, self.clip) if self.clip is not None else val
        state = init_state(module, make_optimizer(
            self.optimizer, module.parameters(), self.learning_rate, self.weight_decay))
        fit_loop(
            state,
            EnsembleReconstruction(trim=self.trim_fraction),
            {"x": fit_rows, "w": weights},
            val,
            batch_size=self.batch_size,
            max_epochs=self.max_epochs,
            autocast=autocast_dtype(self.precision, self.device_),
            callbacks=[_TrimRows(fit_rows, weights, self.trim_fraction),
                       *loop_callbacks(self), *callbacks],
        )
        self.history_ = state["history"]
        self.n_iter_ = len(state["history"])
        return weights

    @torch.no_grad()
    def _fit_scores(self, rows: torch.Tensor, weights: torch.Tensor) -> None:
        """Reference codes and score scales from each member's training rows (R, M, d),
        network units, unclipped (as rows are scored); ``weights`` (R, M): 0 for the rows
        the trimming left out, which are no reference codes."""
        module = self.module_
        x = rows.transpose(0, 1)  # (M, R, d)
        errors, z = module.column_errors(x, x)
        errors = errors.sum(2)  # (M, R)
        keep = weights.t().clone()
        if int(keep.sum(1).min()) < 2:  # too few rows left to have neighbours
            keep.fill_(1.0)
        module.reference.copy_(z)
        module.keep.copy_(keep)
        module.error_location[:], module.error_scale[:] = location_scale(errors)
        self.n_neighbors_ = int(min(self.n_neighbors, keep.sum(1).min().item() - 1))
        if self.density_weight > 0 and self.n_neighbors_ >= 1:
            dist = knn_distance(z, z, keep, self.n_neighbors_)
            module.distance_location[:], module.distance_scale[:] = location_scale(dist)
        else:
            self.n_neighbors_ = 0

    # ------------------------------------------------------------------ scores
    def _anomaly_scores(self, X: np.ndarray) -> np.ndarray:
        """The anomaly score (higher: more anomalous) of validated rows, float64."""
        module = self.module_
        weight = self.density_weight if self.n_neighbors_ else 0.0
        # infer concatenates along rows: members' scores as (n, M).
        scores = infer(lambda x: module.member_scores(x, self.n_neighbors_, weight).t(),
                       self._tensor(X), SCORE_BATCH)
        return scores.double().mean(1).cpu().numpy()

    def score_samples(self, X):
        """Opposite of each row's anomaly score: the lower, the more abnormal.

        The anomaly score is the members' average of the reconstruction error (squared,
        in scaled units, summed over the columns) plus ``density_weight`` times the code's
        mean distance to its nearest training codes, both as robust z-scores against the
        member's own training rows (median 0, interquartile range 1): a score of 0 is a
        typical training row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        return -self._anomaly_scores(self._check_X(X, reset=False))

    def decision_function(self, X):
        """``score_samples(X) - offset_``: negative for outliers, positive for inliers.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """+1 for inliers, -1 for outliers (``decision_function(X) < 0``).

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        return np.where(self.decision_function(X) < 0, -1, 1)

    @property
    def threshold_(self) -> float:
        """The anomaly-score threshold, ``-offset_``: rows whose ``-score_samples`` exceeds
        it are outliers."""
        check_is_fitted(self)
        return -self.offset_

    def set_threshold(self, *, contamination=None, threshold=None, fpr=None, X=None):
        """Move the threshold without refitting; exactly one of the ways below.

        Parameters
        ----------
        contamination : float in (0, 1), optional
            Flag this share of the training rows (from the training scores' quantiles,
            kept at 0.1% steps).
        threshold : float, optional
            An anomaly-score threshold (``-score_samples`` units): rows above it are
            outliers.
        fpr : float in [0, 1), optional
            A target false-positive rate on ``X``, rows known to be normal: flag that share
            of them.
        X : array-like of shape (n_samples, n_features), optional
            The normal rows of ``fpr``.

        Returns
        -------
        self : object
        """
        check_is_fitted(self)
        given = [name for name, v in (("contamination", contamination),
                                      ("threshold", threshold), ("fpr", fpr)) if v is not None]
        if len(given) != 1:
            raise ValueError("set_threshold takes exactly one of contamination=, threshold= "
                             f"or fpr= (with X=), got {given or 'none'}")
        if contamination is not None:
            if not 0 < contamination < 1:
                raise ValueError(f"contamination must be in (0, 1), got {contamination!r}")
            q = self.module_.score_quantiles.double().cpu().numpy()
            grid = np.linspace(0, 1, SCORE_QUANTILES)
            self.offset_ = -float(np.interp(1 - contamination, grid, q))
        elif threshold is not None:
            if not np.isfinite(threshold):
                raise ValueError(f"threshold must be a finite number, got {threshold!r}")
            self.offset_ = -float(threshold)
        else:
            if X is None:
                raise ValueError("fpr= needs X=, rows known to be normal")
            if not 0 <= fpr < 1:
                raise ValueError(f"fpr must be in [0, 1), got {fpr!r}")
            self.offset_ = float(np.percentile(self.score_samples(X), 100 * fpr))
        return self

    # ------------------------------------------------------------------ explanations
    def feature_scores(self, X):
        """Each column's part of each row's reconstruction error.

        The members' average squared error per column, in scaled units (each column's
        error over its training spread squared); a row's values sum to its reconstruction
        error, the first term of its anomaly score before standardisation.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples, n_features_in_)
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        module = self.module_
        errors = infer(lambda x: module.feature_errors(x)[0].mean(0), self._tensor(X),
                       SCORE_BATCH)
        return errors.double().cpu().numpy()

    def _feature_names(self) -> np.ndarray:
        names = getattr(self, "feature_names_in_", None)
        if names is None and self.columns_:  # a frame's integer names (no header row)
            names = [str(c["name"]) for c in self.columns_]
        if names is None:
            return np.asarray([f"x{j}" for j in range(self.n_features_in_)], dtype=object)
        return np.asarray(names, dtype=object)

    def top_features(self, X, n_features: int = 3):
        """The columns that contribute most to each row's reconstruction error.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        n_features : int, default=3
            Columns per row (at most ``n_features_in_``).

        Returns
        -------
        names : ndarray of shape (n_samples, n_features), object
            Column names (``feature_names_in_``, else ``x0``, ``x1``, ...), largest first.
        shares : ndarray of shape (n_samples, n_features)
            Each one's share of the row's reconstruction error, in [0, 1].
        """
        n_features = _check_n_features(n_features)
        scores = self.feature_scores(X)
        t = min(n_features, scores.shape[1])
        order = np.argsort(-scores, axis=1, kind="stable")[:, :t]
        total = scores.sum(1, keepdims=True)
        shares = np.take_along_axis(scores, order, 1) / np.where(total > 0, total, 1.0)
        return self._feature_names()[order], shares

    def explain(self, X, n_features: int = 3, *, outliers_only: bool = False):
        """A table of each row's anomaly score, verdict and top columns (pandas DataFrame).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        n_features : int, default=3
            Top columns per row.
        outliers_only : bool, default=False
            Keep only the rows :meth:`predict` flags, most anomalous first.

        Returns
        -------
        table : pandas.DataFrame
            Indexed like ``X`` (a DataFrame's index, else 0..n-1), with columns
            ``anomaly_score``, ``outlier`` (bool), then ``feature_1``, ``share_1``, ... :
            the columns with the largest part in the row's reconstruction error and that
            part's share of it.
        """
        try:
            import pandas as pd
        except ImportError as err:  # pragma: no cover - pandas ships with the dev extra
            raise ImportError("explain() returns a pandas DataFrame: pip install pandas; "
                              "top_features() gives the same as arrays") from err
        n_features = _check_n_features(n_features)
        index = X.index if hasattr(X, "index") and hasattr(X, "columns") else None
        scores = -self.score_samples(X)
        names, shares = self.top_features(X, n_features)
        table = pd.DataFrame({"anomaly_score": scores, "outlier": scores > self.threshold_},
                             index=index)
        for j in range(names.shape[1]):
            table[f"feature_{j + 1}"] = names[:, j]
            table[f"share_{j + 1}"] = shares[:, j]
        if outliers_only:
            table = table[table["outlier"]].sort_values("anomaly_score", ascending=False)
        return table

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # made dense once, as the autoencoders do
        tags.non_deterministic = False
        return tags


def _check_n_features(n_features) -> int:
    """``n_features`` of :meth:`OutlierDetector.top_features` and ``explain``: an integer
    >= 1 (more than the model's columns gives them all); else an error naming it."""
    if isinstance(n_features, bool) or not isinstance(n_features, Integral):
        raise TypeError(f"n_features must be an integer >= 1 (columns per row), got "
                        f"{n_features!r} of type {type(n_features).__name__}")
    if n_features < 1:
        raise ValueError(f"n_features must be an integer >= 1 (columns per row), got "
                         f"{n_features}")
    return int(n_features)
