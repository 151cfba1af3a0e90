"""The ``aekit`` command line: train, train-vae, encode, compare, report, export, demo (the
classifier commands are in :mod:`aekit.cli.classify`, the detector commands in
:mod:`aekit.cli.detect`).

The commands parse, call the library and print; the logic lives in the library. Every
estimator option is derived from the estimator itself: its name and type from the
parameter's constraint (``_parameter_constraints``, the rule ``fit`` checks), its choices
from the same constraint, its default from the constructor and its help from the first
sentence of the parameter's docstring (:mod:`aekit.cli.options`), so the two cannot drift.
The run directory that ``train`` and ``demo`` write is :mod:`aekit.runs`.

Bad arguments and bad files end with one line on stderr, ``error: ...``, and exit code 2;
set ``AEKIT_DEBUG=1`` to see the traceback instead. ``train`` and ``train-vae`` checkpoint
every epoch into their run directory; Ctrl-C (SIGINT) or SIGTERM stops them at the end of the
step under way, writes the best model so far and exits with 130 or 143; ``--resume``
continues. A command holds the directory it writes (``--out``; ``report``: the run it
writes its page into) until it ends (:func:`aekit.runs.writing_run`): a second command that
would write it meanwhile is refused at once, naming the first.

Under ``torchrun`` (``torchrun --nproc-per-node 2 -m aekit train ...``), ``train`` runs on
every process: each loads the whole dataset (so the scaler is fitted on the same rows
everywhere) and trains its share of every batch (:mod:`aekit.core.distributed`); only rank 0
prints and writes the run directory.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import io
import os
import signal
import sys
import warnings
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import typer
from typer.core import TyperGroup

from ..core import distributed
from ..core.storage import atomic_write
from ..training.callbacks import CHECKPOINT
from ..data.catalog import DATASET_NAMES, TEST_SIZE, load_dataset, read_rows
from ..data.delimited import is_table_file
from ..data.files import STREAM_SUFFIXES, open_rows, read_array
from ..data.stream import save_npy
from ..estimators import AutoEncoder, VariationalAutoEncoder, validate_params
from ..semisupervised.classifier import EncoderClassifier
from ..semisupervised.ladder import LadderClassifier
from ..anomaly.detector import OutlierDetector
from ..export import export_onnx
from .options import CHOICES, Overwrite, cli_spelling, estimator_options
from .runner import check_one_process, interrupted, ranks_writing, writing
from ..evaluation.diagnostics import not_an_autoencoder
from ..evaluation.metrics import compare_with_pca
from ..persistence import load, saved_class
from ..report.model import write_report
from ..report.page import check_report_out
from ..runs import (
    REPORT,
    check_out_dir,
    check_out_file,
    data_differences,
    finished_by,
    fit_run,
    is_complete,
    option_differences,
    read_metrics,
    trained_on_file,
)
from ..training.loop import FitInterrupted, TrainingDivergedError

_CODE_SUFFIXES = (".npy", ".csv")
_DATA_HELP = (
    f"{', '.join(DATASET_NAMES)}, or a .npy/.npz/.csv/.tsv/.txt file (text files may be "
    ".gz/.bz2/.xz/.zip/.zst; split 80/20 with a fixed seed, the same split in every "
    "command; --test-size sets the share)"
)
_TABLE = "Data (text files)"
# The options of a text file given to --data; `compare` and `report` reuse the run's.
Label = Annotated[str | None, typer.Option(
    "--label", help="Column of labels: kept out of training, colours the plots and the "
    "report.", show_default=False, rich_help_panel=_TABLE)]
Drop = Annotated[str | None, typer.Option(
    "--drop", metavar="COLS", help="Comma-separated columns to leave out (ids, targets).",
    show_default=False, rich_help_panel=_TABLE)]
Rows = Annotated[int | None, typer.Option(
    "--rows", help="Use a random subset of this many rows.", show_default=False,
    rich_help_panel=_TABLE)]
Header = Annotated[Literal["infer", "yes", "no"], typer.Option(
    "--header", help="Whether the first line names the columns (without one they are "
    "named 1, 2, ...).", rich_help_panel=_TABLE)]
Sep = Annotated[str | None, typer.Option(
    "--sep", help="Delimiter (default: detected among , ; tab |, else spaces).",
    show_default=False, rich_help_panel=_TABLE)]
TestSize = Annotated[float | None, typer.Option(
    "--test-size", help="Share of a file's rows held out as its test split, between 0 and "
    f"1 (default {TEST_SIZE}). A file with few labels keeps more of them for training with a "
    "smaller share. Named datasets keep their standard split.", show_default=False,
    rich_help_panel=_TABLE)]


def _data_options(label, drop, rows, header, sep, test_size=None) -> dict:
    """load_dataset's keywords from the command line's data options (``test_size`` only
    when given: load_dataset's default otherwise)."""
    if rows is not None and rows < 2:
        raise typer.BadParameter(f"must be at least 2, got {rows}", param_hint="'--rows'")
    if test_size is not None and not 0 < test_size < 1:
        raise typer.BadParameter(f"must be between 0 and 1 (a share of the rows), got "
                                 f"{test_size:g}", param_hint="'--test-size'")
    options = {"label": label, "drop": [c.strip() for c in drop.split(",") if c.strip()]
               if drop else [], "rows": rows,
               "header": CHOICES["header"][header], "sep": sep}
    if test_size is not None:
        options["test_size"] = test_size
    return options


_TABLE_OPTIONS = (("label", Label, None), ("drop", Drop, None), ("rows", Rows, None),
                  ("header", Header, "infer"), ("sep", Sep, None),
                  ("test_size", TestSize, None))
_OPTION_DEFAULTS = _data_options(*(default for _, _, default in _TABLE_OPTIONS))
"""The data options' values when none is given (``test_size`` absent)."""


def table_options(func):
    """Decorator: give a command --label, --drop, --rows, --header, --sep and --test-size,
    after its own parameters; it receives them as ``options``, :func:`load_dataset`'s
    keywords."""
    own = [p for p in inspect.signature(func, eval_str=True).parameters.values()
           if p.name != "options"]
    added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                               annotation=annotation)
             for name, annotation, default in _TABLE_OPTIONS]

    @functools.wraps(func)
    def command(**kwargs):
        values = [kwargs.pop(name) for name, _, _ in _TABLE_OPTIONS]
        return func(**kwargs, options=_data_options(*values))

    command.__signature__ = inspect.Signature([*own, *added])
    command.__annotations__ = {p.name: p.annotation
                               for p in command.__signature__.parameters.values()}
    del command.__wrapped__  # typer must see the options, not func's signature
    return command


