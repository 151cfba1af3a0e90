"""One self-contained HTML page about a fitted autoencoder: numbers, diagnostics and plots.

The page embeds its images as base64 PNG and its stylesheet inline: it opens offline, can be
mailed or archived as one file, and loads nothing from anywhere. Which plots appear depends
on the data (images or tabular, labels or not) and the model (denoising, variational, a 2-D
code). :func:`write_report` is what ``aekit report RUN --data SPEC`` calls.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA

from .. import plotting
from ..plotting import tables as plotting_tables
from ..core.fitted import as_fitted, changed_params
from ..core.storage import atomic_write
from ..data.catalog import load_dataset
from ..evaluation.diagnostics import Diagnosis, check_autoencoder, diagnose
from ..evaluation.columns import column_slots
from ..evaluation.metrics import (
    PCAComparison,
    ScaledPCA,
    check_pca_rows,
    code_quality,
    compare_reconstructions,
    explained_variance,
    model_name,
    pca_sweep,
)
from ..evaluation.probes import MIN_TRUST_ROWS
from ..persistence import load
from ..semisupervised.labels import blanks_unlabelled, unlabelled_rows
from ..runs import REPORT, read_metrics
from .page import _e, _figure_html, _fmt, check_report_out, page

_KS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128)
_PROBE_ROWS = 10_000

# --------------------------------------------------------------------------- page parts
# --------------------------------------------------------------------------- sections
def _summary_cards(cmp: PCAComparison, ev_ae: float, ev_pca: float, diag: Diagnosis) -> str:
    wins = cmp.winner == "autoencoder"
    tone_ratio = "warn" if not cmp.clear or cmp.pca_exact else "good" if wins else "bad"
    # PCA's error is 0 when it is exact: no ratio to show, the verdict says why.
    ratio = "PCA exact" if cmp.pca_exact else f"{cmp.ratio:.2f}"
    serious = [f for f in diag if f.severity in ("warning", "error")]
    tone = "bad" if any(f.severity == "error" for f in serious) else "warn"
    diag_value = ('<span class="good">none</span>' if not serious
                  else f'<span class="{tone}">{len(serious)}</span>')
    cards = [
        ("AE test error", _fmt(cmp.ae_error), f"autoencoder, k = {cmp.n_components}, "
         + ("MSE in your units" if cmp.shared_unit else f"{cmp.unit} units")),
        ("PCA test error", _fmt(cmp.pca_error), f"same k = {cmp.n_components}, same scaling"),
        ("AE / PCA error", f'<span class="{tone_ratio}">{ratio}</span>', cmp.verdict),
        ("Variance explained", f"{ev_ae:.1%}", f"PCA: {ev_pca:.1%} (scaled units)"),
        ("Problems found", diag_value,
         f"{len(diag) - len(serious)} note(s) besides" if len(diag) > len(serious)
         else "see Diagnostics"),
    ]
    return '<div class="cards">' + "".join(
        f'<div class="card"><div class="label">{_e(a)}</div><div class="value">{b}</div>'
        f'<div class="note">{_e(c)}</div></div>' for a, b, c in cards
    ) + "</div>"


def _comparison_table(rows: list[tuple[str, float, float, bool]]) -> str:
    """rows: (metric, autoencoder, PCA, higher_is_better)."""
    out = ['<table><tr><th>metric (test split)</th><th class="num">autoencoder</th>'
           '<th class="num">PCA</th></tr>']
    for name, a, p, higher in rows:
        best_a = np.isfinite(a) and np.isfinite(p) and ((a > p) if higher else (a < p))
        best_p = np.isfinite(a) and np.isfinite(p) and ((p > a) if higher else (p < a))
        out.append(f"<tr><td>{_e(name)}</td>"
                   f'<td class="num{" best" if best_a else ""}">{_fmt(float(a))}</td>'
                   f'<td class="num{" best" if best_p else ""}">{_fmt(float(p))}</td></tr>')
    out.append("</table>")
    return "".join(out)


def _diagnostics_html(diag: Diagnosis) -> str:
    if not len(diag):
        return (f'<div class="finding"><p><span class="badge ok">ok</span>No problems found '
                f"on {diag.n_rows} training rows: no dead or saturated units, no collapsed "
                "code dimensions, inputs well scaled, training converged without "
                "overfitting.</p></div>")
    # The comparison above measures the test rows; these, as diagnose was given them, the
    # training rows: an R² here need not be the table's.
    out = ['<p class="sub">Measured on the training rows (the rows the model was fitted on; '
           "the comparison above is measured on the test rows).</p>"]
    for f in diag:
        out.append(
            f'<div class="finding {_e(f.severity)}"><p><span class="badge {_e(f.severity)}">'
            f"{_e(f.severity)}</span><b>{_e(f.kind.replace('_', ' '))}</b></p>"
            f"<p>{_e(f.what_was_seen)}</p><p class=\"todo\">What to do: {_e(f.what_to_do)}</p>"
            "</div>"
        )
    return "".join(out)


def _few_labels_section(comparison) -> str:
    """A :class:`aekit.semisupervised.comparison.FewLabelsComparison`: each method's test
    accuracy (the best in bold green), calibration and fit time, on the same labelled rows."""
    best = max(r.accuracy for r in comparison.rows)
    out = [f'<p class="sub">{comparison.n_labelled} labelled training rows '
           f"({comparison.n_classes} classes) and {comparison.n_unlabelled} unlabelled ones "
           f"(label -1); every method is scored on the same {comparison.n_test} test rows. "
           "ECE: expected calibration error of the predicted probabilities (0 is perfect); "
           "Brier: mean squared error of the probabilities (lower is better). Fit times "
           "include the shared autoencoder's where it is used.</p>",
           '<table><tr><th>method</th><th class="num">accuracy</th><th class="num">ECE</th>'
           '<th class="num">Brier</th><th class="num">fit s</th><th>note</th></tr>']
    for r in comparison.rows:
        top = " best" if r.accuracy == best else ""
        out.append(f"<tr><td>{_e(r.method)}</td><td class=\"num{top}\">{r.accuracy:.4f}</td>"
                   f'<td class="num">{r.ece:.3f}</td><td class="num">{r.brier:.3f}</td>'
                   f'<td class="num">{r.fit_seconds:.1f}</td><td>{_e(r.note)}</td></tr>')
    out.append("</table>")
    return "".join(out)


def _model_html(estimator, extra: dict) -> str:
    """The layer table (``summary()``) with its precision, the parameters that differ from
    their defaults, and what fitting gave."""
    parts = []
    summary = getattr(estimator, "summary", None)
    if callable(summary):
        s = summary()
        rows = "".join(f'<tr><td>{_e(name)}</td><td>{_e(kind)}</td><td>{_e(shape)}</td>'
                       f'<td class="num">{_e(n)}</td></tr>' for name, kind, shape, n in s.rows())
        parts.append(
            f"<p class=\"sub\">{_e(s.title)}: {s.total:,} parameters ({s.trainable:,} "
            f"trainable), trained in {_e(s.precision)}. {_e(' '.join(s.notes))}</p>"
            '<table class="layers"><tr><th>layer</th><th>type</th><th>output shape</th>'
            f'<th class="num">parameters</th></tr>{rows}</table>')
    params = estimator.get_params(deep=False)
    changed = {k: params[k] for k in changed_params(estimator)}
    given = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in changed.items())
    given = given or '<tr><td colspan="2">all at their defaults</td></tr>'
    fitted = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in extra.items())
    parts.append(f'<div class="two"><div><h3>Parameters set (the rest are defaults)</h3>'
                 f'<table class="params">{given}</table></div><div><h3>Fitted</h3>'
                 f'<table class="params">{fitted}</table></div></div>')
    return "".join(parts)


# --------------------------------------------------------------------------- captions
_CAP = {
    "loss": "<b>Training</b> (solid) and <b>validation</b> (dashed) loss per epoch; the dot "
            "marks the epoch whose weights were kept. Left: the loss the network minimised, in "
            "its own (scaled) units. Right: the same fit as mean squared error per element in "
            "your units (pixels for images), the number the comparison above reports. Look "
            "for: validation flattening or rising while training keeps falling (overfitting), "
            "curves still falling at the end (train longer), spikes (learning rate too high); "
            "a sudden drop is the learning rate being cut on a plateau.",
    "recon": "Test rows (top), PCA with the same code size, and the autoencoder, each with its "
             "error on the rows shown. Look for: rows that keep their identity and strokes; "
             "blurry averages mean the code is too small or training too short.",
    "codes": "Each test row's code, coloured by its label: PCA's first two components (left) "
             "and the autoencoder's code (right). Look for: classes that form separate "
             "clusters on the right where they overlap on the left; a line or a single point "
             "instead of a cloud means collapsed code dimensions.",
    "codes_nolabel": "Each test row's code: PCA's first two components (left) and the "
                     "autoencoder's code (right). Look for: structure (clusters, curves) and a "
                     "cloud that uses both axes; a line or a point means collapsed dimensions.",
    "sweep": "PCA's test error for each code size k (grey line) and the autoencoder's "
             "(blue). Look for: the autoencoder below PCA's curve at its k; the k at which "
             "PCA reaches the autoencoder's error tells how many linear components the "
             "autoencoder's code is worth.",
    "scatter": "Each variable (x) against its reconstruction (y): blue the autoencoder, grey "
               "PCA with the same k; points on the dashed diagonal are perfect. R² is 1 for a "
               "perfect reconstruction and 0 for predicting the mean; each title gives the "
               "R² of the Columns chart (scaled units, observed cells). Heavy-tailed variables "
               "are drawn on log axes, so their bulk shows. Look for: variables the "
               "autoencoder gets and PCA does not (non-linear ones), and flat clouds (a "
               "variable the model ignores).",
    "r2": "Each column's R² on the test split (variance explained in the model's scaled "
          "units: your units for a standardised column, log units for a heavy-tailed one, "
          "the one-hot block of a categorical one): blue the autoencoder, grey PCA with the "
          "same k and scaling. Every column counts here, whatever its units. Look for: "
          "columns PCA gets and the autoencoder does not, and columns neither gets (a "
          "larger code, or a column that is noise).",
    "confusion": "Each categorical column's confusion matrix over its most frequent "
                 "categories: rows the true category, columns the reconstructed one, each row "
                 "summing to 1; the title gives the share given back exactly. Look for: a "
                 "dark diagonal; off-diagonal blocks are categories the code cannot tell "
                 "apart.",
    "labels": "The mean reconstruction error (scaled units) of each label's test rows, the "
              "most frequent labels first: rows unlike the training rows reconstruct worse. "
              "Look for: labels (attacks, faults) that stand out from the bulk, which the "
              "error can then flag as anomalies.",
    "weights": "Each square is one first-layer unit's weights on the input pixels (for a "
               "convolutional encoder: its kernel), red positive, blue negative, each scaled "
               "to its largest weight; they act on the scaled inputs. Look for: smooth strokes "
               "and blobs; pure salt-and-pepper noise means the layer learned little.",
    "top": "For each code unit, the test rows that drive it highest. Look for: a common "
           "theme along each row (one class, one stroke direction or thickness).",
    "top_hidden": "The same for the first units of the first hidden layer ({layer}), the "
                  "layer closest to the pixels. Look for: rows sharing a stroke, an edge or a "
                  "blob at one place; these units are the parts the code is assembled from.",
    "actmax": "Synthetic inputs that push each code unit as high (top) or as low (bottom) as "
              "possible: gradient ascent through the encoder from the mean image, held near "
              "it by an L2 prior and a light blur every few steps (so they stay images, not "
              "saturated blocks), clipped to the data range. Look for: recognisable strokes "
              "or contrasts that match the unit's top-activating rows.",
    "actmax_hidden": "The inputs that drive each of the first units of the first hidden "
                     "layer ({layer}) highest, with the same priors: the pattern each unit "
                     "detects (its lowest output is just its activation's floor, so it is "
                     "not shown).",
    "traversal": "Decoded codes moving along one code dimension at a time, from −2.5 to +2.5 "
                 "standard deviations around the code of a typical test row (the one nearest "
                 "the median code: the mean of clustered codes can decode to a blank). Look "
                 "for: each dimension changing one thing smoothly; a row of identical images "
                 "is a dimension the decoder ignores.",
    "grid": "Decoded images on a regular grid over the 2-D code space (the central 96 % of "
            "the test codes; axes in code units). Look for: smooth morphing between classes; "
            "smeared or blank regions are parts of the space no data maps to.",
    "denoise": "Clean test rows, the same rows corrupted, and the autoencoder's "
               "reconstructions of the corrupted rows. Look for: a denoised error well below "
               "the corrupted one, and strokes restored rather than smoothed away.",
    "samples": "Rows generated by decoding draws from the prior. Look for: varied, "
               "plausible rows; identical or smeared samples point to posterior collapse or "
               "too strong a KL weight.",
}


# --------------------------------------------------------------------------- the report
@dataclass
class _Evaluation:
    """What every section reads: the split, the PCA fits and the two models' errors."""

    X_train: np.ndarray  # or DataFrames, for a table
    X_test: np.ndarray
    k: int
    image_shape: tuple | None
    labels: bool
    pca_full: PCA  # in the model's scaled units, as the next two
    pca_k: ScaledPCA
    pca_2: ScaledPCA
    cmp: PCAComparison
    X_ae: object  # the test rows' reconstructions, in the caller's units
    X_pca: object
    ev_ae: float
    ev_pca: float
    sweep: list
    diag: Diagnosis


