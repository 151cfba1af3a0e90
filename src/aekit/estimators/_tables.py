"""The estimators' side of the input schema, and the model's scaled units.

- :class:`InputMixin` gives every estimator its input path: a fitted
  :class:`~aekit.data.schema.InputSchema` (``schema_``) made in ``fit`` from whatever the
  caller passes (arrays, DataFrames with numeric, boolean, text and categorical columns,
  sparse matrices, files and memory maps, missing numbers as ``missing`` says) and applied
  by every method;
- the in-model scaler a fitted schema needs (:func:`new_scaler`; a table with categorical
  columns runs through a :class:`~aekit.nn.tabular.TabularScaler`) and the mask of imputed
  cells the loss leaves out (:func:`network_mask`);
- :class:`ScaledUnitsMixin`: rows in the model's scaled units, where
  :func:`~aekit.compare_with_pca` compares and ``score_samples`` and ``score`` score.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import torch
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted

from ..core.checks import check_channels_first, check_weight, format_indices, to_numpy
from ..data.files import is_streamable
from ..data.schema import InputSchema
from ..nn.layers import Scaler
from ..nn.tabular import TabularScaler, has_table
from ..training.loop import infer

INFER_BATCH = 8192
"""Rows per forward pass at inference: bounds the memory of activations, not of results."""


def has_categories(estimator) -> bool:
    """Whether ``estimator`` was fitted on a table with categorical columns."""
    schema = getattr(estimator, "schema_", None)
    return schema is not None and schema.has_categories


def check_loss_fits_table(estimator) -> None:
    """Refuse a ``loss`` that cannot act on the data: a table with categorical columns or
    ``missing="impute"`` is fitted per column type (squared error on numbers, cross-entropy on
    categories, observed cells only; :func:`aekit.training.objectives.for_table`), which
    neither ``"bce"`` nor a callable of whole rows can take part in."""
    if not (has_categories(estimator) or estimator.missing == "impute"):
        return
    if estimator.loss == "bce":
        raise ValueError(
            "loss='bce' works on numbers in [0, 1] only, not on a table's categorical "
            "columns or imputed cells; use loss='mse' (categories always get a "
            "cross-entropy)."
        )
    if callable(estimator.loss):
        raise ValueError(
            "a custom loss callable cannot be used with a table's categorical columns or "
            "missing='impute': those fits take squared error on the numbers (observed cells "
            "only) and cross-entropy on the categories, column by column, and would ignore "
            "it; use loss='mse', or encode the table yourself (one-hot, imputed) and pass "
            "the numeric array to use your loss."
        )


def resolve_image_shape(image_shape, sample_shape: tuple, what: str) -> tuple[int, int, int]:
    """(C, H, W) of the images ``fit`` sees, from one sample's shape and the estimator's
    ``image_shape`` parameter ((H, W), (C, H, W) or None); ``what`` names the parameter
    that asks for images, in the errors. Images (n, H, W, C) are refused, not read as H
    channels of W x C images."""
    given = None
    if image_shape is not None:
        given = tuple(int(s) for s in image_shape)
        given = (1, *given) if len(given) == 2 else given
    if len(sample_shape) == 1:
        if given is None:
            raise ValueError(
                f"{what} got flat rows of {sample_shape[0]} features; pass "
                "images (n, H, W) or (n, C, H, W), or set image_shape=(C, H, W) or (H, W) "
                "(e.g. image_shape=(28, 28) for Fashion-MNIST rows)."
            )
        if int(np.prod(given)) != sample_shape[0]:
            raise ValueError(
                f"image_shape={image_shape!r} has {int(np.prod(given))} pixels but "
                f"the rows have {sample_shape[0]} features"
            )
        return given
    check_channels_first(sample_shape, what)
    image = (1, *sample_shape) if len(sample_shape) == 2 else tuple(sample_shape)
    if given is not None and given != image:
        raise ValueError(
            f"image_shape={image_shape!r} does not match the images in X, of shape "
            f"{tuple(sample_shape)}; leave image_shape=None for images."
        )
    return tuple(int(s) for s in image)


class InputMixin:
    """Every estimator's input path: the fitted :class:`~aekit.data.schema.InputSchema`
    (``schema_``), made in ``fit`` and applied by every method, with scikit-learn's
    ``n_features_in_`` and ``feature_names_in_`` kept as the schema's.

    Reads ``missing`` (``"error"`` or ``"impute"``); a family that takes images overrides
    :meth:`_takes_images`, has an ``image_shape`` parameter and names in ``_images_param``
    the setting that asks for images.
    """

    _images_advice = ""
    """Appended to the error for images given to a family that takes none."""

    _images_param = ""
    """The setting that makes a family take images (e.g. ``"conv_layers"``), named in the
    errors about their shape."""

    def _image_shape_of(self, sample_shape: tuple) -> tuple[int, int, int]:
        """(C, H, W) of the images the model takes, from one sample as ``fit`` sees it and
        the ``image_shape`` parameter."""
        return resolve_image_shape(self.image_shape, sample_shape, self._images_param)

    def _takes_images(self) -> bool:
        return False

    @property
    def image_shape_(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of the images the network takes (``schema_.image_shape``)."""
        shape = self.schema_.image_shape
        if shape is None:
            raise AttributeError(f"image_shape_ is set by fit with {self._images_param} only"
                                 if self._images_param else
                                 f"{type(self).__name__} takes no images")
        return shape

    def _new_schema(self) -> InputSchema:
        return InputSchema(self.missing, images_advice=self._images_advice,
                           image_shape=self._image_shape_of if self._takes_images() else None)

    def _use_schema(self, schema: InputSchema) -> None:
        """Take a fitted ``schema`` as this estimator's, with scikit-learn's attributes."""
        self.schema_ = schema
        self.n_features_in_ = schema.n_features
        if schema.feature_names is not None:
            self.feature_names_in_ = schema.feature_names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_

    def _check_rows(self, X, *, reset: bool, warm=None
                    ) -> tuple[np.ndarray, tuple, np.ndarray | None]:
        """Validated rows (n, n_features), the shape of one sample as given, and where
        missing numbers were imputed ((n, n_features) bool) or None. ``reset``: ``fit``
        describes ``X`` in a new ``schema_``, except for a ``warm`` start (its ``schema``:
        the inputs the network it continues was built for)."""
        if reset and getattr(warm, "schema", None) is not None:
            self._use_schema(warm.schema)
            reset = False
        if reset:
            schema = self._new_schema()
            rows = schema.fit_rows(X, self)
            self.schema_ = schema
        else:
            check_is_fitted(self)
            rows = self.schema_.rows(X, self)
        return rows.values, rows.sample_shape, rows.missing

    def _check_X(self, X, *, reset: bool, return_shape: bool = False):
        """:meth:`_check_rows`'s rows (and, with ``return_shape``, the sample shape)."""
        X, sample_shape, _ = self._check_rows(X, reset=reset)
        return (X, sample_shape) if return_shape else X

    def _check_stream(self, source, *, reset: bool) -> None:
        """Describe (``reset``) or check rows read from disk, without reading them."""
        if reset:
            schema = self._new_schema()
            schema.fit_stream(source, self)
            self.schema_ = schema
        else:
            self.schema_.check_stream(source, self)

    # The schema's parts under the names fitted models had before it (read-only).
    @property
    def columns_(self) -> list[dict] | None:
        """A DataFrame's column description (``schema_.columns``), or None."""
        return self.schema_.columns

    @property
    def input_shape_(self) -> tuple:
        """One sample as ``fit`` saw it (``schema_.sample_shape``)."""
        return self.schema_.sample_shape

    @property
    def fill_values_(self) -> list[float]:
        """With ``missing="impute"``: each column's training median (``schema_``)."""
        if self.schema_.fill_values is None:
            raise AttributeError("fill_values_ is set by fit with missing='impute' only")
        return self.schema_.fill_values