def _load_data(data: str, run: Path | None, options: dict):
    """The dataset ``data`` with ``options``, split as ``run``'s was.

    When ``data`` is the file the run was trained on (the same bytes, however its path is
    spelled), the options the run kept are used, each one given on the command line
    overriding its own (an option at its default is not given; ``test_size`` is when
    present), so `compare` and `report` see the run's split. A given option that changes
    the split is refused: the test split would then hold rows the model was trained on.
    """
    saved = _trained_on(run, data)
    if saved is None:
        return load_dataset(data, **options)
    trained = saved["options"]
    given = {key: value for key, value in options.items()
             if key == "test_size" or value != _OPTION_DEFAULTS[key]}
    dataset = load_dataset(data, **{**trained, **given})
    shapes = [len(dataset.X_train), len(dataset.X_test)]
    kept = [shape[0] if isinstance(shape, list) and shape else None
            for shape in (saved.get("train_shape"), saved.get("test_shape"))]
    differs = option_differences(trained, given)
    if differs and shapes != kept:
        raise ValueError(
            f"--data {data} is the file {run} was trained on, but the options given change "
            f"its split ({', '.join(differs)}): {shapes[0]} train / {shapes[1]} test rows "
            f"against the run's {kept[0]} / {kept[1]}, so the test rows could hold rows "
            "the model was trained on; leave those options out to use the run's split")
    return dataset


