"""Anomaly detection with an ensemble of small autoencoders: :class:`OutlierDetector`.

Reconstruction error alone is a weak anomaly score on real tables: anomalies among the
training rows get learnt, a few extreme values dominate the scaling, and rows that are
reconstructed well but sit where no normal row does go unnoticed. The detector guards
against each (every choice chosen leave-one-dataset-out on the ADBench tables,
``bench/anomaly.py --protocol lodo``; docs/decisions.md):

- the scaler's statistics come from the rows left once the most outlying 10% are set
  aside (``scaler="trimmed"``), so anomalies do not shrink the normal rows' spread;
- each member trains on its own subsample of at most ``max_samples`` rows (fit time does
  not grow with the data), on inputs clipped to ``±clip`` scaled units, and every 5 epochs
  drops its ``trim_fraction`` worst-reconstructed rows from its loss: the anomalies in the
  training rows stop pulling the network towards them;
- the score has five terms that fail in different places: the members' reconstruction
  error and their code's distance to the nearest training codes (each on the scale of the
  member's own training rows, averaged over the members), ECOD-style tail probabilities of
  each input column, the distance to the nearest training rows in the input space and an
  isolation forest's score (:mod:`aekit.anomaly.isolation`)
  (:meth:`~aekit.nn.ensemble.EnsembleAutoEncoder.term_scores`). Each term becomes its rank
  among the training rows' (continued above their maximum) and the ranks are averaged,
  weighted (:func:`~aekit.anomaly.robust.combine_terms`): no single blind term sinks the
  ranking.
"""

from __future__ import annotations

import copy
import math
import time
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.utils import check_random_state
from sklearn.utils.random import sample_without_replacement
from sklearn.utils.validation import check_is_fitted

from ..core import distributed
from ..data.agreement import check_same_data
from ..core.checks import (
    FLOAT32_MAX,
    Interval,
    SizeTuple,
    StrOptions,
    resolve_device,
    seeded_torch_rng,
    to_tensor,
)
from ..training.callbacks import RunHooks, check_callbacks, fit_hooks
from ..nn.ensemble import (SCORE_BATCH, SCORE_QUANTILES, TAIL_QUANTILES,
                           EnsembleAutoEncoder, knn_distance)
from ..nn.layers import ACTIVATIONS
from ..nn.tabular import TabularScaler
from ..training.objectives import EnsembleReconstruction
from ..training.sanity import check_kept_model
from ..training.loop import autocast_dtype, fit_loop, infer, init_state, make_optimizer
from ..estimators import _tables
from ..estimators._params import TRAINING as _SHARED
from ..estimators._params import loop_callbacks, validate_params, warn_idle_params
from ..estimators._saving import SavableMixin
from ..core.fitted import as_fitted
from ..estimators._recovery import fit_atomically
from .explain import ExplanationMixin
from .threshold import ThresholdMixin
from .isolation import N_TREES, add_isolation_calibration, fit_isolation, tree_nodes
from .robust import (SAMPLE_ROWS, TrimRows, auto_threshold, combine_terms, location_scale,
                     scaler_statistics, term_calibration)
from .streaming import column_names, is_chunked, map_chunks, read_sample