def _evaluate(estimator, data, sweep) -> _Evaluation:
    table = hasattr(data.X_train, "columns")
    X_train, X_test = (X if table else np.asarray(X, dtype=np.float64)
                       for X in (data.X_train, data.X_test))
    k = int(estimator.n_components)
    # PCA sees the rows as the model does (its scaled units), so the comparison is fair.
    # One PCA fit serves the table, the sweep and the plots (its first k components are the
    # PCA with k components). Up to half the features: beyond that PCA's error heads to 0
    # and squashes the plot.
    S_train, S_test = (np.asarray(estimator.to_scaled(X), np.float64) for X in (X_train, X_test))
    # An over-complete code is compared with PCA's exact reconstruction (all components);
    # fewer training rows than a smaller code: refused, as compare_with_pca refuses it.
    check_pca_rows(k, S_train.shape)
    k_pca = min(k, min(S_train.shape))
    ks = sorted({j for j in _KS if j <= max(min(S_train.shape) // 2, 1)} | {k_pca})
    pca_full = PCA(n_components=max(ks), svd_solver="full").fit(S_train)
    pca_k = ScaledPCA(estimator, pca_full, k)  # exact, as compared, when k >= features
    pca_2 = ScaledPCA(estimator, pca_full, min(2, max(ks)))
    X_ae, S_ae = estimator.reconstruct(X_test), estimator.reconstruct_scaled(X_test)
    S_pca = pca_k.rebuild(S_test)
    X_pca = estimator.from_scaled(S_pca, like=X_test)
    if not table:
        X_pca = np.asarray(X_pca).reshape(np.shape(X_ae))
    cmp = compare_reconstructions(k, column_slots(estimator, S_test.shape[1]), X_test, X_ae,
                                  X_pca, S_test, S_ae, S_pca,
                                  shared_unit=data.image_shape is not None,
                                  model=model_name(estimator))
    if sweep is None:
        sweep = pca_sweep(X_train, X_test, ks, pca=pca_full, scaled_by=estimator,
                          shared_unit=cmp.shared_unit) + [cmp]
    return _Evaluation(
        X_train, X_test, k, tuple(data.image_shape) if data.image_shape else None,
        data.y_train is not None and data.y_test is not None, pca_full, pca_k, pca_2, cmp,
        X_ae, X_pca, explained_variance(S_test, S_ae), explained_variance(S_test, S_pca),
        sweep, diagnose(estimator, X_train),
    )


def _comparison_section(estimator, data, ev: _Evaluation) -> str:
    cmp = ev.cmp
    rows = [(f"error in {cmp.unit} units (the headline)", cmp.ae_error, cmp.pca_error, False),
            ("median R² over columns", _median(cmp.ae_r2), _median(cmp.pca_r2), True),
            ("variance explained (scaled units)", ev.ev_ae, ev.ev_pca, True),
            ("MSE per element (raw units)", cmp.ae_mse, cmp.pca_mse, False),
            ("SSE per row (raw units)", cmp.ae_row_sse, cmp.pca_row_sse, False)]
    rows += [(f"accuracy of {name}", a, p, True) for name, a, p in cmp.accuracy]
    probe_rows, probe_note = _probes(estimator, data, ev) if ev.labels else ([], "")
    rows += probe_rows
    better, n_r2 = cmp.columns_better
    return (f"<p class=\"sub\">Both models reconstruct the {len(ev.X_test)} test rows from a "
            f"code of {ev.k} number(s) per row; PCA is fitted on the training rows as the "
            f"model sees them (its scaled units: each column scaled as inside the model, "
            f"categories one-hot), and both are scored there, where every column counts "
            f"alike; raw units are the caller's, where the widest column decides. The "
            f"autoencoder's R² is higher on {better} of {n_r2} columns. The better value is in "
            f"bold green.</p>{_comparison_table(rows)}{probe_note}")


def _median(values) -> float:
    """The median of ``values`` leaving NaN out; NaN (shown as a dash) when none is, as every
    column's R² is on a test split of one row."""
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    return float(np.median(values)) if len(values) else float("nan")


def _probes(estimator, data, ev: _Evaluation) -> tuple[list, str]:
    """The comparison's rows of label probes on both models' codes, and the note under the
    table. Rows without a label (an empty cell, NaN, or -1) are left out; with fewer than
    two classes left there is nothing to probe, and the note says so."""
    n = min(len(ev.X_train), _PROBE_ROWS)
    idx = np.sort(np.random.RandomState(0).permutation(len(ev.X_train))[:n])
    y, y_test = (blanks_unlabelled(np.asarray(labels)) for labels in (
        np.asarray(data.y_train)[idx], data.y_test))
    labelled = ~unlabelled_rows(y)
    idx, y = idx[labelled], y[labelled]
    test = np.flatnonzero(~unlabelled_rows(y_test))
    n_classes = len(np.unique(y.astype(str)))  # str: a text column's labels may mix types
    if n_classes < 2 or not len(test):
        where = (f"{n_classes} class(es) among the labelled training rows" if n_classes < 2
                 else "no labelled test rows")
        return [], (f'<p class="sub">Label probes on the codes: not measured ({where}; they '
                    "need two classes and labelled test rows).</p>")
    X = ev.X_train.iloc[idx] if hasattr(ev.X_train, "iloc") else ev.X_train[idx]
    X_test = ev.X_test.iloc[test] if hasattr(ev.X_test, "iloc") else ev.X_test[test]
    y_test = y_test[test]
    q_ae = code_quality(estimator, X, y, X_test, y_test)
    q_pca = code_quality(ev.pca_k, X, y, X_test, y_test)
    rows = [(f"{q_ae.n_neighbors}-NN accuracy on codes", q_ae.knn_accuracy,
             q_pca.knn_accuracy, True),
            ("logistic-regression accuracy on codes", q_ae.logistic_accuracy,
             q_pca.logistic_accuracy, True),
            (f"trustworthiness ({q_ae.n_neighbors} neighbours)", q_ae.trustworthiness,
             q_pca.trustworthiness, True)]
    trust = ("Trustworthiness is 1 when each test row's nearest neighbours among the codes "
             "are also near it in the input." if np.isfinite(q_ae.trustworthiness) else
             f"Trustworthiness: not measured (too few test rows: {len(test)}; it needs "
             f"{MIN_TRUST_ROWS}).")
    unlabelled = (f" ({n - len(idx)} training and {len(ev.X_test) - len(test)} test rows "
                  "without a label left out)" if n > len(idx) or len(test) < len(ev.X_test)
                  else "")
    return rows, (f"<p class=\"sub\">Probes are fitted on the codes of {len(idx)} training rows "
                  f"and scored on the test codes{unlabelled}; always guessing the most "
                  f"frequent label scores {q_ae.chance:.3f}. {trust}</p>")


def _plot_sections(estimator, data, ev: _Evaluation) -> list[tuple[str, str, str]]:
    """(id, heading, figures) of the plots that apply to this model and data."""
    X_test, image_shape = ev.X_test, ev.image_shape
    history = getattr(estimator, "history_", None) or []
    plots = [("training", "Training", [
        _figure_html(lambda: plotting.loss_curves(history), _CAP["loss"], "loss curves")])]
    if image_shape:
        plots.append(("reconstructions", "Reconstructions", [_figure_html(
            lambda: plotting.reconstruction_grid(estimator, X_test, image_shape, pca=ev.pca_k),
            _CAP["recon"], "reconstruction grid")]))
    else:
        plots.append(("reconstructions", "Reconstructions per variable", [_figure_html(
            lambda: plotting.feature_scatter(
                estimator, X_test, feature_names=data.feature_names, pca=ev.pca_k,
                r2={c: (a, p) for c, a, p in zip(ev.cmp.columns, ev.cmp.ae_r2,
                                                 ev.cmp.pca_r2)}),
            _CAP["scatter"], "input against reconstruction per variable")]))
    plots.append(("codes", "Codes", [_figure_html(
        lambda: plotting.codes_2d(estimator, X_test, data.y_test if ev.labels else None,
                                  pca=ev.pca_2,
                                  target_names=getattr(data, "target_names", None)),
        _CAP["codes" if ev.labels else "codes_nolabel"], "2-D codes of PCA and the autoencoder")]))
    plots.append(("code-size", "Error against code size", [_figure_html(
        lambda: plotting.error_vs_k(ev.sweep), _CAP["sweep"], "error against k")]))
    if image_shape:
        plots += _image_sections(estimator, ev)
    else:
        plots += _table_sections(estimator, data, ev)
    return [(sid, head, "".join(figs)) for sid, head, figs in plots]


def _table_sections(estimator, data, ev: _Evaluation) -> list[tuple[str, str, list[str]]]:
    """Each column against PCA, the categorical columns' confusions, errors by label."""
    figs = [_figure_html(lambda: plotting_tables.r2_bars(ev.cmp), _CAP["r2"],
                         "R² per column, autoencoder and PCA")]
    if ev.cmp.accuracy:
        figs.append(_figure_html(
            lambda: plotting_tables.confusion_summary(ev.X_test, ev.X_ae, ev.X_pca,
                                                      columns=[c for c, _, _ in ev.cmp.accuracy]),
            _CAP["confusion"], "confusion of the categorical columns"))
    sections = [("columns", "Columns", figs)]
    if ev.labels:
        def by_label():
            n_columns = max(len(ev.cmp.columns), 1)
            S = np.asarray(estimator.to_scaled(ev.X_test), np.float64)
            pca_errors = ((ev.pca_k.reconstruct_scaled(ev.X_test) - S) ** 2).sum(1) / n_columns
            return plotting_tables.errors_by_label(-estimator.score_samples(ev.X_test),
                                                   data.y_test, pca_errors=pca_errors)
        sections.append(("labels", "Error by label", [_figure_html(
            by_label, _CAP["labels"], "reconstruction error by label")]))
    return sections


def _image_sections(estimator, ev: _Evaluation) -> list[tuple[str, str, list[str]]]:
    """What the units learned, denoising and samples: plots of image data only."""
    X_test, image_shape = ev.X_test, ev.image_shape
    figs = [
        _figure_html(lambda: plotting.first_layer_weights(estimator, image_shape),
                     _CAP["weights"], "first-layer weights"),
        _figure_html(lambda: plotting.top_activating(estimator, X_test, image_shape),
                     _CAP["top"], "top-activating inputs"),
        _figure_html(lambda: plotting.activation_maximization(estimator, image_shape,
                                                              X=ev.X_train),
                     _CAP["actmax"], "activation maximisation"),
        *_hidden_unit_figures(estimator, ev),
        _figure_html(lambda: plotting.latent_traversal(estimator, X_test, image_shape),
                     _CAP["traversal"], "latent traversal"),
    ]
    if ev.k == 2:
        figs.append(_figure_html(
            lambda: plotting.decoded_grid(estimator, image_shape, X=X_test),
            _CAP["grid"], "decoded grid over the code space"))
    sections = [("units", "What the units learned", figs)]
    if getattr(estimator, "noise", None) is not None:
        sections.append(("denoising", "Denoising", [_figure_html(
            lambda: plotting.denoising_rows(estimator, X_test, image_shape),
            _CAP["denoise"], "clean, noisy and denoised rows")]))
    if callable(getattr(estimator, "sample", None)):
        sections.append(("samples", "Samples", [_figure_html(
            lambda: plotting.vae_samples(estimator, image_shape,
                                         data_range=(ev.X_train.min(), ev.X_train.max())),
            _CAP["samples"], "samples from the prior")]))
    return sections


def _hidden_unit_figures(estimator, ev: _Evaluation) -> list[str]:
    """Top-activating rows and activation maximisation for the first hidden layer's units."""
    try:
        layers = plotting.hidden_layers(estimator)
    except (ValueError, AttributeError):  # no torch module to look into
        return []
    if not layers:
        return []
    layer, shape = layers[0], ev.image_shape
    return [
        _figure_html(lambda: plotting.top_activating(estimator, ev.X_test, shape, layer=layer),
                     _CAP["top_hidden"].format(layer=_e(layer)), f"top-activating, {layer}"),
        _figure_html(lambda: plotting.activation_maximization(estimator, shape, X=ev.X_train,
                                                              layer=layer),
                     _CAP["actmax_hidden"].format(layer=_e(layer)),
                     f"activation maximisation, {layer}"),
    ]


def _fitted_info(estimator, run_info: dict | None) -> dict:
    history = getattr(estimator, "history_", None) or []
    return {
        "n_features_in_": getattr(estimator, "n_features_in_", "—"),
        "epochs run (n_iter_)": getattr(estimator, "n_iter_", "—"),
        "training loss (kept epoch)": _fmt(getattr(estimator, "loss_", None)),
        "validation loss (kept epoch)": _fmt(getattr(estimator, "validation_loss_", None)),
        "training seconds": _fmt(float(sum(r.get("seconds", 0.0) for r in history)), 3),
        "device_": getattr(estimator, "device_", "—"),
        **(run_info or {}),
    }


def _check_autoencoder(estimator) -> None:
    """A TypeError, saying what to report instead, for a classifier or a detector."""
    check_autoencoder(estimator, "build_report shows an autoencoder's codes and "
                      "reconstructions", {
                          "encoder": "report the autoencoder it was built on, its "
                                     "autoencoder_",
                          "detector": "report it with aekit.report.build_detector_report("
                                      "detector, X) or write_detector_report(detector, X, out)",
                          "classifier": "a classifier has no codes to show; fit an "
                                        "AutoEncoder to report on"})


def build_report(estimator, data, *, title: str | None = None, sweep=None,
                 run_info: dict | None = None, few_labels=None) -> str:
    """The report as an HTML string.

    Parameters
    ----------
    estimator : fitted AutoEncoder
    data : Dataset
        As :func:`aekit.data.load_dataset` returns it; the model is evaluated on
        ``X_test``, PCA and the probes are fitted on ``X_train``.
    title : str, optional
    sweep : list of PCAComparison, optional
        A sweep with autoencoders (:func:`aekit.evaluation.metrics.pca_sweep` with a factory) to
        draw; by default PCA is swept over k and the fitted model is drawn as one point.
    run_info : dict, optional
        Extra "Fitted" rows (e.g. fit_seconds from a run's metrics.json).
    few_labels : FewLabelsComparison, optional
        From :func:`aekit.semisupervised.comparison.compare_few_labels`: adds a "Few labels"
        section.

    Raises
    ------
    TypeError
        For a model that is not an autoencoder (a classifier, a detector): the page is
        about codes and reconstructions.
    """
    _check_autoencoder(estimator)
    estimator = as_fitted(estimator)  # described with the parameters it was fitted with
    ev = _evaluate(estimator, data, sweep)
    sections = [
        ("comparison", "Autoencoder against PCA", _comparison_section(estimator, data, ev)),
        *([("few-labels", "Few labels", _few_labels_section(few_labels))] if few_labels else []),
        ("diagnostics", "Diagnostics", _diagnostics_html(ev.diag)),
        *_plot_sections(estimator, data, ev),
        ("model", "Model", _model_html(estimator, _fitted_info(estimator, run_info))),
    ]
    title = title or f"{type(estimator).__name__} on {data.name}"
    shapes = (f"{len(ev.X_train)} training rows, {len(ev.X_test)} test rows, "
              f"{ev.X_train.shape[1]} features"
              + (f" ({ev.image_shape[0]}×{ev.image_shape[1]} images)" if ev.image_shape else "")
              + (", labelled" if ev.labels else ""))
    return page(title, shapes, _summary_cards(ev.cmp, ev.ev_ae, ev.ev_pca, ev.diag), sections)


def write_report(run, data, out: str | os.PathLike | None = None, *, title: str | None = None,
                 device: str = "auto", sweep=None, few_labels=None,
                 overwrite: bool = False) -> Path:
    """Write the HTML report of a run (or a fitted estimator) on a dataset, atomically.

    Parameters
    ----------
    run : path-like or fitted estimator
        A run directory (as ``aekit train`` and ``aekit demo`` write, or ``estimator.save``),
        loaded with :func:`aekit.load`; or an estimator already in memory.
    data : str or Dataset
        A :func:`aekit.data.load_dataset` spec (``"digits"``, a file path...) or a Dataset.
    out : path-like, optional
        An ``.html`` file, neither the data file nor one of the run's other files. An
        existing one is replaced when aekit wrote it (a page carrying aekit's mark, or the
        run's report), else only with ``overwrite``. Default: ``<run>/report.html`` for a
        run directory (required for an estimator).
    title : str, optional
    device : str, default="auto"
        Where a loaded model runs.
    sweep : list of PCAComparison, optional
        See :func:`build_report`.
    few_labels : FewLabelsComparison, optional
        See :func:`build_report`.
    overwrite : bool, default=False
        Replace an existing ``out`` aekit did not write (never the data file).

    Returns
    -------
    path : pathlib.Path
        The file written.

    Raises
    ------
    ValueError
        When ``out`` is not an ``.html`` file, is the data file or another file of the run,
        or exists and aekit did not write it (without ``overwrite``).
    """
    run_info = {}
    is_path = isinstance(run, (str, os.PathLike))
    if out is not None:  # before anything is loaded
        data_path = [data] if isinstance(data, (str, os.PathLike)) else []
        check_report_out(out, inputs=data_path, run=run if is_path else None,
                         overwrite=overwrite)
    if is_path:
        run_dir = Path(run)
        estimator = load(run_dir, device=device)
        out = Path(out) if out is not None else run_dir / REPORT
        title = title or f"{run_dir.name}: {type(estimator).__name__}"
        seconds = (read_metrics(run_dir) or {}).get("fit_seconds")
        if isinstance(seconds, (int, float)):  # absent from a bare saved model
            run_info["wall-clock fit seconds"] = _fmt(float(seconds), 3)
    else:
        estimator = run
        if out is None:
            raise ValueError("pass out= (the HTML file to write) when reporting an estimator")
        out = Path(out)
    _check_autoencoder(estimator)  # before the dataset is read
    dataset = load_dataset(data) if isinstance(data, (str, os.PathLike)) else data
    n_in = getattr(estimator, "n_features_in_", None)
    width = dataset.X_train.shape[1] if hasattr(dataset.X_train, "columns") else \
        dataset.X_train.reshape(len(dataset.X_train), -1).shape[1]
    if n_in is not None and width != n_in:
        raise ValueError(
            f"the model expects {n_in} features but {dataset.name} has "
            f"{dataset.X_train.shape[1]}; pass the dataset the model was trained on (--data)."
        )
    page = build_report(estimator, dataset, title=title, sweep=sweep, run_info=run_info,
                        few_labels=few_labels)
    return atomic_write(out, page)
