"""``summary()``: the fitted network as a layer table, Keras' ``model.summary()``."""

from __future__ import annotations

import torch
from sklearn.utils.validation import check_is_fitted

from ..nn.summary import ModelSummary, layer_table
from ..training.loop import autocast_dtype
from ..core.fitted import as_fitted


class SummaryMixin:
    """``summary()``, Keras' ``model.summary()``, for estimators with a fitted ``module_``."""

    def summary(self) -> ModelSummary:
        """The fitted network, layer by layer: name, type, output shape, parameters.

        Returns
        -------
        ModelSummary
            Prints as a table (``print(est.summary())``), with the parameter totals and the
            training precision; ``.layers`` holds the rows for programs.
        """
        check_is_fitted(self)
        fitted = as_fitted(self)  # the parameters the network was fitted with
        n = self.n_features_in_
        layers, total, trainable = layer_table(self.module_, n)
        if hasattr(self, "classes_"):
            shape = f"{n} features -> {len(self.classes_)} classes"
        else:
            shape = f"{n} features -> {fitted.n_components} codes -> {n} features"
        dtype = autocast_dtype(fitted.precision, getattr(self, "device_", torch.device("cpu")))
        precision = ("bfloat16 matrix products (autocast), float32 weights"
                     if dtype == torch.bfloat16 else "float32")
        notes = []
        scaler = getattr(self.module_, "scaler", None)
        statistics = sum(b.numel() for b in scaler.buffers()) if scaler is not None else 0
        if statistics:
            notes.append(f"scaler={getattr(fitted, 'scaler', None)!r}: {statistics:,} statistics "
                         "fitted in fit (buffers, not trained)")
        return ModelSummary(f"{type(self).__name__}: {shape}", layers, total, trainable,
                            precision, notes)