TRAINING = _SHARED.override(
    batch_size={"default": 64, "note": "Here: rows per member per step.",
                "why": "64 here: a member trains on at most max_samples=256 rows, 4 steps an "
                       "epoch at 64."},
    max_epochs={"default": 50, "note": "Here: passes over each member's subsample (200 steps "
                                       "for 256 rows in batches of 64).",
                "why": "50 here: the same scores as 200 on the ADBench tables, chosen "
                       "leave-one-dataset-out (docs/decisions.md)."},
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

@TRAINING.document
class OutlierDetector(ThresholdMixin, ExplanationMixin, _tables.InputMixin, OutlierMixin,
                      SavableMixin, BaseEstimator):
    """Unsupervised anomaly detector: an ensemble of small autoencoders, trained so as not
    to learn the anomalies, whose reconstruction error and code-space density are ranked
    with three input-space terms (column tails, nearest training rows, isolation forest).

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
        flags as many of the highest-scoring training rows as have a mean surprise over the
        score terms beyond Tukey's outer fence (third quartile plus 3 interquartile ranges),
        however many that is. Beyond 20,000 training rows, a random 20,000 of them set it.
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
        standard deviation. A column constant in the training rows has no spread and is
        scaled by 1, as by scikit-learn's ``StandardScaler``: a new value in it counts
        as beyond every training row in the tail term (as rare as a value past a varying
        column's range, no more: one row in ``n`` may hold it) and as far as it moves in
        the column's own units elsewhere, so a change from 3.0 to 4.0 is not flagged
        alone. To flag any change of such a column, test it apart (``X[:, j] != value``),
        or give it the units in which a change matters.
    missing : {"error", "impute"}, default="error"
        A missing number (NaN) is an error naming its rows and columns (``"error"``), or
        is filled with its column's training median (``"impute"``), in fit and scoring.
        A row is scored as filled: where columns go together, a median that does not fit
        the row's other values makes it look anomalous (on 6 correlated columns, 5%
        flagged, rows missing one cell were flagged up to 3 times as often), and its
        explanation names the filled column. Where many rows to score have missing cells,
        impute them from the other columns first (``sklearn.impute.IterativeImputer``).
    clip : float, default=5.0
        Training inputs are clipped to ``±clip`` scaled units, so a few extreme values do
        not dominate the loss; scores use the rows as they are. None: no clipping.
    trim_fraction : float, default=0.1
        Every 5 epochs, each member leaves this share of its worst-reconstructed training
        rows out of its loss (and out of its reference codes).
    reconstruction_weight : float, default=2.0
        Weight of the reconstruction error (summed over the columns) in the score.
    density_weight : float, default=1.0
        Weight of the code-space term: the mean distance of a row's code to its
        ``n_neighbors`` nearest training codes.
    tail_weight : float, default=1.0
        Weight of the tail term: ECOD's outlyingness, ``-log`` of the share of training
        values at least as extreme, summed over the (scaled) input columns, on the side
        of each column's skew or both (the largest); a category unseen in fit counts as
        a value beyond every training row.
    neighbor_weight : float, default=1.0
        Weight of the input-space term: the mean distance of the scaled row to its
        ``n_neighbors`` nearest rows among ``max_samples`` training rows.
    isolation_weight : float, default=2.0
        Weight of the isolation term: the score of an isolation forest (scikit-learn's
        IsolationForest, 100 trees of ``max_samples`` rows each) fitted on the scaled
        training rows; it sees rows far out on a few columns, which the autoencoders may
        reconstruct well. Saved as tensors. At least one of the five weights must be
        positive; 0 leaves a term out.
    combine : {"rank", "surprise", "zscore"}, default="rank"
        How the terms are put on one scale before their weighted mean: ``"rank"``, each
        term's share of training rows below it (continued linearly above the training
        maximum); ``"surprise"``, ``-log`` of the share at or above it (Fisher's method);
        ``"zscore"``, minus the training median, over the interquartile range.
    n_neighbors : int, default=5
        Neighbours of the code-space and input-space terms.
    <training parameters>

    Attributes
    ----------
    offset_ : float
        ``decision_function = score_samples - offset_``; rows below it are outliers.
    threshold_ : float
        ``-offset_``: the threshold on the anomaly score ``-score_samples``.
    threshold_set_ : tuple of (float, str)
        After :meth:`set_threshold`: the ``offset_`` it set and how, which the report names
        while ``offset_`` is still that value; saved with the model.
    module_ : EnsembleAutoEncoder
        The members, the in-model scaler and the state of the scores.
    n_components_, hidden_layer_sizes_ : int, tuple of int
        The members' sizes.
    n_reference_ : int
        Training rows per member (its subsample, less its hold-out).
    n_neighbors_ : int
        Neighbours of the code-space term as fitted (fewer with few rows; 0: no term).
    isolation_nodes_ : int
        Nodes held per tree of the isolation term (0: fitted without it).
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
    fitted_params_ : dict
        The parameters as ``fit`` saw them. Scores, ``predict`` and ``save`` use these
        (``combine`` and the weights ``offset_`` was set with, ``activation``...), so
        ``set_params`` takes effect at the next ``fit``, as in scikit-learn; to move the
        threshold without refitting use :meth:`set_threshold`.

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
        "reconstruction_weight": [Interval(Real, 0, None, closed="left")],
        "density_weight": [Interval(Real, 0, None, closed="left")],
        "tail_weight": [Interval(Real, 0, None, closed="left")],
        "neighbor_weight": [Interval(Real, 0, None, closed="left")],
        "isolation_weight": [Interval(Real, 0, None, closed="left")],
        "combine": [StrOptions({"surprise", "rank", "zscore"})],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "missing": [StrOptions({"error", "impute"})],
    }

    _params_added = {"isolation_weight": 0.0}  # aekit.load: saved before the term, none
    _upgrade_tensors = staticmethod(add_isolation_calibration)

    _saved_attributes = (
        "n_features_in_",
        "feature_names_in_",
        "offset_",
        "threshold_set_",
        "n_components_",
        "hidden_layer_sizes_",
        "n_reference_",
        "n_neighbors_",
        "isolation_nodes_",
        "n_samples_fit_",
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
        reconstruction_weight=2.0,
        density_weight=1.0,
        tail_weight=1.0,
        neighbor_weight=1.0,
        isolation_weight=2.0,
        combine="rank",
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
        self.reconstruction_weight = reconstruction_weight
        self.density_weight = density_weight
        self.tail_weight = tail_weight
        self.neighbor_weight = neighbor_weight
        self.isolation_weight = isolation_weight
        self.combine = combine
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
        if not any(w > 0 for w in self._weights()):
            raise ValueError("reconstruction_weight, density_weight, tail_weight, "
                             "neighbor_weight and isolation_weight are all 0: give at "
                             "least one term a weight")

    def _weights(self) -> tuple[float, ...]:
        """The weights of the score's terms, in the order of ``nn.ensemble.TERMS``."""
        return (float(self.reconstruction_weight), float(self.density_weight),
                float(self.tail_weight), float(self.neighbor_weight),
                float(self.isolation_weight))

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
            N_TREES, getattr(self, "isolation_nodes_", 0),
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

    def _idle_params(self) -> dict[str, tuple[str, tuple]]:
        """The parameters that act only with early stopping (:func:`warn_idle_params`):
        without it no rows are held out, and nothing watches the loss."""
        if self.early_stopping:
            return {}
        return {name: ("early_stopping", (True,))
                for name in ("validation_fraction", "patience", "tol")}

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None):
        """Fit the ensemble on the rows of ``X`` and set the threshold.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features), or a path or memmap
            Unlabelled rows; anomalies may be among them. A ``.npy`` or Parquet file (or a
            directory of them), a memmap or a :class:`~aekit.data.RowSource` is read one
            chunk at a time and the fit keeps a random sample of at most 20,000 rows
            (:mod:`aekit.anomaly.streaming`): memory does not grow with the file.
        y : ignored

        Returns
        -------
        self : object
            A fit that raises (bad data, divergence, Ctrl-C) leaves the detector as it was:
            still fitted on its previous data, or unfitted.
        """
        validate_params(self)
        warn_idle_params(self)
        check_same_data(X=X)  # under torchrun: every process was given the same
        return fit_atomically(self, OutlierDetector._fit, X)

    def _fit(self, X):
        """:meth:`fit`, on the working copy :func:`fit_atomically` gives."""
        start = time.perf_counter()
        # Under several processes every rank must draw the same sample, subsamples and
        # weights: the loop sums their gradients as if they held the same rows.
        rng = check_random_state(distributed.same_random_state(self.random_state))
        n_total, names = None, None
        if is_chunked(X):  # a file or memmap: fit on a sample, read chunk by chunk
            names = column_names(X)
            X, n_total = read_sample(X, rng, missing=self.missing)
        X = self._check_X(X, reset=True)
        self.schema_.name_columns(names, self)  # a Parquet file's, as a DataFrame's
        n, d = X.shape
        if n < 2:
            raise ValueError(f"OutlierDetector needs at least 2 rows, got {n} sample(s)")
        self.device_ = resolve_device(self.device)
        # Each member's subsample; with early stopping its last rows are its hold-out.
        n_rows = min(n, self.max_samples)
        n_val = int(self.validation_fraction * n_rows) if self.early_stopping else 0
        n_val = n_val if n_rows - n_val >= 2 and n_val >= 1 else 0
        picks = np.stack([sample_without_replacement(n, n_rows, random_state=rng)
                          for _ in range(self.n_estimators)])  # (M, n_rows)
        self.n_components_, self.hidden_layer_sizes_ = self._sizes(self._width(d))
        self.n_reference_ = n_rows - n_val
        self.isolation_nodes_ = tree_nodes(n_rows) if self.isolation_weight > 0 else 0
        seed = int(rng.randint(np.iinfo(np.int32).max))
        callbacks = check_callbacks(self.callbacks)
        with fit_hooks(callbacks, self):
            with seeded_torch_rng(self.device_, seed):
                module = self._build_module(d).to(self.device_)
                self._fit_scaler(module, X, rng)
                self._check_scaled(module, X)
                # Every member's rows, scaled, as (n_rows, M, d): a batch draw serves all.
                rows = module.scaler(module.expand(self._tensor(X[picks.ravel()]))).reshape(
                    self.n_estimators, n_rows, -1).transpose(0, 1).contiguous()
                with RunHooks(callbacks, self, 0, module) as hooks:
                    weights = self._train(module, rows, n_val, callbacks)
                    hooks.result = {"module": module, "history": self.history_,
                                    "score": None}
            self._fit_threshold(module, X, rows, weights, rng)
            self.n_samples_fit_ = n_total or n
            self.fit_seconds_ = time.perf_counter() - start
        return self

    def _fit_threshold(self, module, X: np.ndarray, rows, weights, rng) -> None:
        """The scores' reference and scales from the members' training rows, then
        ``offset_`` from the training rows' scores."""
        n = len(X)
        self.module_ = module.eval()
        check_kept_model(self, X)  # finite garbage: diverged all the same
        self._fit_scores(rows[: self.n_reference_], weights)
        module.neighbors.copy_(rows[: self.n_reference_, 0])  # member 0's rows, scaled
        if n > SAMPLE_ROWS:  # the threshold's quantiles need no more rows than this
            X = X[np.sort(sample_without_replacement(n, SAMPLE_ROWS, random_state=rng))]
        s = infer(lambda x: module.scaler(module.expand(x)), self._tensor(X), SCORE_BATCH)
        self._fit_tails(s.double().cpu().numpy())
        if module.isolation is not None:  # its own seed: the other terms stay as they were
            fit_isolation(module.isolation, s.cpu().numpy(), self.max_samples,
                          int(rng.randint(np.iinfo(np.int32).max)))
        terms = self._terms(X)
        location, scale, quantiles = term_calibration(terms, SCORE_QUANTILES)
        for name, value in (("term_location", location), ("term_scale", scale),
                            ("term_quantiles", quantiles)):
            getattr(module, name).copy_(torch.as_tensor(value))
        train_scores = self._combine(terms)
        module.score_quantiles.copy_(torch.as_tensor(np.quantile(
            train_scores, np.linspace(0, 1, SCORE_QUANTILES))))
        self.offset_ = -float(
            auto_threshold(train_scores, self._combine(terms, "surprise"))
            if self.contamination == "auto"
            else np.percentile(train_scores, 100 * (1 - self.contamination)))

    def _tensor(self, X: np.ndarray) -> torch.Tensor:
        return to_tensor(X, self.device_)

    def _fit_scaler(self, module: EnsembleAutoEncoder, X: np.ndarray, rng) -> None:
        """Set the in-model scaler's statistics from the rows ``X`` (for a table, from its
        numbers and one-hot categories: :meth:`EnsembleAutoEncoder.expand`)."""
        if len(X) > SAMPLE_ROWS:
            X = X[np.sort(sample_without_replacement(len(X), SAMPLE_ROWS, random_state=rng))]
        if module.table is not None:
            module.table.fit(self._tensor(X))
            X = module.expand(self._tensor(X)).double().cpu().numpy()
        offset, scale = scaler_statistics(X, self.scaler, rng)
        module.scaler.offset.copy_(torch.as_tensor(offset))
        module.scaler.scale.copy_(torch.as_tensor(scale))

    def _check_scaled(self, module: EnsembleAutoEncoder, X: np.ndarray) -> None:
        """A ValueError naming the columns of the training rows ``X`` with values that the
        fitted scaler takes beyond float32's range (a value near 3.4e38 in a column whose
        spread is below 1): the training rows' references would hold inf, and the check of
        the kept model blamed it on training ("diverged, lower learning_rate")."""
        ends = infer(lambda x: torch.stack([(e := module.expand(x)).amin(0), e.amax(0)]),
                     self._tensor(X), SCORE_BATCH, per_row=False).double()
        offset, scale = module.scaler.offset.double(), module.scaler.scale.double()
        far = ((ends - offset) / scale).abs().amax(0) > FLOAT32_MAX
        if not bool(far.any()):
            return
        slots = np.flatnonzero(far.cpu().numpy())
        if module.table is not None:  # an expanded column -> the table's column
            slots = np.unique(module.slot_column.cpu().numpy()[slots])
        names = self._feature_names()[slots]
        raise ValueError(
            f"X's column(s) {', '.join(map(str, names[:10]))} hold values beyond float32's "
            f"range ({FLOAT32_MAX:.3g}) once scaled by their spread, as the networks take "
            "them: rescale these columns (divide by a power of ten) or clip them; a fill "
            "value that stands for a missing number is better NaN, with missing='impute'")

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
            callbacks=[TrimRows(fit_rows, weights, self.trim_fraction),
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
        if self.n_neighbors_ >= 1:
            dist = knn_distance(z, z, keep, self.n_neighbors_)
            module.distance_location[:], module.distance_scale[:] = location_scale(dist)
        else:
            self.n_neighbors_ = 0

    @torch.no_grad()
    def _fit_tails(self, s: np.ndarray) -> None:
        """Quantiles of each scaled input column (the tail term) from the scaled rows ``s``
        (at most :data:`~aekit.anomaly.robust.SAMPLE_ROWS`), and the sign of each column's
        skew."""
        module = self.module_
        module.tail_quantiles.copy_(torch.as_tensor(
            np.quantile(s, np.linspace(0, 1, TAIL_QUANTILES), axis=0)))
        centred = s - s.mean(0)
        third = (centred ** 3).mean(0)
        module.tail_skew.copy_(torch.as_tensor(np.where(third < 0, -1.0, 1.0)))

    # ------------------------------------------------------------------ scores
    def _terms(self, X: np.ndarray) -> np.ndarray:
        """The raw score terms (n, 5) of validated rows, float64 (``nn.ensemble.TERMS``),
        within float32's range: the training rows' quantiles of them are float32 buffers,
        where a larger term (an absurd training row's) would be inf and inf - inf NaN."""
        weights = self._weights()
        terms = self._per_row(lambda m, x: m.term_scores(x, self.n_neighbors_, weights), X)
        return np.clip(terms, -FLOAT32_MAX, FLOAT32_MAX)

    def _per_row(self, fn, X: np.ndarray) -> np.ndarray:
        """``fn(module, rows)`` of the validated rows ``X``, in batches, as float64 values
        (one row of the result per row of ``X``).

        The module computes in float32, where a value some 1e19 scaled units out overflows
        (its square passes 3.4e38) and comes back inf, or NaN once inf - inf meets in a
        layer: such a row would get an infinite or NaN score (NaN: an inlier to
        ``predict``), and as a training row it would make the threshold NaN. Rows whose
        result is not finite are computed again by a float64 copy of the module, in which
        every float32 input fits: an absurd row is scored as far out as it is.
        """
        module = self.module_
        out = infer(lambda x: fn(module, x), self._tensor(X), SCORE_BATCH)
        out = out.double().cpu().numpy()
        bad = ~np.isfinite(out.reshape(len(out), -1)).all(1)
        if bad.any():
            wide = copy.deepcopy(module).double()
            out[bad] = infer(lambda x: fn(wide, x.double()), self._tensor(X[bad]),
                             SCORE_BATCH).cpu().numpy()
        return out

    def _combine(self, terms: np.ndarray, how: str | None = None) -> np.ndarray:
        """The anomaly score of the terms (n, 5): their weighted mean, each on the scale
        of the training rows' (``combine``)."""
        module = self.module_
        weights = list(self._weights())
        if not getattr(self, "isolation_nodes_", 0):  # fitted without the forest
            weights[4] = 0.0
        if not self.n_neighbors_:  # too few rows for neighbours: no density terms
            weights[1] = weights[3] = 0.0
            if not any(weights):
                weights[0] = 1.0
        calibration = (module.term_location, module.term_scale, module.term_quantiles)
        return combine_terms(terms, weights, how or self.combine,
                             *(t.double().cpu().numpy() for t in calibration))

    def _anomaly_scores(self, X: np.ndarray) -> np.ndarray:
        """The anomaly score (higher: more anomalous) of validated rows, float64."""
        return self._combine(self._terms(X))

    def score_samples(self, X):
        """Opposite of each row's anomaly score: the lower, the more abnormal.

        The anomaly score is the weighted mean of the five terms (reconstruction error,
        code-space distance, column tails, input-space distance, isolation), each put on the
        training rows' scale by ``combine``. With ``"rank"``: 0.5 is a typical training row, 1 the
        most anomalous one, above 1 beyond every training row. The weights and ``combine``
        are those of the fit (``fitted_params_``), which ``offset_`` and the training rows'
        scales come from: ``set_params`` changes them at the next ``fit``; move the
        threshold without refitting with :meth:`set_threshold`.

        Scores are finite for every row ``X`` may hold: a row too far out for the float32
        networks (some 1e19 spreads and beyond) is computed in float64, and each term is
        capped at float32's largest value (3.4e38): such rows are flagged (and may tie).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or a path or memmap
            A file (``.npy``, Parquet) or memmap is scored one chunk at a time.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        if is_chunked(X):  # a file or memmap: one chunk in memory at a time
            return np.concatenate(list(map_chunks(X, self.score_samples, self)))
        # The terms' weights and combine as fitted: offset_ and the calibration are theirs.
        return -as_fitted(self)._anomaly_scores(self._check_X(X, reset=False))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # made dense once, as the autoencoders do
        tags.non_deterministic = False
        return tags