SCALED_LIMIT = 1e18
"""The largest magnitude training rows may have in network units: the loss squares them
and sums a batch of them in float32 (whose largest value is 3.4e38)."""


def check_scaled(X_scaled: torch.Tensor, scaler) -> None:
    """A ValueError naming the columns of scaled training rows (n, d) that are not finite
    or beyond :data:`SCALED_LIMIT`: values too large for float32 arithmetic (a units
    problem, not a training one)."""
    with torch.no_grad():
        peak = X_scaled.abs().amax(0) if len(X_scaled) else X_scaled.new_zeros(0)
        bad = ~(peak <= SCALED_LIMIT)  # NaN too
    if not bool(bad.any()):
        return
    cols = torch.nonzero(bad).flatten().tolist()
    raise ValueError(
        f"X holds values too large to train on in float32: after scaler={scaler!r}, "
        f"{len(cols)} column(s) {format_indices(cols)} reach magnitudes beyond "
        f"{SCALED_LIMIT:.0e} (or overflow), which the loss cannot square. This is a "
        "scaling problem, not a learning-rate one: rescale these columns (divide by a power "
        "of ten, or take a log), clip their outliers, or use scaler='standard'."
    )


def row_extremes(X_scaled: torch.Tensor) -> torch.Tensor:
    """Each row's smallest and largest value, (n, 2): all :func:`check_unit_range` needs,
    so it can be gathered batch by batch."""
    flat = X_scaled.reshape(len(X_scaled), -1)
    return torch.stack([flat.amin(1), flat.amax(1)], 1)