def _fitted_data(dataset, run: Path, est,
                 fix: str = "pass data with the columns the model was fitted on"):
    """``dataset`` as the model ``est`` (loaded from ``run``) reads it, checked before any
    work: a text file's columns matched by name to those it was fitted on (as ``encode``
    matches INPUT's; the same columns in another order are put in the fitted order), a
    column it was not fitted on refused with the option that leaves it out, and rows of
    another width refused, saying so with ``fix`` (the model's methods said it in
    scikit-learn's words, or blamed a text column)."""
    names = getattr(est, "feature_names_in_", None)
    X = dataset.X_train
    if names is None or not hasattr(X, "columns"):
        n_in = getattr(est, "n_features_in_", None)
        width = X.shape[1] if hasattr(X, "columns") else int(np.prod(X.shape[1:]))
        if n_in is not None and width != n_in:
            raise ValueError(f"--data {dataset.name} has {width} features per row, but the "
                             f"model in {run} was fitted on {n_in}; {fix}")
        return dataset
    names, columns = [str(n) for n in names], [str(c) for c in X.columns]
    if columns == names:
        return dataset
    extra = [c for c in columns if c not in names]
    if extra:
        options = ((read_metrics(run) or {}).get("dataset") or {}).get("options") or {}
        label = options.get("label") if isinstance(options, dict) else None
        hint = (f"name the label column with --label {label} (as the run's data was read), "
                "or " if label in extra else "")
        listed = ", ".join(extra[:8]) + (", ..." if len(extra) > 8 else "")
        raise ValueError(
            f"--data {dataset.name} has column(s) the model in {run} was not fitted on: "
            f"{listed}; {hint}leave them out with --drop {','.join(extra)}")
    path = Path(dataset.name)
    return dataclasses.replace(
        dataset, X_train=_matched_columns_of(names, X, path),
        X_test=_matched_columns_of(names, dataset.X_test, path), feature_names=names)


def _trained_on(run: Path | None, data: str) -> dict | None:
    """``metrics.json``'s ``dataset`` of ``run`` when ``data`` is the file it was trained
    on (:func:`aekit.runs.trained_on_file`), with the options it was read with; else None
    (another file, a named dataset, a run without them)."""
    saved = (read_metrics(run) or {}).get("dataset") if run is not None else None
    return saved if isinstance(saved, dict) and trained_on_file(saved, data) else None


# --------------------------------------------------------------------------- errors
class _Group(TyperGroup):
    """Typer's group with every failure reported as one ``error: ...`` line.

    Usage errors (typer's own) and the library's ValueError, TypeError and OSError
    (FileNotFoundError...) exit with code 2; a diverged fit or a missing optional
    dependency with code 1.
    """

    def list_commands(self, ctx):
        """The commands in the order they were made, the ``train*`` ones first (the
        classifier commands are made in another module, after the rest)."""
        names = super().list_commands(ctx)
        return sorted(names, key=lambda name: not name.startswith("train"))

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            # Ctrl-C outside training (which reports what it kept itself): typer (0.29)
            # would end with a bare exit code 130 and not a word, click with Abort.
            raise typer.Abort() from None

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        # The command given, whose options spell the library's name=value advice.
        words = [a for a in (sys.argv[1:] if args is None else args) if not a.startswith("-")]
        command = self.commands.get(words[0]) if words else None
        try:
            with warnings.catch_warnings():
                # One line each, no source lines; each once in a command.
                warnings.showwarning = functools.partial(_show_warning, command=command,
                                                         shown=set())
                check_one_process(command)
                rv = super().main(args, prog_name, complete_var, standalone_mode=False,
                                  **extra)
            code = rv if isinstance(rv, int) else 0  # an int here is a typer.Exit code
        except typer.TyperException as err:  # usage errors and the like
            if type(err).__name__ == "NoArgsIsHelpError":
                # The help is the message (already printed when rich formats it).
                if err.format_message():
                    typer.echo(err.format_message())
                code = err.exit_code
            else:
                ctx = getattr(err, "ctx", None)
                hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
                code = _fail(err.format_message() + hint, err.exit_code)
        except typer.Abort:  # Ctrl-C outside training (see invoke)
            code = _fail("aborted (Ctrl-C, SIGINT)", 128 + signal.SIGINT)
        except (TrainingDivergedError, ImportError, distributed.DistributedError) as err:
            # not the user's input: code 1
            code = _fail(cli_spelling(str(err), command), 1)
        except (ValueError, TypeError, OSError) as err:
            code = _fail(cli_spelling(str(err), command), 2)
        sys.exit(code)


def _show_warning(message, category, filename, lineno, file=None, line=None, *,
                  command=None, shown: set | None = None) -> None:
    """A warning as ``warning: ...`` on stderr: what the library says, not where, its
    advice spelled as ``command``'s options (:func:`~.options.cli_spelling`). A text already
    in ``shown`` (the command's warnings so far) is not printed again: Python's own
    once-per-place filter lets it through from each place that warns, so a run that scores
    the same rows in several places said it once a place (5 times in a ``train``)."""
    text = f"warning: {' '.join(cli_spelling(str(message), command).split())}"
    if shown is not None:
        if text in shown:
            return
        shown.add(text)
    typer.echo(text, err=True)


