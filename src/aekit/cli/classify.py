"""The classifier commands: ``train-classifier`` (an :class:`~aekit.EncoderClassifier` on an
autoencoder's encoder) and ``train-ladder`` (a :class:`~aekit.LadderClassifier`, the
estimator for few labels). Rows whose label is empty or ``-1`` are unlabelled: the
classifiers learn from them, and no score counts them (:func:`aekit.runs.fit_classifier_run`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from ..estimators import AutoEncoder
from ..persistence import load
from ..runs import fit_classifier_run
from ..semisupervised.classifier import EncoderClassifier
from ..semisupervised.ladder import LadderClassifier
from .commands import (_autoencoder_run, _DataOption, _fit_and_print, _fitted_data,
                       _OutOption, app, table_options)
from .options import estimator_options

LabelsPerClass = Annotated[int | None, typer.Option(
    "--labels-per-class", min=1, help="Keep this many labels of each class in the train "
    "split (the same rows every run), the others unlabelled: few labels tried on a "
    "labelled dataset. Default: every label (empty cells and -1 are unlabelled rows).",
    show_default=False)]


def _accuracy_line(m: dict) -> str:
    """A classifier run's scores, saying which rows they count (unlabelled ones never)."""
    labelled, unlabelled = m["labelled_rows"], m["unlabelled_rows"]
    train = f"train {m['train_accuracy']:.4f}"
    if unlabelled["train"]:
        train += (f" on its {labelled['train']} labelled rows, {unlabelled['train']} "
                  "unlabelled")
    if m["test_accuracy"] is None:
        return (f"no labelled rows in the test split to score ({unlabelled['test']} "
                f"unlabelled); {train}")
    skipped = f"; {unlabelled['test']} unlabelled test rows not scored" \
        if unlabelled["test"] else ""
    return (f"test accuracy {m['test_accuracy']:.4f} on {labelled['test']} labelled rows "
            f"({train}; always the most frequent label: {m['chance']:.4f}{skipped})")


def _print_classifier_run(run) -> None:
    m = run.metrics
    typer.echo(f"fitted in {m['fit_seconds']:.1f} s ({m['n_iter']} epochs)\n")
    typer.echo(_accuracy_line(m))
    typer.echo(f"\nrun saved to {run.path}/: model, metrics.json, loss.png")


def _fit_classifier(est, data: str, out: Path, labels_per_class, options: dict,
                    autoencoder: Path | None = None, *, command: str) -> None:
    """Fit and show a classifier's run as ``command`` (``"train-ladder"``); with
    ``autoencoder`` (the run of the fitted autoencoder ``est`` reads), the data is checked
    against what it was fitted on first."""
    def fit(est, dataset, out):
        if autoencoder is not None:
            dataset = _fitted_data(dataset, autoencoder, est.autoencoder,
                                   "pass the data it was fitted on, or leave --autoencoder "
                                   "out to fit a new autoencoder on this data")
        return fit_classifier_run(est, dataset, out, labels_per_class=labels_per_class)

    _fit_and_print(est, data, out, options, fit, show=_print_classifier_run, command=command)


@app.command("train-classifier")
@estimator_options(EncoderClassifier, "Estimator (EncoderClassifier parameters)")
@table_options
def train_classifier(
    data: _DataOption,
    out: _OutOption,
    params: dict,
    options: dict,
    autoencoder: Annotated[Path | None, typer.Option(
        help="Run directory of a fitted autoencoder whose encoder to use (aekit train); "
        "default: a new AutoEncoder with --components codes, fitted on the rows first.",
        show_default=False)] = None,
    components: Annotated[int | None, typer.Option(
        help="Code size of the new autoencoder (without --autoencoder) [default: 16].",
        show_default=False)] = None,
    missing: Annotated[Literal["error", "impute"] | None, typer.Option(
        help="Missing numbers for the new autoencoder (without --autoencoder): an error, or "
        "filled with their column's median [default: error].", show_default=False)] = None,
    labels_per_class: LabelsPerClass = None,
) -> None:
    """Fit a classifier on an autoencoder's encoder; save it and score it on the labelled test
    rows (rows whose label is empty or -1 are unlabelled: the semi-supervised fit)."""
    if autoencoder is not None:
        # The loaded autoencoder is fitted already: these options would shape nothing.
        given = [f"--{name}" for name, value in (("components", components),
                                                 ("missing", missing)) if value is not None]
        if given:
            raise typer.BadParameter(
                f"{' and '.join(given)} shape{'s' if len(given) == 1 else ''} the new "
                f"autoencoder, and --autoencoder {autoencoder} is fitted already; leave "
                f"{' and '.join(given)} out, or --autoencoder to fit a new one",
                param_hint="'--autoencoder'")
        _autoencoder_run(autoencoder, "train-classifier --autoencoder")
        ae = load(autoencoder, device=params["device"])
    else:
        ae = AutoEncoder(n_components=16 if components is None else components,
                         missing=missing or "error",
                         random_state=params["random_state"], device=params["device"],
                         precision=params["precision"],
                         verbose=params["verbose"])  # -v shows its fit too, the longer one
    _fit_classifier(EncoderClassifier(ae, **params), data, out, labels_per_class, options,
                    autoencoder, command="train-classifier")


@app.command("train-ladder")
@estimator_options(LadderClassifier, "Estimator (LadderClassifier parameters)")
@table_options
def train_ladder(
    data: _DataOption,
    out: _OutOption,
    params: dict,
    options: dict,
    labels_per_class: LabelsPerClass = None,
) -> None:
    """Learn from few labels: fit a ladder network on every row of the train split, the
    rows whose label is empty or -1 unlabelled; save it and score it on the labelled test
    rows."""
    _fit_classifier(LadderClassifier(**params), data, out, labels_per_class, options,
                    command="train-ladder")