def check_unit_range(extremes: torch.Tensor, what: str, fix: str) -> None:
    """A ValueError naming the rows of ``what`` that leave [0, 1] in network units, where
    ``loss="bce"`` (a Bernoulli likelihood) is defined; ``extremes``: their
    :func:`row_extremes`; ``fix``: what to do about them."""
    outside = (extremes[:, 0] < 0) | (extremes[:, 1] > 1)
    if not bool(outside.any()):
        return
    rows = torch.nonzero(outside).flatten().tolist()
    raise ValueError(
        f"loss='bce' takes values in [0, 1] once scaled (its Bernoulli likelihood is "
        f"defined there only), but {len(rows)} row(s) {format_indices(rows)} of {what} "
        f"leave it, reaching {float(extremes[:, 0].min()):.4g} to "
        f"{float(extremes[:, 1].max()):.4g}; {fix}"
    )


def new_scaler(estimator, n_features: int):
    """A fresh, unfitted in-model scaler for ``estimator``'s data."""
    if has_categories(estimator):
        columns = estimator.columns_
        return TabularScaler([c["kind"] for c in columns],
                             [len(c["categories"]) for c in columns
                              if c["kind"] == "categorical"], estimator.scaler)
    return column_scaler(estimator, n_features)


def column_scaler(estimator, n_features: int) -> Scaler:
    """A fresh, unfitted per-column scaler of ``estimator``'s kind (rows of numbers)."""
    return Scaler(n_features, estimator.scaler, unit_range=keeps_unit_range(estimator))


def keeps_unit_range(estimator) -> bool:
    """Whether ``scaler="auto"`` leaves data in [0, 1] as they are: when the model asks for
    a sigmoid output, which reaches [0, 1] and nothing standardised."""
    return getattr(estimator, "output_activation", None) == "sigmoid"


def scaler_for_module(estimator, n_features: int):
    """What a family's module takes as ``scaler``: the kind, or a table's scaler module."""
    return new_scaler(estimator, n_features) if has_categories(estimator) else \
        estimator.scaler


def network_mask(scaler, missing: np.ndarray, device) -> torch.Tensor:
    """1 where a numeric cell was observed, in the network's column order (n, n_numeric)."""
    observed = torch.from_numpy(~missing).to(device)
    if isinstance(scaler, TabularScaler):
        observed = observed.index_select(1, scaler.numeric_columns.to(device))
    return observed.float()


# --------------------------------------------------------------------------- scaled units
def scaled(module, x: torch.Tensor) -> torch.Tensor:
    """Rows in the caller's units (n, n_columns) -> scaled units (n, n_scaled): network
    units, with a table's categories one-hot."""
    s = module.scaler(x)
    return module.scaler.one_hot(s) if has_table(module) else s