def _fail(message, code: int) -> int:
    if os.environ.get("AEKIT_DEBUG"):
        raise  # noqa: PLE0704 -- re-raises the exception being handled, with its traceback
    typer.echo(f"error: {' '.join(str(message).split())}", err=True)
    return code


app = typer.Typer(
    name="aekit",
    cls=_Group,
    help="Autoencoders that train reliably and prove their worth against PCA.",
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,  # help is plain text: "[tensorboard]" stays as written
)


def main() -> None:
    """Entry point of the ``aekit`` script and of ``python -m aekit``."""
    app()


def _write_codes(path: Path, Z: np.ndarray, names) -> None:
    if path.suffix.lower() == ".npy":
        buf = io.BytesIO()
        np.save(buf, Z, allow_pickle=False)
        atomic_write(path, buf.getvalue())
    else:
        buf = io.StringIO()
        fmt = "%.9g" if Z.dtype == np.float32 else "%.17g"  # round-trips the dtype exactly
        np.savetxt(buf, Z, fmt=fmt, delimiter=",", header=",".join(names), comments="")
        atomic_write(path, buf.getvalue())


def _print_run(run) -> None:
    typer.echo(f"fitted in {run.metrics['fit_seconds']:.1f} s ({run.metrics['n_iter']} epochs)\n")
    typer.echo(f"test split of {run.metrics['dataset']['name']}, "
               f"{run.metrics['dataset']['test_shape'][0]} rows:")
    typer.echo(str(run.comparison))
    typer.echo(f"\nrun saved to {run.path}/: model (config.json, model-*.safetensors), "
               "metrics.json, loss.png")


# --------------------------------------------------------------------------- commands
_ResumeOption = Annotated[bool, typer.Option(
    "--resume", help="Continue the run in --out from its checkpoint (same options), "
    "ending where an uninterrupted run ends.")]


@app.command()
@estimator_options(AutoEncoder, "Estimator (AutoEncoder parameters)")
@table_options
def train(
    data: Annotated[str, typer.Option("--data", help=_DATA_HELP, show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="Run directory to write.")],
    params: dict,
    options: dict,
    resume: _ResumeOption = False,
    dist_timeout: Annotated[float | None, typer.Option(
        "--dist-timeout", help="Under torchrun: seconds a process waits for the others "
        f"before the run fails [default: ${distributed.TIMEOUT_ENV} or "
        f"{distributed.DEFAULT_TIMEOUT:g}].", show_default=False)] = None,
) -> None:
    """Fit an autoencoder on a dataset's train split; save it with metrics and a loss plot.

    A checkpoint is written into the run directory after every epoch (or into
    --checkpoint-dir); Ctrl-C or SIGTERM stops at the end of the step under way and writes
    the best model so far; --resume continues.
    """
    _train(AutoEncoder, data, out, params, options, resume, dist_timeout, "train")


def _train(cls, data: str, out: Path, params: dict, options: dict, resume: bool,
           dist_timeout: float | None, command: str) -> None:
    """What ``train`` and ``train-vae`` (``command``) do with an autoencoder class ``cls``:
    checkpoint into the run directory, and continue from it with ``resume``."""
    if params["checkpoint_dir"] is None:
        params["checkpoint_dir"] = str(out)
    est = cls(**params)
    validate_params(est)  # bad values fail now, before a dataset is loaded or downloaded
    distributed.resolve_timeout(dist_timeout)  # so does --dist-timeout, torchrun or not
    check_out_dir(out)  # so does an --out aekit may not write to
    with ranks_writing(command, est.device, dist_timeout, ("--out", out),
                        ("--checkpoint-dir", est.checkpoint_dir)):
        if resume and not (Path(est.checkpoint_dir) / CHECKPOINT).is_file():
            # A supervisor runs one command again and again: with nothing to resume, the
            # run is done (the same run, complete) or starts from the beginning.
            if is_complete(out) and finished_by(out, est):
                # The same parameters: the data decide whether this command wrote the run.
                differs = data_differences(out, load_dataset(data, **options))
                if differs:
                    raise ValueError(
                        f"--resume: {out} is a complete run of other data (it differs in "
                        f"{', '.join(differs)}), and there is no checkpoint to continue; pass "
                        f"a new --out to train on this data, or drop --resume to train anew "
                        f"into {out} (replacing its run)")
                typer.echo(f"{out} is complete (model and metrics): nothing to resume")
                return
            typer.echo(f"--resume: no checkpoint in {est.checkpoint_dir}; starting the run "
                       "from the beginning")
            resume = False
        if not distributed.is_main():
            est.set_params(verbose=0)  # one progress bar: rank 0's
        dataset = load_dataset(data, **options)
        if distributed.is_main():
            n, d = dataset.X_train.shape
            world = distributed.rank_info()[1]
            on = f", {world} processes" if world > 1 else ""
            verb = "resuming" if resume else "fitting"
            typer.echo(f"{verb} {est!r} on {dataset.name} ({n} rows x {d} features{on})...")
        try:
            run = fit_run(est, dataset, out, resume=resume)
        except FitInterrupted as err:
            raise typer.Exit(interrupted(err, out, est.checkpoint_dir)) from None
        except (ValueError, FileNotFoundError) as err:  # the remedy as this command spells it
            if not resume:
                raise
            raise type(err)(str(err).replace("fit without resume",
                                             "run the command without --resume")) from None
        if run is not None:
            _print_run(run)


