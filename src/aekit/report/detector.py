"""One self-contained HTML page about a fitted anomaly detector on a set of rows.

Its sections, one function each: the summary cards, the score histogram with the
threshold, the top anomalies with the columns that make them anomalous, and, when labels are
given, ROC and precision-recall curves with the classic detectors' ROC-AUC side by side
(:mod:`aekit.anomaly.metrics`), then the training curve and the parameters. The page is built like
:mod:`aekit.report.model`'s (inline stylesheet, base64 images: it opens offline). ``aekit detect``
writes it into the run directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.utils import get_tags

from .. import plotting
from ..plotting import anomaly as plotting_outliers
from ..core.fitted import as_fitted
from ..core.storage import atomic_write
from ..evaluation.diagnostics import check_not_pipeline
from ..anomaly.metrics import (BASELINES, AmbiguousLabels, anomaly_labels, baseline_scores,
                               detection_metrics)

# The page and its parts are aekit.report.model's, so both kinds of report look alike.
from .page import _e, _figure_html, _fmt, _params_table, check_report_out, page

BASELINE_ROWS = 20_000
"""The baselines are fitted and scored on at most this many rows (a random sample, of each
labelled class in its share)."""

TOP_ROWS = 20

MIN_LABELLED = 10
"""Below this many labelled anomalies (or normal rows) the page ranks no detector: with one
anomaly, ROC-AUC is the rank of that one row, and ties at 1.0 are common."""


def _too_few_labels(anomaly: np.ndarray) -> str:
    """Why the labels are too few to rank the detectors, or "" when they are not."""
    n_bad = int(anomaly.sum())
    fewest = min(n_bad, len(anomaly) - n_bad)
    if fewest >= MIN_LABELLED:
        return ""
    which = (("labelled anomaly" if fewest == 1 else "labelled anomalies") if fewest == n_bad
             else ("normal row" if fewest == 1 else "normal rows"))
    return (f"only {fewest} {which}, too few to rank the detectors (at least "
            f"{MIN_LABELLED} of each are needed)")


@dataclass
class _Scored:
    """What every section reads: the rows' scores, verdicts, names and labels."""

    scores: np.ndarray  # anomaly scores, higher = more anomalous
    flagged: np.ndarray  # bool
    threshold: float
    row_labels: np.ndarray  # object
    anomaly: np.ndarray | None  # bool, or None without labels


def _cards(det, s: _Scored, n_features: int, baselines: dict | None,
           own_footing: bool = True, few: str = "") -> str:
    """The summary cards; ``few``: why the labels rank no detector (:func:`_too_few_labels`),
    which keeps the ROC-AUC card from reading as a win or a loss."""
    cards = [
        ("Rows scored", f"{len(s.scores):,}", f"{n_features} columns"),
        ("Flagged", f"{int(s.flagged.sum()):,}", f"{s.flagged.mean():.1%} of the rows"),
        ("Threshold", _fmt(s.threshold, 3), _e(_threshold_note(det, s.threshold))),
    ]
    if baselines:
        ours = baselines["aekit"]["roc_auc"]
        best = max((v["roc_auc"], k) for k, v in baselines.items() if k != "aekit")
        tone = "warn" if few else "good" if ours >= best[0] else "bad"
        cards.append(("ROC-AUC", f'<span class="{tone}">{_fmt(ours, 3)}</span>',
                      f"best baseline: {best[1]} {_fmt(best[0], 3)}"
                      + ("" if own_footing else " (fitted on these rows)")
                      + (f"; {few}" if few else "")))
    return '<div class="cards">' + "".join(
        f'<div class="card"><div class="label">{_e(a)}</div><div class="value">{b}</div>'
        f'<div class="note">{_e(c)}</div></div>' for a, b, c in cards) + "</div>"


def _training_quantiles(det) -> np.ndarray:
    """The training rows' anomaly scores at 0.1% steps, as the detector keeps them."""
    return det.module_.score_quantiles.double().cpu().numpy()


def _threshold_note(det, threshold: float) -> str:
    """What set the threshold (``contamination`` at fit, or the last ``set_threshold``
    while its threshold stands) and the share of training rows above it."""
    recorded = getattr(det, "threshold_set_", None)
    how = recorded[1] if recorded is not None and recorded[0] == det.offset_ \
        else f"contamination={det.contamination}"
    share = float(np.mean(_training_quantiles(det) > threshold))
    return f"{how}; about {share:.1%} of the training rows score above it"