def scaled_reconstruction(module, x: torch.Tensor) -> torch.Tensor:
    """The reconstruction of rows ``x`` (caller's units) in scaled units: categories as
    their predicted probabilities."""
    out = module.decoder(module.encoder(module.scaler(x)))
    return module.scaler.probabilities(out) if has_table(module) else out


def scaled_errors(module, x: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
    """Squared reconstruction errors in scaled units, (n, n_scaled), of the rows ``x``
    against themselves, or against their ``target`` rows (``fit(X, y)``'s)."""
    s = module.scaler(x)  # once when the input is the target
    t = s if target is None else module.scaler(target)
    out = module.decoder(module.encoder(s))
    if has_table(module):
        out, t = module.scaler.probabilities(out), module.scaler.one_hot(t)
    return (out - t).square()


def infer_pairs(fn, X: torch.Tensor, Y: torch.Tensor | None = None) -> torch.Tensor:
    """``fn(x, y)`` over the rows of ``X`` and their target rows ``Y`` (``fn(x, None)``
    without), batch by batch, as :func:`~aekit.training.loop.infer`."""
    if Y is None:
        return infer(lambda x: fn(x, None), X, INFER_BATCH)
    d = X.shape[1]
    return infer(lambda xy: fn(xy[:, :d], xy[:, d:]), torch.cat([X, Y], 1), INFER_BATCH)


def row_scores(module, errors: np.ndarray, missing: np.ndarray | None) -> np.ndarray:
    """``-score_samples``: each row's squared errors in scaled units summed, over its number
    of columns (a categorical column's error is the squared error of its probabilities
    against its one-hot, the Brier score); imputed cells count neither way."""
    n_columns = module.scaler.n_features if has_table(module) else errors.shape[1]
    counted = np.full(len(errors), float(n_columns))
    if missing is not None:
        observed = ~missing
        if has_table(module):
            observed = observed[:, module.scaler.numeric_columns.cpu().numpy()]
        width = observed.shape[1]  # the numeric slots come first in scaled units
        errors = errors.copy()
        errors[:, :width] *= observed
        counted -= (~observed).sum(1)
    return errors.sum(1, dtype=np.float64) / np.maximum(counted, 1)


def scored_rows(estimator, X, y=None) -> tuple:
    """``(X, Y, missing)`` for scoring rows: ``X`` as the fitted model takes them and a
    target ``y`` (:func:`._targets.check_target`; None for none or labels) as tensors,
    and where ``X``'s imputed cells are, which count against a target (it holds every
    cell) but not against ``X`` itself (None then)."""
    X, sample_shape, missing = estimator._check_rows(X, reset=False)
    Y = estimator._target(y, X, sample_shape)
    if Y is not None:
        return estimator._to_tensor(X), estimator._to_tensor(Y), None
    return estimator._to_tensor(X), None, missing


class ScaledUnitsMixin:
    """``to_scaled``, ``reconstruct_scaled`` and ``from_scaled``: rows in the model's scaled
    units, where :func:`~aekit.compare_with_pca` compares; and ``score_samples`` and
    ``score``, the reconstruction errors measured there (a family scores its own way in
    ``_scores``)."""

    def to_scaled(self, X):
        """``X`` in the model's scaled units: where reconstructions are compared.

        Each numeric column as the in-model scaler maps it (the units the network is
        trained in), each categorical column one-hot. :func:`~aekit.compare_with_pca` fits
        PCA on these rows, so both models see the same scaling, and :meth:`score_samples`
        measures errors here.

        Returns
        -------
        S : ndarray of shape (n_samples, n_scaled)
            ``n_features_in_`` columns, or for a table one per numeric column and one per
            category of each categorical column.
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        S = infer(lambda x: scaled(self.module_, x), self._to_tensor(X), INFER_BATCH)
        return to_numpy(S, X)

    def reconstruct_scaled(self, X):
        """The reconstruction of ``X`` in scaled units (see :meth:`to_scaled`); a table's
        categorical columns as the predicted probability of each category.

        Returns
        -------
        S_hat : ndarray of shape (n_samples, n_scaled)
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        module = self.module_
        S_hat = infer(lambda x: scaled_reconstruction(module, x), self._to_tensor(X),
                      INFER_BATCH)
        return to_numpy(S_hat, X)

    def from_scaled(self, S, like=None):
        """Rows in the caller's units from rows in scaled units (:meth:`to_scaled`), such
        as PCA's reconstructions there; each category block gives its largest entry.

        Parameters
        ----------
        S : array-like of shape (n_samples, n_scaled)
        like : array-like of shape (n_samples, n_features), optional
            The rows ``S`` reconstructs, for ``scaler="sample"`` (each row's own level).

        Returns
        -------
        X : ndarray or DataFrame, as :meth:`inverse_transform` gives
        """
        check_is_fitted(self)
        S = check_array(S, dtype=[np.float64, np.float32], ensure_all_finite=False)
        like_t = None if like is None else self._to_tensor(self._check_X(like, reset=False))
        scaler = self.module_.scaler
        S_t = self._to_tensor(S)
        with torch.no_grad():
            X = torch.cat([scaler.inverse(S_t[i : i + INFER_BATCH], None if like_t is None
                                          else like_t[i : i + INFER_BATCH])
                           for i in range(0, len(S_t), INFER_BATCH)])
        return self._output(to_numpy(X, S))

    def score_samples(self, X):
        """Per-row negative mean squared reconstruction error, in the model's scaled units.

        Higher is better, as everywhere in scikit-learn; ``-score_samples(X)`` is each
        row's reconstruction error (useful to rank anomalies), measured where
        :func:`~aekit.compare_with_pca` measures it (:meth:`to_scaled`): every column
        counts alike whatever its units (a table's categorical column by the squared error
        of its predicted probabilities, the Brier score); imputed cells do not count. With
        ``scaler=None`` that is the caller's units. Scores of models with different
        ``scaler`` are in different units: to select a scaler, score in the caller's units
        with ``GridSearchCV(..., scoring=aekit.reconstruction_r2_scorer)`` (per-column R²,
        :func:`aekit.evaluation.scoring.reconstruction_r2_scorer`).

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        if is_streamable(X):  # a file or memory map, read chunk by chunk (see Notes)
            return np.concatenate(list(self.map_chunks(X, self.score_samples)))
        check_is_fitted(self)
        return self._scores(X)

    def _scores(self, X, y=None) -> np.ndarray:
        """:meth:`score_samples` of ``X``, each reconstruction measured against its row of
        a target ``y`` when given (:meth:`score`)."""
        X, Y, missing = scored_rows(self, X, y)
        module = self.module_
        errors = infer_pairs(partial(scaled_errors, module), X, Y)
        return -row_scores(module, errors.cpu().numpy(), missing)

    def score(self, X, y=None, sample_weight=None):
        """Mean of :meth:`score_samples` (weighted by ``sample_weight``): minus the mean
        squared error in the model's scaled units (every column counted alike); higher is
        better, so GridSearchCV picks the best among models with the same ``scaler``
        (across scalers, pass ``scoring=aekit.reconstruction_r2_scorer``, which measures in
        the caller's units). A ``y`` of ``X``'s shape is the target of ``fit(X, y)``
        (GridSearchCV passes it): the reconstructions are scored against it, not against
        ``X``; labels are ignored.
        ``sample_weight`` follows ``fit``'s rules: one finite weight >= 0 per row, not all 0
        (a ValueError otherwise)."""
        if y is not None and np.ndim(y) > 1 and is_streamable(X):
            raise ValueError("score(X, y) with a target needs X in memory, not a path")
        scores = self.score_samples(X) if y is None or np.ndim(y) < 2 else self._scores(X, y)
        # fit's rules for weights: np.average took negative ones and failed on others with
        # a numpy message (a length or all zeros, as a cross-validation fold may give).
        return float(np.average(scores, weights=check_weight(sample_weight, scores)))