def _autoencoder_run(run: Path, command: str) -> None:
    """Refuse a run that holds a classifier or a detector: ``command`` needs codes and
    reconstructions. Said as the library says it (:func:`not_an_autoencoder`), before the
    model is loaded."""
    cls = saved_class(run)
    fix = {EncoderClassifier: "pass the run of the autoencoder the classifier was built on.",
           LadderClassifier: "a ladder network has no codes; fit an autoencoder with 'aekit "
                             "train'.",
           OutlierDetector: "score rows with 'aekit score RUN FILE --out scores.csv' (its "
                            "report is the run's report.html)."}.get(cls)
    if fix is not None:
        raise ValueError(not_an_autoencoder(
            f"'{command}' works on an autoencoder's codes and reconstructions",
            f"the {cls.__name__} in {run}", fix))


_DataOption = Annotated[str, typer.Option("--data", help=_DATA_HELP, show_default=False)]
_OutOption = Annotated[Path, typer.Option("--out", help="Run directory to write.")]


def _fit_and_print(est, data: str, out: Path, options: dict, fit, show=_print_run, *,
                   command: str) -> None:
    """What ``train`` does for another estimator, as ``command`` (``"train-ladder"``):
    validate, load the data (``options``: :func:`load_dataset`'s keywords), fit (under
    torchrun too), ``show`` the run."""
    if "checkpoint_dir" in est.get_params() and est.checkpoint_dir is None:
        est.set_params(checkpoint_dir=str(out))  # as train: Ctrl-C keeps the best so far
    validate_params(est)  # bad values fail now, before a dataset is loaded or downloaded
    check_out_dir(out)  # so does an --out aekit may not write to
    checkpoint_dir = getattr(est, "checkpoint_dir", None)
    with ranks_writing(command, est.device, None, ("--out", out),
                        ("--checkpoint-dir", checkpoint_dir)):
        if not distributed.is_main():
            est.set_params(verbose=0)  # one progress bar: rank 0's
        dataset = load_dataset(data, **options)
        if distributed.is_main():
            n, d = dataset.X_train.shape
            typer.echo(f"fitting {est!r} on {dataset.name} ({n} rows x {d} features)...")
        try:
            run = fit(est, dataset, out)
        except FitInterrupted as err:
            raise typer.Exit(interrupted(err, out, checkpoint_dir or out)) from None
        if run is not None:
            show(run)


@app.command("train-vae")
@estimator_options(VariationalAutoEncoder, "Estimator (VariationalAutoEncoder parameters)")
@table_options
def train_vae(data: _DataOption, out: _OutOption, params: dict, options: dict,
              resume: _ResumeOption = False) -> None:
    """Fit a variational autoencoder on a dataset's train split; save it as train does
    (checkpoints and --resume included)."""
    _train(VariationalAutoEncoder, data, out, params, options, resume, None, "train-vae")


