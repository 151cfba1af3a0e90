"""What ``fit`` takes besides ``X``: an explicit target, row weights, a hold-out of the
caller's own, and the model a ``warm_start`` fit continues; and the warning for an output
activation that cannot reach the targets.

Each is checked here once, with an error that says what was wrong and how to pass it, and
turned into the aligned columns of the loop's batch dict (:mod:`aekit.training.objectives`):
``"x"`` the target rows, ``"x_in"`` the input rows when they differ, ``"w"`` the weights.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.utils import check_array

from ..core.checks import check_finite, check_weight, user_warning
from ..core.fitted import changed, changed_params, same
from ..data.fingerprints import sha256_rows, update_rows
from ..data.tables import is_table
from ..evaluation.diagnostics import DiagnosticWarning


def check_target(y, X_shape: tuple, n_features: int, schema=None) -> np.ndarray | None:
    """The reconstruction target of ``fit(X, y)`` as rows (n, n_features), or None.

    ``y=None`` and a 1-D ``y`` (labels, as a :class:`~sklearn.pipeline.Pipeline` passes
    them to every step) mean "reconstruct ``X``"; a ``y`` of ``X``'s shape is the target
    (denoising pairs: ``fit(X_noisy, X_clean)``). Any other shape is an error.

    ``schema``: the fitted :class:`~aekit.data.schema.InputSchema` of ``X``. The target's
    columns are X's, taken by position: a DataFrame ``y`` must name them as ``X`` did, in
    the same order; a table with categorical columns takes no target (its categories are
    coded inside the model, which a target's would not be).
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
    if schema is not None and schema.has_categories:
        raise ValueError(
            "a reconstruction target y takes rows of numbers, but X is a table with "
            "categorical columns (coded inside the model); fit(X) reconstructs the table "
            "itself, or one-hot encode the categories of X and y yourself and fit on the "
            "numeric arrays."
        )
    names = getattr(schema, "feature_names", None)
    if names is not None and is_table(y) and [str(c) for c in y.columns] != list(names):
        # Taken by position, another order would teach the model to put each column's
        # values in another's place, and reconstruct() would label them with X's names.
        raise ValueError(
            f"y's columns {[str(c) for c in y.columns]} are not X's {list(names)} in X's "
            "order: each column of the target is the reconstruction of X's column in its "
            "place. Pass y[list(X.columns)] (or y.to_numpy() to take them by position)."
        )
    Y = check_array(Y.reshape(len(Y), -1), dtype=[np.float64, np.float32],
                    ensure_all_finite=False, input_name="y")
    check_finite(Y, "y")
    if Y.shape[1] != n_features:  # cannot happen when the shapes match; kept as a guard
        raise ValueError(f"y has {Y.shape[1]} features per row, X has {n_features}")
    return Y


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


def columns(X_in: torch.Tensor, target: torch.Tensor | None, w: np.ndarray | None,
            mask: torch.Tensor | None = None) -> dict:
    """The loop's aligned columns for scaled input rows, an optional scaled target,
    optional row weights (normalised to mean 1 over these rows: see
    :func:`aekit.training.losses.weighted_mean`) and the optional mask of the input's
    imputed cells (:func:`._tables.network_mask`).

    The mask leaves imputed cells out of the loss (``"mask"``) only where the input is its
    own target: an imputed cell's value there is a guess. A target of its own
    (``fit(X, y)``) holds every cell (:func:`check_target` refuses NaN), so its loss counts
    them all, the imputed input cells included (learning to fill them is the point of
    ``fit(X_with_gaps, X_complete)``); the mask is then kept as ``"mask_in"``, for what
    reconstructs the input (greedy pretraining: :meth:`._base.FitData.input_columns`).
    """
    cols = {"x": X_in} if target is None else {"x": target, "x_in": X_in}
    if mask is not None:
        cols["mask" if target is None else "mask_in"] = mask
    if w is not None:
        w = torch.as_tensor(w / w.mean() if w.mean() > 0 else w, dtype=torch.float32,
                            device=X_in.device)
        cols["w"] = w
    return cols


def hold_out(order: np.ndarray, w: np.ndarray | None,
             fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """``(training rows, hold-out rows)`` of the rows in a random ``order``: the hold-out
    is the first ``fraction`` of the rows of positive weight ``w`` (every row when ``w``
    is None), the rest train, in ``order``. Too few rows for both sides: no hold-out.

    A row of weight 0 would measure nothing in the hold-out, and a hold-out of such rows
    only would give a validation loss of 0 every epoch, which early stopping takes for a
    model that never improves: such rows always train (where they weigh nothing either).
    With every weight positive the split is the unweighted one.
    """
    measured = order if w is None else order[w[order] > 0]
    n_val = int(fraction * len(measured))
    if n_val < 1 or len(measured) - n_val < 1:
        n_val = 0
    held = measured[:n_val]
    return order[~np.isin(order, held)], held


def select(cols: dict, rows: torch.Tensor) -> dict:
    """The same rows of every column; weights renormalised to mean 1 over them."""
    out = {key: value.index_select(0, rows) for key, value in cols.items()}
    if "w" in out and len(rows) and float(out["w"].mean()) > 0:
        out["w"] = out["w"] / out["w"].mean()
    return out


def trained_epochs(history: list[dict]) -> int:
    """The training epochs (phase ``"train"``) a fitted model's ``history`` counts."""
    return max((r["epoch"] for r in history if r["phase"] == "train"), default=0)


def continued_history(previous: list[dict], new: list[dict]) -> list[dict]:
    """The history of a ``warm_start`` fit: the earlier records (no longer "kept"), then
    the new ones with their training epochs numbered on from the earlier ones."""
    previous = [{k: v for k, v in r.items() if k != "kept"} for r in previous]
    offset = trained_epochs(previous)
    for r in new:
        if r["phase"] == "train":
            r["epoch"] += offset
    return previous + new


def validation_rows(estimator, validation_data) -> dict:
    """``validation_data`` (see ``fit``) checked as ``X`` is: rows ``X``, target ``Y``,
    weights ``w`` and ``missing`` cells, as NumPy arrays (or None)."""
    X_val, y_val, w_val = unpack_validation_data(validation_data)
    X_val, sample_shape, missing = estimator._check_rows(X_val, reset=False)
    Y_val = estimator._target(y_val, X_val, sample_shape)
    return {"X": X_val, "Y": Y_val, "w": check_weight(w_val, X_val), "missing": missing}


def validation_columns(estimator, rows: dict, scaler) -> dict:
    """The loop's columns of the checked ``validation_data`` (:func:`validation_rows`),
    scaled like the training rows."""
    from ._tables import check_unit_range, network_mask, row_extremes

    target = scaler(estimator._to_tensor(rows["Y"])) if rows["Y"] is not None else None
    # Imputed cells: masked out of the loss as in training (see columns).
    mask = (None if rows["missing"] is None
            else network_mask(scaler, rows["missing"], estimator.device_))
    cols = columns(scaler(estimator._to_tensor(rows["X"])), target, rows["w"], mask)
    if estimator.loss == "bce":
        check_unit_range(row_extremes(cols["x"]), "validation_data",
                         "give hold-out rows in the training data's range (clip them), or "
                         "fit with loss='mse'.")
    return cols


def _sha256(*arrays) -> str:
    digest = hashlib.sha256()
    for v in arrays:
        # The shape goes in too: the same bytes as another shape are other rows.
        digest.update(repr(None if v is None else np.shape(v)).encode())
        if v is not None:
            update_rows(digest, v)  # no whole copy of a strided view
    return digest.hexdigest()


def fingerprints(Y: np.ndarray | None, w: np.ndarray | None,
                 validation: dict | None = None) -> dict:
    """SHA-256 of a target, of row weights and of the checked ``validation_data``
    (:func:`validation_rows`), for a checkpoint's data fingerprint: a fit resumes only
    with the same ones."""
    found = {key: sha256_rows(v) for key, v in (("y", Y), ("w", w)) if v is not None}
    if validation is not None:
        found["validation_data"] = _sha256(*(validation[k] for k in ("X", "Y", "w")))
    return found


def refuse_for_streams(y, sample_weight, validation_data, warm) -> None:
    """What a fit on rows read from disk cannot take, as a ValueError."""
    target = y is not None and np.ndim(y) > 1  # 1-D labels are ignored, as in memory
    if target or sample_weight is not None or validation_data is not None or warm:
        raise ValueError(
            "a target y, sample_weight, validation_data and warm_start need X in memory; a "
            "path or memmap X is read in chunks for a fresh, unweighted fit (load it with "
            "np.load(path))."
        )


@dataclass
class WarmStart:
    """What a ``warm_start`` fit continues: a copy of the fitted module (trained in place,
    so a failed fit leaves the estimator's own untouched), its history, its output
    activation, its input schema (new rows are read as the fitted ones were) and the
    parameters it was fitted with."""

    module: torch.nn.Module
    history: list
    output_activation: str
    schema: object = None  # the fitted InputSchema: the inputs the module was built for
    params: dict | None = None  # fitted_params_: the parameters the module was built with

    def check(self, estimator) -> None:
        """Refuse parameters that describe another network than the fitted one: a
        ValueError naming those of ``estimator._network_params`` that changed; warn of
        those of ``estimator._start_params`` set since the fit, which have no effect."""
        estimator.output_activation_ = self.output_activation
        now = estimator.get_params(deep=False)
        # A model pickled by an aekit that recorded no fitted_params_ has none to compare.
        names = changed(self.params or {}, now, estimator._network_params)
        if names:
            shown = ", ".join(f"{n}={self.params[n]!r} (now {now[n]!r})" for n in names)
            raise ValueError(
                "warm_start=True continues the fitted network, but parameters that define "
                f"it changed since it was fitted: {shown}. Set them back to continue it, "
                "or set warm_start=False to fit a new network from scratch."
            )
        # What only starts a network (restarts, pretraining) cannot act on one continued.
        # Warned of when set since the fit, not at each continuation of a model it shaped;
        # a parameter idle anyway (pretrain_epochs without pretrain) is warned of by fit.
        fitted = self.params or {}
        idle = [name for name in changed_params(estimator, estimator._start_params)
                if name not in estimator._idle_params()
                and (name not in fitted or not same(fitted[name], now[name]))]
        if idle:
            shown = ", ".join(f"{n}={now[n]!r}" for n in idle)
            it, has = ("them", "have") if len(idle) > 1 else ("it", "has")
            user_warning(
                f"{shown} {has} no effect in this fit: warm_start=True continues the fitted "
                "network for max_epochs more epochs, in one run and without pretraining. "
                f"Set warm_start=False to fit a new network with {it}, or leave {it} as the "
                f"fitted network had {it} ({', '.join(f'{n}={fitted.get(n)!r}' for n in idle)})."
            )


def warm_fingerprint(warm: WarmStart | None) -> dict:
    """SHA-256 of the fitted weights a ``warm_start`` fit continues, for a checkpoint's data
    fingerprint ({} for a fit from scratch): resumed by an estimator that continues no
    model, or another one, the fit would end elsewhere than the interrupted one would."""
    if warm is None:
        return {}
    state = warm.module.state_dict()
    return {"warm_start": _sha256(*(state[k].detach().cpu().numpy() for k in sorted(state)))}


def warm_start_point(estimator) -> WarmStart | None:
    """The fitted model a ``warm_start`` fit of ``estimator`` continues, or None."""
    if not getattr(estimator, "warm_start", False) or not hasattr(estimator, "module_"):
        return None
    return WarmStart(copy.deepcopy(estimator.module_), [dict(r) for r in estimator.history_],
                     estimator.output_activation_, getattr(estimator, "schema_", None),
                     getattr(estimator, "fitted_params_", None))


def warn_unreachable_output(estimator, targets: torch.Tensor) -> None:
    """Warn (with the fix) when a sigmoid output cannot give the training targets: scaled
    values outside [0, 1] can never be reconstructed."""
    if estimator.output_activation_ != "sigmoid":
        return
    low, high = targets.amin(0), targets.amax(0)
    outside = (low < 0) | (high > 1)
    if not bool(outside.any()):
        return
    j = int(torch.argmax((high - 1).clamp_min(0) + (-low).clamp_min(0)))
    user_warning(
        f"output_activation='sigmoid' only gives values in (0, 1), but {int(outside.sum())} "
        f"of {len(low)} features leave [0, 1] once scaled (scaler={estimator.scaler!r}; "
        f"feature {j} spans [{float(low[j]):.4g}, {float(high[j]):.4g}]): their values "
        "outside [0, 1] can never be reconstructed. Use output_activation='auto' (linear "
        "for such data), or scaler='minmax' to map every feature into [0, 1].",
        DiagnosticWarning,
    )
