"""Checks of what a fitted model reconstructs and how it is built, for :func:`aekit.diagnose`.

Each check measures the property it names and returns :class:`~aekit.evaluation.findings.Finding`
objects (or nothing):

- ``worse_than_mean``: features reconstructed worse than by predicting their mean (R² < 0);
- ``output_range``: a sigmoid output asked for values outside [0, 1], which it cannot give;
- ``overcomplete_code``: a code as wide as the input and no regulariser, so the identity
  is within reach and the code need not learn structure;
- ``narrow_hidden_layer``: a hidden layer narrower than the code, the real bottleneck;
- ``loss_spike``: an epoch whose loss jumped far above the best one before it (after a
  warm-up: :func:`judged_epochs`).

Everything is duck-typed on the estimator (``reconstruct``, ``module_``, ``n_components``,
``noise``...), so the same checks serve every aekit estimator.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn

from ..nn.invariant import is_activation
from .columns import column_errors, column_slots, observed_rows
from .errors import r2_per_feature, reconstruction
from .findings import Finding, _list

REGULARISERS = ("noise", "sparsity", "contractive")
"""Parameters whose non-default value keeps an over-complete code from copying its input
(a variational model's KL term does too)."""


def feature_label(estimator, j: int) -> str:
    """``"feature 4 ('a/b')"`` when the estimator knows column names, else ``"feature 4"``."""
    names = getattr(estimator, "feature_names_in_", None)
    return f"feature {j} ({names[j]!r})" if names is not None else f"feature {j}"


def counted_features(X: np.ndarray) -> np.ndarray:
    """Features whose variance is at least 1% of the median varying feature's: a pixel lit
    in a handful of rows has an R² that says nothing about the model. Missing cells (NaN)
    are left out: a column with a few is counted by its observed rows."""
    with warnings.catch_warnings():  # a column observed nowhere: NaN, not counted
        warnings.simplefilter("ignore", RuntimeWarning)
        var = np.nan_to_num(np.nanvar(X, axis=0))
    varying = var > 0
    if not varying.any():
        return np.zeros(X.shape[1], dtype=bool)
    return var >= 1e-2 * np.median(var[varying])


def reconstruction_r2(estimator, X: np.ndarray) -> np.ndarray | None:
    """R² of each feature's reconstruction of rows ``X`` (see
    :func:`aekit.evaluation.metrics.r2_per_feature`), or None when the estimator cannot
    reconstruct."""
    X_hat = reconstruction(estimator, X)
    if X_hat is None:
        return None
    X_hat = np.asarray(X_hat, dtype=np.float64).reshape(len(X), -1)
    return r2_per_feature(X.reshape(len(X), -1), X_hat)


def check_worse_than_mean(estimator, X: np.ndarray, r2: np.ndarray) -> list[Finding]:
    """Features reconstructed worse than their mean would be (R² < 0), ``r2`` measured on
    the rows ``X``."""
    counted = counted_features(X)
    labels = [feature_label(estimator, j) for j in range(len(r2))]
    return _worse_than_mean(labels, np.asarray(r2, dtype=np.float64), counted, "features",
                            len(X))


def check_columns_worse_than_mean(estimator, X) -> list[Finding]:
    """A table's columns reconstructed worse than their mean would be (R² < 0), each
    named, with R² measured as :func:`~aekit.evaluation.metrics.compare_with_pca` does: in
    the model's scaled units, a categorical column by its one-hot block, on the rows where
    the column is observed."""
    if not callable(getattr(estimator, "reconstruct_scaled", None)) or len(X) < 2:
        return []
    S = np.asarray(estimator.to_scaled(X), dtype=np.float64)
    S_hat = np.asarray(estimator.reconstruct_scaled(X), dtype=np.float64)
    slots = column_slots(estimator, S.shape[1])
    _, r2 = column_errors(S, S_hat, slots, observed_rows(X, slots))
    r2 = np.asarray(r2, dtype=np.float64)
    varying = np.array([float(S[:, idx].var(0).sum()) > 0 for _, _, idx in slots])
    labels = [repr(name) for name, _, _ in slots]
    return _worse_than_mean(labels, r2, varying & np.isfinite(r2), "columns", len(X))


def _worse_than_mean(labels: list[str], r2: np.ndarray, counted: np.ndarray,
                     what_kind: str, n_rows: int) -> list[Finding]:
    # The text names the rows the R² is measured on (those diagnose was given, the training
    # rows in a report): a report's comparison table measures R² on its test rows, and two
    # R² of one feature that differed, unexplained, read as a contradiction.
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero(counted & (r2 < 0))
    if not len(bad):
        return []
    worst = bad[np.argsort(r2[bad])][:4]
    examples = ", ".join(f"{labels[j]}: R² {r2[j]:.3g}" for j in worst)
    median = float(np.median(r2[counted]))
    one = what_kind[:-1]
    what = (f"{len(bad)} of {int(counted.sum())} {what_kind} are reconstructed worse than by "
            f"predicting each {one}'s mean (R² < 0 on the {n_rows} rows diagnosed; {examples}). "
            f"The median R² over the {what_kind} is {median:.3g}.")
    todo = ("Look at the findings below for the cause; the usual ones are unscaled inputs "
            "(keep scaler='standard'), an output activation that cannot reach the values "
            "(output_activation='auto'), dead units (activation='elu'), too few epochs, or "
            f"a code too small for these {what_kind} (raise n_components); a {one} that is "
            "noise cannot be reconstructed by any model.")
    return [Finding("worse_than_mean", "error" if median < 0 else "warning", what, todo,
                    {what_kind: bad.tolist(), "names": [labels[j] for j in bad],
                     "r2": r2.tolist(), "median_r2": median})]


def output_activation_module(module: nn.Module) -> nn.Module | None:
    """The decoder's last leaf when it is an activation (a sigmoid for [0, 1] data)."""
    decoder = getattr(module, "decoder", None)
    if decoder is None:
        return None
    leaves = [m for m in decoder.modules() if not list(m.children())]
    last = leaves[-1] if leaves else None
    return last if last is not None and is_activation(last) else None


def check_output_range(estimator, module: nn.Module, X: np.ndarray,
                       r2: np.ndarray | None) -> list[Finding]:
    """A sigmoid output, and features outside [0, 1] once scaled: values it cannot give."""
    if not isinstance(output_activation_module(module), nn.Sigmoid):
        return []
    scaler = getattr(module, "scaler", None)
    x = torch.as_tensor(X.reshape(len(X), -1), dtype=torch.float32)
    try:
        device = next(module.parameters()).device
    except StopIteration:
        device = torch.device("cpu")
    with torch.no_grad():
        scaled = scaler(x.to(device)).cpu().numpy() if scaler is not None else X
    low, high = scaled.min(axis=0), scaled.max(axis=0)
    outside = np.flatnonzero((low < 0) | (high > 1))
    if not len(outside):
        return []
    share = float(((scaled < 0) | (scaled > 1)).mean())
    parts = []
    for j in outside[:3]:
        part = f"{feature_label(estimator, j)} spans [{low[j]:.4g}, {high[j]:.4g}]"
        if r2 is not None:
            part += f", R² {r2[j]:.3g}"
        parts.append(part)
    what = (f"The decoder ends in a sigmoid, whose outputs lie in (0, 1), but {len(outside)} "
            f"of {scaled.shape[1]} features leave [0, 1] in the network's units "
            f"({'; '.join(parts)}); {share:.1%} of all values cannot be reconstructed.")
    todo = ("Use output_activation='auto' (linear for such data) or 'linear', or "
            "scaler='minmax' to map every feature into [0, 1] inside the model.")
    severity = "error" if share >= 0.05 else "warning" if share >= 1e-3 else "info"
    return [Finding("output_range", severity, what, todo,
                    {"features": outside.tolist(), "share_outside": share})]


def check_structure(estimator, module: nn.Module) -> list[Finding]:
    """An over-complete code without a regulariser; a hidden layer narrower than the code."""
    k = getattr(estimator, "n_components", None)
    n = getattr(estimator, "n_features_in_", None)
    if not isinstance(k, int) or not isinstance(n, int):
        return []
    findings = []
    regularised = [p for p in REGULARISERS if getattr(estimator, p, None) not in (None, 0, 0.0)]
    variational = callable(getattr(estimator, "kl_per_dimension", None)) and (
        getattr(estimator, "beta", 1.0) > 0)
    if k >= n and not regularised and not variational:
        findings.append(Finding(
            "overcomplete_code", "warning",
            f"The code has n_components={k} dimensions for {n} input features and no "
            "regulariser: the network can pass its input through unchanged (the identity), "
            "so a low error says nothing about learned structure, and the code dimensions "
            "need not mean anything.",
            # One feature: no smaller code exists, so only a regulariser (or more features)
            # is advice that can be followed.
            (f"Use n_components < {n}, or keep it and add a regulariser: " if n > 1 else
             "With one input feature no code is smaller (n_components=1 is the least); "
             "reconstruct several features together, or add a regulariser: ")
            + "noise='gaussian' (denoising), sparsity='l1' or 'kl', or contractive > 0.",
            {"n_components": k, "n_features": n},
        ))
    narrow = [(name, m.out_features) for name, m in _hidden_linears(module)
              if m.out_features < k]
    if narrow:
        where = ", ".join(f"{name}: {width} units" for name, width in narrow)
        findings.append(Finding(
            "narrow_hidden_layer", "warning",
            f"Hidden layer(s) narrower than the {k}-dimensional code ({where}): every value "
            f"passes through {min(w for _, w in narrow)} numbers there, so that layer, not "
            "the code, is the bottleneck, and the extra code dimensions are redundant.",
            f"Make every hidden layer at least {k} wide (hidden_layer_sizes='auto' is), or "
            f"lower n_components to {min(w for _, w in narrow)}.",
            {"layers": dict(narrow), "n_components": k},
        ))
    return findings


def _hidden_linears(module: nn.Module) -> list[tuple[str, nn.Module]]:
    """The dense hidden layers: every Linear of encoder and decoder except the code layer
    (the encoder's last) and the output layer (the decoder's last)."""
    out = []
    for part in ("encoder", "decoder"):
        sub = getattr(module, part, None)
        if sub is None:
            continue
        linears = [(f"{part}.{name}", m) for name, m in sub.named_modules()
                   if hasattr(m, "out_features") and hasattr(m, "in_features")]
        out += linears[:-1]  # the code layer; the output layer
    return out


def judged_epochs(estimator, history) -> tuple[list[dict], int]:
    """The training records (phase ``"train"``) after the estimator's warm-up, the epochs
    its early stopping and schedule judged, and the warm-up's length in epochs.

    In a warm-up (the VAE's KL warm-up) the loss rises with the KL weight, on the hold-out
    too, so its epochs do not compare with later ones: a check that compared them would
    name a best epoch the fit could never keep, or call the ramp a rise or a spike."""
    train = [r for r in history if r.get("phase", "train") == "train"] or list(history)
    # The count the fit gave early stopping (start_from_epoch), so both judge the same
    # epochs; records number epochs on across warm_start fits, as the warm-up does.
    warm = getattr(estimator, "_warmup_epochs", lambda: 0)()
    return [r for r in train if r["epoch"] > warm], warm


def check_spikes(history, spike_ratio: float = 3.0, warmup: int = 3) -> list[Finding]:
    """Epochs whose loss (training or validation) rose ``spike_ratio``-fold above the best
    one before them, after the first ``warmup`` epochs."""
    train = [r for r in history if r.get("phase", "train") == "train"] or list(history)
    found = []
    for key in ("val_loss", "loss"):
        values = np.array([np.nan if r.get(key) is None else r[key] for r in train], float)
        if len(values) <= warmup or np.isnan(values).all():
            continue
        best = np.fmin.accumulate(np.where(np.isnan(values), np.inf, values))
        ratio = values[warmup:] / np.maximum(best[warmup - 1:-1], 1e-300)
        hits = np.flatnonzero(ratio >= spike_ratio) + warmup
        if len(hits) and np.all(values > 0):
            found.append((key, hits, ratio[hits - warmup]))
    if not found:
        return []
    key, hits, ratios = found[0]
    epochs = [train[i]["epoch"] for i in hits]
    label = "validation" if key == "val_loss" else "training"
    values = [r.get(key) for r in train]
    before = min(v for v in values[: hits[0]] if v is not None)
    recovered = min(v for v in values[hits[-1]:] if v is not None) < before
    what = (f"The {label} loss spiked: in epoch(s) {_list(epochs, 6)} it rose up to "
            f"{float(ratios.max()):.3g}x the best value before it. A spike is a step too "
            "large for the region the weights were in; "
            + ("the loss recovered below its earlier best afterwards." if recovered
               else "the loss never got back below its earlier best."))
    # A tenfold jump, or one the fit never recovered from, is a problem; a smaller one
    # that training made up for is noted.
    severity = "warning" if ratios.max() >= 10 or not recovered else "info"
    todo = ("Lower learning_rate, keep lr_schedule='plateau' and early_stopping=True "
            "(the best weights are kept), or use a larger batch_size.")
    return [Finding("loss_spike", severity, what, todo,
                    {"loss": key, "epochs": epochs, "max_ratio": float(ratios.max()),
                     "recovered": recovered})]
