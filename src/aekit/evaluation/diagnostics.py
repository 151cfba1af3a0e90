"""Why did a run go wrong? Dead and saturated units, collapsed codes, badly scaled inputs.

:func:`diagnose` looks at a fitted estimator and data and returns :class:`Finding` objects,
each saying what was seen and what to do about it. Checks that need something the estimator
does not have (a history, a ``kl_per_dimension`` method, a torch ``module_``) are skipped, so
the same call serves every aekit estimator and anything shaped like one.

The network's units are checked by :mod:`aekit.evaluation.units` (activations recorded with
forward hooks, the network never changed), what it reconstructs and how it is built by
:mod:`aekit.evaluation.quality`. The history's checks judge the epochs after a warm-up (a
VAE's ``kl_warmup_epochs``), as early stopping does.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from sklearn.pipeline import Pipeline
from sklearn.utils import get_tags
from sklearn.exceptions import NotFittedError
from torch import nn

from . import quality
from ..core.checks import user_warning
from ..core.fitted import as_fitted
from .findings import (SEVERITIES, DiagnosticWarning, Diagnosis, Finding,  # noqa: F401
                       _list, _plain)  # re-exported: their home is findings
from .findings import _learning_rate
from ..data.tables import is_table
from .errors import r2_central, r2_per_feature
from .probes import sample_rows
from ..nn.layers import TAIL_RATIO, tail_ratios
from .quality import reconstruction_r2
from .units import _check_units


# --------------------------------------------------------------------------- entry points
def diagnose(
    estimator,
    X,
    *,
    max_rows: int = 5000,
    saturation: float = 0.99,
    saturated_rows: float = 0.9,
    collapse_ratio: float = 1e-3,
    kl_threshold: float = 0.01,
    overfit_ratio: float = 1.5,
    spike_ratio: float = 3.0,
    random_state=0,
) -> Diagnosis:
    """Look for the usual reasons an autoencoder run fails.

    Parameters
    ----------
    estimator : fitted AutoEncoder (or anything with ``module_``, ``transform``, ...)
    X : array-like of shape (n_samples, n_features), or DataFrame
        Rows to look at, in the caller's units (usually the training data). For a table,
        the input checks look at its numeric columns.
    max_rows : int, default=5000
        Activations and codes are computed on at most this many rows (drawn with
        ``random_state``); the input statistics use all rows.
    random_state : int, default=0
        Seeds the rows drawn for ``max_rows``.
    saturation : float, default=0.99
        A tanh output beyond ``±saturation``, or a sigmoid output below ``1 - saturation`` or
        above ``saturation``, is saturated.
    saturated_rows : float, default=0.9
        A unit saturated on at least this share of the rows is reported.
    collapse_ratio : float, default=1e-3
        A code dimension whose variance is below this fraction of the largest one is collapsed.
    kl_threshold : float, default=0.01
        A VAE latent dimension with a mean KL below this (nats) has collapsed to the prior.
    overfit_ratio : float, default=1.5
        Final validation loss over final training loss above this is reported.
    spike_ratio : float, default=3.0
        An epoch whose loss is this many times the best loss before it is a spike.

    Returns
    -------
    Diagnosis
        A sequence of :class:`Finding`, most serious first.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        For an unfitted estimator: there is no model to diagnose, and an empty diagnosis
        would read as a clean bill of health.
    TypeError
        For a fitted model that is not an autoencoder (a classifier, a detector), with what
        to look at instead.
    ValueError
        For fewer than 2 rows: nothing varies on one row.
    """
    _check_diagnosable(estimator)
    estimator = as_fitted(estimator)  # judged with the parameters it was fitted with
    frame = X if is_table(X) else None
    X, X_num, names = _views(estimator, X)
    if len(X) < 2:  # every check compares rows: variances, R², spans
        raise ValueError(f"diagnose needs at least 2 rows of X, got {len(X)}: its checks "
                         "compare rows (each feature's variance and R², the directions the "
                         "layers span); pass the training rows, diagnose(estimator, X_train)")
    findings: list[Finding] = []
    idx = sample_rows(len(X), max_rows, random_state)
    X_small = X[idx]
    # Estimator methods take the rows as given (a table; rows with their missing cells),
    # the module its coded rows (missing cells filled as the model fills them).
    given = frame.iloc[idx] if frame is not None else X_num[idx].reshape(X_small.shape)
    findings += _check_tails(estimator, X_num[idx], names)
    module = getattr(estimator, "module_", None)
    # What the model reconstructs, per feature: the evidence the other checks' claims are
    # tested on (rows only: a table's columns are judged by _check_bulk).
    r2 = reconstruction_r2(estimator, given) if module is not None and frame is None \
        else None
    findings += _check_input(estimator, X_num, r2, names if frame is not None else None)
    if r2 is not None:
        findings += quality.check_worse_than_mean(estimator, X_num[idx], r2)
    elif module is not None and frame is not None:  # each column's R², as compare_with_pca
        findings += quality.check_columns_worse_than_mean(estimator, given)
    if isinstance(module, nn.Module):
        findings += _check_units(estimator, module, X_small, saturation, saturated_rows,
                                 r2, collapse_ratio)
        if frame is None:
            findings += quality.check_output_range(estimator, module, X_small, r2)
        findings += quality.check_structure(estimator, module)
    if module is not None and hasattr(estimator, "reconstruct"):
        findings += _check_bulk(estimator, given, X_num[idx], names)
    if module is not None and hasattr(estimator, "transform"):
        findings += _check_codes(estimator, given, collapse_ratio)
    if module is not None and callable(getattr(estimator, "kl_per_dimension", None)):
        findings += _check_posterior(estimator, given, kl_threshold)
    history = getattr(estimator, "history_", None)
    if history:
        findings += _check_history(estimator, history, overfit_ratio)
        findings += quality.check_spikes(quality.judged_epochs(estimator, history)[0],
                                         spike_ratio)
    return Diagnosis(findings, len(X))


def _check_diagnosable(estimator) -> None:
    """Refuse an unfitted model, and a fitted one that is not an autoencoder, naming what to
    diagnose instead: the checks encode and decode rows, which a classifier or a detector
    ensemble does not (they failed deep inside with an AttributeError)."""
    needs = ("diagnose looks for the reasons an autoencoder run fails (it encodes and "
             "decodes rows)")
    check_not_pipeline(estimator, needs)  # a fitted Pipeline has no module_ either
    if getattr(estimator, "module_", None) is None:  # duck-typed: a fitted model has one
        raise NotFittedError(
            f"This {type(estimator).__name__} instance is not fitted yet: there is no model "
            "to diagnose. Call fit first, then diagnose(estimator, X_train).")
    check_autoencoder(estimator, needs, {
        "encoder": "diagnose the autoencoder it reads: diagnose(model.autoencoder_, X)",
        "detector": "a detector's own page shows its training scores, terms and threshold: "
                    "aekit.report.write_detector_report(detector, X, path)",
        "classifier": "its fit warns (LearnedNothingWarning) when it classifies its labelled "
                      "rows no better than the most frequent class"})


def check_autoencoder(estimator, needs: str, fixes: dict[str, str]) -> None:
    """Raise a TypeError when a tool made for autoencoders (``needs`` says what it does with
    one) is given a classifier or an outlier detector, with ``fixes[kind]``: ``"encoder"``
    for a classifier over a fitted autoencoder (its ``autoencoder_``), ``"detector"``,
    ``"classifier"``. Duck-typed otherwise, as the checks are: an object scikit-learn's tags
    do not describe passes. A :class:`~sklearn.pipeline.Pipeline` is refused too
    (:func:`check_not_pipeline`)."""
    check_not_pipeline(estimator, needs)
    try:
        kind = get_tags(estimator).estimator_type
    except AttributeError:  # not a scikit-learn estimator
        return
    if kind == "outlier_detector":
        fix = fixes["detector"]
    elif kind != "classifier":
        return
    else:
        fix = fixes["encoder" if getattr(estimator, "autoencoder_", None) is not None
                    else "classifier"]
    raise TypeError(not_an_autoencoder(needs, type(estimator).__name__, fix))


def check_not_pipeline(estimator, needs: str) -> None:
    """Raise a TypeError when ``estimator`` is a scikit-learn Pipeline, saying how to pass
    the model in it: a tool that reads an aekit model's own network, scaling and codes
    (``needs`` says what it does with them) finds none on a Pipeline, which hides them
    behind its steps (it failed with an AttributeError, or called a fitted Pipeline not
    fitted)."""
    if not isinstance(estimator, Pipeline):
        return
    last = type(estimator[-1]).__name__ if len(estimator) else "nothing"
    rows = ("the rows the steps before it give, pipe[:-1].transform(X) for each X"
            if len(estimator) > 1 else "the rows as they are")
    raise TypeError(f"{needs}: it takes the model itself, not a Pipeline (this one ends in "
                    f"{last}); pass its last step, pipe[-1], with {rows} (the numbers are "
                    "then in the units that step is given)")


def not_an_autoencoder(needs: str, given: str, fix: str) -> str:
    """The one wording of "this takes an autoencoder", for the library's tools
    (:func:`check_autoencoder`) and the commands that read a run: ``needs`` says what the
    tool does with one, ``given`` names what it was given instead, ``fix`` what to do."""
    return (f"{needs}: it takes an autoencoder (AutoEncoder, VariationalAutoEncoder), and "
            f"{given} is not one; {fix}")


def warn_findings(estimator, X, *, min_severity: str = "warning") -> Diagnosis:
    """Run :func:`diagnose` and issue a :class:`DiagnosticWarning` per serious finding.

    Called at the end of ``fit`` when ``verbose`` is set. A fit on one row is not
    diagnosed (:func:`diagnose` needs two); the warning says so.
    """
    if len(X) < 2:
        user_warning(f"no diagnosis: the model was fitted on {len(X)} row, and the checks "
                     "compare rows; fit on more rows to have it diagnosed", DiagnosticWarning)
        return Diagnosis([], len(X))
    diagnosis = diagnose(estimator, X)
    floor = SEVERITIES.index(min_severity)
    for f in diagnosis:
        if SEVERITIES.index(f.severity) >= floor:
            user_warning(f"{f.what_was_seen} {f.what_to_do}", DiagnosticWarning)
    return diagnosis


# --------------------------------------------------------------------------- input
def _check_input(estimator, X: np.ndarray, r2=None, names=None) -> list[Finding]:
    """Inputs a network struggles with unscaled. Whether the model does struggle is
    measured: ``r2``, each feature's reconstruction R² (on a sample of the rows).
    ``names``: the columns of ``X`` (a table's numeric columns), named in the sentences."""
    scaler = getattr(estimator, "scaler", None)
    if len(X) < 2:
        return []

    def label(j: int) -> str:
        return f"{names[j]!r}" if names is not None else quality.feature_label(estimator, j)

    with warnings.catch_warnings():  # an all-missing column: NaN statistics, not counted
        warnings.simplefilter("ignore", RuntimeWarning)
        mean, std = np.nanmean(X, axis=0), np.nanstd(X, axis=0)
        span = np.nanmax(X, axis=0) - np.nanmin(X, axis=0)
        absmax = np.nanmax(np.abs(X), axis=0)
    mean, std, span, absmax = (np.nan_to_num(v) for v in (mean, std, span, absmax))
    varying = std > 0
    seen, fixes = [], []
    details: dict = {"scaler": scaler}

    # A large offset and a tiny spread: the variation drowns in the mean.
    tiny = varying & (std < 1e-2 * np.abs(mean))
    if tiny.any():
        j = int(np.flatnonzero(tiny)[0])
        seen.append(
            f"{int(tiny.sum())} of {X.shape[1]} features vary by less than 1% of their mean "
            f"(e.g. {label(j)}: mean {mean[j]:.4g}, std {std[j]:.3g})"
        )
        details["tiny_spread_features"] = np.flatnonzero(tiny).tolist()
    # Features on very different scales: the large ones dominate the loss and the gradients.
    if varying.sum() >= 2:
        big, small = int(np.argmax(np.where(varying, span, -np.inf))), int(
            np.argmin(np.where(varying, span, np.inf))
        )
        ratio = span[big] / span[small]
        if ratio > 100:
            seen.append(
                f"feature ranges differ {ratio:.3g}-fold ({label(big)} spans {span[big]:.4g}, "
                f"{label(small)} spans {span[small]:.3g})"
            )
            details["range_ratio"] = float(ratio)
    # Raw magnitudes far from O(1) matter only when nothing rescales them.
    magnitude = float(np.median(absmax))
    if scaler is None and magnitude > 100:
        seen.append(
            f"typical feature magnitude is {magnitude:.3g}, far from the O(1) a network expects"
        )
        details["magnitude"] = magnitude
    if not seen:
        return []

    handled = scaler in ("auto", "standard", "robust", "quantile", "log", "minmax") or (
        scaler == "sample" and "range_ratio" not in details
    )
    what = "; ".join(seen) + "."
    fixes = (
        "Refit with scaler='auto' (the default) or scaler='standard': the model "
        "standardises each feature inside itself and inverts it on output, so "
        "reconstructions stay in your units."
    )
    severity = "warning"
    # The features at risk: tiny spreads, else the narrow ones, else all; how well are they
    # reconstructed?
    at_risk = tiny if tiny.any() else (varying & (span < 1e-2 * span.max())) if (
        "range_ratio" in details) else varying
    learnt = None
    if r2 is not None and at_risk.any():
        learnt = float(np.median(r2[at_risk]))
        details["median_r2_at_risk"] = learnt
    if handled:
        fixes = f"The model's scaler={scaler!r} corrects this inside the model; keep it on."
        severity = "info"
    elif learnt is not None and learnt >= 0.9:
        what += (f" The model reconstructs these features nonetheless (median R² "
                 f"{learnt:.4f}), so nothing needs fixing now; a scaler would make "
                 "training less fragile.")
        severity = "info"
    elif scaler is None:
        what += (" The model trains on these raw values (scaler=None)" + (
            f" and reconstructs these features poorly (median R² {learnt:.3g}): it mostly "
            "learns their mean and little of their variation." if learnt is not None
            else ", where a network tends to learn the mean and little of the variation."))
    else:
        what += f" scaler={scaler!r} standardises rows, not features, so this stays."
    return [Finding("badly_scaled_input", severity, what, fixes, details)]


# --------------------------------------------------------------------------- columns
def _views(estimator, X) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(rows the module takes, numeric columns as float64, their names)`` of ``X``: for a
    table, its coded rows (when the estimator is fitted) and its numeric columns; for rows
    with missing cells, the rows with them filled (when fitted) and the rows as given."""
    if is_table(X):
        import pandas as pd

        api = pd.api.types
        numeric = [c for c in X.columns
                   if api.is_numeric_dtype(X[c].dtype) and not api.is_bool_dtype(X[c].dtype)]
        X_num = X[numeric].to_numpy(dtype=np.float64, na_value=np.nan)
        fitted = getattr(estimator, "module_", None) is not None
        rows = estimator._check_X(X, reset=False) if fitted else X_num
        return np.asarray(rows, dtype=np.float64), X_num, [str(c) for c in numeric]
    X = np.asarray(X, dtype=np.float64)
    X_num = X.reshape(len(X), -1)
    names = getattr(estimator, "feature_names_in_", None)
    names = [str(n) for n in names] if names is not None and len(names) == X_num.shape[1] \
        else [f"feature {j}" for j in range(X_num.shape[1])]
    rows = X
    if (getattr(estimator, "module_", None) is not None and callable(
            getattr(estimator, "_check_X", None)) and np.isnan(X_num).any()):
        # The module never sees a NaN: missing="impute" fills it (NaN activations broke the
        # unit checks' SVD), missing="error" refuses it here with the schema's message.
        rows = np.asarray(estimator._check_X(X, reset=False), np.float64).reshape(X.shape)
    return rows, X_num, names


def _check_tails(estimator, X: np.ndarray, names: list[str]) -> list[Finding]:
    """Heavy-tailed columns (:func:`aekit.nn.layers.tail_ratios`), and whether the scaler
    the model uses takes care of them."""
    if len(X) < 20 or not X.shape[1]:
        return []
    X = X[: max(1000, (1 << 20) // X.shape[1])]  # a bounded sample: X's rows are random
    ratios = tail_ratios(torch.from_numpy(np.nan_to_num(X))).numpy()
    heavy = np.flatnonzero(ratios > TAIL_RATIO)
    if not len(heavy):
        return []
    scaler = getattr(estimator, "scaler", None)
    lo, hi = np.nanquantile(X[:, heavy], [0.1, 0.9], axis=0)
    span = np.nanmax(X[:, heavy], 0) - np.nanmin(X[:, heavy], 0)
    share = 100 * np.where(span > 0, (hi - lo) / np.where(span > 0, span, 1), 1.0)
    listed = ", ".join(f"{names[j]} ({share[i]:.2g}%)".replace("e-0", "e-")
                       for i, j in enumerate(heavy[:6]))
    listed += ", ..." if len(heavy) > 6 else ""
    what = (f"{len(heavy)} column(s) are heavy-tailed, their values spreading over 10 times "
            f"as far as their bulk: {listed}; in parentheses, the share of the column's range "
            "that its central 80% of rows take up.")
    details = {"columns": [names[j] for j in heavy], "tail_ratio": ratios[heavy].tolist(),
               "bulk_share": (share / 100).tolist(), "scaler": scaler}
    if scaler in ("auto", "log", "quantile"):
        return [Finding("heavy_tailed_columns", "info", what,
                        f"scaler={scaler!r} spreads them inside the model (a signed log or "
                        "the quantile transform), and inverts it on output; keep it.",
                        details)]
    return [Finding(
        "heavy_tailed_columns", "warning",
        what + f" With scaler={scaler!r} the bulk of their rows sits in that sliver, so the "
        "model learns their extremes and little of their typical values.",
        "Refit with scaler='auto' (the default: a signed log for these columns, the others "
        "standardised) or scaler='quantile'; both are inverted on output.", details)]


def _check_bulk(estimator, given, X: np.ndarray, names: list[str]) -> list[Finding]:
    """Columns reconstructed well on average but not on the central 80% of their rows."""
    if len(X) < 50 or not X.shape[1]:
        return []
    X_hat = estimator.reconstruct(given)
    if is_table(X_hat):
        X_hat = X_hat[[n for n in names]].to_numpy(dtype=np.float64, na_value=np.nan)
    X_hat = np.asarray(X_hat, dtype=np.float64).reshape(X.shape)
    overall, central = r2_per_feature(X, X_hat), r2_central(X, X_hat)
    # Restricting the range lowers R² anyway: flag only a bulk left 10 times less explained.
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero((overall >= 0.8) & (central < 0.5)
                             & (1 - central > 10 * (1 - overall)))
    if not len(bad):
        return []
    listed = "; ".join(f"{names[j]}: R² {overall[j]:.3f} over all rows but {central[j]:.2f} "
                       "on its central 80%" for j in bad[:5])
    scaler = getattr(estimator, "scaler", None)
    todo = ("These columns are learnt on their extremes, not on their typical values: "
            + ("refit with scaler='auto' (the default) or 'quantile', which spread a "
               "heavy tail. " if scaler not in ("auto", "log", "quantile") else "")
            + "Otherwise give the model more room (n_components, hidden_layer_sizes) or "
            "more epochs.")
    return [Finding("bulk_not_learnt", "warning", listed + ".", todo,
                    {"columns": [names[j] for j in bad], "r2": overall[bad].tolist(),
                     "r2_central": central[bad].tolist()})]


# --------------------------------------------------------------------------- codes
def _check_codes(estimator, X, collapse_ratio) -> list[Finding]:
    Z = np.asarray(estimator.transform(X), dtype=np.float64).reshape(len(X), -1)
    if len(Z) < 2:
        return []
    var = Z.var(axis=0)
    top = var.max()
    if top <= 1e-12:
        collapsed = np.arange(len(var))
    elif len(var) >= 2:
        collapsed = np.flatnonzero(var < collapse_ratio * top)
    else:
        return []
    if not len(collapsed):
        return []
    k, n_used = len(var), len(var) - len(collapsed)
    what = (
        f"{len(collapsed)} of {k} code dimensions ({_list(collapsed)}) barely vary: variance "
        f"{var[collapsed].max():.2g} or less against {top:.2g} for the widest. "
        f"The model uses {n_used} dimension(s), not {k}."
    )
    if n_used == 0:
        what = f"All {k} code dimensions are (nearly) constant: the model ignores its input."
    todo = (
        f"Lower n_components to {n_used}, or train longer or with a larger learning_rate; "
        "with a sparsity or KL penalty, lower its weight."
        if n_used
        else "Keep the input scaler on (scaler='standard'), check the learning_rate, and train "
        "longer; with a sparsity or KL penalty, lower its weight."
    )
    return [Finding(
        "collapsed_code", "error" if n_used == 0 else "warning", what, todo,
        {"collapsed": collapsed.tolist(), "variance": var.tolist()},
    )]


def _check_posterior(estimator, X, kl_threshold) -> list[Finding]:
    kl = np.asarray(estimator.kl_per_dimension(X), dtype=np.float64).ravel()
    low = np.flatnonzero(kl < kl_threshold)
    if not len(low):
        return []
    k = len(kl)
    what = (
        f"{len(low)} of {k} latent dimensions ({_list(low)}) have a mean KL below "
        f"{kl_threshold:g} nats (lowest {kl[low].min():.2g}): their posterior equals the "
        "prior, so they carry no information about the input (posterior collapse)."
    )
    todo = (
        "Lower the KL weight (beta) or anneal it from 0 over the first epochs, use a less "
        f"powerful decoder, or fewer latent dimensions (about {max(k - len(low), 1)})."
    )
    return [Finding(
        "posterior_collapse", "error" if len(low) == k else "warning", what, todo,
        {"collapsed": low.tolist(), "kl": kl.tolist()},
    )]


# --------------------------------------------------------------------------- history
def _check_history(estimator, history, overfit_ratio) -> list[Finding]:
    train = [r for r in history if r.get("phase", "train") == "train"] or list(history)
    findings = []
    last = train[-1]
    max_epochs = getattr(estimator, "max_epochs", None)
    early = bool(getattr(estimator, "early_stopping", False))
    hit_max = isinstance(max_epochs, int) and len(train) >= max_epochs
    stopped_early = early and not hit_max
    # Losses are compared over the epochs early stopping judged: not those of a warm-up.
    train, warm = quality.judged_epochs(estimator, history)
    if not train:
        return [Finding(
            "not_converged", "warning", f"Training ended in epoch {last['epoch']}, inside "
            f"the KL warm-up (kl_warmup_epochs={warm}): the model never trained with the KL "
            "weight asked for (beta), and early stopping never judged an epoch.",
            f"Raise max_epochs above {warm}, or lower kl_warmup_epochs.",
            {"epochs": last["epoch"], "warmup_epochs": warm})] if hit_max else []

    vals = [r.get("val_loss") for r in train]
    if all(v is not None for v in vals) and last["loss"] > 0:
        ratio = last["val_loss"] / last["loss"]
        best = int(np.argmin(vals))
        rose = last["val_loss"] > 1.1 * vals[best] and last["loss"] < train[best]["loss"]
        if ratio >= overfit_ratio or rose:
            parts = []
            if ratio >= overfit_ratio:
                parts.append(
                    f"the final validation loss ({last['val_loss']:.4g}) is {ratio:.2f}x the "
                    f"training loss ({last['loss']:.4g})"
                )
            if rose:
                parts.append(
                    f"the validation loss rose {last['val_loss'] / vals[best] - 1:.0%} above "
                    f"its best (epoch {train[best]['epoch']}) while the training loss kept falling"
                )
            what = "The model fits the training rows better than new ones: "
            what += "; ".join(parts) + "."
            if stopped_early:
                what += f" Early stopping kept the weights of epoch {train[best]['epoch']}."
            findings.append(Finding(
                "overfitting", "info" if stopped_early else "warning", what,
                "Add weight_decay, corrupt the inputs (denoising), shrink hidden_layer_sizes "
                "or n_components, or use more data; keep early_stopping=True.",
                {"ratio": ratio, "best_epoch": train[best]["epoch"],
                 "final_loss": last["loss"], "final_val_loss": last["val_loss"]},
            ))

    monitored = [r["val_loss"] if r.get("val_loss") is not None else r["loss"] for r in train]
    m = max(2, min(10, len(monitored) // 5))
    rate = 0.0
    if len(monitored) > m and monitored[-1 - m] != 0:
        rate = (monitored[-1 - m] - monitored[-1]) / abs(monitored[-1 - m]) / m
    falling = rate > 1e-3
    if hit_max and (early or falling):
        what = f"Training stopped at max_epochs={max_epochs}"
        what += " before early stopping triggered" if early else ""
        if falling:
            what += f"; the loss was still falling {rate:.2%} per epoch over the last {m} epochs"
        what += "."
        findings.append(Finding(
            "not_converged", "warning" if falling else "info", what,
            f"Raise max_epochs (now {max_epochs}) or learning_rate "
            f"(now {_learning_rate(estimator)}); the model is not at its best yet.",
            {"epochs": len(train), "max_epochs": max_epochs, "rate_per_epoch": rate},
        ))
    return findings
