"""The anomaly-detection commands: ``detect`` (fit an :class:`~aekit.OutlierDetector` on the
rows of a file and write its run: model, scores, report) and ``score`` (score new rows with
a saved detector). Labels, when a file has them, only measure the detector
(:mod:`aekit.anomaly.metrics`); large text and Parquet files are read in chunks
(:func:`aekit.anomaly.streaming.chunked_rows`).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated

import typer

from ..anomaly.detector import OutlierDetector
from ..anomaly.metrics import (
    AmbiguousLabels,
    anomaly_labels,
    describe_labels,
    detection_metrics,
)
from ..anomaly.streaming import TextRows, chunked_rows
from ..data.catalog import read_rows
from ..data.delimited import COMPRESSIONS, is_table_file
from ..estimators import validate_params
from ..persistence import load
from ..report.detector import write_detector_report
from ..runs import REPORT, SCORES, check_out_dir, check_out_file, fit_detector_run, write_scores
from .commands import _TABLE, Drop, Header, Sep, _data_options, _matched_columns, app
from .options import Overwrite, estimator_options
from .runner import writing


_ROWS_HELP = ("Rows: a .csv/.tsv/.txt file, also compressed (.gz/.bz2/.xz/.zip/.zst; text "
              "columns are categories; --header, --sep), .npy or .npz (an .npz 'y' array "
              "is taken as labels)")
_LABEL_HELP = ("A column of labels, kept out of the detector and used to measure it: 0/1 "
               "(1: anomaly), 1/-1 (-1: anomaly), or values of which one is named normal "
               "('normal', 'normal.', 'benign'...); otherwise say which with --normal or "
               "--anomaly.")
DetectLabel = Annotated[str | None, typer.Option("--label", help=_LABEL_HELP,
                                                 show_default=False, rich_help_panel=_TABLE)]
NormalValue = Annotated[str | None, typer.Option(
    "--normal", metavar="VALUE", help="The --label value of normal rows: every other value "
    "is an anomaly.", show_default=False, rich_help_panel=_TABLE)]
AnomalyValue = Annotated[str | None, typer.Option(
    "--anomaly", metavar="VALUE", help="The --label value of anomalous rows: every other "
    "value is normal.", show_default=False, rich_help_panel=_TABLE)]


def _read_rows(path: Path, options: dict, normal=None, anomaly=None, warn_index=True):
    """``(X, anomaly)``: every row of a file (a text file's as a DataFrame, its text columns
    categories, without ``options``' label and dropped columns) and its labels as booleans
    (the label column, or an .npz file's ``y``, read with ``--normal`` / ``--anomaly``), or
    None. Says in one line which values were taken as normal. ``warn_index``: as
    :func:`~aekit.data.read_rows` takes it."""
    if (normal is not None or anomaly is not None) and options["label"] is None \
            and Path(path).suffix.lower() != ".npz":
        raise ValueError("--normal and --anomaly name values of the --label column; "
                         "pass --label COLUMN too")
    X, y, _, _ = read_rows(path, label=options["label"], drop=options["drop"],
                           header=options["header"], sep=options["sep"],
                           warn_index=warn_index)
    if y is None:
        return X, None
    try:
        flags = anomaly_labels(y, normal, anomaly=anomaly)
    except AmbiguousLabels as err:
        raise AmbiguousLabels(err.values, "--normal VALUE or --anomaly VALUE") from None
    except ValueError as err:  # a value not among the labels: name the options
        raise ValueError(str(err).replace("normal=", "--normal ").replace(
            "anomaly=", "--anomaly ")) from None
    typer.echo(describe_labels(y, flags))
    return X, flags


def _detector_rows(path: Path, options: dict, normal, anomaly_value, detector=None):
    """``(X, anomaly, report rows, chunked)`` for ``detect`` (``score``: given its detector)."""
    # Rows to fit on are warned of a column of pandas' row index; a fitted detector takes
    # the columns it was fitted on, by name.
    chunked = chunked_rows(path, detector is None, options, normal, anomaly_value,
                           warn_index=detector is None)
    if chunked is not None:
        if detector is not None and isinstance(chunked[0], TextRows):
            # Each chunk as a file read whole is taken: the detector's columns by name.
            chunked[0].select = functools.partial(_detector_columns, detector, path=path)
        return (*chunked, True)
    X, anomaly = _read_rows(path, options, normal, anomaly_value, warn_index=detector is None)
    return X if detector is None else _detector_columns(detector, X, path), anomaly, X, False


def _detector_columns(detector, X, path: Path):
    """``X`` with the detector's columns: by name, in its order (extra columns are left
    out); a file without a header row (columns 1, 2, ...) is taken in the fitted order."""
    names = getattr(detector, "feature_names_in_", None)
    if not hasattr(X, "columns"):
        return X
    positions = [str(j + 1) for j in range(X.shape[1])]
    if names is not None and list(X.columns) == positions and len(names) == X.shape[1] \
            and list(names) != positions:
        X = X.set_axis(list(names), axis=1)
    return _matched_columns(detector, X, path)


@app.command()
@estimator_options(OutlierDetector, "Detector (OutlierDetector parameters)")
def detect(
    data: Annotated[Path, typer.Option("--data", help=_ROWS_HELP, show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="Run directory to write.")],
    params: dict,
    label: DetectLabel = None,
    normal: NormalValue = None,
    anomaly_value: AnomalyValue = None,
    drop: Drop = None,
    header: Header = "infer",
    sep: Sep = None,
    top: Annotated[int, typer.Option("--top", min=1, help="Top columns per row in "
                                     f"{SCORES}.")] = 3,
) -> None:
    """Fit an anomaly detector on the rows of a file; write the run: model, scores, report."""
    detector = OutlierDetector(**params)
    validate_params(detector)  # bad values fail now, before the file is read
    check_out_dir(out)
    with writing("detect", ("--out", out)):  # until its report is written
        X, anomaly, report_rows, chunked = _detector_rows(
            data, _data_options(label, drop, None, header, sep), normal, anomaly_value)
        shape = "read in chunks" if chunked else f"{X.shape[0]} rows x {X.shape[1]} columns"
        typer.echo(f"fitting {detector!r} on {data.name} ({shape})...")
        # The library's remedies (missing='impute') are spelled as options by the CLI's
        # errors.
        run = fit_detector_run(detector, X, out, name=data.name, anomaly=anomaly,
                               n_features=top)
        m = run.metrics
        page = write_detector_report(
            detector, report_rows, run.path / REPORT, title=f"{run.path.name}: "
            f"OutlierDetector on {data.name}", anomaly=None if chunked else anomaly,
            X_train=None if chunked else X,  # fitted on the rows reported: the same footing
            run_info={"wall-clock fit seconds": f"{m['fit_seconds']:.3f}"})
    n_rows = m["dataset"]["shape"][0]
    typer.echo(f"fitted in {m['fit_seconds']:.1f} s; {m['n_flagged']} of {n_rows} rows "
               f"({m['share_flagged']:.1%}) flagged above the threshold {detector.threshold_:.4g}")
    if anomaly is not None and m["labels"]["roc_auc"] is not None:
        typer.echo(f"against the labels ({m['labels']['n_anomalies']} anomalies): ROC-AUC "
                   f"{m['labels']['roc_auc']:.4f}, average precision "
                   f"{m['labels']['average_precision']:.4f} (baselines: see the report)")
    typer.echo(f"run saved to {run.path}/: model, {SCORES}, metrics.json, loss.png; "
               f"report: {page}")
    suffix = Path(data).suffix  # a compressed table's two: .csv.gz
    if is_table_file(data) and suffix.lower() in COMPRESSIONS:
        suffix = "".join(Path(data).suffixes[-2:])
    typer.echo(f"next: aekit score {out} new_rows{suffix} --out scores.csv")


@app.command()
def score(
    run: Annotated[Path, typer.Argument(metavar="RUN", help="Directory of a saved detector.")],
    input_path: Annotated[Path, typer.Argument(metavar="FILE", help=_ROWS_HELP,
                                               show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="CSV file to write.")],
    label: DetectLabel = None,
    normal: NormalValue = None,
    anomaly_value: AnomalyValue = None,
    header: Header = "infer",
    sep: Sep = None,
    top: Annotated[int, typer.Option("--top", min=1, help="Top columns per row.")] = 3,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    overwrite: Overwrite = False,
) -> None:
    """Score the rows of FILE with the detector in RUN: per row its anomaly score, label
    (-1 outlier, 1 inlier) and top columns, to a CSV file."""
    check_out_file(out, "scores", (".csv",), inputs=[input_path], run=run,
                   overwrite=overwrite)
    detector = load(run, device=device)
    if not isinstance(detector, OutlierDetector):
        raise ValueError(f"{run} holds a {type(detector).__name__}, not an OutlierDetector; "
                         "make one with aekit detect")
    X, anomaly, _, _ = _detector_rows(input_path, _data_options(label, None, None, header, sep),
                                      normal, anomaly_value, detector)
    write_scores(out, detector, X, n_features=top)
    flagged = detector.predict(X) == -1
    typer.echo(f"wrote the scores of {len(flagged)} rows to {out}: {flagged.sum()} "
               f"({flagged.mean():.1%}) flagged")
    if anomaly is not None:
        m = detection_metrics(anomaly, -detector.score_samples(X))
        if m["roc_auc"] is not None:
            typer.echo(f"against the labels: ROC-AUC {m['roc_auc']:.4f}, average precision "
                       f"{m['average_precision']:.4f}")