COMBINE_SCALES = {
    "rank": "its share of the training rows below it (above 1: beyond every training row)",
    "surprise": "-log of the share of training rows at or above it",
    "zscore": "minus the training rows' median, over their interquartile range",
}
"""How each ``combine`` puts a score term on the training rows' scale, in words."""


def _histogram_section(det, s: _Scored) -> str:
    q = _training_quantiles(det)
    typical = float(np.interp(0.5, np.linspace(0, 1, len(q)), q))
    caption = ("Each row's anomaly score: the weighted mean of the detector's score terms "
               "(reconstruction error, code-space distance, column tails, input-space "
               "distance, isolation), each first put on the training rows' scale by "
               f"combine={det.combine!r}: {COMBINE_SCALES.get(det.combine, 'its own')}. A "
               f"median training row scores {typical:.3g}. The dashed line is the "
               "threshold; rows right of it are flagged."
               + (" Known anomalies in red." if s.anomaly is not None else ""))
    return _figure_html(lambda: plotting_outliers.score_histogram(
        s.scores, s.threshold, s.anomaly, typical=typical), caption, "anomaly score histogram")


def _top_section(det, X, s: _Scored) -> str:
    """The most anomalous rows: score, label and top columns, and a heat map of shares."""
    top = np.argsort(-s.scores, kind="stable")[:TOP_ROWS]
    rows = X.iloc[top] if hasattr(X, "iloc") else np.asarray(X)[top]
    part = det.feature_scores(rows)
    shares = part / np.maximum(part.sum(1, keepdims=True), 1e-300)
    names = det._feature_names()
    values = np.asarray(rows, dtype=object)
    head = ('<table><tr><th>row</th><th class="num">anomaly score</th><th>flagged</th>'
            + ("<th>label</th>" if s.anomaly is not None else "")
            + "<th>top columns (value, share of the error)</th></tr>")
    body = []
    for r, i in enumerate(top):
        order = np.argsort(-shares[r], kind="stable")[:3]
        cols = "; ".join(f"<b>{_e(names[j])}</b> = {_e(_fmt(values[r, j], 4))} "
                         f"({shares[r, j]:.0%})" for j in order)
        label = ("" if s.anomaly is None else
                 f"<td>{'anomaly' if s.anomaly[i] else 'normal'}</td>")
        body.append(f"<tr><td>{_e(s.row_labels[i])}</td><td class=\"num\">"
                    f"{_fmt(float(s.scores[i]), 4)}</td><td>{'yes' if s.flagged[i] else 'no'}"
                    f"</td>{label}<td>{cols}</td></tr>")
    caption = ("The top anomalies' share of their reconstruction error per column: the "
               "columns to look at first. (The code-space term of the score has no "
               "per-column split.)")
    figure = _figure_html(lambda: plotting_outliers.contributions(
        shares, s.row_labels[top], names), caption, "per-column contributions")
    return (f"<p class=\"sub\">The {len(top)} highest anomaly scores, with the 3 columns "
            f"that contribute most to each row's reconstruction error.</p>{head}"
            f"{''.join(body)}</table>{figure}")


def _sample(X, random_state, anomaly=None):
    """At most :data:`BASELINE_ROWS` rows of ``X`` (a random sample, in order) and their
    positions. With labels (``anomaly``, bool) each class is sampled in its share, at
    least one row of each: a plain sample of rare anomalies may hold none, and ROC-AUC
    and average precision are then undefined."""
    rows = np.arange(len(X))
    if len(X) > BASELINE_ROWS:
        rng = np.random.default_rng(random_state)
        if anomaly is None:
            rows = np.sort(rng.choice(len(X), BASELINE_ROWS, replace=False))
        else:
            classes = [np.flatnonzero(anomaly), np.flatnonzero(~anomaly)]
            k = min(max(1, round(len(classes[0]) * BASELINE_ROWS / len(X))),
                    len(classes[0]), BASELINE_ROWS - 1)
            rows = np.sort(np.concatenate([rng.choice(members, size, replace=False)
                                           for members, size in zip(classes, (
                                               k, BASELINE_ROWS - k))]))
    return (X.iloc[rows] if hasattr(X, "iloc") else np.asarray(X)[rows]), rows