@app.command()
def encode(
    run: Annotated[Path, typer.Argument(metavar="RUN", help="Directory of a saved model.")],
    input_path: Annotated[Path, typer.Argument(
        metavar="INPUT", show_default=False,
        help="Rows to encode: .npy, .npz, .csv/.tsv/.txt or Parquet (columns matched by name "
        "when the model has column names), or a directory of .npy or Parquet shards (read in "
        "name order: part-10 before part-2, so pad numbers with zeros); .npy and "
        "Parquet are read chunk by chunk (larger than memory is fine).",
    )],
    out: Annotated[Path, typer.Option("--out", help="Codes file to write: .npy or .csv.")],
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    chunk_rows: Annotated[int | None, typer.Option(
        help="Rows read at once from a .npy or Parquet INPUT; default: the model's "
        "chunk_rows.",
        show_default=False,
    )] = None,
    header: Header = "infer",
    sep: Sep = None,
    overwrite: Overwrite = False,
) -> None:
    """Encode the rows of INPUT with the model in RUN; write the codes to --out (one row of
    codes per row of INPUT)."""
    check_out_file(out, "codes", _CODE_SUFFIXES, inputs=[input_path], run=run,
                   overwrite=overwrite)
    streamed = input_path.is_dir() or input_path.suffix.lower() in STREAM_SUFFIXES
    _check_encode_options(input_path, streamed, chunk_rows, header, sep)
    _autoencoder_run(run, "encode")
    est = load(run, device=device)
    if streamed:
        # Streamed: one chunk of INPUT (and of a .npy OUT) in memory at a time. Images
        # (n, height, width) are flattened to rows, as load_dataset does; map_chunks checks
        # a Parquet file's column names before the first chunk is read.
        source = open_rows(input_path).flattened()
        codes = est.map_chunks(source, est.transform, chunk_rows)
        if out.suffix.lower() == ".npy":
            shape = save_npy(out, codes, source.n_rows)
        else:  # codes are small: a CSV is written whole
            Z = np.concatenate(list(codes))
            _write_codes(out, Z, est.get_feature_names_out())
            shape = Z.shape
    elif is_table_file(input_path):
        options = _data_options(None, None, None, header, sep)
        frame = read_rows(input_path, header=options["header"], sep=options["sep"],
                          warn_index=False)[0]
        Z = est.transform(_matched_columns(est, frame, input_path))
        _write_codes(out, Z, est.get_feature_names_out())
        shape = Z.shape
    else:
        X = read_array(input_path).X
        if X.ndim > 2:  # images (n, height, width), flattened as load_dataset does
            X = X.reshape(len(X), -1)
        Z = est.transform(X)
        _write_codes(out, Z, est.get_feature_names_out())
        shape = Z.shape
    typer.echo(f"wrote codes of shape {tuple(shape)} to {out}")


def _check_encode_options(path: Path, streamed: bool, chunk_rows, header, sep) -> None:
    """Refuse an ``encode`` option INPUT's type would leave unused: --chunk-rows where INPUT
    is read whole, --header and --sep where it is not a text file."""
    if chunk_rows is not None and chunk_rows < 1:
        raise typer.BadParameter(f"must be > 0, got {chunk_rows}", param_hint="'--chunk-rows'")
    if chunk_rows is not None and not streamed:
        raise typer.BadParameter(
            f"{path} is read whole (only .npy and Parquet files, and directories of them, "
            "are read chunk by chunk); leave --chunk-rows out", param_hint="'--chunk-rows'")
    given = [name for name, on in (("--header", header != "infer"), ("--sep", sep is not None))
             if on]
    if given and not is_table_file(path):
        raise typer.BadParameter(
            f"{path} is not a text file (.csv, .tsv, .txt): {' and '.join(given)} apply to "
            f"text files only; leave {' and '.join(given)} out",
            param_hint=f"'{given[0]}'")


def _matched_columns(est, frame, path: Path):
    """The columns of ``frame`` the model was fitted on, by name and in its order (a label
    or other extra columns are left out); a model fitted on an array takes them all."""
    names = getattr(est, "feature_names_in_", None)
    if names is None:
        return frame if getattr(est, "columns_", None) else frame.to_numpy(dtype=np.float64)
    return _matched_columns_of(names, frame, path)


def _matched_columns_of(names, frame, path: Path):
    """The columns ``names`` of ``frame``, in that order; a missing one is refused, naming
    the columns ``path`` has."""
    missing = [n for n in names if n not in frame.columns]
    if missing:
        shown = ", ".join(map(repr, missing[:8])) + (", ..." if len(missing) > 8 else "")
        raise ValueError(f"{path}: no column named {shown}, which the model was fitted on; "
                         f"its columns are {', '.join(map(str, frame.columns[:12]))}"
                         + (", ..." if frame.shape[1] > 12 else ""))
    return frame[list(names)]


