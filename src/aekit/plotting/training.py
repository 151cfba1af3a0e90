"""Plots of training: the loss per epoch, and the error against the code size."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from ._common import _AE, _PCA, _figure, _open_axes


def loss_curves(history: Sequence[dict]) -> Figure:
    """Training and validation loss per epoch, as recorded in ``estimator.history_``.

    Parameters
    ----------
    history : sequence of dict
        One record per epoch with keys ``phase``, ``epoch``, ``loss`` and ``val_loss``
        (None without a hold-out), as :func:`aekit.training.loop.fit_loop` writes them; and
        ``caller_mse`` / ``val_caller_mse`` when the objective logs them.

    Returns
    -------
    fig : matplotlib.figure.Figure
        Left: the loss the network minimised (its units: scaled), solid for training, dashed
        for validation, a dot on the epoch whose weights were kept (the record marked
        ``"kept"``: the one early stopping restores). Right, when the history has them: the
        mean squared error per element in the caller's units (pixels for images), the
        number the AE-vs-PCA comparison reports. Several phases (e.g. greedy pretraining,
        then training) are drawn one after another, one colour each. Epochs are integers;
        a logarithmic y-axis (when every value is positive) is labelled at 1-2-5 steps, or
        at every step when the values span less than a decade.
    """
    caller = any(r.get("caller_mse") is not None for r in history)
    fig = _figure(11.0 if caller else 6.4, 4.0)
    axes = fig.subplots(1, 2) if caller else [fig.add_subplot()]
    if not history:
        axes[0].text(0.5, 0.5, "no training history", ha="center", va="center",
                     transform=axes[0].transAxes)
        axes[0].set_axis_off()
        return fig
    _draw_phases(axes[0], history, "loss", "val_loss", "loss (network units: scaled)")
    if caller:
        _draw_phases(axes[1], history, "caller_mse", "val_caller_mse",
                     "MSE per element (your units)")
        axes[1].set_title("in your units, as in the AE-vs-PCA table", fontsize=10)
        axes[0].set_title("what the network minimised", fontsize=10)
    return fig


def _draw_phases(ax, history: Sequence[dict], train_key: str, val_key: str, ylabel: str):
    """One curve per phase and key on ``ax``, phases one after another on the epoch axis."""
    phases = list(dict.fromkeys(r["phase"] for r in history))  # in order of appearance
    offset, values = 0, []
    for i, phase in enumerate(phases):
        records = [r for r in history if r["phase"] == phase]
        # Phases follow each other on one axis, so their epochs never overlap.
        epochs = [offset + r["epoch"] for r in records]
        offset = epochs[-1]
        color = f"C{i}"
        if len(phases) > 1:  # a tinted band per phase shows where each one starts and ends
            ax.axvspan(epochs[0] - 0.5, epochs[-1] + 0.5, color=color, alpha=0.07, lw=0)
        prefix = f"{phase}: " if len(phases) > 1 else ""
        train = [(e, r[train_key]) for e, r in zip(epochs, records)
                 if r.get(train_key) is not None]
        if train:
            ax.plot(*zip(*train), color=color, label=f"{prefix}training")
            values += [v for _, v in train]
        val = [(e, r[val_key]) for e, r in zip(epochs, records) if r.get(val_key) is not None]
        if val:
            ve, vl = zip(*val)
            ax.plot(ve, vl, color=color, linestyle="--", label=f"{prefix}validation")
            kept = [e for e, r in zip(epochs, records) if r.get("kept")]
            if kept and kept[0] in ve:  # the epoch whose weights the loop kept
                ax.plot(kept[0], vl[ve.index(kept[0])], "o", color=color, markersize=4)
            values += vl
    if values and all(v > 0 and math.isfinite(v) for v in values):
        _log_axis(ax, min(values), max(values))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no epoch 2.5
    ax.set_xlabel("epoch" if len(phases) == 1 else "epoch (all phases)")
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(frameon=False)
    _open_axes(ax)


def _log_axis(ax, low: float, high: float) -> None:
    """A log y-axis with enough labelled ticks: at 1, 2, 5 per decade (every digit when
    the values span less than a decade, the decades alone beyond three)."""
    ax.set_yscale("log")
    decades = math.log10(high / low) if high > low else 0.0
    subs = (1.0,) if decades > 3 else (1.0, 2.0, 5.0) if decades > 1 else tuple(range(1, 10))
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=subs))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.3g}"))
    ax.yaxis.set_minor_locator(LogLocator(base=10, subs=tuple(range(1, 10))))
    ax.yaxis.set_minor_formatter(NullFormatter())


def error_vs_k(sweep):
    """Test reconstruction error against code size for PCA and the autoencoder.

    Parameters
    ----------
    sweep : list of PCAComparison
        As returned by :func:`aekit.evaluation.metrics.pca_sweep`; NaN autoencoder errors (a
        PCA-only sweep) are left out. An extra comparison (e.g. the fitted model's) may be appended.

    Returns
    -------
    matplotlib.figure.Figure
        One axes with a line for PCA and points or a line for the autoencoder.
    """
    if not len(sweep):
        raise ValueError("sweep is empty; pass the output of pca_sweep")
    units = {c.unit for c in sweep}
    if len(units) > 1:
        raise ValueError("the sweep mixes raw and scaled units; sweep PCA in the model's "
                         "scaled units (pca_sweep(..., scaled_by=estimator))")
    # One point per k (the first given), however many comparisons repeat it.
    pca_pts = sorted(dict((c.n_components, c.pca_error) for c in reversed(sweep)).items())
    ae_pts = sorted(dict((c.n_components, c.ae_error) for c in reversed(sweep)
                         if np.isfinite(c.ae_error)).items())
    fig = _figure(6.4, 4.0)
    ax = fig.add_subplot()
    ax.plot(*zip(*pca_pts), marker="o", ms=4, color=_PCA, lw=1.8, label="PCA")
    if ae_pts:
        ax.plot(*zip(*ae_pts), marker="o", ms=7 if len(ae_pts) == 1 else 5, color=_AE, lw=1.8,
                ls="-" if len(ae_pts) > 1 else "", label="autoencoder")
    values = [v for _, v in pca_pts + ae_pts if v > 0]
    if values and max(values) / min(values) > 30:
        ax.set_yscale("log")
    ax.set_xlabel("code size k")
    ax.set_ylabel("test error (scaled units)" if units == {"scaled"} else "test MSE per element")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    _open_axes(ax)
    return fig