def _baselines(X, anomaly, scores, X_train=None, random_state=0
               ) -> tuple[dict, dict, np.ndarray]:
    """``(metrics, scores, rows)`` of aekit and the baselines on (a sample of) the rows,
    the baselines fitted on (a sample of) ``X_train``, else on the scored rows."""
    A, rows = _sample(X, random_state, anomaly)
    fit = A if X_train is None or X_train is X else _sample(X_train, random_state)[0]
    all_scores = {"aekit": scores[rows]}
    for name in BASELINES:  # a table's text columns one-hot: the baselines take numbers
        all_scores[name] = baseline_scores(name, fit, A, random_state=random_state)
    metrics = {k: detection_metrics(anomaly[rows], v) for k, v in all_scores.items()}
    return metrics, all_scores, rows


def _footing(X, X_train) -> str:
    """Which rows the detectors were fitted on, as the labels section says it."""
    if X_train is X:
        return "every detector is fitted and scored on the same rows"
    if X_train is not None:
        return (f"every detector is fitted on the same {len(X_train):,} training rows "
                "(the detector's) and scored on these rows")
    return ("the detector was fitted on its own training rows, which the report was not "
            "given, so the baselines are fitted on the rows they score, anomalies included "
            "(not the detector's footing: pass X_train= for that); all are scored")


def _labels_section(s: _Scored, metrics: dict, all_scores: dict, rows: np.ndarray,
                    footing: str, few: str = "") -> str:
    anomaly = s.anomaly[rows]
    sample = (f" on a random sample of {len(rows):,} rows (stratified by label)"
              if len(rows) < len(s.anomaly) else "")
    table = ['<table><tr><th>detector</th><th class="num">ROC-AUC</th>'
             '<th class="num">average precision</th></tr>']
    best = max(v["roc_auc"] for v in metrics.values())
    for name, m in metrics.items():
        cls = " best" if m["roc_auc"] == best and not few else ""
        table.append(f"<tr><td>{_e(name)}</td><td class=\"num{cls}\">{_fmt(m['roc_auc'], 4)}"
                     f"</td><td class=\"num\">{_fmt(m['average_precision'], 4)}</td></tr>")
    table.append("</table>")
    caption = ("ROC (left) and precision-recall (right) of each detector's scores against the "
               "labels; the dotted lines are chance.")
    figure = _figure_html(lambda: plotting_outliers.roc_pr_curves(anomaly, all_scores),
                          caption, "ROC and precision-recall curves")
    return (f"<p class=\"sub\">{int(anomaly.sum()):,} labelled anomalies among "
            f"{len(anomaly):,} rows{sample}. The labels were not used in fitting; "
            f"{_e(footing)}, with their defaults: "
            "IsolationForest (iforest), LocalOutlierFactor(novelty=True) and PCA "
            "reconstruction error on standardised columns (text columns one-hot)."
            + (f" With {_e(few)}, none is marked best." if few else "")
            + f"</p>{''.join(table)}{figure}")


