"""What ``fit`` takes besides ``X``: an explicit target, row weights, a hold-out of the
caller's own, and the history of a continued (``warm_start``) fit.

Each is checked here once, with an error that says what was wrong and how to pass it, and
turned into the aligned columns of the loop's batch dict (:mod:`aekit.objectives`):
``"x"`` the target rows, ``"x_in"`` the input rows when they differ, ``"w"`` the weights.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils import check_array
from sklearn.utils.validation import _check_sample_weight

from .._checks import check_finite


def check_target(y, X_shape: tuple, n_features: int) -> np.ndarray | None:
    """The reconstruction target of ``fit(X, y)`` as rows (n, n_features), or None.

    ``y=None`` and a 1-D ``y`` (labels, as a :class:`~sklearn.pipeline.Pipeline` passes
    them to every step) mean "reconstruct ``X``"; a ``y`` of ``X``'s shape is the target
    (denoising pairs: ``fit(X_noisy, X_clean)``). Any other shape is an error.
    """
    if y is None:
        return None
    Y = np.asarray(y)
    shape = Y.shape
    if len(shape) == 1:
        return None  # labels: unsupervised, as scikit-learn's transformers ignore y
    if tuple(shape) != tuple(X_shape):
        raise ValueError(
            f"y has shape {tuple(shape)} but X has shape {tuple(X_shape)}: a reconstruction "
            "target must have X's shape (e.g. fit(X_noisy, X_clean) for denoising pairs). "
            "Pass y=None to reconstruct X itself; 1-D labels are ignored."
        )
    Y = check_array(Y.reshape(len(Y), -1), dtype=[np.float64, np.float32],
                    ensure_all_finite=False, input_name="y")
    check_finite(Y, "y")
    if Y.shape[1] != n_features:  # cannot happen when the shapes match; kept as a guard
        raise ValueError(f"y has {Y.shape[1]} features per row, X has {n_features}")
    return Y


def check_weight(sample_weight, X: np.ndarray) -> np.ndarray | None:
    """``sample_weight`` as float64 (n,), non-negative and finite, not all zero; or None."""
    if sample_weight is None:
        return None
    w = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
    if not np.isfinite(w).all():
        raise ValueError("sample_weight has NaN or infinite entries; pass finite weights >= 0")
    if not w.any():
        raise ValueError("sample_weight is 0 for every row; at least one row needs a weight > 0")
    return w


def unpack_validation_data(validation_data) -> tuple:
    """``(X_val, y_val, w_val)`` from ``validation_data``: rows, or a tuple ``(X_val,)``,
    ``(X_val, y_val)`` or ``(X_val, y_val, sample_weight_val)`` as Keras takes it."""
    if isinstance(validation_data, tuple):
        if not 1 <= len(validation_data) <= 3:
            raise ValueError(
                f"validation_data is a tuple of {len(validation_data)} items; pass X_val, "
                "(X_val,), (X_val, y_val) or (X_val, y_val, sample_weight_val)"
            )
        return (*validation_data, *(None,) * (3 - len(validation_data)))
    return validation_data, None, None


def columns(X_in: torch.Tensor, target: torch.Tensor | None, w: np.ndarray | None) -> dict:
    """The loop's aligned columns for scaled input rows, an optional scaled target and
    optional row weights (normalised to mean 1 over these rows: see
    :func:`aekit.losses.weighted_mean`)."""
    cols = {"x": X_in} if target is None else {"x": target, "x_in": X_in}
    if w is not None:
        w = torch.as_tensor(w / w.mean() if w.mean() > 0 else w, dtype=torch.float32,
                            device=X_in.device)
        cols["w"] = w
    return cols


def select(cols: dict, rows: torch.Tensor) -> dict:
    """The same rows of every column; weights renormalised to mean 1 over them."""
    out = {key: value.index_select(0, rows) for key, value in cols.items()}
    if "w" in out and len(rows) and float(out["w"].mean()) > 0:
        out["w"] = out["w"] / out["w"].mean()
    return out


def continued_history(previous: list[dict], new: list[dict]) -> list[dict]:
    """The history of a ``warm_start`` fit: the earlier records (no longer "kept"), then
    the new ones with their training epochs numbered on from the earlier ones."""
    previous = [{k: v for k, v in r.items() if k != "kept"} for r in previous]
    offset = max((r["epoch"] for r in previous if r["phase"] == "train"), default=0)
    for r in new:
        if r["phase"] == "train":
            r["epoch"] += offset
    return previous + new