@app.command()
@table_options
def compare(
    run: Annotated[Path, typer.Argument(metavar="RUN", help="Directory of a saved model.")],
    data: Annotated[str, typer.Option("--data", help=_DATA_HELP, show_default=False)],
    options: dict,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
) -> None:
    """Compare the model in RUN with PCA (same k, same scaling) on a dataset's test split."""
    _autoencoder_run(run, "compare")
    est = load(run, device=device)
    ds = _fitted_data(_load_data(data, run, options), run, est)
    comparison = compare_with_pca(est, ds.X_train, ds.X_test, fit=False,
                                  shared_unit=ds.image_shape is not None)
    typer.echo(f"test split of {ds.name}, {len(ds.X_test)} rows "
               f"(PCA fitted on the {len(ds.X_train)} train rows):")
    typer.echo(str(comparison))


@app.command()
@table_options
def report(
    run: Annotated[Path, typer.Argument(metavar="RUN", help="Directory of a saved model.")],
    data: Annotated[str, typer.Option("--data", help=_DATA_HELP, show_default=False)],
    options: dict,
    out: Annotated[Path | None, typer.Option(
        "--out", help="HTML file to write (default: RUN/report.html).", show_default=False,
    )] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    overwrite: Overwrite = False,
) -> None:
    """Write one self-contained HTML page on the model in RUN: AE vs PCA, diagnostics, plots."""
    _autoencoder_run(run, "report")
    if out is not None:  # before the data is read; write_report checks again
        check_report_out(out, inputs=[data], run=run, overwrite=overwrite)
    into_run = out is None or out.resolve().parent == run.resolve()
    # Into the run: not while another command rewrites it (its report would sit beside the
    # new model).
    with writing("report", ("", run if into_run else None)):
        dataset = _fitted_data(_load_data(data, run, options), run, load(run, device="cpu"))
        path = write_report(run, dataset, out, device=device, overwrite=overwrite)
    typer.echo(f"wrote {path} (self-contained; open it in any browser)")


@app.command()
def export(
    run: Annotated[Path, typer.Argument(metavar="RUN", help="Directory of a saved model.")],
    out: Annotated[Path, typer.Option("--out", help="Directory to write the .onnx files to.")],
    opset: Annotated[int, typer.Option(help="ONNX opset version, 11 to 20.")] = 17,
) -> None:
    """Export the model in RUN to ONNX: encoder.onnx and decoder.onnx, scaling inside.

    A classifier's run gives classifier.onnx (rows in, class probabilities out).
    """
    check_out_dir(out, ())  # a file or a place no one may write: said now, as such
    with writing("export", ("--out", out)):
        paths = export_onnx(load(run, device="cpu"), out, opset=opset)
    io_names = {"encoder": "x -> codes", "decoder": "z -> x_hat",
                "classifier": "x -> probabilities"}
    for name, path in paths.items():
        typer.echo(f"wrote {path} ({io_names[name]}, float32, any number of rows)")


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Run directory to write.")] = Path(
        "runs/demo"),
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True,
                                         help="Show a progress bar.")] = 0,
) -> None:
    """Digits (embedded, no download) in 2-D: an autoencoder against PCA, in seconds."""
    est = AutoEncoder(n_components=2, random_state=0, verbose=verbose)
    check_out_dir(out)
    with writing("demo", ("--out", out)):  # until its report is written
        ds = load_dataset("digits")
        run = fit_run(est, ds, out)
        _print_run(run)
        page = write_report(est, ds, run.path / REPORT,
                            title=f"{run.path.name}: AutoEncoder on digits")
    c = run.comparison
    lead = f"{c.winner} wins: " if c.clear and not c.pca_exact else ""
    typer.echo(f"\n{lead}{c.verdict}, with the same 2 numbers per image "
               f"(MSE {c.ae_mse:.4f} vs {c.pca_mse:.4f} in pixel units; "
               f"{c.ae_scaled:.4f} vs {c.pca_scaled:.4f} in standardised pixels).")
    typer.echo(f"report: {page} (plots, diagnostics, AE vs PCA; opens offline)")
    typer.echo(f"next: aekit encode {out} rows.npy --out codes.npy")