def build_detector_report(detector, X, *, anomaly=None, X_train=None, title=None,
                          row_labels=None, run_info: dict | None = None) -> str:
    """The report of a fitted :class:`~aekit.OutlierDetector` on rows ``X``, as HTML.

    Parameters
    ----------
    detector : fitted OutlierDetector
    X : array-like of shape (n_samples, n_features)
        The rows to report on (e.g. the training rows).
    anomaly : array-like of shape (n_samples,), optional
        Known labels, read by :func:`aekit.anomaly.metrics.anomaly_labels`: booleans (True:
        anomaly), 0/1, +1/-1 (-1: anomaly) or text with a normal value named ``"normal"``
        and the like (else pass ``anomaly_labels(y, normal=VALUE)``). Adds ROC and
        precision-recall curves and the baselines' ROC-AUC.
    X_train : array-like of shape (n_train, n_features), optional
        The rows the detector was fitted on (``X`` itself when it was fitted on the rows
        reported): the baselines are fitted on them too, so all detectors are compared on
        one footing. Without it the baselines are fitted on ``X``, and the page says so.
    title : str, optional
    row_labels : sequence, optional
        A name for each row (default: a DataFrame's index, else 0, 1, 2, ...).
    run_info : dict, optional
        Extra "Fitted" rows.

    Raises
    ------
    TypeError
        For a model that is not an outlier detector, or a Pipeline (pass the detector in
        it, with the rows it is given).
    """
    check_not_pipeline(detector, "build_detector_report shows a detector's scores, "
                       "threshold and columns")
    if get_tags(detector).estimator_type != "outlier_detector":  # else: no threshold_
        raise TypeError(f"build_detector_report takes an OutlierDetector, and "
                        f"{type(detector).__name__} is not one; an autoencoder's page is "
                        "aekit.report.build_report(model, dataset)")
    detector = as_fitted(detector)  # described with the parameters it was fitted with
    if anomaly is not None:
        try:
            anomaly = anomaly_labels(anomaly)
        except AmbiguousLabels as err:  # the remedy as this function takes it
            raise AmbiguousLabels(err.values, "anomaly=anomaly_labels(y, normal=VALUE)") \
                from None
    scores = -detector.score_samples(X)
    if X_train is not None and len(X_train) != detector.n_samples_fit_:
        raise ValueError(f"X_train has {len(X_train)} rows but the detector was fitted on "
                         f"{detector.n_samples_fit_}; pass the rows it was fitted on")
    if anomaly is not None and len(anomaly) != len(scores):
        raise ValueError(f"anomaly has {len(anomaly)} labels for {len(scores)} rows of X; "
                         "give one label per row")
    if row_labels is None:
        row_labels = X.index if hasattr(X, "index") else np.arange(len(scores))
    s = _Scored(scores, scores > detector.threshold_, float(detector.threshold_),
                np.asarray(row_labels, dtype=object), anomaly)
    labelled = s.anomaly is not None and 0 < s.anomaly.sum() < len(s.anomaly)
    metrics, few = None, ""
    sections = [("scores", "Anomaly scores", _histogram_section(detector, s)),
                ("top", "Top anomalies", _top_section(detector, X, s))]
    if labelled:
        metrics, all_scores, rows = _baselines(X, s.anomaly, scores, X_train)
        few = _too_few_labels(s.anomaly[rows])  # the rows the ROC-AUCs are measured on
        sections.append(("labels", "Against the labels",
                         _labels_section(s, metrics, all_scores, rows,
                                         _footing(X, X_train), few)))
    history = detector.history_
    sections.append(("training", "Training", _figure_html(
        lambda: plotting.loss_curves(history), "Mean training loss of the members per epoch "
        "(scaled units; each member's trimmed rows left out).", "loss curves")))
    fitted = {"n_features_in_": detector.n_features_in_, "members": detector.n_estimators,
              "rows per member (n_reference_)": detector.n_reference_,
              "code size (n_components_)": detector.n_components_,
              "hidden_layer_sizes_": detector.hidden_layer_sizes_,
              "epochs (n_iter_)": detector.n_iter_, "threshold_": _fmt(s.threshold, 4),
              "fit seconds": _fmt(getattr(detector, "fit_seconds_", None), 3),
              **(run_info or {})}
    sections.append(("parameters", "Parameters", _params_table(detector, fitted)))
    title = title or f"{type(detector).__name__} on {len(scores):,} rows"
    shapes = (f"{len(scores):,} rows, {detector.n_features_in_} columns"
              + (", labelled" if labelled else ""))
    return page(title, shapes, _cards(detector, s, detector.n_features_in_, metrics,
                                      X_train is not None, few), sections)


def write_detector_report(detector, X, out: str | os.PathLike, *, overwrite: bool = False,
                          **kwargs) -> Path:
    """Write :func:`build_detector_report` to ``out`` atomically; returns the path.

    Parameters
    ----------
    detector, X
        As :func:`build_detector_report` takes them.
    out : path-like
        An ``.html`` file. An existing one is replaced when aekit wrote it (a page
        carrying aekit's mark), else only with ``overwrite``.
    overwrite : bool, default=False
        Replace an existing ``out`` aekit did not write.
    **kwargs
        Passed to :func:`build_detector_report`.

    Returns
    -------
    path : pathlib.Path
        The file written.

    Raises
    ------
    ValueError
        When ``out`` is not an ``.html`` file, or exists and aekit did not write it (without
        ``overwrite``); checked before the page is built.
    """
    check_report_out(out, overwrite=overwrite)
    return atomic_write(Path(out), build_detector_report(detector, X, **kwargs))
